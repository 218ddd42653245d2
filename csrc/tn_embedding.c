/* tn_embedding.c -- the embedding layer: row lookup and its scatter-add gradient. */
#ifndef TN_T
#include "tn_internal.h"

#define TN_TEMPLATE "tn_embedding.c"
#include "tn_template.h"
#else

TN_CLONES void TN_NAME(tn_embedding_forward_f32, tn_embedding_forward_f64)(TN_T *out, const TN_T *table,
    const int64_t *idx, size_t n, size_t E)
{
    for (size_t i = 0; i < n; i++) {
        const TN_T *row = table + (size_t)idx[i] * E;
        TN_T *o = out + i * E;
        for (size_t e = 0; e < E; e++) o[e] = row[e];
    }
}

TN_CLONES void TN_NAME(tn_embedding_backward_f32, tn_embedding_backward_f64)(TN_T *dtable, const TN_T *dout,
    const int64_t *idx, size_t n, size_t V, size_t E)
{
    for (size_t i = 0; i < V * E; i++) dtable[i] = 0;
    for (size_t i = 0; i < n; i++) {
        TN_T *row = dtable + (size_t)idx[i] * E;
        const TN_T *d = dout + i * E;
        for (size_t e = 0; e < E; e++) row[e] += d[e];
    }
}

#endif
