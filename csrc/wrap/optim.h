/* wrap/optim.h -- entry points of the in-place optimizers (csrc/tn_optim.c).
 * A part of the wrapper (csrc/_core.c includes every part once). */
#ifndef TN_WRAP_OPTIM_H
#define TN_WRAP_OPTIM_H

#include "args.h"

/* The in-place arrays (state[0] is the parameter) share its shape and no memory with
 * each other; grad, read-only, is converted to the call's dtype and copied if it
 * overlaps any of them (an exact alias of param alone is fine elementwise). */
static int optimizer_args(Call *c, PyObject *ograd, PyArrayObject **grad, const char *const names[],
                          PyArrayObject *const state[], int nstate)
{
    for (int i = 1; i < nstate; i++) {
        if (same_shape(c, names[i], state[i], names[0], state[0])) return -1;
        for (int j = 0; j < i; j++)
            if (overlaps(state[i], state[j])) {
                PyErr_Format(PyExc_ValueError, "%s: %s and %s share memory; they must be separate arrays", c->fn,
                             names[i], names[j]);
                return -1;
            }
    }
    FArg fa[] = {{"grad", ograd, grad, 0}};
    if (floats(c, fa, 1) || same_shape(c, "grad", *grad, names[0], state[0])) return -1;
    for (int i = 0; i < nstate; i++) {
        if (!overlaps(*grad, state[i])) continue;
        if (i == 0 && nstate == 1 && PyArray_DATA(*grad) == PyArray_DATA(state[0])) continue;
        if (!(*grad = (PyArrayObject *)keep(c, PyArray_NewCopy(*grad, NPY_CORDER)))) return -1;
        break;
    }
    return 0;
}

static PyObject *py_sgd_step_(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    (void)self;
    static const char *const kwlist[] = {"param", "grad", "lr", NULL};
    PyObject *op, *og, *olr, *res = NULL;
    PyArrayObject *p, *g;
    double lr;
    Call c;
    call_init(&c, "sgd_step_");
    if (parse(c.fn, args, nargs, kwnames, kwlist, 3, (PyObject **[]){&op, &og, &olr})) return NULL;
    const char *names[] = {"param"};
    if (!(p = inplace(&c, "param", op)) || optimizer_args(&c, og, &g, names, &p, 1) || get_nonneg(&c, "lr", olr, &lr))
        goto done;
    size_t n = SIZE(p);
    RUN(2.0 * n, KERNEL(&c, sgd_step, P(p), P(g), n, lr));
    Py_INCREF(Py_None);
    res = Py_None;
done:
    call_done(&c);
    return res;
}

static PyObject *py_adagrad_step_(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    (void)self;
    static const char *const kwlist[] = {"param", "grad", "mem", "lr", "eps", NULL};
    PyObject *op, *og, *om, *olr, *oeps = NULL, *res = NULL;
    PyArrayObject *st[2], *g;
    double lr, eps = 1e-8;
    Call c;
    call_init(&c, "adagrad_step_");
    if (parse(c.fn, args, nargs, kwnames, kwlist, 4, (PyObject **[]){&op, &og, &om, &olr, &oeps})) return NULL;
    const char *names[] = {"param", "mem"};
    if (!(st[0] = inplace(&c, "param", op)) || !(st[1] = inplace(&c, "mem", om)) ||
        optimizer_args(&c, og, &g, names, st, 2) || get_nonneg(&c, "lr", olr, &lr) ||
        (oeps && get_nonneg(&c, "eps", oeps, &eps)))
        goto done;
    size_t n = SIZE(st[0]);
    RUN(8.0 * n, KERNEL(&c, adagrad_step, P(st[0]), P(g), P(st[1]), n, lr, eps));
    Py_INCREF(Py_None);
    res = Py_None;
done:
    call_done(&c);
    return res;
}

static int check_beta(Call *c, const char *name, double v)
{
    if (v >= 0 && v < 1) return 0;
    char buf[64];
    PyErr_Format(PyExc_ValueError, "%s: %s must be in [0, 1), got %s", c->fn, name, fmt_double(v, buf, sizeof buf));
    return -1;
}

static PyObject *py_adam_step_(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    (void)self;
    static const char *const kwlist[] = {"param", "grad", "m", "v", "t", "lr", "beta1", "beta2", "eps", "weight_decay", NULL};
    PyObject *op, *og, *om, *ov, *ot, *olr = NULL, *ob1 = NULL, *ob2 = NULL, *oeps = NULL, *owd = NULL, *res = NULL;
    PyArrayObject *st[3], *g;
    double lr = 1e-3, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.0;
    long long t;
    Call c;
    call_init(&c, "adam_step_");
    if (parse(c.fn, args, nargs, kwnames, kwlist, 5, (PyObject **[]){&op, &og, &om, &ov, &ot, &olr, &ob1, &ob2, &oeps, &owd}))
        return NULL;
    const char *names[] = {"param", "m", "v"};
    if (!(st[0] = inplace(&c, "param", op)) || !(st[1] = inplace(&c, "m", om)) || !(st[2] = inplace(&c, "v", ov)) ||
        optimizer_args(&c, og, &g, names, st, 3) || get_int(&c, "t", ot, &t) ||
        (olr && get_nonneg(&c, "lr", olr, &lr)) || (ob1 && get_double(&c, "beta1", ob1, &b1)) ||
        (ob2 && get_double(&c, "beta2", ob2, &b2)) || (oeps && get_nonneg(&c, "eps", oeps, &eps)) ||
        (owd && get_nonneg(&c, "weight_decay", owd, &wd)))
        goto done;
    if (t < 1) {
        PyErr_Format(PyExc_ValueError, "adam_step_: t counts steps from 1, got %lld", t);
        goto done;
    }
    if (check_beta(&c, "beta1", b1) || check_beta(&c, "beta2", b2)) goto done;
    size_t n = SIZE(st[0]);
    RUN(12.0 * n, KERNEL(&c, adam_step, P(st[0]), P(g), P(st[1]), P(st[2]), n, (int64_t)t, lr, b1, b2, eps, wd));
    Py_INCREF(Py_None);
    res = Py_None;
done:
    call_done(&c);
    return res;
}

static PyObject *py_clip_(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    (void)self;
    static const char *const kwlist[] = {"grad", "lo", "hi", NULL};
    PyObject *og, *olo, *ohi, *res = NULL;
    PyArrayObject *g;
    double lo, hi;
    Call c;
    call_init(&c, "clip_");
    if (parse(c.fn, args, nargs, kwnames, kwlist, 3, (PyObject **[]){&og, &olo, &ohi})) return NULL;
    if (!(g = inplace(&c, "grad", og)) || get_double(&c, "lo", olo, &lo) || get_double(&c, "hi", ohi, &hi)) goto done;
    if (!(lo <= hi)) {
        PyErr_Format(PyExc_ValueError, "clip_: need lo <= hi, got lo=%R, hi=%R", olo, ohi);
        goto done;
    }
    size_t n = SIZE(g);
    RUN(2.0 * n, KERNEL(&c, clip, P(g), n, lo, hi));
    Py_INCREF(Py_None);
    res = Py_None;
done:
    call_done(&c);
    return res;
}

#endif /* TN_WRAP_OPTIM_H */
