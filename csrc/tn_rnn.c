/* tn_rnn.c -- the vanilla tanh RNN: forward, backpropagation through time (full or
 * truncated), min-char-rnn's fused loss (rnn_lm_loss) and sampling (rnn_sample).
 * The input projection and the weight gradients are shared with the gated layers
 * (tn_seq.c); the tiny rnn_lm_loss runs in one fused function (tn_rnn_small.c). */
#ifndef TN_T
#include <math.h>

#include "tn_internal.h"

/* The RNN kernels' pieces, summed with overflow checks (SIZE_MAX if they overflow). */
static size_t rnn_work(size_t T, size_t B, size_t D, size_t H, size_t V, int backward, int lm)
{
    tn_ws w = {0, 0};
    size_t TB;
    if (tn_size_mul(T, B, &TB)) return SIZE_MAX;
    if (lm) {
        tn_ws_add(&w, TB, H, 2); /* hs, dhs */
        tn_ws_add(&w, TB, V, 1); /* logits / dlogits */
        tn_ws_add(&w, tn_gemm_split_k_work(V, H, TB), 1, 1); /* (linear_backward's dW_hy, when it splits) */
    }
    if (backward) {
        tn_ws_add(&w, TB, H, 1); /* dpre */
        tn_ws_add(&w, B, H, 2);  /* g, gnext */
        tn_ws_add(&w, D, H, 1);  /* transposed dW_xh for token input */
        tn_ws_add(&w, TB / TN_SUM_BLOCK + 1, H, 1); /* the bias gradient's block sums */
    }
    tn_ws_add(&w, tn_gemm_packed_size(H, H), 1, 1); /* W_hh (or W_hh^T), packed once */
    /* one bound for all the GEMMs: rows from (TB, B, H, V), columns from (H, D, V) and the
     * weight gradients' D + H (plus a panel of padding), depth from (D, H, TB, V) -- every
     * product's (M, N, K) lies within it; as jobs (the weight gradients), even if small */
    size_t cols = TN_MAX(tn_max3(H, D, V), TN_MIN(D + H + TN_GEMM_TILE_MAX, (size_t)TN_GEMM_NC));
    tn_ws_add(&w, tn_gemm_job_work(TN_MAX(tn_max3(TB, H, V), B), cols, TN_MAX(tn_max3(D, H, TB), V)), 1, 1);
    return tn_ws_done(&w);
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
    tn_ws_add(&w, B, H, 2); /* h, h_next */
    tn_ws_add(&w, B, V, 1); /* logits */
    tn_ws_add(&w, tn_gemm_packed_size(H, H), 1, 1); /* W_hh^T, packed once */
    tn_ws_add(&w, tn_gemm_packed_size(V, H), 1, 1); /* W_hy^T, packed once */
    /* the steps' products: prepacked jobs (the packed path) for big states, else GEMMs of any path */
    tn_ws_add(&w, TN_MAX(tn_gemm_work(B, TN_MAX(H, V), H), tn_gemm_job_work(B, TN_MAX(H, V), H)), 1, 1);
    (void)D;
    return tn_ws_done(&w);
}

uint64_t tn_rng_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

double tn_rng_uniform(uint64_t *state) { return (double)(tn_rng_next(state) >> 11) * 0x1.0p-53; }

#define TN_TEMPLATE "tn_rnn.c"
#include "tn_template.h"
#else

/* hs_t(B,H) = tanh(hs_t + h_prev(B,H) @ W_hh^T), h_prev NULL = zeros (small sizes) */
static void TN_NAME(rnn_step_f32, rnn_step_f64)(TN_T *hs_t, const TN_T *h_prev, const TN_T *W_hh, size_t B, size_t H,
    TN_T *work)
{
    if (h_prev) FN(gemm)(0, 1, B, H, H, 1, h_prev, H, W_hh, H, 1, hs_t, H, work);
    FN(tanh_forward)(hs_t, hs_t, B * H);
}

/* Does the recurrence use a prepacked W_hh and one team for all steps?  Not for tiny
 * states, where packing costs more than it saves. */
static int TN_NAME(rnn_packed_f32, rnn_packed_f64)(size_t B, size_t H)
{
    return H > 0 && (H > TN_GEMM_SMALL_MACS / H || B > TN_GEMM_SMALL_MACS / H / H); /* B H H > SMALL, unwrapped */
}

/* The recurrence, run by one team: step t is one GEMM job against the prepacked
 * W_hh, its epilogue applying tanh (forward) or the tanh derivative (backward). */
typedef struct {
    size_t T, B, H;
    TN_T *seq;          /* forward: hs, pre-filled with the input projections; backward: dpre */
    const TN_T *h0;     /* forward: initial state (NULL: zeros) */
    const TN_T *dhs, *hs; /* backward: the epilogue's operands */
    TN_T *dh0;          /* backward: W_hh^T dpre_0, or NULL */
    TN_T *db_sums;      /* backward: the blocks' column sums of dpre (col_sums_of_blocks) */
    const TN_T *packed; /* W_hh^T (forward) or W_hh (backward), packed */
    TN_T *work;         /* A-panel buffer */
} TN_NAME(rnn_rec_f32, rnn_rec_f64);

static void TN_NAME(rnn_forward_team_f32, rnn_forward_team_f64)(void *ctx, tn_member *m)
{
    const SF(rnn_rec) *r = ctx;
    size_t BH = r->B * r->H;
    for (size_t t = 0; t < r->T; t++) {
        TN_T *hs_t = r->seq + t * BH;
        const TN_T *prev = t ? hs_t - BH : r->h0;
        if (!prev) { /* h_{-1} = 0: only the tanh, rows split over the team */
            size_t b0, b1;
            tn_share(r->B, m->tid, m->n, &b0, &b1);
            FN(tanh_forward)(hs_t + b0 * r->H, hs_t + b0 * r->H, (b1 - b0) * r->H);
            tn_barrier(m);
            continue;
        }
        FN(gemm_job) g;
        FN(gemm_init)(&g, 0, 1, r->B, r->H, r->H, 1, prev, r->H, NULL, r->H, 1, hs_t, r->H, r->work);
        g.packed_b = r->packed;
        g.epi = TN_EPI_TANH;
        FN(gemm_member)(&g, m);
    }
}

static void TN_NAME(rnn_backward_team_f32, rnn_backward_team_f64)(void *ctx, tn_member *m)
{
    const SF(rnn_rec) *r = ctx;
    size_t BH = r->B * r->H, TB = r->T * r->B, c0, c1;
    tn_share(r->H, m->tid, m->n, &c0, &c1);
    for (size_t t = r->T; t-- > 0;) {
        /* the bias gradient's blocks of rows starting in step t are complete (steps t..T-1
         * are): their column sums now, while the rows are in cache; the member's columns */
        for (size_t n0 = (t * r->B + TN_SUM_BLOCK - 1) / TN_SUM_BLOCK * TN_SUM_BLOCK; n0 < (t + 1) * r->B;
             n0 += TN_SUM_BLOCK)
            FN(block_sums)(r->db_sums + n0 / TN_SUM_BLOCK * r->H + c0, r->seq, r->H, n0, TN_MIN(TB, n0 + TN_SUM_BLOCK),
                           c0, c1 - c0);
        if (t == 0 && !r->dh0) break;
        FN(gemm_job) g;
        TN_T *out = t ? r->seq + (t - 1) * BH : r->dh0;
        FN(gemm_init)(&g, 0, 0, r->B, r->H, r->H, 1, r->seq + t * BH, r->H, NULL, r->H, 0, out, r->H,
                                       r->work);
        g.packed_b = r->packed;
        if (t) { /* dpre_{t-1} = (dhs_{t-1} + W_hh^T dpre_t) (1 - h_{t-1}^2) */
            g.epi = TN_EPI_DTANH;
            g.e1 = r->dhs + (t - 1) * BH;
            g.e2 = r->hs + (t - 1) * BH;
        }
        FN(gemm_member)(&g, m);
    }
}

void TN_NAME(tn_rnn_forward_f32, tn_rnn_forward_f64)(TN_T *hs, const TN_T *x, const int64_t *tokens, const TN_T *h0,
    const TN_T *W_xh, const TN_T *W_hh, const TN_T *b_h, size_t T, size_t B, size_t D, size_t H, TN_T *work)
{
    size_t TB = T * B;
    if (TB == 0 || H == 0) return;
    /* the input projection of every step at once: hs = X W_xh^T + b_h */
    if (tokens) {
        for (size_t t = 0; t < T; t++)
            FN(gather_columns)(hs + t * B * H, tokens + t * B, W_xh, b_h, B, D, H);
    } else {
        FN(linear_forward)(hs, x, W_xh, b_h, TB, D, H, work);
    }
    if (!SF(rnn_packed)(B, H)) {
        for (size_t t = 0; t < T; t++)
            SF(rnn_step)(hs + t * B * H, t ? hs + (t - 1) * B * H : h0, W_hh, B, H, work);
        return;
    }
    TN_T *packed = SF(take)(&work, tn_gemm_packed_size(H, H));
    FN(gemm_pack_b)(1, H, H, W_hh, H, packed); /* op(B) = W_hh^T */
    SF(rnn_rec) r = {.T = T, .B = B, .H = H, .seq = hs, .h0 = h0, .packed = packed, .work = work};
    tn_team_run(FN(gemm_threads)(B, H, H), SF(rnn_forward_team), &r);
}

void TN_NAME(tn_rnn_backward_f32, tn_rnn_backward_f64)(TN_T *dx, TN_T *dh0, TN_T *dW_xh, TN_T *dW_hh, TN_T *db_h,
    const TN_T *dhs, const TN_T *x, const int64_t *tokens, const TN_T *h0, const TN_T *hs, const TN_T *W_xh,
    const TN_T *W_hh, size_t T, size_t B, size_t D, size_t H, size_t bptt_steps, TN_T *work)
{
    size_t TB = T * B, BH = B * H;
    if (TB == 0 || H == 0) {
        SF(zero)(dW_xh, H * D), SF(zero)(dW_hh, H * H), SF(zero)(db_h, H);
        if (dh0) SF(zero)(dh0, BH);
        if (dx) SF(zero)(dx, TB * D);
        return;
    }
    /* dpre(T,B,H) = dL/d(pre-activation) of every step, summed over all loss terms */
    TN_T *dpre = SF(take)(&work, TB * H);
    TN_T *g = SF(take)(&work, BH); /* (B,H): the gradient travelling back in time */
    TN_T *gnext = SF(take)(&work, BH);
    TN_T *dWT = SF(take)(&work, tokens ? D * H : 0); /* (D,H) for token input */

    if (bptt_steps == 0 || bptt_steps >= T) {
        /* full BPTT: dpre_t = (dhs_t + W_hh^T dpre_{t+1}) (1 - h_t^2) */
        const TN_T *dh_T = dhs + (T - 1) * BH, *h_T = hs + (T - 1) * BH;
        TN_T *dp_T = dpre + (T - 1) * BH;
        for (size_t i = 0; i < BH; i++) dp_T[i] = dh_T[i] * (1 - h_T[i] * h_T[i]);
        if (SF(rnn_packed)(B, H)) {
            TN_T *packed = SF(take)(&work, tn_gemm_packed_size(H, H));
            FN(gemm_pack_b)(0, H, H, W_hh, H, packed); /* op(B) = W_hh */
            TN_T *db_sums = SF(take)(&work, (TB + TN_SUM_BLOCK - 1) / TN_SUM_BLOCK * H);
            SF(rnn_rec) r = {.T = T, .B = B, .H = H, .seq = dpre, .dhs = dhs, .hs = hs, .dh0 = dh0,
                             .db_sums = db_sums, .packed = packed, .work = work};
            tn_team_run(FN(gemm_threads)(B, H, H), SF(rnn_backward_team), &r);
            FN(col_sums_of_blocks)(db_h, db_sums, TB, H);
            db_h = NULL; /* done */
        } else {
            for (size_t t = T; t-- > 0;) {
                if (t == 0) {
                    if (dh0) FN(gemm)(0, 0, B, H, H, 1, dpre, H, W_hh, H, 0, dh0, H, work);
                    break;
                }
                FN(gemm)(0, 0, B, H, H, 1, dpre + t * BH, H, W_hh, H, 0, g, H, work);
                const TN_T *dh_p = dhs + (t - 1) * BH, *h_p = hs + (t - 1) * BH;
                TN_T *dp = dpre + (t - 1) * BH;
                for (size_t i = 0; i < BH; i++) dp[i] = (g[i] + dh_p[i]) * (1 - h_p[i] * h_p[i]);
            }
        }
    } else {
        /* truncated: the loss at step t reaches steps t, t-1, ..., t-k+1 */
        for (size_t i = 0; i < TB * H; i++) dpre[i] = 0;
        if (dh0)
            for (size_t i = 0; i < BH; i++) dh0[i] = 0;
        for (size_t t = 0; t < T; t++) {
            size_t lo = t + 1 >= bptt_steps ? t + 1 - bptt_steps : 0;
            for (size_t i = 0; i < BH; i++) g[i] = dhs[t * BH + i];
            for (size_t s = t + 1; s-- > lo;) {
                const TN_T *h_s = hs + s * BH;
                TN_T *dp = dpre + s * BH;
                for (size_t i = 0; i < BH; i++) {
                    gnext[i] = g[i] * (1 - h_s[i] * h_s[i]);
                    dp[i] += gnext[i];
                }
                if (s > lo)
                    FN(gemm)(0, 0, B, H, H, 1, gnext, H, W_hh, H, 0, g, H, work);
                else if (s == 0 && dh0)
                    FN(gemm)(0, 0, B, H, H, 1, gnext, H, W_hh, H, 1, dh0, H, work);
            }
        }
    }
    FN(seq_weight_grads)(dW_xh, dW_hh, dpre, dpre, x, tokens, h0, hs, TB, B, D, H, H, dWT, work);
    if (db_h) SF(sum_rows)(db_h, dpre, TB, H);
    if (dx) FN(gemm)(0, 0, TB, D, H, 1, dpre, H, W_xh, D, 0, dx, D, work);
}

double TN_NAME(tn_rnn_lm_loss_f32, tn_rnn_lm_loss_f64)(TN_T *dW_xh, TN_T *dW_hh, TN_T *db_h, TN_T *dW_hy, TN_T *db_y,
    TN_T *h_last, const int64_t *inputs, const int64_t *targets, const TN_T *h0, const TN_T *W_xh, const TN_T *W_hh,
    const TN_T *b_h, const TN_T *W_hy, const TN_T *b_y, size_t T, size_t B, size_t D, size_t H, size_t V,
    size_t bptt_steps, int mean, TN_T *work)
{
    size_t TB = T * B;
    const tn_isa *isa = tn_isa_get();
    if ((bptt_steps == 0 || bptt_steps >= T) && tn_rnn_small_fits(T, B, H, V)) /* the same bits, in one function */
        return isa->SF(rnn_small)(dW_xh, dW_hh, db_h, dW_hy, db_y, h_last, inputs, targets, h0, W_xh,
                                                 W_hh, b_h, W_hy, b_y, T, B, D, H, V, mean, work,
                                                 B * H * sizeof(TN_T) <= 32 ? isa->SF(tanh_short)
                                                                            : isa->SF(tanh),
                                                 isa->SF(exp));
    TN_T *hs = SF(take)(&work, TB * H);
    TN_T *dhs = SF(take)(&work, TB * H);
    TN_T *logits = SF(take)(&work, TB * V);

    FN(rnn_forward)(hs, NULL, inputs, h0, W_xh, W_hh, b_h, T, B, D, H, work);
    if (T > 0)
        for (size_t i = 0; i < B * H; i++) h_last[i] = hs[(T - 1) * B * H + i];
    else
        for (size_t i = 0; i < B * H; i++) h_last[i] = h0 ? h0[i] : 0;

    FN(linear_forward)(logits, hs, W_hy, b_y, TB, H, V, work);
    double loss = FN(cross_entropy_forward)(logits, logits, targets, TB, V, mean);
    FN(cross_entropy_backward)(logits, logits, targets, TB, V, mean);
    /* logits now holds dlogits */
    FN(linear_backward)(dhs, dW_hy, db_y, logits, hs, W_hy, TB, H, V, work);
    FN(rnn_backward)(NULL, NULL, dW_xh, dW_hh, db_h, dhs, NULL, inputs, h0, hs, W_xh, W_hh, T,
                     B, D, H, bptt_steps, work);
    return loss;
}

/* index of the largest p (first on ties; the first NaN wins, as np.argmax) */
static size_t TN_NAME(argmax_f32, argmax_f64)(const TN_T *p, size_t V)
{
    size_t best = 0;
    for (size_t v = 0; v < V; v++) {
        if (p[v] != p[v]) return v;
        if (p[v] > p[best]) best = v;
    }
    return best;
}

/* first i with u < cumsum(p)[i] (sum in double), else the last i with p_i > 0, else V-1 */
static size_t TN_NAME(draw_f32, draw_f64)(const TN_T *p, size_t V, double u)
{
    double c = 0;
    size_t last = V - 1;
    int seen = 0;
    for (size_t v = 0; v < V; v++) {
        c += (double)p[v];
        if (u < c) return v;
        if (p[v] > 0) last = v, seen = 1;
    }
    return seen ? last : V - 1;
}

/* C(M,N) = beta C + A(M,K) @ op(B), op(B) prepacked, on the calling thread, then the
 * epilogue: the same bits as GEMM on the unpacked operand. */
static void TN_NAME(gemm_prepacked_f32, gemm_prepacked_f64)(TN_T *C, const TN_T *A, size_t M, size_t N, size_t K,
    const TN_T *packed, TN_T beta, int epi, TN_T *work)
{
    FN(gemm_job) g;
    FN(gemm_init)(&g, 0, 0, M, N, K, 1, A, K, NULL, N, beta, C, N, work);
    g.packed_b = packed;
    g.epi = epi;
    tn_member solo = {0, 1, 0};
    FN(gemm_member)(&g, &solo);
}

void TN_NAME(tn_rnn_sample_f32, tn_rnn_sample_f64)(int64_t *out, const TN_T *h0, const int64_t *start, size_t n,
    const TN_T *W_xh, const TN_T *W_hh, const TN_T *b_h, const TN_T *W_hy, const TN_T *b_y, size_t B, size_t D,
    size_t H, size_t V, TN_T temperature, int greedy, uint64_t *rng, TN_T *work)
{
    if (n == 0 || B == 0) return;
    TN_T *h = SF(take)(&work, B * H);
    TN_T *hn = SF(take)(&work, B * H);
    TN_T *logits = SF(take)(&work, B * V);
    /* big states: W_hh^T and W_hy^T packed once for all n steps */
    int packed = SF(rnn_packed)(B, H) && H > 0 && V > 0;
    TN_T *pk_hh = work, *pk_hy = work;
    if (packed) {
        pk_hh = SF(take)(&work, tn_gemm_packed_size(H, H));
        pk_hy = SF(take)(&work, tn_gemm_packed_size(V, H));
        FN(gemm_pack_b)(1, H, H, W_hh, H, pk_hh);
        FN(gemm_pack_b)(1, H, V, W_hy, H, pk_hy);
    }
    const int64_t *tok = start;
    for (size_t i = 0; i < B * H; i++) h[i] = h0 ? h0[i] : 0;
    for (size_t i = 0; i < n; i++) {
        FN(gather_columns)(hn, tok, W_xh, b_h, B, D, H);
        if (packed) {
            SF(gemm_prepacked)(hn, h, B, H, H, pk_hh, 1, TN_EPI_TANH, work);
            for (size_t b = 0; b < B; b++)
                for (size_t v = 0; v < V; v++) logits[b * V + v] = b_y[v];
            SF(gemm_prepacked)(logits, hn, B, V, H, pk_hy, 1, TN_EPI_NONE, work);
        } else {
            SF(rnn_step)(hn, h, W_hh, B, H, work);
            FN(linear_forward)(logits, hn, W_hy, b_y, B, H, V, work);
        }
        TN_T *swap = h;
        h = hn, hn = swap;
        int64_t *o = out + i * B;
        for (size_t b = 0; b < B; b++) {
            TN_T *l = logits + b * V;
            for (size_t v = 0; v < V; v++) l[v] /= temperature;
            if (greedy) {
                o[b] = (int64_t)SF(argmax)(l, V);
            } else {
                FN(softmax)(l, l, 1, V);
                o[b] = (int64_t)SF(draw)(l, V, tn_rng_uniform(rng));
            }
        }
        tok = o;
    }
}

#endif
