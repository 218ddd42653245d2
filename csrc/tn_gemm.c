/* tn_gemm.c -- instantiates the packed GEMM for float and double. */
#include "tn_internal.h"

size_t tn_gemm_work(size_t M, size_t N, size_t K)
{
    size_t kc = TN_MIN(K, (size_t)TN_GEMM_KC);
    size_t rows = TN_MIN(M, (size_t)TN_GEMM_MC) + TN_GEMM_TILE_MAX;
    size_t cols = TN_MIN(N, (size_t)TN_GEMM_NC) + TN_GEMM_TILE_MAX;
    return (rows + cols) * kc; /* bounded by constants: cannot overflow */
}

const char *tn_simd_name(void) { return "generic"; }

#define TN_T float
#define TN_S f32
#define TN_MR 6
#define TN_NR 16
#include "tn_gemm_impl.h"
#undef TN_T
#undef TN_S
#undef TN_MR
#undef TN_NR

#define TN_T double
#define TN_S f64
#define TN_MR 6
#define TN_NR 8
#include "tn_gemm_impl.h"
