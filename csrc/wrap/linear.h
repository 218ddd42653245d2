/* wrap/linear.h -- entry points of the affine layer, the activations, softmax and
 * cross-entropy (csrc/tn_linear.c).
 * Part of the wrapper: included once, by csrc/_core.c (the only file that includes
 * Python.h and the NumPy headers); it uses the helpers of wrap/args.h. */

PyDoc_STRVAR(linear_forward_doc,
"linear_forward(x, W, b=None)\n--\n\n"
"Affine layer: y = x @ W.T + b.\n\n"
"x: (N, D) or (D,); W: (H, D) (PyTorch nn.Linear layout); b: (H,) or None.\n"
"Returns y: (N, H) or (H,), in the dtype of the float arguments (float32/float64).\n\n"
">>> import numpy as np, tinynet as tn\n"
">>> tn.linear_forward(np.ones((2, 3)), np.ones((4, 3)), np.zeros(4)).shape\n"
"(2, 4)\n");

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
    if (floats(&c, fa, 3)) goto done;
    if (PyArray_NDIM(W) != 2) {
        shape_error(&c, "W", W, "(H, D)", NULL);
        goto done;
    }
    npy_intp H = PyArray_DIM(W, 0), D = PyArray_DIM(W, 1);
    int batched = PyArray_NDIM(x) == 2;
    npy_intp xd[2] = {-1, D};
    if (expect(&c, "x", x, batched ? 2 : 1, batched ? xd : xd + 1, "(N, D) or (D,)", " with D = W.shape[1] = %zd",
               (Py_ssize_t)D))
        goto done;
    if (b && expect(&c, "b", b, 1, &H, "(H,)", " with H = W.shape[0] = %zd", (Py_ssize_t)H)) goto done;
    npy_intp N = batched ? PyArray_DIM(x, 0) : 1, yd[2] = {N, H};
    if (!(y = new_out(&c, batched ? 2 : 1, batched ? yd : yd + 1, c.type))) goto done;
    void *work = workspace(&c, tn_linear_forward_work((size_t)N, (size_t)D, (size_t)H));
    if (!work) goto done;
    if (SIZE(y))
        RUN(2.0 * N * D * H, KERNEL(&c, linear_forward, P(y), P(x), P(W), P(b), (size_t)N, (size_t)D, (size_t)H, work));
    res = ret(y);
done:
    call_done(&c);
    return res;
}

PyDoc_STRVAR(linear_backward_doc,
"linear_backward(dy, x, W)\n--\n\n"
"Gradients of y = x @ W.T + b given dy = dL/dy.\n\n"
"dy: (N, H) or (H,); x: (N, D) or (D,) (the forward input); W: (H, D).\n"
"Returns (dx, dW, db): dx like x, dW (H, D) = dy.T @ x, db (H,) = dy summed over N;\n"
"float32 or float64, the dtype of the arguments.\n\n"
">>> import numpy as np, tinynet as tn\n"
">>> dx, dW, db = tn.linear_backward(np.ones((2, 4)), np.ones((2, 3)), np.ones((4, 3)))\n"
">>> dx.shape, dW.shape, db.shape\n"
"((2, 3), (4, 3), (4,))\n");

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
    if (floats(&c, fa, 3)) goto done;
    if (PyArray_NDIM(W) != 2) {
        shape_error(&c, "W", W, "(H, D)", NULL);
        goto done;
    }
    npy_intp H = PyArray_DIM(W, 0), D = PyArray_DIM(W, 1);
    int batched = PyArray_NDIM(x) == 2;
    npy_intp xd[2] = {-1, D};
    if (expect(&c, "x", x, batched ? 2 : 1, batched ? xd : xd + 1, "(N, D) or (D,)", " with D = W.shape[1] = %zd",
               (Py_ssize_t)D))
        goto done;
    npy_intp N = batched ? PyArray_DIM(x, 0) : 1, yd[2] = {N, H};
    if (batched ? expect(&c, "dy", dy, 2, yd, "(N, H)", " with N = x.shape[0] = %zd, H = W.shape[0] = %zd",
                         (Py_ssize_t)N, (Py_ssize_t)H)
                : expect(&c, "dy", dy, 1, yd + 1, "(H,)", " for unbatched x of shape (%zd,), with H = W.shape[0] = %zd",
                         (Py_ssize_t)D, (Py_ssize_t)H))
        goto done;
    npy_intp wd[2] = {H, D};
    if (!(dx = new_out(&c, PyArray_NDIM(x), PyArray_DIMS(x), c.type)) || !(dW = new_out(&c, 2, wd, c.type)) ||
        !(db = new_out(&c, 1, &H, c.type)))
        goto done;
    void *work = workspace(&c, tn_linear_work((size_t)N, (size_t)D, (size_t)H));
    if (!work) goto done;
    if (SIZE(dx) || SIZE(dW) || SIZE(db))
        RUN(4.0 * N * D * H, KERNEL(&c, linear_backward, P(dx), P(dW), P(db), P(dy), P(x), P(W), (size_t)N, (size_t)D,
                                    (size_t)H, work));
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

/* dx = g(dy, y) elementwise, any shape (dy and y the same shape) */
static PyObject *elementwise_backward(const char *fn, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
                                      ew2_f32 k32, ew2_f64 k64)
{
    static const char *const kwlist[] = {"dy", "y", NULL};
    PyObject *ody, *oy, *res = NULL;
    PyArrayObject *dy, *y, *dx;
    Call c;
    call_init(&c, fn);
    if (parse(c.fn, args, nargs, kwnames, kwlist, 2, (PyObject **[]){&ody, &oy})) return NULL;
    FArg fa[] = {{"dy", ody, &dy, 0}, {"y", oy, &y, 0}};
    if (floats(&c, fa, 2) || same_shape(&c, "dy", dy, "y", y) ||
        !(dx = new_out(&c, PyArray_NDIM(y), PyArray_DIMS(y), c.type)))
        goto done;
    size_t n = SIZE(y);
    if (c.type == NPY_FLOAT)
        RUN(4.0 * n, k32(P(dx), P(dy), P(y), n));
    else
        RUN(4.0 * n, k64(P(dx), P(dy), P(y), n));
    res = ret(dx);
done:
    call_done(&c);
    return res;
}

#define ACTIVATION(name, fwd_doc, bwd_doc)                                                                        \
    PyDoc_STRVAR(name##_forward_doc, #name "_forward(x)\n--\n\n" fwd_doc);                                      \
    PyDoc_STRVAR(name##_backward_doc, #name "_backward(dy, y)\n--\n\n" bwd_doc);                                \
    static PyObject *py_##name##_forward(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)                           \
    {                                                                                                             \
        (void)self;                                                                                               \
        return elementwise_forward(#name "_forward", args, nargs, kwnames, tn_##name##_forward_f32, tn_##name##_forward_f64); \
    }                                                                                                             \
    static PyObject *py_##name##_backward(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)                          \
    {                                                                                                             \
        (void)self;                                                                                               \
        return elementwise_backward(#name "_backward", args, nargs, kwnames, tn_##name##_backward_f32,                       \
                                    tn_##name##_backward_f64);                                                    \
    }

ACTIVATION(tanh,
           "Elementwise y = tanh(x); x of any shape.  Returns y, same shape and dtype.\n\n"
           ">>> import tinynet as tn\n>>> tn.tanh_forward([0.0, 1.0]).round(4)\narray([0.    , 0.7616])\n",
           "Gradient of tanh from its output y: dx = dy * (1 - y**2); dy, y the same shape.\n"
           "Returns dx, that shape and dtype (float32 or float64).\n\n"
           ">>> import tinynet as tn\n>>> tn.tanh_backward([1.0, 1.0], [0.0, 0.5])\narray([1.  , 0.75])\n")
ACTIVATION(sigmoid,
           "Elementwise y = 1 / (1 + exp(-x)); x of any shape.  Returns y, same shape and dtype.\n\n"
           ">>> import tinynet as tn\n>>> tn.sigmoid_forward([0.0])\narray([0.5])\n",
           "Gradient of the sigmoid from its output y: dx = dy * y * (1 - y); dy, y the same\n"
           "shape.  Returns dx, that shape and dtype (float32 or float64).\n\n"
           ">>> import tinynet as tn\n>>> tn.sigmoid_backward([1.0], [0.5])\narray([0.25])\n")
ACTIVATION(relu,
           "Elementwise y = max(x, 0); x of any shape (NaN stays NaN).  Returns y, same shape and\n"
           "dtype.\n\n"
           ">>> import tinynet as tn\n>>> tn.relu_forward([-1.0, 2.0])\narray([0., 2.])\n",
           "Gradient of ReLU from its output y: dx = dy where y > 0, else 0; dy, y the same shape.\n"
           "Returns dx, that shape and dtype (float32 or float64).\n\n"
           ">>> import tinynet as tn\n>>> tn.relu_backward([5.0, 5.0], [0.0, 2.0])\narray([0., 5.])\n")

/* ------------------------------------------------------- softmax, cross-entropy */

PyDoc_STRVAR(softmax_doc,
"softmax(logits)\n--\n\n"
"Softmax over the last axis, max-subtracted (finite for huge logits).\n\n"
"logits: (N, V) or (V,) (any leading shape works), float32 or float64.  Returns probs,\n"
"same shape and dtype.\n\n"
">>> import tinynet as tn\n>>> tn.softmax([0.0, 0.0])\narray([0.5, 0.5])\n");

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

PyDoc_STRVAR(cross_entropy_forward_doc,
"cross_entropy_forward(logits, targets, reduction=\"mean\")\n--\n\n"
"Softmax cross-entropy on logits via log-sum-exp (exact when a target's probability\n"
"underflows, finite for logits of +-1e4).\n\n"
"logits: (N, V) floats; targets: (N,) integers in [0, V); reduction: \"mean\" or \"sum\".\n"
"Returns (loss, probs): loss a Python float (nan for mean over N = 0), probs (N, V).\n\n"
">>> import tinynet as tn\n>>> loss, probs = tn.cross_entropy_forward([[0.0, 0.0]], [1])\n"
">>> round(loss, 6)\n0.693147\n");

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

PyDoc_STRVAR(cross_entropy_backward_doc,
"cross_entropy_backward(probs, targets, reduction=\"mean\")\n--\n\n"
"Gradient of softmax cross-entropy with respect to the logits: (probs - onehot) / N\n"
"for \"mean\", probs - onehot for \"sum\".\n\n"
"probs: (N, V) from cross_entropy_forward; targets: (N,) integers in [0, V).\n"
"Returns dlogits (N, V).\n\n"
">>> import tinynet as tn\n>>> tn.cross_entropy_backward([[0.5, 0.5]], [1])\narray([[ 0.5, -0.5]])\n");

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
