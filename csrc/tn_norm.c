/* tn_norm.c -- batch normalisation: training mode (batch statistics), its gradient, and
 * eval mode (running statistics). */
#ifndef TN_T
#include <math.h>

#include "tn_internal.h"

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

#endif
