/* wrap/linear.h -- entry points of the affine layer, the activations, softmax and
 * cross-entropy (csrc/tn_linear.c).
 * A part of the wrapper (csrc/_core.c includes every part once). */
#ifndef TN_WRAP_LINEAR_H
#define TN_WRAP_LINEAR_H

#include "args.h"

/* W (H, D) and x (..., D), as F.linear: any leading axes, (D,) included. */
static int linear_shapes(Call *c, PyArrayObject *x, PyArrayObject *W)
{
    if (PyArray_NDIM(W) != 2) return shape_error(c, "W", W, "(H, D)", NULL);
    return expect_last(c, "x", x, 1, PyArray_DIM(W, 1), "(..., D)", "D = W.shape[1]");
}

static PyObject *py_linear_forward(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    (void)self;
    static const char *const kwlist[] = {"x", "W", "b", NULL};
    PyObject *ox, *oW, *ob = Py_None, *res = NULL;
    PyArrayObject *x, *W, *b, *y;
    Call c;
    call_init(&c, "linear_forward");
    if (parse(c.fn, args, nargs, kwnames, kwlist, 2, (PyObject **[]){&ox, &oW, &ob})) return NULL;
    FArg fa[] = {{"x", ox, &x, 0}, {"W", oW, &W, 0}, {"b", ob, &b, 1}};
    if (floats(&c, fa, 3) || linear_shapes(&c, x, W)) goto done;
    npy_intp H = PyArray_DIM(W, 0), D = PyArray_DIM(W, 1), N = leading_rows(x), yd[NPY_MAXDIMS];
    if (b && expect(&c, "b", b, 1, &H, "(H,)", " with H = W.shape[0] = %zd", (Py_ssize_t)H)) goto done;
    with_last(x, H, yd);
    if (!(y = new_out(&c, PyArray_NDIM(x), yd, c.type))) goto done;
    if (SIZE(y)) { /* (so N did not saturate: N H is y's size) */
        void *work = workspace(&c, tn_linear_forward_work((size_t)N, (size_t)D, (size_t)H));
        if (!work) goto done;
        RUN(2.0 * N * D * H, KERNEL(&c, linear_forward, P(y), P(x), P(W), P(b), (size_t)N, (size_t)D, (size_t)H, work));
    }
    res = ret(y);
done:
    call_done(&c);
    return res;
}

static PyObject *py_linear_backward(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    (void)self;
    static const char *const kwlist[] = {"dy", "x", "W", NULL};
    PyObject *ody, *ox, *oW, *res = NULL;
    PyArrayObject *dy, *x, *W, *dx, *dW, *db;
    Call c;
    call_init(&c, "linear_backward");
    if (parse(c.fn, args, nargs, kwnames, kwlist, 3, (PyObject **[]){&ody, &ox, &oW})) return NULL;
    FArg fa[] = {{"dy", ody, &dy, 0}, {"x", ox, &x, 0}, {"W", oW, &W, 0}};
    if (floats(&c, fa, 3) || linear_shapes(&c, x, W)) goto done;
    npy_intp H = PyArray_DIM(W, 0), D = PyArray_DIM(W, 1), N = leading_rows(x), yd[NPY_MAXDIMS];
    with_last(x, H, yd);
    if (!fits(dy, PyArray_NDIM(x), yd)) {
        char want[160], xs[160], where[400];
        snprintf(where, sizeof where, " (x.shape[:-1] + (H,), with x of shape %s and H = W.shape[0] = %zd)",
                 fmt_shape(x, xs, sizeof xs), (Py_ssize_t)H);
        shape_error(&c, "dy", dy, fmt_tuple(yd, PyArray_NDIM(x), "(", ")", want, sizeof want), where);
        goto done;
    }
    npy_intp wd[2] = {H, D};
    if (!(dx = new_out(&c, PyArray_NDIM(x), PyArray_DIMS(x), c.type)) || !(dW = new_out(&c, 2, wd, c.type)) ||
        !(db = new_out(&c, 1, &H, c.type)))
        goto done;
    if (SIZE(dx) || SIZE(dW) || SIZE(db)) { /* (then N did not saturate: dy exists, N H or N D is a size) */
        void *work = workspace(&c, tn_linear_work((size_t)N, (size_t)D, (size_t)H));
        if (!work) goto done;
        RUN(4.0 * N * D * H, KERNEL(&c, linear_backward, P(dx), P(dW), P(db), P(dy), P(x), P(W), (size_t)N, (size_t)D,
                                    (size_t)H, work));
    }
    res = Py_BuildValue("OOO", dx, dW, db);
done:
    call_done(&c);
    return res;
}

/* ---------------------------------------------------------------- activations */

typedef void (*ew1_f32)(float *, const float *, size_t);
typedef void (*ew1_f64)(double *, const double *, size_t);
typedef void (*ew2_f32)(float *, const float *, const float *, size_t);
typedef void (*ew2_f64)(double *, const double *, const double *, size_t);

/* y = f(x) elementwise, any shape */
static PyObject *elementwise_forward(const char *fn, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
                                     ew1_f32 k32, ew1_f64 k64)
{
    static const char *const kwlist[] = {"x", NULL};
    PyObject *ox, *res = NULL;
    PyArrayObject *x, *y;
    Call c;
    call_init(&c, fn);
    if (parse(c.fn, args, nargs, kwnames, kwlist, 1, (PyObject **[]){&ox})) return NULL;
    FArg fa[] = {{"x", ox, &x, 0}};
    if (floats(&c, fa, 1) || !(y = new_out(&c, PyArray_NDIM(x), PyArray_DIMS(x), c.type))) goto done;
    size_t n = SIZE(x);
    if (c.type == NPY_FLOAT)
        RUN(20.0 * n, k32(P(y), P(x), n));
    else
        RUN(20.0 * n, k64(P(y), P(x), n));
    res = ret(y);
done:
    call_done(&c);
    return res;
}

/* dx = g(dy, v) elementwise, any shape (dy and v the same shape), where v is the value
 * the derivative is written in: the forward output y (tanh, sigmoid, ReLU) or its input
 * x; `saved` names it ("y" or "x") as the Python argument. */
static PyObject *elementwise_backward(const char *fn, const char *saved, PyObject *const *args, Py_ssize_t nargs,
                                      PyObject *kwnames, ew2_f32 k32, ew2_f64 k64)
{
    const char *const kwlist[] = {"dy", saved, NULL};
    PyObject *ody, *ov, *res = NULL;
    PyArrayObject *dy, *v, *dx;
    Call c;
    call_init(&c, fn);
    if (parse(c.fn, args, nargs, kwnames, kwlist, 2, (PyObject **[]){&ody, &ov})) return NULL;
    FArg fa[] = {{"dy", ody, &dy, 0}, {saved, ov, &v, 0}};
    if (floats(&c, fa, 2) || same_shape(&c, "dy", dy, saved, v) ||
        !(dx = new_out(&c, PyArray_NDIM(v), PyArray_DIMS(v), c.type)))
        goto done;
    size_t n = SIZE(v);
    if (c.type == NPY_FLOAT)
        RUN(4.0 * n, k32(P(dx), P(dy), P(v), n));
    else
        RUN(4.0 * n, k64(P(dx), P(dy), P(v), n));
    res = ret(dx);
done:
    call_done(&c);
    return res;
}

/* The entry points of an activation: name_forward(x) and name_backward(dy, <saved>), the
 * kernels tn_name_forward_f32/_f64 and tn_name_backward_f32/_f64 (tn_linear.c). */
#define ACTIVATION(name, saved)                                                                                       \
    static PyObject *py_##name##_forward(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kw)       \
    {                                                                                                                 \
        (void)self;                                                                                                   \
        return elementwise_forward(#name "_forward", args, nargs, kw, tn_##name##_forward_f32,                        \
                                   tn_##name##_forward_f64);                                                          \
    }                                                                                                                 \
    static PyObject *py_##name##_backward(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kw)      \
    {                                                                                                                 \
        (void)self;                                                                                                   \
        return elementwise_backward(#name "_backward", saved, args, nargs, kw, tn_##name##_backward_f32,              \
                                    tn_##name##_backward_f64);                                                        \
    }

ACTIVATION(tanh, "y")    /* dx = dy (1 - y^2) */
ACTIVATION(sigmoid, "y") /* dx = dy y (1 - y) */
ACTIVATION(relu, "y")    /* dx = dy [y > 0] */

/* ------------------------------------------------------- softmax, cross-entropy */

static PyObject *py_softmax(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    (void)self;
    static const char *const kwlist[] = {"logits", NULL};
    PyObject *ol, *res = NULL;
    PyArrayObject *l, *p;
    Call c;
    call_init(&c, "softmax");
    if (parse(c.fn, args, nargs, kwnames, kwlist, 1, (PyObject **[]){&ol})) return NULL;
    FArg fa[] = {{"logits", ol, &l, 0}};
    if (floats(&c, fa, 1)) goto done;
    if (PyArray_NDIM(l) < 1) {
        shape_error(&c, "logits", l, "(N, V) or (V,)", NULL);
        goto done;
    }
    if (!(p = new_out(&c, PyArray_NDIM(l), PyArray_DIMS(l), c.type))) goto done;
    size_t V = DIM(l, PyArray_NDIM(l) - 1), N = V ? SIZE(l) / V : 0;
    RUN(20.0 * N * V, KERNEL(&c, softmax, P(p), P(l), N, V));
    res = ret(p);
done:
    call_done(&c);
    return res;
}

/* logits (N, V) floats and targets (N,) ints in [0, V) */
static int ce_args(Call *c, const char *lname, PyObject *ol, PyObject *ot, PyArrayObject **l, PyArrayObject **t)
{
    FArg fa[] = {{lname, ol, l, 0}};
    if (floats(c, fa, 1) || !(*t = ints(c, "targets", ot))) return -1;
    npy_intp ld[2] = {-1, -1};
    if (expect(c, lname, *l, 2, ld, "(N, V)", NULL)) return -1;
    npy_intp N = PyArray_DIM(*l, 0);
    if (expect(c, "targets", *t, 1, &N, "(N,)", " with N = %s.shape[0] = %zd", lname, (Py_ssize_t)N)) return -1;
    return in_range(c, "targets", *t, PyArray_DIM(*l, 1),
                    strcmp(lname, "logits") == 0 ? "V = logits.shape[1]" : "V = probs.shape[1]");
}

static PyObject *py_cross_entropy_forward(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    (void)self;
    static const char *const kwlist[] = {"logits", "targets", "reduction", NULL};
    PyObject *ol, *ot, *ored = NULL, *res = NULL;
    PyArrayObject *l, *t, *p;
    int mean = 1;
    Call c;
    call_init(&c, "cross_entropy_forward");
    if (parse(c.fn, args, nargs, kwnames, kwlist, 2, (PyObject **[]){&ol, &ot, &ored})) return NULL;
    if ((ored && get_reduction(&c, ored, &mean)) || ce_args(&c, "logits", ol, ot, &l, &t) ||
        !(p = new_out(&c, 2, PyArray_DIMS(l), c.type)))
        goto done;
    size_t N = DIM(l, 0), V = DIM(l, 1);
    double loss = 0;
    RUN(20.0 * N * V, loss = KERNEL(&c, cross_entropy_forward, P(p), P(l), P(t), N, V, mean));
    res = Py_BuildValue("dO", loss, p);
done:
    call_done(&c);
    return res;
}

static PyObject *py_cross_entropy_backward(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    (void)self;
    static const char *const kwlist[] = {"probs", "targets", "reduction", NULL};
    PyObject *op, *ot, *ored = NULL, *res = NULL;
    PyArrayObject *p, *t, *d;
    int mean = 1;
    Call c;
    call_init(&c, "cross_entropy_backward");
    if (parse(c.fn, args, nargs, kwnames, kwlist, 2, (PyObject **[]){&op, &ot, &ored})) return NULL;
    if ((ored && get_reduction(&c, ored, &mean)) || ce_args(&c, "probs", op, ot, &p, &t) ||
        !(d = new_out(&c, 2, PyArray_DIMS(p), c.type)))
        goto done;
    size_t N = DIM(p, 0), V = DIM(p, 1);
    RUN(2.0 * N * V, KERNEL(&c, cross_entropy_backward, P(d), P(p), P(t), N, V, mean));
    res = ret(d);
done:
    call_done(&c);
    return res;
}

#endif /* TN_WRAP_LINEAR_H */
