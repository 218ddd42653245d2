/* tn_lstm.c -- the LSTM, one layer, exactly as torch.nn.LSTM (weights in PyTorch's
 * layout, gates i, f, g, o): forward and full backpropagation through time.
 *
 *   a_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh               (4H: blocks i, f, g, o)
 *   i = sigmoid(a_i), f = sigmoid(a_f), g = tanh(a_g), o = sigmoid(a_o)
 *   c_t = f c_{t-1} + i g,   h_t = o tanh(c_t)
 *
 * Forward: one GEMM projects every step's input (plus both biases), then the recurrence
 * (tn_seq.c) adds h_{t-1} W_hh^T to step t's row block and runs the cell on it.
 * Backward: the recurrence computes dh_{t-1} = da_t W_hh step by step, the cell turns
 * it into da_{t-1}; the weight gradients are then GEMMs over all steps (tn_seq.c), the
 * input gradient one more. */
#ifndef TN_T
#include <math.h>

#include "tn_internal.h"

size_t tn_lstm_forward_work(size_t T, size_t B, size_t D, size_t H)
{
    tn_ws w = {0, 0};
    size_t TB, G4;
    if (tn_size_mul(T, B, &TB) || tn_size_mul(H, 4, &G4)) return SIZE_MAX;
    tn_ws_add(&w, TB, G4, 1);                          /* the pre-activations of every step */
    tn_ws_add(&w, G4, 1, 1);                           /* b_ih + b_hh */
    tn_seq_ws(&w, TB, B, D, H, G4, 0, 1);              /* zeros, W_hh^T packed, products */
    return tn_ws_done(&w);
}

size_t tn_lstm_backward_work(size_t T, size_t B, size_t D, size_t H)
{
    tn_ws w = {0, 0};
    size_t TB, G4;
    if (tn_size_mul(T, B, &TB) || tn_size_mul(H, 4, &G4)) return SIZE_MAX;
    tn_ws_add(&w, TB, G4, 1);                          /* da: the pre-activation gradients */
    tn_ws_add(&w, B, H, 4);                            /* dc, tanh(c_t), dh, R */
    tn_seq_ws(&w, TB, B, D, H, G4, 1, 1);              /* zeros, dW_ih^T, W_hh packed, products */
    return tn_ws_done(&w);
}

#define TN_TEMPLATE "tn_lstm.c"
#include "tn_template.h"
#else

/* What the cells read and write. */
typedef struct {
    size_t B, H;
    TN_T *hs, *cs, *gates;         /* forward outputs (T, B, H), (T, B, 4H) */
    const TN_T *c0;                /* NULL: zeros */
    const TN_T *zero;              /* H zeros, the cell state before step 0 without c0 */
    /* backward */
    const TN_T *dhs, *cs_in, *gates_in;
    TN_T *da, *dc, *tc, *dh, *dh0, *dc0; /* da (T, B, 4H); dc, tc, dh (B, H); dh0, dc0 may be NULL */
} TN_NAME(lstm_f32, lstm_f64);

/* The cell state step t started from, row b. */
static inline const TN_T *TN_NAME(c_prev_f32, c_prev_f64)(const SF(lstm) *L, const TN_T *cs, size_t t, size_t b)
{
    return t ? cs + ((t - 1) * L->B + b) * L->H : L->c0 ? L->c0 + b * L->H : L->zero;
}

/* Step t, rows b0..b1: the gates from the pre-activations C (B, 4H), then c_t and h_t. */
TN_CLONES static void TN_NAME(lstm_cell_f32, lstm_cell_f64)(const void *ctx, size_t t, const TN_T *C, size_t b0,
    size_t b1)
{
    const SF(lstm) *L = ctx;
    size_t B = L->B, H = L->H;
    for (size_t b = b0; b < b1; b++) {
        const TN_T *a = C + b * 4 * H, *c_prev = SF(c_prev)(L, L->cs, t, b);
        size_t row = t * B + b;
        TN_T *gt = L->gates + row * 4 * H, *c = L->cs + row * H, *h = L->hs + row * H;
        FN(sigmoid_forward)(gt, a, 2 * H);                 /* i, f */
        FN(tanh_forward)(gt + 2 * H, a + 2 * H, H);        /* g */
        FN(sigmoid_forward)(gt + 3 * H, a + 3 * H, 1 * H); /* o */
        const TN_T *i = gt, *f = gt + H, *g = gt + 2 * H, *o = gt + 3 * H;
        for (size_t u = 0; u < H; u++) c[u] = f[u] * c_prev[u] + i[u] * g[u];
        FN(tanh_forward)(h, c, H);
        for (size_t u = 0; u < H; u++) h[u] = o[u] * h[u];
    }
}

void TN_NAME(tn_lstm_forward_f32, tn_lstm_forward_f64)(TN_T *hs, TN_T *cs, TN_T *gates, const TN_T *x,
    const int64_t *tokens, const TN_T *h0, const TN_T *c0, const TN_T *W_ih, const TN_T *W_hh, const TN_T *b_ih,
    const TN_T *b_hh, size_t T, size_t B, size_t D, size_t H, TN_T *work)
{
    size_t TB = T * B, G4 = 4 * H;
    if (TB == 0 || H == 0) return;
    TN_T *pre = SF(take)(&work, TB * G4);
    TN_T *bsum = SF(take)(&work, G4);
    TN_T *zero = SF(take)(&work, H);
    SF(zero)(zero, H);
    const TN_T *bias = b_ih && b_hh ? bsum : b_ih ? b_ih : b_hh;
    if (b_ih && b_hh)
        for (size_t j = 0; j < G4; j++) bsum[j] = b_ih[j] + b_hh[j];
    /* every step's input projection at once: pre = X W_ih^T + b_ih + b_hh */
    if (tokens)
        FN(gather_columns)(pre, tokens, W_ih, bias, TB, D, G4);
    else
        FN(linear_forward)(pre, x, W_ih, bias, TB, D, G4, work);
    TN_T *packed = SF(take)(&work, tn_gemm_packed_size(G4, H));
    FN(gemm_pack_b)(1, H, G4, W_hh, H, packed); /* op(B) = W_hh^T */
    SF(lstm) L = {.B = B, .H = H, .hs = hs, .cs = cs, .gates = gates, .c0 = c0, .zero = zero};
    FN(seq_rec) r = {.steps = T, .B = B, .H = H, .GH = G4, .packed = packed, .work = work, .pre = pre,
                     .pre_step = B * G4, .beta = 1, .h0 = h0, .hs = hs, .cell = SF(lstm_cell), .ctx = &L};
    FN(seq_forward)(&r);
}

/* Step t, rows b0..b1, going back: dh = dhs_t + R (what step t+1 sends back), then
 *   dc += dh o (1 - tanh(c_t)^2)
 *   da_t = [dc g i(1-i), dc c_{t-1} f(1-f), dc i (1-g^2), dh tanh(c_t) o(1-o)],  dc = dc f.
 * At the end: dh0 = R, dc0 = dc. */
TN_CLONES static void TN_NAME(lstm_cell_back_f32, lstm_cell_back_f64)(const void *ctx, size_t t, const TN_T *R,
    size_t b0, size_t b1)
{
    const SF(lstm) *L = ctx;
    size_t B = L->B, H = L->H;
    for (size_t b = b0; b < b1; b++) {
        TN_T *dc = L->dc + b * H;
        if (t == TN_SEQ_END) {
            for (size_t u = 0; u < H; u++) {
                if (L->dh0) L->dh0[b * H + u] = R ? R[b * H + u] : 0;
                if (L->dc0) L->dc0[b * H + u] = dc[u];
            }
            continue;
        }
        size_t row = t * B + b;
        const TN_T *gt = L->gates_in + row * 4 * H, *c = L->cs_in + row * H, *dh_in = L->dhs + row * H;
        const TN_T *c_prev = SF(c_prev)(L, L->cs_in, t, b);
        TN_T *tc = L->tc + b * H, *dh = L->dh + b * H, *da = L->da + row * 4 * H;
        FN(tanh_forward)(tc, c, H);
        if (R)
            for (size_t u = 0; u < H; u++) dh[u] = dh_in[u] + R[b * H + u];
        else
            for (size_t u = 0; u < H; u++) dh[u] = dh_in[u];
        for (size_t u = 0; u < H; u++) {
            TN_T i = gt[u], f = gt[H + u], g = gt[2 * H + u], o = gt[3 * H + u];
            TN_T d = dc[u] + dh[u] * o * (1 - tc[u] * tc[u]);
            da[u] = d * g * (i * (1 - i));
            da[H + u] = d * c_prev[u] * (f * (1 - f));
            da[2 * H + u] = d * i * (1 - g * g);
            da[3 * H + u] = dh[u] * tc[u] * (o * (1 - o));
            dc[u] = d * f;
        }
    }
}

void TN_NAME(tn_lstm_backward_f32, tn_lstm_backward_f64)(TN_T *dx, TN_T *dh0, TN_T *dc0, TN_T *dW_ih, TN_T *dW_hh,
    TN_T *db_ih, TN_T *db_hh, const TN_T *dhs, const TN_T *dc_n, const TN_T *x, const int64_t *tokens, const TN_T *h0,
    const TN_T *c0, const TN_T *hs, const TN_T *cs, const TN_T *gates, const TN_T *W_ih, const TN_T *W_hh, size_t T,
    size_t B, size_t D, size_t H, TN_T *work)
{
    size_t TB = T * B, G4 = 4 * H, BH = B * H;
    if (TB == 0 || H == 0) { /* no step: the gradients are zero, and c_n = c0 passes dc_n through */
        SF(zero)(dW_ih, G4 * D), SF(zero)(dW_hh, G4 * H), SF(zero)(db_ih, G4);
        if (db_hh) SF(zero)(db_hh, G4);
        if (dh0) SF(zero)(dh0, BH);
        if (dc0)
            for (size_t i = 0; i < BH; i++) dc0[i] = dc_n ? dc_n[i] : 0;
        if (dx) SF(zero)(dx, TB * D);
        return;
    }
    TN_T *da = SF(take)(&work, TB * G4);
    TN_T *dc = SF(take)(&work, BH);
    TN_T *tc = SF(take)(&work, BH);
    TN_T *dh = SF(take)(&work, BH);
    TN_T *R = SF(take)(&work, BH);
    TN_T *zero = SF(take)(&work, H);
    SF(zero)(zero, H);
    TN_T *dWT = SF(take)(&work, tokens ? D * G4 : 0);
    TN_T *packed = SF(take)(&work, tn_gemm_packed_size(H, G4));
    for (size_t i = 0; i < BH; i++) dc[i] = dc_n ? dc_n[i] : 0;
    FN(gemm_pack_b)(0, G4, H, W_hh, H, packed); /* op(B) = W_hh */
    SF(lstm) L = {.B = B, .H = H, .c0 = c0, .zero = zero, .dhs = dhs, .cs_in = cs, .gates_in = gates, .da = da,
                  .dc = dc, .tc = tc, .dh = dh, .dh0 = dh0, .dc0 = dc0};
    FN(seq_rec) r = {.steps = T, .B = B, .H = H, .GH = G4, .packed = packed, .work = work, .dA = da, .R = R,
                     .final_product = dh0 != NULL, .cell = SF(lstm_cell_back), .ctx = &L};
    FN(seq_backward)(&r);
    /* the weights' gradients over all steps at once; both biases get the same sums */
    FN(seq_weight_grads)(dW_ih, dW_hh, da, da, x, tokens, h0, hs, TB, B, D, H, G4, dWT, work);
    SF(sum_rows)(db_ih, da, TB, G4);
    if (db_hh)
        for (size_t i = 0; i < G4; i++) db_hh[i] = db_ih[i];
    if (dx) FN(gemm)(0, 0, TB, D, G4, 1, da, G4, W_ih, D, 0, dx, D, work);
}

#endif
