/* wrap/lstm.h -- entry points of the LSTM (csrc/tn_lstm.c).
 * Part of the wrapper: included once, by csrc/_core.c (the only file that includes
 * Python.h and the NumPy headers); it uses the helpers of wrap/args.h and wrap/seq.h. */

PyDoc_STRVAR(lstm_forward_doc,
"lstm_forward(x, h0, c0, W_ih, W_hh, b_ih=None, b_hh=None)\n--\n\n"
"A one-layer LSTM over a time-major sequence, exactly as torch.nn.LSTM: for each step,\n"
"with a = W_ih @ x_t + b_ih + W_hh @ h_{t-1} + b_hh split into four blocks of H,\n"
"    i = sigmoid(a_i), f = sigmoid(a_f), g = tanh(a_g), o = sigmoid(a_o),\n"
"    c_t = f * c_{t-1} + i * g,  h_t = o * tanh(c_t).\n\n"
"x: floats (T, B, D), or integer token ids (T, B) (one-hot implied, D = W_ih.shape[1]);\n"
"unbatched (T, D) / (T,) go with h0, c0 (H,).  h0, c0: (B, H) / (H,), or None for zeros.\n"
"W_ih: (4H, D); W_hh: (4H, H); b_ih, b_hh: (4H,) or None (PyTorch's layout, gates i, f, g, o).\n"
"Returns (hs, cs, gates): hs and cs (T, B, H) the hidden and cell states after every step\n"
"(the output is hs; h_n = hs[-1], c_n = cs[-1]), gates (T, B, 4H) the gate values i, f,\n"
"g, o after their sigmoid / tanh -- what lstm_backward needs.\n\n"
">>> import numpy as np, tinynet as tn\n"
">>> H, D = 3, 2\n"
">>> hs, cs, gates = tn.lstm_forward(np.ones((5, D)), None, None, np.ones((4 * H, D)), np.eye(4 * H, H))\n"
">>> hs.shape, cs.shape, gates.shape\n"
"((5, 3), (5, 3), (5, 12))\n");

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

PyDoc_STRVAR(lstm_backward_doc,
"lstm_backward(dhs, x, h0, c0, hs, cs, gates, W_ih, W_hh, dc_n=None)\n--\n\n"
"Backpropagation through time (full) for lstm_forward, given dhs = dL/dhs (shaped like\n"
"hs; the gradient of h_n = hs[-1] belongs in dhs[-1]) and, optionally, dc_n = dL/dc_n for\n"
"the last cell state (B, H) / (H,).  Going back from step T-1, with dh the gradient\n"
"reaching h_t (dhs[t] plus what comes back from step t+1) and dc that reaching c_t:\n"
"    dc += dh * o * (1 - tanh(c_t)**2)\n"
"    da = [dc * g * i(1-i), dc * c_{t-1} * f(1-f), dc * i * (1-g**2), dh * tanh(c_t) * o(1-o)]\n"
"    dh_{t-1} = da @ W_hh,  dc_{t-1} = dc * f.\n\n"
"x, h0, c0, W_ih, W_hh as for lstm_forward; hs, cs, gates its results.\n"
"Returns (dx, dh0, dc0, dW_ih, dW_hh, db_ih, db_hh), each shaped like its input and in the\n"
"float arguments' dtype; dx is None for token input; dh0 and dc0 are returned (shaped like\n"
"the states) even when h0 / c0 are None; db_ih and db_hh are equal (both biases are added\n"
"to the same pre-activations).\n\n"
">>> import numpy as np, tinynet as tn\n"
">>> W_ih, W_hh = np.ones((8, 3)) * 0.1, np.eye(8, 2)\n"
">>> hs, cs, gates = tn.lstm_forward([0, 2], None, None, W_ih, W_hh)\n"
">>> dx, dh0, dc0, dW_ih, dW_hh, db_ih, db_hh = tn.lstm_backward(np.ones_like(hs), [0, 2], None, None,\n"
"...                                                             hs, cs, gates, W_ih, W_hh)\n"
">>> dx is None, dW_ih.shape, dc0.shape\n"
"(True, (8, 3), (2,))\n");

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
