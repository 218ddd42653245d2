/* tn_rnn_small_impl.h -- rnn_lm_loss for tiny problems (the seeds' "hello": T = V = H = 4)
 * in one function, written once; included by tn_rnn_small.c for each (dtype, instruction
 * set) with:
 *   RS_NAME          the function's name
 *   RS_T             element type
 *   RS_FMA(a, b, c)  fused multiply-add for RS_T
 *   RS_EXP, RS_LOG   libm's exp and log for RS_T
 *   RS_TARGET        function attribute (the instruction set it is compiled for)
 *
 * At these sizes the general kernel (tn_rnn.c, tn_linear.c: rnn_forward, linear_forward,
 * cross_entropy_*, linear_backward, rnn_backward) spends its time in a dozen GEMM calls
 * and their dispatch, not in arithmetic.  This is the same computation with every
 * product written as an inline loop -- and every operation is the one the general
 * kernel performs, in the same order: each product element is the k-ordered FMA chain
 * from 0 that the GEMM paths compute, then added to (or stored into) its destination as
 * TN_GEMM_PUT does with alpha = 1; sums run in the same order; the same tanh, exp and
 * log.  So both give the same bits (tests/test_determinism.py checks it against the
 * public functions composed), and tn_rnn_lm_loss is free to choose either.
 *
 * It runs only where every product is a small GEMM (tn_rnn_small_fits) with full
 * backpropagation through time.  work: the caller's tn_rnn_lm_loss_work workspace. */

RS_TARGET double RS_NAME(RS_T *dW_xh, RS_T *dW_hh, RS_T *db_h, RS_T *dW_hy, RS_T *db_y, RS_T *h_last,
                         const int64_t *inputs, const int64_t *targets, const RS_T *h0, const RS_T *W_xh,
                         const RS_T *W_hh, const RS_T *b_h, const RS_T *W_hy, const RS_T *b_y, size_t T, size_t B,
                         size_t D, size_t H, size_t V, int mean, RS_T *work,
                         void (*tanh_fn)(RS_T *, const RS_T *, size_t), void (*exp_fn)(RS_T *, const RS_T *, size_t))
{
    size_t TB = T * B, BH = B * H;
    RS_T *hs = work, *dhs = hs + TN_ROUND_UP(TB * H), *dl = dhs + TN_ROUND_UP(TB * H);
    RS_T *dpre = dl + TN_ROUND_UP(TB * V);

    /* Step by step: h_t = tanh((W_xh[:, x_t] + b_h) + h_{t-1} W_hh^T), then the output
     * layer on the previous step's rows -- logits = b_y + h W_hy^T, softmax cross-entropy
     * in place, dlogits, dhs = dlogits W_hy, and dW_hy, db_y accumulated (rows in order,
     * as the general kernel's chains run) -- which the CPU overlaps with h_t's tanh, the
     * latency that bounds the recurrence. */
    double loss = 0;
    for (size_t i = 0; i < V * H; i++) dW_hy[i] = 0;
    for (size_t v = 0; v < V; v++) db_y[v] = 0;
    for (size_t t = 0; t <= T; t++) {
        if (t < T) {
            RS_T *ht = hs + t * BH;
            const RS_T *hp = t ? ht - BH : h0;
            for (size_t b = 0; b < B; b++) {
                const RS_T *col = W_xh + inputs[t * B + b];
                for (size_t j = 0; j < H; j++) {
                    RS_T pre = col[j * D] + b_h[j];
                    if (hp) {
                        RS_T acc = 0;
                        for (size_t k = 0; k < H; k++) acc = RS_FMA(hp[b * H + k], W_hh[j * H + k], acc);
                        pre = pre + acc;
                    }
                    ht[b * H + j] = pre;
                }
            }
            tanh_fn(ht, ht, BH);
        }
        if (t == 0) continue;
        for (size_t n = (t - 1) * B; n < t * B; n++) {
            RS_T *r = dl + n * V, m, s = 0, target;
            const RS_T *hn = hs + n * H;
            for (size_t v = 0; v < V; v++) {
                RS_T acc = 0;
                for (size_t k = 0; k < H; k++) acc = RS_FMA(hn[k], W_hy[v * H + k], acc);
                r[v] = b_y[v] + acc;
            }
            m = r[0];
            for (size_t v = 1; v < V; v++)
                if (r[v] > m) m = r[v];
            target = r[targets[n]];
            for (size_t v = 0; v < V; v++) r[v] = r[v] - m;
            if (V >= 16) { /* the general kernel's choice of exp (tn_linear.c, vexp) */
                exp_fn(r, r, V);
            } else {
                for (size_t v = 0; v < V; v++) r[v] = RS_EXP(r[v]);
            }
            for (size_t v = 0; v < V; v++) s += r[v];
            for (size_t v = 0; v < V; v++) r[v] /= s;
            loss += (double)((m + RS_LOG(s)) - target);
            /* dlogits = probs - onehot (/ N for the mean) */
            r[targets[n]] -= 1;
            if (mean)
                for (size_t v = 0; v < V; v++) r[v] /= (RS_T)TB;
            for (size_t j = 0; j < H; j++) {
                RS_T acc = 0;
                for (size_t k = 0; k < V; k++) acc = RS_FMA(r[k], W_hy[k * H + j], acc);
                dhs[n * H + j] = acc;
            }
            for (size_t v = 0; v < V; v++) {
                for (size_t j = 0; j < H; j++) dW_hy[v * H + j] = RS_FMA(r[v], hn[j], dW_hy[v * H + j]);
                db_y[v] += r[v];
            }
        }
    }
    for (size_t i = 0; i < BH; i++) h_last[i] = hs[(T - 1) * BH + i];
    if (mean) loss /= (double)TB;

    /* BPTT: dpre_t = (dhs_t + dpre_{t+1} W_hh) (1 - h_t^2) */
    for (size_t i = 0; i < BH; i++) {
        RS_T h = hs[(T - 1) * BH + i];
        dpre[(T - 1) * BH + i] = dhs[(T - 1) * BH + i] * (1 - h * h);
    }
    for (size_t t = T - 1; t > 0; t--) {
        const RS_T *dp = dpre + t * BH;
        for (size_t b = 0; b < B; b++)
            for (size_t j = 0; j < H; j++) {
                RS_T acc = 0, h = hs[(t - 1) * BH + b * H + j];
                for (size_t k = 0; k < H; k++) acc = RS_FMA(dp[b * H + k], W_hh[k * H + j], acc);
                dpre[(t - 1) * BH + b * H + j] = (acc + dhs[(t - 1) * BH + b * H + j]) * (1 - h * h);
            }
    }

    /* weight gradients over all steps */
    for (size_t i = 0; i < H * D; i++) dW_xh[i] = 0;
    for (size_t n = 0; n < TB; n++) {
        RS_T *col = dW_xh + inputs[n];
        for (size_t h = 0; h < H; h++) col[h * D] += dpre[n * H + h];
    }
    for (size_t i = 0; i < H; i++) /* against [h0; hs[:-1]] in row order, h0 NULL: zeros */
        for (size_t j = 0; j < H; j++) {
            RS_T acc = 0;
            for (size_t b = 0; b < B; b++) acc = RS_FMA(dpre[b * H + i], h0 ? h0[b * H + j] : 0, acc);
            for (size_t n = 0; n + B < TB; n++) acc = RS_FMA(dpre[(n + B) * H + i], hs[n * H + j], acc);
            dW_hh[i * H + j] = acc;
        }
    for (size_t h = 0; h < H; h++) db_h[h] = 0;
    for (size_t n = 0; n < TB; n++)
        for (size_t h = 0; h < H; h++) db_h[h] += dpre[n * H + h];
    return loss;
}

#undef RS_NAME
#undef RS_T
#undef RS_FMA
#undef RS_EXP
#undef RS_LOG
#undef RS_TARGET
