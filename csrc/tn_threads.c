/* tn_threads.c -- the thread count and parallel-for used by the large kernels. */
#include "tn_internal.h"

static int tn_nthreads = 1;

void tn_set_num_threads(int n) { tn_nthreads = n <= 0 ? 1 : n; }

int tn_get_num_threads(void) { return tn_nthreads; }

void tn_parallel_for(size_t n, size_t min_chunk, tn_range_fn fn, void *ctx)
{
    (void)min_chunk;
    if (n) fn(ctx, 0, n);
}
