/* tn_seq.c -- what the recurrent layers (tn_rnn.c, tn_lstm.c, tn_gru.c) share: the input
 * projection of token ids, the weight gradients over all time steps at once, and the
 * gated layers' recurrence (a product per step, then the layer's cell). */
#ifndef TN_T
#include "tn_internal.h"

/* The part of a gated layer's workspace (tn_lstm.c, tn_gru.c) that is not the layer's
 * own: H zeros (the state before step 0 when none is given), for the backward pass a
 * transposed (D, G) dW_ih for token input, W_hh packed once (G = the gates times H), and
 * the bound of every product the layer runs: rows (TB, G, B), columns (G, D, H, and
 * D + H when dW_ih and dW_hh share one product, see seq_weight_grads), depth (D, H,
 * TB, G). */
void tn_seq_ws(tn_ws *w, size_t TB, size_t B, size_t D, size_t H, size_t G, int backward, int shared_grads)
{
    size_t cols = tn_max3(G, D, H);
    if (shared_grads) cols = TN_MAX(cols, TN_MIN(D + H + TN_GEMM_TILE_MAX, (size_t)TN_GEMM_NC));
    tn_ws_add(w, H, 1, 1);
    if (backward) tn_ws_add(w, D, G, 1);
    tn_ws_add(w, backward ? tn_gemm_packed_size(H, G) : tn_gemm_packed_size(G, H), 1, 1);
    tn_ws_add(w, tn_gemm_job_work(tn_max3(TB, G, B), cols, TN_MAX(tn_max3(D, H, TB), G)), 1, 1);
}

#define TN_TEMPLATE "tn_seq.c"
#include "tn_template.h"
#else

/* pre(n, M) = W(M, D)[:, tokens(n)] + b(M), b NULL: no bias  (the one-hot input
 * projection: a column of W per token) */
void TN_NAME(tn_gather_columns_f32, tn_gather_columns_f64)(TN_T *pre, const int64_t *tokens, const TN_T *W,
    const TN_T *b, size_t n, size_t D, size_t M)
{
    for (size_t i = 0; i < n; i++) {
        TN_T *p = pre + i * M;
        const TN_T *col = W + tokens[i];
        if (b)
            for (size_t h = 0; h < M; h++) p[h] = col[h * D] + b[h];
        else
            for (size_t h = 0; h < M; h++) p[h] = col[h * D];
    }
}

/* The weight gradients from the pre-activation gradients of all T B rows at once:
 *   dW_hh(M,H) = dB^T @ [h0; hs[:-1]]   (one product over all rows; h0 NULL: zeros)
 *   dW_ih(M,D) = dA^T @ x               (x given), sharing dA^T's packing with dW_hh when
 *                                       dA == dB and their columns fit one column block;
 *                with tokens: scatter-add columns, through a transposed (D,M) buffer dWT
 *                so that every row update is contiguous.
 * dA, dB (TB, M): the gradients reaching the input and the recurrent products (the same
 * array except in the GRU); hs (TB, H). */
void TN_NAME(tn_seq_weight_grads_f32, tn_seq_weight_grads_f64)(TN_T *dW_ih, TN_T *dW_hh, const TN_T *dA, const TN_T *dB,
    const TN_T *x, const int64_t *tokens, const TN_T *h0, const TN_T *hs, size_t TB, size_t B, size_t D, size_t H,
    size_t M, TN_T *dWT, TN_T *work)
{
    FN(gemm_job) g;
    FN(gemm_init)(&g, 1, 0, M, H, TB, 1, dB, M, hs, H, 0, dW_hh, H, work);
    g.b_split = B, g.b_lo = h0;
    if (x && D > 0) {
        FN(gemm_job) gx;
        FN(gemm_init)(&gx, 1, 0, M, D, TB, 1, dA, M, x, D, 0, dW_ih, D, work);
        if (dA == dB && M > 1 && (D + gx.NR - 1) / gx.NR * gx.NR + H <= TN_GEMM_NC) { /* g as the second product */
            gx.second.N = g.N, gx.second.B = g.B, gx.second.ldb = g.ldb, gx.second.split = g.b_split;
            gx.second.lo = g.b_lo, gx.second.C = g.C, gx.second.ldc = g.ldc;
            FN(gemm_run)(&gx);
            return;
        }
        FN(gemm_run)(&gx);
    } else if (tokens) {
        FN(embedding_backward)(dWT, dA, tokens, TB, D, M);
        for (size_t h = 0; h < M; h++)
            for (size_t d = 0; d < D; d++) dW_ih[h * D + d] = dWT[d * M + h];
    }
    FN(gemm_run)(&g);
}

static void TN_NAME(forward_team_f32, forward_team_f64)(void *ctx, tn_member *m)
{
    const FN(seq_rec) *r = ctx;
    size_t b0, b1, BH = r->B * r->H;
    tn_share(r->B, m->tid, m->n, &b0, &b1); /* the member's rows of each cell */
    for (size_t t = 0; t < r->steps; t++) {
        TN_T *C = r->pre + t * r->pre_step;
        const TN_T *prev = t ? r->hs + (t - 1) * BH : r->h0;
        if (prev) { /* C_t = beta C_t + h_{t-1} W_hh^T (+ bias) */
            FN(gemm_job) g;
            FN(gemm_init)(&g, 0, 1, r->B, r->GH, r->H, 1, prev, r->H, NULL, r->H, r->beta, C, r->GH, r->work);
            g.packed_b = r->packed;
            g.bias = r->bias;
            FN(gemm_member)(&g, m); /* (ends with the team's barrier) */
        } else if (r->beta == 0) { /* a zero state: C_t = bias, the member's rows */
            for (size_t b = b0; b < b1; b++)
                for (size_t j = 0; j < r->GH; j++) C[b * r->GH + j] = r->bias ? r->bias[j] : 0;
        }
        r->cell(r->ctx, t, C, b0, b1);
        tn_barrier(m); /* h_t complete before the next product reads it */
    }
}

void TN_NAME(tn_seq_forward_f32, tn_seq_forward_f64)(const FN(seq_rec) *r)
{
    tn_team_run(FN(gemm_threads)(r->B, r->GH, r->H), SF(forward_team), (void *)r);
}

static void TN_NAME(backward_team_f32, backward_team_f64)(void *ctx, tn_member *m)
{
    const FN(seq_rec) *r = ctx;
    size_t b0, b1;
    tn_share(r->B, m->tid, m->n, &b0, &b1); /* the member's rows of each cell */
    for (size_t s = r->steps + 1; s-- > 0;) { /* the cell of step s - 1 (the end when s = 0) */
        const TN_T *R = NULL;
        if (s < r->steps && (s > 0 || r->final_product)) { /* R = dA_s W_hh */
            FN(gemm_job) g;
            FN(gemm_init)(&g, 0, 0, r->B, r->H, r->GH, 1, r->dA + s * r->B * r->GH, r->GH, NULL, r->H, 0, r->R, r->H,
                          r->work);
            g.packed_b = r->packed;
            FN(gemm_member)(&g, m);
            R = r->R;
        }
        r->cell(r->ctx, s ? s - 1 : TN_SEQ_END, R, b0, b1);
        tn_barrier(m); /* dA_{s-1} complete, and R read, before the next product */
    }
}

void TN_NAME(tn_seq_backward_f32, tn_seq_backward_f64)(const FN(seq_rec) *r)
{
    tn_team_run(FN(gemm_threads)(r->B, r->H, r->GH), SF(backward_team), (void *)r);
}

#endif
