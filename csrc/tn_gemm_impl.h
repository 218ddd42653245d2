/* tn_gemm_impl.h -- the packed GEMM, written once; included by tn_gemm.c with
 * TN_T (element type), TN_S (suffix), TN_MR, TN_NR (microkernel tile) defined.
 *
 * C(M,N) = alpha op(A)(M,K) op(B)(K,N) + beta C, row-major.  Goto/BLIS structure:
 *   for jc over N in NC blocks, for pc over K in KC blocks:
 *     pack op(B)[pc, jc] into KC x NR column panels (shared),
 *     for ic over M in MC blocks: pack op(A)[ic, pc] into MR x KC row panels,
 *       for each (MR, NR) tile: microkernel over kc, then scale/accumulate into C.
 * The reduction order of every C element is fixed by (M, N, K) alone. */

#define SF(name) TN_CAT3(name, _, TN_S)
#define FN(name) TN_CAT4(tn_, name, _, TN_S)

/* dst: ceil(mc/MR) panels of kc*MR, element (i, k) of a panel at k*MR + i. */
static void SF(pack_a)(TN_T *restrict dst, const TN_T *A, size_t lda, int trans, size_t i0,
                       size_t mc, size_t k0, size_t kc)
{
    for (size_t p = 0; p < mc; p += TN_MR) {
        size_t mr = TN_MIN((size_t)TN_MR, mc - p);
        for (size_t k = 0; k < kc; k++) {
            TN_T *d = dst + k * TN_MR;
            for (size_t i = 0; i < mr; i++) {
                size_t r = i0 + p + i, c = k0 + k;
                d[i] = trans ? A[c * lda + r] : A[r * lda + c];
            }
            for (size_t i = mr; i < TN_MR; i++) d[i] = 0;
        }
        dst += kc * TN_MR;
    }
}

/* dst: ceil(nc/NR) panels of kc*NR, element (k, j) of a panel at k*NR + j. */
static void SF(pack_b)(TN_T *restrict dst, const TN_T *B, size_t ldb, int trans, size_t k0,
                       size_t kc, size_t j0, size_t nc)
{
    for (size_t q = 0; q < nc; q += TN_NR) {
        size_t nr = TN_MIN((size_t)TN_NR, nc - q);
        for (size_t k = 0; k < kc; k++) {
            TN_T *d = dst + k * TN_NR;
            size_t r = k0 + k;
            if (!trans) {
                const TN_T *src = B + r * ldb + j0 + q;
                for (size_t j = 0; j < nr; j++) d[j] = src[j];
            } else {
                for (size_t j = 0; j < nr; j++) d[j] = B[(j0 + q + j) * ldb + r];
            }
            for (size_t j = nr; j < TN_NR; j++) d[j] = 0;
        }
        dst += kc * TN_NR;
    }
}

/* acc(MR,NR) = a-panel @ b-panel over kc; then C tile (mr x nr valid) =
 * beta C + alpha acc  (beta == 0: alpha acc, C not read). */
static void SF(micro)(size_t kc, const TN_T *restrict a, const TN_T *restrict b, TN_T *c,
                      size_t ldc, size_t mr, size_t nr, TN_T alpha, TN_T beta)
{
    TN_T acc[TN_MR][TN_NR];
    for (size_t i = 0; i < TN_MR; i++)
        for (size_t j = 0; j < TN_NR; j++) acc[i][j] = 0;
    for (size_t k = 0; k < kc; k++) {
        const TN_T *ak = a + k * TN_MR, *bk = b + k * TN_NR;
        for (size_t i = 0; i < TN_MR; i++)
            for (size_t j = 0; j < TN_NR; j++) acc[i][j] += ak[i] * bk[j];
    }
    for (size_t i = 0; i < mr; i++) {
        TN_T *ci = c + i * ldc;
        if (beta == 0)
            for (size_t j = 0; j < nr; j++) ci[j] = alpha * acc[i][j];
        else
            for (size_t j = 0; j < nr; j++) ci[j] = beta * ci[j] + alpha * acc[i][j];
    }
}

void FN(gemm)(int trans_a, int trans_b, size_t M, size_t N, size_t K, TN_T alpha,
              const TN_T *A, size_t lda, const TN_T *B, size_t ldb, TN_T beta, TN_T *C,
              size_t ldc, TN_T *work)
{
    if (M == 0 || N == 0) return;
    if (K == 0 || alpha == 0) {
        for (size_t i = 0; i < M; i++) {
            TN_T *ci = C + i * ldc;
            for (size_t j = 0; j < N; j++) ci[j] = beta == 0 ? 0 : beta * ci[j];
        }
        if (K == 0) return;
    }
    size_t mc_max = TN_MIN(M, (size_t)TN_GEMM_MC), kc_max = TN_MIN(K, (size_t)TN_GEMM_KC);
    TN_T *packa = work;
    TN_T *packb = work + (mc_max + TN_GEMM_TILE_MAX) * kc_max;
    for (size_t jc = 0; jc < N; jc += TN_GEMM_NC) {
        size_t nc = TN_MIN((size_t)TN_GEMM_NC, N - jc);
        for (size_t pc = 0; pc < K; pc += TN_GEMM_KC) {
            size_t kc = TN_MIN((size_t)TN_GEMM_KC, K - pc);
            TN_T b_ = pc == 0 ? beta : 1;
            SF(pack_b)(packb, B, ldb, trans_b, pc, kc, jc, nc);
            for (size_t ic = 0; ic < M; ic += TN_GEMM_MC) {
                size_t mc = TN_MIN((size_t)TN_GEMM_MC, M - ic);
                SF(pack_a)(packa, A, lda, trans_a, ic, mc, pc, kc);
                for (size_t jr = 0; jr < nc; jr += TN_NR) {
                    const TN_T *bp = packb + (jr / TN_NR) * kc * TN_NR;
                    for (size_t ir = 0; ir < mc; ir += TN_MR) {
                        const TN_T *ap = packa + (ir / TN_MR) * kc * TN_MR;
                        SF(micro)(kc, ap, bp, C + (ic + ir) * ldc + jc + jr, ldc,
                                  TN_MIN((size_t)TN_MR, mc - ir), TN_MIN((size_t)TN_NR, nc - jr),
                                  alpha, b_);
                    }
                }
            }
        }
    }
}

#undef SF
#undef FN
