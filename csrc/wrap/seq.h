/* wrap/seq.h -- what the recurrent layers' entry points share (wrap/rnn.h, lstm.h, gru.h):
 * the input sequence (token ids or floats), the states and sequences checked against it,
 * and the gated layers' weights.
 * A part of the wrapper (csrc/_core.c includes every part once). */
#ifndef TN_WRAP_SEQ_H
#define TN_WRAP_SEQ_H

#include "args.h"

/* The sizes of one call of a recurrent layer and the arrays that define them. */
typedef struct {
    int batched;             /* (T, B, ...) rather than (T, ...) */
    npy_intp T, B, D, H, V;  /* V: output classes (lm_loss, sample) */
    PyArrayObject *tokens;   /* int64 input, or NULL */
    PyArrayObject *x;        /* float input, or NULL */
    const char *in_name;     /* the input argument that sets T and B ... */
    PyArrayObject *in;       /* ... and its array */
    int bdim;                /* B is in_name.shape[bdim] when batched */
    const char *h_from;      /* where H and D come from, for messages: "W_hh.shape[0]" ... */
    const char *d_from;
} SeqDims;

/* x float (T,B,D)/(T,D) or tokens int (T,B)/(T,): decides whether x is a float array (*xf
 * set, tokens NULL) or token ids; raw x is returned through *xraw for the float path. */
static int seq_input_kind(Call *c, PyObject *ox, PyArrayObject **xraw, int *is_tokens)
{
    if (!(*xraw = raw_array(c, "x", ox))) return -1;
    *is_tokens = is_int_kind(*xraw);
    return 0;
}

/* The input sequence (tokens or floats) against D; sets batched, T, B. */
static int seq_input_shapes(Call *c, SeqDims *r, const char *name)
{
    r->in_name = name;
    r->in = r->tokens ? r->tokens : r->x;
    r->bdim = 1;
    if (r->tokens) {
        int nd = PyArray_NDIM(r->tokens);
        if (nd != 1 && nd != 2) return shape_error(c, name, r->tokens, "(T, B) or (T,) token ids", NULL);
        r->batched = nd == 2;
        r->T = PyArray_DIM(r->tokens, 0);
        r->B = r->batched ? PyArray_DIM(r->tokens, 1) : 1;
        if (all_in_range(r->tokens, r->D)) return 0;
        char what[64]; /* (formatted for the error only) */
        snprintf(what, sizeof what, "D = %s", r->d_from);
        return in_range(c, name, r->tokens, r->D, what);
    }
    int nd = PyArray_NDIM(r->x);
    if ((nd != 2 && nd != 3) || PyArray_DIM(r->x, nd - 1) != r->D) {
        char where[96];
        snprintf(where, sizeof where, " with D = %s = %zd", r->d_from, (Py_ssize_t)r->D);
        return shape_error(c, name, r->x, "(T, B, D) or (T, D)", where);
    }
    r->batched = nd == 3;
    r->T = PyArray_DIM(r->x, 0);
    r->B = r->batched ? PyArray_DIM(r->x, 1) : 1;
    return 0;
}

/* An (H,) / (B, H) state like h0, matching the input's batching.  The message names
 * the input argument the sizes come from. */
static int seq_state_shape(Call *c, SeqDims *r, const char *name, PyArrayObject *h)
{
    char s[160];
    npy_intp d[2] = {r->B, r->H};
    if (r->batched)
        return expect(c, name, h, 2, d, "(B, H)", " with B = %s.shape[%d] = %zd, H = %s = %zd", r->in_name, r->bdim,
                      (Py_ssize_t)r->B, r->h_from, (Py_ssize_t)r->H);
    if (fits(h, 1, d + 1)) return 0;
    return expect(c, name, h, 1, d + 1, "(H,)", " for unbatched %s of shape %s, with H = %s = %zd", r->in_name,
                  fmt_shape(r->in, s, sizeof s), r->h_from, (Py_ssize_t)r->H);
}

/* A (T, B, G H) / (T, G H) sequence: hidden states (G = 1), or the values of G gates. */
static int seq_shape(Call *c, SeqDims *r, const char *name, PyArrayObject *h, int G)
{
    char s[160];
    npy_intp w = G * r->H;
    int g = G == 1 ? 0 : G == 3 ? 1 : 2; /* (the patterns as constants: a good call formats nothing) */
    if (r->batched) {
        static const char *const pat[] = {"(T, B, H)", "(T, B, 3H)", "(T, B, 4H)"};
        npy_intp d[3] = {r->T, r->B, w};
        return expect(c, name, h, 3, d, pat[g], " with T = %s.shape[0] = %zd, B = %s.shape[1] = %zd, H = %s = %zd",
                      r->in_name, (Py_ssize_t)r->T, r->in_name, (Py_ssize_t)r->B, r->h_from, (Py_ssize_t)r->H);
    }
    static const char *const pat[] = {"(T, H)", "(T, 3H)", "(T, 4H)"};
    npy_intp u[2] = {r->T, w};
    if (fits(h, 2, u)) return 0;
    return expect(c, name, h, 2, u, pat[g], " for unbatched %s of shape %s, with T = %s.shape[0] = %zd, H = %s = %zd",
                  r->in_name, fmt_shape(r->in, s, sizeof s), r->in_name, (Py_ssize_t)r->T, r->h_from,
                  (Py_ssize_t)r->H);
}

/* W_ih (G H, D), W_hh (G H, H), optional b_ih, b_hh (G H,) of a gated layer with G gates;
 * sets r->H, r->D. */
static int gated_weight_shapes(Call *c, SeqDims *r, int G, PyArrayObject *W_ih, PyArrayObject *W_hh,
                               PyArrayObject *b_ih, PyArrayObject *b_hh)
{
    /* the patterns of G = 3 and 4 gates, constants: a good call formats nothing */
    static const char *const hh_pat[] = {"(3H, H)", "(4H, H)"}, *const ih_pat[] = {"(3H, D)", "(4H, D)"},
                             *const b_pat[] = {"(3H,)", "(4H,)"};
    int g = G == 3 ? 0 : 1;
    r->h_from = "W_hh.shape[1]", r->d_from = "W_ih.shape[1]";
    npy_intp hh[2] = {-1, -1};
    if (expect(c, "W_hh", W_hh, 2, hh, hh_pat[g], NULL)) return -1;
    r->H = PyArray_DIM(W_hh, 1);
    npy_intp GH = G * r->H;
    if (PyArray_DIM(W_hh, 0) != GH)
        return expect(c, "W_hh", W_hh, 2, &GH, hh_pat[g], " with H = W_hh.shape[1] = %zd", (Py_ssize_t)r->H);
    npy_intp ih[2] = {GH, -1};
    if (expect(c, "W_ih", W_ih, 2, ih, ih_pat[g], " with H = W_hh.shape[1] = %zd", (Py_ssize_t)r->H)) return -1;
    r->D = PyArray_DIM(W_ih, 1);
    if (b_ih && expect(c, "b_ih", b_ih, 1, &GH, b_pat[g], " with H = W_hh.shape[1] = %zd", (Py_ssize_t)r->H)) return -1;
    if (b_hh && expect(c, "b_hh", b_hh, 1, &GH, b_pat[g], " with H = W_hh.shape[1] = %zd", (Py_ssize_t)r->H)) return -1;
    return 0;
}

/* A fresh (T, B, G H) / (T, G H) sequence, batched as the input. */
static PyArrayObject *seq_out(Call *c, SeqDims *r, int G)
{
    npy_intp d[3] = {r->T, r->B, G * r->H}, u[2] = {r->T, G * r->H};
    return new_out(c, r->batched ? 3 : 2, r->batched ? d : u, c->type);
}

/* A fresh (B, H) / (H,) state, batched as the input. */
static PyArrayObject *state_out(Call *c, SeqDims *r)
{
    npy_intp d[2] = {r->B, r->H};
    return new_out(c, r->batched ? 2 : 1, r->batched ? d : d + 1, c->type);
}

/* Fresh weight gradients of a gated layer: dW_ih (G H, D), dW_hh (G H, H), db_ih, db_hh (G H,). */
static int gated_weight_outs(Call *c, SeqDims *r, int G, PyArrayObject **dW_ih, PyArrayObject **dW_hh,
                             PyArrayObject **db_ih, PyArrayObject **db_hh)
{
    npy_intp GH = G * r->H, ih[2] = {GH, r->D}, hh[2] = {GH, r->H};
    return (*dW_ih = new_out(c, 2, ih, c->type)) && (*dW_hh = new_out(c, 2, hh, c->type)) &&
                   (*db_ih = new_out(c, 1, &GH, c->type)) && (*db_hh = new_out(c, 1, &GH, c->type))
               ? 0
               : -1;
}

#endif /* TN_WRAP_SEQ_H */
