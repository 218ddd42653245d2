/* tn_template.h -- compiles a layer file's dtype-generic part for float and for double.
 *
 * A layer file (tn_linear.c, tn_lstm.c, ...) holds all of its layer, written once:
 *
 *     #ifndef TN_T
 *     #include "tn_internal.h"
 *     ... what is compiled once (workspace sizes, constants) ...
 *     #define TN_TEMPLATE "tn_lstm.c"
 *     #include "tn_template.h"
 *     #else
 *     ... the kernels, written once for the element type TN_T ...
 *     #endif
 *
 * This header includes TN_TEMPLATE again for each dtype, with
 *   TN_T                     the element type (float, double)
 *   TN_S                     its suffix (f32, f64)
 *   TN_EXP, TN_LOG, TN_SQRT  libm's functions for TN_T
 * and the typed helpers of tn_typed.h.  A definition spells out both of its names, so
 * that grep, ctags (.ctags.d/) and a debugger's symbol find the line that was written:
 *   void TN_NAME(tn_lstm_forward_f32, tn_lstm_forward_f64)(TN_T *hs, ...)   public, in tinynet.h
 *   static void TN_NAME(lstm_cell_f32, lstm_cell_f64)(...)                  local to the file
 * (TN_NAME, in tn_internal.h, picks the one for TN_S).  Inside a body, the short forms
 * name them for the dtype being compiled:
 *   FN(x)                    tn_x_f32 / tn_x_f64: public and core-internal names
 *   SF(x)                    x_f32 / x_f64: names local to the file
 * The kernels stay in the layer's own file, so compiler messages and debuggers point at
 * the lines that were written. */
#ifndef TN_TEMPLATE
#error "tn_template.h: define TN_TEMPLATE (the file to instantiate) first"
#endif

#define SF(name) TN_CAT3(name, _, TN_S)
#define FN(name) TN_CAT4(tn_, name, _, TN_S)

#define TN_T float
#define TN_S f32
#define TN_EXP expf
#define TN_LOG logf
#define TN_SQRT sqrtf
#include "tn_typed.h"
#include TN_TEMPLATE
#undef TN_T
#undef TN_S
#undef TN_EXP
#undef TN_LOG
#undef TN_SQRT

#define TN_T double
#define TN_S f64
#define TN_EXP exp
#define TN_LOG log
#define TN_SQRT sqrt
#include "tn_typed.h"
#include TN_TEMPLATE
#undef TN_T
#undef TN_S
#undef TN_EXP
#undef TN_LOG
#undef TN_SQRT

#undef SF
#undef FN
#undef TN_TEMPLATE
