/* tn_sizes.c -- size arithmetic with overflow checks: the public helpers, and the sums the
 * layers' workspace functions (tn_*_work) are made of. */
#include "tn_internal.h"

int tn_size_mul(size_t a, size_t b, size_t *out) { return __builtin_mul_overflow(a, b, out) ? -1 : 0; }

int tn_size_add(size_t a, size_t b, size_t *out) { return __builtin_add_overflow(a, b, out) ? -1 : 0; }

void tn_ws_add(tn_ws *w, size_t a, size_t b, size_t c)
{
    size_t p;
    if (tn_size_mul(a, b, &p) || tn_size_mul(p, c, &p) || tn_size_add(p, TN_ALIGN_ELEMS, &p) ||
        tn_size_add(w->n, TN_ROUND_UP(p), &w->n))
        w->overflow = 1;
}

size_t tn_ws_done(const tn_ws *w) { return w->overflow ? SIZE_MAX : w->n; }
