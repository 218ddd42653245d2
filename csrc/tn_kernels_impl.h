/* tn_kernels_impl.h -- every layer kernel, written once; included by tn_kernels.c with
 * TN_T (element type), TN_S (suffix) and the math functions TN_EXP, TN_LOG, TN_SQRT
 * defined for that type (tanh and wide exp come vectorised from tn_math.c).  See
 * tinynet.h for each function's contract. */

#define SF(name) TN_CAT3(name, _, TN_S)
#define FN(name) TN_CAT4(tn_, name, _, TN_S)
#define GEMM FN(gemm)

/* The next n elements of a kernel's workspace (rounded to keep the rest aligned). */
static inline TN_T *SF(take)(TN_T **work, size_t n)
{
    TN_T *p = *work;
    *work += TN_ROUND_UP(n);
    return p;
}

/* ---------------------------------------------------------------- linear */

/* every row of y(N,H) = b(H) */
TN_CLONES static void SF(fill_rows)(TN_T *y, const TN_T *b, size_t N, size_t H)
{
    for (size_t n = 0; n < N; n++) {
        TN_T *yn = y + n * H;
        for (size_t h = 0; h < H; h++) yn[h] = b[h];
    }
}

/* y(N,H) = x(N,D) @ W(H,D)^T + b(H) */
void FN(linear_forward)(TN_T *y, const TN_T *x, const TN_T *W, const TN_T *b, size_t N,
                        size_t D, size_t H, TN_T *work)
{
    if (b && N && H && D && !tn_gemm_is_small(N, H, D)) { /* the packed GEMM adds b to each finished tile */
        TN_CAT3(tn_gemm_job, _, TN_S) g;
        TN_CAT3(tn_gemm_init, _, TN_S)(&g, 0, 1, N, H, D, 1, x, D, W, D, 0, y, H, work);
        g.bias = b;
        TN_CAT3(tn_gemm_run, _, TN_S)(&g);
        return;
    }
    if (b) SF(fill_rows)(y, b, N, H);
    GEMM(0, 1, N, H, D, 1, x, D, W, D, b ? 1 : 0, y, H, work);
}

/* Column sums over the rows of (N, C) matrices: out[c] = sum over n of one term --
 *   TN_SUM_X:      x[n,c]
 *   TN_SUM_DEV2:   (x[n,c] - a[c])^2                      (batch-norm variance)
 *   TN_SUM_XHAT_Y: y[n,c] ((x[n,c] - a[c]) b[c])          (batch-norm dgamma)
 * Rows are added in order within blocks of TN_SUM_BLOCK, and the blocks' partial sums
 * are combined pairwise (a binary cascade), so the rounding error grows with log N
 * rather than N, as in NumPy's pairwise sum; up to TN_SUM_BLOCK rows it is the plain
 * sum in row order.  Columns go 32 at a time, with the cascade's pending partial sums
 * (one per level: at most 64 for any N) on the stack. */
/* dst[j] = sum over rows n0 <= n < n1, in order, of the term at column c0 + j (j < w) */
static inline void SF(col_block)(TN_T *dst, int kind, const TN_T *x, const TN_T *y, const TN_T *a, const TN_T *b,
                                 size_t C, size_t n0, size_t n1, size_t c0, size_t w)
{
    const TN_T *ac = a ? a + c0 : NULL, *bc = b ? b + c0 : NULL; /* (a, b: NULL unless the term uses them) */
    for (size_t j = 0; j < w; j++) dst[j] = 0;
    for (size_t n = n0; n < n1; n++) {
        const TN_T *xn = x + n * C + c0;
        if (kind == TN_SUM_X) {
            for (size_t j = 0; j < w; j++) dst[j] += xn[j];
        } else if (kind == TN_SUM_DEV2) {
            for (size_t j = 0; j < w; j++) {
                TN_T d = xn[j] - ac[j];
                dst[j] += d * d;
            }
        } else {
            const TN_T *yn = y + n * C + c0;
            for (size_t j = 0; j < w; j++) dst[j] += yn[j] * ((xn[j] - ac[j]) * bc[j]);
        }
    }
}

/* The cascade's state for one strip of up to TN_SUM_W columns: the pending partial
 * sums, one per level (at most 64 for any N). */
typedef struct {
    TN_T pend[64][TN_SUM_W];
    int level[64], top;
} SF(cascade);

/* Takes the next block's partial sums p (w columns; p is overwritten). */
static inline void SF(cascade_add)(SF(cascade) *k, TN_T *p, size_t w)
{
    int lv = 0; /* merge equal levels: the earlier (left) partial sum first */
    for (; k->top > 0 && k->level[k->top - 1] == lv; k->top--, lv++)
        for (size_t j = 0; j < w; j++) p[j] = k->pend[k->top - 1][j] + p[j];
    for (size_t j = 0; j < w; j++) k->pend[k->top][j] = p[j];
    k->level[k->top++] = lv;
}

/* out[0 : w] = what is left, added from the latest partial sum back */
static inline void SF(cascade_end)(const SF(cascade) *k, TN_T *out, size_t w)
{
    for (size_t j = 0; j < w; j++) {
        TN_T acc = k->pend[k->top - 1][j];
        for (int i = k->top - 2; i >= 0; i--) acc = k->pend[i][j] + acc;
        out[j] = acc;
    }
}

TN_CLONES static void SF(col_sums)(TN_T *out, int kind, const TN_T *x, const TN_T *y, const TN_T *a, const TN_T *b,
                                   size_t N, size_t C)
{
    if (N <= TN_SUM_BLOCK) { /* one block: whole rows at a time */
        SF(col_block)(out, kind, x, y, a, b, C, 0, N, 0, C);
        return;
    }
    SF(cascade) k;
    TN_T p[TN_SUM_W];
    for (size_t c0 = 0; c0 < C; c0 += TN_SUM_W) {
        size_t w = TN_MIN((size_t)TN_SUM_W, C - c0);
        k.top = 0;
        for (size_t n0 = 0; n0 < N; n0 += TN_SUM_BLOCK) {
            SF(col_block)(p, kind, x, y, a, b, C, n0, TN_MIN(N, n0 + TN_SUM_BLOCK), c0, w);
            SF(cascade_add)(&k, p, w);
        }
        SF(cascade_end)(&k, out + c0, w);
    }
}

/* One block's partial sums for col_sums_of_blocks: dst[j] = sum of x[n, c0 + j] over
 * rows n0 <= n < n1 in order (col_block, built for each instruction set). */
TN_CLONES static void SF(block_sums)(TN_T *dst, const TN_T *x, size_t C, size_t n0, size_t n1, size_t c0, size_t w)
{
    SF(col_block)(dst, TN_SUM_X, x, NULL, NULL, NULL, C, n0, n1, c0, w);
}

/* col_sums(TN_SUM_X) of an (N, C) matrix from its blocks' partial sums, computed
 * beforehand (sums[i*C + c]: rows i*TN_SUM_BLOCK onwards, as col_block makes them):
 * the same bits. */
TN_CLONES static void SF(col_sums_of_blocks)(TN_T *out, const TN_T *sums, size_t N, size_t C)
{
    size_t nb = (N + TN_SUM_BLOCK - 1) / TN_SUM_BLOCK;
    SF(cascade) k;
    TN_T p[TN_SUM_W];
    for (size_t c0 = 0; c0 < C; c0 += TN_SUM_W) {
        size_t w = TN_MIN((size_t)TN_SUM_W, C - c0);
        k.top = 0;
        for (size_t i = 0; i < nb; i++) {
            for (size_t j = 0; j < w; j++) p[j] = sums[i * C + c0 + j];
            SF(cascade_add)(&k, p, w);
        }
        SF(cascade_end)(&k, out + c0, w);
    }
}

/* db(H) = sum over the N rows of m(N,H) */
static void SF(sum_rows)(TN_T *db, const TN_T *m, size_t N, size_t H)
{
    SF(col_sums)(db, TN_SUM_X, m, NULL, NULL, NULL, N, H);
}

/* dx(N,D) = dy(N,H) @ W(H,D);  dW(H,D) = dy^T @ x(N,D);  db(H) = sum_n dy */
void FN(linear_backward)(TN_T *dx, TN_T *dW, TN_T *db, const TN_T *dy, const TN_T *x,
                         const TN_T *W, size_t N, size_t D, size_t H, TN_T *work)
{
    if (dx) GEMM(0, 0, N, D, H, 1, dy, H, W, D, 0, dx, D, work);
    if (dW) GEMM(1, 0, H, D, N, 1, dy, H, x, D, 0, dW, D, work);
    if (db) SF(sum_rows)(db, dy, N, H);
}

/* ------------------------------------------------------------ activations */

void FN(tanh_forward)(TN_T *y, const TN_T *x, size_t n)
{
    const tn_isa *isa = tn_isa_get();
    (n * sizeof(TN_T) <= 32 ? isa->TN_CAT3(tanh_short, _, TN_S) : isa->TN_CAT3(tanh, _, TN_S))(y, x, n);
}

TN_CLONES void FN(tanh_backward)(TN_T *dx, const TN_T *dy, const TN_T *y, size_t n)
{
    for (size_t i = 0; i < n; i++) dx[i] = dy[i] * (1 - y[i] * y[i]);
}

/* exp over n values, for rows of length V: the vectorised one for rows of 16 values or
 * more, libm's below (where the vector code's fixed cost loses).  The choice depends on
 * the row length alone -- the same on every instruction set and for every chunk of a
 * row -- so a given shape always gets the same bits. */
static void SF(vexp)(TN_T *y, const TN_T *x, size_t n, size_t V)
{
    if (V >= 16) {
        tn_isa_get()->TN_CAT3(exp, _, TN_S)(y, x, n);
    } else {
        for (size_t i = 0; i < n; i++) y[i] = TN_EXP(x[i]);
    }
}

void FN(sigmoid_forward)(TN_T *y, const TN_T *x, size_t n)
{
    for (size_t i = 0; i < n; i++) y[i] = -x[i];
    tn_isa_get()->TN_CAT3(exp, _, TN_S)(y, y, n); /* elementwise: the same bits at any length */
    for (size_t i = 0; i < n; i++) y[i] = 1 / (1 + y[i]);
}

TN_CLONES void FN(sigmoid_backward)(TN_T *dx, const TN_T *dy, const TN_T *y, size_t n)
{
    for (size_t i = 0; i < n; i++) dx[i] = dy[i] * (y[i] * (1 - y[i]));
}

TN_CLONES void FN(relu_forward)(TN_T *y, const TN_T *x, size_t n)
{
    /* NaN propagates, as np.maximum(x, 0) does */
    for (size_t i = 0; i < n; i++) y[i] = x[i] < 0 ? 0 : x[i];
}

TN_CLONES void FN(relu_backward)(TN_T *dx, const TN_T *dy, const TN_T *y, size_t n)
{
    for (size_t i = 0; i < n; i++) dx[i] = y[i] > 0 ? dy[i] : 0;
}

/* ------------------------------------------------- softmax, cross-entropy */

/* Max of a row; a NaN anywhere makes the whole row NaN downstream either way. */
static TN_T SF(row_max)(const TN_T *r, size_t V)
{
    TN_T m = r[0];
    for (size_t v = 1; v < V; v++)
        if (r[v] > m) m = r[v];
    return m;
}

/* e(V) = exp(r - m), in place when e == r; returns the sum of e (added in order). */
static TN_T SF(row_exp)(TN_T *e, const TN_T *r, size_t V, TN_T m)
{
    TN_T s = 0;
    for (size_t v = 0; v < V; v++) e[v] = r[v] - m;
    SF(vexp)(e, e, V, V);
    for (size_t v = 0; v < V; v++) s += e[v];
    return s;
}

/* probs(N,V) = softmax(logits) row by row */
void FN(softmax)(TN_T *probs, const TN_T *logits, size_t N, size_t V)
{
    if (V == 0) return;
    for (size_t n = 0; n < N; n++) {
        TN_T *p = probs + n * V;
        const TN_T *r = logits + n * V;
        TN_T s = SF(row_exp)(p, r, V, SF(row_max)(r, V));
        for (size_t v = 0; v < V; v++) p[v] /= s;
    }
}

/* loss = sum_n logsumexp(logits_n) - logits_n[t_n]  (/ N if mean) */
double FN(cross_entropy_forward)(TN_T *probs, const TN_T *logits, const int64_t *targets,
                                 size_t N, size_t V, int mean)
{
    double loss = 0;
    for (size_t n = 0; n < N; n++) {
        const TN_T *r = logits + n * V;
        TN_T m = SF(row_max)(r, V), s = 0, target = r[targets[n]]; /* probs may alias r */
        if (probs) {
            TN_T *p = probs + n * V;
            s = SF(row_exp)(p, r, V, m);
            for (size_t v = 0; v < V; v++) p[v] /= s;
        } else { /* no room for the exponentials: a chunk at a time, summed in the same order */
            TN_T buf[64];
            for (size_t v0 = 0; v0 < V; v0 += 64) {
                size_t cnt = TN_MIN((size_t)64, V - v0);
                for (size_t j = 0; j < cnt; j++) buf[j] = r[v0 + j] - m;
                SF(vexp)(buf, buf, cnt, V);
                for (size_t j = 0; j < cnt; j++) s += buf[j];
            }
        }
        loss += (double)((m + TN_LOG(s)) - target);
    }
    return mean ? loss / (double)N : loss;
}

/* dlogits(N,V) = (probs - onehot(targets)) (/ N if mean) */
TN_CLONES void FN(cross_entropy_backward)(TN_T *dlogits, const TN_T *probs, const int64_t *targets,
                                size_t N, size_t V, int mean)
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

/* -------------------------------------------------------------- embedding */

TN_CLONES void FN(embedding_forward)(TN_T *out, const TN_T *table, const int64_t *idx, size_t n,
                           size_t E)
{
    for (size_t i = 0; i < n; i++) {
        const TN_T *row = table + (size_t)idx[i] * E;
        TN_T *o = out + i * E;
        for (size_t e = 0; e < E; e++) o[e] = row[e];
    }
}

TN_CLONES void FN(embedding_backward)(TN_T *dtable, const TN_T *dout, const int64_t *idx, size_t n,
                            size_t V, size_t E)
{
    for (size_t i = 0; i < V * E; i++) dtable[i] = 0;
    for (size_t i = 0; i < n; i++) {
        TN_T *row = dtable + (size_t)idx[i] * E;
        const TN_T *d = dout + i * E;
        for (size_t e = 0; e < E; e++) row[e] += d[e];
    }
}

/* -------------------------------------------------------------- batchnorm */

/* mean(C) and invstd(C) of x(N,C) with var = sum (x - mean)^2 / (N - correction) */
static void SF(bn_stats)(TN_T *mean, TN_T *invstd, const TN_T *x, size_t N, size_t C, TN_T eps,
                         size_t correction)
{
    SF(sum_rows)(mean, x, N, C);
    for (size_t c = 0; c < C; c++) mean[c] /= (TN_T)N;
    SF(col_sums)(invstd, TN_SUM_DEV2, x, NULL, mean, NULL, N, C);
    TN_T denom = (TN_T)(N - correction);
    for (size_t c = 0; c < C; c++) invstd[c] = 1 / TN_SQRT(invstd[c] / denom + eps);
}

TN_CLONES void FN(batchnorm_forward)(TN_T *y, TN_T *mean, TN_T *invstd, const TN_T *x,
                           const TN_T *gamma, const TN_T *beta, size_t N, size_t C, TN_T eps,
                           size_t correction)
{
    SF(bn_stats)(mean, invstd, x, N, C, eps, correction);
    for (size_t n = 0; n < N; n++) {
        const TN_T *xn = x + n * C;
        TN_T *yn = y + n * C;
        for (size_t c = 0; c < C; c++) yn[c] = gamma[c] * ((xn[c] - mean[c]) * invstd[c]) + beta[c];
    }
}

TN_CLONES void FN(batchnorm_backward)(TN_T *dx, TN_T *dgamma, TN_T *dbeta, const TN_T *dy, const TN_T *x,
                            const TN_T *gamma, const TN_T *mean, const TN_T *invstd, size_t N,
                            size_t C, size_t correction)
{
    /* dbeta = sum dy, dgamma = sum dy xhat; the sums of g = dy gamma follow from them */
    SF(sum_rows)(dbeta, dy, N, C);
    SF(col_sums)(dgamma, TN_SUM_XHAT_Y, x, dy, mean, invstd, N, C);
    /* dx = invstd (g - gamma dbeta / N - xhat gamma dgamma / (N - correction)), the two
     * per-channel terms computed once for a block of channels rather than per element */
    TN_T fN = (TN_T)N, fD = (TN_T)(N - correction), g_mean[128], g_xhat[128];
    for (size_t c0 = 0; c0 < C; c0 += 128) {
        size_t cn = TN_MIN((size_t)128, C - c0);
        for (size_t c = 0; c < cn; c++) {
            g_mean[c] = gamma[c0 + c] * dbeta[c0 + c] / fN;
            g_xhat[c] = gamma[c0 + c] * dgamma[c0 + c] / fD;
        }
        const TN_T *m = mean + c0, *is = invstd + c0, *ga = gamma + c0;
        for (size_t n = 0; n < N; n++) {
            const TN_T *xn = x + n * C + c0, *dyn = dy + n * C + c0;
            TN_T *dxn = dx + n * C + c0;
            for (size_t c = 0; c < cn; c++) {
                TN_T xhat = (xn[c] - m[c]) * is[c];
                TN_T g = dyn[c] * ga[c];
                dxn[c] = is[c] * (g - g_mean[c] - xhat * g_xhat[c]);
            }
        }
    }
}

TN_CLONES void FN(batchnorm_inference)(TN_T *y, const TN_T *x, const TN_T *gamma, const TN_T *beta,
                             const TN_T *running_mean, const TN_T *running_var, size_t N,
                             size_t C, TN_T eps)
{
    for (size_t n = 0; n < N; n++) {
        const TN_T *xn = x + n * C;
        TN_T *yn = y + n * C;
        for (size_t c = 0; c < C; c++)
            yn[c] = gamma[c] * (xn[c] - running_mean[c]) / TN_SQRT(running_var[c] + eps) + beta[c];
    }
}

/* -------------------------------------------------------------------- RNN */

/* pre(B,H) = W_xh[:, tokens(B)] + b_h   (the one-hot input projection) */
static void SF(gather_columns)(TN_T *pre, const int64_t *tokens, const TN_T *W_xh,
                               const TN_T *b_h, size_t B, size_t D, size_t H)
{
    for (size_t b = 0; b < B; b++) {
        TN_T *p = pre + b * H;
        const TN_T *col = W_xh + tokens[b];
        for (size_t h = 0; h < H; h++) p[h] = col[h * D] + b_h[h];
    }
}

/* hs_t(B,H) = tanh(hs_t + h_prev(B,H) @ W_hh^T), h_prev NULL = zeros (small sizes) */
static void SF(rnn_step)(TN_T *hs_t, const TN_T *h_prev, const TN_T *W_hh, size_t B, size_t H, TN_T *work)
{
    if (h_prev) GEMM(0, 1, B, H, H, 1, h_prev, H, W_hh, H, 1, hs_t, H, work);
    FN(tanh_forward)(hs_t, hs_t, B * H);
}

/* Does the recurrence use a prepacked W_hh and one team for all steps?  Not for tiny
 * states, where packing costs more than it saves. */
static int SF(rnn_packed)(size_t B, size_t H)
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
} SF(rnn_rec);

static void SF(rnn_forward_team)(void *ctx, tn_member *m)
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
        TN_CAT3(tn_gemm_job, _, TN_S) g;
        TN_CAT3(tn_gemm_init, _, TN_S)(&g, 0, 1, r->B, r->H, r->H, 1, prev, r->H, NULL, r->H, 1, hs_t, r->H, r->work);
        g.packed_b = r->packed;
        g.epi = TN_EPI_TANH;
        TN_CAT3(tn_gemm_member, _, TN_S)(&g, m);
    }
}

static void SF(rnn_backward_team)(void *ctx, tn_member *m)
{
    const SF(rnn_rec) *r = ctx;
    size_t BH = r->B * r->H, TB = r->T * r->B, c0, c1;
    tn_share(r->H, m->tid, m->n, &c0, &c1);
    for (size_t t = r->T; t-- > 0;) {
        /* the bias gradient's blocks of rows starting in step t are complete (steps t..T-1
         * are): their column sums now, while the rows are in cache; the member's columns */
        for (size_t n0 = (t * r->B + TN_SUM_BLOCK - 1) / TN_SUM_BLOCK * TN_SUM_BLOCK; n0 < (t + 1) * r->B;
             n0 += TN_SUM_BLOCK)
            SF(block_sums)(r->db_sums + n0 / TN_SUM_BLOCK * r->H + c0, r->seq, r->H, n0, TN_MIN(TB, n0 + TN_SUM_BLOCK),
                           c0, c1 - c0);
        if (t == 0 && !r->dh0) break;
        TN_CAT3(tn_gemm_job, _, TN_S) g;
        TN_T *out = t ? r->seq + (t - 1) * BH : r->dh0;
        TN_CAT3(tn_gemm_init, _, TN_S)(&g, 0, 0, r->B, r->H, r->H, 1, r->seq + t * BH, r->H, NULL, r->H, 0, out, r->H,
                                       r->work);
        g.packed_b = r->packed;
        if (t) { /* dpre_{t-1} = (dhs_{t-1} + W_hh^T dpre_t) (1 - h_{t-1}^2) */
            g.epi = TN_EPI_DTANH;
            g.e1 = r->dhs + (t - 1) * BH;
            g.e2 = r->hs + (t - 1) * BH;
        }
        TN_CAT3(tn_gemm_member, _, TN_S)(&g, m);
    }
}

void FN(rnn_forward)(TN_T *hs, const TN_T *x, const int64_t *tokens, const TN_T *h0, const TN_T *W_xh,
                     const TN_T *W_hh, const TN_T *b_h, size_t T_, size_t B, size_t D, size_t H, TN_T *work)
{
    size_t TB = T_ * B;
    if (TB == 0 || H == 0) return;
    /* the input projection of every step at once: hs = X W_xh^T + b_h */
    if (tokens) {
        for (size_t t = 0; t < T_; t++)
            SF(gather_columns)(hs + t * B * H, tokens + t * B, W_xh, b_h, B, D, H);
    } else {
        FN(linear_forward)(hs, x, W_xh, b_h, TB, D, H, work);
    }
    if (!SF(rnn_packed)(B, H)) {
        for (size_t t = 0; t < T_; t++)
            SF(rnn_step)(hs + t * B * H, t ? hs + (t - 1) * B * H : h0, W_hh, B, H, work);
        return;
    }
    TN_T *packed = SF(take)(&work, tn_gemm_packed_size(H, H));
    TN_CAT3(tn_gemm_pack_b, _, TN_S)(1, H, H, W_hh, H, packed); /* op(B) = W_hh^T */
    SF(rnn_rec) r = {.T = T_, .B = B, .H = H, .seq = hs, .h0 = h0, .packed = packed, .work = work};
    tn_team_run(TN_CAT3(tn_gemm_threads, _, TN_S)(B, H, H), SF(rnn_forward_team), &r);
}

/* The weight gradients from dpre(T,B,H), over all steps at once:
 *   dW_hh(H,H) = dpre^T @ [h0; hs[:-1]]   (one product over all T B rows, h0 NULL: zeros)
 *   dW_xh(H,D) = dpre^T @ x               (x given), sharing dpre^T's packing with dW_hh
 *                                         when their columns fit one column block;
 *                with tokens: scatter-add columns, through a transposed (D,H) buffer so
 *                that every row update is contiguous. */
static void SF(rnn_dW)(TN_T *dW_xh, TN_T *dW_hh, const TN_T *dpre, const TN_T *x, const int64_t *tokens,
                       const TN_T *h0, const TN_T *hs, size_t TB, size_t B, size_t D, size_t H, TN_T *dWT,
                       TN_T *work)
{
    TN_CAT3(tn_gemm_job, _, TN_S) g;
    TN_CAT3(tn_gemm_init, _, TN_S)(&g, 1, 0, H, H, TB, 1, dpre, H, hs, H, 0, dW_hh, H, work);
    g.b_split = B, g.b_lo = h0;
    if (x && D > 0) {
        TN_CAT3(tn_gemm_job, _, TN_S) gx;
        TN_CAT3(tn_gemm_init, _, TN_S)(&gx, 1, 0, H, D, TB, 1, dpre, H, x, D, 0, dW_xh, D, work);
        if (H > 1 && (D + gx.NR - 1) / gx.NR * gx.NR + H <= TN_GEMM_NC) { /* g rides along as the second product */
            gx.second.N = g.N, gx.second.B = g.B, gx.second.ldb = g.ldb, gx.second.split = g.b_split;
            gx.second.lo = g.b_lo, gx.second.C = g.C, gx.second.ldc = g.ldc;
            TN_CAT3(tn_gemm_run, _, TN_S)(&gx);
            return;
        }
        TN_CAT3(tn_gemm_run, _, TN_S)(&gx);
    } else if (tokens) {
        FN(embedding_backward)(dWT, dpre, tokens, TB, D, H);
        for (size_t h = 0; h < H; h++)
            for (size_t d = 0; d < D; d++) dW_xh[h * D + d] = dWT[d * H + h];
    }
    TN_CAT3(tn_gemm_run, _, TN_S)(&g);
}

void FN(rnn_backward)(TN_T *dx, TN_T *dh0, TN_T *dW_xh, TN_T *dW_hh, TN_T *db_h, const TN_T *dhs, const TN_T *x,
                      const int64_t *tokens, const TN_T *h0, const TN_T *hs, const TN_T *W_xh, const TN_T *W_hh,
                      size_t T_, size_t B, size_t D, size_t H, size_t bptt_steps, TN_T *work)
{
    size_t TB = T_ * B, BH = B * H;
    if (TB == 0 || H == 0) {
        for (size_t i = 0; i < H * D; i++) dW_xh[i] = 0;
        for (size_t i = 0; i < H * H; i++) dW_hh[i] = 0;
        for (size_t i = 0; i < H; i++) db_h[i] = 0;
        if (dh0)
            for (size_t i = 0; i < BH; i++) dh0[i] = 0;
        if (dx)
            for (size_t i = 0; i < TB * D; i++) dx[i] = 0;
        return;
    }
    /* dpre(T,B,H) = dL/d(pre-activation) of every step, summed over all loss terms */
    TN_T *dpre = SF(take)(&work, TB * H);
    TN_T *g = SF(take)(&work, BH); /* (B,H): the gradient travelling back in time */
    TN_T *gnext = SF(take)(&work, BH);
    TN_T *dWT = SF(take)(&work, tokens ? D * H : 0); /* (D,H) for token input */

    if (bptt_steps == 0 || bptt_steps >= T_) {
        /* full BPTT: dpre_t = (dhs_t + W_hh^T dpre_{t+1}) (1 - h_t^2) */
        const TN_T *dh_T = dhs + (T_ - 1) * BH, *h_T = hs + (T_ - 1) * BH;
        TN_T *dp_T = dpre + (T_ - 1) * BH;
        for (size_t i = 0; i < BH; i++) dp_T[i] = dh_T[i] * (1 - h_T[i] * h_T[i]);
        if (SF(rnn_packed)(B, H)) {
            TN_T *packed = SF(take)(&work, tn_gemm_packed_size(H, H));
            TN_CAT3(tn_gemm_pack_b, _, TN_S)(0, H, H, W_hh, H, packed); /* op(B) = W_hh */
            TN_T *db_sums = SF(take)(&work, (TB + TN_SUM_BLOCK - 1) / TN_SUM_BLOCK * H);
            SF(rnn_rec) r = {.T = T_, .B = B, .H = H, .seq = dpre, .dhs = dhs, .hs = hs, .dh0 = dh0,
                             .db_sums = db_sums, .packed = packed, .work = work};
            tn_team_run(TN_CAT3(tn_gemm_threads, _, TN_S)(B, H, H), SF(rnn_backward_team), &r);
            SF(col_sums_of_blocks)(db_h, db_sums, TB, H);
            db_h = NULL; /* done */
        } else {
            for (size_t t = T_; t-- > 0;) {
                if (t == 0) {
                    if (dh0) GEMM(0, 0, B, H, H, 1, dpre, H, W_hh, H, 0, dh0, H, work);
                    break;
                }
                GEMM(0, 0, B, H, H, 1, dpre + t * BH, H, W_hh, H, 0, g, H, work);
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
        for (size_t t = 0; t < T_; t++) {
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
                    GEMM(0, 0, B, H, H, 1, gnext, H, W_hh, H, 0, g, H, work);
                else if (s == 0 && dh0)
                    GEMM(0, 0, B, H, H, 1, gnext, H, W_hh, H, 1, dh0, H, work);
            }
        }
    }
    SF(rnn_dW)(dW_xh, dW_hh, dpre, x, tokens, h0, hs, TB, B, D, H, dWT, work);
    if (db_h) SF(sum_rows)(db_h, dpre, TB, H);
    if (dx) GEMM(0, 0, TB, D, H, 1, dpre, H, W_xh, D, 0, dx, D, work);
}

double FN(rnn_lm_loss)(TN_T *dW_xh, TN_T *dW_hh, TN_T *db_h, TN_T *dW_hy, TN_T *db_y,
                       TN_T *h_last, const int64_t *inputs, const int64_t *targets,
                       const TN_T *h0, const TN_T *W_xh, const TN_T *W_hh, const TN_T *b_h,
                       const TN_T *W_hy, const TN_T *b_y, size_t T_, size_t B, size_t D,
                       size_t H, size_t V, size_t bptt_steps, int mean, TN_T *work)
{
    size_t TB = T_ * B;
    const tn_isa *isa = tn_isa_get();
    if ((bptt_steps == 0 || bptt_steps >= T_) && tn_rnn_small_fits(T_, B, H, V)) /* the same bits, in one function */
        return isa->TN_CAT3(rnn_small, _, TN_S)(dW_xh, dW_hh, db_h, dW_hy, db_y, h_last, inputs, targets, h0, W_xh,
                                                 W_hh, b_h, W_hy, b_y, T_, B, D, H, V, mean, work,
                                                 B * H * sizeof(TN_T) <= 32 ? isa->TN_CAT3(tanh_short, _, TN_S)
                                                                            : isa->TN_CAT3(tanh, _, TN_S),
                                                 isa->TN_CAT3(exp, _, TN_S));
    TN_T *hs = SF(take)(&work, TB * H);
    TN_T *dhs = SF(take)(&work, TB * H);
    TN_T *logits = SF(take)(&work, TB * V);

    FN(rnn_forward)(hs, NULL, inputs, h0, W_xh, W_hh, b_h, T_, B, D, H, work);
    if (T_ > 0)
        for (size_t i = 0; i < B * H; i++) h_last[i] = hs[(T_ - 1) * B * H + i];
    else
        for (size_t i = 0; i < B * H; i++) h_last[i] = h0 ? h0[i] : 0;

    FN(linear_forward)(logits, hs, W_hy, b_y, TB, H, V, work);
    double loss = FN(cross_entropy_forward)(logits, logits, targets, TB, V, mean);
    FN(cross_entropy_backward)(logits, logits, targets, TB, V, mean);
    /* logits now holds dlogits */
    FN(linear_backward)(dhs, dW_hy, db_y, logits, hs, W_hy, TB, H, V, work);
    FN(rnn_backward)(NULL, NULL, dW_xh, dW_hh, db_h, dhs, NULL, inputs, h0, hs, W_xh, W_hh, T_,
                     B, D, H, bptt_steps, work);
    return loss;
}

/* index of the largest p (first on ties; the first NaN wins, as np.argmax) */
static size_t SF(argmax)(const TN_T *p, size_t V)
{
    size_t best = 0;
    for (size_t v = 0; v < V; v++) {
        if (p[v] != p[v]) return v;
        if (p[v] > p[best]) best = v;
    }
    return best;
}

/* first i with u < cumsum(p)[i] (sum in double), else the last i with p_i > 0, else V-1 */
static size_t SF(draw)(const TN_T *p, size_t V, double u)
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
static void SF(gemm_prepacked)(TN_T *C, const TN_T *A, size_t M, size_t N, size_t K, const TN_T *packed, TN_T beta,
                               int epi, TN_T *work)
{
    TN_CAT3(tn_gemm_job, _, TN_S) g;
    TN_CAT3(tn_gemm_init, _, TN_S)(&g, 0, 0, M, N, K, 1, A, K, NULL, N, beta, C, N, work);
    g.packed_b = packed;
    g.epi = epi;
    tn_member solo = {0, 1, 0};
    TN_CAT3(tn_gemm_member, _, TN_S)(&g, &solo);
}

void FN(rnn_sample)(int64_t *out, const TN_T *h0, const int64_t *start, size_t n,
                    const TN_T *W_xh, const TN_T *W_hh, const TN_T *b_h, const TN_T *W_hy,
                    const TN_T *b_y, size_t B, size_t D, size_t H, size_t V, TN_T temperature,
                    int greedy, uint64_t *rng, TN_T *work)
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
        TN_CAT3(tn_gemm_pack_b, _, TN_S)(1, H, H, W_hh, H, pk_hh);
        TN_CAT3(tn_gemm_pack_b, _, TN_S)(1, H, V, W_hy, H, pk_hy);
    }
    const int64_t *tok = start;
    for (size_t i = 0; i < B * H; i++) h[i] = h0 ? h0[i] : 0;
    for (size_t i = 0; i < n; i++) {
        SF(gather_columns)(hn, tok, W_xh, b_h, B, D, H);
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

/* ------------------------------------------------------------- optimizers */

TN_CLONES void FN(sgd_step)(TN_T *param, const TN_T *grad, size_t n, TN_T lr)
{
    for (size_t i = 0; i < n; i++) param[i] -= lr * grad[i];
}

TN_CLONES void FN(adagrad_step)(TN_T *param, const TN_T *grad, TN_T *mem, size_t n, TN_T lr, TN_T eps)
{
    for (size_t i = 0; i < n; i++) {
        mem[i] += grad[i] * grad[i];
        param[i] -= lr * grad[i] / TN_SQRT(mem[i] + eps);
    }
}

TN_CLONES void FN(adam_step)(TN_T *param, const TN_T *grad, TN_T *m, TN_T *v, size_t n, int64_t t,
                   double lr, double beta1, double beta2, double eps, double weight_decay)
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

TN_CLONES void FN(clip)(TN_T *g, size_t n, TN_T lo, TN_T hi)
{
    for (size_t i = 0; i < n; i++) {
        if (g[i] < lo)
            g[i] = lo;
        else if (g[i] > hi)
            g[i] = hi;
    }
}

#undef SF
#undef FN
#undef GEMM
