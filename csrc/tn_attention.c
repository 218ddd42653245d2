/* tn_attention.c -- causal multi-head self-attention on packed projections (GPT-2's
 * c_attn output; llm.c's attention_forward / attention_backward).  See tinynet.h for the
 * contract.
 *
 * Each (sequence b, head h) is one problem: q, k, v are T x hs slices of qkv (columns
 * h hs, C + h hs, 2C + h hs; rows 3C apart), att[b, h] a T x T matrix, and for j <= i
 *     att[i, j] = softmax over j of (scale q_i . k_j),  out_i = sum_j att[i, j] v_j;
 * backward, from dout (and s_i = sum_j att[i, j] datt[i, j]):
 *     datt[i, j] = dout_i . v_j,  dS[i, j] = att[i, j] (datt[i, j] - s_i),
 *     dq_i = scale sum_{j <= i} dS[i, j] k_j,  dk_j = scale sum_{i >= j} dS[i, j] q_i,
 *     dv_j = sum_{i >= j} att[i, j] dout_i.
 *
 * Products.  They run on the GEMM's direct microkernels (tn_isa's direct_*: tiles of
 * 6 rows of A read in place against a panel of B read in place), so every element of a
 * product is the GEMM's k-ordered chain of fused multiply-adds from 0, on every
 * instruction set.  The operands read as B panels -- k and v transposed (for q k^T and
 * dout v^T), v, dout, k and q as they are -- are first copied into the thread's scratch,
 * padded to whole panels; the others are read where they are.  The problems are shared
 * out to the thread team, whole problems per member, each on its own scratch: results
 * never depend on the thread count.
 *
 * Causality is exact: row i reads and writes columns j <= i only.  q k^T and dout v^T run
 * by column panels from the diagonal down (the entries above the diagonal in the
 * diagonal's tiles are computed and dropped).  The products summed over a causal range
 * (att v, dS k, dS^T q, att^T dout) run on groups of ATT_GROUP rows over the range of the
 * group's widest row, their masked entries exact zeros (att above the diagonal as written
 * by forward, dS, and a masked copy of att for backward, which never reads att's upper
 * triangle): fma(0, x, acc) adds nothing for finite x.  A group whose extra rows of B
 * hold an inf or a NaN (0 inf = NaN) is computed again row by row over the exact ranges,
 * so a token never changes an earlier token's results, even with non-finite values.
 *
 * Softmax.  A row's max, sum and dot products run in 8 interleaved chains, combined in a
 * fixed order (plain IEEE operations: the same on every instruction set); the
 * exponentials of a problem's rows go through one call of the vectorised exp
 * (elementwise: the same bits whatever the length, unlike libm's). */
#ifndef TN_T
#include <math.h>
#include <string.h>

#include "tn_internal.h"

/* Rows per call of a causal product: the waste above the diagonal against the calls. */
#define ATT_GROUP 12
/* Below this many flops (2 B T^2 C, the forward's products) one thread does the work. */
#define ATT_PARALLEL_FLOPS 200000.0
/* The field of the dtype being compiled in tn_isa (direct_f32, nrd_f64, ...). */
#define ATT_ISA(field) TN_CAT3(field, _, TN_S)

/* Scratch rows are padded to a multiple of ATT_PAD values: the row loops' whole vectors
 * of ATT_V (below) stay inside, and so do the direct kernels' reads of a B panel, which
 * take whole panels of their width W (16 or 32 values; 4 to 16 for double and the other
 * instruction sets, all dividing 16 or a multiple of it): att_product's last panel of a
 * row, N - j0 values, goes to the half-width kernel when W / 2 holds it, so a full-width
 * one reads past N only when N - j0 > W / 2, up to j0 + W, which the rounding of N to 16
 * reaches.  (Padding to 32 for AVX-512's float kernels would double the zeros written
 * around T = 16 rows of makemore's GPT.) */
#define ATT_PAD 16

/* n rounded up to whole panels; SIZE_MAX for sizes no array has */
static size_t att_padded(size_t n)
{
    return n > SIZE_MAX / 2 ? SIZE_MAX : (n + ATT_PAD - 1) / ATT_PAD * ATT_PAD;
}

/* A member's scratch: forward k^T (hs x Tp), v (T x hsp), the logits and the
 * exponentials (T x Tp each); backward v^T (hs x Tp), dS and the masked att (T x Tp each),
 * dout, k and q (T x hsp each).  (The exponentials of row i take whole vectors: 8 (i / 8
 * + 1) values, T (T - 1) / 2 + 8 T in all, within T Tp for Tp >= 16.) */
static size_t att_member_work(size_t T, size_t hs, int backward)
{
    size_t Tp = att_padded(T), hsp = att_padded(hs);
    tn_ws w = {0, Tp == SIZE_MAX || hsp == SIZE_MAX};
    tn_ws_add(&w, hs, Tp, 1);
    tn_ws_add(&w, T, hsp, backward ? 3 : 1);
    tn_ws_add(&w, T, Tp, 2);
    return tn_ws_done(&w);
}

static size_t att_work(size_t T, size_t C, size_t n_head, int threads, int backward)
{
    size_t per = att_member_work(T, n_head ? C / n_head : 0, backward), total;
    if (per == SIZE_MAX || tn_size_mul(per, (size_t)TN_MAX(threads, 1), &total)) return SIZE_MAX;
    return total;
}

size_t tn_attention_forward_work(size_t T, size_t C, size_t n_head, int threads)
{
    return att_work(T, C, n_head, threads, 0);
}

size_t tn_attention_backward_work(size_t T, size_t C, size_t n_head, int threads)
{
    return att_work(T, C, n_head, threads, 1);
}

int tn_attention_threads(size_t B, size_t T, size_t C, size_t n_head)
{
    double flops = 2.0 * (double)B * (double)T * (double)T * (double)C;
    size_t pairs = B * n_head; /* (both sizes of an existing att) */
    int n = tn_get_num_threads();
    if (flops < ATT_PARALLEL_FLOPS || pairs < 2) return 1;
    return pairs < (size_t)n ? (int)pairs : n;
}

/* The row loops' vectors of ATT_V lanes (GCC's vector extensions: plain lane-wise
 * IEEE operations on any instruction set), and their comparison masks. */
#define ATT_V 8
typedef float att_vec_f32 __attribute__((vector_size(ATT_V * sizeof(float))));
typedef double att_vec_f64 __attribute__((vector_size(ATT_V * sizeof(double))));
typedef int32_t att_mask_f32 __attribute__((vector_size(ATT_V * sizeof(int32_t))));
typedef int64_t att_mask_f64 __attribute__((vector_size(ATT_V * sizeof(int64_t))));
/* v = the ATT_V values at p (any alignment); and the values at p = v */
#define ATT_LOAD(v, p) memcpy(&(v), (p), sizeof(v))
#define ATT_STORE(p, v) memcpy((p), &(v), sizeof(v))

#define TN_TEMPLATE "tn_attention.c"
#include "tn_template.h"
#undef ATT_ISA
#else

typedef struct {
    TN_T *out;                       /* forward: out (B, T, C); backward: dqkv (B, T, 3C) */
    TN_T *att;                       /* forward: att (B, n_head, T, T) */
    const TN_T *qkv, *dout, *att_in; /* backward: dout (B, T, C) and the forward's att */
    size_t nh, T, C, hs, Tp, hsp, pairs, per;
    TN_T scale;
    TN_T *work; /* per elements for each member */
} TN_NAME(att_job_f32, att_job_f64);

/* ------------------------------------------------------------------ operands */

/* dst (T x hsp) = the T x hs block at src (rows lds apart), zero-padded; returns whether
 * every value is finite (x - x is 0, or NaN for inf and NaN). */
static inline int TN_NAME(att_panel_f32, att_panel_f64)(TN_T *restrict dst, size_t hsp, const TN_T *restrict src,
    size_t lds, size_t T, size_t hs)
{
    SF(att_mask) bad = {0};
    int bad1 = 0;
    for (size_t t = 0; t < T; t++) {
        const TN_T *s = src + t * lds;
        TN_T *d = dst + t * hsp;
        size_t c = 0;
        for (; c + ATT_V <= hs; c += ATT_V) {
            SF(att_vec) x;
            ATT_LOAD(x, s + c);
            ATT_STORE(d + c, x);
            bad |= (x - x) != 0;
        }
        for (; c < hs; c++) {
            d[c] = s[c];
            bad1 |= !(s[c] - s[c] == 0);
        }
        for (; c < hsp; c++) d[c] = 0;
    }
    for (int l = 0; l < ATT_V; l++) bad1 |= bad[l] != 0;
    return !bad1;
}

/* dst (hs x Tp) = the T x hs block at src (rows lds apart) transposed, zero-padded: whole
 * blocks by the GEMM packing's transposing copy (TB x TB), the edges one by one */
static inline void TN_NAME(att_transpose_f32, att_transpose_f64)(const tn_isa *isa, TN_T *dst, size_t Tp,
    const TN_T *src, size_t lds, size_t T, size_t hs)
{
    const size_t TB = sizeof(TN_T) == 4 ? 8 : 4;
    size_t T0 = T / TB * TB, hs0 = hs / TB * TB;
    for (size_t t = 0; t < T0; t += TB)
        for (size_t c = 0; c < hs0; c += TB) isa->ATT_ISA(transpose)(dst + c * Tp + t, Tp, src + t * lds + c, lds);
    for (size_t c = 0; c < hs; c++) {
        TN_T *d = dst + c * Tp;
        for (size_t t = c < hs0 ? T0 : 0; t < T; t++) d[t] = src[t * lds + c];
        for (size_t t = T; t < Tp; t++) d[t] = 0;
    }
}

/* Are rows [r0, r1) of a panel (n values each, rows sb apart) all finite? */
static int TN_NAME(att_rows_finite_f32, att_rows_finite_f64)(const TN_T *p, size_t sb, size_t r0, size_t r1, size_t n)
{
    for (size_t r = r0; r < r1; r++)
        for (size_t c = 0; c < n; c++)
            if (!(p[r * sb + c] - p[r * sb + c] == 0)) return 0;
    return 1;
}

/* ------------------------------------------------------------------ products */

/* C(M, N) = alpha op(A)(M, kc) B(kc, N) on the direct microkernels: op(A)'s row i at
 * A + i lda, its k-th element next to it (trans_a: A's column i, element k at
 * A[k lda + i]); B a panel (rows sb apart, readable to whole panels); C's rows ldc apart.
 * Column panels of nrd, a last one that half a panel holds on the half-width kernel. */
static void TN_NAME(att_product_f32, att_product_f64)(const tn_isa *isa, size_t M, size_t N, size_t kc, TN_T alpha,
    const TN_T *A, size_t lda, int trans_a, const TN_T *B, size_t sb, TN_T *C, size_t ldc)
{
    size_t W = (size_t)isa->ATT_ISA(nrd);
    for (size_t j0 = 0; j0 < N; j0 += W) {
        size_t nr = TN_MIN(W, N - j0);
        TN_CAT2(tn_direct_, TN_S) kernel = nr <= W / 2 ? isa->ATT_ISA(direct_half) : isa->ATT_ISA(direct);
        kernel(kc, M, A, lda, trans_a, NULL, B + j0, sb, C + j0, ldc, nr, alpha, 0, NULL);
    }
}

/* S[i, j] = alpha x_i . y_j for j <= i (T x T, rows Tp apart; the diagonal's tiles also
 * get entries above it), x's rows lx apart, yT = y transposed (hs x Tp) */
static void TN_NAME(att_lower_f32, att_lower_f64)(const tn_isa *isa, TN_T *S, size_t T, size_t Tp, const TN_T *x,
    size_t lx, const TN_T *yT, size_t hs, TN_T alpha)
{
    size_t W = (size_t)isa->ATT_ISA(nrd);
    for (size_t j0 = 0; j0 < T; j0 += W)
        SF(att_product)(isa, T - j0, TN_MIN(W, T - j0), hs, alpha, x + j0 * lx, lx, 0, yT + j0, Tp, S + j0 * Tp + j0,
                        Tp);
}

/* Rows [r0, r1) of a causal product, each over its exact range: lower, C_r = alpha sum
 * over k <= r of L[r, k] B_k; upper, C_r = alpha sum over r <= k < T of L[k, r] B_k.  The
 * microkernels' chains: fused multiply-adds in k order from 0, then alpha. */
static void TN_NAME(att_exact_f32, att_exact_f64)(TN_T *C, size_t ldc, const TN_T *L, size_t ldl, size_t T, int upper,
    const TN_T *B, size_t sb, size_t r0, size_t r1, size_t N, TN_T alpha)
{
    for (size_t r = r0; r < r1; r++)
        for (size_t c = 0; c < N; c++) {
            TN_T acc = 0;
            for (size_t k = upper ? r : 0; k < (upper ? T : r + 1); k++)
                acc = _Generic(acc, float: fmaf, default: fma)(upper ? L[k * ldl + r] : L[r * ldl + k], B[k * sb + c],
                                                               acc);
            TN_GEMM_PUT(C[r * ldc + c], acc, alpha, 0);
        }
}

/* C (T x N, rows ldc apart) = alpha L B (lower) or alpha L^T B (upper): L (T x T, rows ldl
 * apart) with exact zeros in its masked triangle, B a panel of T rows (sb apart), finite:
 * whether all of B is.  Groups of ATT_GROUP rows over their widest row's range. */
static void TN_NAME(att_causal_f32, att_causal_f64)(const tn_isa *isa, TN_T *C, size_t ldc, const TN_T *L, size_t ldl,
    size_t T, int upper, const TN_T *B, size_t sb, int finite, size_t N, TN_T alpha)
{
    for (size_t r0 = 0; r0 < T; r0 += ATT_GROUP) {
        size_t r1 = TN_MIN(T, r0 + ATT_GROUP);
        if (upper)
            SF(att_product)(isa, r1 - r0, N, T - r0, alpha, L + r0 * ldl + r0, ldl, 1, B + r0 * sb, sb, C + r0 * ldc,
                            ldc);
        else
            SF(att_product)(isa, r1 - r0, N, r1, alpha, L + r0 * ldl, ldl, 0, B, sb, C + r0 * ldc, ldc);
        /* B's rows that are masked for some row of the group: (r0, r1) lower, [r0, r1 - 1) upper */
        if (!finite && !SF(att_rows_finite)(B, sb, upper ? r0 : r0 + 1, upper ? r1 - 1 : r1, N))
            SF(att_exact)(C, ldc, L, ldl, T, upper, B, sb, r0, r1, N, alpha);
    }
}

/* ------------------------------------------------------------------ rows */

/* The row loops run over whole vectors of ATT_V values, row i over its first
 * ATT_V (i / ATT_V + 1), the lanes past the diagonal masked in the registers (-inf to a
 * max, so that exp gives 0 to the sum; 0 elsewhere).  Lane l of a reduction adds the
 * values at l, l + ATT_V, ... in order, the lanes combined in one fixed order: plain IEEE
 * operations, the same on every instruction set. */
static const SF(att_mask) TN_NAME(att_lane_f32, att_lane_f64) = {0, 1, 2, 3, 4, 5, 6, 7};
/* the lanes of the vector at j0 on or below the diagonal of row i (j0 <= i) */
#define ATT_IN(j0, i) (SF(att_lane) <= (__typeof__(SF(att_lane)[0]))TN_MIN((i) - (j0), (size_t)ATT_V))
/* v where ok, else w */
#define ATT_PICK(ok, v, w) ((SF(att_vec))(((SF(att_mask))(v) & (ok)) | ((SF(att_mask))(w) & ~(ok))))
#define ATT_ROW(i) (((i) / ATT_V + 1) * ATT_V)
#define ATT_COMBINE(p, op) op(op(op(p[0], p[1]), op(p[2], p[3])), op(op(p[4], p[5]), op(p[6], p[7])))
#define ATT_ADD(a, b) ((a) + (b))
#define ATT_MAX(a, b) ((b) > (a) ? (b) : (a))

/* The max of r[0 : i + 1] (a NaN counts as nothing: it makes the row NaN anyway) */
static inline TN_T TN_NAME(att_row_max_f32, att_row_max_f64)(const TN_T *restrict r, size_t i)
{
    SF(att_vec) p = {0}, x, ninf = p - (TN_T)INFINITY;
    p = ninf;
    for (size_t j0 = 0; j0 <= i; j0 += ATT_V) {
        ATT_LOAD(x, r + j0);
        x = ATT_PICK(ATT_IN(j0, i), x, ninf);
        p = ATT_PICK(x > p, x, p);
    }
    return ATT_COMBINE(p, ATT_MAX);
}

/* r[j0 : n] = 0 (n - j0 a whole number of vectors) */
static inline void TN_NAME(att_zeros_f32, att_zeros_f64)(TN_T *r, size_t j0, size_t n)
{
    SF(att_vec) z = {0};
    for (; j0 < n; j0 += ATT_V) ATT_STORE(r + j0, z);
}

/* r[j0 : T] = 0, whole vectors where they fit */
static inline void TN_NAME(att_zero_tail_f32, att_zero_tail_f64)(TN_T *r, size_t j0, size_t T)
{
    for (; j0 < T && j0 % ATT_V; j0++) r[j0] = 0;
    size_t n = j0 < T ? j0 + (T - j0) / ATT_V * ATT_V : j0;
    SF(att_zeros)(r, j0, n);
    for (j0 = n; j0 < T; j0++) r[j0] = 0;
}

/* att (T x T) from S = scale q k^T (rows Tp apart, valid for j <= i): for j <= i
 * att[i, j] = exp(S[i, j] - m_i) / s_i, m_i the row's max and s_i its sum of
 * exponentials (times 1 / s_i, as llm.c), and 0 above the diagonal.  E: the rows'
 * exponentials, whole vectors, from one call of exp_fn; the lanes past the diagonal go
 * in as 0 and are masked out after (exp(-inf) would underflow, which costs a microcode
 * assist per vector on some CPUs). */
static inline void TN_NAME(att_softmax_f32, att_softmax_f64)(TN_T *restrict att, size_t T, const TN_T *restrict S,
    size_t Tp, TN_T *restrict E, void (*exp_fn)(TN_T *, const TN_T *, size_t))
{
    SF(att_vec) x, zero = {0};
    TN_T *e = E;
    for (size_t i = 0; i < T; e += ATT_ROW(i), i++) {
        const TN_T *r = S + i * Tp;
        TN_T m = SF(att_row_max)(r, i);
        for (size_t j0 = 0; j0 <= i; j0 += ATT_V) {
            ATT_LOAD(x, r + j0);
            x = ATT_PICK(ATT_IN(j0, i), x - m, zero);
            ATT_STORE(e + j0, x);
        }
    }
    exp_fn(E, E, (size_t)(e - E));
    e = E;
    for (size_t i = 0; i < T; e += ATT_ROW(i), i++) {
        SF(att_vec) sum = {0};
        for (size_t j0 = 0; j0 <= i; j0 += ATT_V) {
            ATT_LOAD(x, e + j0);
            sum += ATT_PICK(ATT_IN(j0, i), x, zero);
        }
        TN_T *a = att + i * T, inv = 1 / ATT_COMBINE(sum, ATT_ADD);
        size_t j0 = 0;
        for (; j0 <= i && j0 + ATT_V <= T; j0 += ATT_V) {
            ATT_LOAD(x, e + j0);
            x = ATT_PICK(ATT_IN(j0, i), x * inv, zero);
            ATT_STORE(a + j0, x);
        }
        for (; j0 <= i; j0++) a[j0] = e[j0] * inv; /* (the end of a row that is no whole vector) */
        SF(att_zero_tail)(a, j0, T);
    }
}

/* dS (in G, over datt: rows Tp apart, valid for j <= i) and P = att's lower triangle:
 * for row i, with s_i = sum over j <= i of att[i, j] datt[i, j], G[i, j] = att[i, j]
 * (datt[i, j] - s_i) and P[i, j] = att[i, j] for j <= i; both 0 above the diagonal, to
 * Tp (att's upper triangle is not read). */
static inline void TN_NAME(att_dsoftmax_f32, att_dsoftmax_f64)(TN_T *restrict G, TN_T *restrict P, size_t Tp,
    const TN_T *restrict att, size_t T)
{
    SF(att_vec) x, y, zero = {0};
    for (size_t i = 0; i < T; i++) {
        const TN_T *a = att + i * T;
        TN_T *g = G + i * Tp, *p = P + i * Tp;
        size_t j0 = 0;
        for (; j0 <= i && j0 + ATT_V <= T; j0 += ATT_V) {
            ATT_LOAD(x, a + j0);
            x = ATT_PICK(ATT_IN(j0, i), x, zero);
            ATT_STORE(p + j0, x);
        }
        for (; j0 <= i; j0++) p[j0] = a[j0]; /* (the end of a row that is no whole vector) */
        SF(att_zero_tail)(p, j0, Tp);
        SF(att_vec) d = {0};
        for (j0 = 0; j0 <= i; j0 += ATT_V) {
            ATT_LOAD(x, p + j0);
            ATT_LOAD(y, g + j0);
            d += x * ATT_PICK(ATT_IN(j0, i), y, zero);
        }
        TN_T s = ATT_COMBINE(d, ATT_ADD);
        for (j0 = 0; j0 <= i; j0 += ATT_V) {
            ATT_LOAD(x, p + j0);
            ATT_LOAD(y, g + j0);
            y = ATT_PICK(ATT_IN(j0, i), x * (y - s), zero);
            ATT_STORE(g + j0, y);
        }
        SF(att_zeros)(g, j0, Tp);
    }
}

/* ------------------------------------------------------------------ problems */

/* One (b, h) problem of attention_forward; s: the member's scratch */
static TN_CLONES void TN_NAME(att_forward_one_f32, att_forward_one_f64)(const SF(att_job) *J, size_t b, size_t h,
    TN_T *s)
{
    const tn_isa *isa = tn_isa_get();
    size_t T = J->T, C = J->C, hs = J->hs, ld = 3 * C, Tp = J->Tp, hsp = J->hsp;
    const TN_T *q = J->qkv + b * T * ld + h * hs, *k = q + C, *v = k + C;
    TN_T *att = J->att + (b * J->nh + h) * T * T, *o = J->out + b * T * C + h * hs;
    TN_T *S = SF(take)(&s, T * Tp), *E = SF(take)(&s, T * Tp), *kT = SF(take)(&s, hs * Tp);
    TN_T *vp = SF(take)(&s, T * hsp);
    SF(att_transpose)(isa, kT, Tp, k, ld, T, hs);
    SF(att_lower)(isa, S, T, Tp, q, ld, kT, hs, J->scale);
    SF(att_softmax)(att, T, S, Tp, E, isa->ATT_ISA(exp));
    int finite = SF(att_panel)(vp, hsp, v, ld, T, hs);
    SF(att_causal)(isa, o, C, att, T, T, 0, vp, hsp, finite, hs, 1);
}

/* One (b, h) problem of attention_backward */
static TN_CLONES void TN_NAME(att_backward_one_f32, att_backward_one_f64)(const SF(att_job) *J, size_t b, size_t h,
    TN_T *s)
{
    const tn_isa *isa = tn_isa_get();
    size_t T = J->T, C = J->C, hs = J->hs, ld = 3 * C, Tp = J->Tp, hsp = J->hsp;
    const TN_T *q = J->qkv + b * T * ld + h * hs, *k = q + C, *v = k + C, *d = J->dout + b * T * C + h * hs;
    const TN_T *att = J->att_in + (b * J->nh + h) * T * T;
    TN_T *dq = J->out + b * T * ld + h * hs, *dk = dq + C, *dv = dk + C;
    TN_T *G = SF(take)(&s, T * Tp), *P = SF(take)(&s, T * Tp), *vT = SF(take)(&s, hs * Tp);
    TN_T *dp = SF(take)(&s, T * hsp), *kp = SF(take)(&s, T * hsp), *qp = SF(take)(&s, T * hsp);
    SF(att_transpose)(isa, vT, Tp, v, ld, T, hs);
    SF(att_lower)(isa, G, T, Tp, d, C, vT, hs, 1); /* datt = dout v^T */
    SF(att_dsoftmax)(G, P, Tp, att, T);
    int d_ok = SF(att_panel)(dp, hsp, d, C, T, hs), k_ok = SF(att_panel)(kp, hsp, k, ld, T, hs);
    int q_ok = SF(att_panel)(qp, hsp, q, ld, T, hs);
    SF(att_causal)(isa, dv, ld, P, Tp, T, 1, dp, hsp, d_ok, hs, 1);        /* dv = att^T dout */
    SF(att_causal)(isa, dq, ld, G, Tp, T, 0, kp, hsp, k_ok, hs, J->scale); /* dq = scale dS k */
    SF(att_causal)(isa, dk, ld, G, Tp, T, 1, qp, hsp, q_ok, hs, J->scale); /* dk = scale dS^T q */
}

/* A member's share of the B n_head problems, on its own scratch; the logits' rows (the
 * first T x Tp of it) zeroed first: the row loops' last vectors, masked, may reach past
 * the tiles the products compute, and read zeros there rather than memory never written */
static void TN_NAME(att_team_f32, att_team_f64)(void *ctx, tn_member *m)
{
    const SF(att_job) *J = ctx;
    size_t p0, p1;
    tn_share(J->pairs, m->tid, m->n, &p0, &p1);
    TN_T *s = J->work + (size_t)m->tid * J->per;
    if (p0 < p1) SF(zero)(s, J->T * J->Tp);
    for (size_t p = p0; p < p1; p++)
        (J->dout ? SF(att_backward_one) : SF(att_forward_one))(J, p / J->nh, p % J->nh, s);
}

static void TN_NAME(att_run_f32, att_run_f64)(SF(att_job) *J, size_t B, size_t T, size_t C, size_t n_head,
    int threads, TN_T *work)
{
    size_t hs = C / n_head;
    J->nh = n_head, J->T = T, J->C = C, J->hs = hs, J->pairs = B * n_head;
    J->Tp = att_padded(T), J->hsp = att_padded(hs);
    J->per = att_member_work(T, hs, J->dout != NULL);
    J->scale = hs ? (TN_T)(1 / sqrt((double)hs)) : 1;
    J->work = work;
    tn_team_run(TN_MAX(threads, 1), SF(att_team), J);
}

void TN_NAME(tn_attention_forward_f32, tn_attention_forward_f64)(TN_T *out, TN_T *att, const TN_T *qkv, size_t B,
    size_t T, size_t C, size_t n_head, int threads, TN_T *work)
{
    SF(att_job) J = {.out = out, .att = att, .qkv = qkv};
    SF(att_run)(&J, B, T, C, n_head, threads, work);
}

void TN_NAME(tn_attention_backward_f32, tn_attention_backward_f64)(TN_T *dqkv, const TN_T *dout, const TN_T *qkv,
    const TN_T *att, size_t B, size_t T, size_t C, size_t n_head, int threads, TN_T *work)
{
    SF(att_job) J = {.out = dqkv, .qkv = qkv, .dout = dout, .att_in = att};
    SF(att_run)(&J, B, T, C, n_head, threads, work);
}

#undef ATT_ROW
#undef ATT_IN
#undef ATT_PICK
#undef ATT_COMBINE
#undef ATT_ADD
#undef ATT_MAX
#endif
