/* tn_gemm_impl.h -- the packed, blocked GEMM driver, written once; included by
 * tn_gemm.c with TN_T (element type) and TN_S (suffix) defined.
 *
 * C(M,N) = alpha op(A)(M,K) op(B)(K,N) + beta C, row-major.  Goto/BLIS structure:
 *   for jc over N in NC blocks, for pc over K in KC blocks:
 *     pack op(B)[pc, jc] into KC x NR column panels          (split over the team)
 *     for ic over M in MC blocks:
 *       pack op(A)[ic, pc] into MR x KC row panels           (split over the team)
 *       every (MR, NR) tile: microkernel over kc, then C = beta C + alpha acc
 *                                                            (split over the team)
 * The microkernel (MR, NR, instruction set) is chosen at run time; see tn_gemm.c.
 * Every C element is accumulated in k order by fused multiply-adds, one KC block
 * after another: the result does not depend on the tiling or the thread count. */

#define SF(name) TN_CAT3(name, _, TN_S)
#define FN(name) TN_CAT4(tn_, name, _, TN_S)
#define MICRO TN_CAT3(tn_micro, _, TN_S)

typedef struct {
    int trans_a, trans_b;
    size_t M, N, K, lda, ldb, ldc, MR, NR;
    TN_T alpha, beta;
    const TN_T *A, *B;
    TN_T *C, *packa, *packb;
    MICRO micro;
} SF(gemm_job);

/* Panel p of op(A)[i0 : i0+mc, k0 : k0+kc]: element (i, k) at dst[k*MR + i], zero-padded. */
static void SF(pack_a_panel)(const SF(gemm_job) *g, TN_T *restrict dst, size_t i0, size_t mc, size_t k0, size_t kc,
                             size_t p)
{
    size_t MR = g->MR, r0 = i0 + p * MR, mr = TN_MIN(MR, mc - p * MR);
    dst += p * kc * MR;
    if (!g->trans_a) {
        for (size_t i = 0; i < mr; i++) {
            const TN_T *row = g->A + (r0 + i) * g->lda + k0;
            for (size_t k = 0; k < kc; k++) dst[k * MR + i] = row[k];
        }
    } else {
        for (size_t k = 0; k < kc; k++) {
            const TN_T *col = g->A + (k0 + k) * g->lda + r0;
            for (size_t i = 0; i < mr; i++) dst[k * MR + i] = col[i];
        }
    }
    for (size_t i = mr; i < MR; i++)
        for (size_t k = 0; k < kc; k++) dst[k * MR + i] = 0;
}

/* Panel q of op(B)[k0 : k0+kc, j0 : j0+nc]: element (k, j) at dst[k*NR + j], zero-padded. */
static void SF(pack_b_panel)(const SF(gemm_job) *g, TN_T *restrict dst, size_t k0, size_t kc, size_t j0, size_t nc,
                             size_t q)
{
    size_t NR = g->NR, c0 = j0 + q * NR, nr = TN_MIN(NR, nc - q * NR);
    dst += q * kc * NR;
    if (!g->trans_b) {
        for (size_t k = 0; k < kc; k++) {
            const TN_T *row = g->B + (k0 + k) * g->ldb + c0;
            for (size_t j = 0; j < nr; j++) dst[k * NR + j] = row[j];
        }
    } else {
        for (size_t j = 0; j < nr; j++) {
            const TN_T *row = g->B + (c0 + j) * g->ldb + k0;
            for (size_t k = 0; k < kc; k++) dst[k * NR + j] = row[k];
        }
    }
    for (size_t j = nr; j < NR; j++)
        for (size_t k = 0; k < kc; k++) dst[k * NR + j] = 0;
}

static void SF(gemm_team)(void *ctx, tn_member *m)
{
    const SF(gemm_job) *g = ctx;
    size_t MR = g->MR, NR = g->NR, b0, b1;
    for (size_t jc = 0; jc < g->N; jc += TN_GEMM_NC) {
        size_t nc = TN_MIN((size_t)TN_GEMM_NC, g->N - jc), nq = (nc + NR - 1) / NR;
        for (size_t pc = 0; pc < g->K; pc += TN_GEMM_KC) {
            size_t kc = TN_MIN((size_t)TN_GEMM_KC, g->K - pc);
            TN_T beta = pc == 0 ? g->beta : 1;
            tn_share(nq, m->tid, m->n, &b0, &b1);
            for (size_t q = b0; q < b1; q++) SF(pack_b_panel)(g, g->packb, pc, kc, jc, nc, q);
            tn_barrier(m);
            for (size_t ic = 0; ic < g->M; ic += TN_GEMM_MC) {
                size_t mc = TN_MIN((size_t)TN_GEMM_MC, g->M - ic), np = (mc + MR - 1) / MR;
                tn_share(np, m->tid, m->n, &b0, &b1);
                for (size_t p = b0; p < b1; p++) SF(pack_a_panel)(g, g->packa, ic, mc, pc, kc, p);
                tn_barrier(m);
                /* tiles ordered B-panel major, so a B panel stays in L1 across A panels */
                tn_share(np * nq, m->tid, m->n, &b0, &b1);
                for (size_t t = b0; t < b1; t++) {
                    size_t q = t / np, p = t % np;
                    g->micro(kc, g->packa + p * kc * MR, g->packb + q * kc * NR,
                             g->C + (ic + p * MR) * g->ldc + jc + q * NR, g->ldc, TN_MIN(MR, mc - p * MR),
                             TN_MIN(NR, nc - q * NR), g->alpha, beta);
                }
                tn_barrier(m);
            }
        }
    }
}

void FN(gemm)(int trans_a, int trans_b, size_t M, size_t N, size_t K, TN_T alpha, const TN_T *A, size_t lda,
              const TN_T *B, size_t ldb, TN_T beta, TN_T *C, size_t ldc, TN_T *work)
{
    if (M == 0 || N == 0) return;
    if (K == 0 || alpha == 0) {
        for (size_t i = 0; i < M; i++) {
            TN_T *ci = C + i * ldc;
            for (size_t j = 0; j < N; j++) ci[j] = beta == 0 ? 0 : beta * ci[j];
        }
        return;
    }
    const tn_isa *isa = tn_isa_get();
    size_t mc_max = TN_MIN(M, (size_t)TN_GEMM_MC), kc_max = TN_MIN(K, (size_t)TN_GEMM_KC);
    SF(gemm_job) g = {trans_a, trans_b, M, N, K, lda, ldb, ldc, (size_t)isa->TN_CAT3(mr, _, TN_S),
                      (size_t)isa->TN_CAT3(nr, _, TN_S), alpha, beta, A, B, C, work,
                      work + TN_ROUND_UP((mc_max + TN_GEMM_TILE_MAX) * kc_max), isa->TN_CAT3(micro, _, TN_S)};
    /* threads only where the work pays for the synchronisation */
    double flops = 2.0 * (double)M * (double)N * (double)K;
    int n = flops < TN_GEMM_PARALLEL_FLOPS ? 1 : tn_get_num_threads();
    tn_team_run(n, SF(gemm_team), &g);
}

#undef SF
#undef FN
#undef MICRO
