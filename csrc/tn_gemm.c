/* tn_gemm.c -- GEMM microkernels for each instruction set, chosen once at run time
 * (__builtin_cpu_supports; TINYNET_SIMD=generic|avx2|avx512 forces a lower one), and the
 * packed GEMM driver instantiated for float and double.  No -march flags: the SIMD code
 * is compiled through target attributes, so the binary runs on any x86-64 (and the
 * portable C kernel everywhere else). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "tn_internal.h"

#if defined(__x86_64__) || defined(__i386__)
#define TN_X86 1
#include <immintrin.h>
#endif

/* The A panels' share of a GEMM workspace (they come first): a block's ceil(mc / MR)
 * panels of kc x MR plus TN_PANEL_PAD each, for the larger of the two dtypes' needs. */
static size_t packa_elems(size_t M, size_t K)
{
    const tn_isa *isa = tn_isa_get();
    size_t mc = TN_MIN(M, (size_t)TN_GEMM_MC), kc = TN_MIN(K, (size_t)TN_GEMM_KC), need = 0;
    for (int d = 0; d < 2; d++) {
        size_t MR = (size_t)(d ? isa->mr_f64 : isa->mr_f32);
        need = TN_MAX(need, (mc + MR - 1) / MR * (MR * kc + TN_PANEL_PAD));
    }
    return TN_ROUND_UP(need);
}

/* The direct path's workspace: one K x NR panel of B and one of A, at most. */
size_t tn_gemm_direct_work(size_t K)
{
    return TN_ROUND_UP(K * (size_t)TN_GEMM_TILE_MAX) + TN_ROUND_UP(K * (size_t)TN_DIRECT_MR_MAX);
}

size_t tn_gemm_work(size_t M, size_t N, size_t K)
{
    if (M == 0 || N == 0 || K == 0) return 0;
    if (tn_gemm_is_small(M, N, K)) return 0; /* the small path packs nothing */
    if (tn_gemm_is_direct(M, N, K)) return tn_gemm_direct_work(K);
    return tn_gemm_job_work(M, N, K);
}

int tn_gemm_product_threads(size_t M, size_t N, size_t K)
{
    double shares = tn_gemm_shares(M, N, K);
    int n = tn_get_num_threads();
    return shares < 2 ? 1 : shares < n ? (int)shares : n;
}

int tn_gemm_direct_threads(size_t M, size_t N, size_t K)
{
    if (M < 2 || K > TN_GEMM_KC || tn_gemm_is_small(M, N, K)) return 0;
    if (tn_gemm_shares(M, N, K) < 2) return 1; /* the workspace sized for it (tn_gemm_work) */
    size_t fit = tn_gemm_job_work(M, N, K) / tn_gemm_direct_work(K); /* direct workspaces it holds */
    int n = tn_gemm_product_threads(M, N, K);
    return (size_t)n < fit ? n : (int)fit;
}

/* The KC blocks of a product that may split its K between threads (tn_gemm_split_k),
 * 0 if it may not: 2 to TN_SPLIT_K_BLOCKS blocks, a product big enough for a second
 * thread, its blocks after the first (M x N each) at most TN_SPLIT_K_ELEMS values. */
static size_t split_k_blocks(size_t M, size_t N, size_t K)
{
    size_t nb = (K + TN_GEMM_KC - 1) / TN_GEMM_KC;
    if (M < 2 || N == 0 || nb < 2 || nb > TN_SPLIT_K_BLOCKS || tn_gemm_shares(M, N, K) < 2) return 0;
    return M <= TN_SPLIT_K_ELEMS / N / (nb - 1) ? nb : 0;
}

size_t tn_gemm_split_k_work(size_t M, size_t N, size_t K)
{
    size_t nb = split_k_blocks(M, N, K);
    return nb ? nb * tn_gemm_job_work(M, N, TN_GEMM_KC) + (nb - 1) * TN_ROUND_UP(M * N) : 0;
}

int tn_gemm_split_k_threads(size_t M, size_t N, size_t K)
{
    size_t nb = split_k_blocks(M, N, K), b0, b1, most = 0;
    int n = nb ? tn_gemm_product_threads(M, N, K) : 1;
    if (n > (int)nb) n = (int)nb;
    if (n < 2) return 1;
    for (int t = 0; t < n; t++) { /* the most rows of K a member takes: within a quarter of an even share */
        tn_share(nb, t, n, &b0, &b1);
        most = TN_MAX(most, TN_MIN(b1 * TN_GEMM_KC, K) - b0 * TN_GEMM_KC);
    }
    return 4 * most * (size_t)n <= 5 * K ? n : 1;
}

size_t tn_gemm_job_work(size_t M, size_t N, size_t K)
{
    const tn_isa *isa = tn_isa_get();
    size_t NR = (size_t)TN_MAX(isa->nr_f32, isa->nr_f64);
    size_t cols = (TN_MIN(N, (size_t)TN_GEMM_NC) + NR - 1) / NR * NR;
    return packa_elems(M, K) + TN_ROUND_UP(cols * TN_MIN(K, (size_t)TN_GEMM_KC)); /* bounded by constants */
}

/* ---------------------------------------------------------------- microkernels */

/* portable C: 4 x 4 tiles of scalars, with fma() so that every path rounds alike */
#define MK_NAME micro_generic_f32
#define MK_ROW_NAME row_generic_f32
#define MK_T float
#define MK_TARGET
#define MK_V float
#define MK_LANES 1
#define MK_ZERO() 0.0f
#define MK_LOAD(p) (*(p))
#define MK_STORE(p, v) (*(p) = (v))
#define MK_BCAST(x) (x)
#define MK_FMA(a, b, c) fmaf(a, b, c)
#define MK_MUL(a, b) ((a) * (b))
#define MK_ADD(a, b) ((a) + (b))
#define MK_MR 4
#define MK_NV 4
#include "tn_micro_impl.h"

#define MK_NAME micro_generic_f64
#define MK_ROW_NAME row_generic_f64
#define MK_T double
#define MK_TARGET
#define MK_V double
#define MK_LANES 1
#define MK_ZERO() 0.0
#define MK_LOAD(p) (*(p))
#define MK_STORE(p, v) (*(p) = (v))
#define MK_BCAST(x) (x)
#define MK_FMA(a, b, c) fma(a, b, c)
#define MK_MUL(a, b) ((a) * (b))
#define MK_ADD(a, b) ((a) + (b))
#define MK_MR 4
#define MK_NV 4
#include "tn_micro_impl.h"

#ifdef TN_X86
/* AVX2 + FMA: 6 x 16 (float) and 6 x 8 (double) tiles, 12 accumulators of 256 bits */
#define MK_NAME micro_avx2_f32
#define MK_ROW_NAME row_avx2_f32
#define MK_T float
#define MK_TARGET __attribute__((target("avx2,fma")))
#define MK_V __m256
#define MK_LANES 8
#define MK_ZERO() _mm256_setzero_ps()
#define MK_LOAD(p) _mm256_loadu_ps(p)
#define MK_STORE(p, v) _mm256_storeu_ps(p, v)
#define MK_BCAST(x) _mm256_set1_ps(x)
#define MK_FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define MK_MUL(a, b) _mm256_mul_ps(a, b)
#define MK_ADD(a, b) _mm256_add_ps(a, b)
#define MK_MR 6
#define MK_NV 2
#include "tn_micro_impl.h"

#define MK_NAME micro_avx2_f64
#define MK_ROW_NAME row_avx2_f64
#define MK_T double
#define MK_TARGET __attribute__((target("avx2,fma")))
#define MK_V __m256d
#define MK_LANES 4
#define MK_ZERO() _mm256_setzero_pd()
#define MK_LOAD(p) _mm256_loadu_pd(p)
#define MK_STORE(p, v) _mm256_storeu_pd(p, v)
#define MK_BCAST(x) _mm256_set1_pd(x)
#define MK_FMA(a, b, c) _mm256_fmadd_pd(a, b, c)
#define MK_MUL(a, b) _mm256_mul_pd(a, b)
#define MK_ADD(a, b) _mm256_add_pd(a, b)
#define MK_MR 6
#define MK_NV 2
#include "tn_micro_impl.h"

/* AVX-512: 8 x 32 (float) and 8 x 16 (double) tiles, 16 accumulators of 512 bits */
#define MK_NAME micro_avx512_f32
#define MK_ROW_NAME row_avx512_f32
#define MK_T float
#define MK_TARGET __attribute__((target("avx512f")))
#define MK_V __m512
#define MK_LANES 16
#define MK_ZERO() _mm512_setzero_ps()
#define MK_LOAD(p) _mm512_loadu_ps(p)
#define MK_STORE(p, v) _mm512_storeu_ps(p, v)
#define MK_BCAST(x) _mm512_set1_ps(x)
#define MK_FMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define MK_MUL(a, b) _mm512_mul_ps(a, b)
#define MK_ADD(a, b) _mm512_add_ps(a, b)
#define MK_MR 8
#define MK_NV 2
#include "tn_micro_impl.h"

#define MK_NAME micro_avx512_f64
#define MK_ROW_NAME row_avx512_f64
#define MK_T double
#define MK_TARGET __attribute__((target("avx512f")))
#define MK_V __m512d
#define MK_LANES 8
#define MK_ZERO() _mm512_setzero_pd()
#define MK_LOAD(p) _mm512_loadu_pd(p)
#define MK_STORE(p, v) _mm512_storeu_pd(p, v)
#define MK_BCAST(x) _mm512_set1_pd(x)
#define MK_FMA(a, b, c) _mm512_fmadd_pd(a, b, c)
#define MK_MUL(a, b) _mm512_mul_pd(a, b)
#define MK_ADD(a, b) _mm512_add_pd(a, b)
#define MK_MR 8
#define MK_NV 2
#include "tn_micro_impl.h"
#endif

/* The small path: C = beta C + alpha (op(A) op(B)), each element a k-ordered chain of
 * fused multiply-adds from 0 -- exactly the microkernels' arithmetic, so a product
 * has the same bits whichever path computes it. */
#define SMALL_LOOP(T, FMA, AIK, BKJ)                                                                                 \
    for (size_t i = 0; i < M; i++) {                                                                                  \
        T *ci = C + i * ldc;                                                                                          \
        for (size_t j = 0; j < N; j++) {                                                                              \
            T acc = 0;                                                                                                \
            for (size_t k = 0; k < K; k++) acc = FMA(AIK, BKJ, acc);                                                  \
            TN_GEMM_PUT(ci[j], acc, alpha, beta);                                                                     \
        }                                                                                                             \
    }
#define SMALL_BODY(T, FMA)                                                                                           \
    if (!ta && !tb)                                                                                                   \
        SMALL_LOOP(T, FMA, A[i * lda + k], B[k * ldb + j])                                                            \
    else if (!ta)                                                                                                     \
        SMALL_LOOP(T, FMA, A[i * lda + k], B[j * ldb + k])                                                            \
    else if (!tb)                                                                                                     \
        SMALL_LOOP(T, FMA, A[k * lda + i], B[k * ldb + j])                                                            \
    else                                                                                                              \
        SMALL_LOOP(T, FMA, A[k * lda + i], B[j * ldb + k])

#define SMALL_FN(name, T, FMA, TARGET)                                                                               \
    TARGET static void name(int ta, int tb, size_t M, size_t N, size_t K, T alpha, const T *A, size_t lda,            \
                            const T *B, size_t ldb, T beta, T *C, size_t ldc)                                         \
    {                                                                                                                 \
        SMALL_BODY(T, FMA)                                                                                            \
    }

SMALL_FN(small_generic_f32, float, fmaf, )
SMALL_FN(small_generic_f64, double, fma, )
#ifdef TN_X86
/* the same C, with the FMA instruction available so fma() becomes one instruction */
SMALL_FN(small_fma_f32, float, fmaf, __attribute__((target("fma"))))
SMALL_FN(small_fma_f64, double, fma, __attribute__((target("fma"))))
#endif

/* Block transposes for packing op(B) = B^T: dst[k*ldd + j] = src[j*lds + k]. */
#define TB_F32 8
#define TB_F64 4
static void transpose_generic_f32(float *dst, size_t ldd, const float *src, size_t lds)
{
    for (size_t j = 0; j < TB_F32; j++)
        for (size_t k = 0; k < TB_F32; k++) dst[k * ldd + j] = src[j * lds + k];
}
static void transpose_generic_f64(double *dst, size_t ldd, const double *src, size_t lds)
{
    for (size_t j = 0; j < TB_F64; j++)
        for (size_t k = 0; k < TB_F64; k++) dst[k * ldd + j] = src[j * lds + k];
}
#ifdef TN_X86
/* Rows j and j + 4 share a register (the low and the high 128 bits), so the 4 x 4
 * transposes within the two halves give whole rows of dst: no lane-crossing permute,
 * which is several micro-ops on some CPUs (the halves are loaded straight into place). */
__attribute__((target("avx2"))) static void transpose_avx2_f32(float *dst, size_t ldd, const float *src, size_t lds)
{
#define TR_PAIR(j, k) _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(src + (j) * lds + (k))),              \
                                           _mm_loadu_ps(src + ((j) + 4) * lds + (k)), 1)
    for (size_t k = 0; k < 8; k += 4) { /* dst rows k .. k + 3 from columns k .. k + 3 of src */
        __m256 r0 = TR_PAIR(0, k), r1 = TR_PAIR(1, k), r2 = TR_PAIR(2, k), r3 = TR_PAIR(3, k);
        __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
        __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
        _mm256_storeu_ps(dst + (k + 0) * ldd, _mm256_shuffle_ps(t0, t2, 0x44));
        _mm256_storeu_ps(dst + (k + 1) * ldd, _mm256_shuffle_ps(t0, t2, 0xEE));
        _mm256_storeu_ps(dst + (k + 2) * ldd, _mm256_shuffle_ps(t1, t3, 0x44));
        _mm256_storeu_ps(dst + (k + 3) * ldd, _mm256_shuffle_ps(t1, t3, 0xEE));
    }
#undef TR_PAIR
}
__attribute__((target("avx2"))) static void transpose_avx2_f64(double *dst, size_t ldd, const double *src, size_t lds)
{
#define TR_PAIR(j, k) _mm256_insertf128_pd(_mm256_castpd128_pd256(_mm_loadu_pd(src + (j) * lds + (k))),              \
                                           _mm_loadu_pd(src + ((j) + 2) * lds + (k)), 1)
    for (size_t k = 0; k < 4; k += 2) { /* (rows j and j + 2 share a register, as above) */
        __m256d r0 = TR_PAIR(0, k), r1 = TR_PAIR(1, k);
        _mm256_storeu_pd(dst + (k + 0) * ldd, _mm256_unpacklo_pd(r0, r1));
        _mm256_storeu_pd(dst + (k + 1) * ldd, _mm256_unpackhi_pd(r0, r1));
    }
#undef TR_PAIR
}
#endif

/* ----------------------------------------------------------------- dispatch */

static const tn_isa isa_generic = {
    "generic",          4, 4, 4, 4,
    micro_generic_f32,  micro_generic_f64,
    micro_generic_f32_rows, micro_generic_f64_rows,
    micro_generic_f32_cols, micro_generic_f64_cols,
    row_generic_f32,    row_generic_f64,
    small_generic_f32,  small_generic_f64,
    tn_tanh_generic_f32, tn_tanh_generic_f64,
    tn_exp_generic_f32, tn_exp_generic_f64,
    transpose_generic_f32, transpose_generic_f64,
    tn_tanh_generic_f32_2d, tn_tanh_generic_f64_2d,
    tn_dtanh_generic_f32, tn_dtanh_generic_f64,
    tn_tanh_generic_f32, tn_tanh_generic_f64,
    tn_rnn_small_generic_f32, tn_rnn_small_generic_f64,
    4, 4, micro_generic_f32_direct, micro_generic_f64_direct,
    micro_generic_f32_direct_half, micro_generic_f64_direct_half,
};
#ifdef TN_X86
static const tn_isa isa_avx2 = {
    "avx2",             6, 16, 6, 8,
    micro_avx2_f32,     micro_avx2_f64,
    micro_avx2_f32_rows, micro_avx2_f64_rows,
    micro_avx2_f32_cols, micro_avx2_f64_cols,
    row_avx2_f32,       row_avx2_f64,
    small_fma_f32,      small_fma_f64,
    tn_tanh_avx2_f32,   tn_tanh_avx2_f64,
    tn_exp_avx2_f32,    tn_exp_avx2_f64,
    transpose_avx2_f32, transpose_avx2_f64,
    tn_tanh_avx2_f32_2d, tn_tanh_avx2_f64_2d,
    tn_dtanh_avx2_f32,  tn_dtanh_avx2_f64,
    tn_tanh_avx2_f32,   tn_tanh_avx2_f64,
    tn_rnn_small_fma_f32, tn_rnn_small_fma_f64,
    16, 8, micro_avx2_f32_direct, micro_avx2_f64_direct,
    micro_avx2_f32_direct_half, micro_avx2_f64_direct_half,
};
static const tn_isa isa_avx512 = {
    "avx512",           8, 32, 8, 16,
    micro_avx512_f32,   micro_avx512_f64,
    micro_avx512_f32_rows, micro_avx512_f64_rows,
    micro_avx512_f32_cols, micro_avx512_f64_cols,
    row_avx512_f32,     row_avx512_f64,
    small_fma_f32,      small_fma_f64,
    tn_tanh_avx512_f32, tn_tanh_avx512_f64,
    tn_exp_avx512_f32, tn_exp_avx512_f64,
    transpose_avx2_f32, transpose_avx2_f64,
    tn_tanh_avx512_f32_2d, tn_tanh_avx512_f64_2d,
    tn_dtanh_avx512_f32, tn_dtanh_avx512_f64,
    tn_tanh_avx2_f32,   tn_tanh_avx2_f64,
    tn_rnn_small_fma_f32, tn_rnn_small_fma_f64,
    32, 16, micro_avx512_f32_direct, micro_avx512_f64_direct,
    micro_avx512_f32_direct_half, micro_avx512_f64_direct_half,
};
#endif
static const tn_isa *isa_chosen = &isa_generic;
static pthread_once_t isa_once = PTHREAD_ONCE_INIT;

static void choose_isa(void)
{
#ifdef TN_X86
    const char *force = getenv("TINYNET_SIMD");
    int cap = 2; /* the best the caller allows: 0 generic, 1 avx2, 2 avx512 */
    if (force && strcmp(force, "generic") == 0) cap = 0;
    if (force && strcmp(force, "avx2") == 0) cap = 1;
    __builtin_cpu_init();
    if (cap >= 2 && __builtin_cpu_supports("avx512f"))
        isa_chosen = &isa_avx512;
    else if (cap >= 1 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        isa_chosen = &isa_avx2;
#endif
}

const tn_isa *tn_isa_get(void)
{
    pthread_once(&isa_once, choose_isa);
    return isa_chosen;
}

const char *tn_simd_name(void) { return tn_isa_get()->name; }

/* ------------------------------------------------------------- the drivers */

#define TN_T float
#define TN_S f32
#define TN_TB TB_F32
#include "tn_gemm_impl.h"
#undef TN_TB
#undef TN_T
#undef TN_S

#define TN_T double
#define TN_S f64
#define TN_TB TB_F64
#include "tn_gemm_impl.h"

/* --------------------------------------------- the machine's limit, measured */

/* Fused multiply-adds on many independent registers, the best case of this
 * instruction set: returns the flops done (2 per lane per FMA) in `iters` rounds. */
#define PEAK_BODY(V, ZERO, BCAST, FMA, LANES)                                                                        \
    V acc[16], m = BCAST(0.999999), c = BCAST(1e-6);                                                                 \
    for (int i = 0; i < 16; i++) acc[i] = ZERO();                                                                     \
    for (size_t it = 0; it < iters; it++)                                                                            \
        for (int i = 0; i < 16; i++) acc[i] = FMA(acc[i], m, c);                                                      \
    V s = acc[0];                                                                                                     \
    for (int i = 1; i < 16; i++) s = FMA(s, m, acc[i]);                                                               \
    *sink = s;                                                                                                        \
    return 2.0 * 16 * (LANES) * (double)iters;

#define SCALAR_ZERO() 0
#define SCALAR_BCAST(x) (x)
static double peak_generic_f32(size_t iters, float *sink) { PEAK_BODY(float, SCALAR_ZERO, (float)SCALAR_BCAST, fmaf, 1) }
static double peak_generic_f64(size_t iters, double *sink) { PEAK_BODY(double, SCALAR_ZERO, SCALAR_BCAST, fma, 1) }
#ifdef TN_X86
__attribute__((target("avx2,fma"))) static double peak_avx2_f32(size_t iters, __m256 *sink)
{
    PEAK_BODY(__m256, _mm256_setzero_ps, _mm256_set1_ps, _mm256_fmadd_ps, 8)
}
__attribute__((target("avx2,fma"))) static double peak_avx2_f64(size_t iters, __m256d *sink)
{
    PEAK_BODY(__m256d, _mm256_setzero_pd, _mm256_set1_pd, _mm256_fmadd_pd, 4)
}
__attribute__((target("avx512f"))) static double peak_avx512_f32(size_t iters, __m512 *sink)
{
    PEAK_BODY(__m512, _mm512_setzero_ps, _mm512_set1_ps, _mm512_fmadd_ps, 16)
}
__attribute__((target("avx512f"))) static double peak_avx512_f64(size_t iters, __m512d *sink)
{
    PEAK_BODY(__m512d, _mm512_setzero_pd, _mm512_set1_pd, _mm512_fmadd_pd, 8)
}
#endif

double tn_fma_flops(int dbl, size_t iters)
{
    const char *name = tn_isa_get()->name;
    union {
        double d[8];
#ifdef TN_X86
        __m512 a;
        __m512d b;
#endif
    } sink;
#ifdef TN_X86
    if (strcmp(name, "avx512") == 0) return dbl ? peak_avx512_f64(iters, &sink.b) : peak_avx512_f32(iters, &sink.a);
    if (strcmp(name, "avx2") == 0)
        return dbl ? peak_avx2_f64(iters, (__m256d *)&sink) : peak_avx2_f32(iters, (__m256 *)&sink);
#endif
    (void)name;
    return dbl ? peak_generic_f64(iters, sink.d) : peak_generic_f32(iters, (float *)sink.d);
}
