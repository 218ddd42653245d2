/* wrap/gru.h -- entry points of the GRU (csrc/tn_gru.c).
 * Part of the wrapper: included once, by csrc/_core.c (the only file that includes
 * Python.h and the NumPy headers); it uses the helpers of wrap/args.h and wrap/seq.h. */

PyDoc_STRVAR(gru_forward_doc,
"gru_forward(x, h0, W_ih, W_hh, b_ih=None, b_hh=None)\n--\n\n"
"A one-layer GRU over a time-major sequence, exactly as torch.nn.GRU: for each step,\n"
"with gi = W_ih @ x_t + b_ih and gh = W_hh @ h_{t-1} + b_hh split into three blocks of H,\n"
"    r = sigmoid(gi_r + gh_r),  z = sigmoid(gi_z + gh_z),\n"
"    n = tanh(gi_n + r * gh_n),  h_t = (1 - z) * n + z * h_{t-1}.\n\n"
"x: floats (T, B, D), or integer token ids (T, B) (one-hot implied, D = W_ih.shape[1]);\n"
"unbatched (T, D) / (T,) go with h0 (H,).  h0: (B, H) / (H,), or None for zeros.\n"
"W_ih: (3H, D); W_hh: (3H, H); b_ih, b_hh: (3H,) or None (PyTorch's layout, gates r, z, n).\n"
"Returns (hs, gates, gh_n): hs (T, B, H) the state after every step (the output;\n"
"h_n = hs[-1]), gates (T, B, 3H) the gate values r, z, n, and gh_n (T, B, H) the hidden\n"
"side of the candidate, W_hn @ h_{t-1} + b_hn, which r scales -- what gru_backward needs.\n\n"
">>> import numpy as np, tinynet as tn\n"
">>> H, D = 3, 2\n"
">>> hs, gates, gh_n = tn.gru_forward(np.ones((5, D)), None, np.ones((3 * H, D)), np.eye(3 * H, H))\n"
">>> hs.shape, gates.shape, gh_n.shape\n"
"((5, 3), (5, 9), (5, 3))\n");

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

PyDoc_STRVAR(gru_backward_doc,
"gru_backward(dhs, x, h0, hs, gates, gh_n, W_ih, W_hh)\n--\n\n"
"Backpropagation through time (full) for gru_forward, given dhs = dL/dhs (shaped like hs;\n"
"the gradient of h_n = hs[-1] belongs in dhs[-1]).  Going back from step T-1, with dh the\n"
"gradient reaching h_t (dhs[t] plus what comes back from step t+1):\n"
"    dn = dh * (1 - z) * (1 - n**2),  dz = dh * (h_{t-1} - n) * z(1-z),\n"
"    dr = dn * gh_n * r(1-r);\n"
"the input side gets [dr, dz, dn], the hidden side [dr, dz, dn * r], and\n"
"    dh_{t-1} = dh * z + [dr, dz, dn * r] @ W_hh.\n\n"
"x, h0, W_ih, W_hh as for gru_forward; hs, gates, gh_n its results.\n"
"Returns (dx, dh0, dW_ih, dW_hh, db_ih, db_hh), each shaped like its input and in the float\n"
"arguments' dtype; dx is None for token input; dh0 is returned (shaped like h0) even when\n"
"h0 is None.\n\n"
">>> import numpy as np, tinynet as tn\n"
">>> W_ih, W_hh = np.ones((6, 3)) * 0.1, np.eye(6, 2)\n"
">>> hs, gates, gh_n = tn.gru_forward([0, 2], None, W_ih, W_hh)\n"
">>> dx, dh0, dW_ih, dW_hh, db_ih, db_hh = tn.gru_backward(np.ones_like(hs), [0, 2], None, hs, gates, gh_n,\n"
"...                                                       W_ih, W_hh)\n"
">>> dx is None, dW_hh.shape, db_hh.shape\n"
"(True, (6, 2), (6,))\n");

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
