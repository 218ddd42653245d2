/* tn_linear.c -- the affine layer, the activations (tanh, sigmoid, ReLU), softmax and
 * softmax cross-entropy.  See tinynet.h for each function's contract. */
#ifndef TN_T
#include <math.h>

#include "tn_internal.h"

size_t tn_linear_forward_work(size_t N, size_t D, size_t H) { return tn_gemm_work(N, H, D); }

size_t tn_linear_work(size_t N, size_t D, size_t H)
{
    /* the three GEMMs of forward/backward: (N,H,D), (N,D,H), (H,D,N) */
    return TN_MAX(tn_gemm_work(N, H, D), TN_MAX(tn_gemm_work(N, D, H), tn_gemm_work(H, D, N)));
}

#define TN_TEMPLATE "tn_linear.c"
#include "tn_template.h"
#else

/* ---------------------------------------------------------------- linear */

/* y(N,H) = x(N,D) @ W(H,D)^T + b(H): the GEMM adds b to each finished tile */
void TN_NAME(tn_linear_forward_f32, tn_linear_forward_f64)(TN_T *y, const TN_T *x, const TN_T *W, const TN_T *b,
    size_t N, size_t D, size_t H, TN_T *work)
{
    FN(gemm_ex)(0, 1, N, H, D, 1, x, D, W, D, 0, y, H, b, work);
}

/* dx(N,D) = dy(N,H) @ W(H,D);  dW(H,D) = dy^T @ x(N,D);  db(H) = sum_n dy */
void TN_NAME(tn_linear_backward_f32, tn_linear_backward_f64)(TN_T *dx, TN_T *dW, TN_T *db, const TN_T *dy,
    const TN_T *x, const TN_T *W, size_t N, size_t D, size_t H, TN_T *work)
{
    if (dx) FN(gemm)(0, 0, N, D, H, 1, dy, H, W, D, 0, dx, D, work);
    if (dW) FN(gemm)(1, 0, H, D, N, 1, dy, H, x, D, 0, dW, D, work);
    if (db) SF(sum_rows)(db, dy, N, H);
}

/* ------------------------------------------------------------ activations */

void TN_NAME(tn_tanh_forward_f32, tn_tanh_forward_f64)(TN_T *y, const TN_T *x, size_t n)
{
    const tn_isa *isa = tn_isa_get();
    (n * sizeof(TN_T) <= 32 ? isa->SF(tanh_short) : isa->SF(tanh))(y, x, n);
}

TN_CLONES void TN_NAME(tn_tanh_backward_f32, tn_tanh_backward_f64)(TN_T *dx, const TN_T *dy, const TN_T *y, size_t n)
{
    for (size_t i = 0; i < n; i++) dx[i] = dy[i] * (1 - y[i] * y[i]);
}

/* exp over n values, for rows of length V: the vectorised one for rows of 16 values or
 * more, libm's below (where the vector code's fixed cost loses).  The choice depends on
 * the row length alone -- the same on every instruction set and for every chunk of a
 * row -- so a given shape always gets the same bits. */
static void TN_NAME(vexp_f32, vexp_f64)(TN_T *y, const TN_T *x, size_t n, size_t V)
{
    if (V >= 16) {
        tn_isa_get()->SF(exp)(y, x, n);
    } else {
        for (size_t i = 0; i < n; i++) y[i] = TN_EXP(x[i]);
    }
}

void TN_NAME(tn_sigmoid_forward_f32, tn_sigmoid_forward_f64)(TN_T *y, const TN_T *x, size_t n)
{
    for (size_t i = 0; i < n; i++) y[i] = -x[i];
    tn_isa_get()->SF(exp)(y, y, n); /* elementwise: the same bits at any length */
    for (size_t i = 0; i < n; i++) y[i] = 1 / (1 + y[i]);
}

TN_CLONES void TN_NAME(tn_sigmoid_backward_f32, tn_sigmoid_backward_f64)(TN_T *dx, const TN_T *dy, const TN_T *y,
    size_t n)
{
    for (size_t i = 0; i < n; i++) dx[i] = dy[i] * (y[i] * (1 - y[i]));
}

TN_CLONES void TN_NAME(tn_relu_forward_f32, tn_relu_forward_f64)(TN_T *y, const TN_T *x, size_t n)
{
    /* NaN propagates, as np.maximum(x, 0) does */
    for (size_t i = 0; i < n; i++) y[i] = x[i] < 0 ? 0 : x[i];
}

TN_CLONES void TN_NAME(tn_relu_backward_f32, tn_relu_backward_f64)(TN_T *dx, const TN_T *dy, const TN_T *y, size_t n)
{
    for (size_t i = 0; i < n; i++) dx[i] = y[i] > 0 ? dy[i] : 0;
}

/* ------------------------------------------------- softmax, cross-entropy */

/* Max of a row; a NaN anywhere makes the whole row NaN downstream either way. */
static TN_T TN_NAME(row_max_f32, row_max_f64)(const TN_T *r, size_t V)
{
    TN_T m = r[0];
    for (size_t v = 1; v < V; v++)
        if (r[v] > m) m = r[v];
    return m;
}

/* e(V) = exp(r - m), in place when e == r; returns the sum of e (added in order). */
static TN_T TN_NAME(row_exp_f32, row_exp_f64)(TN_T *e, const TN_T *r, size_t V, TN_T m)
{
    TN_T s = 0;
    for (size_t v = 0; v < V; v++) e[v] = r[v] - m;
    SF(vexp)(e, e, V, V);
    for (size_t v = 0; v < V; v++) s += e[v];
    return s;
}

/* probs(N,V) = softmax(logits) row by row */
void TN_NAME(tn_softmax_f32, tn_softmax_f64)(TN_T *probs, const TN_T *logits, size_t N, size_t V)
{
    if (V == 0) return;
    for (size_t n = 0; n < N; n++) {
        TN_T *p = probs + n * V;
        const TN_T *r = logits + n * V;
        TN_T s = SF(row_exp)(p, r, V, SF(row_max)(r, V));
        for (size_t v = 0; v < V; v++) p[v] /= s;
    }
}

/* Rows of cross_entropy_forward with probs, CE_ROWS at a time: the same operations as
 * row_max, row_exp and the division, row by row in the same order, but the rows' max and
 * sum chains interleaved (a chain of V dependent operations per row, in flight together)
 * and one exp call over the block; adds the rows' losses to *loss in row order. */
#define CE_ROWS 16
static void TN_NAME(ce_rows_f32, ce_rows_f64)(double *loss, TN_T *probs, const TN_T *logits, const int64_t *targets,
    size_t n, size_t V)
{
    TN_T m[CE_ROWS], s[CE_ROWS], target[CE_ROWS];
    for (size_t i = 0; i < n; i++) {
        const TN_T *r = logits + i * V;
        target[i] = r[targets[i]], m[i] = r[0], s[i] = 0; /* (before probs, which may alias logits, is written) */
    }
    for (size_t v = 1; v < V; v++)
        for (size_t i = 0; i < n; i++)
            if (logits[i * V + v] > m[i]) m[i] = logits[i * V + v];
    for (size_t i = 0; i < n; i++)
        for (size_t v = 0; v < V; v++) probs[i * V + v] = logits[i * V + v] - m[i];
    SF(vexp)(probs, probs, n * V, V);
    for (size_t v = 0; v < V; v++)
        for (size_t i = 0; i < n; i++) s[i] += probs[i * V + v];
    for (size_t i = 0; i < n; i++) {
        TN_T *p = probs + i * V;
        for (size_t v = 0; v < V; v++) p[v] /= s[i];
        *loss += (double)((m[i] + TN_LOG(s[i])) - target[i]);
    }
}

/* loss = sum_n logsumexp(logits_n) - logits_n[t_n]  (/ N if mean) */
double TN_NAME(tn_cross_entropy_forward_f32, tn_cross_entropy_forward_f64)(TN_T *probs, const TN_T *logits,
    const int64_t *targets, size_t N, size_t V, int mean)
{
    double loss = 0;
    if (probs) { /* (V = 0 only with N = 0: no target fits) */
        for (size_t n0 = 0; V && n0 < N; n0 += CE_ROWS)
            SF(ce_rows)(&loss, probs + n0 * V, logits + n0 * V, targets + n0, TN_MIN((size_t)CE_ROWS, N - n0), V);
        return mean ? loss / (double)N : loss;
    }
    for (size_t n = 0; n < N; n++) { /* no room for the exponentials: a chunk at a time, summed in the same order */
        const TN_T *r = logits + n * V;
        TN_T m = SF(row_max)(r, V), s = 0, buf[64];
        for (size_t v0 = 0; v0 < V; v0 += 64) {
            size_t cnt = TN_MIN((size_t)64, V - v0);
            for (size_t j = 0; j < cnt; j++) buf[j] = r[v0 + j] - m;
            SF(vexp)(buf, buf, cnt, V);
            for (size_t j = 0; j < cnt; j++) s += buf[j];
        }
        loss += (double)((m + TN_LOG(s)) - r[targets[n]]);
    }
    return mean ? loss / (double)N : loss;
}

/* dlogits(N,V) = (probs - onehot(targets)) (/ N if mean) */
TN_CLONES void TN_NAME(tn_cross_entropy_backward_f32, tn_cross_entropy_backward_f64)(TN_T *dlogits, const TN_T *probs,
    const int64_t *targets, size_t N, size_t V, int mean)
{
    TN_T scale = (TN_T)N;
    for (size_t n = 0; n < N; n++) {
        TN_T *d = dlogits + n * V;
        const TN_T *p = probs + n * V;
        for (size_t v = 0; v < V; v++) d[v] = p[v];
        d[targets[n]] -= 1;
        if (mean)
            for (size_t v = 0; v < V; v++) d[v] /= scale;
    }
}

#endif
