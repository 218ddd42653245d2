/* tn_gru.c -- the GRU, one layer, exactly as torch.nn.GRU (weights in PyTorch's layout,
 * gates r, z, n): forward and full backpropagation through time.
 *
 *   gi = W_ih x_t + b_ih,  gh = W_hh h_{t-1} + b_hh            (3H: blocks r, z, n)
 *   r = sigmoid(gi_r + gh_r),  z = sigmoid(gi_z + gh_z)
 *   n = tanh(gi_n + r gh_n),   h_t = (1 - z) n + z h_{t-1}
 *
 * Forward: one GEMM projects every step's input (plus b_ih); the recurrence (tn_seq.c)
 * computes gh = h_{t-1} W_hh^T + b_hh for a step and the cell combines the two (gh_n is
 * kept for the backward pass: r scales it).  Backward: the recurrence computes
 * da_hh_t W_hh step by step, the cell adds the direct path dh_t z_t and turns the sum
 * into the gradients of both sides' pre-activations -- they differ in the n block,
 * where the hidden side is scaled by r; the weight gradients are GEMMs over all steps. */
#ifndef TN_T
#include <math.h>

#include "tn_internal.h"

size_t tn_gru_forward_work(size_t T, size_t B, size_t D, size_t H)
{
    tn_ws w = {0, 0};
    size_t TB, G3;
    if (tn_size_mul(T, B, &TB) || tn_size_mul(H, 3, &G3)) return SIZE_MAX;
    tn_ws_add(&w, TB, G3, 1);                         /* the input side of every step, gi */
    tn_ws_add(&w, B, G3, 1);                          /* the hidden side of a step, gh */
    tn_seq_ws(&w, TB, B, D, H, G3, 0, 0);             /* zeros, W_hh^T packed, products */
    return tn_ws_done(&w);
}

size_t tn_gru_backward_work(size_t T, size_t B, size_t D, size_t H)
{
    tn_ws w = {0, 0};
    size_t TB, G3;
    if (tn_size_mul(T, B, &TB) || tn_size_mul(H, 3, &G3)) return SIZE_MAX;
    tn_ws_add(&w, TB, G3, 2);                         /* da_ih, da_hh */
    tn_ws_add(&w, B, H, 2);                           /* the direct path dh z, R */
    tn_seq_ws(&w, TB, B, D, H, G3, 1, 0);             /* zeros, dW_ih^T, W_hh packed, products */
    return tn_ws_done(&w);
}

#define TN_TEMPLATE "tn_gru.c"
#include "tn_template.h"
#else

/* What the cells read and write. */
typedef struct {
    size_t B, H;
    const TN_T *gi;               /* forward: the input side (T, B, 3H) */
    TN_T *hs, *gates, *gh_n;      /* forward outputs (T, B, H), (T, B, 3H), (T, B, H) */
    const TN_T *h0;               /* NULL: zeros */
    const TN_T *zero;             /* H zeros, the state before step 0 without h0 */
    /* backward */
    const TN_T *dhs, *hs_in, *gates_in, *gh_n_in;
    TN_T *da_ih, *da_hh, *carry, *dh0; /* (T, B, 3H) twice; carry (B, H): dh_t z_t; dh0 may be NULL */
} TN_NAME(gru_f32, gru_f64);

/* The state step t started from, row b. */
static inline const TN_T *TN_NAME(h_prev_f32, h_prev_f64)(const SF(gru) *L, const TN_T *hs, size_t t, size_t b)
{
    return t ? hs + ((t - 1) * L->B + b) * L->H : L->h0 ? L->h0 + b * L->H : L->zero;
}

/* Step t, rows b0..b1: the gates from gi_t and gh = C (B, 3H), then h_t. */
TN_CLONES static void TN_NAME(gru_cell_f32, gru_cell_f64)(const void *ctx, size_t t, const TN_T *C, size_t b0,
    size_t b1)
{
    const SF(gru) *L = ctx;
    size_t B = L->B, H = L->H;
    for (size_t b = b0; b < b1; b++) {
        size_t row = t * B + b;
        const TN_T *gh = C + b * 3 * H, *gi = L->gi + row * 3 * H;
        TN_T *gt = L->gates + row * 3 * H, *h = L->hs + row * H, *ghn = L->gh_n + row * H;
        const TN_T *h_prev = SF(h_prev)(L, L->hs, t, b);
        for (size_t j = 0; j < 2 * H; j++) gt[j] = gi[j] + gh[j];
        FN(sigmoid_forward)(gt, gt, 2 * H); /* r, z */
        const TN_T *r = gt, *z = gt + H;
        TN_T *n = gt + 2 * H;
        for (size_t u = 0; u < H; u++) {
            ghn[u] = gh[2 * H + u];
            n[u] = gi[2 * H + u] + r[u] * ghn[u];
        }
        FN(tanh_forward)(n, n, H);
        for (size_t u = 0; u < H; u++) h[u] = (1 - z[u]) * n[u] + z[u] * h_prev[u];
    }
}

void TN_NAME(tn_gru_forward_f32, tn_gru_forward_f64)(TN_T *hs, TN_T *gates, TN_T *gh_n, const TN_T *x,
    const int64_t *tokens, const TN_T *h0, const TN_T *W_ih, const TN_T *W_hh, const TN_T *b_ih, const TN_T *b_hh,
    size_t T, size_t B, size_t D, size_t H, TN_T *work)
{
    size_t TB = T * B, G3 = 3 * H;
    if (TB == 0 || H == 0) return;
    TN_T *gi = SF(take)(&work, TB * G3);
    TN_T *gh = SF(take)(&work, B * G3);
    TN_T *zero = SF(take)(&work, H);
    SF(zero)(zero, H);
    /* every step's input side at once: gi = X W_ih^T + b_ih */
    if (tokens)
        FN(gather_columns)(gi, tokens, W_ih, b_ih, TB, D, G3);
    else
        FN(linear_forward)(gi, x, W_ih, b_ih, TB, D, G3, work);
    TN_T *packed = SF(take)(&work, tn_gemm_packed_size(G3, H));
    FN(gemm_pack_b)(1, H, G3, W_hh, H, packed); /* op(B) = W_hh^T */
    SF(gru) L = {.B = B, .H = H, .gi = gi, .hs = hs, .gates = gates, .gh_n = gh_n, .h0 = h0, .zero = zero};
    FN(seq_rec) r = {.steps = T, .B = B, .H = H, .GH = G3, .packed = packed, .work = work, .pre = gh,
                     .pre_step = 0, .beta = 0, .bias = b_hh, .h0 = h0, .hs = hs, .cell = SF(gru_cell), .ctx = &L};
    FN(seq_forward)(&r);
}

/* Step t, rows b0..b1, going back: dh = dhs_t + (dh_{t+1} z_{t+1} + R), then
 *   dn = dh (1 - z)(1 - n^2),  dz = dh (h_{t-1} - n) z(1-z),  dr = dn gh_n r(1-r);
 *   da_ih_t = [dr, dz, dn],  da_hh_t = [dr, dz, dn r],  carry = dh z.
 * At the end: dh0 = carry + R.  (The carry row holds dh while the step is computed.) */
TN_CLONES static void TN_NAME(gru_cell_back_f32, gru_cell_back_f64)(const void *ctx, size_t t, const TN_T *R, size_t b0,
    size_t b1)
{
    const SF(gru) *L = ctx;
    size_t B = L->B, H = L->H;
    for (size_t b = b0; b < b1; b++) {
        TN_T *carry = L->carry + b * H;
        const TN_T *Rb = R ? R + b * H : NULL;
        if (t == TN_SEQ_END) {
            if (L->dh0)
                for (size_t u = 0; u < H; u++) L->dh0[b * H + u] = Rb ? carry[u] + Rb[u] : carry[u];
            continue;
        }
        size_t row = t * B + b;
        const TN_T *gt = L->gates_in + row * 3 * H, *ghn = L->gh_n_in + row * H, *dh_in = L->dhs + row * H;
        const TN_T *h_prev = SF(h_prev)(L, L->hs_in, t, b);
        TN_T *dai = L->da_ih + row * 3 * H, *dah = L->da_hh + row * 3 * H;
        if (Rb)
            for (size_t u = 0; u < H; u++) carry[u] = dh_in[u] + (carry[u] + Rb[u]);
        else
            for (size_t u = 0; u < H; u++) carry[u] = dh_in[u];
        for (size_t u = 0; u < H; u++) {
            TN_T r = gt[u], z = gt[H + u], n = gt[2 * H + u], dh = carry[u];
            TN_T dn = dh * (1 - z) * (1 - n * n);
            TN_T dz = dh * (h_prev[u] - n) * (z * (1 - z));
            TN_T dr = dn * ghn[u] * (r * (1 - r));
            dai[u] = dah[u] = dr;
            dai[H + u] = dah[H + u] = dz;
            dai[2 * H + u] = dn;
            dah[2 * H + u] = dn * r;
            carry[u] = dh * z;
        }
    }
}

void TN_NAME(tn_gru_backward_f32, tn_gru_backward_f64)(TN_T *dx, TN_T *dh0, TN_T *dW_ih, TN_T *dW_hh, TN_T *db_ih,
    TN_T *db_hh, const TN_T *dhs, const TN_T *x, const int64_t *tokens, const TN_T *h0, const TN_T *hs,
    const TN_T *gates, const TN_T *gh_n, const TN_T *W_ih, const TN_T *W_hh, size_t T, size_t B, size_t D, size_t H,
    TN_T *work)
{
    size_t TB = T * B, G3 = 3 * H, BH = B * H;
    if (TB == 0 || H == 0) {
        SF(zero)(dW_ih, G3 * D), SF(zero)(dW_hh, G3 * H), SF(zero)(db_ih, G3), SF(zero)(db_hh, G3);
        if (dh0) SF(zero)(dh0, BH);
        if (dx) SF(zero)(dx, TB * D);
        return;
    }
    TN_T *da_ih = SF(take)(&work, TB * G3);
    TN_T *da_hh = SF(take)(&work, TB * G3);
    TN_T *carry = SF(take)(&work, BH);
    TN_T *R = SF(take)(&work, BH);
    TN_T *zero = SF(take)(&work, H);
    SF(zero)(zero, H);
    TN_T *dWT = SF(take)(&work, tokens ? D * G3 : 0);
    TN_T *packed = SF(take)(&work, tn_gemm_packed_size(H, G3));
    FN(gemm_pack_b)(0, G3, H, W_hh, H, packed); /* op(B) = W_hh */
    SF(gru) L = {.B = B, .H = H, .h0 = h0, .zero = zero, .dhs = dhs, .hs_in = hs, .gates_in = gates, .gh_n_in = gh_n,
                 .da_ih = da_ih, .da_hh = da_hh, .carry = carry, .dh0 = dh0};
    FN(seq_rec) r = {.steps = T, .B = B, .H = H, .GH = G3, .packed = packed, .work = work, .dA = da_hh, .R = R,
                     .final_product = dh0 != NULL, .cell = SF(gru_cell_back), .ctx = &L};
    FN(seq_backward)(&r);
    FN(seq_weight_grads)(dW_ih, dW_hh, da_ih, da_hh, x, tokens, h0, hs, TB, B, D, H, G3, dWT, work);
    /* the two sides' r and z columns are the same values: summed once */
    SF(sum_rows)(db_ih, da_ih, TB, G3);
    FN(col_sums_of_rows)(db_hh + 2 * H, da_hh + 2 * H, TB, H, G3);
    for (size_t j = 0; j < 2 * H; j++) db_hh[j] = db_ih[j];
    if (dx) FN(gemm)(0, 0, TB, D, G3, 1, da_ih, G3, W_ih, D, 0, dx, D, work);
}

#endif
