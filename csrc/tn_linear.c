/* tn_linear.c -- the affine layer, the activations (tanh, sigmoid, ReLU, GELU), softmax
 * and softmax cross-entropy.  See tinynet.h for each function's contract. */
#ifndef TN_T
#include <math.h>
#include <string.h>

#include "tn_internal.h"

size_t tn_linear_forward_work(size_t N, size_t D, size_t H) { return tn_gemm_work(N, H, D); }

size_t tn_linear_work(size_t N, size_t D, size_t H)
{
    /* the three GEMMs of forward/backward: (N,H,D), (N,D,H), (H,D,N), the last one's K
     * split between threads where it may be (tn_gemm_split_k) */
    size_t dW = TN_MAX(tn_gemm_work(H, D, N), tn_gemm_split_k_work(H, D, N));
    return TN_MAX(tn_gemm_work(N, H, D), TN_MAX(tn_gemm_work(N, D, H), dW));
}

/* Cross-entropy: the rows whose target is not ignore_index */
static size_t ce_counted(const int64_t *targets, size_t N, int64_t ignore)
{
    size_t k = 0;
    for (size_t n = 0; n < N; n++) k += targets[n] != ignore;
    return k;
}

/* ------------------------------------------------------------------ GELU's Phi */

/* pick_f32 / pick_f64(c, a, b) = c ? a : b by bit operations, a and b both computed: a
 * conditional expression whose operands do floating-point arithmetic is compiled as a
 * branch (under the default -ftrapping-math that arithmetic may not run when not asked
 * for), which keeps a loop from being vectorised; this one is a blend */
#define PICK_FN(name, T, U)                                                                                           \
    static inline T name(int c, T a, T b)                                                                             \
    {                                                                                                                 \
        U m = -(U)c, ua, ub;                                                                                          \
        memcpy(&ua, &a, sizeof a), memcpy(&ub, &b, sizeof b);                                                         \
        ua = (ua & m) | (ub & ~m);                                                                                    \
        memcpy(&a, &ua, sizeof a);                                                                                    \
        return a;                                                                                                     \
    }
PICK_FN(pick_f32, float, uint32_t)
PICK_FN(pick_f64, double, uint64_t)

/* GELU's kernels go through arrays in blocks of this many values (on the stack), each
 * block through its passes (polynomials, then the array exp or tanh, then the rest)
 * while it is in L1. */
#define GELU_BLOCK 512
#define GELU_SQRT1_2 0.70710678118654752440     /* 1 / sqrt(2) */
#define GELU_INV_SQRT_2PI 0.39894228040143267794 /* 1 / sqrt(2 pi) */

/* Phi(x) = (1 + erf(x / sqrt 2)) / 2, the standard normal CDF, for n <= GELU_BLOCK
 * float values, and e = exp(-x^2 / 2).  With z = x / sqrt 2 and a = |z|:
 *   a < 0.75:   Phi(x) = 1/2 + z P(z^2),  P(w) a fit of erf(sqrt w) / (2 sqrt w)
 *               (relative error 1.4e-9 in exact arithmetic);
 *   a >= 0.75:  Phi(-|x|) = e R(t), t = 1 / (1 + min(a, 10) / 2), R a fit of
 *               erfc(a) exp(a^2) / 2 on [0.75, 10] (relative error 1e-9), and
 *               Phi(|x|) = 1 - Phi(-|x|): the lower tail never comes from 1 - erf.
 * e without the rounding of x^2 (which would cost the tail x^2 / 2 ulp): x = h + l with
 * h the top 12 bits of x's significand, so that h^2 is exact; e = exp(-h^2 / 2) times
 * exp(d), d = -(x - h)(x + h) / 2 small, by its series; |x| clamped to 16 first (Phi(-16)
 * is 0 in float).  Plain float operations, the same on every instruction set (the array
 * exp's too).  tn_gelu_forward_f32 is then within 8 ulp of x Phi(x) for every float32 x
 * whose Phi(x) is a normal float (x > -13; tests/test_linear.py samples them), most
 * results within 2. */
static const float gelu_p[] = {-3.374756780e-04f, 2.557172906e-03f, -1.341731194e-02f, 5.641688406e-02f,
                               -1.880631000e-01f, 5.641895533e-01f};
static const float gelu_r[] = {-3.585316613e-02f, 1.706192791e-01f, -2.975190878e-01f, 1.960423738e-01f,
                               -5.009362474e-02f, 1.163051799e-01f, 1.177287325e-01f, 1.417774260e-01f,
                               1.409935057e-01f, 1.739767526e-06f};

/* x clamped to [-16, 16] (NaN: 16), and its top 12 significand bits */
static inline float gelu_clamp(float x) { return pick_f32(fabsf(x) < 16, x, pick_f32(x < 0, -16, 16)); }
static inline float gelu_high(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof x);
    u &= 0xfffff000u;
    memcpy(&x, &u, sizeof x);
    return x;
}

TN_CLONES static void gelu_phi_f32(float *phi, float *e, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float h = gelu_high(gelu_clamp(x[i]));
        e[i] = -0.5f * (h * h);
    }
    tn_isa_get()->exp_f32(e, e, n);
    for (size_t i = 0; i < n; i++) {
        float xc = gelu_clamp(x[i]), h = gelu_high(xc), d = -0.5f * ((xc - h) * (xc + h));
        e[i] *= 1 + d * (1 + d * (0.5f + d * (1.0f / 6 + d * (1.0f / 24)))); /* (|d| < 0.07) */
        float z = x[i] * (float)GELU_SQRT1_2, a = fabsf(z), w = z * z, p = gelu_p[0], r = gelu_r[0];
        for (size_t k = 1; k < sizeof gelu_p / sizeof *gelu_p; k++) p = p * w + gelu_p[k];
        float t = 1 / (1 + 0.5f * pick_f32(a < 10, a, 10));
        for (size_t k = 1; k < sizeof gelu_r / sizeof *gelu_r; k++) r = r * t + gelu_r[k];
        float central = 0.5f + z * p, lower = e[i] * r, upper = 1 - lower; /* lower: Phi(-|x|) */
        float v = pick_f32(a < 0.75f, central, pick_f32(z > 0, upper, lower));
        phi[i] = pick_f32(x[i] == x[i], v, x[i]); /* (NaN stays NaN) */
    }
}

/* The same for double, Phi from libm's erfc: Phi(x) = erfc(-z) / 2 (no 1 - erf in the
 * lower tail either). */
static void gelu_phi_f64(double *phi, double *e, const double *x, size_t n)
{
    for (size_t i = 0; i < n; i++) phi[i] = 0.5 * erfc(-(x[i] * GELU_SQRT1_2));
    for (size_t i = 0; i < n; i++) e[i] = -0.5 * (x[i] * x[i]);
    tn_isa_get()->exp_f64(e, e, n);
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
    if (dW) FN(gemm_split_k)(1, 0, H, D, N, 1, dy, H, x, D, 0, dW, D, work);
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

/* ------------------------------------------------------------------- GELU */

/* y = x Phi(x), Phi the standard normal CDF (gelu_phi_f32/f64).  (At x = -inf: 0, the
 * limit, rather than -inf 0.) */
TN_CLONES static void TN_NAME(gelu_forward_part_f32, gelu_forward_part_f64)(TN_T *y, const TN_T *x, size_t n)
{
    TN_T e[GELU_BLOCK];
    for (size_t i0 = 0; i0 < n; i0 += GELU_BLOCK) {
        size_t m = TN_MIN((size_t)GELU_BLOCK, n - i0);
        TN_T *yb = y + i0;
        const TN_T *xb = x + i0;
        SF(gelu_phi)(yb, e, xb, m);
        for (size_t i = 0; i < m; i++) yb[i] = SF(pick)(yb[i] == 0, -(TN_T)0, xb[i] * yb[i]);
    }
}

/* dx = dy (Phi(x) + x phi(x)), phi(x) = exp(-x^2 / 2) / sqrt(2 pi); x phi(x) is 0 where
 * phi(x) is (so dx = dy at x = inf, 0 at -inf: the limits) */
TN_CLONES static void TN_NAME(gelu_backward_part_f32, gelu_backward_part_f64)(TN_T *dx, const TN_T *dy,
    const TN_T *x, size_t n)
{
    TN_T phi[GELU_BLOCK], e[GELU_BLOCK];
    for (size_t i0 = 0; i0 < n; i0 += GELU_BLOCK) {
        size_t m = TN_MIN((size_t)GELU_BLOCK, n - i0);
        const TN_T *xb = x + i0;
        SF(gelu_phi)(phi, e, xb, m);
        for (size_t i = 0; i < m; i++) {
            TN_T pdf = e[i] * (TN_T)GELU_INV_SQRT_2PI;
            dx[i0 + i] = dy[i0 + i] * (phi[i] + SF(pick)(pdf == 0, 0, xb[i] * pdf));
        }
    }
}

#define GELU_K0 0.79788456080286535588 /* sqrt(2 / pi) */
#define GELU_K1 0.044715

/* u = sqrt(2/pi) (x + 0.044715 x^3), the tanh form's argument */
TN_CLONES static void TN_NAME(gelu_tanh_arg_f32, gelu_tanh_arg_f64)(TN_T *u, const TN_T *x, size_t n)
{
    for (size_t i = 0; i < n; i++) u[i] = (TN_T)GELU_K0 * (x[i] + (TN_T)GELU_K1 * (x[i] * x[i] * x[i]));
}

/* y = x (1 + tanh(u)) / 2, GPT-2's GELU (PyTorch's approximate="tanh").  (At x = -inf:
 * 0.) */
TN_CLONES static void TN_NAME(gelu_tanh_forward_part_f32, gelu_tanh_forward_part_f64)(TN_T *y, const TN_T *x,
    size_t n)
{
    for (size_t i0 = 0; i0 < n; i0 += GELU_BLOCK) {
        size_t m = TN_MIN((size_t)GELU_BLOCK, n - i0);
        TN_T *yb = y + i0;
        const TN_T *xb = x + i0;
        SF(gelu_tanh_arg)(yb, xb, m);
        FN(tanh_forward)(yb, yb, m);
        for (size_t i = 0; i < m; i++) {
            TN_T right = 1 + yb[i];
            yb[i] = SF(pick)(right == 0, -(TN_T)0, (TN_T)0.5 * xb[i] * right);
        }
    }
}

/* with t = tanh(u): dx = dy ((1 + t) / 2 + x (1 - t^2) sqrt(2/pi) (1 + 3 0.044715 x^2) / 2),
 * the second term 0 where 1 - t^2 is (x^2 may overflow there) */
TN_CLONES static void TN_NAME(gelu_tanh_backward_part_f32, gelu_tanh_backward_part_f64)(TN_T *dx,
    const TN_T *dy, const TN_T *x, size_t n)
{
    TN_T t[GELU_BLOCK];
    for (size_t i0 = 0; i0 < n; i0 += GELU_BLOCK) {
        size_t m = TN_MIN((size_t)GELU_BLOCK, n - i0);
        const TN_T *xb = x + i0;
        SF(gelu_tanh_arg)(t, xb, m);
        FN(tanh_forward)(t, t, m);
        for (size_t i = 0; i < m; i++) {
            TN_T left = (TN_T)0.5 * xb[i], dtanh = 1 - t[i] * t[i];
            TN_T darg = (TN_T)GELU_K0 * (1 + 3 * (TN_T)GELU_K1 * (xb[i] * xb[i]));
            dx[i0 + i] = dy[i0 + i] * ((TN_T)0.5 * (1 + t[i]) + SF(pick)(dtanh == 0, 0, left * dtanh * darg));
        }
    }
}

/* The GELU functions split their values between the team (tn_parallel_ranges), in whole
 * blocks: out[i] from a[i] by forward, or from a[i] and b[i] by backward. */
typedef struct {
    TN_T *out;
    const TN_T *a, *b;
    void (*forward)(TN_T *, const TN_T *, size_t);
    void (*backward)(TN_T *, const TN_T *, const TN_T *, size_t);
} TN_NAME(gelu_job_f32, gelu_job_f64);

static void TN_NAME(gelu_range_f32, gelu_range_f64)(void *ctx, size_t i0, size_t i1)
{
    const SF(gelu_job) *j = ctx;
    if (j->backward)
        j->backward(j->out + i0, j->a + i0, j->b + i0, i1 - i0);
    else
        j->forward(j->out + i0, j->a + i0, i1 - i0);
}

static void TN_NAME(gelu_run_f32, gelu_run_f64)(SF(gelu_job) j, size_t n)
{
    tn_parallel_ranges(n, GELU_BLOCK, TN_EW_PER_THREAD, SF(gelu_range), &j);
}

void TN_NAME(tn_gelu_forward_f32, tn_gelu_forward_f64)(TN_T *y, const TN_T *x, size_t n)
{
    SF(gelu_run)((SF(gelu_job)){y, x, NULL, SF(gelu_forward_part), NULL}, n);
}

void TN_NAME(tn_gelu_backward_f32, tn_gelu_backward_f64)(TN_T *dx, const TN_T *dy, const TN_T *x, size_t n)
{
    SF(gelu_run)((SF(gelu_job)){dx, dy, x, NULL, SF(gelu_backward_part)}, n);
}

void TN_NAME(tn_gelu_tanh_forward_f32, tn_gelu_tanh_forward_f64)(TN_T *y, const TN_T *x, size_t n)
{
    SF(gelu_run)((SF(gelu_job)){y, x, NULL, SF(gelu_tanh_forward_part), NULL}, n);
}

void TN_NAME(tn_gelu_tanh_backward_f32, tn_gelu_tanh_backward_f64)(TN_T *dx, const TN_T *dy, const TN_T *x, size_t n)
{
    SF(gelu_run)((SF(gelu_job)){dx, dy, x, NULL, SF(gelu_tanh_backward_part)}, n);
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
 * and one exp call over the block; adds the losses of the rows not ignored to *loss in
 * row order. */
#define CE_ROWS 16
static void TN_NAME(ce_rows_f32, ce_rows_f64)(double *loss, TN_T *probs, const TN_T *logits, const int64_t *targets,
    size_t n, size_t V, int64_t ignore)
{
    TN_T m[CE_ROWS], s[CE_ROWS], target[CE_ROWS];
    for (size_t i = 0; i < n; i++) {
        const TN_T *r = logits + i * V; /* (target before probs, which may alias logits, is written) */
        target[i] = targets[i] == ignore ? 0 : r[targets[i]], m[i] = r[0], s[i] = 0;
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
        if (targets[i] != ignore) *loss += (double)((m[i] + TN_LOG(s[i])) - target[i]);
    }
}

/* loss = sum_n logsumexp(logits_n) - logits_n[t_n] over the rows not ignored (/ their
 * count if mean) */
double TN_NAME(tn_cross_entropy_forward_ex_f32, tn_cross_entropy_forward_ex_f64)(TN_T *probs, const TN_T *logits,
    const int64_t *targets, size_t N, size_t V, int mean, int64_t ignore_index)
{
    double loss = 0, count = (double)ce_counted(targets, N, ignore_index);
    if (probs) { /* (V = 0 only when every target is ignored) */
        for (size_t n0 = 0; V && n0 < N; n0 += CE_ROWS)
            SF(ce_rows)(&loss, probs + n0 * V, logits + n0 * V, targets + n0, TN_MIN((size_t)CE_ROWS, N - n0), V,
                        ignore_index);
        return mean ? loss / count : loss;
    }
    for (size_t n = 0; n < N; n++) { /* no room for the exponentials: a chunk at a time, summed in the same order */
        if (targets[n] == ignore_index) continue;
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
    return mean ? loss / count : loss;
}

/* ... over every row (no target is -1) */
double TN_NAME(tn_cross_entropy_forward_f32, tn_cross_entropy_forward_f64)(TN_T *probs, const TN_T *logits,
    const int64_t *targets, size_t N, size_t V, int mean)
{
    return FN(cross_entropy_forward_ex)(probs, logits, targets, N, V, mean, -1);
}

/* dlogits(N,V) = (probs - onehot(targets)) (/ the count of rows not ignored, if mean);
 * 0 in the rows ignored */
TN_CLONES void TN_NAME(tn_cross_entropy_backward_ex_f32, tn_cross_entropy_backward_ex_f64)(TN_T *dlogits,
    const TN_T *probs, const int64_t *targets, size_t N, size_t V, int mean, int64_t ignore_index)
{
    TN_T scale = (TN_T)ce_counted(targets, N, ignore_index);
    for (size_t n = 0; n < N; n++) {
        TN_T *d = dlogits + n * V;
        const TN_T *p = probs + n * V;
        if (targets[n] == ignore_index) {
            SF(zero)(d, V);
            continue;
        }
        for (size_t v = 0; v < V; v++) d[v] = p[v];
        d[targets[n]] -= 1;
        if (mean)
            for (size_t v = 0; v < V; v++) d[v] /= scale;
    }
}

/* ... with every row */
void TN_NAME(tn_cross_entropy_backward_f32, tn_cross_entropy_backward_f64)(TN_T *dlogits, const TN_T *probs,
    const int64_t *targets, size_t N, size_t V, int mean)
{
    FN(cross_entropy_backward_ex)(dlogits, probs, targets, N, V, mean, -1);
}

#endif
