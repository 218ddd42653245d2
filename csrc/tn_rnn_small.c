/* tn_rnn_small.c -- rnn_lm_loss for tiny problems (tn_rnn_small_impl.h), instantiated for
 * float and double in portable C and, on x86-64, compiled for FMA so that fma() is one
 * instruction; chosen at run time with the GEMM kernels (tn_gemm.c). */
#include <math.h>

#include "tn_internal.h"

/* No auto-vectorisation here: rows are a handful of values, stored one at a time and read
 * back at once by a vectorised loop -- a load the CPU cannot forward from those stores,
 * which stalls it. */
#if defined(__GNUC__) && !defined(__clang__)
#define RS_SCALAR __attribute__((optimize("no-tree-vectorize")))
#else
#define RS_SCALAR
#endif

#define RS_NAME tn_rnn_small_generic_f32
#define RS_T float
#define RS_FMA(a, b, c) fmaf(a, b, c)
#define RS_EXP expf
#define RS_LOG logf
#define RS_TARGET RS_SCALAR
#include "tn_rnn_small_impl.h"

#define RS_NAME tn_rnn_small_generic_f64
#define RS_T double
#define RS_FMA(a, b, c) fma(a, b, c)
#define RS_EXP exp
#define RS_LOG log
#define RS_TARGET RS_SCALAR
#include "tn_rnn_small_impl.h"

#if defined(__x86_64__) || defined(__i386__)
#define RS_NAME tn_rnn_small_fma_f32
#define RS_T float
#define RS_FMA(a, b, c) fmaf(a, b, c)
#define RS_EXP expf
#define RS_LOG logf
#define RS_TARGET RS_SCALAR __attribute__((target("fma")))
#include "tn_rnn_small_impl.h"

#define RS_NAME tn_rnn_small_fma_f64
#define RS_T double
#define RS_FMA(a, b, c) fma(a, b, c)
#define RS_EXP exp
#define RS_LOG log
#define RS_TARGET RS_SCALAR __attribute__((target("fma")))
#include "tn_rnn_small_impl.h"
#endif
