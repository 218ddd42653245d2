/* tn_optim.c -- the in-place optimizers (SGD, Adagrad, AdamW) and gradient clipping. */
#ifndef TN_T
#include <math.h>

#include "tn_internal.h"

#define TN_TEMPLATE "tn_optim.c"
#include "tn_template.h"
#else

TN_CLONES void TN_NAME(tn_sgd_step_f32, tn_sgd_step_f64)(TN_T *param, const TN_T *grad, size_t n, TN_T lr)
{
    for (size_t i = 0; i < n; i++) param[i] -= lr * grad[i];
}

TN_CLONES void TN_NAME(tn_adagrad_step_f32, tn_adagrad_step_f64)(TN_T *param, const TN_T *grad, TN_T *mem, size_t n,
    TN_T lr, TN_T eps)
{
    for (size_t i = 0; i < n; i++) {
        mem[i] += grad[i] * grad[i];
        param[i] -= lr * grad[i] / TN_SQRT(mem[i] + eps);
    }
}

TN_CLONES void TN_NAME(tn_adam_step_f32, tn_adam_step_f64)(TN_T *param, const TN_T *grad, TN_T *m, TN_T *v, size_t n,
    int64_t t, double lr, double beta1, double beta2, double eps, double weight_decay)
{
    /* the scalars in double, as PyTorch computes them in Python floats */
    double bc1 = 1 - pow(beta1, (double)t), bc2 = 1 - pow(beta2, (double)t);
    TN_T decay = (TN_T)(1 - lr * weight_decay), w1 = (TN_T)(1 - beta1), b2 = (TN_T)beta2,
         w2 = (TN_T)(1 - beta2), neg_step = (TN_T)(-(lr / bc1)), bc2_sqrt = (TN_T)sqrt(bc2),
         e = (TN_T)eps;
    for (size_t i = 0; i < n; i++) {
        TN_T g = grad[i];
        if (weight_decay != 0) param[i] *= decay;
        m[i] += (g - m[i]) * w1;
        v[i] = v[i] * b2 + w2 * g * g;
        TN_T denom = TN_SQRT(v[i]) / bc2_sqrt + e;
        param[i] += neg_step * m[i] / denom;
    }
}

TN_CLONES void TN_NAME(tn_clip_f32, tn_clip_f64)(TN_T *g, size_t n, TN_T lo, TN_T hi)
{
    for (size_t i = 0; i < n; i++) {
        if (g[i] < lo)
            g[i] = lo;
        else if (g[i] > hi)
            g[i] = hi;
    }
}

#endif
