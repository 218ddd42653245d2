/* wrap/rnn.h -- entry points of the vanilla RNN (csrc/tn_rnn.c).
 * A part of the wrapper (csrc/_core.c includes every part once). */
#ifndef TN_WRAP_RNN_H
#define TN_WRAP_RNN_H

#include "args.h"
#include "seq.h"

/* W_xh (H, D), W_hh (H, H), optional b_h (H,); sets r->H, r->D. */
static int rnn_weight_shapes(Call *c, SeqDims *r, PyArrayObject *W_xh, PyArrayObject *W_hh, PyArrayObject *b_h)
{
    npy_intp hh[2] = {-1, -1};
    r->h_from = "W_hh.shape[0]", r->d_from = "W_xh.shape[1]";
    if (expect(c, "W_hh", W_hh, 2, hh, "(H, H)", NULL)) return -1;
    r->H = PyArray_DIM(W_hh, 0);
    if (PyArray_DIM(W_hh, 1) != r->H) return shape_error(c, "W_hh", W_hh, "(H, H)", NULL);
    npy_intp xh[2] = {r->H, -1};
    if (expect(c, "W_xh", W_xh, 2, xh, "(H, D)", " with H = W_hh.shape[0] = %zd", (Py_ssize_t)r->H)) return -1;
    r->D = PyArray_DIM(W_xh, 1);
    if (b_h && expect(c, "b_h", b_h, 1, &r->H, "(H,)", " with H = W_hh.shape[0] = %zd", (Py_ssize_t)r->H)) return -1;
    return 0;
}

static PyObject *py_rnn_forward(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    (void)self;
    static const char *const kwlist[] = {"x", "h0", "W_xh", "W_hh", "b_h", NULL};
    PyObject *ox, *oh0, *oWxh, *oWhh, *obh, *res = NULL;
    PyArrayObject *xraw, *h0, *Wxh, *Whh, *bh, *hs;
    SeqDims r = {0};
    int tok;
    Call c;
    call_init(&c, "rnn_forward");
    if (parse(c.fn, args, nargs, kwnames, kwlist, 5, (PyObject **[]){&ox, &oh0, &oWxh, &oWhh, &obh})) return NULL;
    if (seq_input_kind(&c, ox, &xraw, &tok)) goto done;
    FArg fa[] = {{"x", tok ? NULL : ox, &r.x, 0},
                 {"h0", oh0, &h0, 1},
                 {"W_xh", oWxh, &Wxh, 0},
                 {"W_hh", oWhh, &Whh, 0},
                 {"b_h", obh, &bh, 0}};
    if (floats(&c, fa, 5)) goto done;
    if (tok && !(r.tokens = ints_from_raw(&c, "x", ox, xraw))) goto done;
    if (rnn_weight_shapes(&c, &r, Wxh, Whh, bh) || seq_input_shapes(&c, &r, "x") ||
        (h0 && seq_state_shape(&c, &r, "h0", h0)))
        goto done;
    npy_intp d[3] = {r.T, r.B, r.H}, u[2] = {r.T, r.H};
    if (!(hs = new_out(&c, r.batched ? 3 : 2, r.batched ? d : u, c.type))) goto done;
    size_t T = (size_t)r.T, B = (size_t)r.B, D = (size_t)r.D, H = (size_t)r.H;
    void *work = workspace(&c, tn_rnn_forward_work(T, B, D, H));
    if (!work) goto done;
    RUN(2.0 * T * B * H * (H + (tok ? 1 : D)), KERNEL(&c, rnn_forward, P(hs), P(r.x), P(r.tokens), P(h0), P(Wxh),
                                                      P(Whh), P(bh), T, B, D, H, work));
    res = ret(hs);
done:
    call_done(&c);
    return res;
}

static PyObject *py_rnn_backward(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    (void)self;
    static const char *const kwlist[] = {"dhs", "x", "h0", "hs", "W_xh", "W_hh", "bptt_steps", NULL};
    PyObject *odhs, *ox, *oh0, *ohs, *oWxh, *oWhh, *ok = Py_None, *res = NULL;
    PyArrayObject *xraw, *dhs, *h0, *hs, *Wxh, *Whh, *dx = NULL, *dh0, *dWxh, *dWhh, *dbh;
    SeqDims r = {0};
    size_t k;
    int tok;
    Call c;
    call_init(&c, "rnn_backward");
    if (parse(c.fn, args, nargs, kwnames, kwlist, 6, (PyObject **[]){&odhs, &ox, &oh0, &ohs, &oWxh, &oWhh, &ok}))
        return NULL;
    if (get_bptt(&c, ok, &k) || seq_input_kind(&c, ox, &xraw, &tok)) goto done;
    FArg fa[] = {{"dhs", odhs, &dhs, 0}, {"x", tok ? NULL : ox, &r.x, 0}, {"h0", oh0, &h0, 1},
                 {"hs", ohs, &hs, 0},    {"W_xh", oWxh, &Wxh, 0},         {"W_hh", oWhh, &Whh, 0}};
    if (floats(&c, fa, 6)) goto done;
    if (tok && !(r.tokens = ints_from_raw(&c, "x", ox, xraw))) goto done;
    if (rnn_weight_shapes(&c, &r, Wxh, Whh, NULL) || seq_input_shapes(&c, &r, "x") ||
        (h0 && seq_state_shape(&c, &r, "h0", h0)) || seq_shape(&c, &r, "hs", hs, 1) ||
        seq_shape(&c, &r, "dhs", dhs, 1))
        goto done;
    npy_intp sd[2] = {r.B, r.H}, xw[2] = {r.H, r.D}, hw[2] = {r.H, r.H};
    if ((r.x && !(dx = new_out(&c, PyArray_NDIM(r.x), PyArray_DIMS(r.x), c.type))) ||
        !(dh0 = new_out(&c, r.batched ? 2 : 1, r.batched ? sd : sd + 1, c.type)) ||
        !(dWxh = new_out(&c, 2, xw, c.type)) || !(dWhh = new_out(&c, 2, hw, c.type)) ||
        !(dbh = new_out(&c, 1, &r.H, c.type)))
        goto done;
    size_t T = (size_t)r.T, B = (size_t)r.B, D = (size_t)r.D, H = (size_t)r.H;
    void *work = workspace(&c, tn_rnn_backward_work(T, B, D, H, k));
    if (!work) goto done;
    double reach = k ? (double)k : 1.0;
    RUN(2.0 * T * B * H * (H * reach + 2.0 * D + H), KERNEL(&c, rnn_backward, P(dx), P(dh0), P(dWxh), P(dWhh), P(dbh),
                                                            P(dhs), P(r.x), P(r.tokens), P(h0), P(hs), P(Wxh), P(Whh),
                                                            T, B, D, H, k, work));
    res = Py_BuildValue("OOOOO", dx ? (PyObject *)dx : Py_None, dh0, dWxh, dWhh, dbh);
done:
    call_done(&c);
    return res;
}

/* The output layer W_hy (V, H), b_y (V,) against H; sets r->V. */
static int rnn_output_shapes(Call *c, SeqDims *r, PyArrayObject *W_hy, PyArrayObject *b_y)
{
    npy_intp yd[2] = {-1, r->H};
    if (expect(c, "W_hy", W_hy, 2, yd, "(V, H)", " with H = W_hh.shape[0] = %zd", (Py_ssize_t)r->H)) return -1;
    r->V = PyArray_DIM(W_hy, 0);
    return expect(c, "b_y", b_y, 1, &r->V, "(V,)", " with V = W_hy.shape[0] = %zd", (Py_ssize_t)r->V);
}

/* The keys of rnn_lm_loss's gradient dict, interned once at import. */
static PyObject *grad_keys[5];
static const char *const grad_names[5] = {"W_xh", "W_hh", "b_h", "W_hy", "b_y"};

static PyObject *py_rnn_lm_loss(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    (void)self;
    static const char *const kwlist[] = {"inputs", "targets", "h0", "W_xh", "W_hh", "b_h", "W_hy", "b_y", "bptt_steps", "reduction",
                             NULL};
    PyObject *oin, *otg, *oh0, *oWxh, *oWhh, *obh, *oWhy, *oby, *ok = Py_None, *ored = NULL, *res = NULL;
    PyArrayObject *tg, *h0, *Wxh, *Whh, *bh, *Why, *by, *g[5], *hl;
    SeqDims r = {0};
    size_t k;
    int mean = 0;
    Call c;
    call_init(&c, "rnn_lm_loss");
    if (parse(c.fn, args, nargs, kwnames, kwlist, 8, (PyObject **[]){&oin, &otg, &oh0, &oWxh, &oWhh, &obh, &oWhy, &oby, &ok, &ored}))
        return NULL;
    if (get_bptt(&c, ok, &k) || (ored && get_reduction(&c, ored, &mean))) goto done;
    FArg fa[] = {{"h0", oh0, &h0, 1},  {"W_xh", oWxh, &Wxh, 0}, {"W_hh", oWhh, &Whh, 0},
                 {"b_h", obh, &bh, 0}, {"W_hy", oWhy, &Why, 0}, {"b_y", oby, &by, 0}};
    if (floats(&c, fa, 6) || !(r.tokens = ints(&c, "inputs", oin)) || !(tg = ints(&c, "targets", otg))) goto done;
    if (rnn_weight_shapes(&c, &r, Wxh, Whh, bh) || rnn_output_shapes(&c, &r, Why, by) ||
        seq_input_shapes(&c, &r, "inputs") || same_shape(&c, "targets", tg, "inputs", r.tokens) ||
        in_range(&c, "targets", tg, r.V, "V = W_hy.shape[0]") || (h0 && seq_state_shape(&c, &r, "h0", h0)))
        goto done;
    npy_intp xw[2] = {r.H, r.D}, hw[2] = {r.H, r.H}, yw[2] = {r.V, r.H}, sd[2] = {r.B, r.H};
    PyArrayObject *outs[6];
    if (new_outs(&c, 6, (int[]){2, 2, 1, 2, 1, r.batched ? 2 : 1}, (npy_intp *[]){xw, hw, &r.H, yw, &r.V, r.batched ? sd : sd + 1}, outs))
        goto done;
    for (int i = 0; i < 5; i++) g[i] = outs[i];
    hl = outs[5];
    size_t T = (size_t)r.T, B = (size_t)r.B, D = (size_t)r.D, H = (size_t)r.H, V = (size_t)r.V;
    void *work = workspace(&c, tn_rnn_lm_loss_work(T, B, D, H, V, k));
    if (!work) goto done;
    double loss = 0, reach = k ? (double)k : 1.0;
    RUN(2.0 * T * B * H * (H * (1.0 + reach) + 3.0 * V),
        loss = KERNEL(&c, rnn_lm_loss, P(g[0]), P(g[1]), P(g[2]), P(g[3]), P(g[4]), P(hl), P(r.tokens), P(tg), P(h0),
                      P(Wxh), P(Whh), P(bh), P(Why), P(by), T, B, D, H, V, k, mean, work));
    PyObject *grads = PyDict_New(), *lossobj = PyFloat_FromDouble(loss);
    int built = grads && lossobj;
    for (int i = 0; built && i < 5; i++) built = PyDict_SetItem(grads, grad_keys[i], (PyObject *)g[i]) == 0;
    if (built) res = PyTuple_Pack(3, lossobj, grads, hl);
    Py_XDECREF(grads);
    Py_XDECREF(lossobj);
done:
    call_done(&c);
    return res;
}

/* A fresh seed from the operating system, through os.urandom. */
static int os_seed(uint64_t *seed)
{
    PyObject *os = PyImport_ImportModule("os");
    if (!os) return -1;
    PyObject *b = PyObject_CallMethod(os, "urandom", "i", 8);
    Py_DECREF(os);
    if (!b) return -1;
    if (!PyBytes_Check(b) || PyBytes_GET_SIZE(b) != 8) {
        Py_DECREF(b);
        PyErr_SetString(PyExc_RuntimeError, "rnn_sample: os.urandom did not return 8 bytes");
        return -1;
    }
    memcpy(seed, PyBytes_AS_STRING(b), 8);
    Py_DECREF(b);
    return 0;
}

/* rnn_sample's scalars: n >= 0, temperature > 0, greedy (any truth value), seed (None:
 * from the OS; else an integer, used mod 2**64 as the reference does). */
static int sample_options(Call *c, PyObject *on, PyObject *otemp, PyObject *ogreedy, PyObject *oseed, long long *n,
                          double *temp, int *greedy, uint64_t *rng)
{
    if (get_int(c, "n", on, n) || (otemp && get_double(c, "temperature", otemp, temp))) return -1;
    if (*n < 0) {
        PyErr_Format(PyExc_ValueError, "rnn_sample: n must be >= 0, got %lld", *n);
        return -1;
    }
    if (!(*temp > 0)) {
        PyErr_Format(PyExc_ValueError, "rnn_sample: temperature must be > 0, got %R", otemp);
        return -1;
    }
    if (get_truth(c, "greedy", ogreedy, greedy)) return -1;
    if (oseed == Py_None) return os_seed(rng);
    PyObject *i = PyNumber_Index(oseed);
    if (!i) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "rnn_sample: seed must be None or an integer, not %s", short_type(oseed));
        return -1;
    }
    *rng = (uint64_t)PyLong_AsUnsignedLongLongMask(i); /* seed mod 2**64, as the reference */
    Py_DECREF(i);
    return PyErr_Occurred() ? -1 : 0;
}

/* The start token (() or (B,)) and h0 against the weights; V <= D (tokens are fed back)
 * and V > 0 when there is anything to sample. */
static int sample_shapes(Call *c, SeqDims *r, PyArrayObject *tok, PyArrayObject *h0, PyArrayObject *Why, long long n)
{
    if (PyArray_NDIM(tok) > 1) return shape_error(c, "token", tok, "() for one sequence or (B,) for a batch", NULL);
    r->batched = PyArray_NDIM(tok) == 1;
    r->B = r->batched ? PyArray_DIM(tok, 0) : 1;
    r->in_name = "token";
    r->in = tok;
    r->bdim = 0;
    if ((h0 && seq_state_shape(c, r, "h0", h0)) || in_range(c, "token", tok, r->D, "D = W_xh.shape[1]")) return -1;
    if (r->V > r->D) {
        PyErr_Format(PyExc_ValueError,
                     "rnn_sample: sampled tokens are fed back as inputs, so V = W_hy.shape[0] = %zd must not exceed "
                     "D = W_xh.shape[1] = %zd",
                     (Py_ssize_t)r->V, (Py_ssize_t)r->D);
        return -1;
    }
    if (r->V == 0 && n > 0) {
        char s[160];
        PyErr_Format(PyExc_ValueError,
                     "rnn_sample: W_hy has shape %s: with V = W_hy.shape[0] = 0 there is no token to sample (n = %lld)",
                     fmt_shape(Why, s, sizeof s), n);
        return -1;
    }
    return 0;
}

static PyObject *py_rnn_sample(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    (void)self;
    static const char *const kwlist[] = {"h0",  "token", "n",           "W_xh",   "W_hh", "b_h", "W_hy",
                                         "b_y", "temperature", "greedy", "seed", NULL};
    PyObject *oh0, *otok, *on, *oWxh, *oWhh, *obh, *oWhy, *oby, *otemp = NULL, *ogreedy = Py_False, *oseed = Py_None,
                                                                 *res = NULL;
    PyArrayObject *h0, *tok, *Wxh, *Whh, *bh, *Why, *by, *out;
    SeqDims r = {0};
    long long n;
    double temp = 1.0;
    uint64_t rng = 0;
    int greedy;
    Call c;
    call_init(&c, "rnn_sample");
    if (parse(c.fn, args, nargs, kwnames, kwlist, 8,
              (PyObject **[]){&oh0, &otok, &on, &oWxh, &oWhh, &obh, &oWhy, &oby, &otemp, &ogreedy, &oseed}))
        return NULL;
    if (sample_options(&c, on, otemp, ogreedy, oseed, &n, &temp, &greedy, &rng)) goto done;
    FArg fa[] = {{"h0", oh0, &h0, 1},  {"W_xh", oWxh, &Wxh, 0}, {"W_hh", oWhh, &Whh, 0},
                 {"b_h", obh, &bh, 0}, {"W_hy", oWhy, &Why, 0}, {"b_y", oby, &by, 0}};
    if (floats(&c, fa, 6) || !(tok = ints(&c, "token", otok))) goto done;
    if (rnn_weight_shapes(&c, &r, Wxh, Whh, bh) || rnn_output_shapes(&c, &r, Why, by) ||
        sample_shapes(&c, &r, tok, h0, Why, n))
        goto done;
    npy_intp od[2] = {(npy_intp)n, r.B};
    if (!(out = new_out(&c, r.batched ? 2 : 1, od, NPY_INT64))) goto done;
    size_t B = (size_t)r.B, D = (size_t)r.D, H = (size_t)r.H, V = (size_t)r.V;
    void *work = workspace(&c, tn_rnn_sample_work(B, D, H, V));
    if (!work) goto done;
    RUN(2.0 * (double)n * B * H * (H + V), KERNEL(&c, rnn_sample, P(out), P(h0), P(tok), (size_t)n, P(Wxh), P(Whh),
                                                  P(bh), P(Why), P(by), B, D, H, V, temp, greedy, &rng, work));
    res = ret(out);
done:
    call_done(&c);
    return res;
}

#endif /* TN_WRAP_RNN_H */
