/* tn_optim.c -- the in-place optimizers and gradient clipping: SGD, min-char-rnn's
 * Adagrad and AdamW on one tensor (sgd_step_, adagrad_step_, adam_step_), and the
 * torch.optim algorithms (SGD with momentum, Adam, AdamW, Adagrad) on one tensor each,
 * which tinynet.optim runs over a whole model in one call (the *_foreach_ functions). */
#ifndef TN_T
#include <math.h>

#include "tn_internal.h"

/* The algorithm of a *_foreach_ job */
enum { OPT_SGD, OPT_ADAM, OPT_ADAGRAD };

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

/* torch.optim.SGD on one tensor: g = grad + wd p;  with momentum, buf = g on the first
 * step, else buf = momentum buf + (1 - dampening) g, and g = g + momentum buf (nesterov)
 * or buf;  p -= lr g.  Without momentum and weight decay: sgd_step_'s arithmetic. */
TN_CLONES static void TN_NAME(sgd_momentum_step_f32, sgd_momentum_step_f64)(TN_T *param, const TN_T *grad, TN_T *buf,
    size_t n, double lr, double momentum, double dampening, double weight_decay, int nesterov, int first)
{
    TN_T l = (TN_T)lr, mu = (TN_T)momentum, keep = (TN_T)(1 - dampening), wd = (TN_T)weight_decay;
    for (size_t i = 0; i < n; i++) {
        TN_T g = grad[i];
        if (weight_decay != 0) g = g + wd * param[i];
        if (momentum != 0) {
            buf[i] = first ? g : buf[i] * mu + keep * g;
            g = nesterov ? g + mu * buf[i] : buf[i];
        }
        param[i] -= l * g;
    }
}

/* torch.optim.Adam on one tensor, step t >= 1, the weight decay added to the gradient
 * (L2): g = grad + wd p, then adam_step_'s update without its decoupled decay. */
TN_CLONES static void TN_NAME(adam_l2_step_f32, adam_l2_step_f64)(TN_T *param, const TN_T *grad, TN_T *m, TN_T *v,
    size_t n, int64_t t, double lr, double beta1, double beta2, double eps, double weight_decay)
{
    double bc1 = 1 - pow(beta1, (double)t), bc2 = 1 - pow(beta2, (double)t);
    TN_T wd = (TN_T)weight_decay, w1 = (TN_T)(1 - beta1), b2 = (TN_T)beta2, w2 = (TN_T)(1 - beta2),
         neg_step = (TN_T)(-(lr / bc1)), bc2_sqrt = (TN_T)sqrt(bc2), e = (TN_T)eps;
    for (size_t i = 0; i < n; i++) {
        TN_T g = grad[i];
        if (weight_decay != 0) g = g + wd * param[i];
        m[i] += (g - m[i]) * w1;
        v[i] = v[i] * b2 + w2 * g * g;
        TN_T denom = TN_SQRT(v[i]) / bc2_sqrt + e;
        param[i] += neg_step * m[i] / denom;
    }
}

/* torch.optim.Adagrad on one tensor, step t >= 1: g = grad + wd p;  sum += g^2;
 * p -= lr / (1 + (t - 1) lr_decay) g / (sqrt(sum) + eps)   (eps outside the root). */
TN_CLONES static void TN_NAME(adagrad_sum_step_f32, adagrad_sum_step_f64)(TN_T *param, const TN_T *grad, TN_T *sum,
    size_t n, int64_t t, double lr, double eps, double weight_decay, double lr_decay)
{
    TN_T clr = (TN_T)(lr / (1 + (double)(t - 1) * lr_decay)), wd = (TN_T)weight_decay, e = (TN_T)eps;
    for (size_t i = 0; i < n; i++) {
        TN_T g = grad[i];
        if (weight_decay != 0) g = g + wd * param[i];
        sum[i] += g * g;
        param[i] -= clr * (g / (TN_SQRT(sum[i]) + e));
    }
}

/* ---- over a list of tensors (torch.optim's multi-tensor step), each its own size; a
 * tensor whose grad[i] is NULL is skipped, its step counter left alone.  The counters
 * move first; then the tensors' values, taken as one sequence, are split between the
 * team (tn_parallel_ranges), each member updating the parts of the tensors in its range. */

typedef struct {
    int kind, nesterov, decoupled;
    TN_T *const *param, *const *s1, *const *s2;
    const TN_T *const *grad;
    int64_t *const *step;
    const size_t *n;
    size_t count;
    double lr, momentum, dampening, beta1, beta2, eps, weight_decay, lr_decay; /* (each algorithm's own) */
} TN_NAME(foreach_job_f32, foreach_job_f64);

static void TN_NAME(foreach_range_f32, foreach_range_f64)(void *ctx, size_t e0, size_t e1)
{
    const SF(foreach_job) *j = ctx;
    size_t off = 0;
    for (size_t i = 0; i < j->count && off < e1; off += j->n[i], i++) {
        size_t lo = e0 > off ? e0 - off : 0, hi = TN_MIN(j->n[i], e1 - off);
        if (!j->grad[i] || lo >= hi) continue;
        TN_T *p = j->param[i] + lo;
        const TN_T *g = j->grad[i] + lo;
        int64_t t = j->step ? *j->step[i] : 0;
        if (j->kind == OPT_SGD)
            SF(sgd_momentum_step)(p, g, j->momentum != 0 ? j->s1[i] + lo : NULL, hi - lo, j->lr, j->momentum,
                                  j->dampening, j->weight_decay, j->nesterov, j->momentum != 0 && t == 1);
        else if (j->kind == OPT_ADAM && j->decoupled)
            FN(adam_step)(p, g, j->s1[i] + lo, j->s2[i] + lo, hi - lo, t, j->lr, j->beta1, j->beta2, j->eps,
                          j->weight_decay);
        else if (j->kind == OPT_ADAM)
            SF(adam_l2_step)(p, g, j->s1[i] + lo, j->s2[i] + lo, hi - lo, t, j->lr, j->beta1, j->beta2, j->eps,
                             j->weight_decay);
        else
            SF(adagrad_sum_step)(p, g, j->s1[i] + lo, hi - lo, t, j->lr, j->eps, j->weight_decay, j->lr_decay);
    }
}

/* Moves the step counters of the tensors with a gradient (where the algorithm keeps
 * them), then runs the job over all the values -- SGD's on a second thread only from 8
 * times as many values as the others': a multiply-add a value, its time is the memory's,
 * which a second core reads from the first's cache. */
static void TN_NAME(foreach_run_f32, foreach_run_f64)(SF(foreach_job) *j)
{
    size_t total = 0;
    for (size_t i = 0; i < j->count; i++) {
        total += j->n[i];
        if (j->grad[i] && j->step) ++*j->step[i];
    }
    size_t per_thread = j->kind == OPT_SGD ? 8 * TN_EW_PER_THREAD : TN_EW_PER_THREAD;
    tn_parallel_ranges(total, 64, per_thread, SF(foreach_range), j);
}

void TN_NAME(tn_sgd_foreach_f32, tn_sgd_foreach_f64)(TN_T *const *param, const TN_T *const *grad, TN_T *const *buf,
    int64_t *const *step, const size_t *n, size_t count, double lr, double momentum, double dampening,
    double weight_decay, int nesterov)
{
    /* (without momentum there are no counters: the first step's test reads none) */
    SF(foreach_job) j = {.kind = OPT_SGD, .nesterov = nesterov, .param = param, .s1 = buf, .grad = grad,
                         .step = momentum != 0 ? step : NULL, .n = n, .count = count, .lr = lr,
                         .momentum = momentum, .dampening = dampening, .weight_decay = weight_decay};
    SF(foreach_run)(&j);
}

void TN_NAME(tn_adam_foreach_f32, tn_adam_foreach_f64)(TN_T *const *param, const TN_T *const *grad, TN_T *const *m,
    TN_T *const *v, int64_t *const *step, const size_t *n, size_t count, double lr, double beta1, double beta2,
    double eps, double weight_decay, int decoupled)
{
    SF(foreach_job) j = {.kind = OPT_ADAM, .decoupled = decoupled, .param = param, .s1 = m, .s2 = v, .grad = grad,
                         .step = step, .n = n, .count = count, .lr = lr, .beta1 = beta1, .beta2 = beta2, .eps = eps,
                         .weight_decay = weight_decay};
    SF(foreach_run)(&j);
}

void TN_NAME(tn_adagrad_foreach_f32, tn_adagrad_foreach_f64)(TN_T *const *param, const TN_T *const *grad,
    TN_T *const *sum, int64_t *const *step, const size_t *n, size_t count, double lr, double eps, double weight_decay,
    double lr_decay)
{
    SF(foreach_job) j = {.kind = OPT_ADAGRAD, .param = param, .s1 = sum, .grad = grad, .step = step, .n = n,
                         .count = count, .lr = lr, .eps = eps, .weight_decay = weight_decay, .lr_decay = lr_decay};
    SF(foreach_run)(&j);
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
