/* tn_math.c -- vectorised elementwise math for each instruction set: tanh and exp (see
 * tn_tanh_impl.h for the method and its guarantees).  Chosen at run time with the GEMM
 * microkernels (tn_gemm.c). */
#include <math.h>

#include "tn_internal.h"

#if defined(__x86_64__) || defined(__i386__)
#define TN_X86 1
#include <immintrin.h>
#endif

/* Taylor coefficients of expm1(r) = r + r^2 q(r), |r| <= ln2/2, q's highest first (Horner
 * with FMA in tn_tanh_impl.h), to below half an ulp */
static const double expm1_poly_f64[] = {1.0 / 6227020800.0, 1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0,
                                        1.0 / 362880.0,     1.0 / 40320.0,     1.0 / 5040.0,       1.0 / 720.0,
                                        1.0 / 120.0,        1.0 / 24.0,        1.0 / 6.0,          0.5};
static const float expm1_poly_f32[] = {1.0f / 40320.0f, 1.0f / 5040.0f, 1.0f / 720.0f, 1.0f / 120.0f,
                                       1.0f / 24.0f,    1.0f / 6.0f,    0.5f};

/* c = (c + e1) (1 - e2^2) over a rows x cols block (row stride ld): plain IEEE
 * operations, vectorised by the compiler for each instruction set (no contraction into
 * FMA under -std=c11), so every lane rounds as C. */
#define DTANH_FN(name, T, TARGET)                                                                                    \
    TARGET void name(T *c, const T *e1, const T *e2, size_t ld, size_t rows, size_t cols)                             \
    {                                                                                                                 \
        for (size_t r = 0; r < rows; r++) {                                                                           \
            T *cr = c + r * ld;                                                                                       \
            const T *a = e1 + r * ld, *b = e2 + r * ld;                                                               \
            for (size_t i = 0; i < cols; i++) cr[i] = (cr[i] + a[i]) * (1 - b[i] * b[i]);                             \
        }                                                                                                             \
    }
DTANH_FN(tn_dtanh_generic_f32, float, )
DTANH_FN(tn_dtanh_generic_f64, double, )
#ifdef TN_X86
DTANH_FN(tn_dtanh_avx2_f32, float, __attribute__((target("avx2,fma"))))
DTANH_FN(tn_dtanh_avx2_f64, double, __attribute__((target("avx2,fma"))))
DTANH_FN(tn_dtanh_avx512_f32, float, __attribute__((target("avx512f"))))
DTANH_FN(tn_dtanh_avx512_f64, double, __attribute__((target("avx512f"))))
#endif

/* ------------------------------------------------------------- portable C */

/* 2^k for integral k (NaN passes through: converting it to int would be undefined) */
static inline double g_pow2(double k) { return k != k ? k : ldexp(1.0, (int)k); }
static inline float g_pow2f(float k) { return k != k ? k : ldexpf(1.0f, (int)k); }

#define TH_NAME tn_tanh_generic_f64
#define TH_NAME_2D tn_tanh_generic_f64_2d
#define TH_EXP_NAME tn_exp_generic_f64
#define TH_EXP_CLAMP 745.5
#define TH_ISNAN(v) ((v) != (v))
#define TH_MAX(a, b) fmax(a, b)
#define TH_T double
#define TH_TARGET
#define TH_V double
#define TH_M int
#define TH_LANES 1
#define TH_LOAD(p) (*(p))
#define TH_STORE(p, v) (*(p) = (v))
#define TH_SET1(x) ((double)(x))
#define TH_ADD(a, b) ((a) + (b))
#define TH_SUB(a, b) ((a) - (b))
#define TH_MUL(a, b) ((a) * (b))
#define TH_DIV(a, b) ((a) / (b))
#define TH_FMA(a, b, c) fma(a, b, c)
#define TH_MIN(a, b) fmin(a, b)
#define TH_ABS(v) fabs(v)
#define TH_GE(a, b) ((a) >= (b))
#define TH_SELECT(m, a, b) ((m) ? (a) : (b))
#define TH_ROUND(v) rint(v)
#define TH_POW2(k) g_pow2(k)
#define TH_COPYSIGN(m, s) copysign(m, s)
#define TH_CLAMP 22.0
#define TH_LN2_HI 6.93147180369123816490e-01
#define TH_LN2_LO 1.90821492927058770002e-10
#define TH_POLY_C expm1_poly_f64
#include "tn_tanh_impl.h"

#define TH_NAME tn_tanh_generic_f32
#define TH_NAME_2D tn_tanh_generic_f32_2d
#define TH_RATIONAL 1
#define TH_CLAMPX(x, lo, hi) ((x) > (hi) ? (hi) : (x) < (lo) ? (lo) : (x))
#define TH_EXP_NAME tn_exp_generic_f32
#define TH_EXP_CLAMP 104.0f
#define TH_ISNAN(v) ((v) != (v))
#define TH_MAX(a, b) fmaxf(a, b)
#define TH_T float
#define TH_TARGET
#define TH_V float
#define TH_M int
#define TH_LANES 1
#define TH_LOAD(p) (*(p))
#define TH_STORE(p, v) (*(p) = (v))
#define TH_SET1(x) ((float)(x))
#define TH_ADD(a, b) ((a) + (b))
#define TH_SUB(a, b) ((a) - (b))
#define TH_MUL(a, b) ((a) * (b))
#define TH_DIV(a, b) ((a) / (b))
#define TH_FMA(a, b, c) fmaf(a, b, c)
#define TH_MIN(a, b) fminf(a, b)
#define TH_ABS(v) fabsf(v)
#define TH_GE(a, b) ((a) >= (b))
#define TH_SELECT(m, a, b) ((m) ? (a) : (b))
#define TH_ROUND(v) rintf(v)
#define TH_POW2(k) g_pow2f(k)
#define TH_COPYSIGN(m, s) copysignf(m, s)
#define TH_CLAMP 10.0f
#define TH_LN2_HI 0.693145751953125f
#define TH_LN2_LO 1.428606765330187045e-06f
#define TH_POLY_C expm1_poly_f32
#include "tn_tanh_impl.h"

#ifdef TN_X86
/* ------------------------------------------------------------------- AVX2 */
#define T2 __attribute__((target("avx2,fma")))
T2 static inline __m256d a2_pow2_pd(__m256d k)
{
    const __m256d magic = _mm256_set1_pd(6755399441055744.0); /* 1.5 * 2^52: k lands in the low bits */
    __m256i ki = _mm256_sub_epi64(_mm256_castpd_si256(_mm256_add_pd(k, magic)), _mm256_castpd_si256(magic));
    return _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_add_epi64(ki, _mm256_set1_epi64x(1023)), 52));
}
T2 static inline __m256 a2_pow2_ps(__m256 k)
{
    __m256i ki = _mm256_cvtps_epi32(k);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(ki, _mm256_set1_epi32(127)), 23));
}
/* copysign(m, s) for an m whose sign bit is clear (tanh's magnitude: >= +0, or a NaN made
 * from |x|): s's sign bit put in, one operation fewer than clearing m's first */
T2 static inline __m256d a2_copysign_pd(__m256d m, __m256d s)
{
    return _mm256_or_pd(m, _mm256_and_pd(_mm256_set1_pd(-0.0), s));
}
T2 static inline __m256 a2_copysign_ps(__m256 m, __m256 s)
{
    return _mm256_or_ps(m, _mm256_and_ps(_mm256_set1_ps(-0.0f), s));
}

#define TH_NAME tn_tanh_avx2_f64
#define TH_NAME_2D tn_tanh_avx2_f64_2d
#define TH_EXP_NAME tn_exp_avx2_f64
#define TH_EXP_CLAMP 745.5
#define TH_ISNAN(v) _mm256_cmp_pd(v, v, _CMP_UNORD_Q)
#define TH_MAX(a, b) _mm256_max_pd(a, b)
#define TH_T double
#define TH_TARGET T2
#define TH_V __m256d
#define TH_M __m256d
#define TH_LANES 4
#define TH_LOAD(p) _mm256_loadu_pd(p)
#define TH_STORE(p, v) _mm256_storeu_pd(p, v)
#define TH_SET1(x) _mm256_set1_pd(x)
#define TH_ADD _mm256_add_pd
#define TH_SUB _mm256_sub_pd
#define TH_MUL _mm256_mul_pd
#define TH_DIV _mm256_div_pd
#define TH_FMA _mm256_fmadd_pd
#define TH_MIN _mm256_min_pd
#define TH_ABS(v) _mm256_andnot_pd(_mm256_set1_pd(-0.0), v)
#define TH_GE(a, b) _mm256_cmp_pd(a, b, _CMP_GE_OQ)
#define TH_SELECT(m, a, b) _mm256_blendv_pd(b, a, m)
#define TH_ROUND(v) _mm256_round_pd(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define TH_POW2(k) a2_pow2_pd(k)
#define TH_COPYSIGN(m, s) a2_copysign_pd(m, s)
#define TH_CLAMP 22.0
#define TH_LN2_HI 6.93147180369123816490e-01
#define TH_LN2_LO 1.90821492927058770002e-10
#define TH_POLY_C expm1_poly_f64
#include "tn_tanh_impl.h"

#define TH_NAME tn_tanh_avx2_f32
#define TH_NAME_2D tn_tanh_avx2_f32_2d
#define TH_RATIONAL 1
/* (MINPS and MAXPS give their second operand when either is NaN: x, then min(hi, x)) */
#define TH_CLAMPX(x, lo, hi) _mm256_max_ps(lo, _mm256_min_ps(hi, x))
#define TH_EXP_NAME tn_exp_avx2_f32
#define TH_EXP_CLAMP 104.0f
#define TH_ISNAN(v) _mm256_cmp_ps(v, v, _CMP_UNORD_Q)
#define TH_MAX(a, b) _mm256_max_ps(a, b)
#define TH_T float
#define TH_TARGET T2
#define TH_V __m256
#define TH_M __m256
#define TH_LANES 8
#define TH_LOAD(p) _mm256_loadu_ps(p)
#define TH_STORE(p, v) _mm256_storeu_ps(p, v)
#define TH_SET1(x) _mm256_set1_ps(x)
#define TH_ADD _mm256_add_ps
#define TH_SUB _mm256_sub_ps
#define TH_MUL _mm256_mul_ps
#define TH_DIV _mm256_div_ps
#define TH_FMA _mm256_fmadd_ps
#define TH_MIN _mm256_min_ps
#define TH_ABS(v) _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v)
#define TH_GE(a, b) _mm256_cmp_ps(a, b, _CMP_GE_OQ)
#define TH_SELECT(m, a, b) _mm256_blendv_ps(b, a, m)
#define TH_ROUND(v) _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define TH_POW2(k) a2_pow2_ps(k)
#define TH_COPYSIGN(m, s) a2_copysign_ps(m, s)
#define TH_CLAMP 10.0f
#define TH_LN2_HI 0.693145751953125f
#define TH_LN2_LO 1.428606765330187045e-06f
#define TH_POLY_C expm1_poly_f32
#include "tn_tanh_impl.h"

/* ---------------------------------------------------------------- AVX-512 */
#define T5 __attribute__((target("avx512f")))
T5 static inline __m512d a5_pow2_pd(__m512d k)
{
    const __m512d magic = _mm512_set1_pd(6755399441055744.0);
    __m512i ki = _mm512_sub_epi64(_mm512_castpd_si512(_mm512_add_pd(k, magic)), _mm512_castpd_si512(magic));
    return _mm512_castsi512_pd(_mm512_slli_epi64(_mm512_add_epi64(ki, _mm512_set1_epi64(1023)), 52));
}
T5 static inline __m512 a5_pow2_ps(__m512 k)
{
    __m512i ki = _mm512_cvtps_epi32(k);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(ki, _mm512_set1_epi32(127)), 23));
}
T5 static inline __m512d a5_abs_pd(__m512d v)
{
    return _mm512_castsi512_pd(_mm512_and_epi64(_mm512_castpd_si512(v), _mm512_set1_epi64(0x7fffffffffffffffll)));
}
T5 static inline __m512 a5_abs_ps(__m512 v)
{
    return _mm512_castsi512_ps(_mm512_and_epi32(_mm512_castps_si512(v), _mm512_set1_epi32(0x7fffffff)));
}
/* (as a2_copysign_*: m's sign bit is clear) */
T5 static inline __m512d a5_copysign_pd(__m512d m, __m512d s)
{
    __m512i sign = _mm512_set1_epi64((long long)0x8000000000000000ull);
    return _mm512_castsi512_pd(_mm512_or_epi64(_mm512_castpd_si512(m), _mm512_and_epi64(sign, _mm512_castpd_si512(s))));
}
T5 static inline __m512 a5_copysign_ps(__m512 m, __m512 s)
{
    __m512i sign = _mm512_set1_epi32((int)0x80000000u);
    return _mm512_castsi512_ps(_mm512_or_epi32(_mm512_castps_si512(m), _mm512_and_epi32(sign, _mm512_castps_si512(s))));
}

#define TH_NAME tn_tanh_avx512_f64
#define TH_NAME_2D tn_tanh_avx512_f64_2d
#define TH_EXP_NAME tn_exp_avx512_f64
#define TH_EXP_CLAMP 745.5
#define TH_ISNAN(v) _mm512_cmp_pd_mask(v, v, _CMP_UNORD_Q)
#define TH_MAX(a, b) _mm512_max_pd(a, b)
#define TH_T double
#define TH_TARGET T5
#define TH_V __m512d
#define TH_M __mmask8
#define TH_LANES 8
#define TH_LOAD(p) _mm512_loadu_pd(p)
#define TH_STORE(p, v) _mm512_storeu_pd(p, v)
#define TH_SET1(x) _mm512_set1_pd(x)
#define TH_ADD _mm512_add_pd
#define TH_SUB _mm512_sub_pd
#define TH_MUL _mm512_mul_pd
#define TH_DIV _mm512_div_pd
#define TH_FMA _mm512_fmadd_pd
#define TH_MIN _mm512_min_pd
#define TH_ABS(v) a5_abs_pd(v)
#define TH_GE(a, b) _mm512_cmp_pd_mask(a, b, _CMP_GE_OQ)
#define TH_SELECT(m, a, b) _mm512_mask_blend_pd(m, b, a)
#define TH_ROUND(v) _mm512_roundscale_pd(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define TH_POW2(k) a5_pow2_pd(k)
#define TH_COPYSIGN(m, s) a5_copysign_pd(m, s)
#define TH_CLAMP 22.0
#define TH_LN2_HI 6.93147180369123816490e-01
#define TH_LN2_LO 1.90821492927058770002e-10
#define TH_POLY_C expm1_poly_f64
#include "tn_tanh_impl.h"

#define TH_NAME tn_tanh_avx512_f32
#define TH_NAME_2D tn_tanh_avx512_f32_2d
#define TH_RATIONAL 1
#define TH_CLAMPX(x, lo, hi) _mm512_max_ps(lo, _mm512_min_ps(hi, x)) /* (as for AVX2) */
#define TH_EXP_NAME tn_exp_avx512_f32
#define TH_EXP_CLAMP 104.0f
#define TH_ISNAN(v) _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q)
#define TH_MAX(a, b) _mm512_max_ps(a, b)
#define TH_T float
#define TH_TARGET T5
#define TH_V __m512
#define TH_M __mmask16
#define TH_LANES 16
#define TH_LOAD(p) _mm512_loadu_ps(p)
#define TH_STORE(p, v) _mm512_storeu_ps(p, v)
#define TH_SET1(x) _mm512_set1_ps(x)
#define TH_ADD _mm512_add_ps
#define TH_SUB _mm512_sub_ps
#define TH_MUL _mm512_mul_ps
#define TH_DIV _mm512_div_ps
#define TH_FMA _mm512_fmadd_ps
#define TH_MIN _mm512_min_ps
#define TH_ABS(v) a5_abs_ps(v)
#define TH_GE(a, b) _mm512_cmp_ps_mask(a, b, _CMP_GE_OQ)
#define TH_SELECT(m, a, b) _mm512_mask_blend_ps(m, b, a)
#define TH_ROUND(v) _mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define TH_POW2(k) a5_pow2_ps(k)
#define TH_COPYSIGN(m, s) a5_copysign_ps(m, s)
#define TH_CLAMP 10.0f
#define TH_LN2_HI 0.693145751953125f
#define TH_LN2_LO 1.428606765330187045e-06f
#define TH_POLY_C expm1_poly_f32
#include "tn_tanh_impl.h"
#endif
