/* tn_gemm_impl.h -- the packed, blocked GEMM driver, written once; included by
 * tn_gemm.c with TN_T (element type) and TN_S (suffix) defined.
 *
 * C(M,N) = alpha op(A)(M,K) op(B)(K,N) + beta C, row-major.  Goto/BLIS structure:
 *   for jc over N in NC blocks, for pc over K in KC blocks:
 *     pack op(B)[pc, jc] into KC x NR column panels          (split over the team;
 *                                                             skipped if prepacked)
 *     for ic over M in MC blocks:
 *       pack op(A)[ic, pc] into MR x KC row panels           (split over the team)
 *       every (MR, NR) tile: microkernel over kc, then C = beta C + alpha acc, then
 *       after the last KC block the tile's epilogue          (split over the team)
 * The microkernel (MR, NR, instruction set) is chosen at run time; see tn_gemm.c.
 * Every C element is accumulated in k order by fused multiply-adds, one KC block after
 * another, and its epilogue is elementwise: the result does not depend on the tiling or
 * the thread count.
 *
 * A job can also run inside a team started by its caller (tn_gemm_member), so that a
 * recurrence (the RNN's time loop) keeps one team across all its steps. */

#define SF(name) TN_CAT3(name, _, TN_S)
#define FN(name) TN_CAT4(tn_, name, _, TN_S)
#define JOB FN(gemm_job)

/* A product for the teams of the direct path (gemm_direct) and of split K
 * (tn_gemm_split_k): C = beta C + alpha op(A) op(B) (+ bias), on a workspace. */
typedef struct {
    int trans_a, trans_b;
    size_t M, N, K;
    TN_T alpha, beta;
    const TN_T *A;
    size_t lda;
    const TN_T *B;
    size_t ldb;
    TN_T *C;
    size_t ldc;
    const TN_T *bias;
    TN_T *work;
    size_t panels;  /* direct: C's column panels */
    size_t nb, per; /* split K: K's blocks of KC, a member's share of work */
    TN_T *scratch;  /* split K: the blocks after the first, M x N each */
} TN_NAME(product_f32, product_f64);

/* Panel p of op(A)[i0 : i0+mc, k0 : k0+kc] for op(A) = A, element (i, k) at
 * dst[p*(kc*MR + TN_PANEL_PAD) + k*MR + i], zero-padded: rows read along memory. */
static void TN_NAME(pack_a_panel_f32, pack_a_panel_f64)(const JOB *g, TN_T *restrict dst, size_t i0, size_t mc,
    size_t k0, size_t kc, size_t p)
{
    size_t MR = g->MR, r0 = i0 + p * MR, mr = TN_MIN(MR, mc - p * MR);
    TN_T *d = dst + p * (kc * MR + TN_PANEL_PAD);
    for (size_t i = 0; i < mr; i++) {
        const TN_T *row = g->A + (r0 + i) * g->lda + k0;
        for (size_t k = 0; k < kc; k++) d[k * MR + i] = row[k];
    }
    for (size_t i = mr; i < MR; i++)
        for (size_t k = 0; k < kc; k++) d[k * MR + i] = 0;
}

/* d[0 : n] = row[0 : n], with the common panel widths as fixed-size copies (which the
 * compiler turns into a few vector moves rather than a memmove call). */
static inline void TN_NAME(copy_row_f32, copy_row_f64)(TN_T *restrict d, const TN_T *restrict row, size_t n)
{
    switch (n * sizeof(TN_T)) {
    case 128: memcpy(d, row, 128); break;
    case 64: memcpy(d, row, 64); break;
    case 48: memcpy(d, row, 48); break; /* (the A panels' MR rows: 6 or 8, in either dtype) */
    case 32: memcpy(d, row, 32); break;
    case 24: memcpy(d, row, 24); break;
    case 16: memcpy(d, row, 16); break;
    default:
        for (size_t j = 0; j < n; j++) d[j] = row[j];
    }
}

/* Member m's share of packing op(A)[i0 : i0+mc, k0 : k0+kc] into ceil(mc/MR) panels.
 * Both layouts are read along memory rows (a stride-lda walk down a column would touch
 * a new page per element): row panels are split over the team, and for op(A) = A^T the
 * k rows are.  direct: the full panels are read in place by the rows (cols) kernel, so
 * only a partial last panel is packed. */
static void TN_NAME(pack_a_f32, pack_a_f64)(const JOB *g, TN_T *restrict dst, size_t i0, size_t mc, size_t k0,
    size_t kc, int direct, tn_member *m)
{
    size_t MR = g->MR, np = (mc + MR - 1) / MR, b0, b1;
    if (!g->trans_a) {
        if (direct) {
            if (mc % MR && m->tid == m->n - 1) SF(pack_a_panel)(g, dst, i0, mc, k0, kc, np - 1);
            return;
        }
        tn_share(np, m->tid, m->n, &b0, &b1);
        for (size_t p = b0; p < b1; p++) SF(pack_a_panel)(g, dst, i0, mc, k0, kc, p);
    } else {
        size_t p0 = 0;
        if (direct) { /* only a partial last panel, as above */
            if (mc % MR == 0) return;
            p0 = np - 1;
        }
        /* 16 k rows at a time (their lines stay in L1 while every panel takes its MR
         * columns of them), so that each panel is written in runs, not MR elements at a
         * time 6 KiB apart */
        tn_share(kc, m->tid, m->n, &b0, &b1);
        for (size_t kb = b0; kb < b1; kb += 16) {
            size_t ke = TN_MIN(kb + 16, b1);
            for (size_t p = p0; p < np; p++) {
                size_t mr = TN_MIN(MR, mc - p * MR);
                TN_T *d = dst + p * (kc * MR + TN_PANEL_PAD);
                const TN_T *col = g->A + i0 + p * MR;
                for (size_t k = kb; k < ke; k++) {
                    SF(copy_row)(d + k * MR, col + (k0 + k) * g->lda, mr);
                    for (size_t i = mr; i < MR; i++) d[k * MR + i] = 0;
                }
            }
        }
    }
}

/* Member (tid of n)'s share of packing op(B)[k0 : k0+kc, j0 : j0+nc] into ceil(nc/NR)
 * panels, element (k, j) of panel q at dst[q*kc*NR + k*NR + j], zero-padded; read along
 * memory rows, as pack_a.  For op(B) = B^T the copy is a transpose: TB x TB blocks go
 * through the instruction set's register transpose, the edges element by element.
 * op(B) = B may come in two parts by rows: row k < split at lo + k*ldb (lo NULL: zeros),
 * row k >= split at B + (k - split)*ldb. */
static void TN_NAME(pack_b_f32, pack_b_f64)(int trans_b, const TN_T *B, size_t ldb, size_t split, const TN_T *lo,
    size_t NR, TN_T *restrict dst, size_t k0, size_t kc, size_t j0, size_t nc, int tid, int n)
{
    size_t nq = (nc + NR - 1) / NR, b0, b1;
    if (trans_b) {
        void (*transpose)(TN_T *, size_t, const TN_T *, size_t) = tn_isa_get()->TN_CAT3(transpose, _, TN_S);
        tn_share(nq, tid, n, &b0, &b1);
        for (size_t q = b0; q < b1; q++) {
            size_t c0 = j0 + q * NR, nr = TN_MIN(NR, nc - q * NR), jb = nr / TN_TB * TN_TB, kb = kc / TN_TB * TN_TB;
            TN_T *d = dst + q * kc * NR;
            for (size_t j = 0; j < jb; j += TN_TB) {
                for (size_t k = 0; k < kb; k += TN_TB) transpose(d + k * NR + j, NR, B + (c0 + j) * ldb + k0 + k, ldb);
                if (kb && kb < kc) /* the rest of k as one more block, overlapping the last (same values) */
                    transpose(d + (kc - TN_TB) * NR + j, NR, B + (c0 + j) * ldb + k0 + kc - TN_TB, ldb);
            }
            if (kb && kb < kc) kb = kc; /* (then done for the first jb columns) */
            for (size_t j = 0; j < nr; j++) {
                const TN_T *row = B + (c0 + j) * ldb + k0;
                for (size_t k = j < jb ? kb : 0; k < kc; k++) d[k * NR + j] = row[k];
            }
            for (size_t j = nr; j < NR; j++)
                for (size_t k = 0; k < kc; k++) d[k * NR + j] = 0;
        }
    } else {
        tn_share(kc, tid, n, &b0, &b1);
        for (size_t q = 0; q < nq; q++) /* panel by panel: each written in one sweep */
            for (size_t k = b0; k < b1; k++) {
                size_t kk = k0 + k;
                const TN_T *row = kk >= split ? B + (kk - split) * ldb + j0 : lo ? lo + kk * ldb + j0 : NULL;
                size_t nr = row ? TN_MIN(NR, nc - q * NR) : 0;
                TN_T *d = dst + q * kc * NR + k * NR;
                if (row) SF(copy_row)(d, row + q * NR, nr);
                for (size_t j = nr; j < NR; j++) d[j] = 0;
            }
    }
}

/* Where block (jc, pc) of a whole-matrix packing starts: full NC blocks before it hold
 * NC * K elements each; within its column block, KC blocks of ncp * kc. */
static size_t TN_NAME(packed_offset_f32, packed_offset_f64)(size_t jc, size_t pc, size_t N, size_t K, size_t NR)
{
    size_t nc = TN_MIN((size_t)TN_GEMM_NC, N - jc), ncp = (nc + NR - 1) / NR * NR;
    return jc * K + ncp * pc;
}

void TN_NAME(tn_gemm_pack_b_f32, tn_gemm_pack_b_f64)(int trans_b, size_t K, size_t N, const TN_T *B, size_t ldb,
    TN_T *packed)
{
    size_t NR = (size_t)tn_isa_get()->TN_CAT3(nr, _, TN_S);
    for (size_t jc = 0; jc < N; jc += TN_GEMM_NC) {
        size_t nc = TN_MIN((size_t)TN_GEMM_NC, N - jc);
        for (size_t pc = 0; pc < K; pc += TN_GEMM_KC) {
            size_t kc = TN_MIN((size_t)TN_GEMM_KC, K - pc);
            SF(pack_b)(trans_b, B, ldb, 0, NULL, NR, packed + SF(packed_offset)(jc, pc, N, K, NR), pc, kc, jc, nc, 0,
                       1);
        }
    }
}

/* c[i, j] = bias[j] + c[i, j] on an mr x nr tile: after a first KC block stored with
 * beta = 0, this is the very addition beta C + alpha acc makes when C holds the bias in
 * every row, so the bits do not change -- without writing the bias rows out first. */
TN_CLONES static void TN_NAME(add_bias_f32, add_bias_f64)(TN_T *c, size_t ldc, const TN_T *bias, size_t mr, size_t nr)
{
    for (size_t i = 0; i < mr; i++)
        for (size_t j = 0; j < nr; j++) c[i * ldc + j] = bias[j] + c[i * ldc + j];
}

/* Member (tid of n)'s share of packing columns [jc, jc + nc) of the job's op(B) and, from
 * column N1 on, of its second product's (see gemm_member). */
static void TN_NAME(pack_cols_f32, pack_cols_f64)(const JOB *g, size_t N1, size_t k0, size_t kc, size_t jc, size_t nc,
    int tid, int n)
{
    if (jc < g->N)
        SF(pack_b)(g->trans_b, g->B, g->ldb, g->b_split, g->b_lo, g->NR, g->packb, k0, kc, jc,
                   TN_MIN(jc + nc, g->N) - jc, tid, n);
    if (jc + nc > N1) {
        size_t s = TN_MAX(jc, N1); /* the first column of the second product in this block */
        SF(pack_b)(0, g->second.B, g->second.ldb, g->second.split, g->second.lo, g->NR, g->packb + (s - jc) * kc,
                   k0, kc, s - N1, jc + nc - s, tid, n);
    }
}

/* Ask for the epilogue operands of an mr x nr tile, into L2: a member calls it for its
 * next tile while this one computes (the operands are rows of arrays far bigger than the
 * caches, as the BPTT's dhs and hs, and the tiles' rows are too short for the hardware's
 * stream detection). */
static void TN_NAME(prefetch_operands_f32, prefetch_operands_f64)(const JOB *g, size_t i0, size_t j0, size_t mr,
    size_t nr)
{
    for (size_t i = 0; i < mr; i++) {
        const TN_T *rows[2] = {g->e1 + (i0 + i) * g->ldc + j0, g->e2 + (i0 + i) * g->ldc + j0};
        for (int r = 0; r < 2; r++) /* every cache line of the row's nr elements, wherever they start */
            for (uintptr_t p = (uintptr_t)rows[r] & ~(uintptr_t)63; p <= (uintptr_t)(rows[r] + nr - 1); p += 64)
                __builtin_prefetch((const void *)p, 0, 2);
    }
}

/* The tile's epilogue, after its last KC block. */
static void TN_NAME(epilogue_f32, epilogue_f64)(const JOB *g, size_t i0, size_t j0, size_t mr, size_t nr)
{
    size_t at = i0 * g->ldc + j0;
    if (g->epi == TN_EPI_TANH)
        g->tanh2d(g->C + at, g->ldc, mr, nr);
    else /* TN_EPI_DTANH: c = (c + e1) (1 - e2^2) */
        g->dtanh(g->C + at, g->e1 + at, g->e2 + at, g->ldc, mr, nr);
}

/* A job with a second product runs as one product over the columns of both: op(B)'s
 * [0, N), zero padding up to N1 (a whole number of panels), then op(B2)'s from N1 on; a
 * tile's column panel maps back to C or C2. */
TN_CLONES void TN_NAME(tn_gemm_member_f32, tn_gemm_member_f64)(const JOB *g, tn_member *m)
{
    size_t MR = g->MR, NR = g->NR, b0, b1;
    size_t N1 = g->second.N ? (g->N + NR - 1) / NR * NR : g->N, Nall = N1 + g->second.N;
    /* read A's full row panels (op(A) = A^T: column panels) in place, and a single row
     * always, unless its row stride is a multiple of 4 KiB (then MR rows, or a column's
     * kc values, would fight over the same L1 sets) */
    int aliased = (g->lda * sizeof(TN_T)) % 4096 == 0;
    int direct = g->trans_a ? g->M > 1 && !aliased : g->M == 1 || !aliased;
    for (size_t jc = 0; jc < Nall; jc += TN_GEMM_NC) {
        size_t nc = TN_MIN((size_t)TN_GEMM_NC, Nall - jc), nq = (nc + NR - 1) / NR;
        for (size_t pc = 0; pc < g->K; pc += TN_GEMM_KC) {
            size_t kc = TN_MIN((size_t)TN_GEMM_KC, g->K - pc);
            const TN_T *bias = pc == 0 ? g->bias : NULL;
            TN_T beta = bias ? 0 : pc == 0 ? g->beta : 1;
            const TN_T *packb;
            if (g->packed_b) {
                packb = g->packed_b + SF(packed_offset)(jc, pc, g->N, g->K, NR);
            } else {
                SF(pack_cols)(g, N1, pc, kc, jc, nc, m->tid, m->n);
                tn_barrier(m);
                packb = g->packb;
            }
            int last = pc + kc == g->K;
            for (size_t ic = 0; ic < g->M; ic += TN_GEMM_MC) {
                size_t mc = TN_MIN((size_t)TN_GEMM_MC, g->M - ic), np = (mc + MR - 1) / MR;
                SF(pack_a)(g, g->packa, ic, mc, pc, kc, direct, m);
                if (!direct || mc % MR) tn_barrier(m); /* (read in place: nothing was packed) */
                if (g->M == 1) { /* one row: groups of 4 B panels, the A "panel" a plain row */
                    size_t ng = (nq + 3) / 4;
                    tn_share(ng, m->tid, m->n, &b0, &b1);
                    for (size_t t = b0; t < b1; t++) {
                        size_t q0 = 4 * t, j0 = jc + q0 * NR;
                        int cnt = (int)TN_MIN((size_t)4, nq - q0);
                        size_t nr_last = TN_MIN(NR, nc - (q0 + (size_t)cnt - 1) * NR);
                        const TN_T *a = g->trans_a ? g->packa : g->A + pc; /* one row: in place when it is one */
                        g->row(kc, a, packb + q0 * kc * NR, kc * NR, cnt, g->C + j0, nr_last, g->alpha, beta);
                        if (bias) SF(add_bias)(g->C + j0, 0, bias + j0, 1, (size_t)(cnt - 1) * NR + nr_last);
                        if (last && g->epi) SF(epilogue)(g, 0, j0, 1, (size_t)(cnt - 1) * NR + nr_last);
                    }
                    tn_barrier(m);
                    continue;
                }
                /* tiles ordered B-panel major, so a B panel stays in L1 across A panels */
                tn_share(np * nq, m->tid, m->n, &b0, &b1);
                for (size_t t = b0, q = b0 / np, p = b0 % np; t < b1; t++, p = p + 1 < np ? p + 1 : (q++, 0)) {
                    size_t i0 = ic + p * MR, j0 = jc + q * NR;
                    size_t mr = TN_MIN(MR, mc - p * MR), nr, ldc = g->ldc;
                    TN_T *c;
                    if (j0 < N1) {
                        nr = TN_MIN(NR, g->N - j0), c = g->C + i0 * ldc + j0;
                    } else { /* the second product's */
                        size_t j = j0 - N1;
                        nr = TN_MIN(NR, g->second.N - j), ldc = g->second.ldc, c = g->second.C + i0 * ldc + j;
                    }
                    if (last && g->epi == TN_EPI_DTANH && t + 1 < b1) {
                        size_t pn = p + 1 < np ? p + 1 : 0, jn = pn ? j0 : j0 + NR;
                        SF(prefetch_operands)(g, ic + pn * MR, jn, TN_MIN(MR, mc - pn * MR), TN_MIN(NR, g->N - jn));
                    }
                    if (direct && mr == MR && g->trans_a)
                        g->cols(kc, g->A + pc * g->lda + i0, g->lda, packb + q * kc * NR, c, ldc, nr, g->alpha, beta);
                    else if (direct && mr == MR)
                        g->rows(kc, g->A + i0 * g->lda + pc, g->lda, packb + q * kc * NR, c, ldc, nr, g->alpha, beta);
                    else
                        g->micro(kc, g->packa + p * (kc * MR + TN_PANEL_PAD), packb + q * kc * NR, c, ldc, mr, nr,
                                 g->alpha, beta);
                    if (bias) SF(add_bias)(g->C + i0 * g->ldc + j0, g->ldc, bias + j0, mr, nr);
                    if (last && g->epi) SF(epilogue)(g, i0, j0, mr, nr);
                }
                tn_barrier(m);
            }
        }
    }
}

void TN_NAME(tn_gemm_init_f32, tn_gemm_init_f64)(JOB *g, int trans_a, int trans_b, size_t M, size_t N, size_t K,
    TN_T alpha, const TN_T *A, size_t lda, const TN_T *B, size_t ldb, TN_T beta, TN_T *C, size_t ldc, TN_T *work)
{
    const tn_isa *isa = tn_isa_get();
    *g = (JOB){0};
    g->trans_a = trans_a, g->trans_b = trans_b;
    g->M = M, g->N = N, g->K = K, g->lda = lda, g->ldb = ldb, g->ldc = ldc;
    g->MR = (size_t)isa->TN_CAT3(mr, _, TN_S), g->NR = (size_t)isa->TN_CAT3(nr, _, TN_S);
    g->alpha = alpha, g->beta = beta, g->A = A, g->B = B, g->C = C;
    g->packa = work;
    g->packb = work + packa_elems(M, K);
    g->micro = isa->TN_CAT3(micro, _, TN_S);
    g->row = isa->TN_CAT3(row, _, TN_S);
    g->rows = isa->TN_CAT3(rows, _, TN_S);
    g->cols = isa->TN_CAT3(cols, _, TN_S);
    g->dtanh = isa->TN_CAT3(dtanh, _, TN_S);
    g->tanh2d = isa->TN_CAT3(tanh2d, _, TN_S);
    if (M == 1) g->MR = 1; /* the row kernel reads A as a plain row */
    g->tanh = isa->TN_CAT3(tanh, _, TN_S);
}

static void TN_NAME(gemm_team_f32, gemm_team_f64)(void *ctx, tn_member *m) { FN(gemm_member)(ctx, m); }

/* The team of a recurrence whose steps are products of this size: threads only where a
 * step's work pays for the synchronisation. */
int TN_NAME(tn_gemm_threads_f32, tn_gemm_threads_f64)(size_t M, size_t N, size_t K)
{
    return 2.0 * (double)M * (double)N * (double)K < TN_GEMM_PARALLEL_FLOPS ? 1 : tn_get_num_threads();
}

/* Runs a job that tn_gemm_init set up (and the caller then extended), threaded as a
 * plain product of its size would be. */
void TN_NAME(tn_gemm_run_f32, tn_gemm_run_f64)(JOB *g)
{
    tn_team_run(tn_gemm_product_threads(g->M, g->N + g->second.N, g->K), SF(gemm_team), g);
}

/* The direct path (tn_gemm_direct_threads): tiles of 6 and 4 rows straight from the
 * operands, in column panels NR wide, the last one NR / 2 wide when that holds it.  A's
 * rows (or, for op(A) = A^T, its columns) are read in place, and so are B's rows when
 * op(B) = B; only op(B) = B^T, the last partial column panel, a row stride of a multiple
 * of 4 KiB (whose rows would all fall into the same L1 sets) and one that crowds enough
 * rows into a few of them (tn_rows_crowd_l1) get copied, one K x NR panel at a time, into
 * work -- or, for A^T with a 4 KiB multiple, one panel of A.  Column panel by column
 * panel, so a copied panel is made once and serves every row of C.  This computes rows
 * [i0, i1) of C and, of its column panels, those numbered [p0, p1). */
static void TN_NAME(gemm_direct_part_f32, gemm_direct_part_f64)(const SF(product) *d, size_t i0, size_t i1,
    size_t p0, size_t p1, TN_T *work)
{
    const tn_isa *isa = tn_isa_get();
    size_t NR = (size_t)isa->TN_CAT3(nrd, _, TN_S), M = i1 - i0, N = d->N, K = d->K, lda = d->lda, ldb = d->ldb;
    const TN_T *A = d->A + (d->trans_a ? i0 : i0 * lda), *B = d->B;
    TN_T *C = d->C + i0 * d->ldc, *bpanel = work, *apanel = work + TN_ROUND_UP(K * (size_t)TN_GEMM_TILE_MAX);
    int b_alias = (ldb * sizeof(TN_T)) % 4096 == 0 || tn_rows_crowd_l1(M, K, ldb * sizeof(TN_T));
    int a_alias = d->trans_a && (lda * sizeof(TN_T)) % 4096 == 0;
    size_t q = 0;
    for (size_t j0 = 0, W; j0 < N && q < p1; j0 += W, q++) {
        int half = N - j0 <= NR / 2; /* a last panel that half a panel holds is computed as one */
        W = half ? NR / 2 : NR;
        if (q < p0) continue;
        size_t nr = TN_MIN(W, N - j0), sb = ldb, jc = j0;
        if (nr < W && N >= W && d->beta == 0) /* the last panel whole, overlapping the one before (its */
            jc = N - W, nr = W;                /* columns computed twice, stored twice with the same bits) */
        const TN_T *b = B + jc;
        if (d->trans_b || nr < W || b_alias) {
            SF(pack_b)(d->trans_b, B, ldb, 0, NULL, W, bpanel, 0, K, jc, nr, 0, 1);
            b = bpanel, sb = W;
        }
        TN_CAT3(tn_direct_, , TN_S) kernel = half ? isa->TN_CAT3(direct_half, _, TN_S) : isa->TN_CAT3(direct, _, TN_S);
        kernel(K, M, A, lda, d->trans_a, a_alias ? apanel : NULL, b, sb, C + jc, d->ldc, nr, d->alpha, d->beta,
               d->bias ? d->bias + jc : NULL);
    }
}

/* A team member's part of a direct product: a share of the rows (in whole tiles of 6),
 * or, when C has fewer rows than columns and enough column panels for every member, a
 * share of the panels -- whichever carries less of the operands to the member's core.
 * Each member copies panels into its own part of the workspace. */
static void TN_NAME(gemm_direct_team_f32, gemm_direct_team_f64)(void *ctx, tn_member *m)
{
    const SF(product) *d = ctx;
    size_t b0, b1;
    TN_T *work = d->work + (size_t)m->tid * tn_gemm_direct_work(d->K);
    if (d->panels >= (size_t)m->n && d->M < d->N) {
        tn_share(d->panels, m->tid, m->n, &b0, &b1);
        SF(gemm_direct_part)(d, 0, d->M, b0, b1, work);
    } else {
        tn_share((d->M + 5) / 6, m->tid, m->n, &b0, &b1);
        if (b0 < b1) SF(gemm_direct_part)(d, 6 * b0, TN_MIN(d->M, 6 * b1), 0, SIZE_MAX, work);
    }
}

/* The direct path on n threads (each with tn_gemm_direct_work(K) of the workspace). */
static void TN_NAME(gemm_direct_f32, gemm_direct_f64)(int n, int trans_a, int trans_b, size_t M, size_t N, size_t K,
    TN_T alpha, const TN_T *A, size_t lda, const TN_T *B, size_t ldb, TN_T beta, TN_T *C, size_t ldc, const TN_T *bias,
    TN_T *work)
{
    SF(product) d = {trans_a, trans_b, M, N, K, alpha, beta, A, lda, B, ldb, C, ldc, bias, work, 0, 0, 0, NULL};
    if (n <= 1) {
        SF(gemm_direct_part)(&d, 0, M, 0, SIZE_MAX, work);
        return;
    }
    size_t NR = (size_t)tn_isa_get()->TN_CAT3(nrd, _, TN_S);
    d.panels = N / NR + (N % NR != 0); /* (a last partial panel, whole or half, is one) */
    tn_team_run(n, SF(gemm_direct_team), &d);
}

/* A member of a product whose K rows split between threads (tn_gemm_split_k): it takes
 * its share of the KC blocks of K, each a one-member packed job of its own (workspace:
 * `per` elements a member), block 0 into C and block p > 0 into scratch p - 1; then the
 * members add the blocks to C in order. */
static void TN_NAME(gemm_split_k_team_f32, gemm_split_k_team_f64)(void *ctx, tn_member *m)
{
    const SF(product) *s = ctx;
    size_t p0, p1, MN = TN_ROUND_UP(s->M * s->N);
    tn_member solo = {0, 1, 0};
    tn_share(s->nb, m->tid, m->n, &p0, &p1);
    for (size_t p = p0; p < p1; p++) {
        size_t k0 = p * TN_GEMM_KC, kc = TN_MIN((size_t)TN_GEMM_KC, s->K - k0);
        JOB g;
        FN(gemm_init)(&g, s->trans_a, s->trans_b, s->M, s->N, kc, s->alpha, s->A + (s->trans_a ? k0 * s->lda : k0),
                      s->lda, s->B + (s->trans_b ? k0 : k0 * s->ldb), s->ldb, p ? 0 : s->beta,
                      p ? s->scratch + (p - 1) * MN : s->C, p ? s->N : s->ldc, s->work + (size_t)m->tid * s->per);
        FN(gemm_member)(&g, &solo);
    }
    tn_barrier(m);
    /* C = (C + block 1) + block 2 ...: the additions of one thread's KC blocks (beta 1) */
    size_t r0, r1;
    tn_share(s->M, m->tid, m->n, &r0, &r1);
    for (size_t i = r0; i < r1; i++) {
        TN_T *c = s->C + i * s->ldc;
        for (size_t p = 1; p < s->nb; p++) {
            const TN_T *b = s->scratch + (p - 1) * MN + i * s->N;
            for (size_t j = 0; j < s->N; j++) c[j] = c[j] + b[j];
        }
    }
}

/* tn_gemm on a workspace of tn_gemm_split_k_work(M, N, K): as tn_gemm, but where the
 * product gets several threads and its K splits into whole KC blocks evenly enough
 * (tn_gemm_split_k_threads), each thread takes a share of the blocks -- the rows of a
 * weight gradient dy^T x that it computed itself, in the layers before.  The bits are
 * one thread's: each block's chain from 0, then C = block 0, C = C + block 1, ... as the
 * packed path adds its blocks (alpha times each, beta on block 0). */
void TN_NAME(tn_gemm_split_k_f32, tn_gemm_split_k_f64)(int trans_a, int trans_b, size_t M, size_t N, size_t K,
    TN_T alpha, const TN_T *A, size_t lda, const TN_T *B, size_t ldb, TN_T beta, TN_T *C, size_t ldc, TN_T *work)
{
    int n = tn_gemm_split_k_threads(M, N, K);
    if (n < 2 || alpha == 0) {
        FN(gemm)(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, work);
        return;
    }
    size_t nb = (K + TN_GEMM_KC - 1) / TN_GEMM_KC, per = tn_gemm_job_work(M, N, TN_GEMM_KC);
    SF(product) s = {trans_a, trans_b, M, N, K, alpha, beta, A, lda, B, ldb, C, ldc, NULL, work, 0, nb, per,
                     work + nb * per};
    tn_team_run(n, SF(gemm_split_k_team), &s);
}

void TN_NAME(tn_gemm_ex_f32, tn_gemm_ex_f64)(int trans_a, int trans_b, size_t M, size_t N, size_t K, TN_T alpha,
    const TN_T *A, size_t lda, const TN_T *B, size_t ldb, TN_T beta, TN_T *C, size_t ldc, const TN_T *bias, TN_T *work)
{
    if (M == 0 || N == 0) return;
    if (K == 0 || alpha == 0) {
        for (size_t i = 0; i < M; i++) {
            TN_T *ci = C + i * ldc;
            for (size_t j = 0; j < N; j++) ci[j] = bias ? bias[j] : beta == 0 ? 0 : beta * ci[j];
        }
        return;
    }
    if (tn_gemm_is_small(M, N, K)) {
        tn_isa_get()->TN_CAT3(small, _, TN_S)(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        if (bias)
            for (size_t i = 0; i < M; i++)
                for (size_t j = 0; j < N; j++) C[i * ldc + j] = bias[j] + C[i * ldc + j];
        return;
    }
    int n = tn_gemm_direct_threads(M, N, K);
    if (n > 0) {
        SF(gemm_direct)(n, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, bias, work);
        return;
    }
    JOB g;
    FN(gemm_init)(&g, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, work);
    g.bias = bias;
    FN(gemm_run)(&g);
}

void TN_NAME(tn_gemm_f32, tn_gemm_f64)(int trans_a, int trans_b, size_t M, size_t N, size_t K, TN_T alpha,
                                       const TN_T *A, size_t lda, const TN_T *B, size_t ldb, TN_T beta, TN_T *C,
                                       size_t ldc, TN_T *work)
{
    FN(gemm_ex)(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, NULL, work);
}

#undef SF
#undef FN
#undef JOB
