/* wrap/mlp.h -- entry points of the fused MLP steps (csrc/tn_mlp.c): a hidden block
 * (linear, batch norm, tanh) forward and backward, and the output layer with its
 * cross-entropy loss.  Each call returns its arrays as views of one allocation made for
 * it (as rnn_lm_loss does): one buffer instead of four or five -- or, with out=, writes
 * them into the caller's arrays and returns those.
 * A part of the wrapper (csrc/_core.c includes every part once). */
#ifndef TN_WRAP_MLP_H
#define TN_WRAP_MLP_H

#include "args.h"
#include "linear.h"
#include "norm.h"

/* The results: fresh (views of one buffer), or out=, a tuple or list of n arrays the
 * results are written into -- each an ndarray of the call's dtype, writeable,
 * C-contiguous, aligned and native (as an in-place argument), of the result's shape,
 * sharing no memory with another of them or with an input (ins, after conversion). */
static int block_outs(Call *c, PyObject *oout, int n, const char *const names[], const int *nds,
                      npy_intp *const *dims, PyArrayObject **outs, PyArrayObject *const *ins, const char *const in_names[],
                      int nin)
{
    if (oout == NULL || oout == Py_None) return new_outs(c, n, nds, dims, outs);
    if (!(PyTuple_Check(oout) || PyList_Check(oout)) || PySequence_Fast_GET_SIZE(oout) != n) {
        PyErr_Format(PyExc_TypeError, "%s: out must be None or a tuple of %d arrays (%s, ...), not %s", c->fn, n, names[0],
                     PyTuple_Check(oout) || PyList_Check(oout) ? "a sequence of another length" : short_type(oout));
        return -1;
    }
    static const char *const slot[] = {"out[0]", "out[1]", "out[2]", "out[3]", "out[4]", "out[5]"};
    for (int i = 0; i < n; i++) {
        char pat[160], where[80];
        const char *name = slot[i]; /* (n <= 5: no formatting on a good call) */
        if (!(outs[i] = inplace(c, name, PySequence_Fast_GET_ITEM(oout, i)))) return -1;
        if (!fits(outs[i], nds[i], dims[i])) {
            snprintf(where, sizeof where, " for %s", names[i]);
            return shape_error(c, name, outs[i], fmt_tuple(dims[i], nds[i], "(", ")", pat, sizeof pat), where);
        }
        for (int j = 0; j < nin + i; j++) {
            PyArrayObject *o = j < nin ? ins[j] : outs[j - nin];
            if (o && overlaps(outs[i], o)) {
                char other[64];
                if (j < nin)
                    snprintf(other, sizeof other, "%s", in_names[j]);
                else
                    snprintf(other, sizeof other, "out[%d]", j - nin);
                PyErr_Format(PyExc_ValueError, "%s: %s shares memory with %s; results go to separate arrays", c->fn,
                             name, other);
                return -1;
            }
        }
    }
    return 0;
}

/* W (H, D) and x (N, D), as the linear layer of a block needs them (x batched only) */
static int block_linear_shapes(Call *c, PyArrayObject *x, PyArrayObject *W, const char *wpattern)
{
    if (PyArray_NDIM(W) != 2) return shape_error(c, "W", W, wpattern, NULL);
    npy_intp xd[2] = {-1, PyArray_DIM(W, 1)};
    return expect(c, "x", x, 2, xd, "(N, D)", " with D = W.shape[1] = %zd", (Py_ssize_t)xd[1]);
}

/* (H,) vectors of a block, H = W.shape[0] (sym: "H", or "V" for the output layer) */
static int block_vectors(Call *c, PyArrayObject *W, const char *const names[], PyArrayObject *const vecs[], int n,
                         const char *sym)
{
    npy_intp H = PyArray_DIM(W, 0);
    for (int i = 0; i < n; i++)
        if (vecs[i] && expect(c, names[i], vecs[i], 1, &H, sym[0] == 'V' ? "(V,)" : "(H,)", " with %s = W.shape[0] = %zd",
                              sym, (Py_ssize_t)H))
            return -1;
    return 0;
}

/* correction >= 0 and more rows than it (the batch variance) */
static int block_rows(Call *c, PyArrayObject *x, long long correction)
{
    if (correction < 0) {
        PyErr_Format(PyExc_ValueError, "%s: correction must be >= 0, got %lld", c->fn, correction);
        return -1;
    }
    if (PyArray_DIM(x, 0) > correction) return 0;
    char s[160];
    PyErr_Format(PyExc_ValueError,
                 "%s: the batch variance with correction=%lld needs more than %lld row(s), but x has shape %s", c->fn,
                 correction, correction, fmt_shape(x, s, sizeof s));
    return -1;
}

static PyObject *py_linear_batchnorm_tanh_forward(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                                                  PyObject *kwnames)
{
    (void)self;
    static const char *const kwlist[] = {"x",          "W",   "b",   "gamma",        "beta",        "eps",
                                         "correction", "out", "running_mean", "running_var", "momentum", NULL};
    PyObject *ox, *oW, *ob, *og, *obe, *oeps = NULL, *ocorr = NULL, *oout = NULL, *orm = NULL, *orv = NULL,
                                       *omom = NULL, *res = NULL;
    PyArrayObject *x, *W, *b, *g, *be, *outs[4], *rm, *rv;
    double eps = 1e-5, momentum = 0.1;
    long long corr = 0;
    Call c;
    call_init(&c, "linear_batchnorm_tanh_forward");
    if (parse(c.fn, args, nargs, kwnames, kwlist, 5,
              (PyObject **[]){&ox, &oW, &ob, &og, &obe, &oeps, &ocorr, &oout, &orm, &orv, &omom}))
        return NULL;
    FArg fa[] = {{"x", ox, &x, 0}, {"W", oW, &W, 0}, {"b", ob, &b, 1}, {"gamma", og, &g, 0}, {"beta", obe, &be, 0}};
    const char *names[] = {"b", "gamma", "beta"};
    if ((oeps && get_nonneg(&c, "eps", oeps, &eps)) || (ocorr && get_int(&c, "correction", ocorr, &corr)) ||
        floats(&c, fa, 5) || block_linear_shapes(&c, x, W, "(H, D)") ||
        block_vectors(&c, W, names, (PyArrayObject *[]){b, g, be}, 3, "H") || block_rows(&c, x, corr))
        goto done;
    npy_intp N = PyArray_DIM(x, 0), D = PyArray_DIM(x, 1), H = PyArray_DIM(W, 0), nh[2] = {N, H};
    static const char *const out_names[] = {"h", "hpre", "mean", "invstd"}, *in_names[] = {"x", "W", "b", "gamma", "beta"};
    if (block_outs(&c, oout, 4, out_names, (int[]){2, 2, 1, 1}, (npy_intp *[]){nh, nh, &H, &H}, outs,
                   (PyArrayObject *[]){x, W, b, g, be}, in_names, 5) ||
        bn_running(&c, orm, orv, omom, outs[1], N, &rm, &rv, &momentum))
        goto done;
    if ((rm && (overlaps(rm, x) || overlaps(rm, W) || overlaps(rv, x) || overlaps(rv, W))) ||
        (rm && (overlaps(rm, outs[0]) || overlaps(rm, outs[1]) || overlaps(rv, outs[0]) || overlaps(rv, outs[1])))) {
        PyErr_Format(PyExc_ValueError, "%s: running_mean and running_var must not share memory with the other arrays",
                     c.fn);
        goto done;
    }
    void *work = workspace(&c, tn_linear_batchnorm_tanh_forward_work((size_t)N, (size_t)D, (size_t)H));
    if (!work) goto done;
    if (H) /* (N > correction >= 0) */
        RUN(2.0 * N * D * H + 30.0 * N * H,
            KERNEL(&c, linear_batchnorm_tanh_forward, P(outs[0]), P(outs[1]), P(outs[2]), P(outs[3]), P(x), P(W), P(b),
                   P(g), P(be), (size_t)N, (size_t)D, (size_t)H, eps, (size_t)corr, work));
    if (bn_update_running(&c, rm, rv, outs[1], outs[2], (size_t)N, (size_t)H, momentum)) goto done;
    res = PyTuple_Pack(4, outs[0], outs[1], outs[2], outs[3]);
done:
    call_done(&c);
    return res;
}

static PyObject *py_linear_batchnorm_tanh_backward(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                                                   PyObject *kwnames)
{
    (void)self;
    static const char *const kwlist[] = {"dh", "h", "x", "W", "gamma", "hpre", "mean", "invstd", "correction", "out", NULL};
    PyObject *odh, *oh, *ox, *oW, *og, *ohp, *om, *oi, *ocorr = NULL, *oout = NULL, *res = NULL;
    PyArrayObject *dh, *h, *x, *W, *g, *hp, *m, *is, *outs[5];
    long long corr = 0;
    Call c;
    call_init(&c, "linear_batchnorm_tanh_backward");
    if (parse(c.fn, args, nargs, kwnames, kwlist, 8,
              (PyObject **[]){&odh, &oh, &ox, &oW, &og, &ohp, &om, &oi, &ocorr, &oout}))
        return NULL;
    FArg fa[] = {{"dh", odh, &dh, 0},    {"h", oh, &h, 0},       {"x", ox, &x, 0},       {"W", oW, &W, 0},
                 {"gamma", og, &g, 0},   {"hpre", ohp, &hp, 0},  {"mean", om, &m, 0},    {"invstd", oi, &is, 0}};
    const char *names[] = {"gamma", "mean", "invstd"};
    if ((ocorr && get_int(&c, "correction", ocorr, &corr)) || floats(&c, fa, 8) ||
        block_linear_shapes(&c, x, W, "(H, D)") || block_vectors(&c, W, names, (PyArrayObject *[]){g, m, is}, 3, "H"))
        goto done;
    npy_intp N = PyArray_DIM(x, 0), D = PyArray_DIM(x, 1), H = PyArray_DIM(W, 0), nh[2] = {N, H}, hd[2] = {H, D};
    const char *const rows[] = {"hpre", "h", "dh"};
    PyArrayObject *const arrs[] = {hp, h, dh};
    for (int i = 0; i < 3; i++)
        if (expect(&c, rows[i], arrs[i], 2, nh, "(N, H)", " with N = x.shape[0] = %zd, H = W.shape[0] = %zd",
                   (Py_ssize_t)N, (Py_ssize_t)H))
            goto done;
    static const char *const out_names[] = {"dx", "dW", "db", "dgamma", "dbeta"},
                             *in_names[] = {"dh", "h", "x", "W", "gamma", "hpre", "mean", "invstd"};
    if (block_rows(&c, x, corr) ||
        block_outs(&c, oout, 5, out_names, (int[]){2, 2, 1, 1, 1}, (npy_intp *[]){PyArray_DIMS(x), hd, &H, &H, &H},
                   outs, (PyArrayObject *[]){dh, h, x, W, g, hp, m, is}, in_names, 8))
        goto done;
    void *work = workspace(&c, tn_linear_batchnorm_tanh_backward_work((size_t)N, (size_t)D, (size_t)H));
    if (!work) goto done;
    /* (with H = 0 too: dx is then zeros, and no loop runs over the N rows of an empty array) */
    RUN(4.0 * N * D * H + 16.0 * N * H,
        KERNEL(&c, linear_batchnorm_tanh_backward, P(outs[0]), P(outs[1]), P(outs[2]), P(outs[3]), P(outs[4]), P(dh),
               P(h), P(x), P(W), P(g), P(hp), P(m), P(is), (size_t)N, (size_t)D, (size_t)H, (size_t)corr, work));
    res = PyTuple_Pack(5, outs[0], outs[1], outs[2], outs[3], outs[4]);
done:
    call_done(&c);
    return res;
}

static PyObject *py_linear_cross_entropy(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    (void)self;
    static const char *const kwlist[] = {"x", "W", "b", "targets", "reduction", "out", "ignore_index", NULL};
    PyObject *ox, *oW, *ob, *ot, *ored = NULL, *oout = NULL, *oign = NULL, *res = NULL;
    PyArrayObject *x, *W, *b, *t, *outs[3];
    int mean = 1, given;
    int64_t ignore;
    Call c;
    call_init(&c, "linear_cross_entropy");
    if (parse(c.fn, args, nargs, kwnames, kwlist, 4, (PyObject **[]){&ox, &oW, &ob, &ot, &ored, &oout, &oign}))
        return NULL;
    FArg fa[] = {{"x", ox, &x, 0}, {"W", oW, &W, 0}, {"b", ob, &b, 1}};
    const char *names[] = {"b"};
    if ((ored && get_reduction(&c, ored, &mean)) || get_ignore_index(&c, oign, &given, &ignore) ||
        floats(&c, fa, 3) || !(t = ints(&c, "targets", ot)) || block_linear_shapes(&c, x, W, "(V, D)") ||
        block_vectors(&c, W, names, (PyArrayObject *[]){b}, 1, "V"))
        goto done;
    npy_intp N = PyArray_DIM(x, 0), D = PyArray_DIM(x, 1), V = PyArray_DIM(W, 0), vd[2] = {V, D};
    if (expect(&c, "targets", t, 1, &N, "(N,)", " with N = x.shape[0] = %zd", (Py_ssize_t)N) ||
        targets_in_range(&c, t, V, "V = W.shape[0]", given, ignore))
        goto done;
    static const char *const out_names[] = {"dx", "dW", "db"}, *in_names[] = {"x", "W", "b"};
    if (block_outs(&c, oout, 3, out_names, (int[]){2, 2, 1}, (npy_intp *[]){PyArray_DIMS(x), vd, &V}, outs,
                   (PyArrayObject *[]){x, W, b}, in_names, 3))
        goto done;
    void *work = workspace(&c, tn_linear_cross_entropy_work((size_t)N, (size_t)D, (size_t)V));
    if (!work) goto done;
    double loss = 0;
    RUN(6.0 * N * D * V + 30.0 * N * V,
        loss = KERNEL(&c, linear_cross_entropy, P(outs[0]), P(outs[1]), P(outs[2]), P(x), P(W), P(b), P(t), (size_t)N,
                      (size_t)D, (size_t)V, mean, ignore, work));
    res = Py_BuildValue("dOOO", loss, outs[0], outs[1], outs[2]);
done:
    call_done(&c);
    return res;
}

#endif /* TN_WRAP_MLP_H */
