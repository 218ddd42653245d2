/* tn_internal.h -- private helpers shared by the core's .c files (not installed). */
#ifndef TN_INTERNAL_H
#define TN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "tinynet.h"

#define TN_MIN(a, b) ((a) < (b) ? (a) : (b))
#define TN_MAX(a, b) ((a) > (b) ? (a) : (b))

/* GEMM blocking, in elements (shared by both dtypes so that tn_gemm_work is
 * dtype-independent).  A block of op(A) is MC x KC, a block of op(B) is KC x NC. */
#define TN_GEMM_MC 192
#define TN_GEMM_KC 256
#define TN_GEMM_NC 1024
/* Upper bound on any microkernel tile side (MR, NR) and on buffer alignment slack. */
#define TN_GEMM_TILE_MAX 32

/* Token-stamping helpers so one body serves float and double:
 *   TN_T      the element type
 *   TN_FN(x)  tn_x_f32 / tn_x_f64 (public names)
 *   TN_SF(x)  x_f32 / x_f64 (file-local names) */
#define TN_CAT3_(a, b, c) a##b##c
#define TN_CAT3(a, b, c) TN_CAT3_(a, b, c)
#define TN_CAT4_(a, b, c, d) a##b##c##d
#define TN_CAT4(a, b, c, d) TN_CAT4_(a, b, c, d)

/* Scratch carving: a kernel takes n elements from its workspace rounded up to a
 * multiple of TN_ALIGN_ELEMS (64 bytes or more for both dtypes), so that every piece
 * stays as aligned as the workspace itself. */
#define TN_ALIGN_ELEMS 16
#define TN_ROUND_UP(n) ((((n) + TN_ALIGN_ELEMS - 1) / TN_ALIGN_ELEMS) * TN_ALIGN_ELEMS)

/* Parallel-for over [0, n) in contiguous chunks: fn(ctx, begin, end) runs in up to
 * nthreads threads (the caller's thread included).  Chunk boundaries depend only on n
 * and the thread count, and each index is handled exactly once. */
typedef void (*tn_range_fn)(void *ctx, size_t begin, size_t end);
void tn_parallel_for(size_t n, size_t min_chunk, tn_range_fn fn, void *ctx);

#endif
