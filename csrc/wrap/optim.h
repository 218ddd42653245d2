/* wrap/optim.h -- entry points of the in-place optimizers (csrc/tn_optim.c).
 * A part of the wrapper (csrc/_core.c includes every part once). */
#ifndef TN_WRAP_OPTIM_H
#define TN_WRAP_OPTIM_H

#include "args.h"

/* The in-place arrays (state[0] is the parameter) share its shape and no memory with
 * each other; grad, read-only, is converted to the call's dtype and copied if it
 * overlaps any of them (an exact alias of param alone is fine elementwise). */
static int optimizer_args_named(Call *c, const char *gname, PyObject *ograd, PyArrayObject **grad,
                                const char *const names[], PyArrayObject *const state[], int nstate)
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
    FArg fa[] = {{gname, ograd, grad, 0}};
    if (floats(c, fa, 1) || same_shape(c, gname, *grad, names[0], state[0])) return -1;
    for (int i = 0; i < nstate; i++) {
        if (!overlaps(*grad, state[i])) continue;
        if (i == 0 && nstate == 1 && PyArray_DATA(*grad) == PyArray_DATA(state[0])) continue;
        if (!(*grad = (PyArrayObject *)keep(c, PyArray_NewCopy(*grad, NPY_CORDER)))) return -1;
        break;
    }
    return 0;
}

static int optimizer_args(Call *c, PyObject *ograd, PyArrayObject **grad, const char *const names[],
                          PyArrayObject *const state[], int nstate)
{
    return optimizer_args_named(c, "grad", ograd, grad, names, state, nstate);
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


/* ------------------------------------------------------------ a whole model in one call */

/* One parameter's arrays in a *_foreach_ call: its grad NULL when skipped (None). */
typedef struct {
    PyArrayObject *p, *g, *st[2];
} Slot;

/* A sequence argument as a list of n items (n < 0: any length, set). */
static PyObject *seq_arg(Call *c, const char *name, PyObject *o, Py_ssize_t *n)
{
    if (!PyList_Check(o) && !PyTuple_Check(o)) {
        PyErr_Format(PyExc_TypeError, "%s: %s must be a list or tuple of arrays, not %s", c->fn, name, short_type(o));
        return NULL;
    }
    Py_ssize_t len = PySequence_Fast_GET_SIZE(o);
    if (*n >= 0 && len != *n) {
        PyErr_Format(PyExc_ValueError, "%s: %s has %zd entries but params has %zd; they must match", c->fn, name, len, *n);
        return NULL;
    }
    *n = len;
    return o;
}

/* a and b: the same dtype and shape, and no shared memory */
static int alike_apart(PyArrayObject *a, PyArrayObject *b)
{
    int nd = PyArray_NDIM(a);
    return PyArray_TYPE(a) == PyArray_TYPE(b) && PyArray_NDIM(b) == nd &&
           (nd == 0 || memcmp(PyArray_DIMS(a), PyArray_DIMS(b), (size_t)nd * sizeof(npy_intp)) == 0) &&
           !overlaps(a, b);
}

/* Parameter i when every array is already what the kernels take -- float ndarrays of one
 * dtype and shape, C-contiguous, aligned, native, the updated ones writeable, none
 * sharing memory -- the common case of every step, taken without formatting a name; 0
 * when anything else is the case (foreach_slot then converts, or says what is wrong). */
static int foreach_slot_fast(PyObject *op, PyObject *og, PyObject *const *os, int nstate, Slot *sl)
{
    if (!PyArray_Check(op) || (og != Py_None && !PyArray_Check(og))) return 0;
    PyArrayObject *p = (PyArrayObject *)op;
    int t = PyArray_TYPE(p);
    if ((t != NPY_FLOAT && t != NPY_DOUBLE) || !PyArray_ISCARRAY(p) || !PyArray_ISNOTSWAPPED(p)) return 0;
    sl->p = p;
    for (int k = 0; k < nstate; k++) {
        if (!PyArray_Check(os[k])) return 0;
        PyArrayObject *s = (PyArrayObject *)os[k];
        if (!PyArray_ISCARRAY(s) || !PyArray_ISNOTSWAPPED(s) || !alike_apart(s, p) || (k && overlaps(s, sl->st[0])))
            return 0;
        sl->st[k] = s;
    }
    sl->g = NULL;
    if (og == Py_None) return 1;
    PyArrayObject *g = (PyArrayObject *)og;
    if (!PyArray_ISCARRAY_RO(g) || !PyArray_ISNOTSWAPPED(g) || !alike_apart(g, p)) return 0;
    for (int k = 0; k < nstate; k++)
        if (overlaps(g, sl->st[k])) return 0;
    sl->g = g;
    return 1;
}

/* Parameter i: params[i] and its states updated in place (float32 or float64, its own
 * dtype, shared by its grad and states), grads[i] None (skip it) or like params[i].  The
 * conversions' temporaries go to `kept` (any number of parameters). */
static int foreach_slot(Call *c, PyObject *kept, Py_ssize_t i, PyObject *op, PyObject *og, PyObject *const *os,
                        const char *const *snames, int nstate, Slot *sl)
{
    char names[3][64], gname[64];
    const char *nm[3];
    Call t; /* the parameter's own call record: its dtype, its temporaries */
    call_init(&t, c->fn);
    snprintf(names[0], sizeof names[0], "params[%zd]", i);
    snprintf(gname, sizeof gname, "grads[%zd]", i);
    nm[0] = names[0];
    int err = !(sl->p = inplace(&t, names[0], op));
    for (int k = 0; !err && k < nstate; k++) {
        snprintf(names[k + 1], sizeof names[k + 1], "%s[%zd]", snames[k], i);
        nm[k + 1] = names[k + 1];
        err = !(sl->st[k] = inplace(&t, names[k + 1], os[k]));
    }
    PyArrayObject *arr[3] = {sl->p, sl->st[0], sl->st[1]};
    sl->g = NULL;
    if (!err && og != Py_None) err = optimizer_args_named(&t, gname, og, &sl->g, nm, arr, nstate + 1);
    for (int r = 0; !err && r < t.nrefs; r++) err = PyList_Append(kept, t.refs[r]) < 0;
    call_done(&t);
    return err ? -1 : 0;
}

/* steps: an int64 ndarray (n,) updated in place, every value in [0, 2**62). */
static PyArrayObject *steps_arg(Call *c, PyObject *o, Py_ssize_t n)
{
    if (!PyArray_Check(o) || PyArray_TYPE((PyArrayObject *)o) != NPY_INT64) {
        if (PyArray_Check(o))
            PyErr_Format(PyExc_TypeError, "%s: steps is updated in place, so it must be an int64 NumPy array, not "
                         "one of dtype %S", c->fn, (PyObject *)PyArray_DESCR((PyArrayObject *)o));
        else
            PyErr_Format(PyExc_TypeError, "%s: steps is updated in place, so it must be an int64 NumPy array, not %s",
                         c->fn, short_type(o));
        return NULL;
    }
    PyArrayObject *a = (PyArrayObject *)o;
    if (!PyArray_ISWRITEABLE(a) || !PyArray_IS_C_CONTIGUOUS(a) || !PyArray_ISALIGNED(a) || !PyArray_ISNOTSWAPPED(a)) {
        char s[160];
        PyErr_Format(PyExc_ValueError, "%s: steps (shape %s) must be writeable and C-contiguous", c->fn,
                     fmt_shape(a, s, sizeof s));
        return NULL;
    }
    if (expect(c, "steps", a, 1, &n, "(len(params),)", " with len(params) = %zd", (Py_ssize_t)n)) return NULL;
    /* (a count, not an index: a value out of range is a ValueError, as any bad value) */
    return in_range_or(c, PyExc_ValueError, "steps", a, (npy_intp)1 << 62, "steps counted so far") ? NULL : a;
}

/* The arrays of a *_foreach_ call: params, grads and nstate lists of states (each None
 * allowed when !need_states: then no states), checked before anything is updated.
 * Returns the slots (kept alive by the call) or NULL. */
static Slot *foreach_args(Call *c, PyObject *oparams, PyObject *ograds, PyObject *const *ostates,
                          const char *const *snames, int nstate, Py_ssize_t *n)
{
    *n = -1;
    if (!seq_arg(c, "params", oparams, n) || !seq_arg(c, "grads", ograds, n)) return NULL;
    for (int k = 0; k < nstate; k++)
        if (!seq_arg(c, snames[k], ostates[k], n)) return NULL;
    PyObject *kept = keep(c, PyList_New(0));
    PyObject *buf = kept ? keep(c, PyBytes_FromStringAndSize(NULL, (Py_ssize_t)sizeof(Slot) * (*n + 1))) : NULL;
    if (!buf) return NULL;
    Slot *slots = (Slot *)PyBytes_AS_STRING(buf);
    for (Py_ssize_t i = 0; i < *n; i++) {
        PyObject *os[2] = {NULL, NULL};
        for (int k = 0; k < nstate; k++) os[k] = PySequence_Fast_GET_ITEM(ostates[k], i);
        PyObject *op = PySequence_Fast_GET_ITEM(oparams, i), *og = PySequence_Fast_GET_ITEM(ograds, i);
        slots[i].st[0] = slots[i].st[1] = NULL;
        if (!foreach_slot_fast(op, og, os, nstate, &slots[i]) &&
            foreach_slot(c, kept, i, op, og, os, snames, nstate, &slots[i]))
            return NULL;
    }
    return slots;
}

/* The kernels' work, for the GIL: about `per` flops an element of every stepped tensor. */
static double foreach_cost(const Slot *sl, Py_ssize_t n, double per)
{
    double total = 0;
    for (Py_ssize_t i = 0; i < n; i++)
        if (sl[i].g) total += per * (double)nelems(sl[i].p);
    return total;
}

/* The tensors of one dtype as a kernel's arrays (count entries each). */
#define FOREACH_GROUP(T)                                                                                              \
    struct {                                                                                                          \
        size_t count, *n;                                                                                             \
        T **param, **st[2];                                                                                           \
        const T **grad;                                                                                               \
        int64_t **step;                                                                                               \
    }
typedef FOREACH_GROUP(float) Group32;
typedef FOREACH_GROUP(double) Group64;

/* Room for a group of at most n tensors (six arrays of n pointers or sizes), in one
 * buffer the call keeps. */
#define GROUP_ALLOC(c, G, T, n)                                                                                       \
    do {                                                                                                              \
        Py_ssize_t m_ = (n) + 1;                                                                                      \
        PyObject *b_ = keep(c, PyBytes_FromStringAndSize(NULL, 6 * m_ * (Py_ssize_t)sizeof(void *)));                 \
        if (!b_) return -1;                                                                                           \
        void **w_ = (void **)PyBytes_AS_STRING(b_);                                                                   \
        (G)->count = 0, (G)->n = (size_t *)w_, (G)->param = (T **)(w_ + m_), (G)->st[0] = (T **)(w_ + 2 * m_);       \
        (G)->st[1] = (T **)(w_ + 3 * m_), (G)->grad = (const T **)(w_ + 4 * m_), (G)->step = (int64_t **)(w_ + 5 * m_); \
    } while (0)

#define GROUP_ADD(G, T, S, t)                                                                                         \
    do {                                                                                                              \
        size_t k_ = (G)->count++;                                                                                     \
        (G)->n[k_] = (size_t)nelems((S)->p), (G)->param[k_] = (T *)PyArray_DATA((S)->p);                              \
        (G)->grad[k_] = (S)->g ? (const T *)PyArray_DATA((S)->g) : NULL;                                              \
        (G)->st[0][k_] = (S)->st[0] ? (T *)PyArray_DATA((S)->st[0]) : NULL;                                           \
        (G)->st[1][k_] = (S)->st[1] ? (T *)PyArray_DATA((S)->st[1]) : NULL;                                           \
        (G)->step[k_] = (t);                                                                                          \
    } while (0)

/* The slots split by dtype (each group keeps the parameters' order); steps (or NULL)
 * gives each its step counter. */
static int foreach_groups(Call *c, const Slot *sl, Py_ssize_t n, npy_int64 *steps, Group32 *g32, Group64 *g64)
{
    GROUP_ALLOC(c, g32, float, n);
    GROUP_ALLOC(c, g64, double, n);
    for (Py_ssize_t i = 0; i < n; i++) {
        int64_t *t = steps ? (int64_t *)&steps[i] : NULL;
        if (PyArray_TYPE(sl[i].p) == NPY_FLOAT)
            GROUP_ADD(g32, float, &sl[i], t);
        else
            GROUP_ADD(g64, double, &sl[i], t);
    }
    return 0;
}

static PyObject *py_sgd_foreach_(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    (void)self;
    static const char *const kwlist[] = {"params",   "grads",     "momentum_buffers", "steps",    "lr",
                                         "momentum", "dampening", "weight_decay",     "nesterov", NULL};
    PyObject *op, *og, *ob = Py_None, *os = Py_None, *olr, *omom = NULL, *odamp = NULL, *owd = NULL,
                                *onest = Py_False, *res = NULL;
    double lr, mom = 0, damp = 0, wd = 0;
    int nesterov;
    Py_ssize_t n;
    Group32 g32;
    Group64 g64;
    Call c;
    call_init(&c, "sgd_foreach_");
    if (parse(c.fn, args, nargs, kwnames, kwlist, 5,
              (PyObject **[]){&op, &og, &ob, &os, &olr, &omom, &odamp, &owd, &onest}))
        return NULL;
    if (get_nonneg(&c, "lr", olr, &lr) || (omom && get_nonneg(&c, "momentum", omom, &mom)) ||
        (odamp && get_nonneg(&c, "dampening", odamp, &damp)) || (owd && get_nonneg(&c, "weight_decay", owd, &wd)) ||
        get_truth(&c, "nesterov", onest, &nesterov))
        goto done;
    if (nesterov && (mom <= 0 || damp != 0)) {
        PyErr_SetString(PyExc_ValueError, "sgd_foreach_: nesterov momentum needs momentum > 0 and dampening = 0");
        goto done;
    }
    int with_momentum = mom != 0;
    if (with_momentum && (ob == Py_None || os == Py_None)) {
        PyErr_SetString(PyExc_ValueError, "sgd_foreach_: momentum != 0 needs momentum_buffers and steps");
        goto done;
    }
    const char *snames[] = {"momentum_buffers"};
    PyObject *ostates[] = {ob};
    Slot *sl = foreach_args(&c, op, og, ostates, snames, with_momentum, &n);
    PyArrayObject *steps = NULL;
    if (!sl || (with_momentum && !(steps = steps_arg(&c, os, n))) ||
        foreach_groups(&c, sl, n, steps ? PyArray_DATA(steps) : NULL, &g32, &g64))
        goto done;
    RUN(foreach_cost(sl, n, 5), {
        tn_sgd_foreach_f32(g32.param, g32.grad, g32.st[0], g32.step, g32.n, g32.count, lr, mom, damp, wd, nesterov);
        tn_sgd_foreach_f64(g64.param, g64.grad, g64.st[0], g64.step, g64.n, g64.count, lr, mom, damp, wd, nesterov);
    });
    Py_INCREF(Py_None);
    res = Py_None;
done:
    call_done(&c);
    return res;
}

static PyObject *py_adam_foreach_(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    (void)self;
    static const char *const kwlist[] = {"params", "grads", "ms",  "vs",           "steps",     "lr",
                                         "beta1",  "beta2", "eps", "weight_decay", "decoupled", NULL};
    PyObject *op, *og, *om, *ov, *os, *olr = NULL, *ob1 = NULL, *ob2 = NULL, *oeps = NULL, *owd = NULL,
                                      *odec = Py_True, *res = NULL;
    double lr = 1e-3, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0;
    int decoupled;
    Py_ssize_t n;
    Group32 g32;
    Group64 g64;
    Call c;
    call_init(&c, "adam_foreach_");
    if (parse(c.fn, args, nargs, kwnames, kwlist, 5,
              (PyObject **[]){&op, &og, &om, &ov, &os, &olr, &ob1, &ob2, &oeps, &owd, &odec}))
        return NULL;
    if ((olr && get_nonneg(&c, "lr", olr, &lr)) || (ob1 && get_double(&c, "beta1", ob1, &b1)) ||
        (ob2 && get_double(&c, "beta2", ob2, &b2)) || (oeps && get_nonneg(&c, "eps", oeps, &eps)) ||
        (owd && get_nonneg(&c, "weight_decay", owd, &wd)) || check_beta(&c, "beta1", b1) ||
        check_beta(&c, "beta2", b2) || get_truth(&c, "decoupled", odec, &decoupled))
        goto done;
    const char *snames[] = {"ms", "vs"};
    PyObject *ostates[] = {om, ov};
    Slot *sl = foreach_args(&c, op, og, ostates, snames, 2, &n);
    PyArrayObject *steps;
    if (!sl || !(steps = steps_arg(&c, os, n)) || foreach_groups(&c, sl, n, PyArray_DATA(steps), &g32, &g64))
        goto done;
    RUN(foreach_cost(sl, n, 12), {
        tn_adam_foreach_f32(g32.param, g32.grad, g32.st[0], g32.st[1], g32.step, g32.n, g32.count, lr, b1, b2, eps, wd,
                            decoupled);
        tn_adam_foreach_f64(g64.param, g64.grad, g64.st[0], g64.st[1], g64.step, g64.n, g64.count, lr, b1, b2, eps, wd,
                            decoupled);
    });
    Py_INCREF(Py_None);
    res = Py_None;
done:
    call_done(&c);
    return res;
}

static PyObject *py_adagrad_foreach_(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    (void)self;
    static const char *const kwlist[] = {"params", "grads", "sums", "steps", "lr", "eps", "weight_decay", "lr_decay",
                                         NULL};
    PyObject *op, *og, *osum, *os, *olr = NULL, *oeps = NULL, *owd = NULL, *odecay = NULL, *res = NULL;
    double lr = 1e-2, eps = 1e-10, wd = 0, decay = 0;
    Py_ssize_t n;
    Group32 g32;
    Group64 g64;
    Call c;
    call_init(&c, "adagrad_foreach_");
    if (parse(c.fn, args, nargs, kwnames, kwlist, 4, (PyObject **[]){&op, &og, &osum, &os, &olr, &oeps, &owd, &odecay}))
        return NULL;
    if ((olr && get_nonneg(&c, "lr", olr, &lr)) || (oeps && get_nonneg(&c, "eps", oeps, &eps)) ||
        (owd && get_nonneg(&c, "weight_decay", owd, &wd)) || (odecay && get_nonneg(&c, "lr_decay", odecay, &decay)))
        goto done;
    const char *snames[] = {"sums"};
    PyObject *ostates[] = {osum};
    Slot *sl = foreach_args(&c, op, og, ostates, snames, 1, &n);
    PyArrayObject *steps;
    if (!sl || !(steps = steps_arg(&c, os, n)) || foreach_groups(&c, sl, n, PyArray_DATA(steps), &g32, &g64))
        goto done;
    RUN(foreach_cost(sl, n, 8), {
        tn_adagrad_foreach_f32(g32.param, g32.grad, g32.st[0], g32.step, g32.n, g32.count, lr, eps, wd, decay);
        tn_adagrad_foreach_f64(g64.param, g64.grad, g64.st[0], g64.step, g64.n, g64.count, lr, eps, wd, decay);
    });
    Py_INCREF(Py_None);
    res = Py_None;
done:
    call_done(&c);
    return res;
}

#endif /* TN_WRAP_OPTIM_H */
