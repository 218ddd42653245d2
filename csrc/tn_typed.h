/* tn_typed.h -- small helpers every layer file uses, defined for the element type TN_T
 * (included by tn_template.h once per dtype, so no include guard). */

/* The next n elements of a kernel's workspace (rounded to keep the rest aligned). */
static inline TN_T *TN_NAME(take_f32, take_f64)(TN_T **work, size_t n)
{
    TN_T *p = *work;
    *work += TN_ROUND_UP(n);
    return p;
}

/* db(H) = sum over the N rows of m(N,H) (tn_sums.c: blocks of rows combined pairwise) */
static inline void TN_NAME(sum_rows_f32, sum_rows_f64)(TN_T *db, const TN_T *m, size_t N, size_t H)
{
    FN(col_sums)(db, TN_SUM_X, m, NULL, NULL, NULL, N, H);
}

/* p[0 : n] = 0 (the gradients of a call with nothing to backpropagate) */
static inline void TN_NAME(zero_f32, zero_f64)(TN_T *p, size_t n)
{
    for (size_t i = 0; i < n; i++) p[i] = 0;
}
