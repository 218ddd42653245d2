/* wrap/embedding.h -- entry points of the embedding layer (csrc/tn_embedding.c).
 * A part of the wrapper (csrc/_core.c includes every part once). */
#ifndef TN_WRAP_EMBEDDING_H
#define TN_WRAP_EMBEDDING_H

#include "args.h"

static PyObject *py_embedding_forward(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    (void)self;
    static const char *const kwlist[] = {"table", "idx", NULL};
    PyObject *otab, *oidx, *res = NULL;
    PyArrayObject *tab, *idx, *out;
    Call c;
    call_init(&c, "embedding_forward");
    if (parse(c.fn, args, nargs, kwnames, kwlist, 2, (PyObject **[]){&otab, &oidx})) return NULL;
    FArg fa[] = {{"table", otab, &tab, 0}};
    if (floats(&c, fa, 1) || !(idx = ints(&c, "idx", oidx))) goto done;
    npy_intp td[2] = {-1, -1};
    if (expect(&c, "table", tab, 2, td, "(V, E)", NULL) || in_range(&c, "idx", idx, PyArray_DIM(tab, 0), "V = table.shape[0]"))
        goto done;
    int nd = PyArray_NDIM(idx);
    if (nd + 1 > NPY_MAXDIMS) {
        char pat[96];
        snprintf(pat, sizeof pat, "at most %d dimensions (out = table[idx] adds one)", NPY_MAXDIMS - 1);
        shape_error(&c, "idx", idx, pat, NULL);
        goto done;
    }
    npy_intp od[NPY_MAXDIMS];
    for (int i = 0; i < nd; i++) od[i] = PyArray_DIM(idx, i);
    od[nd] = PyArray_DIM(tab, 1);
    if (!(out = new_out(&c, nd + 1, od, c.type))) goto done;
    size_t n = SIZE(idx), E = DIM(tab, 1);
    RUN(1.0 * n * E, KERNEL(&c, embedding_forward, P(out), P(tab), P(idx), n, E));
    res = ret(out);
done:
    call_done(&c);
    return res;
}

static PyObject *py_embedding_backward(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    (void)self;
    static const char *const kwlist[] = {"dout", "idx", "num_embeddings", NULL};
    PyObject *od, *oidx, *onum, *res = NULL;
    PyArrayObject *dout, *idx, *dt;
    long long V;
    Call c;
    call_init(&c, "embedding_backward");
    if (parse(c.fn, args, nargs, kwnames, kwlist, 3, (PyObject **[]){&od, &oidx, &onum})) return NULL;
    FArg fa[] = {{"dout", od, &dout, 0}};
    if (floats(&c, fa, 1) || !(idx = ints(&c, "idx", oidx)) || get_int(&c, "num_embeddings", onum, &V)) goto done;
    if (V < 0) {
        PyErr_Format(PyExc_ValueError, "embedding_backward: num_embeddings must be >= 0, got %lld", V);
        goto done;
    }
    int nd = PyArray_NDIM(idx);
    if (PyArray_NDIM(dout) != nd + 1 ||
        (nd && memcmp(PyArray_DIMS(dout), PyArray_DIMS(idx), (size_t)nd * sizeof(npy_intp)) != 0)) {
        char s[160];
        char pat[200];
        snprintf(pat, sizeof pat, "idx.shape + (E,) with idx.shape = %s", fmt_shape(idx, s, sizeof s));
        shape_error(&c, "dout", dout, pat, NULL);
        goto done;
    }
    if (in_range(&c, "idx", idx, (npy_intp)V, "num_embeddings")) goto done;
    npy_intp dd[2] = {(npy_intp)V, PyArray_DIM(dout, nd)};
    if (!(dt = new_out(&c, 2, dd, c.type))) goto done;
    size_t n = SIZE(idx), E = (size_t)dd[1];
    RUN(1.0 * n * E, KERNEL(&c, embedding_backward, P(dt), P(dout), P(idx), n, (size_t)V, E));
    res = ret(dt);
done:
    call_done(&c);
    return res;
}

#endif /* TN_WRAP_EMBEDDING_H */
