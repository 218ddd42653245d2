/* tn_kernels.c -- instantiates the layer kernels for float and double, plus the size
 * helpers, workspace sizes and the sampling generator. */
#include <math.h>

#include "tn_internal.h"

int tn_size_mul(size_t a, size_t b, size_t *out) { return __builtin_mul_overflow(a, b, out) ? -1 : 0; }

int tn_size_add(size_t a, size_t b, size_t *out) { return __builtin_add_overflow(a, b, out) ? -1 : 0; }

/* Workspace arithmetic: sums of products of sizes, each piece rounded up to the
 * alignment unit; any overflow poisons the result to SIZE_MAX. */
typedef struct {
    size_t n;
    int overflow;
} tn_ws;

static void ws_add(tn_ws *w, size_t a, size_t b, size_t c)
{
    size_t p;
    if (tn_size_mul(a, b, &p) || tn_size_mul(p, c, &p) || tn_size_add(p, TN_ALIGN_ELEMS, &p) ||
        tn_size_add(w->n, TN_ROUND_UP(p), &w->n))
        w->overflow = 1;
}

static size_t ws_done(const tn_ws *w) { return w->overflow ? SIZE_MAX : w->n; }

static size_t max3(size_t a, size_t b, size_t c) { return TN_MAX(a, TN_MAX(b, c)); }

size_t tn_linear_forward_work(size_t N, size_t D, size_t H) { return tn_gemm_work(N, H, D); }

size_t tn_linear_work(size_t N, size_t D, size_t H)
{
    /* the three GEMMs of forward/backward: (N,H,D), (N,D,H), (H,D,N) */
    return max3(tn_gemm_work(N, H, D), tn_gemm_work(N, D, H), tn_gemm_work(H, D, N));
}

/* The RNN kernels' pieces, summed with overflow checks (SIZE_MAX if they overflow). */
static size_t rnn_work(size_t T, size_t B, size_t D, size_t H, size_t V, int backward, int lm)
{
    tn_ws w = {0, 0};
    size_t TB;
    if (tn_size_mul(T, B, &TB)) return SIZE_MAX;
    if (lm) {
        ws_add(&w, TB, H, 2); /* hs, dhs */
        ws_add(&w, TB, V, 1); /* logits / dlogits */
    }
    if (backward) {
        ws_add(&w, TB, H, 1); /* dpre */
        ws_add(&w, B, H, 2);  /* g, gnext */
        ws_add(&w, D, H, 1);  /* transposed dW_xh for token input */
        ws_add(&w, TB / TN_SUM_BLOCK + 1, H, 1); /* the bias gradient's block sums */
    }
    ws_add(&w, tn_gemm_packed_size(H, H), 1, 1); /* W_hh (or W_hh^T), packed once */
    /* one bound for all the GEMMs: rows from (TB, B, H, V), columns from (H, D, V) and the
     * weight gradients' D + H (plus a panel of padding), depth from (D, H, TB, V) -- every
     * product's (M, N, K) lies within it; as jobs (the weight gradients), even if small */
    size_t cols = TN_MAX(max3(H, D, V), TN_MIN(D + H + TN_GEMM_TILE_MAX, (size_t)TN_GEMM_NC));
    ws_add(&w, tn_gemm_job_work(TN_MAX(max3(TB, H, V), B), cols, TN_MAX(max3(D, H, TB), V)), 1, 1);
    return ws_done(&w);
}

size_t tn_rnn_forward_work(size_t T, size_t B, size_t D, size_t H) { return rnn_work(T, B, D, H, 0, 0, 0); }

size_t tn_rnn_backward_work(size_t T, size_t B, size_t D, size_t H, size_t bptt_steps)
{
    (void)bptt_steps;
    return rnn_work(T, B, D, H, 0, 1, 0);
}

size_t tn_rnn_lm_loss_work(size_t T, size_t B, size_t D, size_t H, size_t V, size_t bptt_steps)
{
    (void)bptt_steps;
    return rnn_work(T, B, D, H, V, 1, 1);
}

size_t tn_rnn_sample_work(size_t B, size_t D, size_t H, size_t V)
{
    tn_ws w = {0, 0};
    ws_add(&w, B, H, 2); /* h, h_next */
    ws_add(&w, B, V, 1); /* logits */
    ws_add(&w, tn_gemm_packed_size(H, H), 1, 1); /* W_hh^T, packed once */
    ws_add(&w, tn_gemm_packed_size(V, H), 1, 1); /* W_hy^T, packed once */
    ws_add(&w, tn_gemm_work(B, TN_MAX(H, V), H), 1, 1);
    (void)D;
    return ws_done(&w);
}

uint64_t tn_rng_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

double tn_rng_uniform(uint64_t *state) { return (double)(tn_rng_next(state) >> 11) * 0x1.0p-53; }

#define TN_T float
#define TN_S f32
#define TN_EXP expf
#define TN_LOG logf
#define TN_SQRT sqrtf
#include "tn_kernels_impl.h"
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
#include "tn_kernels_impl.h"
