/* wrap/gru.h -- entry points of the GRU (csrc/tn_gru.c).
 * A part of the wrapper (csrc/_core.c includes every part once). */
#ifndef TN_WRAP_GRU_H
#define TN_WRAP_GRU_H

#include "args.h"
#include "seq.h"

static PyObject *py_gru_forward(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    (void)self;
    static const char *const kwlist[] = {"x", "h0", "W_ih", "W_hh", "b_ih", "b_hh", NULL};
    PyObject *ox, *oh0, *oWih, *oWhh, *obih = Py_None, *obhh = Py_None, *res = NULL;
    PyArrayObject *xraw, *h0, *Wih, *Whh, *bih, *bhh, *hs, *gates, *ghn;
    SeqDims r = {0};
    int tok;
    Call c;
    call_init(&c, "gru_forward");
    if (parse(c.fn, args, nargs, kwnames, kwlist, 4, (PyObject **[]){&ox, &oh0, &oWih, &oWhh, &obih, &obhh}))
        return NULL;
    if (seq_input_kind(&c, ox, &xraw, &tok)) goto done;
    FArg fa[] = {{"x", tok ? NULL : ox, &r.x, 0}, {"h0", oh0, &h0, 1},     {"W_ih", oWih, &Wih, 0},
                 {"W_hh", oWhh, &Whh, 0},         {"b_ih", obih, &bih, 1}, {"b_hh", obhh, &bhh, 1}};
    if (floats(&c, fa, 6)) goto done;
    if (tok && !(r.tokens = ints_from_raw(&c, "x", ox, xraw))) goto done;
    if (gated_weight_shapes(&c, &r, 3, Wih, Whh, bih, bhh) || seq_input_shapes(&c, &r, "x") ||
        (h0 && seq_state_shape(&c, &r, "h0", h0)))
        goto done;
    if (!(hs = seq_out(&c, &r, 1)) || !(gates = seq_out(&c, &r, 3)) || !(ghn = seq_out(&c, &r, 1))) goto done;
    size_t T = (size_t)r.T, B = (size_t)r.B, D = (size_t)r.D, H = (size_t)r.H;
    void *work = workspace(&c, tn_gru_forward_work(T, B, D, H));
    if (!work) goto done;
    RUN(6.0 * T * B * H * (H + (tok ? 1 : D)), KERNEL(&c, gru_forward, P(hs), P(gates), P(ghn), P(r.x), P(r.tokens),
                                                      P(h0), P(Wih), P(Whh), P(bih), P(bhh), T, B, D, H, work));
    res = Py_BuildValue("OOO", hs, gates, ghn);
done:
    call_done(&c);
    return res;
}

static PyObject *py_gru_backward(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    (void)self;
    static const char *const kwlist[] = {"dhs", "x", "h0", "hs", "gates", "gh_n", "W_ih", "W_hh", NULL};
    PyObject *odhs, *ox, *oh0, *ohs, *ogates, *oghn, *oWih, *oWhh, *res = NULL;
    PyArrayObject *xraw, *dhs, *h0, *hs, *gates, *ghn, *Wih, *Whh, *dx = NULL, *dh0, *dWih, *dWhh, *dbih, *dbhh;
    SeqDims r = {0};
    int tok;
    Call c;
    call_init(&c, "gru_backward");
    if (parse(c.fn, args, nargs, kwnames, kwlist, 8, (PyObject **[]){&odhs, &ox, &oh0, &ohs, &ogates, &oghn, &oWih, &oWhh}))
        return NULL;
    if (seq_input_kind(&c, ox, &xraw, &tok)) goto done;
    FArg fa[] = {{"dhs", odhs, &dhs, 0},       {"x", tok ? NULL : ox, &r.x, 0}, {"h0", oh0, &h0, 1},
                 {"hs", ohs, &hs, 0},          {"gates", ogates, &gates, 0},    {"gh_n", oghn, &ghn, 0},
                 {"W_ih", oWih, &Wih, 0},      {"W_hh", oWhh, &Whh, 0}};
    if (floats(&c, fa, 8)) goto done;
    if (tok && !(r.tokens = ints_from_raw(&c, "x", ox, xraw))) goto done;
    if (gated_weight_shapes(&c, &r, 3, Wih, Whh, NULL, NULL) || seq_input_shapes(&c, &r, "x") ||
        (h0 && seq_state_shape(&c, &r, "h0", h0)) || seq_shape(&c, &r, "hs", hs, 1) ||
        seq_shape(&c, &r, "gates", gates, 3) || seq_shape(&c, &r, "gh_n", ghn, 1) || seq_shape(&c, &r, "dhs", dhs, 1))
        goto done;
    if ((r.x && !(dx = new_out(&c, PyArray_NDIM(r.x), PyArray_DIMS(r.x), c.type))) || !(dh0 = state_out(&c, &r)) ||
        gated_weight_outs(&c, &r, 3, &dWih, &dWhh, &dbih, &dbhh))
        goto done;
    size_t T = (size_t)r.T, B = (size_t)r.B, D = (size_t)r.D, H = (size_t)r.H;
    void *work = workspace(&c, tn_gru_backward_work(T, B, D, H));
    if (!work) goto done;
    RUN(12.0 * T * B * H * (H + D), KERNEL(&c, gru_backward, P(dx), P(dh0), P(dWih), P(dWhh), P(dbih), P(dbhh), P(dhs),
                                           P(r.x), P(r.tokens), P(h0), P(hs), P(gates), P(ghn), P(Wih), P(Whh), T, B,
                                           D, H, work));
    res = Py_BuildValue("OOOOOO", dx ? (PyObject *)dx : Py_None, dh0, dWih, dWhh, dbih, dbhh);
done:
    call_done(&c);
    return res;
}

#endif /* TN_WRAP_GRU_H */
