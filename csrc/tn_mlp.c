/* tn_mlp.c -- an MLP's layer steps fused: a hidden block (linear, batch norm, tanh)
 * forward and backward, and the output layer with its softmax cross-entropy, forward
 * and backward at once.  Each is the composition of the single layers' kernels on the
 * same values in the same order, so it gives the bits of those public functions called
 * one after the other; what it saves is the calls, their checks and their outputs.  See
 * tinynet.h for the contracts. */
#ifndef TN_T
#include "tn_internal.h"

size_t tn_linear_batchnorm_tanh_forward_work(size_t N, size_t D, size_t H) { return tn_linear_forward_work(N, D, H); }

size_t tn_linear_batchnorm_tanh_backward_work(size_t N, size_t D, size_t H)
{
    tn_ws w = {0, 0};
    tn_ws_add(&w, N, H, 1); /* the gradient at the tanh's input, then at the linear layer's output */
    tn_ws_add(&w, tn_linear_work(N, D, H), 1, 1);
    return tn_ws_done(&w);
}

size_t tn_linear_cross_entropy_work(size_t N, size_t D, size_t V)
{
    tn_ws w = {0, 0};
    tn_ws_add(&w, N, V, 1); /* logits, then probs, then dlogits, in place */
    tn_ws_add(&w, tn_linear_work(N, D, V), 1, 1);
    return tn_ws_done(&w);
}

#define TN_TEMPLATE "tn_mlp.c"
#include "tn_template.h"
#else

/* hpre = x W^T + b;  h = tanh(gamma (hpre - mean) invstd + beta) with the batch's mean
 * and invstd */
void TN_NAME(tn_linear_batchnorm_tanh_forward_f32, tn_linear_batchnorm_tanh_forward_f64)(TN_T *h, TN_T *hpre,
    TN_T *mean, TN_T *invstd, const TN_T *x, const TN_T *W, const TN_T *b, const TN_T *gamma, const TN_T *beta,
    size_t N, size_t D, size_t H, TN_T eps, size_t correction, TN_T *work)
{
    FN(linear_forward)(hpre, x, W, b, N, D, H, work);
    FN(batchnorm_forward)(h, mean, invstd, hpre, gamma, beta, N, H, eps, correction);
    FN(tanh_forward)(h, h, N * H);
}

/* dh -> through tanh (from h), batch norm (from hpre, mean, invstd), the linear layer */
void TN_NAME(tn_linear_batchnorm_tanh_backward_f32, tn_linear_batchnorm_tanh_backward_f64)(TN_T *dx, TN_T *dW, TN_T *db,
    TN_T *dgamma, TN_T *dbeta, const TN_T *dh, const TN_T *h, const TN_T *x, const TN_T *W, const TN_T *gamma,
    const TN_T *hpre, const TN_T *mean, const TN_T *invstd, size_t N, size_t D, size_t H, size_t correction, TN_T *work)
{
    TN_T *g = SF(take)(&work, N * H);
    FN(tanh_backward)(g, dh, h, N * H);
    FN(batchnorm_backward)(g, dgamma, dbeta, g, hpre, gamma, mean, invstd, N, H, correction); /* in place */
    FN(linear_backward)(dx, dW, db, g, x, W, N, D, H, work);
}

/* logits = x W^T + b; the loss of softmax cross-entropy against targets; its gradient
 * back through the linear layer */
double TN_NAME(tn_linear_cross_entropy_f32, tn_linear_cross_entropy_f64)(TN_T *dx, TN_T *dW, TN_T *db, const TN_T *x,
    const TN_T *W, const TN_T *b, const int64_t *targets, size_t N, size_t D, size_t V, int mean, int64_t ignore_index,
    TN_T *work)
{
    TN_T *logits = SF(take)(&work, N * V);
    FN(linear_forward)(logits, x, W, b, N, D, V, work);
    double loss = FN(cross_entropy_forward_ex)(logits, logits, targets, N, V, mean, ignore_index); /* probs in place */
    FN(cross_entropy_backward_ex)(logits, logits, targets, N, V, mean, ignore_index);
    FN(linear_backward)(dx, dW, db, logits, x, W, N, D, V, work);
    return loss;
}

#endif
