/* tn_internal.h -- private helpers shared by the core's .c files (not installed). */
#ifndef TN_INTERNAL_H
#define TN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "tinynet.h"

#define TN_MIN(a, b) ((a) < (b) ? (a) : (b))
#define TN_MAX(a, b) ((a) > (b) ? (a) : (b))

/* GEMM blocking, in elements (shared by both dtypes so that tn_gemm_work is
 * dtype-independent).  A block of op(A) is MC x KC, a block of op(B) is KC x NC. */
#define TN_GEMM_MC 192
#define TN_GEMM_KC 256
#define TN_GEMM_NC 1024
/* Upper bound on any microkernel tile side (MR, NR) and on buffer alignment slack. */
#define TN_GEMM_TILE_MAX 32
/* Packed A panels lie this many elements further apart than their kc x MR contents.
 * With a stride that is a multiple of 4 KiB (kc = 256: 8 or 16 KiB) the same row of every
 * panel maps to the same L1 sets, and packing op(A) = A^T -- which writes all panels a
 * row at a time -- would thrash those sets. */
#define TN_PANEL_PAD 16
/* Elementwise and row-sum kernels compiled for AVX-512, AVX2 and baseline x86-64, the
 * best one bound at load time (GCC's function multiversioning).  They use only IEEE
 * operations on independent elements, never contracted into FMA (-std=c11) nor
 * reassociated, so every version gives the same bits -- only the vector width differs.
 * Elsewhere (and under TINYNET_SIMD, which governs the GEMM and tanh/exp kernels only)
 * plain C. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__GLIBC__) /* (ifunc) */
#define TN_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define TN_CLONES
#endif
/* Column sums (bias gradients, batch-norm statistics) add rows in order within blocks
 * of this many, then combine the blocks pairwise (tn_sums.c). */
#define TN_SUM_BLOCK 128
#define TN_SUM_W 32 /* ... columns at a time */
enum { TN_SUM_X, TN_SUM_DEV2, TN_SUM_XHAT_Y }; /* what col_sums adds */
/* Up to this many multiply-adds (and K <= KC) a GEMM skips packing. */
#define TN_GEMM_SMALL_MACS 4096

/* c = beta c + alpha acc, the last step of every GEMM path for one element of C, always
 * in these operations (beta == 0: c is not read, so NaN or garbage there is ignored). */
#define TN_GEMM_PUT(c, acc, alpha, beta)                                                                             \
    do {                                                                                                              \
    __typeof__(acc) t_ = (alpha) == 1 ? (acc) : (alpha) * (acc);                                                  \
    (c) = (beta) == 0 ? t_ : (beta) == 1 ? (c) + t_ : (beta) * (c) + t_;                                          \
    } while (0)

/* M N K <= TN_GEMM_SMALL_MACS and K <= KC, for M, N, K >= 1, without forming a product
 * that could wrap. */
static inline int tn_gemm_is_small(size_t M, size_t N, size_t K)
{
    return K <= TN_GEMM_KC && M <= TN_GEMM_SMALL_MACS / K && N <= TN_GEMM_SMALL_MACS / K / M;
}
/* Below this many flops a step, a recurrence's products (tn_rnn.c, tn_seq.c: one team for
 * all steps) run on one thread; its operands (W_hh, the state) stay in both cores' caches
 * from step to step. */
#define TN_GEMM_PARALLEL_FLOPS 400000.0
/* A single product gets one thread for each this many flops (so below twice this, one
 * thread): its operands come from the calling thread's cache and its result goes back
 * there, so a second core's share of the work must pay for carrying its part across. */
#define TN_GEMM_FLOPS_PER_THREAD 2500000.0
/* Should a K-row panel read in place, rows `stride` bytes apart, by the tiles of M rows
 * of C, be copied instead?  The L1 sets repeat every 4 KiB (64 sets of 64-byte lines),
 * and rows g bytes apart, g the largest power of two dividing the stride (at most 4 KiB),
 * start on only 4096 / g of them: r = K g / 4096 rows to each.  Above 4 they evict each
 * other, and every tile of M reads the panel again; the copy costs once per panel.  So:
 * r > 4 and M r >= 1024 (a 1 KiB stride: r = K / 4; 512 bytes: r = K / 8). */
static inline int tn_rows_crowd_l1(size_t M, size_t K, size_t stride)
{
    size_t g = stride & (~stride + 1);
    if (g == 0 || g > 4096) g = 4096;
    size_t r = K / (4096 / g);
    return r > 4 && M * r >= 1024;
}

/* A product's work in threads' shares (TN_GEMM_FLOPS_PER_THREAD each). */
static inline double tn_gemm_shares(size_t M, size_t N, size_t K)
{
    return 2.0 * (double)M * (double)N * (double)K / TN_GEMM_FLOPS_PER_THREAD;
}

/* The direct path (tn_gemm_impl.h): not small, but too small for a second thread, with
 * K <= KC and at least 2 rows (a single row keeps the packed path's one-row kernel). */
static inline int tn_gemm_is_direct(size_t M, size_t N, size_t K)
{
    return M >= 2 && K <= TN_GEMM_KC && !tn_gemm_is_small(M, N, K) && tn_gemm_shares(M, N, K) < 2;
}

/* One product's team: a thread per share, up to the set count (tn_gemm.c). */
int tn_gemm_product_threads(size_t M, size_t N, size_t K);

/* Splitting K between threads (tn_gemm_split_k, for linear_backward's weight gradient):
 * at most this many KC blocks, and this many values in the blocks after the first. */
#define TN_SPLIT_K_BLOCKS 4
#define TN_SPLIT_K_ELEMS (1u << 18)
/* tn_gemm_split_k's workspace where it may split the product (0 where it never does:
 * then tn_gemm_work's), and its thread count now (1: tn_gemm's path). */
size_t tn_gemm_split_k_work(size_t M, size_t N, size_t K);
int tn_gemm_split_k_threads(size_t M, size_t N, size_t K);
void tn_gemm_split_k_f32(int trans_a, int trans_b, size_t M, size_t N, size_t K, float alpha, const float *A,
                         size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc, float *work);
void tn_gemm_split_k_f64(int trans_a, int trans_b, size_t M, size_t N, size_t K, double alpha, const double *A,
                         size_t lda, const double *B, size_t ldb, double beta, double *C, size_t ldc, double *work);

/* The direct path's workspace for an inner dimension K (tn_gemm.c). */
size_t tn_gemm_direct_work(size_t K);
/* How many threads run a product on the direct path (0: it takes another path): every
 * product with K <= KC and at least 2 rows that is not small -- in place, its tiles cost
 * less than packing at any size -- on one thread when it is too small for a second
 * (tn_gemm_is_direct), else on tn_gemm_product_threads, as many as the packed path's
 * workspace, which the caller sized (tn_gemm_work or tn_gemm_job_work), holds direct
 * workspaces: checked here, so that a thread count changed in between cannot overrun it. */
int tn_gemm_direct_threads(size_t M, size_t N, size_t K);

/* Token pasting for the bodies written once for float and double (tn_template.h). */
#define TN_CAT3_(a, b, c) a##b##c
#define TN_CAT3(a, b, c) TN_CAT3_(a, b, c)
#define TN_CAT4_(a, b, c, d) a##b##c##d
#define TN_CAT4(a, b, c, d) TN_CAT4_(a, b, c, d)
#define TN_CAT2_(a, b) a##b
#define TN_CAT2(a, b) TN_CAT2_(a, b)
/* The name of a definition written once for both dtypes: its float and its double name,
 * both spelled out where it is defined, so that grep, ctags and a debugger's symbol lead
 * to that line (TN_S, set by tn_template.h, picks one):
 *     void TN_NAME(tn_relu_forward_f32, tn_relu_forward_f64)(TN_T *y, const TN_T *x, size_t n)
 * Calls inside a body use the short forms FN(relu_forward) / SF(helper) (tn_template.h). */
#define TN_NAME(f32, f64) TN_CAT2(TN_NAME_, TN_S)(f32, f64)
#define TN_NAME_f32(f32, f64) f32
#define TN_NAME_f64(f32, f64) f64

/* Scratch carving: a kernel takes n elements from its workspace rounded up to a
 * multiple of TN_ALIGN_ELEMS (64 bytes or more for both dtypes), so that every piece
 * stays as aligned as the workspace itself. */
#define TN_ALIGN_ELEMS 16
#define TN_ROUND_UP(n) ((((n) + TN_ALIGN_ELEMS - 1) / TN_ALIGN_ELEMS) * TN_ALIGN_ELEMS)

/* A team of threads (tn_threads.c): tn_team_run(n, fn, ctx) runs fn(ctx, member) on up
 * to n threads, the caller being member 0; tn_barrier(member) waits for the whole team.
 * Kernels split work so that each output element is computed by exactly the same
 * operations whatever the team size: results never depend on the thread count. */
typedef struct {
    int tid, n, sense;
} tn_member;
typedef void (*tn_team_fn)(void *ctx, tn_member *m);
void tn_team_run(int n, tn_team_fn fn, void *ctx);
void tn_barrier(tn_member *m);

/* Elementwise and row-wise kernels on the team: fn(ctx, i0, i1) over [0, n) in one
 * contiguous range per member, each a multiple of `grain` items (the last one excepted),
 * with a thread for every `per_thread` items, up to the set count (one below twice that:
 * the operands come from the calling thread's cache, and the second core's half must pay
 * for carrying it across).  Each item is computed the same way whoever computes it. */
typedef void (*tn_range_fn)(void *ctx, size_t i0, size_t i1);
void tn_parallel_ranges(size_t n, size_t grain, size_t per_thread, tn_range_fn fn, void *ctx);
/* ... for the elementwise kernels whose values cost a polynomial and a division or a root
 * (GELU, layer norm, the optimizers), about 15 us of one core's work */
#define TN_EW_PER_THREAD 32768

/* [*begin, *end): member tid's share of n items split into n_members contiguous chunks */
static inline void tn_share(size_t n, int tid, int n_members, size_t *begin, size_t *end)
{
    *begin = n * (size_t)tid / (size_t)n_members;
    *end = n * (size_t)(tid + 1) / (size_t)n_members;
}

/* The GEMM microkernel chosen for this CPU (tn_gemm.c). */
typedef void (*tn_micro_f32)(size_t kc, const float *a, const float *b, float *c, size_t ldc, size_t mr, size_t nr,
                             float alpha, float beta);
typedef void (*tn_micro_f64)(size_t kc, const double *a, const double *b, double *c, size_t ldc, size_t mr,
                             size_t nr, double alpha, double beta);
/* The small-GEMM path: the same k-ordered fused multiply-add chain per element as the
 * microkernels, without packing, for problems too small to pay for it. */
typedef void (*tn_small_f32)(int ta, int tb, size_t M, size_t N, size_t K, float alpha, const float *A, size_t lda,
                             const float *B, size_t ldb, float beta, float *C, size_t ldc);
typedef void (*tn_small_f64)(int ta, int tb, size_t M, size_t N, size_t K, double alpha, const double *A, size_t lda,
                             const double *B, size_t ldb, double beta, double *C, size_t ldc);
/* The microkernel reading A in place from MR full rows (row stride lda), or (_cols) from
 * MR columns (op(A) = A^T, element (i, k) at a[k*lda + i]). */
typedef void (*tn_rows_f32)(size_t kc, const float *a, size_t lda, const float *b, float *c, size_t ldc, size_t nr,
                            float alpha, float beta);
typedef void (*tn_rows_f64)(size_t kc, const double *a, size_t lda, const double *b, double *c, size_t ldc,
                            size_t nr, double alpha, double beta);
/* One row against up to 4 packed B panels (for M = 1). */
typedef void (*tn_row_f32)(size_t kc, const float *a, const float *b, size_t pstride, int np, float *c,
                           size_t nr_last, float alpha, float beta);
typedef void (*tn_row_f64)(size_t kc, const double *a, const double *b, size_t pstride, int np, double *c,
                           size_t nr_last, double alpha, double beta);
/* The direct path's kernel (tn_micro_impl.h): one column panel of C (B's panel in place,
 * row stride sb) over M rows of A read in place, in tiles of up to TN_DIRECT_MR_MAX rows;
 * apanel (K x TN_DIRECT_MR_MAX) or NULL; an optional bias. */
#define TN_DIRECT_MR_MAX 6
typedef void (*tn_direct_f32)(size_t kc, size_t M, const float *A, size_t lda, int trans_a, float *apanel,
                              const float *b, size_t sb, float *c, size_t ldc, size_t nr, float alpha, float beta,
                              const float *bias);
typedef void (*tn_direct_f64)(size_t kc, size_t M, const double *A, size_t lda, int trans_a, double *apanel,
                              const double *b, size_t sb, double *c, size_t ldc, size_t nr, double alpha,
                              double beta, const double *bias);
/* rnn_lm_loss with full BPTT where every product is a small GEMM (tn_rnn_small_fits):
 * the same arithmetic as the general kernel, in one function; tanh_fn and exp_fn are
 * the instruction set's array tanh and exp. */
typedef double tn_rnn_small_fn_f32(float *dW_xh, float *dW_hh, float *db_h, float *dW_hy, float *db_y,
    float *h_last, const int64_t *inputs, const int64_t *targets, const float *h0, const float *W_xh,
    const float *W_hh, const float *b_h, const float *W_hy, const float *b_y, size_t T, size_t B, size_t D, size_t H,
    size_t V, int mean, float *work, void (*tanh_fn)(float *, const float *, size_t),
    void (*exp_fn)(float *, const float *, size_t));
typedef double tn_rnn_small_fn_f64(double *dW_xh, double *dW_hh, double *db_h, double *dW_hy, double *db_y,
    double *h_last, const int64_t *inputs, const int64_t *targets, const double *h0, const double *W_xh,
    const double *W_hh, const double *b_h, const double *W_hy, const double *b_y, size_t T, size_t B, size_t D,
    size_t H, size_t V, int mean, double *work, void (*tanh_fn)(double *, const double *, size_t),
    void (*exp_fn)(double *, const double *, size_t));
typedef tn_rnn_small_fn_f32 *tn_rnn_small_f32;
typedef tn_rnn_small_fn_f64 *tn_rnn_small_f64;
tn_rnn_small_fn_f32 tn_rnn_small_generic_f32, tn_rnn_small_fma_f32;
tn_rnn_small_fn_f64 tn_rnn_small_generic_f64, tn_rnn_small_fma_f64;

/* Does rnn_lm_loss fit the tiny path: T, B, H, V >= 1, at most TN_SUM_BLOCK rows T B
 * (where the general kernel's column sums are plain row-order sums), and every product
 * of its forward and backward (B x H x H per step, TB x V x H for the output layer,
 * H x H x TB for dW_hh) a small GEMM -- in particular no inner dimension above KC, where
 * the general GEMM would split the k chain into blocks. */
static inline int tn_rnn_small_fits(size_t T, size_t B, size_t H, size_t V)
{
    if (!T || !B || !H || !V || T > TN_SUM_BLOCK || B > TN_SUM_BLOCK / T || V > TN_GEMM_KC) return 0;
    size_t TB = T * B; /* <= TN_SUM_BLOCK (< KC): no overflow, and its bias sums run in row order */
    return H <= TN_GEMM_SMALL_MACS / TB / H && V <= TN_GEMM_SMALL_MACS / TB / H;
}

typedef struct {
    const char *name;
    int mr_f32, nr_f32, mr_f64, nr_f64;
    tn_micro_f32 micro_f32;
    tn_micro_f64 micro_f64;
    tn_rows_f32 rows_f32;
    tn_rows_f64 rows_f64;
    tn_rows_f32 cols_f32;
    tn_rows_f64 cols_f64;
    tn_row_f32 row_f32;
    tn_row_f64 row_f64;
    tn_small_f32 small_f32;
    tn_small_f64 small_f64;
    void (*tanh_f32)(float *y, const float *x, size_t n);
    void (*tanh_f64)(double *y, const double *x, size_t n);
    void (*exp_f32)(float *y, const float *x, size_t n);
    void (*exp_f64)(double *y, const double *x, size_t n);
    /* dst[k*ldd + j] = src[j*lds + k] for a TB x TB block (TB = 8 for float, 4 for
     * double): the transposing copy of GEMM packing */
    void (*transpose_f32)(float *dst, size_t ldd, const float *src, size_t lds);
    void (*transpose_f64)(double *dst, size_t ldd, const double *src, size_t lds);
    /* GEMM tile epilogues over a rows x cols block with row stride ld (e1, e2 laid out
     * like c): tanh in place, and c = (c + e1) (1 - e2^2), the tanh derivative of BPTT */
    void (*tanh2d_f32)(float *c, size_t ld, size_t rows, size_t cols);
    void (*tanh2d_f64)(double *c, size_t ld, size_t rows, size_t cols);
    void (*dtanh_f32)(float *c, const float *e1, const float *e2, size_t ld, size_t rows, size_t cols);
    void (*dtanh_f64)(double *c, const double *e1, const double *e2, size_t ld, size_t rows, size_t cols);
    /* the array tanh with the least latency for up to 32 bytes (one AVX2 register: the
     * AVX-512 code's wider vector is slower there), the same bits as tanh_f32/f64 */
    void (*tanh_short_f32)(float *y, const float *x, size_t n);
    void (*tanh_short_f64)(double *y, const double *x, size_t n);
    /* rnn_lm_loss for tiny problems in one function (tn_rnn_small.c) */
    tn_rnn_small_f32 rnn_small_f32;
    tn_rnn_small_f64 rnn_small_f64;
    /* the direct path's kernels (column panels nrd wide; half: nrd / 2 wide, for a last panel
     * that half a panel holds) */
    int nrd_f32, nrd_f64;
    tn_direct_f32 direct_f32;
    tn_direct_f64 direct_f64;
    tn_direct_f32 direct_half_f32;
    tn_direct_f64 direct_half_f64;
} tn_isa;

/* GEMM jobs (tn_gemm_impl.h): a kernel can prepack a right-hand side used many times
 * (tn_gemm_pack_b into tn_gemm_packed_size elements), attach an elementwise epilogue
 * applied to each finished tile, and run jobs inside a team it started itself
 * (tn_gemm_member: every member calls it with an identical job). */
enum { TN_EPI_NONE = 0, TN_EPI_TANH = 1, TN_EPI_DTANH = 2 /* c = (c + e1) (1 - e2^2) */ };

/* The workspace of a job (M, N, K) run by tn_gemm_run/tn_gemm_member, which always takes
 * the packed path: tn_gemm_work without its small and direct paths' exceptions. */
size_t tn_gemm_job_work(size_t M, size_t N, size_t K);

static inline size_t tn_gemm_packed_size(size_t N, size_t K)
{
    /* each NC block of columns is padded to a multiple of NR <= TN_GEMM_TILE_MAX */
    return (N + TN_GEMM_TILE_MAX * (N / TN_GEMM_NC + 1)) * K;
}

/* The fields of a GEMM job, for the element type T (float: tn_gemm_job_f32, double:
 * tn_gemm_job_f64). */
#define TN_GEMM_JOB_FIELDS(T, S)                                                                                       \
    int trans_a, trans_b;                                                                                          \
    size_t M, N, K, lda, ldb, ldc, MR, NR;                                                                         \
    T alpha, beta;                                                                                                 \
    const T *A, *B;                                                                                                \
    T *C, *packa, *packb;                                                                                          \
    const T *packed_b; /* op(B) prepacked by tn_gemm_pack_b, or NULL */                                            \
    int epi;           /* TN_EPI_* */                                                                              \
    const T *e1, *e2;  /* the epilogue's operands, laid out like C */                                              \
    const T *bias;     /* or NULL; else (N): the first KC block stores bias + alpha acc (beta unused) */           \
    /* op(B) = B in two parts by rows: row k < b_split at b_lo + k ldb (b_lo NULL: zeros) */                       \
    size_t b_split;                                                                                                \
    const T *b_lo;                                                                                                 \
    /* a second product sharing op(A) and its packing, N = 0: none.  C2(M, N) = alpha op(A) B2                     \
         * + beta C2, B2 in two parts like B; not with M = 1, prepacked B, bias or epilogue */                         \
    struct {                                                                                                       \
            size_t N, ldb, split, ldc;                                                                                 \
            const T *B, *lo;                                                                                           \
            T *C;                                                                                                      \
    } second;                                                                                                      \
    tn_micro_##S micro;                                                                                            \
    tn_rows_##S rows;                                                                                              \
    tn_rows_##S cols;                                                                                              \
    tn_row_##S row;                                                                                                \
    void (*dtanh)(T *, const T *, const T *, size_t, size_t, size_t);                                              \
    void (*tanh2d)(T *, size_t, size_t, size_t);                                                                   \
    void (*transpose)(T *, size_t, const T *, size_t);                                                             \
    void (*tanh)(T *, const T *, size_t);
typedef struct {
    TN_GEMM_JOB_FIELDS(float, f32)
} tn_gemm_job_f32;
typedef struct {
    TN_GEMM_JOB_FIELDS(double, f64)
} tn_gemm_job_f64;
#undef TN_GEMM_JOB_FIELDS
void tn_gemm_init_f32(tn_gemm_job_f32 *g, int trans_a, int trans_b, size_t M, size_t N, size_t K, float alpha,
                      const float *A, size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc,
                      float *work);
void tn_gemm_init_f64(tn_gemm_job_f64 *g, int trans_a, int trans_b, size_t M, size_t N, size_t K, double alpha,
                      const double *A, size_t lda, const double *B, size_t ldb, double beta, double *C, size_t ldc,
                      double *work);
void tn_gemm_member_f32(const tn_gemm_job_f32 *g, tn_member *m);
void tn_gemm_member_f64(const tn_gemm_job_f64 *g, tn_member *m);
void tn_gemm_run_f32(tn_gemm_job_f32 *g);
void tn_gemm_run_f64(tn_gemm_job_f64 *g);
/* tn_gemm with C = op(A) op(B) + bias (N) in every row when bias is not NULL (then beta must be 0):
 * c = bias[j] + alpha acc, the same bits whichever path computes it */
void tn_gemm_ex_f32(int trans_a, int trans_b, size_t M, size_t N, size_t K, float alpha, const float *A, size_t lda,
                    const float *B, size_t ldb, float beta, float *C, size_t ldc, const float *bias, float *work);
void tn_gemm_ex_f64(int trans_a, int trans_b, size_t M, size_t N, size_t K, double alpha, const double *A, size_t lda,
                    const double *B, size_t ldb, double beta, double *C, size_t ldc, const double *bias, double *work);
void tn_gemm_pack_b_f32(int trans_b, size_t K, size_t N, const float *B, size_t ldb, float *packed);
void tn_gemm_pack_b_f64(int trans_b, size_t K, size_t N, const double *B, size_t ldb, double *packed);
int tn_gemm_threads_f32(size_t M, size_t N, size_t K);
int tn_gemm_threads_f64(size_t M, size_t N, size_t K);

/* tanh over arrays (tn_math.c), one per instruction set: identical results on all. */
void tn_dtanh_generic_f32(float *c, const float *e1, const float *e2, size_t ld, size_t rows, size_t cols);
void tn_dtanh_generic_f64(double *c, const double *e1, const double *e2, size_t ld, size_t rows, size_t cols);
void tn_tanh_generic_f32_2d(float *c, size_t ld, size_t rows, size_t cols);
void tn_tanh_generic_f64_2d(double *c, size_t ld, size_t rows, size_t cols);
void tn_tanh_generic_f32(float *y, const float *x, size_t n);
void tn_tanh_generic_f64(double *y, const double *x, size_t n);
void tn_exp_generic_f32(float *y, const float *x, size_t n);
void tn_exp_generic_f64(double *y, const double *x, size_t n);
#if defined(__x86_64__) || defined(__i386__)
void tn_dtanh_avx2_f32(float *c, const float *e1, const float *e2, size_t ld, size_t rows, size_t cols);
void tn_dtanh_avx2_f64(double *c, const double *e1, const double *e2, size_t ld, size_t rows, size_t cols);
void tn_tanh_avx2_f32_2d(float *c, size_t ld, size_t rows, size_t cols);
void tn_tanh_avx2_f64_2d(double *c, size_t ld, size_t rows, size_t cols);
void tn_tanh_avx2_f32(float *y, const float *x, size_t n);
void tn_tanh_avx2_f64(double *y, const double *x, size_t n);
void tn_exp_avx2_f32(float *y, const float *x, size_t n);
void tn_exp_avx2_f64(double *y, const double *x, size_t n);
void tn_dtanh_avx512_f32(float *c, const float *e1, const float *e2, size_t ld, size_t rows, size_t cols);
void tn_dtanh_avx512_f64(double *c, const double *e1, const double *e2, size_t ld, size_t rows, size_t cols);
void tn_tanh_avx512_f32_2d(float *c, size_t ld, size_t rows, size_t cols);
void tn_tanh_avx512_f64_2d(double *c, size_t ld, size_t rows, size_t cols);
void tn_tanh_avx512_f32(float *y, const float *x, size_t n);
void tn_tanh_avx512_f64(double *y, const double *x, size_t n);
void tn_exp_avx512_f32(float *y, const float *x, size_t n);
void tn_exp_avx512_f64(double *y, const double *x, size_t n);
#endif
const tn_isa *tn_isa_get(void);

/* Workspace arithmetic for the tn_*_work functions (tn_sizes.c): a sum of products of
 * sizes, each piece rounded up to the alignment unit; any overflow poisons the result to
 * SIZE_MAX. */
typedef struct {
    size_t n;
    int overflow;
} tn_ws;
void tn_ws_add(tn_ws *w, size_t a, size_t b, size_t c); /* w += round_up(a b c) */
size_t tn_ws_done(const tn_ws *w);
static inline size_t tn_max3(size_t a, size_t b, size_t c) { return TN_MAX(a, TN_MAX(b, c)); }
/* What a gated layer's workspace holds besides its own arrays (tn_seq.c): H zeros, a
 * transposed dW_ih (backward), W_hh packed once, and the products' workspace. */
void tn_seq_ws(tn_ws *w, size_t TB, size_t B, size_t D, size_t H, size_t G, int backward, int shared_grads);
/* The step index a gated layer's backward cell gets once all steps are done (tn_seq.c). */
#define TN_SEQ_END SIZE_MAX

/* Typed helpers shared between the layer files. */
/* tn_sums.c -- column sums of (N, C) matrices, rows in blocks of TN_SUM_BLOCK combined pairwise:
 * out[c] = sum over n of the term `kind` (TN_SUM_X x[n,c]; TN_SUM_DEV2 (x[n,c] - a[c])^2;
 * TN_SUM_XHAT_Y y[n,c] ((x[n,c] - a[c]) b[c])); a, b may be NULL when the term does not use them */
void tn_col_sums_f32(float *out, int kind, const float *x, const float *y, const float *a, const float *b, size_t N,
                     size_t C);
void tn_col_sums_f64(double *out, int kind, const double *x, const double *y, const double *a, const double *b,
                     size_t N, size_t C);
/* ... TN_SUM_X over the first C columns of rows ld apart (the same bits as of those columns alone) */
void tn_col_sums_of_rows_f32(float *out, const float *x, size_t N, size_t C, size_t ld);
void tn_col_sums_of_rows_f64(double *out, const double *x, size_t N, size_t C, size_t ld);
/* one block's partial sums, dst[j] = sum of x[n, c0 + j] over rows n0 <= n < n1 in order ... */
void tn_block_sums_f32(float *dst, const float *x, size_t C, size_t n0, size_t n1, size_t c0, size_t w);
void tn_block_sums_f64(double *dst, const double *x, size_t C, size_t n0, size_t n1, size_t c0, size_t w);
/* ... and col_sums(TN_SUM_X) of an (N, C) matrix from them, computed beforehand (sums[i*C + c]: rows
 * i*TN_SUM_BLOCK onwards): the same bits */
void tn_col_sums_of_blocks_f32(float *out, const float *sums, size_t N, size_t C);
void tn_col_sums_of_blocks_f64(double *out, const double *sums, size_t N, size_t C);
/* tn_seq.c -- the recurrent layers' input projection of token ids and weight gradients */
void tn_gather_columns_f32(float *pre, const int64_t *tokens, const float *W, const float *b, size_t n, size_t D,
                           size_t M);
void tn_gather_columns_f64(double *pre, const int64_t *tokens, const double *W, const double *b, size_t n, size_t D,
                           size_t M);
void tn_seq_weight_grads_f32(float *dW_ih, float *dW_hh, const float *dA, const float *dB, const float *x,
                             const int64_t *tokens, const float *h0, const float *hs, size_t TB, size_t B, size_t D,
                             size_t H, size_t M, float *dWT, float *work);
void tn_seq_weight_grads_f64(double *dW_ih, double *dW_hh, const double *dA, const double *dB, const double *x,
                             const int64_t *tokens, const double *h0, const double *hs, size_t TB, size_t B, size_t D,
                             size_t H, size_t M, double *dWT, double *work);
/* The recurrence of a gated layer (tn_seq.c), run by one team: a product per step against a W_hh packed once,
 * then the layer's cell, rows split over the team.  Forward, for t = 0 .. steps-1:
 *     C_t(B, GH) = beta C_t + h_{t-1}(B, H) @ W_hh^T (+ bias),  h_{-1} = h0 (NULL: no product; C_t = bias or 0
 *     where beta = 0), then cell(ctx, t, C_t, b0, b1), which writes h_t = hs[t].
 * Backward, for t = steps-1 .. 0: R(B, H) = dA_{t+1}(B, GH) @ W_hh (none for the last step: R NULL), then
 * cell(ctx, t, R, b0, b1), which writes dA_t; finally R = dA_0 @ W_hh (if final_product) and
 * cell(ctx, TN_SEQ_END, R, b0, b1). */
#define TN_SEQ_REC_FIELDS(T)                                                                                           \
    size_t steps, B, H, GH;                                                                                        \
    const T *packed; /* W_hh^T (forward) or W_hh (backward), by tn_gemm_pack_b */                                  \
    T *work;         /* the products' A panels */                                                                  \
    T *pre;          /* forward: C_t = pre + t pre_step */                                                         \
    size_t pre_step;                                                                                               \
    T beta;                                                                                                        \
    const T *bias, *h0, *hs;                                                                                       \
    const T *dA; /* backward: (steps, B, GH) */                                                                    \
    T *R;        /* backward: (B, H) */                                                                            \
    int final_product;                                                                                             \
    void (*cell)(const void *ctx, size_t t, const T *C, size_t b0, size_t b1);                                     \
    const void *ctx;
typedef struct {
    TN_SEQ_REC_FIELDS(float)
} tn_seq_rec_f32;
typedef struct {
    TN_SEQ_REC_FIELDS(double)
} tn_seq_rec_f64;
#undef TN_SEQ_REC_FIELDS
void tn_seq_forward_f32(const tn_seq_rec_f32 *r);
void tn_seq_forward_f64(const tn_seq_rec_f64 *r);
void tn_seq_backward_f32(const tn_seq_rec_f32 *r);
void tn_seq_backward_f64(const tn_seq_rec_f64 *r);

#endif
