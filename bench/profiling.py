"""The profile: where a step's time goes.  The per-call floor, the hello step's parts,
every call of the makemore step alone (the public calls, the fused calls and the C
kernels under them, called through ctypes), the peers' own costs, char-RNN's forward and
backward apart, and each engine call of the GPT step (gptprofile.py)."""
import ctypes
import tracemalloc

import numpy as np
import tinynet

import cases as C
import gptprofile
import seedstyle
from timing import Threads, measure

HELLO_KEYS = ("W_xh", "W_hh", "b_h", "W_hy", "b_y")


def sgd_calls(E, params, grads):
    """sgd_step_ on each makemore parameter (its own copy) as timeable closures."""
    pc = {k: v.copy() for k, v in params.items()}  # sgd_step_ works on its own copies
    return [(f"sgd_step_ {k} {pc[k].shape}", lambda k=k: E.sgd_step_(pc[k], grads[k], 1e-3), 0) for k in C.MM_KEYS]


def makemore_calls(E, params, Xb, Yb):
    """The 19 calls of one makemore step as separately timeable closures on fixed
    inputs: [(label, fn, gemm flops)]."""
    p = {k: v.copy() for k, v in params.items()}
    n, V = Xb.shape[0], p["C"].shape[0]
    H = p["W1"].shape[0]
    emb = E.embedding_forward(p["C"], Xb)
    x = emb.reshape(n, -1)
    hpre = E.linear_forward(x, p["W1"], p["b1"])
    hbn, mean, invstd = E.batchnorm_forward(hpre, p["gamma"], p["beta"], correction=1)
    h = E.tanh_forward(hbn)
    logits = E.linear_forward(h, p["W2"], p["b2"])
    loss, probs = E.cross_entropy_forward(logits, Yb)
    dlogits = E.cross_entropy_backward(probs, Yb)
    dh, dW2, db2 = E.linear_backward(dlogits, h, p["W2"])
    dhbn = E.tanh_backward(dh, h)
    dhpre, dgamma, dbeta = E.batchnorm_backward(dhbn, hpre, p["gamma"], mean, invstd, correction=1)
    dx, dW1, db1 = E.linear_backward(dhpre, x, p["W1"])
    demb = dx.reshape(emb.shape)
    dC = E.embedding_backward(demb, Xb, V)
    grads = dict(C=dC, W1=dW1, b1=db1, gamma=dgamma, beta=dbeta, W2=dW2, b2=db2)
    D = x.shape[1]
    calls = [
        ("embedding_forward", lambda: E.embedding_forward(p["C"], Xb), 0),
        (f"linear_forward ({n}x{D} -> {H})", lambda: E.linear_forward(x, p["W1"], p["b1"]), 2 * n * D * H),
        ("batchnorm_forward", lambda: E.batchnorm_forward(hpre, p["gamma"], p["beta"], correction=1), 0),
        ("tanh_forward", lambda: E.tanh_forward(hbn), 0),
        (f"linear_forward ({n}x{H} -> {V})", lambda: E.linear_forward(h, p["W2"], p["b2"]), 2 * n * H * V),
        ("cross_entropy_forward", lambda: E.cross_entropy_forward(logits, Yb), 0),
        ("cross_entropy_backward", lambda: E.cross_entropy_backward(probs, Yb), 0),
        (f"linear_backward ({n}x{H} -> {V})", lambda: E.linear_backward(dlogits, h, p["W2"]), 4 * n * H * V),
        ("tanh_backward", lambda: E.tanh_backward(dh, h), 0),
        ("batchnorm_backward", lambda: E.batchnorm_backward(dhbn, hpre, p["gamma"], mean, invstd, correction=1), 0),
        (f"linear_backward ({n}x{D} -> {H})", lambda: E.linear_backward(dhpre, x, p["W1"]), 4 * n * D * H),
        ("embedding_backward", lambda: E.embedding_backward(demb, Xb, V), 0),
    ]
    return calls + sgd_calls(E, p, grads), {"Xb": Xb, "demb": demb, "C": p["C"]}


def fused_calls(E, params, Xb, Yb):
    """The calls of the fused makemore step (bench/cases.py makemore_fused) as
    separately timeable closures: [(label, fn, gemm flops)]."""
    p = {k: v.copy() for k, v in params.items()}
    n, V, H = Xb.shape[0], p["C"].shape[0], p["W1"].shape[0]
    emb = E.embedding_forward(p["C"], Xb)
    x = emb.reshape(n, -1)
    D = x.shape[1]
    h, hpre, mean, invstd = E.linear_batchnorm_tanh_forward(x, p["W1"], p["b1"], p["gamma"], p["beta"], correction=1)
    loss, dh, dW2, db2 = E.linear_cross_entropy(h, p["W2"], p["b2"], Yb)
    dx, dW1, db1, dgamma, dbeta = E.linear_batchnorm_tanh_backward(dh, h, x, p["W1"], p["gamma"], hpre, mean, invstd,
                                                                   correction=1)
    demb = dx.reshape(emb.shape)
    dC = E.embedding_backward(demb, Xb, V)
    grads = dict(C=dC, W1=dW1, b1=db1, gamma=dgamma, beta=dbeta, W2=dW2, b2=db2)
    calls = [
        ("embedding_forward", lambda: E.embedding_forward(p["C"], Xb), 0),
        (f"linear_batchnorm_tanh_forward ({n}x{D} -> {H})",
         lambda: E.linear_batchnorm_tanh_forward(x, p["W1"], p["b1"], p["gamma"], p["beta"], correction=1),
         2 * n * D * H),
        (f"linear_cross_entropy ({n}x{H} -> {V})", lambda: E.linear_cross_entropy(h, p["W2"], p["b2"], Yb),
         6 * n * H * V),
        (f"linear_batchnorm_tanh_backward ({n}x{D} -> {H})",
         lambda: E.linear_batchnorm_tanh_backward(dh, h, x, p["W1"], p["gamma"], hpre, mean, invstd, correction=1),
         4 * n * D * H),
        ("embedding_backward", lambda: E.embedding_backward(demb, Xb, V), 0),
    ]
    return calls + sgd_calls(E, p, grads)


class Kernels:
    """tinynet's C kernels of one dtype, called through ctypes, and the arrays they work
    on (kept alive here: the kernels hold raw pointers to them)."""

    def __init__(self, dtype):
        self.lib = ctypes.CDLL(tinynet._core.__file__)
        self.dtype = dtype
        self.sfx = "_f32" if dtype == np.float32 else "_f64"
        self.T = ctypes.c_float if dtype == np.float32 else ctypes.c_double
        self.keep = []

    def hold(self, a):
        """a's data address, a kept alive."""
        self.keep.append(a)
        return a.ctypes.data

    def buf(self, *shape):
        """The address of a new zeroed array of this dtype."""
        return self.hold(np.zeros(shape, self.dtype))

    def fn(self, name, restype=None):
        f = getattr(self.lib, "tn_" + name + self.sfx)
        f.restype = restype
        return f

    def work(self, name, *sizes):
        """A workspace of the size the kernel library's `name` asks for these sizes."""
        f = getattr(self.lib, "tn_" + name)
        f.restype, f.argtypes = ctypes.c_size_t, [ctypes.c_size_t] * len(sizes)
        return self.buf(max(int(f(*sizes)), 1))


def forward_kernels(K, a, P, s):
    """The forward kernels of the makemore step: [(label, fn, args, gemm flops)]."""
    sz, fn = ctypes.c_size_t, K.fn
    n, D, H, V = s["n"], s["D"], s["H"], s["V"]
    return [
        ("embedding_forward", fn("embedding_forward"), (a["x"], P["C"], s["ids"], sz(s["n_ids"]), sz(s["E"])), 0),
        (f"linear_forward ({n}x{D} -> {H})", fn("linear_forward"),
         (a["hpre"], a["x"], P["W1"], P["b1"], sz(n), sz(D), sz(H), a["w1f"]), 2 * n * D * H),
        ("batchnorm_forward", fn("batchnorm_forward"),
         (a["hbn"], a["mean"], a["invstd"], a["hpre"], P["gamma"], P["beta"], sz(n), sz(H), K.T(1e-5), sz(1)), 0),
        ("tanh_forward", fn("tanh_forward"), (a["h"], a["hbn"], sz(n * H)), 0),
        (f"linear_forward ({n}x{H} -> {V})", fn("linear_forward"),
         (a["logits"], a["h"], P["W2"], P["b2"], sz(n), sz(H), sz(V), a["w2f"]), 2 * n * H * V),
        ("cross_entropy_forward", fn("cross_entropy_forward", ctypes.c_double),
         (a["probs"], a["logits"], s["tgt"], sz(n), sz(V), ctypes.c_int(1)), 0),
    ]


def backward_kernels(K, a, P, g, s):
    """The backward kernels and updates of the makemore step: [(label, fn, args, gemm
    flops)] (the cross-entropy gradient is written over the logits)."""
    sz, fn = ctypes.c_size_t, K.fn
    n, D, H, V = s["n"], s["D"], s["H"], s["V"]
    kernels = [
        ("cross_entropy_backward", fn("cross_entropy_backward"),
         (a["logits"], a["probs"], s["tgt"], sz(n), sz(V), ctypes.c_int(1)), 0),
        (f"linear_backward ({n}x{H} -> {V})", fn("linear_backward"),
         (a["dh"], g["W2"], g["b2"], a["logits"], a["h"], P["W2"], sz(n), sz(H), sz(V), a["w2b"]), 4 * n * H * V),
        ("tanh_backward", fn("tanh_backward"), (a["dhbn"], a["dh"], a["h"], sz(n * H)), 0),
        ("batchnorm_backward", fn("batchnorm_backward"),
         (a["dhpre"], g["gamma"], g["beta"], a["dhbn"], a["hpre"], P["gamma"], a["mean"], a["invstd"], sz(n), sz(H),
          sz(1)), 0),
        (f"linear_backward ({n}x{D} -> {H})", fn("linear_backward"),
         (a["dx"], g["W1"], g["b1"], a["dhpre"], a["x"], P["W1"], sz(n), sz(D), sz(H), a["w1b"]), 4 * n * D * H),
        ("embedding_backward", fn("embedding_backward"),
         (g["C"], a["dx"], s["ids"], sz(s["n_ids"]), sz(V), sz(s["E"])), 0),
    ]
    for k in C.MM_KEYS:
        kernels.append((f"sgd_step_ {k} {s['shapes'][k]}", fn("sgd_step"), (P[k], g[k], sz(s["sizes"][k]), K.T(0.0)),
                        0))
    return kernels


def kernel_calls(params, Xb, Yb):
    """The C kernels under one makemore step (the same in the 19-call and the fused
    step: the fused functions are their composition), called through ctypes on fixed
    inputs, no wrapper in between: [(label, fn, gemm flops)], the ctypes call's own cost
    (an empty sgd kernel) to subtract, and the Kernels holding their arrays."""
    K = Kernels(params["C"].dtype)
    p = {k: v.copy() for k, v in params.items()}
    n, V, E = Xb.shape[0], p["C"].shape[0], p["C"].shape[1]
    H, D = p["W1"].shape
    s = dict(n=n, D=D, H=H, V=V, E=E, n_ids=n * Xb.shape[1], ids=K.hold(np.ascontiguousarray(Xb, np.int64)),
             tgt=K.hold(np.ascontiguousarray(Yb, np.int64)), shapes={k: v.shape for k, v in p.items()},
             sizes={k: v.size for k, v in p.items()})
    P = {k: K.hold(v) for k, v in p.items()}
    a = {name: K.buf(*shape) for name, shape in (
        ("x", (n, D)), ("hpre", (n, H)), ("hbn", (n, H)), ("h", (n, H)), ("mean", (H,)), ("invstd", (H,)),
        ("logits", (n, V)), ("probs", (n, V)), ("dh", (n, H)), ("dhbn", (n, H)), ("dhpre", (n, H)), ("dx", (n, D)))}
    g = {k: K.buf(*v.shape) for k, v in p.items()}
    a.update(w1f=K.work("linear_forward_work", n, D, H), w2f=K.work("linear_forward_work", n, H, V),
             w1b=K.work("linear_work", n, D, H), w2b=K.work("linear_work", n, H, V))
    kernels = forward_kernels(K, a, P, s) + backward_kernels(K, a, P, g, s)
    vp = ctypes.c_void_p
    calls = []
    for label, f, args, fl in kernels:
        args = tuple(vp(v) if isinstance(v, int) else v for v in args)
        f(*args)  # once in order, so that every input holds what the step would give it
        calls.append((label, lambda f=f, args=args: f(*args), fl))
    sgd = K.fn("sgd_step")
    empty = (vp(P["b2"]), vp(g["b2"]), ctypes.c_size_t(0), K.T(0.0))
    return calls, (lambda: sgd(*empty)), K


def group_calls(times, calls):
    """Sum per-call medians into: GEMM calls, sgd_step_, the rest."""
    g = {"linear (GEMM)": 0.0, "sgd_step_ x7": 0.0, "other layers": 0.0}
    for label, _, fl in calls:
        t = times[label]["median"]
        if label.startswith("linear"):
            g["linear (GEMM)"] += t
        elif label.startswith("sgd_step_"):
            g["sgd_step_ x7"] += t
        else:
            g["other layers"] += t
    return g


def _nbytes(r):
    if isinstance(r, np.ndarray):
        return r.nbytes
    if isinstance(r, (tuple, list)):
        return sum(_nbytes(x) for x in r)
    return 0


def call_peaks(calls):
    """{label: (tracemalloc peak of one call, bytes of the arrays it returns)}: the
    difference is the call's workspace and temporaries."""
    out = {}
    for label, fn, _ in calls:
        fn()
        tracemalloc.start()
        tracemalloc.reset_peak()
        r = fn()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        out[label] = (peak, _nbytes(r))
        del r
    return out


def overhead_profile(reps, tgt):
    """The per-call floor: near-empty calls of tinynet, the NumPy engine, NumPy and PyTorch."""
    z1, p1, g1 = np.zeros(1), np.zeros(1), np.ones(1)
    x11, W11 = np.ones((1, 1)), np.ones((1, 1))
    fns = {
        "tinynet tanh_forward(np.zeros(1))": lambda: tinynet.tanh_forward(z1),
        "tinynet sgd_step_ (1 element)": lambda: tinynet.sgd_step_(p1, g1, 0.0),
        "tinynet linear_forward (1x1, GEMM path)": lambda: tinynet.linear_forward(x11, W11),
        "NumPy engine tanh_forward(np.zeros(1))": lambda: C.ref.tanh_forward(z1),
        "np.tanh(np.zeros(1))": lambda: np.tanh(z1),
    }
    if C.torch is not None:
        torch = C.torch
        t1 = torch.zeros(1)
        w1 = torch.zeros(1, requires_grad=True)

        def torch_tiny_autograd():
            w1.grad = None
            torch.tanh(w1).sum().backward()

        fns["torch.tanh(1-element tensor)"] = lambda: torch.tanh(t1)
        fns["torch tanh+sum+backward (1 element)"] = torch_tiny_autograd
    return measure(fns, reps, tgt)


def hello_torch_forward(hp, inputs, targets):
    """PyTorch's forward of the hello step alone (the graph built, no backward)."""
    torch = C.torch
    W_xh, W_hh, b_h, W_hy, b_y = (C._t(hp[k], grad=True) for k in HELLO_KEYS)
    xs = [C._t(np.eye(4)[i]) for i in inputs]
    tgt_t = torch.from_numpy(targets)

    def torch_fwd():
        h = torch.zeros(4, dtype=torch.float64)
        logits = []
        for x in xs:
            h = torch.tanh(W_xh @ x + W_hh @ h + b_h)
            logits.append(W_hy @ h + b_y)
        return C.F.cross_entropy(torch.stack(logits), tgt_t, reduction="sum")

    return torch_fwd


def hello_profile(reps, tgt):
    """The hello step's parts: the fused loss at T = 1, 4 and 16, the forward alone, the
    five updates; the NumPy engine's loss and PyTorch's forward."""
    hp = C.hello_params(np.random.default_rng(1))
    inputs, targets = np.array([1, 0, 2, 2]), np.array([0, 2, 2, 3])
    h0 = np.zeros(4)
    args5 = [hp[k] for k in HELLO_KEYS]
    _, g, _ = tinynet.rnn_lm_loss(inputs, targets, h0, *args5)
    pc = {k: v.copy() for k, v in hp.items()}

    def five_sgd():
        for k in HELLO_KEYS:
            tinynet.sgd_step_(pc[k], g[k], 0.0)

    rng16 = np.random.default_rng(16)
    in16, tg16 = rng16.integers(0, 4, 16), rng16.integers(0, 4, 16)
    fns = {"tinynet rnn_lm_loss": lambda: tinynet.rnn_lm_loss(inputs, targets, h0, *args5),
           "tinynet rnn_lm_loss T=1": lambda: tinynet.rnn_lm_loss(inputs[:1], targets[:1], h0, *args5),
           "tinynet rnn_lm_loss T=16": lambda: tinynet.rnn_lm_loss(in16, tg16, h0, *args5),
           "tinynet rnn_forward (same tokens, T=4)": lambda: tinynet.rnn_forward(inputs, h0, *args5[:3]),
           "tinynet 5 x sgd_step_": five_sgd,
           "NumPy engine rnn_lm_loss": lambda: C.ref.rnn_lm_loss(inputs, targets, h0, *args5)}
    if C.torch is not None:
        fns["PyTorch forward only (graph built)"] = hello_torch_forward(hp, inputs, targets)
    return measure(fns, reps, tgt)


def tinynet_breakdown(params, pool, reps, tgt):
    """tinynet's makemore step, its public calls (single-layer and fused) and its C
    kernels, all in one interleaved measurement, so that the breakdown is one snapshot
    of the machine: the profile entry's step, step_layers, tinynet, fused and kernels."""
    Xb, Yb = pool[0]
    calls, aux = makemore_calls(tinynet, params, Xb, Yb)
    fcalls = fused_calls(tinynet, params, Xb, Yb) if C.FUSED else []
    kcalls, empty, kernels = kernel_calls(params, Xb, Yb)
    fns = {"step": C.makemore_step(tinynet, params, pool, 1e-3)[0],
           "step, a call per layer": C.makemore_engine(tinynet, params, pool, 1e-3)[0], "(ctypes call)": empty}
    fns.update({"call " + lbl: fn for lbl, fn, _ in calls})
    fns.update({"fused " + lbl: fn for lbl, fn, _ in fcalls})
    fns.update({"kernel " + lbl: fn for lbl, fn, _ in kcalls})
    times = measure(fns, reps, tgt)
    del kernels

    def med(k):
        return times[k]["median"]

    entry = {"step": med("step"), "step_layers": med("step, a call per layer")}
    entry[C.TN] = {"calls": [(lbl, med("call " + lbl), fl) for lbl, _, fl in calls],
                   "groups": group_calls({lbl: times["call " + lbl] for lbl, _, _ in calls}, calls),
                   "sum": sum(med("call " + lbl) for lbl, _, _ in calls), "peaks": call_peaks(calls)}
    if fcalls:
        entry["fused"] = {"calls": [(lbl, med("fused " + lbl), fl) for lbl, _, fl in fcalls],
                          "sum": sum(med("fused " + lbl) for lbl, _, _ in fcalls), "peaks": call_peaks(fcalls)}
    floor = med("(ctypes call)")  # the kernels' times are net of the ctypes call's own cost
    kern = [(lbl, max(med("kernel " + lbl) - floor, 0.0), fl) for lbl, _, fl in kcalls]
    entry["kernels"] = {"calls": kern, "ctypes": floor, "sum": sum(t for _, t, _ in kern)}
    return entry, aux


def makemore_torch_forward(params, Xb, Yb):
    """PyTorch's forward of the makemore step alone (the graph built, no backward)."""
    torch = C.torch
    ps = [C._t(params[k], grad=True) for k in C.MM_KEYS]
    Xt, Yt = torch.from_numpy(Xb), torch.from_numpy(Yb)

    def torch_fwd():
        Cm, W1, b1, gamma, beta, W2, b2 = ps
        emb = C.F.embedding(Xt, Cm)
        hprebn = C.F.linear(emb.view(emb.shape[0], -1), W1, b1)
        bnvar_inv = (hprebn.var(0, keepdim=True, unbiased=True) + 1e-5) ** -0.5
        h = torch.tanh(gamma * (hprebn - hprebn.mean(0, keepdim=True)) * bnvar_inv + beta)
        return C.F.cross_entropy(C.F.linear(h, W2, b2), Yt)

    return torch_fwd


def makemore_profile(dtype, pool, reps, tgt):
    """Every call of the makemore step (hidden 200) alone, tinynet's and the NumPy
    engine's, and the peers' own costs: the seed's dC loop, PyTorch's forward."""
    Xb, Yb = pool[0]
    params = C.makemore_params(np.random.default_rng(200), 200, np.dtype(dtype))
    entry, aux = tinynet_breakdown(params, pool, reps, tgt)
    rcalls, _ = makemore_calls(C.ref, params, Xb, Yb)
    times = measure({lbl: fn for lbl, fn, _ in rcalls}, reps, tgt)
    entry[C.REF] = {"calls": [(lbl, times[lbl]["median"], fl) for lbl, _, fl in rcalls],
                    "groups": group_calls(times, rcalls),
                    "sum": sum(times[lbl]["median"] for lbl, _, _ in rcalls), "peaks": call_peaks(rcalls)}
    fns = {"seed-style dC double loop": lambda: seedstyle.makemore_dC_loop(aux["C"], Xb, aux["demb"])}
    if C.torch is not None:
        fns["PyTorch forward only (graph built)"] = makemore_torch_forward(params, Xb, Yb)
    entry["peers"] = measure(fns, reps, tgt)
    return entry


def charrnn_profile(reps, tgt):
    """char-RNN's forward and backward apart, and PyTorch's forward alone."""
    s = C.charrnn_state(np.float32)
    hs = tinynet.rnn_forward(s["x"], s["h0"], s["W_xh"], s["W_hh"], s["b_h"])
    fns = {
        "tinynet rnn_forward": lambda: tinynet.rnn_forward(s["x"], s["h0"], s["W_xh"], s["W_hh"], s["b_h"]),
        "tinynet rnn_backward": lambda: tinynet.rnn_backward(s["R"], s["x"], s["h0"], hs, s["W_xh"], s["W_hh"]),
    }
    if C.torch is not None:
        rnn = C.torch.nn.RNN(C.CHARRNN["D"], C.CHARRNN["H"])
        xt = C._t(s["x"], grad=True)
        h0t = C._t(s["h0"][None], grad=True)
        fns["PyTorch nn.RNN forward only (graph built)"] = lambda: rnn(xt, h0t)
    return measure(fns, reps, tgt)


def run_profile(args, pool, gpt_pool=None):
    """The profile at the first thread count, of the groups in args.only (the GPT step's
    at every thread count)."""
    n0 = args.threads[0]
    reps = max(3, args.repeats // 2)
    tgt = args.target_ms / 2e3
    prof = {"threads": n0}
    with Threads(n0):
        prof["overhead"] = overhead_profile(reps, tgt)
        if "hello" in args.only:
            prof["hello"] = hello_profile(reps, tgt)
        if "makemore" in args.only:
            prof["makemore"] = {dtype: makemore_profile(dtype, pool, reps, tgt) for dtype in ("float32", "float64")}
        if "char-rnn" in args.only:
            prof["char-rnn"] = charrnn_profile(reps, tgt)
    if "gpt" in args.only and gpt_pool is not None:
        prof["gpt"] = {n: gptprofile.gpt_profile(gpt_pool, n, reps, tgt) for n in args.threads}
    return prof
