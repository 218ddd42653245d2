/* wrap/norm.h -- entry points of batch and layer normalisation (csrc/tn_norm.c).
 * A part of the wrapper (csrc/_core.c includes every part once). */
#ifndef TN_WRAP_NORM_H
#define TN_WRAP_NORM_H

#include "args.h"

/* x (..., C): channels last, N = the product of the leading axes (at least one), over
 * which the statistics run; the per-channel vectors (C,); N > correction */
static int bn_shapes(Call *c, PyArrayObject *x, const char *const names[], PyArrayObject *const vecs[], int nvec,
                     long long correction, int need_rows)
{
    if (PyArray_NDIM(x) < 2) return shape_error(c, "x", x, "(N, C) or (..., C), channels last", NULL);
    npy_intp C = PyArray_DIM(x, PyArray_NDIM(x) - 1);
    for (int i = 0; i < nvec; i++)
        if (expect(c, names[i], vecs[i], 1, &C, "(C,)", " with C = x.shape[-1] = %zd", (Py_ssize_t)C)) return -1;
    if (correction < 0) {
        PyErr_Format(PyExc_ValueError, "%s: correction must be >= 0, got %lld", c->fn, correction);
        return -1;
    }
    if (need_rows && leading_rows(x) <= correction) {
        char s[160];
        PyErr_Format(PyExc_ValueError,
                     "%s: the batch variance with correction=%lld needs more than %lld value(s) per channel, but x has shape %s",
                     c->fn, correction, correction, fmt_shape(x, s, sizeof s));
        return -1;
    }
    return 0;
}

/* The optional running statistics of training mode (both or neither), updated in place:
 * (C,) arrays of the call's dtype, writeable and C-contiguous, not sharing memory; a
 * momentum in [0, 1]; more than one value per channel (their unbiased variance). */
static int bn_running(Call *c, PyObject *orm, PyObject *orv, PyObject *omom, PyArrayObject *x, npy_intp N,
                      PyArrayObject **rm, PyArrayObject **rv, double *momentum)
{
    *rm = *rv = NULL;
    if ((orm == NULL || orm == Py_None) != (orv == NULL || orv == Py_None)) {
        PyErr_Format(PyExc_ValueError, "%s: give both running_mean and running_var, or neither", c->fn);
        return -1;
    }
    if (omom && get_double(c, "momentum", omom, momentum)) return -1;
    if (!(*momentum >= 0 && *momentum <= 1)) {
        char buf[64];
        PyErr_Format(PyExc_ValueError, "%s: momentum must be in [0, 1], got %s", c->fn,
                     fmt_double(*momentum, buf, sizeof buf));
        return -1;
    }
    if (orm == NULL || orm == Py_None) return 0;
    npy_intp C = PyArray_DIM(x, PyArray_NDIM(x) - 1);
    if (!(*rm = inplace(c, "running_mean", orm)) || !(*rv = inplace(c, "running_var", orv)) ||
        expect(c, "running_mean", *rm, 1, &C, "(C,)", " with C = x.shape[-1] = %zd", (Py_ssize_t)C) ||
        expect(c, "running_var", *rv, 1, &C, "(C,)", " with C = x.shape[-1] = %zd", (Py_ssize_t)C))
        return -1;
    if (overlaps(*rm, *rv)) {
        PyErr_Format(PyExc_ValueError, "%s: running_var and running_mean share memory; they must be separate arrays",
                     c->fn);
        return -1;
    }
    if (N > 1 || C == 0) return 0;
    char s[160];
    PyErr_Format(PyExc_ValueError, "%s: the running variance (unbiased) needs more than 1 value per channel, but x "
                 "has shape %s", c->fn, fmt_shape(x, s, sizeof s));
    return -1;
}

/* The running statistics' update after the batch's (rm NULL: none), inside RUN. */
static int bn_update_running(Call *c, PyArrayObject *rm, PyArrayObject *rv, PyArrayObject *x, PyArrayObject *mean,
                             size_t N, size_t C, double momentum)
{
    if (!rm || !C) return 0;
    npy_intp nc = (npy_intp)C;
    PyArrayObject *sums = new_out(c, 1, &nc, c->type); /* (not workspace(): the call's may be in use) */
    if (!sums) return -1;
    RUN(3.0 * N * C, KERNEL(c, batchnorm_running, P(rm), P(rv), P(x), P(mean), N, C, momentum, P(sums)));
    return 0;
}

static PyObject *py_batchnorm_forward(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    (void)self;
    static const char *const kwlist[] = {"x", "gamma", "beta", "eps", "correction", "running_mean", "running_var",
                                         "momentum", NULL};
    PyObject *ox, *og, *ob, *oeps = NULL, *ocorr = NULL, *orm = NULL, *orv = NULL, *omom = NULL, *res = NULL;
    PyArrayObject *x, *g, *b, *y, *mean, *invstd, *rm, *rv;
    double eps = 1e-5, momentum = 0.1;
    long long corr = 0;
    Call c;
    call_init(&c, "batchnorm_forward");
    if (parse(c.fn, args, nargs, kwnames, kwlist, 3, (PyObject **[]){&ox, &og, &ob, &oeps, &ocorr, &orm, &orv, &omom}))
        return NULL;
    FArg fa[] = {{"x", ox, &x, 0}, {"gamma", og, &g, 0}, {"beta", ob, &b, 0}};
    const char *names[] = {"gamma", "beta"};
    if ((oeps && get_nonneg(&c, "eps", oeps, &eps)) || (ocorr && get_int(&c, "correction", ocorr, &corr)) ||
        floats(&c, fa, 3))
        goto done;
    PyArrayObject *vecs[] = {g, b};
    size_t N = (size_t)leading_rows(x); /* (exact when C > 0: N C is x's size) */
    if (bn_shapes(&c, x, names, vecs, 2, corr, 1) || bn_running(&c, orm, orv, omom, x, (npy_intp)N, &rm, &rv, &momentum))
        goto done;
    npy_intp C = PyArray_DIM(x, PyArray_NDIM(x) - 1);
    if (!(y = new_out(&c, PyArray_NDIM(x), PyArray_DIMS(x), c.type)) || !(mean = new_out(&c, 1, &C, c.type)) ||
        !(invstd = new_out(&c, 1, &C, c.type)))
        goto done;
    if (C) /* (N > correction >= 0) */
        RUN(8.0 * N * C, KERNEL(&c, batchnorm_forward, P(y), P(mean), P(invstd), P(x), P(g), P(b), N, (size_t)C, eps,
                                (size_t)corr));
    if (bn_update_running(&c, rm, rv, x, mean, N, (size_t)C, momentum)) goto done;
    res = Py_BuildValue("OOO", y, mean, invstd);
done:
    call_done(&c);
    return res;
}

static PyObject *py_batchnorm_backward(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    (void)self;
    static const char *const kwlist[] = {"dy", "x", "gamma", "mean", "invstd", "correction", NULL};
    PyObject *ody, *ox, *og, *om, *oi, *ocorr = NULL, *res = NULL;
    PyArrayObject *dy, *x, *g, *m, *is, *dx, *dg, *db;
    long long corr = 0;
    Call c;
    call_init(&c, "batchnorm_backward");
    if (parse(c.fn, args, nargs, kwnames, kwlist, 5, (PyObject **[]){&ody, &ox, &og, &om, &oi, &ocorr}))
        return NULL;
    FArg fa[] = {{"dy", ody, &dy, 0}, {"x", ox, &x, 0}, {"gamma", og, &g, 0}, {"mean", om, &m, 0}, {"invstd", oi, &is, 0}};
    const char *names[] = {"gamma", "mean", "invstd"};
    if ((ocorr && get_int(&c, "correction", ocorr, &corr)) || floats(&c, fa, 5)) goto done;
    PyArrayObject *vecs[] = {g, m, is};
    if (bn_shapes(&c, x, names, vecs, 3, corr, 1) || same_shape(&c, "dy", dy, "x", x)) goto done;
    npy_intp C = PyArray_DIM(x, PyArray_NDIM(x) - 1);
    if (!(dx = new_out(&c, PyArray_NDIM(x), PyArray_DIMS(x), c.type)) || !(dg = new_out(&c, 1, &C, c.type)) ||
        !(db = new_out(&c, 1, &C, c.type)))
        goto done;
    size_t N = (size_t)leading_rows(x);
    if (C) /* (N > correction >= 0) */
        RUN(12.0 * N * C, KERNEL(&c, batchnorm_backward, P(dx), P(dg), P(db), P(dy), P(x), P(g), P(m), P(is), N,
                                 (size_t)C, (size_t)corr));
    res = Py_BuildValue("OOO", dx, dg, db);
done:
    call_done(&c);
    return res;
}

static PyObject *py_batchnorm_inference(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    (void)self;
    static const char *const kwlist[] = {"x", "gamma", "beta", "running_mean", "running_var", "eps", NULL};
    PyObject *ox, *og, *ob, *orm, *orv, *oeps = NULL, *res = NULL;
    PyArrayObject *x, *g, *b, *rm, *rv, *y;
    double eps = 1e-5;
    Call c;
    call_init(&c, "batchnorm_inference");
    if (parse(c.fn, args, nargs, kwnames, kwlist, 5, (PyObject **[]){&ox, &og, &ob, &orm, &orv, &oeps}))
        return NULL;
    FArg fa[] = {{"x", ox, &x, 0},
                 {"gamma", og, &g, 0},
                 {"beta", ob, &b, 0},
                 {"running_mean", orm, &rm, 0},
                 {"running_var", orv, &rv, 0}};
    const char *names[] = {"gamma", "beta", "running_mean", "running_var"};
    if ((oeps && get_nonneg(&c, "eps", oeps, &eps)) || floats(&c, fa, 5)) goto done;
    PyArrayObject *vecs[] = {g, b, rm, rv};
    if (bn_shapes(&c, x, names, vecs, 4, 0, 0) || !(y = new_out(&c, PyArray_NDIM(x), PyArray_DIMS(x), c.type)))
        goto done;
    size_t N = (size_t)leading_rows(x), C = DIM(x, PyArray_NDIM(x) - 1);
    if (SIZE(y)) RUN(6.0 * N * C, KERNEL(&c, batchnorm_inference, P(y), P(x), P(g), P(b), P(rm), P(rv), N, C, eps));
    res = ret(y);
done:
    call_done(&c);
    return res;
}

/* ------------------------------------------------------------------- layer norm */

/* x (..., C), at least one axis, normalised over the last; the optional (C,) vectors */
static int ln_shapes(Call *c, PyArrayObject *x, const char *const names[], PyArrayObject *const vecs[], int nvec)
{
    if (PyArray_NDIM(x) < 1) return shape_error(c, "x", x, "(..., C), normalised over the last axis", NULL);
    npy_intp C = PyArray_DIM(x, PyArray_NDIM(x) - 1);
    char s[160];
    for (int i = 0; i < nvec; i++)
        if (vecs[i] && !fits(vecs[i], 1, &C))
            return expect(c, names[i], vecs[i], 1, &C, "(C,)", " with C = x.shape[-1] = %zd (x has shape %s)",
                          (Py_ssize_t)C, fmt_shape(x, s, sizeof s));
    return 0;
}

static PyObject *py_layernorm_forward(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    (void)self;
    static const char *const kwlist[] = {"x", "weight", "bias", "eps", NULL};
    PyObject *ox, *ow, *ob, *oeps = NULL, *res = NULL;
    PyArrayObject *x, *w, *b, *y, *m, *r;
    double eps = 1e-5;
    Call c;
    call_init(&c, "layernorm_forward");
    if (parse(c.fn, args, nargs, kwnames, kwlist, 3, (PyObject **[]){&ox, &ow, &ob, &oeps})) return NULL;
    FArg fa[] = {{"x", ox, &x, 0}, {"weight", ow, &w, 1}, {"bias", ob, &b, 1}};
    const char *names[] = {"weight", "bias"};
    if ((oeps && get_nonneg(&c, "eps", oeps, &eps)) || floats(&c, fa, 3) ||
        ln_shapes(&c, x, names, (PyArrayObject *[]){w, b}, 2))
        goto done;
    int nd = PyArray_NDIM(x); /* y like x; mean, rstd x.shape[:-1] */
    if (!(y = new_out(&c, nd, PyArray_DIMS(x), c.type)) || !(m = new_out(&c, nd - 1, PyArray_DIMS(x), c.type)) ||
        !(r = new_out(&c, nd - 1, PyArray_DIMS(x), c.type)))
        goto done;
    size_t C = DIM(x, nd - 1), N = SIZE(m);
    if (N) RUN(8.0 * N * C, KERNEL(&c, layernorm_forward, P(y), P(m), P(r), P(x), P(w), P(b), N, C, eps));
    res = Py_BuildValue("OOO", y, m, r);
done:
    call_done(&c);
    return res;
}

static PyObject *py_layernorm_backward(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    (void)self;
    static const char *const kwlist[] = {"dy", "x", "weight", "mean", "rstd", NULL};
    PyObject *ody, *ox, *ow, *om, *ors, *res = NULL;
    PyArrayObject *dy, *x, *w, *m, *r, *dx, *dw = NULL, *db;
    Call c;
    call_init(&c, "layernorm_backward");
    if (parse(c.fn, args, nargs, kwnames, kwlist, 5, (PyObject **[]){&ody, &ox, &ow, &om, &ors})) return NULL;
    FArg fa[] = {{"dy", ody, &dy, 0}, {"x", ox, &x, 0}, {"weight", ow, &w, 1}, {"mean", om, &m, 0},
                 {"rstd", ors, &r, 0}};
    const char *names[] = {"weight"};
    if (floats(&c, fa, 5) || ln_shapes(&c, x, names, &w, 1) || same_shape(&c, "dy", dy, "x", x)) goto done;
    int nd = PyArray_NDIM(x);
    char want[160];
    fmt_tuple(PyArray_DIMS(x), nd - 1, "(", ")", want, sizeof want);
    if (expect(&c, "mean", m, nd - 1, PyArray_DIMS(x), want, " (x.shape[:-1])") ||
        expect(&c, "rstd", r, nd - 1, PyArray_DIMS(x), want, " (x.shape[:-1])"))
        goto done;
    npy_intp C = PyArray_DIM(x, nd - 1);
    if (!(dx = new_out(&c, nd, PyArray_DIMS(x), c.type)) || (w && !(dw = new_out(&c, 1, &C, c.type))) ||
        !(db = new_out(&c, 1, &C, c.type)))
        goto done;
    size_t N = SIZE(m); /* (x's rows: mean has x.shape[:-1]) */
    void *work = workspace(&c, tn_layernorm_backward_work(N, (size_t)C));
    if (!work) goto done;
    if (C) RUN(12.0 * N * C, KERNEL(&c, layernorm_backward, P(dx), P(dw), P(db), P(dy), P(x), P(w), P(m), P(r), N,
                                    (size_t)C, work));
    res = Py_BuildValue("OOO", dx, dw ? (PyObject *)dw : Py_None, db);
done:
    call_done(&c);
    return res;
}

#endif /* TN_WRAP_NORM_H */
