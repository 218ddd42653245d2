/* tn_micro_impl.h -- one GEMM microkernel, written once; included by tn_gemm.c for
 * each (instruction set, dtype) with:
 *   MK_NAME, MK_ROW_NAME   the kernels' names (MR rows; one row)
 *   MK_T               element type
 *   MK_TARGET          a function attribute (e.g. __attribute__((target("avx512f"))))
 *   MK_V, MK_LANES     vector type and its lane count
 *   MK_ZERO(), MK_LOAD(p), MK_STORE(p, v), MK_BCAST(x), MK_FMA(a, b, c) (= a*b + c),
 *   MK_MUL(a, b), MK_ADD(a, b)
 *   MK_MR, MK_NV       tile: MR rows by NV vectors (NR = NV * LANES columns)
 *
 * acc(MR, NR) = sum over k of A(i, k) * b[k*NR + j], each element accumulated in k
 * order with one fused multiply-add per step -- the same sequence of roundings on every
 * instruction set and for any tiling, so results do not depend on the thread count or
 * on which kernel ran.  Then C = beta C + alpha acc on the valid mr x nr corner.  A comes
 * packed (MK_NAME: A(i, k) = a[k*MR + i]) or straight from MR rows of a row-major matrix
 * (MK_NAME_rows: A(i, k) = a[i*lda + k]) or MR of its columns (MK_NAME_cols: A(i, k) =
 * a[k*lda + i]), which saves packing it. */

#define MK_CAT_(a, b) a##b
#define MK_CAT(a, b) MK_CAT_(a, b)

/* C tile = beta C + alpha acc on its valid mr x nr corner: the same operations whether
 * done in vectors (full tiles) or scalars (edges). */
MK_TARGET static inline __attribute__((always_inline)) void MK_CAT(MK_NAME, _store)(MK_V acc[MK_MR][MK_NV], MK_T *c,
                                                                                     size_t ldc, size_t mr, size_t nr,
                                                                                     MK_T alpha, MK_T beta)
{
    if (mr == MK_MR && nr == (size_t)(MK_NV * MK_LANES)) {
        MK_V va = MK_BCAST(alpha), vb = MK_BCAST(beta);
#pragma GCC unroll 16
        for (int i = 0; i < MK_MR; i++) {
            MK_T *ci = c + i * ldc;
#pragma GCC unroll 4
            for (int v = 0; v < MK_NV; v++) {
                MK_V t = alpha == 1 ? acc[i][v] : MK_MUL(va, acc[i][v]);
                if (beta == 1)
                    t = MK_ADD(MK_LOAD(ci + v * MK_LANES), t);
                else if (beta != 0)
                    t = MK_ADD(MK_MUL(vb, MK_LOAD(ci + v * MK_LANES)), t);
                MK_STORE(ci + v * MK_LANES, t);
            }
        }
        return;
    }
    MK_T tile[MK_MR * MK_NV * MK_LANES];
#pragma GCC unroll 16
    for (int i = 0; i < MK_MR; i++)
#pragma GCC unroll 4
        for (int v = 0; v < MK_NV; v++) MK_STORE(tile + i * MK_NV * MK_LANES + v * MK_LANES, acc[i][v]);
    for (size_t i = 0; i < mr; i++)
        for (size_t j = 0; j < nr; j++) TN_GEMM_PUT(c[i * ldc + j], tile[i * MK_NV * MK_LANES + j], alpha, beta);
}

/* The k loop, with row i's k-th A value at AIK (an expression in a, i and k). */
#define MK_LOOP(AIK, ADVANCE)                                                                                          \
    for (size_t k = 0; k < kc; k++) {                                                                                 \
        MK_V bv[MK_NV];                                                                                               \
        _Pragma("GCC unroll 4") for (int v = 0; v < MK_NV; v++) bv[v] = MK_LOAD(b + v * MK_LANES);                   \
        _Pragma("GCC unroll 16") for (int i = 0; i < MK_MR; i++)                                                      \
        {                                                                                                             \
            MK_V ai = MK_BCAST(AIK);                                                                                  \
            _Pragma("GCC unroll 4") for (int v = 0; v < MK_NV; v++) acc[i][v] = MK_FMA(ai, bv[v], acc[i][v]);         \
        }                                                                                                             \
        ADVANCE;                                                                                                      \
        b += MK_NV * MK_LANES;                                                                                        \
    }

/* Before the k loop: ask for the rows of the C tile now (it is needed only after the
 * loop, and may be far away) and clear the accumulators. */
#define MK_PROLOGUE(rows)                                                                                             \
    for (size_t i = 0; i < (rows); i++) {                                                                             \
        __builtin_prefetch(c + i * ldc, 1, 3);                                                                        \
        __builtin_prefetch(c + i * ldc + nr - 1, 1, 3);                                                               \
    }                                                                                                                 \
    _Pragma("GCC unroll 16") for (int i = 0; i < MK_MR; i++)                                                          \
        _Pragma("GCC unroll 4") for (int v = 0; v < MK_NV; v++) acc[i][v] = MK_ZERO();

/* A packed (element (i, k) at a[k*MR + i]), its first R rows computed (R a constant once
 * inlined): a partial last panel of 1 or 2 (3 or 4) valid rows takes a third (two
 * thirds) of a full tile's multiply-adds, not all of them -- with M = 32 and MR = 6, the
 * RNN's batch rows, that panel is one in six.  The rows past R stay zero and are not
 * stored. */
MK_TARGET static inline __attribute__((always_inline)) void MK_CAT(MK_NAME, _first)(const int R, size_t kc,
                                                                                     const MK_T *restrict a,
                                                                                     const MK_T *restrict b, MK_T *c,
                                                                                     size_t ldc, size_t mr, size_t nr,
                                                                                     MK_T alpha, MK_T beta)
{
    MK_V acc[MK_MR][MK_NV];
    MK_PROLOGUE(mr)
    for (size_t k = 0; k < kc; k++) {
        MK_V bv[MK_NV];
#pragma GCC unroll 4
        for (int v = 0; v < MK_NV; v++) bv[v] = MK_LOAD(b + v * MK_LANES);
#pragma GCC unroll 16
        for (int i = 0; i < R; i++) {
            MK_V ai = MK_BCAST(a[i]);
#pragma GCC unroll 4
            for (int v = 0; v < MK_NV; v++) acc[i][v] = MK_FMA(ai, bv[v], acc[i][v]);
        }
        __builtin_prefetch(a + 8 * MK_MR, 0, 3);
        a += MK_MR;
        b += MK_NV * MK_LANES;
    }
    MK_CAT(MK_NAME, _store)(acc, c, ldc, mr, nr, alpha, beta);
}

MK_TARGET static void MK_NAME(size_t kc, const MK_T *restrict a, const MK_T *restrict b, MK_T *c, size_t ldc,
                              size_t mr, size_t nr, MK_T alpha, MK_T beta)
{
    if (MK_MR > 2 && mr <= 2)
        MK_CAT(MK_NAME, _first)(2, kc, a, b, c, ldc, mr, nr, alpha, beta);
    else if (MK_MR > 4 && mr <= 4)
        MK_CAT(MK_NAME, _first)(4, kc, a, b, c, ldc, mr, nr, alpha, beta);
    else
        MK_CAT(MK_NAME, _first)(MK_MR, kc, a, b, c, ldc, mr, nr, alpha, beta);
}

/* A read in place: MR full rows of a row-major A (row i at a + i*lda), no packing. */
MK_TARGET static void MK_CAT(MK_NAME, _rows)(size_t kc, const MK_T *restrict a, size_t lda, const MK_T *restrict b,
                                             MK_T *c, size_t ldc, size_t nr, MK_T alpha, MK_T beta)
{
    MK_V acc[MK_MR][MK_NV];
    const MK_T *ar[MK_MR];
    for (size_t i = 0; i < MK_MR; i++) ar[i] = a + i * lda;
    MK_PROLOGUE(MK_MR)
    MK_LOOP(ar[i][k], (void)0)
    MK_CAT(MK_NAME, _store)(acc, c, ldc, MK_MR, nr, alpha, beta);
}

/* A read in place as MR consecutive columns of a row-major matrix (op(A) = A^T: element
 * (i, k) at a[k*lda + i]), no packing -- the k-th step's MR values side by side. */
MK_TARGET static void MK_CAT(MK_NAME, _cols)(size_t kc, const MK_T *restrict a, size_t lda, const MK_T *restrict b,
                                             MK_T *c, size_t ldc, size_t nr, MK_T alpha, MK_T beta)
{
    MK_V acc[MK_MR][MK_NV];
    MK_PROLOGUE(MK_MR)
    MK_LOOP(a[i], a += lda)
    MK_CAT(MK_NAME, _store)(acc, c, ldc, MK_MR, nr, alpha, beta);
}

/* c[0 : LANES] = beta c + alpha acc (with a bias: bias + alpha acc), as TN_GEMM_PUT. */
MK_TARGET static inline __attribute__((always_inline)) void MK_CAT(MK_NAME, _put)(MK_T *c, MK_V acc, MK_V va, MK_V vb,
                                                                                 MK_T alpha, MK_T beta,
                                                                                 const MK_T *bias)
{
    MK_V t = alpha == 1 ? acc : MK_MUL(va, acc);
    if (bias)
        t = MK_ADD(MK_LOAD(bias), t);
    else if (beta == 1)
        t = MK_ADD(MK_LOAD(c), t);
    else if (beta != 0)
        t = MK_ADD(MK_MUL(vb, MK_LOAD(c)), t);
    MK_STORE(c, t);
}

/* One tile of the direct path: R (4 or 6: a constant once inlined) rows of C, NV vectors
 * wide (_dtile: MK_NV; _dtile_half: half that; a macro, so that NV is a constant from the
 * start), with nothing packed -- row i's k-th A value at a[i*sr + k*sa] (A's rows read in
 * place: sa = 1, sr = lda; the columns of A^T: sa = lda, sr = 1) and B(k, j) at
 * b[k*sb + j] (B's rows read in place: sb = ldb).  Rows past mr repeat row 0 and are not
 * stored.  Each element is the same k-ordered FMA chain from 0 as in the kernels above;
 * with a bias (beta == 0 only), c = bias[j] + (alpha acc), the very addition the packed
 * path's add_bias makes after its tile. */
#define MK_DTILE(SUFFIX, NV)                                                                                           \
    MK_TARGET static inline __attribute__((always_inline)) void MK_CAT(MK_NAME, SUFFIX)(                               \
    const int R, size_t kc, const MK_T *a, size_t sa, size_t sr, const MK_T *restrict b, size_t sb,                    \
    MK_T *c, size_t ldc, size_t mr, size_t nr, MK_T alpha, MK_T beta, const MK_T *bias)                                \
{                                                                                                                      \
    MK_V acc[TN_DIRECT_MR_MAX][MK_NV];                                                                                 \
    const MK_T *ar[TN_DIRECT_MR_MAX];                                                                                  \
_Pragma("GCC unroll 8")                                                                                                \
    for (int i = 0; i < R; i++) {                                                                                      \
        ar[i] = a + ((size_t)i < mr ? (size_t)i : 0) * sr;                                                             \
_Pragma("GCC unroll 4")                                                                                                \
        for (int v = 0; v < NV; v++) acc[i][v] = MK_ZERO();                                                            \
    }                                                                                                                  \
    for (size_t k = 0; k < kc; k++) {                                                                                  \
        MK_V bv[MK_NV];                                                                                                \
_Pragma("GCC unroll 4")                                                                                                \
        for (int v = 0; v < NV; v++) bv[v] = MK_LOAD(b + v * MK_LANES);                                                \
_Pragma("GCC unroll 8")                                                                                                \
        for (int i = 0; i < R; i++) {                                                                                  \
            MK_V ai = MK_BCAST(*ar[i]);                                                                                \
            ar[i] += sa;                                                                                               \
_Pragma("GCC unroll 4")                                                                                                \
            for (int v = 0; v < NV; v++) acc[i][v] = MK_FMA(ai, bv[v], acc[i][v]);                                     \
        }                                                                                                              \
        b += sb;                                                                                                       \
    }                                                                                                                  \
    MK_V va = MK_BCAST(alpha), vb = MK_BCAST(beta);                                                                    \
    if (mr == (size_t)R && nr == (size_t)(NV * MK_LANES)) {                                                            \
        if (alpha == 1 && (bias || beta == 0)) { /* C = acc (+ bias): the common case, nothing to test per vector */   \
_Pragma("GCC unroll 8")                                                                                                \
            for (int i = 0; i < R; i++)                                                                                \
_Pragma("GCC unroll 4")                                                                                                \
                for (int v = 0; v < NV; v++)                                                                           \
                    MK_STORE(c + i * ldc + v * MK_LANES,                                                               \
                             bias ? MK_ADD(MK_LOAD(bias + v * MK_LANES), acc[i][v]) : acc[i][v]);                      \
            return;                                                                                                    \
        }                                                                                                              \
_Pragma("GCC unroll 8")                                                                                                \
        for (int i = 0; i < R; i++)                                                                                    \
_Pragma("GCC unroll 4")                                                                                                \
            for (int v = 0; v < NV; v++)                                                                               \
                MK_CAT(MK_NAME, _put)(c + i * ldc + v * MK_LANES, acc[i][v], va, vb, alpha, beta,                      \
                                      bias ? bias + v * MK_LANES : NULL);                                              \
        return;                                                                                                        \
    }                                                                                                                  \
    /* an edge tile, from a copy of the accumulators (constant indices keep them in registers                          \
     * on the path above): whole vectors as above, the last partial one element by element */                          \
    MK_T tile[TN_DIRECT_MR_MAX * MK_NV * MK_LANES];                                                                    \
_Pragma("GCC unroll 8")                                                                                                \
    for (int i = 0; i < R; i++)                                                                                        \
_Pragma("GCC unroll 4")                                                                                                \
        for (int v = 0; v < NV; v++) MK_STORE(tile + (i * NV + v) * MK_LANES, acc[i][v]);                              \
    for (size_t i = 0; i < mr; i++)                                                                                    \
        for (size_t v = 0; v < (size_t)NV && v * MK_LANES < nr; v++) {                                                 \
            MK_T *cv = c + i * ldc + v * MK_LANES;                                                                     \
            const MK_T *tv = tile + (i * NV + v) * MK_LANES, *bv = bias ? bias + v * MK_LANES : NULL;                  \
            if ((v + 1) * MK_LANES <= nr) {                                                                            \
                MK_CAT(MK_NAME, _put)(cv, MK_LOAD(tv), va, vb, alpha, beta, bv);                                       \
                continue;                                                                                              \
            }                                                                                                          \
            for (size_t j = 0; j < nr - v * MK_LANES; j++) {                                                           \
                TN_GEMM_PUT(cv[j], tv[j], alpha, beta);                                                                \
                if (bv) cv[j] = bv[j] + cv[j];                                                                         \
            }                                                                                                          \
        }                                                                                                              \
}
MK_DTILE(_dtile, MK_NV)
MK_DTILE(_dtile_half, MK_NV / 2)
#undef MK_DTILE

/* The direct path's kernel (tn_gemm_impl.h): one column panel of C (nr <= NV LANES
 * columns, B's panel at b with row stride sb) over all M rows, in tiles of 6 rows and,
 * to end on a whole tile, of 4 (M = 32: 6, 6, 6, 6, 4, 4).  A is read in place (rows,
 * or for trans_a the columns of A^T), or, given apanel (K x 6 elements: the caller's
 * choice when A^T's columns lie 4 KiB apart), copied one row panel at a time.  Panels
 * of MK_NV vectors (_direct) or half that (_direct_half: a last panel half a panel
 * holds, N = 200 with 16-column panels, no longer computed as a whole one). */
MK_TARGET static inline __attribute__((always_inline)) void MK_CAT(MK_NAME, _direct_nv)(
    const int NV, size_t kc, size_t M, const MK_T *A, size_t lda, int trans_a, MK_T *apanel, const MK_T *b, size_t sb,
    MK_T *c, size_t ldc, size_t nr, MK_T alpha, MK_T beta, const MK_T *bias)
{
    size_t sa0 = trans_a ? lda : 1, sr0 = trans_a ? 1 : lda;
    for (size_t i0 = 0; i0 < M;) {
        size_t left = M - i0, R = left >= 6 && left != 8 ? 6 : 4, mr = TN_MIN(R, left), sa = sa0, sr = sr0;
        const MK_T *a = A + i0 * sr0;
        if (apanel) { /* element (i, k) at apanel[k R + i] */
            for (size_t k = 0; k < kc; k++)
                for (size_t i = 0; i < R; i++) apanel[k * R + i] = a[(i < mr ? i : 0) * sr0 + k * sa0];
            a = apanel, sa = R, sr = 1;
        }
        if (NV == MK_NV && R == 6)
            MK_CAT(MK_NAME, _dtile)(6, kc, a, sa, sr, b, sb, c + i0 * ldc, ldc, mr, nr, alpha, beta, bias);
        else if (NV == MK_NV)
            MK_CAT(MK_NAME, _dtile)(4, kc, a, sa, sr, b, sb, c + i0 * ldc, ldc, mr, nr, alpha, beta, bias);
        else if (R == 6)
            MK_CAT(MK_NAME, _dtile_half)(6, kc, a, sa, sr, b, sb, c + i0 * ldc, ldc, mr, nr, alpha, beta, bias);
        else
            MK_CAT(MK_NAME, _dtile_half)(4, kc, a, sa, sr, b, sb, c + i0 * ldc, ldc, mr, nr, alpha, beta, bias);
        i0 += mr;
    }
}

#define MK_DIRECT_ARGS                                                                                                \
    size_t kc, size_t M, const MK_T *A, size_t lda, int trans_a, MK_T *apanel, const MK_T *b, size_t sb, MK_T *c,    \
        size_t ldc, size_t nr, MK_T alpha, MK_T beta, const MK_T *bias
MK_TARGET static void MK_CAT(MK_NAME, _direct)(MK_DIRECT_ARGS)
{
    MK_CAT(MK_NAME, _direct_nv)(MK_NV, kc, M, A, lda, trans_a, apanel, b, sb, c, ldc, nr, alpha, beta, bias);
}
MK_TARGET static void MK_CAT(MK_NAME, _direct_half)(MK_DIRECT_ARGS)
{
    MK_CAT(MK_NAME, _direct_nv)(MK_NV / 2, kc, M, A, lda, trans_a, apanel, b, sb, c, ldc, nr, alpha, beta, bias);
}
#undef MK_DIRECT_ARGS

/* One row of C against up to 4 B panels at once (np panels, panel q at b + q*pstride,
 * the last holding nr_last valid columns): for M = 1, where MR rows would be mostly
 * padding.  Each element is the same k-ordered FMA chain as in the kernel above, so the
 * bits agree; 4 panels x NV vectors keep enough independent chains in flight. */
MK_TARGET static void MK_ROW_NAME(size_t kc, const MK_T *restrict a, const MK_T *restrict b, size_t pstride, int np,
                                  MK_T *c, size_t nr_last, MK_T alpha, MK_T beta)
{
    MK_V acc[4][MK_NV];
#pragma GCC unroll 4
    for (int q = 0; q < 4; q++)
#pragma GCC unroll 4
        for (int v = 0; v < MK_NV; v++) acc[q][v] = MK_ZERO();
    if (np == 4) {
        for (size_t k = 0; k < kc; k++) {
            MK_V ak = MK_BCAST(a[k]);
#pragma GCC unroll 4
            for (int q = 0; q < 4; q++)
#pragma GCC unroll 4
                for (int v = 0; v < MK_NV; v++)
                    acc[q][v] = MK_FMA(ak, MK_LOAD(b + q * pstride + k * MK_NV * MK_LANES + v * MK_LANES), acc[q][v]);
        }
    } else {
        for (size_t k = 0; k < kc; k++) {
            MK_V ak = MK_BCAST(a[k]);
            for (int q = 0; q < np; q++)
#pragma GCC unroll 4
                for (int v = 0; v < MK_NV; v++)
                    acc[q][v] = MK_FMA(ak, MK_LOAD(b + q * pstride + k * MK_NV * MK_LANES + v * MK_LANES), acc[q][v]);
        }
    }
    MK_T tile[4 * MK_NV * MK_LANES];
#pragma GCC unroll 4
    for (int q = 0; q < 4; q++)
#pragma GCC unroll 4
        for (int v = 0; v < MK_NV; v++) MK_STORE(tile + (q * MK_NV + v) * MK_LANES, acc[q][v]);
    size_t n = (size_t)(np - 1) * MK_NV * MK_LANES + nr_last;
    for (size_t j = 0; j < n; j++) TN_GEMM_PUT(c[j], tile[j], alpha, beta);
}

#undef MK_NAME
#undef MK_ROW_NAME
#undef MK_LOOP
#undef MK_PROLOGUE
#undef MK_CAT
#undef MK_CAT_
#undef MK_T
#undef MK_TARGET
#undef MK_V
#undef MK_LANES
#undef MK_ZERO
#undef MK_LOAD
#undef MK_STORE
#undef MK_BCAST
#undef MK_FMA
#undef MK_MUL
#undef MK_ADD
#undef MK_MR
#undef MK_NV
