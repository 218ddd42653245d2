/* wrap/rnn.h -- entry points of the vanilla RNN (csrc/tn_rnn.c).
 * Part of the wrapper: included once, by csrc/_core.c (the only file that includes
 * Python.h and the NumPy headers); it uses the helpers of wrap/args.h. */

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

PyDoc_STRVAR(rnn_forward_doc,
"rnn_forward(x, h0, W_xh, W_hh, b_h)\n--\n\n"
"Vanilla tanh RNN over a time-major sequence:\n"
"h_t = tanh(W_xh @ x_t + W_hh @ h_{t-1} + b_h), h_{-1} = h0.\n\n"
"x: floats (T, B, D), or integer token ids (T, B) (one-hot implied, D = W_xh.shape[1]);\n"
"unbatched (T, D) / (T,) go with h0 (H,).  h0: (B, H) / (H,), or None for zeros.\n"
"W_xh: (H, D); W_hh: (H, H); b_h: (H,).  Returns hs: (T, B, H) or (T, H).\n\n"
">>> import numpy as np, tinynet as tn\n"
">>> H, V = 3, 4\n"
">>> hs = tn.rnn_forward([0, 1, 2], np.zeros(H), np.ones((H, V)), np.eye(H), np.zeros(H))\n"
">>> hs.shape\n(3, 3)\n");

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

PyDoc_STRVAR(rnn_backward_doc,
"rnn_backward(dhs, x, h0, hs, W_xh, W_hh, bptt_steps=None)\n--\n\n"
"Backpropagation through time for rnn_forward, given dhs = dL/dhs (shaped like hs).\n\n"
"bptt_steps=None is full BPTT; bptt_steps=k lets the gradient of the loss at step t\n"
"reach steps t, t-1, ..., t-k+1 only (and through them x, h0 and the weights);\n"
"bptt_steps=1 is the per-step gradient of seed notebook 000.\n"
"dhs, hs: (T, B, H) or (T, H); x, h0, W_xh, W_hh as for rnn_forward.\n"
"Returns (dx, dh0, dW_xh, dW_hh, db_h), each shaped like its input and in the float\n"
"arguments' dtype; dx is None for token input; dh0 is returned (shaped like h0) even\n"
"when h0 is None.\n\n"
">>> import numpy as np, tinynet as tn\n"
">>> W_xh, W_hh, b = np.ones((3, 4)) * 0.1, np.eye(3) * 0.5, np.zeros(3)\n"
">>> hs = tn.rnn_forward([0, 1], None, W_xh, W_hh, b)\n"
">>> dx, dh0, dW_xh, dW_hh, db_h = tn.rnn_backward(np.ones_like(hs), [0, 1], None, hs, W_xh, W_hh)\n"
">>> dx is None, dW_xh.shape\n(True, (3, 4))\n");

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

PyDoc_STRVAR(rnn_lm_loss_doc,
"rnn_lm_loss(inputs, targets, h0, W_xh, W_hh, b_h, W_hy, b_y, bptt_steps=None, reduction=\"sum\")\n--\n\n"
"min-char-rnn's lossFun in one call: the RNN over token ids, logits = W_hy h_t + b_y,\n"
"softmax cross-entropy against the targets, and backpropagation through time.\n\n"
"inputs: integer ids (T,) or (T, B) in [0, W_xh.shape[1]); targets: same shape, in\n"
"[0, V) with V = W_hy.shape[0]; h0: (H,) / (B, H) or None for zeros; W_xh (H, D),\n"
"W_hh (H, H), b_h (H,), W_hy (V, H), b_y (V,).  reduction=\"sum\" adds the T*B losses\n"
"(min-char-rnn), \"mean\" averages them (and the gradients).\n"
"Returns (loss, grads, h_last): loss a float, grads a dict with keys \"W_xh\", \"W_hh\",\n"
"\"b_h\", \"W_hy\", \"b_y\", h_last the last hidden state (H,) / (B, H).\n\n"
">>> import numpy as np, tinynet as tn\n"
">>> rng = np.random.default_rng(0); V, H = 4, 3\n"
">>> W_xh, W_hh, W_hy = (rng.standard_normal(s) * 0.1 for s in [(H, V), (H, H), (V, H)])\n"
">>> loss, grads, h = tn.rnn_lm_loss([1, 0, 2, 2], [0, 2, 2, 3], None, W_xh, W_hh, np.zeros(H), W_hy, np.zeros(V))\n"
">>> sorted(grads), h.shape\n(['W_hh', 'W_hy', 'W_xh', 'b_h', 'b_y'], (3,))\n");

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

PyDoc_STRVAR(rnn_sample_doc,
"rnn_sample(h0, token, n, W_xh, W_hh, b_h, W_hy, b_y, temperature=1.0, greedy=False, seed=None)\n--\n\n"
"Generate n tokens autoregressively from a start token (not included in the output):\n"
"h = tanh(W_xh[:, tok] + W_hh @ h + b_h), p = softmax((W_hy @ h + b_y) / temperature),\n"
"then the next token is argmax(p) (greedy=True, seed notebook 001's predict) or a draw\n"
"from p.  Draws use tinynet's own generator (splitmix64, shared with tinynet.reference),\n"
"so the same seed gives the same tokens in both engines; seed=None seeds from the OS.\n\n"
"h0: (H,) with token an int -> tokens (n,); or h0 (B, H) with token (B,) -> (n, B).\n"
"h0 None means zeros (batched when token is an array).  temperature must be > 0.\n"
"Returns an int64 array.\n\n"
">>> import numpy as np, tinynet as tn\n"
">>> V, H = 4, 3\n"
">>> W_xh, W_hh, W_hy = np.eye(H, V), np.eye(H) * 0.5, np.eye(V, H)\n"
">>> tn.rnn_sample(None, 0, 5, W_xh, W_hh, np.zeros(H), W_hy, np.zeros(V), seed=1).shape\n(5,)\n");

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
    if (parse(c.fn, args, nargs, kwnames, kwlist, 8, (PyObject **[]){&oh0, &otok, &on, &oWxh, &oWhh, &obh, &oWhy, &oby, &otemp, &ogreedy, &oseed}))
        return NULL;
    if (get_int(&c, "n", on, &n) || (otemp && get_double(&c, "temperature", otemp, &temp))) goto done;
    if (n < 0) {
        PyErr_Format(PyExc_ValueError, "rnn_sample: n must be >= 0, got %lld", n);
        goto done;
    }
    if (!(temp > 0)) {
        PyErr_Format(PyExc_ValueError, "rnn_sample: temperature must be > 0, got %R", otemp);
        goto done;
    }
    if ((greedy = PyObject_IsTrue(ogreedy)) < 0) {
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        if (PyErr_GivenExceptionMatches(type, PyExc_ValueError) || PyErr_GivenExceptionMatches(type, PyExc_TypeError)) {
            PyErr_Format(type, "rnn_sample: greedy must be true or false: %S", value ? value : Py_None);
            Py_XDECREF(type);
            Py_XDECREF(value);
            Py_XDECREF(tb);
        } else {
            PyErr_Restore(type, value, tb);
        }
        goto done;
    }
    if (oseed == Py_None) {
        if (os_seed(&rng)) goto done;
    } else {
        PyObject *i = PyNumber_Index(oseed);
        if (!i) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError, "rnn_sample: seed must be None or an integer, not %s", short_type(oseed));
            goto done;
        }
        rng = (uint64_t)PyLong_AsUnsignedLongLongMask(i); /* seed mod 2**64, as the reference */
        Py_DECREF(i);
        if (PyErr_Occurred()) goto done;
    }
    FArg fa[] = {{"h0", oh0, &h0, 1},  {"W_xh", oWxh, &Wxh, 0}, {"W_hh", oWhh, &Whh, 0},
                 {"b_h", obh, &bh, 0}, {"W_hy", oWhy, &Why, 0}, {"b_y", oby, &by, 0}};
    if (floats(&c, fa, 6) || !(tok = ints(&c, "token", otok))) goto done;
    if (rnn_weight_shapes(&c, &r, Wxh, Whh, bh) || rnn_output_shapes(&c, &r, Why, by)) goto done;
    if (PyArray_NDIM(tok) > 1) {
        shape_error(&c, "token", tok, "() for one sequence or (B,) for a batch", NULL);
        goto done;
    }
    r.batched = PyArray_NDIM(tok) == 1;
    r.B = r.batched ? PyArray_DIM(tok, 0) : 1;
    r.in_name = "token";
    r.in = tok;
    r.bdim = 0;
    if ((h0 && seq_state_shape(&c, &r, "h0", h0)) || in_range(&c, "token", tok, r.D, "D = W_xh.shape[1]")) goto done;
    if (r.V > r.D) {
        PyErr_Format(PyExc_ValueError,
                     "rnn_sample: sampled tokens are fed back as inputs, so V = W_hy.shape[0] = %zd must not exceed "
                     "D = W_xh.shape[1] = %zd",
                     (Py_ssize_t)r.V, (Py_ssize_t)r.D);
        goto done;
    }
    if (r.V == 0 && n > 0) {
        char s[160];
        PyErr_Format(PyExc_ValueError,
                     "rnn_sample: W_hy has shape %s: with V = W_hy.shape[0] = 0 there is no token to sample (n = %lld)",
                     fmt_shape(Why, s, sizeof s), n);
        goto done;
    }
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
