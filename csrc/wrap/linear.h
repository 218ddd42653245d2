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
/* an elementwise kernel for each dtype */
typedef struct {
    ew1_f32 f32;
    ew1_f64 f64;
} Ew1;
typedef struct {
    ew2_f32 f32;
    ew2_f64 f64;
} Ew2;

/* GELU's approximate=: "none" -> 0, "tanh" -> 1 (the index of its kernels) */
static int get_approximate(Call *c, PyObject *o, int *form)
{
    return get_choice(c, o, "approximate", "none", "tanh", form);
}

/* Parse and convert an elementwise call's arguments: narr arrays named names[] (x, or dy
 * and the saved value, of one shape), then, for an activation of several forms (nforms
 * > 1: GELU), approximate=, which picks the kernels: their index in *form. */
static int elementwise_args(Call *c, const char *const names[], int narr, int nforms, PyObject *const *args,
                            Py_ssize_t nargs, PyObject *kwnames, PyArrayObject *arr[2], int *form)
{
    const char *kwlist[4] = {names[0], narr > 1 ? names[1] : NULL, NULL, NULL};
    if (nforms > 1) kwlist[narr] = "approximate";
    PyObject *obj[3] = {NULL, NULL, NULL}; /* the arrays, then approximate */
    if (parse(c->fn, args, nargs, kwnames, kwlist, narr, (PyObject **[]){&obj[0], &obj[1], &obj[2]})) return -1;
    FArg fa[] = {{names[0], obj[0], &arr[0], 0}, {names[narr - 1], obj[1], &arr[1], 0}};
    *form = 0;
    if ((obj[narr] && get_approximate(c, obj[narr], form)) || floats(c, fa, narr)) return -1;
    return narr > 1 ? same_shape(c, names[0], arr[0], names[1], arr[1]) : 0;
}

/* y = f(x) elementwise, any shape; k: the kernels of each of nforms forms (GELU's two,
 * chosen by approximate=; else one, and no such argument) */
static PyObject *elementwise_forward(const char *fn, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
                                     const Ew1 *k, int nforms)
{
    static const char *const names[] = {"x"};
    PyObject *res = NULL;
    PyArrayObject *a[2], *y;
    int form;
    Call c;
    call_init(&c, fn);
    if (elementwise_args(&c, names, 1, nforms, args, nargs, kwnames, a, &form) ||
        !(y = new_out(&c, PyArray_NDIM(a[0]), PyArray_DIMS(a[0]), c.type)))
        goto done;
    size_t n = SIZE(a[0]);
    if (c.type == NPY_FLOAT)
        RUN(20.0 * n, k[form].f32(P(y), P(a[0]), n));
    else
        RUN(20.0 * n, k[form].f64(P(y), P(a[0]), n));
    res = ret(y);
done:
    call_done(&c);
    return res;
}

/* dx = g(dy, v) elementwise, any shape (dy and v the same shape), where v is the value
 * the derivative is written in: the forward output y (tanh, sigmoid, ReLU) or its input
 * x (GELU); `saved` names it ("y" or "x") as the Python argument.  k, nforms: as for
 * elementwise_forward. */
static PyObject *elementwise_backward(const char *fn, const char *saved, PyObject *const *args, Py_ssize_t nargs,
                                      PyObject *kwnames, const Ew2 *k, int nforms)
{
    const char *const names[] = {"dy", saved};
    PyObject *res = NULL;
    PyArrayObject *a[2], *dx;
    int form;
    Call c;
    call_init(&c, fn);
    if (elementwise_args(&c, names, 2, nforms, args, nargs, kwnames, a, &form) ||
        !(dx = new_out(&c, PyArray_NDIM(a[1]), PyArray_DIMS(a[1]), c.type)))
        goto done;
    size_t n = SIZE(a[1]);
    if (c.type == NPY_FLOAT)
        RUN(4.0 * n, k[form].f32(P(dx), P(a[0]), P(a[1]), n));
    else
        RUN(4.0 * n, k[form].f64(P(dx), P(a[0]), P(a[1]), n));
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
        static const Ew1 k = {tn_##name##_forward_f32, tn_##name##_forward_f64};                                      \
        return elementwise_forward(#name "_forward", args, nargs, kw, &k, 1);                                         \
    }                                                                                                                 \
    static PyObject *py_##name##_backward(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kw)      \
    {                                                                                                                 \
        (void)self;                                                                                                   \
        static const Ew2 k = {tn_##name##_backward_f32, tn_##name##_backward_f64};                                    \
        return elementwise_backward(#name "_backward", saved, args, nargs, kw, &k, 1);                                \
    }

ACTIVATION(tanh, "y")    /* dx = dy (1 - y^2) */
ACTIVATION(sigmoid, "y") /* dx = dy y (1 - y) */
ACTIVATION(relu, "y")    /* dx = dy [y > 0] */

/* GELU, with approximate="none" (x Phi(x)) or "tanh" (GPT-2's); its backward takes the input x */
static PyObject *py_gelu_forward(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kw)
{
    (void)self;
    static const Ew1 k[] = {{tn_gelu_forward_f32, tn_gelu_forward_f64}, {tn_gelu_tanh_forward_f32,
                                                                         tn_gelu_tanh_forward_f64}};
    return elementwise_forward("gelu_forward", args, nargs, kw, k, 2);
}

static PyObject *py_gelu_backward(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kw)
{
    (void)self;
    static const Ew2 k[] = {{tn_gelu_backward_f32, tn_gelu_backward_f64}, {tn_gelu_tanh_backward_f32,
                                                                           tn_gelu_tanh_backward_f64}};
    return elementwise_backward("gelu_backward", "x", args, nargs, kw, k, 2);
}

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

/* ignore_index=: None (*ignore = -1, which no target in range equals) or an integer
 * (*given = 1) */
static int get_ignore_index(Call *c, PyObject *o, int *given, int64_t *ignore)
{
    long long v = -1;
    *given = o != NULL && o != Py_None;
    if (*given && get_int(c, "ignore_index", o, &v)) return -1;
    *ignore = (int64_t)v;
    return 0;
}

/* targets in [0, V), or equal to ignore_index when one is given: a target out of range
 * is reported as in_range reports it (on a copy with the ignored ones set to 0) */
static int targets_in_range(Call *c, PyArrayObject *t, npy_intp V, const char *V_what, int given, int64_t ignore)
{
    if (given) {
        const npy_int64 *v = (const npy_int64 *)PyArray_DATA(t);
        npy_intp n = nelems(t), i = 0;
        while (i < n && (v[i] == ignore || (v[i] >= 0 && v[i] < V))) i++;
        if (i == n) return 0;
        if (!(t = (PyArrayObject *)keep(c, PyArray_NewCopy(t, NPY_CORDER)))) return -1;
        npy_int64 *w = (npy_int64 *)PyArray_DATA(t);
        for (i = 0; i < n; i++) w[i] = w[i] == ignore ? 0 : w[i];
    }
    return in_range(c, "targets", t, V, V_what);
}

/* logits (N, V) floats and targets (N,) ints in [0, V) or equal to ignore_index (given) */
static int ce_args(Call *c, const char *lname, PyObject *ol, PyObject *ot, PyArrayObject **l, PyArrayObject **t,
                   int given, int64_t ignore)
{
    FArg fa[] = {{lname, ol, l, 0}};
    if (floats(c, fa, 1) || !(*t = ints(c, "targets", ot))) return -1;
    npy_intp ld[2] = {-1, -1};
    if (expect(c, lname, *l, 2, ld, "(N, V)", NULL)) return -1;
    npy_intp N = PyArray_DIM(*l, 0);
    if (expect(c, "targets", *t, 1, &N, "(N,)", " with N = %s.shape[0] = %zd", lname, (Py_ssize_t)N)) return -1;
    return targets_in_range(c, *t, PyArray_DIM(*l, 1),
                            strcmp(lname, "logits") == 0 ? "V = logits.shape[1]" : "V = probs.shape[1]", given, ignore);
}

static PyObject *py_cross_entropy_forward(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    (void)self;
    static const char *const kwlist[] = {"logits", "targets", "reduction", "ignore_index", NULL};
    PyObject *ol, *ot, *ored = NULL, *oign = NULL, *res = NULL;
    PyArrayObject *l, *t, *p;
    int mean = 1, given;
    int64_t ignore;
    Call c;
    call_init(&c, "cross_entropy_forward");
    if (parse(c.fn, args, nargs, kwnames, kwlist, 2, (PyObject **[]){&ol, &ot, &ored, &oign})) return NULL;
    if ((ored && get_reduction(&c, ored, &mean)) || get_ignore_index(&c, oign, &given, &ignore) ||
        ce_args(&c, "logits", ol, ot, &l, &t, given, ignore) || !(p = new_out(&c, 2, PyArray_DIMS(l), c.type)))
        goto done;
    size_t N = DIM(l, 0), V = DIM(l, 1);
    double loss = 0;
    RUN(20.0 * N * V, loss = KERNEL(&c, cross_entropy_forward_ex, P(p), P(l), P(t), N, V, mean, ignore));
    res = Py_BuildValue("dO", loss, p);
done:
    call_done(&c);
    return res;
}

static PyObject *py_cross_entropy_backward(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    (void)self;
    static const char *const kwlist[] = {"probs", "targets", "reduction", "ignore_index", NULL};
    PyObject *op, *ot, *ored = NULL, *oign = NULL, *res = NULL;
    PyArrayObject *p, *t, *d;
    int mean = 1, given;
    int64_t ignore;
    Call c;
    call_init(&c, "cross_entropy_backward");
    if (parse(c.fn, args, nargs, kwnames, kwlist, 2, (PyObject **[]){&op, &ot, &ored, &oign})) return NULL;
    if ((ored && get_reduction(&c, ored, &mean)) || get_ignore_index(&c, oign, &given, &ignore) ||
        ce_args(&c, "probs", op, ot, &p, &t, given, ignore) || !(d = new_out(&c, 2, PyArray_DIMS(p), c.type)))
        goto done;
    size_t N = DIM(p, 0), V = DIM(p, 1);
    RUN(2.0 * N * V, KERNEL(&c, cross_entropy_backward_ex, P(d), P(p), P(t), N, V, mean, ignore));
    res = ret(d);
done:
    call_done(&c);
    return res;
}

#endif /* TN_WRAP_LINEAR_H */
