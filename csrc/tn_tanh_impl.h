/* tn_tanh_impl.h -- tanh and exp over an array, written once; included by tn_math.c for
 * each (instruction set, dtype) with:
 *   TH_NAME, TH_EXP_NAME   the functions' names: void TH_NAME(T *y, const T *x, size_t n)
 *   TH_NAME_2D             tanh in place over a block: void TH_NAME_2D(T *c, size_t ld, size_t rows, size_t cols)
 *   TH_T, TH_TARGET    element type, function attribute
 *   TH_V, TH_M, TH_LANES   vector type, comparison-mask type, lanes
 *   TH_LOAD(p), TH_STORE(p, v), TH_SET1(x), TH_ADD, TH_SUB, TH_MUL, TH_DIV, TH_FMA(a, b, c),
 *   TH_MIN, TH_ABS(v), TH_GE(a, b) (mask), TH_SELECT(m, a, b) (m ? a : b),
 *   TH_ROUND(v) (to nearest even), TH_POW2(k) (2^k for integral k in the normal range),
 *   TH_COPYSIGN(mag, sign)   (mag always has its sign bit clear: >= +0, or a NaN made from |x|)
 *   TH_CLAMP           |x| above which tanh(x) rounds to +-1
 *   TH_EXP_CLAMP       |x| beyond which exp(x) is inf or 0 (keeps 2^k's exponent in range)
 *   TH_ISNAN(v)        mask of NaN lanes
 *   TH_POLY_C          the Taylor coefficients of expm1 (r) for |r| <= ln2/2 (an array, below)
 *   TH_ILV             (optional) vectors in flight at once in the exp-based loops (default 4)
 *   TH_RATIONAL        (defined for float32) tanh as a rational interpolant, below, with
 *   TH_CLAMPX(x, lo, hi)   x limited to [lo, hi], a NaN x returned as it is
 *
 * float64 tanh(x) = sign(x) (|x| < 1 ?  -t / (t + 2)  with t = expm1(-2|x|)
 *                            :  1 - 2 / (t + 2) with t = expm1(2 min(|x|, CLAMP)))
 * (glibc's formulation), with expm1(y) = 2^k (expm1(r) + 1) - 1 = fma(2^k, expm1(r), 2^k - 1),
 * y = k ln2 + r.  Only lane-wise IEEE operations are used, and the tail goes through the
 * same vector code, so every element gets the same bits whatever its position, the
 * instruction set or the thread count.  NaN stays NaN; +-inf give +-1.
 *
 * exp(x) = 2^k (1 + expm1(r)) = fma(s1, expm1(r), s1) s2, x = k ln2 + r, 2^k = s1 s2 split
 * in two halves so that both stay normal numbers down to the subnormal results
 * (multiplying by the exact power of two s2 is exact whenever the result is normal). */

#ifndef TH_ILV
#define TH_ILV 4
#endif
/* stmt for each of n vectors (n a constant once inlined): one step for all before the next */
#define TH_EACH(stmt) _Pragma("GCC unroll 4") for (int j = 0; j < n; j++) { stmt; }

#ifdef TH_RATIONAL
/* float32: tanh(x) = |x| < 0.0004 ? x : c p(c^2) / q(c^2), c = x limited to +-7.99881...,
 * the 13/6 rational interpolant of Eigen (also TensorFlow's and ONNX Runtime's float32
 * tanh): about half the operations of the exp-based form and no exponent arithmetic.
 * At most 4.9 ulp from tanh over every float32 (an exhaustive check, README); exactly
 * +-1 from the clamp on (the interpolant is 1 there); NaN stays NaN (TH_CLAMPX keeps it).
 * c carries x's sign through the odd numerator (q is even): the same bits as the
 * magnitude's quotient with the sign put back, two operations fewer. */
TH_TARGET static inline __attribute__((always_inline)) void TN_CAT3(TH_NAME, _, vecn)(const int n, TH_V *x)
{ /* n (1 or 2, a constant once inlined) vectors in place, each step for both before the
   * next: two chains in flight, for the out-of-order window */
    TH_V c[2], c2[2], p[2], q[2];
    TH_EACH(c[j] = TH_CLAMPX(x[j], TH_SET1(-7.99881172180175781f), TH_SET1(7.99881172180175781f)))
    TH_EACH(c2[j] = TH_MUL(c[j], c[j]))
    TH_EACH(p[j] = TH_FMA(c2[j], TH_SET1(-2.76076847742355e-16f), TH_SET1(2.00018790482477e-13f)))
    TH_EACH(q[j] = TH_FMA(c2[j], TH_SET1(1.19825839466702e-06f), TH_SET1(1.18534705686654e-04f)))
    TH_EACH(p[j] = TH_FMA(c2[j], p[j], TH_SET1(-8.60467152213735e-11f)))
    TH_EACH(q[j] = TH_FMA(c2[j], q[j], TH_SET1(2.26843463243900e-03f)))
    TH_EACH(p[j] = TH_FMA(c2[j], p[j], TH_SET1(5.12229709037114e-08f)))
    TH_EACH(q[j] = TH_FMA(c2[j], q[j], TH_SET1(4.89352518554385e-03f)))
    TH_EACH(p[j] = TH_FMA(c2[j], p[j], TH_SET1(1.48572235717979e-05f)))
    TH_EACH(p[j] = TH_FMA(c2[j], p[j], TH_SET1(6.37261928875436e-04f)))
    TH_EACH(p[j] = TH_MUL(c[j], TH_FMA(c2[j], p[j], TH_SET1(4.89352455891786e-03f))))
    TH_EACH(x[j] = TH_SELECT(TH_GE(TH_ABS(x[j]), TH_SET1(0.0004f)), TH_DIV(p[j], q[j]), x[j]))
}
#define TH_TANH_ILV 2
#endif

/* expm1(r) for |r| <= ln2/2, n vectors (as below): r + r^2 q(r), q by Horner with FMA
 * over the Taylor coefficients TH_POLY_C (highest first, to below half an ulp) */
TH_TARGET static inline __attribute__((always_inline)) void TN_CAT3(TH_NAME, _, expm1n)(const int n, TH_V *q,
                                                                                       const TH_V *r)
{
    const int nc = (int)(sizeof TH_POLY_C / sizeof TH_POLY_C[0]);
    TH_EACH(q[j] = TH_FMA(TH_SET1(TH_POLY_C[0]), r[j], TH_SET1(TH_POLY_C[1])))
#pragma GCC unroll 16
    for (int i = 2; i < nc; i++) TH_EACH(q[j] = TH_FMA(q[j], r[j], TH_SET1(TH_POLY_C[i])))
    TH_EACH(q[j] = TH_FMA(TH_MUL(r[j], r[j]), q[j], r[j]))
}

#ifndef TH_RATIONAL
/* n (1 to 4, a constant once inlined) vectors in place, each step for all of them before
 * the next: their chains (the polynomial's is a dozen multiply-adds deep) in flight
 * together, where one alone leaves the units waiting on its latency */
TH_TARGET static inline __attribute__((always_inline)) void TN_CAT3(TH_NAME, _, vecn)(const int n, TH_V *x)
{
    const TH_V one = TH_SET1(1), two = TH_SET1(2);
    TH_V ax[4], y[4], k[4], r[4], s[4], t[4], q[4];
    TH_M big[4];
    TH_EACH(ax[j] = TH_ABS(x[j]))
    TH_EACH(big[j] = TH_GE(ax[j], one))
    TH_EACH(y[j] = TH_SELECT(big[j], TH_MUL(two, TH_MIN(ax[j], TH_SET1(TH_CLAMP))), TH_MUL(TH_SET1(-2), ax[j])))
    /* expm1(y): y = k ln2 + r */
    TH_EACH(k[j] = TH_ROUND(TH_MUL(y[j], TH_SET1(1.4426950408889634074))))
    TH_EACH(r[j] = TH_FMA(k[j], TH_SET1(-TH_LN2_HI), y[j]))
    TH_EACH(r[j] = TH_FMA(k[j], TH_SET1(-TH_LN2_LO), r[j]))
    TH_EACH(s[j] = TH_POW2(k[j]))
    TN_CAT3(TH_NAME, _, expm1n)(n, q, r);
    TH_EACH(t[j] = TH_FMA(s[j], q[j], TH_SUB(s[j], one)))
    /* -t / (t + 2) or 1 - 2 / (t + 2): one division serves both branches */
    TH_EACH(q[j] = TH_DIV(TH_SELECT(big[j], two, TH_SUB(TH_SET1(0), t[j])), TH_ADD(t[j], two)))
    TH_EACH(x[j] = TH_COPYSIGN(TH_SELECT(big[j], TH_SUB(one, q[j]), q[j]), x[j]))
}
#define TH_TANH_ILV TH_ILV
#endif

TH_TARGET static inline __attribute__((always_inline)) void TN_CAT3(TH_EXP_NAME, _, vecn)(const int n, TH_V *x)
{
    TH_V xc[4], k[4], r[4], kh[4], q[4];
    TH_EACH(xc[j] = TH_MAX(TH_SET1(-TH_EXP_CLAMP), TH_MIN(TH_SET1(TH_EXP_CLAMP), x[j])))
    TH_EACH(k[j] = TH_ROUND(TH_MUL(xc[j], TH_SET1(1.4426950408889634074))))
    TH_EACH(r[j] = TH_FMA(k[j], TH_SET1(-TH_LN2_HI), xc[j]))
    TH_EACH(r[j] = TH_FMA(k[j], TH_SET1(-TH_LN2_LO), r[j]))
    TH_EACH(kh[j] = TH_ROUND(TH_MUL(k[j], TH_SET1(0.5))))
    TN_CAT3(TH_NAME, _, expm1n)(n, q, r);
    TH_EACH(TH_V s1 = TH_POW2(TH_SUB(k[j], kh[j])); TH_V s2 = TH_POW2(kh[j]);
            x[j] = TH_SELECT(TH_ISNAN(x[j]), x[j], TH_MUL(TH_FMA(s1, q[j], s1), s2)))
}
#undef TH_EACH

/* one vector */
#define TH_VEC1(NAME)                                                                                                \
    TH_TARGET static inline TH_V TN_CAT3(NAME, _, vec)(TH_V x)                                                        \
    {                                                                                                                 \
        TN_CAT3(NAME, _, vecn)(1, &x);                                                                                \
        return x;                                                                                                     \
    }
TH_VEC1(TH_NAME)
TH_VEC1(TH_EXP_NAME)
#undef TH_VEC1

/* the array loops' main part: ILV vectors at a time */
#define TH_ARRAY_GROUPS(NAME, ILV)                                                                                   \
    for (; i + (ILV) * TH_LANES <= n; i += (ILV) * TH_LANES) {                                                       \
        TH_V v[ILV];                                                                                                  \
        for (int j = 0; j < (ILV); j++) v[j] = TH_LOAD(x + i + j * TH_LANES);                                         \
        TN_CAT3(NAME, _, vecn)((ILV), v);                                                                             \
        for (int j = 0; j < (ILV); j++) TH_STORE(y + i + j * TH_LANES, v[j]);                                         \
    }

/* y[i] = f(x[i]) through the vector code, the tail included (padded in a buffer). */
#define TH_ARRAY(NAME, ILV)                                                                                          \
    TH_TARGET void NAME(TH_T *y, const TH_T *x, size_t n)                                                             \
    {                                                                                                                 \
        size_t i = 0;                                                                                                 \
        TH_ARRAY_GROUPS(NAME, ILV)                                                                                    \
        for (; i + TH_LANES <= n; i += TH_LANES) TH_STORE(y + i, TN_CAT3(NAME, _, vec)(TH_LOAD(x + i)));              \
        if (i < n) {                                                                                                  \
            TH_T buf[TH_LANES];                                                                                       \
            for (size_t j = 0; j < TH_LANES; j++) buf[j] = i + j < n ? x[i + j] : 0;                                 \
            TH_STORE(buf, TN_CAT3(NAME, _, vec)(TH_LOAD(buf)));                                                       \
            for (size_t j = 0; i + j < n; j++) y[i + j] = buf[j];                                                     \
        }                                                                                                             \
    }
TH_ARRAY(TH_NAME, TH_TANH_ILV)
TH_ARRAY(TH_EXP_NAME, TH_ILV)
#undef TH_ARRAY_GROUPS
#undef TH_ARRAY
#undef TH_TANH_ILV

/* tanh in place over a rows x cols block with row stride ld (a GEMM tile's epilogue):
 * the full vectors of all rows in one loop nest, so that the constants stay in registers
 * across the rows (a tile row is only a vector or two); each row's tail as above. */
TH_TARGET void TH_NAME_2D(TH_T *c, size_t ld, size_t rows, size_t cols)
{
    size_t full = cols / TH_LANES * TH_LANES;
    for (size_t r = 0; r < rows; r++) {
        TH_T *row = c + r * ld;
        for (size_t i = 0; i < full; i += TH_LANES) TH_STORE(row + i, TN_CAT3(TH_NAME, _, vec)(TH_LOAD(row + i)));
        if (full < cols) TH_NAME(row + full, row + full, cols - full);
    }
}

#undef TH_NAME
#undef TH_NAME_2D
#undef TH_RATIONAL
#undef TH_CLAMPX
#undef TH_EXP_NAME
#undef TH_EXP_CLAMP
#undef TH_ISNAN
#undef TH_MAX
#undef TH_T
#undef TH_TARGET
#undef TH_V
#undef TH_M
#undef TH_LANES
#undef TH_LOAD
#undef TH_STORE
#undef TH_SET1
#undef TH_ADD
#undef TH_SUB
#undef TH_MUL
#undef TH_DIV
#undef TH_FMA
#undef TH_MIN
#undef TH_ABS
#undef TH_GE
#undef TH_SELECT
#undef TH_ROUND
#undef TH_POW2
#undef TH_COPYSIGN
#undef TH_CLAMP
#undef TH_POLY_C
#undef TH_LN2_HI
#undef TH_LN2_LO
