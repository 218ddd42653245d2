/* wrap/lstm.h -- entry points of the LSTM (csrc/tn_lstm.c).
 * A part of the wrapper (csrc/_core.c includes every part once). */
#ifndef TN_WRAP_LSTM_H
#define TN_WRAP_LSTM_H

#include "args.h"
#include "seq.h"

static PyObject *py_lstm_forward(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    (void)self;
    static const char *const kwlist[] = {"x", "h0", "c0", "W_ih", "W_hh", "b_ih", "b_hh", NULL};
    PyObject *ox, *oh0, *oc0, *oWih, *oWhh, *obih = Py_None, *obhh = Py_None, *res = NULL;
    PyArrayObject *xraw, *h0, *c0, *Wih, *Whh, *bih, *bhh, *hs, *cs, *gates;
    SeqDims r = {0};
    int tok;
    Call c;
    call_init(&c, "lstm_forward");
    if (parse(c.fn, args, nargs, kwnames, kwlist, 5, (PyObject **[]){&ox, &oh0, &oc0, &oWih, &oWhh, &obih, &obhh}))
        return NULL;
    if (seq_input_kind(&c, ox, &xraw, &tok)) goto done;
    FArg fa[] = {{"x", tok ? NULL : ox, &r.x, 0}, {"h0", oh0, &h0, 1},     {"c0", oc0, &c0, 1},
                 {"W_ih", oWih, &Wih, 0},         {"W_hh", oWhh, &Whh, 0}, {"b_ih", obih, &bih, 1},
                 {"b_hh", obhh, &bhh, 1}};
    if (floats(&c, fa, 7)) goto done;
    if (tok && !(r.tokens = ints_from_raw(&c, "x", ox, xraw))) goto done;
    if (gated_weight_shapes(&c, &r, 4, Wih, Whh, bih, bhh) || seq_input_shapes(&c, &r, "x") ||
        (h0 && seq_state_shape(&c, &r, "h0", h0)) || (c0 && seq_state_shape(&c, &r, "c0", c0)))
        goto done;
    if (!(hs = seq_out(&c, &r, 1)) || !(cs = seq_out(&c, &r, 1)) || !(gates = seq_out(&c, &r, 4))) goto done;
    size_t T = (size_t)r.T, B = (size_t)r.B, D = (size_t)r.D, H = (size_t)r.H;
    void *work = workspace(&c, tn_lstm_forward_work(T, B, D, H));
    if (!work) goto done;
    RUN(8.0 * T * B * H * (H + (tok ? 1 : D)), KERNEL(&c, lstm_forward, P(hs), P(cs), P(gates), P(r.x), P(r.tokens),
                                                      P(h0), P(c0), P(Wih), P(Whh), P(bih), P(bhh), T, B, D, H, work));
    res = Py_BuildValue("OOO", hs, cs, gates);
done:
    call_done(&c);
    return res;
}

static PyObject *py_lstm_backward(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    (void)self;
    static const char *const kwlist[] = {"dhs", "x", "h0", "c0", "hs", "cs", "gates", "W_ih", "W_hh", "dc_n", NULL};
    PyObject *odhs, *ox, *oh0, *oc0, *ohs, *ocs, *ogates, *oWih, *oWhh, *odcn = Py_None, *res = NULL;
    PyArrayObject *xraw, *dhs, *h0, *c0, *hs, *cs, *gates, *Wih, *Whh, *dcn;
    PyArrayObject *dx = NULL, *dh0, *dc0, *dWih, *dWhh, *dbih, *dbhh;
    SeqDims r = {0};
    int tok;
    Call c;
    call_init(&c, "lstm_backward");
    if (parse(c.fn, args, nargs, kwnames, kwlist, 9,
              (PyObject **[]){&odhs, &ox, &oh0, &oc0, &ohs, &ocs, &ogates, &oWih, &oWhh, &odcn}))
        return NULL;
    if (seq_input_kind(&c, ox, &xraw, &tok)) goto done;
    FArg fa[] = {{"dhs", odhs, &dhs, 0},       {"x", tok ? NULL : ox, &r.x, 0}, {"h0", oh0, &h0, 1},
                 {"c0", oc0, &c0, 1},          {"hs", ohs, &hs, 0},             {"cs", ocs, &cs, 0},
                 {"gates", ogates, &gates, 0}, {"W_ih", oWih, &Wih, 0},         {"W_hh", oWhh, &Whh, 0},
                 {"dc_n", odcn, &dcn, 1}};
    if (floats(&c, fa, 10)) goto done;
    if (tok && !(r.tokens = ints_from_raw(&c, "x", ox, xraw))) goto done;
    if (gated_weight_shapes(&c, &r, 4, Wih, Whh, NULL, NULL) || seq_input_shapes(&c, &r, "x") ||
        (h0 && seq_state_shape(&c, &r, "h0", h0)) || (c0 && seq_state_shape(&c, &r, "c0", c0)) ||
        seq_shape(&c, &r, "hs", hs, 1) || seq_shape(&c, &r, "cs", cs, 1) || seq_shape(&c, &r, "gates", gates, 4) ||
        seq_shape(&c, &r, "dhs", dhs, 1) || (dcn && seq_state_shape(&c, &r, "dc_n", dcn)))
        goto done;
    if ((r.x && !(dx = new_out(&c, PyArray_NDIM(r.x), PyArray_DIMS(r.x), c.type))) || !(dh0 = state_out(&c, &r)) ||
        !(dc0 = state_out(&c, &r)) || gated_weight_outs(&c, &r, 4, &dWih, &dWhh, &dbih, &dbhh))
        goto done;
    size_t T = (size_t)r.T, B = (size_t)r.B, D = (size_t)r.D, H = (size_t)r.H;
    void *work = workspace(&c, tn_lstm_backward_work(T, B, D, H));
    if (!work) goto done;
    RUN(16.0 * T * B * H * (H + D), KERNEL(&c, lstm_backward, P(dx), P(dh0), P(dc0), P(dWih), P(dWhh), P(dbih), P(dbhh),
                                           P(dhs), P(dcn), P(r.x), P(r.tokens), P(h0), P(c0), P(hs), P(cs), P(gates),
                                           P(Wih), P(Whh), T, B, D, H, work));
    res = Py_BuildValue("OOOOOOO", dx ? (PyObject *)dx : Py_None, dh0, dc0, dWih, dWhh, dbih, dbhh);
done:
    call_done(&c);
    return res;
}

#endif /* TN_WRAP_LSTM_H */
