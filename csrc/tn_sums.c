/* tn_sums.c -- column sums over the rows of (N, C) matrices: bias gradients, batch-norm
 * statistics and gradients.  Rows are added in order within blocks of TN_SUM_BLOCK, and
 * the blocks' partial sums are combined pairwise (a binary cascade), so the rounding
 * error grows with log N rather than N, as in NumPy's pairwise sum; up to TN_SUM_BLOCK
 * rows it is the plain sum in row order.  Columns go TN_SUM_W at a time, with the
 * cascade's pending partial sums (one per level: at most 64 for any N) on the stack. */
#ifndef TN_T
#include <math.h>

#include "tn_internal.h"

#define TN_TEMPLATE "tn_sums.c"
#include "tn_template.h"
#else

/* dst[j] = sum over rows n0 <= n < n1, in order, of the term at column c0 + j (j < w):
 *   TN_SUM_X:      x[n,c]
 *   TN_SUM_DEV2:   (x[n,c] - a[c])^2                      (batch-norm variance)
 *   TN_SUM_XHAT_Y: y[n,c] ((x[n,c] - a[c]) b[c])          (batch-norm dgamma) */
/* ... for one strip of W <= TN_SUM_W columns, the partial sums in a local array: with W
 * the constant TN_SUM_W they stay in registers across the rows */
static inline __attribute__((always_inline)) void TN_NAME(col_strip_f32, col_strip_f64)(TN_T *dst, int kind,
    const TN_T *x, const TN_T *y, const TN_T *ac, const TN_T *bc, size_t C, size_t n0, size_t n1, size_t c0, size_t W)
{
    TN_T acc[TN_SUM_W];
    for (size_t j = 0; j < W; j++) acc[j] = 0;
    for (size_t n = n0; n < n1; n++) {
        const TN_T *xn = x + n * C + c0;
        if (kind == TN_SUM_X) {
            for (size_t j = 0; j < W; j++) acc[j] += xn[j];
        } else if (kind == TN_SUM_DEV2) {
            for (size_t j = 0; j < W; j++) {
                TN_T d = xn[j] - ac[j];
                acc[j] += d * d;
            }
        } else {
            const TN_T *yn = y + n * C + c0;
            for (size_t j = 0; j < W; j++) acc[j] += yn[j] * ((xn[j] - ac[j]) * bc[j]);
        }
    }
    for (size_t j = 0; j < W; j++) dst[j] = acc[j];
}

/* (always inlined: each target clone of the callers gets its own vector code; a shared
 * copy would be compiled for the baseline, SSE2 only) */
static inline __attribute__((always_inline)) void TN_NAME(col_block_f32, col_block_f64)(TN_T *dst, int kind,
    const TN_T *x, const TN_T *y, const TN_T *a, const TN_T *b, size_t C, size_t n0, size_t n1, size_t c0, size_t w)
{
    /* strips of TN_SUM_W columns, then of 16 and 8 (constant widths: registers), then the
     * rest; a column's sum is the same whatever strip it falls in */
    for (size_t j0 = 0, W; j0 < w; j0 += W) { /* (a, b: NULL unless the term uses them) */
        const TN_T *ac = a ? a + c0 + j0 : NULL, *bc = b ? b + c0 + j0 : NULL;
        size_t rest = w - j0;
        W = rest >= TN_SUM_W ? TN_SUM_W : rest >= 16 ? 16 : rest >= 8 ? 8 : rest;
        if (W == TN_SUM_W)
            SF(col_strip)(dst + j0, kind, x, y, ac, bc, C, n0, n1, c0 + j0, TN_SUM_W);
        else if (W == 16)
            SF(col_strip)(dst + j0, kind, x, y, ac, bc, C, n0, n1, c0 + j0, 16);
        else if (W == 8)
            SF(col_strip)(dst + j0, kind, x, y, ac, bc, C, n0, n1, c0 + j0, 8);
        else
            SF(col_strip)(dst + j0, kind, x, y, ac, bc, C, n0, n1, c0 + j0, rest);
    }
}

/* The cascade's state for one strip of up to TN_SUM_W columns: the pending partial
 * sums, one per level (at most 64 for any N). */
typedef struct {
    TN_T pend[64][TN_SUM_W];
    int level[64], top;
} TN_NAME(cascade_f32, cascade_f64);

/* Takes the next block's partial sums p (w columns; p is overwritten). */
static inline __attribute__((always_inline)) void TN_NAME(cascade_add_f32, cascade_add_f64)(SF(cascade) *k, TN_T *p,
    size_t w)
{
    int lv = 0; /* merge equal levels: the earlier (left) partial sum first */
    for (; k->top > 0 && k->level[k->top - 1] == lv; k->top--, lv++)
        for (size_t j = 0; j < w; j++) p[j] = k->pend[k->top - 1][j] + p[j];
    for (size_t j = 0; j < w; j++) k->pend[k->top][j] = p[j];
    k->level[k->top++] = lv;
}

/* out[0 : w] = what is left, added from the latest partial sum back */
static inline __attribute__((always_inline)) void TN_NAME(cascade_end_f32, cascade_end_f64)(const SF(cascade) *k,
    TN_T *out, size_t w)
{
    for (size_t j = 0; j < w; j++) {
        TN_T acc = k->pend[k->top - 1][j];
        for (int i = k->top - 2; i >= 0; i--) acc = k->pend[i][j] + acc;
        out[j] = acc;
    }
}

/* col_sums over the first C columns of rows ld apart */
static inline __attribute__((always_inline)) void TN_NAME(col_sums_ld_f32, col_sums_ld_f64)(TN_T *out, int kind,
    const TN_T *x, const TN_T *y, const TN_T *a, const TN_T *b, size_t N, size_t C, size_t ld)
{
    if (N <= TN_SUM_BLOCK) { /* one block: whole rows at a time */
        SF(col_block)(out, kind, x, y, a, b, ld, 0, N, 0, C);
        return;
    }
    SF(cascade) k;
    TN_T p[TN_SUM_W];
    for (size_t c0 = 0; c0 < C; c0 += TN_SUM_W) {
        size_t w = TN_MIN((size_t)TN_SUM_W, C - c0);
        k.top = 0;
        for (size_t n0 = 0; n0 < N; n0 += TN_SUM_BLOCK) {
            SF(col_block)(p, kind, x, y, a, b, ld, n0, TN_MIN(N, n0 + TN_SUM_BLOCK), c0, w);
            SF(cascade_add)(&k, p, w);
        }
        SF(cascade_end)(&k, out + c0, w);
    }
}

TN_CLONES void TN_NAME(tn_col_sums_f32, tn_col_sums_f64)(TN_T *out, int kind, const TN_T *x, const TN_T *y,
    const TN_T *a, const TN_T *b, size_t N, size_t C)
{
    SF(col_sums_ld)(out, kind, x, y, a, b, N, C, C);
}

TN_CLONES void TN_NAME(tn_col_sums_of_rows_f32, tn_col_sums_of_rows_f64)(TN_T *out, const TN_T *x, size_t N, size_t C,
    size_t ld)
{
    SF(col_sums_ld)(out, TN_SUM_X, x, NULL, NULL, NULL, N, C, ld);
}

TN_CLONES void TN_NAME(tn_block_sums_f32, tn_block_sums_f64)(TN_T *dst, const TN_T *x, size_t C, size_t n0, size_t n1,
    size_t c0, size_t w)
{
    SF(col_block)(dst, TN_SUM_X, x, NULL, NULL, NULL, C, n0, n1, c0, w);
}

TN_CLONES void TN_NAME(tn_col_sums_of_blocks_f32, tn_col_sums_of_blocks_f64)(TN_T *out, const TN_T *sums, size_t N,
    size_t C)
{
    size_t nb = (N + TN_SUM_BLOCK - 1) / TN_SUM_BLOCK;
    SF(cascade) k;
    TN_T p[TN_SUM_W];
    for (size_t c0 = 0; c0 < C; c0 += TN_SUM_W) {
        size_t w = TN_MIN((size_t)TN_SUM_W, C - c0);
        k.top = 0;
        for (size_t i = 0; i < nb; i++) {
            for (size_t j = 0; j < w; j++) p[j] = sums[i * C + c0 + j];
            SF(cascade_add)(&k, p, w);
        }
        SF(cascade_end)(&k, out + c0, w);
    }
}

#endif
