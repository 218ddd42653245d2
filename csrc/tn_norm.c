/* tn_norm.c -- batch normalisation: training mode (batch statistics), its gradient, and
 * eval mode (running statistics); layer normalisation (each row's statistics) and its
 * gradient. */
#ifndef TN_T
#include <math.h>

#include "tn_internal.h"

/* Layer norm's row sums go to LN_LANES partial sums (element i of a row to partial sum
 * i % LN_LANES), combined pairwise at the end: the same operations in the same order on
 * every instruction set -- one or more vectors of partial sums, whatever their width. */
#define LN_LANES 16
/* ... and their rows are taken this many at a time (a divisor of TN_SUM_BLOCK) */
#define LN_ROWS 8

/* A layer norm's rows per thread: TN_EW_PER_THREAD / 2 values' worth (a row costs two
 * sums, a root and a pass more than GELU's values), at least one. */
static size_t ln_rows_per_thread(size_t C) { return C < TN_EW_PER_THREAD / 2 ? TN_EW_PER_THREAD / 2 / C : 1; }

size_t tn_layernorm_backward_work(size_t N, size_t C)
{
    tn_ws w = {0, 0}; /* the column sums' partial sums of dweight, then of dbias: a row per block of rows */
    tn_ws_add(&w, N / TN_SUM_BLOCK + 1, C, 1);
    tn_ws_add(&w, N / TN_SUM_BLOCK + 1, C, 1);
    return tn_ws_done(&w);
}

#define TN_TEMPLATE "tn_norm.c"
#include "tn_template.h"
#else

/* mean(C) and invstd(C) of x(N,C) with var = sum (x - mean)^2 / (N - correction) */
static void TN_NAME(bn_stats_f32, bn_stats_f64)(TN_T *mean, TN_T *invstd, const TN_T *x, size_t N, size_t C, TN_T eps,
    size_t correction)
{
    SF(sum_rows)(mean, x, N, C);
    for (size_t c = 0; c < C; c++) mean[c] /= (TN_T)N;
    FN(col_sums)(invstd, TN_SUM_DEV2, x, NULL, mean, NULL, N, C);
    TN_T denom = (TN_T)(N - correction);
    for (size_t c = 0; c < C; c++) invstd[c] = 1 / TN_SQRT(invstd[c] / denom + eps);
}

TN_CLONES void TN_NAME(tn_batchnorm_forward_f32, tn_batchnorm_forward_f64)(TN_T *y, TN_T *mean, TN_T *invstd,
    const TN_T *x, const TN_T *gamma, const TN_T *beta, size_t N, size_t C, TN_T eps, size_t correction)
{
    SF(bn_stats)(mean, invstd, x, N, C, eps, correction);
    for (size_t n = 0; n < N; n++) {
        const TN_T *xn = x + n * C;
        TN_T *yn = y + n * C;
        for (size_t c = 0; c < C; c++) yn[c] = gamma[c] * ((xn[c] - mean[c]) * invstd[c]) + beta[c];
    }
}

TN_CLONES void TN_NAME(tn_batchnorm_backward_f32, tn_batchnorm_backward_f64)(TN_T *dx, TN_T *dgamma, TN_T *dbeta,
    const TN_T *dy, const TN_T *x, const TN_T *gamma, const TN_T *mean, const TN_T *invstd, size_t N, size_t C,
    size_t correction)
{
    /* dbeta = sum dy, dgamma = sum dy xhat; the sums of g = dy gamma follow from them */
    SF(sum_rows)(dbeta, dy, N, C);
    FN(col_sums)(dgamma, TN_SUM_XHAT_Y, x, dy, mean, invstd, N, C);
    /* dx = invstd (g - gamma dbeta / N - xhat gamma dgamma / (N - correction)), the two
     * per-channel terms computed once for a block of channels rather than per element */
    TN_T fN = (TN_T)N, fD = (TN_T)(N - correction), g_mean[128], g_xhat[128];
    for (size_t c0 = 0; c0 < C; c0 += 128) {
        size_t cn = TN_MIN((size_t)128, C - c0);
        for (size_t c = 0; c < cn; c++) {
            g_mean[c] = gamma[c0 + c] * dbeta[c0 + c] / fN;
            g_xhat[c] = gamma[c0 + c] * dgamma[c0 + c] / fD;
        }
        const TN_T *m = mean + c0, *is = invstd + c0, *ga = gamma + c0;
        for (size_t n = 0; n < N; n++) {
            const TN_T *xn = x + n * C + c0, *dyn = dy + n * C + c0;
            TN_T *dxn = dx + n * C + c0;
            for (size_t c = 0; c < cn; c++) {
                TN_T xhat = (xn[c] - m[c]) * is[c];
                TN_T g = dyn[c] * ga[c];
                dxn[c] = is[c] * (g - g_mean[c] - xhat * g_xhat[c]);
            }
        }
    }
}

/* running = (1 - momentum) running + momentum batch, with the batch's mean and its
 * unbiased variance sum (x - mean)^2 / (N - 1), as PyTorch's training mode */
void TN_NAME(tn_batchnorm_running_f32, tn_batchnorm_running_f64)(TN_T *running_mean, TN_T *running_var, const TN_T *x,
    const TN_T *mean, size_t N, size_t C, double momentum, TN_T *work)
{
    TN_T keep = (TN_T)(1 - momentum), f = (TN_T)momentum, *var = work, denom = (TN_T)(N - 1);
    FN(col_sums)(var, TN_SUM_DEV2, x, NULL, mean, NULL, N, C);
    for (size_t c = 0; c < C; c++) {
        running_mean[c] = running_mean[c] * keep + f * mean[c];
        running_var[c] = running_var[c] * keep + f * (var[c] / denom);
    }
}

TN_CLONES void TN_NAME(tn_batchnorm_inference_f32, tn_batchnorm_inference_f64)(TN_T *y, const TN_T *x,
    const TN_T *gamma, const TN_T *beta, const TN_T *running_mean, const TN_T *running_var, size_t N, size_t C,
    TN_T eps)
{
    for (size_t n = 0; n < N; n++) {
        const TN_T *xn = x + n * C;
        TN_T *yn = y + n * C;
        for (size_t c = 0; c < C; c++)
            yn[c] = gamma[c] * (xn[c] - running_mean[c]) / TN_SQRT(running_var[c] + eps) + beta[c];
    }
}

/* ------------------------------------------------------------------- layer norm */

/* The LN_LANES (16) partial sums of a row added pairwise: the row's sum.  (Loops of
 * constant lengths: vector additions.) */
static inline __attribute__((always_inline)) TN_T TN_NAME(ln_total_f32, ln_total_f64)(TN_T *p)
{
    for (size_t j = 0; j < 8; j++) p[j] += p[j + 8];
    for (size_t j = 0; j < 4; j++) p[j] += p[j + 4];
    for (size_t j = 0; j < 2; j++) p[j] += p[j + 2];
    return p[0] + p[1];
}

/* sum over the row x(C) of x - shift */
static inline __attribute__((always_inline)) TN_T TN_NAME(ln_sum_f32, ln_sum_f64)(const TN_T *x, size_t C, TN_T shift)
{
    TN_T p[LN_LANES] = {0};
    size_t i = 0;
    for (; i + LN_LANES <= C; i += LN_LANES)
        for (size_t j = 0; j < LN_LANES; j++) p[j] += x[i + j] - shift;
    for (size_t j = 0; i + j < C; j++) p[j] += x[i + j] - shift;
    return SF(ln_total)(p);
}

/* sum over the row x(C) of (x - m)^2 */
static inline __attribute__((always_inline)) TN_T TN_NAME(ln_dev2_f32, ln_dev2_f64)(const TN_T *x, size_t C, TN_T m)
{
    TN_T p[LN_LANES] = {0};
    size_t i = 0;
    for (; i + LN_LANES <= C; i += LN_LANES)
        for (size_t j = 0; j < LN_LANES; j++) {
            TN_T d = x[i + j] - m;
            p[j] += d * d;
        }
    for (size_t j = 0; i + j < C; j++) {
        TN_T d = x[i + j] - m;
        p[j] += d * d;
    }
    return SF(ln_total)(p);
}

/* Rows [N0, N) of tn_layernorm_forward (below). */
TN_CLONES static void TN_NAME(layernorm_forward_part_f32, layernorm_forward_part_f64)(TN_T *y, TN_T *mean,
    TN_T *rstd, const TN_T *x, const TN_T *weight, const TN_T *bias, size_t N0, size_t N, size_t C, TN_T eps)
{
    TN_T fC = (TN_T)C;
    for (size_t n0 = N0; n0 < N; n0 += LN_ROWS) {
        size_t n1 = TN_MIN(N, n0 + LN_ROWS);
        for (size_t n = n0; n < n1; n++) mean[n] = x[n * C] + SF(ln_sum)(x + n * C, C, x[n * C]) / fC;
        for (size_t n = n0; n < n1; n++) rstd[n] = 1 / TN_SQRT(SF(ln_dev2)(x + n * C, C, mean[n]) / fC + eps);
        for (size_t n = n0; n < n1; n++) {
            const TN_T *xn = x + n * C;
            TN_T *yn = y + n * C, m = mean[n], s = rstd[n];
            if (weight && bias)
                for (size_t c = 0; c < C; c++) yn[c] = (xn[c] - m) * s * weight[c] + bias[c];
            else if (weight)
                for (size_t c = 0; c < C; c++) yn[c] = (xn[c] - m) * s * weight[c];
            else if (bias)
                for (size_t c = 0; c < C; c++) yn[c] = (xn[c] - m) * s + bias[c];
            else
                for (size_t c = 0; c < C; c++) yn[c] = (xn[c] - m) * s;
        }
    }
}

/* A layer norm's arguments, for the members of a team (each a share of the rows). */
typedef struct {
    TN_T *y, *mean, *rstd, *dx, *pw, *pb;
    const TN_T *x, *dy, *weight, *bias, *cmean, *crstd;
    size_t C;
    TN_T eps;
} TN_NAME(ln_job_f32, ln_job_f64);

static void TN_NAME(layernorm_forward_range_f32, layernorm_forward_range_f64)(void *ctx, size_t n0, size_t n1)
{
    const SF(ln_job) *j = ctx;
    SF(layernorm_forward_part)(j->y, j->mean, j->rstd, j->x, j->weight, j->bias, n0, n1, j->C, j->eps);
}

/* Each row of x(N,C) over its C values: mean = x0 + sum (x - x0) / C with x0 the row's first
 * value (so a constant row's mean is exact), var = sum (x - mean)^2 / C, rstd = 1 / sqrt(var
 * + eps), y = (x - mean) rstd weight + bias.  Rows go LN_ROWS at a time, each step for all
 * of them before the next (a row's steps wait on each other's divisions and square root;
 * the rows' do not); large inputs split their rows between the team. */
void TN_NAME(tn_layernorm_forward_f32, tn_layernorm_forward_f64)(TN_T *y, TN_T *mean, TN_T *rstd, const TN_T *x,
    const TN_T *weight, const TN_T *bias, size_t N, size_t C, TN_T eps)
{
    if (C == 0) { /* rows of no values: the mean of nothing */
        for (size_t n = 0; n < N; n++) mean[n] = rstd[n] = (TN_T)NAN;
        return;
    }
    SF(ln_job) j = {.y = y, .mean = mean, .rstd = rstd, .x = x, .weight = weight, .bias = bias, .C = C, .eps = eps};
    tn_parallel_ranges(N, LN_ROWS, ln_rows_per_thread(C), SF(layernorm_forward_range), &j);
}

/* One row's sums for its gradient (xhat = (x - m) s, g = dy weight, or dy without a
 * weight): *g_mean = sum(g) / C, *gx_mean = sum(g xhat) / C; and its terms added to the
 * column sums of its block of rows, pw += dy xhat and pb += dy. */
static inline __attribute__((always_inline)) void TN_NAME(ln_row_sums_f32, ln_row_sums_f64)(TN_T *g_mean,
    TN_T *gx_mean, TN_T *pw, TN_T *pb, const TN_T *dy, const TN_T *x, const TN_T *weight, TN_T m, TN_T s, size_t C)
{
    TN_T sg[LN_LANES] = {0}, sgx[LN_LANES] = {0};
#define LN_TERMS(k, j)                                                                                                \
    do {                                                                                                              \
        TN_T xhat = (x[k] - m) * s, g = weight ? dy[k] * weight[k] : dy[k];                                           \
        sg[j] += g, sgx[j] += g * xhat, pw[k] += dy[k] * xhat, pb[k] += dy[k];                                        \
    } while (0)
    size_t i = 0;
    for (; i + LN_LANES <= C; i += LN_LANES)
        for (size_t j = 0; j < LN_LANES; j++) LN_TERMS(i + j, j);
    for (size_t j = 0; i + j < C; j++) LN_TERMS(i + j, j);
#undef LN_TERMS
    *g_mean = SF(ln_total)(sg) / (TN_T)C, *gx_mean = SF(ln_total)(sgx) / (TN_T)C;
}

/* dx = s (g - g_mean - xhat gx_mean) over one row */
static inline __attribute__((always_inline)) void TN_NAME(ln_row_dx_f32, ln_row_dx_f64)(TN_T *dx, const TN_T *dy,
    const TN_T *x, const TN_T *weight, TN_T m, TN_T s, TN_T g_mean, TN_T gx_mean, size_t C)
{
    for (size_t c = 0; c < C; c++) {
        TN_T xhat = (x[c] - m) * s, g = weight ? dy[c] * weight[c] : dy[c];
        dx[c] = s * (g - g_mean - xhat * gx_mean);
    }
}

/* Rows [N0, N) of tn_layernorm_backward (N0 a multiple of TN_SUM_BLOCK): dx, and the
 * partial column sums of their blocks of rows. */
TN_CLONES static void TN_NAME(layernorm_backward_part_f32, layernorm_backward_part_f64)(TN_T *dx, TN_T *pw,
    TN_T *pb, const TN_T *dy, const TN_T *x, const TN_T *weight, const TN_T *mean, const TN_T *rstd, size_t N0,
    size_t N, size_t C)
{
    TN_T g_mean[LN_ROWS], gx_mean[LN_ROWS];
    for (size_t n0 = N0; n0 < N; n0 += LN_ROWS) { /* (LN_ROWS divides TN_SUM_BLOCK: one block of column sums) */
        size_t n1 = TN_MIN(N, n0 + LN_ROWS), blk = n0 / TN_SUM_BLOCK * C;
        for (size_t n = n0; n < n1; n++)
            SF(ln_row_sums)(g_mean + n - n0, gx_mean + n - n0, pw + blk, pb + blk, dy + n * C, x + n * C, weight,
                            mean[n], rstd[n], C);
        for (size_t n = n0; n < n1; n++)
            SF(ln_row_dx)(dx + n * C, dy + n * C, x + n * C, weight, mean[n], rstd[n], g_mean[n - n0],
                          gx_mean[n - n0], C);
    }
}

static void TN_NAME(layernorm_backward_range_f32, layernorm_backward_range_f64)(void *ctx, size_t n0, size_t n1)
{
    const SF(ln_job) *j = ctx;
    SF(layernorm_backward_part)(j->dx, j->pw, j->pb, j->dy, j->x, j->weight, j->cmean, j->crstd, n0, n1, j->C);
}

/* dx (N,C) row by row, LN_ROWS rows at a time (each row's sums for all of them, then
 * their dx); dweight = sum_n dy xhat (if weight), dbias = sum_n dy, as column sums
 * (tn_sums.c) from partial sums per block of TN_SUM_BLOCK rows kept in work.  Large
 * inputs split their blocks of rows between the team. */
void TN_NAME(tn_layernorm_backward_f32, tn_layernorm_backward_f64)(TN_T *dx, TN_T *dweight, TN_T *dbias,
    const TN_T *dy, const TN_T *x, const TN_T *weight, const TN_T *mean, const TN_T *rstd, size_t N, size_t C,
    TN_T *work)
{
    if (N == 0) { /* no rows: sums of nothing */
        if (dweight) SF(zero)(dweight, C);
        SF(zero)(dbias, C);
        return;
    }
    size_t nb = (N + TN_SUM_BLOCK - 1) / TN_SUM_BLOCK;
    TN_T *pw = SF(take)(&work, nb * C), *pb = SF(take)(&work, nb * C);
    SF(zero)(pw, nb * C);
    SF(zero)(pb, nb * C);
    SF(ln_job) j = {.dx = dx, .pw = pw, .pb = pb, .dy = dy, .x = x, .weight = weight, .cmean = mean, .crstd = rstd,
                    .C = C};
    tn_parallel_ranges(N, TN_SUM_BLOCK, ln_rows_per_thread(C), SF(layernorm_backward_range), &j);
    if (dweight) FN(col_sums_of_blocks)(dweight, pw, N, C);
    FN(col_sums_of_blocks)(dbias, pb, N, C);
}

#endif
