/* wrap/attention.h -- entry points of causal self-attention (csrc/tn_attention.c).
 * A part of the wrapper (csrc/_core.c includes every part once). */
#ifndef TN_WRAP_ATTENTION_H
#define TN_WRAP_ATTENTION_H

#include "args.h"

/* n_head: an integer (parsed before the arrays, checked >= 1 after them, as the NumPy
 * engine does) */
static int att_n_head(Call *c, long long n_head)
{
    if (n_head >= 1) return 0;
    PyErr_Format(PyExc_ValueError, "%s: n_head must be >= 1, got %lld", c->fn, n_head);
    return -1;
}

/* qkv (B, T, 3C) or (T, 3C) (unbatched: B = 1) with C divisible by n_head */
static int att_qkv(Call *c, PyArrayObject *qkv, long long n_head, size_t *B, size_t *T, size_t *C)
{
    int nd = PyArray_NDIM(qkv);
    const char *pattern = nd == 2 ? "(T, 3C)" : "(B, T, 3C)";
    if (nd != 2 && nd != 3) return shape_error(c, "qkv", qkv, "(B, T, 3C) or (T, 3C): q, k and v side by side", NULL);
    npy_intp C3 = PyArray_DIM(qkv, nd - 1);
    if (C3 % 3) return shape_error(c, "qkv", qkv, pattern, ": q, k and v side by side, a last axis divisible by 3");
    if ((C3 / 3) % n_head) {
        char where[120];
        snprintf(where, sizeof where, " with C = qkv.shape[-1] / 3 = %zd divisible by n_head = %lld",
                 (Py_ssize_t)(C3 / 3), n_head);
        return shape_error(c, "qkv", qkv, pattern, where);
    }
    *B = nd == 3 ? DIM(qkv, 0) : 1, *T = DIM(qkv, nd - 2), *C = (size_t)(C3 / 3);
    return 0;
}

/* What both entry points take from n_head and qkv: the sizes, and the shapes of out (and
 * dout) -- qkv.shape[:-1] + (C,) -- and of att -- (B, n_head, T, T), or (n_head, T, T)
 * unbatched -- with their numbers of dimensions */
typedef struct {
    long long nh;
    size_t B, T, C;
    int ond, and_;
    npy_intp od[3], ad[4];
} AttShapes;

/* n_head (an integer), the call's float arrays fa[0 : n] (qkv one of them), n_head >= 1,
 * then qkv's shape */
static int att_args(Call *c, PyObject *onh, FArg *fa, int n, PyArrayObject **qkv, AttShapes *s)
{
    if (get_int(c, "n_head", onh, &s->nh) || floats(c, fa, n) || att_n_head(c, s->nh) ||
        att_qkv(c, *qkv, s->nh, &s->B, &s->T, &s->C))
        return -1;
    int nd = PyArray_NDIM(*qkv);
    npy_intp *ad = s->ad;
    with_last(*qkv, (npy_intp)s->C, s->od);
    s->ond = nd, s->and_ = nd + 1;
    if (nd == 3) *ad++ = (npy_intp)s->B;
    ad[0] = (npy_intp)s->nh, ad[1] = (npy_intp)s->T, ad[2] = (npy_intp)s->T;
    return 0;
}

/* The team size the kernel is worth for these sizes (*threads), and its workspace for
 * that many (NULL: MemoryError) */
static void *att_workspace(Call *c, const AttShapes *s, int backward, int *threads)
{
    size_t nh = (size_t)s->nh;
    *threads = tn_attention_threads(s->B, s->T, s->C, nh);
    return workspace(c, backward ? tn_attention_backward_work(s->T, s->C, nh, *threads)
                                 : tn_attention_forward_work(s->T, s->C, nh, *threads));
}

/* a (dout or att) must have the shape dims, which follows from qkv's */
static int att_expect(Call *c, const char *name, PyArrayObject *a, int nd, const npy_intp *dims, const char *pattern,
                      PyArrayObject *qkv, long long n_head)
{
    if (fits(a, nd, dims)) return 0;
    char want[160], q[160], where[400];
    fmt_tuple(dims, nd, "(", ")", want, sizeof want);
    snprintf(where, sizeof where, " = %s, from qkv of shape %s and n_head = %lld", want,
             fmt_shape(qkv, q, sizeof q), n_head);
    return shape_error(c, name, a, pattern, where);
}

static PyObject *py_attention_forward(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    (void)self;
    static const char *const kwlist[] = {"qkv", "n_head", NULL};
    PyObject *oqkv, *onh, *res = NULL;
    PyArrayObject *qkv, *out, *att;
    AttShapes s;
    int threads;
    void *w;
    Call c;
    call_init(&c, "attention_forward");
    if (parse(c.fn, args, nargs, kwnames, kwlist, 2, (PyObject **[]){&oqkv, &onh})) return NULL;
    FArg fa[] = {{"qkv", oqkv, &qkv, 0}};
    if (att_args(&c, onh, fa, 1, &qkv, &s) || !(out = new_out(&c, s.ond, s.od, c.type)) ||
        !(att = new_out(&c, s.and_, s.ad, c.type)))
        goto done;
    if (SIZE(att)) {
        if (!(w = att_workspace(&c, &s, 0, &threads))) goto done;
        RUN(2.0 * s.B * s.T * s.T * (s.C + s.nh),
            KERNEL(&c, attention_forward, P(out), P(att), P(qkv), s.B, s.T, s.C, (size_t)s.nh, threads, w));
    }
    res = Py_BuildValue("OO", out, att);
done:
    call_done(&c);
    return res;
}

static PyObject *py_attention_backward(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    (void)self;
    static const char *const kwlist[] = {"dout", "qkv", "att", "n_head", NULL};
    PyObject *odout, *oqkv, *oatt, *onh, *res = NULL;
    PyArrayObject *dout, *qkv, *att, *dqkv;
    AttShapes s;
    int threads;
    void *w;
    Call c;
    call_init(&c, "attention_backward");
    if (parse(c.fn, args, nargs, kwnames, kwlist, 4, (PyObject **[]){&odout, &oqkv, &oatt, &onh})) return NULL;
    FArg fa[] = {{"dout", odout, &dout, 0}, {"qkv", oqkv, &qkv, 0}, {"att", oatt, &att, 0}};
    if (att_args(&c, onh, fa, 3, &qkv, &s) ||
        att_expect(&c, "dout", dout, s.ond, s.od, s.ond == 3 ? "(B, T, C)" : "(T, C)", qkv, s.nh) ||
        att_expect(&c, "att", att, s.and_, s.ad, s.and_ == 4 ? "(B, n_head, T, T)" : "(n_head, T, T)", qkv, s.nh) ||
        !(dqkv = new_out(&c, PyArray_NDIM(qkv), PyArray_DIMS(qkv), c.type)))
        goto done;
    if (SIZE(dqkv)) {
        if (!(w = att_workspace(&c, &s, 1, &threads))) goto done;
        RUN(4.0 * s.B * s.T * s.T * (s.C + s.nh),
            KERNEL(&c, attention_backward, P(dqkv), P(dout), P(qkv), P(att), s.B, s.T, s.C, (size_t)s.nh, threads, w));
    }
    res = ret(dqkv);
done:
    call_done(&c);
    return res;
}

#endif /* TN_WRAP_ATTENTION_H */
