"""The benchmark cases: one training step (or layer call) per engine.

Every engine of a case is built by a function returning (step, canon): step() does one
step on the engine's own copy of the state and returns its results; canon(result) maps
the results (and the updated state) to named NumPy arrays in tinynet's layout, which the
correctness guard compares with the NumPy engine's.  All engines of a case start from
the same initial state and see the same data in the same order.
"""
import itertools
import sys

import numpy as np

import seedstyle
import tinynet
import tinynet.reference as ref
import vectorised
from tinynet import data

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # PyTorch is an optional peer
    torch = None
    F = None

try:  # not in the older checkouts bench/ also runs against
    from tinynet import nn, optim
except ImportError:
    nn = optim = None

TN = "tinynet"
TN_NN = "tinynet nn + optim"
TN_LAYERS = "tinynet, a call per layer"
REF = "numpy engine"
SEED = "seed-style NumPy"
VEC = "vectorised NumPy"
TORCH = "PyTorch"
TORCH_COMPILE = "PyTorch compile"
RAW = "NumPy matmul"
#: Column order of the report.
ENGINES = (TN, TN_NN, TN_LAYERS, REF, SEED, VEC, TORCH, TORCH_COMPILE, RAW)
#: The engines whose wrong result fails a run (exit status 1).
TINYNET_ENGINES = (TN, TN_NN, TN_LAYERS)
#: Does this tinynet have the fused MLP calls (linear_batchnorm_tanh_forward, ...)?  bench/
#: also runs against older checkouts, to record the "before" of BENCHMARKS.md.
FUSED = hasattr(tinynet, "linear_cross_entropy")
#: Does it have tinynet.optim (an optimizer's step in one call) and the WaveNet's layers?
NN_OPTIM = FUSED and optim is not None and hasattr(nn, "FlattenConsecutive")


class Engine:
    def __init__(self, name, build):
        self.name = name
        self.build = build


class Skipped(Exception):
    """Raised by an engine's build when the engine cannot run here (torch.compile
    without a working toolchain, --no-compile): the guard records the reason and the
    engine is neither compared nor timed."""


class Case:
    """One benchmarked variant: a group (hello, makemore, ...), a label, its dtype,
    its GEMM flops per step, the engines (tinynet first) and the oracle (the NumPy
    engine's canon dict for one step from the initial state); threads: the thread
    counts it runs at (None: every count of the run); scale_of and masked_by: see
    compare."""

    def __init__(self, key, group, label, dtype, flops, engines, oracle, scale_of=None, threads=None,
                 masked_by=None):
        self.key, self.group, self.label = key, group, label
        self.threads, self.masked_by = threads, masked_by or {}
        self.scale_of = scale_of or {}
        self.dtype = np.dtype(dtype)
        self.flops = flops
        self.engines = engines
        self.oracle = oracle


def _torch_dtype(dtype):
    return torch.float64 if np.dtype(dtype) == np.float64 else torch.float32


def _t(a, grad=False):
    """A torch tensor owning a copy of a (so engines never share state)."""
    t = torch.from_numpy(np.array(a, copy=True))
    return t.requires_grad_(True) if grad else t


def _np(t):
    return t.detach().numpy().copy()


def _torch_sgd(loss, ps, lr):
    """The PyTorch peers' update: fresh gradients of loss, then p -= lr * grad under
    no_grad (seed-style SGD)."""
    for p in ps:
        p.grad = None
    loss.backward()
    with torch.no_grad():
        for p in ps:
            p -= lr * p.grad
    return loss


def _torch_canon(loss, keys, ps):
    """A PyTorch peer's step result as the guard compares it: loss, d<key> gradients and
    the updated parameters."""
    out = {"loss": _np(loss)}
    for k, p in zip(keys, ps):
        out["d" + k] = _np(p.grad)
        out[k] = _np(p)
    return out


# ---------------------------------------------------------------------------- hello

HELLO = dict(V=4, H=4, T=4, lr=0.01)


def hello_params(rng, V=4, H=4):
    """Seed 001's init (randn * 0.1), with small nonzero biases so the guard sees b."""
    return {
        "W_xh": rng.standard_normal((H, V)) * 0.1,
        "W_hh": rng.standard_normal((H, H)) * 0.1,
        "b_h": rng.standard_normal(H) * 0.01,
        "W_hy": rng.standard_normal((V, H)) * 0.1,
        "b_y": rng.standard_normal(V) * 0.01,
    }


def hello_engine(E, params, inputs, targets, lr):
    """tinynet or the NumPy engine: rnn_lm_loss (full BPTT, summed loss) + 5 sgd_step_."""
    W_xh, W_hh, b_h, W_hy, b_y = (params[k].copy() for k in ("W_xh", "W_hh", "b_h", "W_hy", "b_y"))
    h0 = np.zeros(W_hh.shape[0])
    rnn_lm_loss, sgd_step_ = E.rnn_lm_loss, E.sgd_step_

    def step():
        loss, g, h_last = rnn_lm_loss(inputs, targets, h0, W_xh, W_hh, b_h, W_hy, b_y)
        sgd_step_(W_xh, g["W_xh"], lr)
        sgd_step_(W_hh, g["W_hh"], lr)
        sgd_step_(b_h, g["b_h"], lr)
        sgd_step_(W_hy, g["W_hy"], lr)
        sgd_step_(b_y, g["b_y"], lr)
        return loss, g

    def canon(res):
        loss, g = res
        out = {"loss": np.array(loss)}
        out.update({"d" + k: v for k, v in g.items()})
        out.update(W_xh=W_xh, W_hh=W_hh, b_h=b_h, W_hy=W_hy, b_y=b_y)
        return out

    return step, canon


def hello_torch(params, inputs, targets, lr):
    """The same RNN in PyTorch eager: a loop over the steps, one-hot inputs (as the
    seed), cross-entropy summed, loss.backward(), SGD under no_grad."""
    V = params["W_hy"].shape[0]
    W_xh, W_hh, b_h, W_hy, b_y = (_t(params[k], grad=True) for k in ("W_xh", "W_hh", "b_h", "W_hy", "b_y"))
    ps = [W_xh, W_hh, b_h, W_hy, b_y]
    xs = [_t(np.eye(V)[i]) for i in inputs]
    tgt = torch.from_numpy(np.asarray(targets, dtype=np.int64))
    H = W_hh.shape[0]

    def step():
        h = torch.zeros(H, dtype=torch.float64)
        logits = []
        for x in xs:
            h = torch.tanh(W_xh @ x + W_hh @ h + b_h)
            logits.append(W_hy @ h + b_y)
        return _torch_sgd(F.cross_entropy(torch.stack(logits), tgt, reduction="sum"), ps, lr)

    return step, lambda loss: _torch_canon(loss, ("W_xh", "W_hh", "b_h", "W_hy", "b_y"), ps)


def hello_cases(have_torch):
    rng = np.random.default_rng(1)
    V, H, T, lr = HELLO["V"], HELLO["H"], HELLO["T"], HELLO["lr"]
    params = hello_params(rng, V, H)
    # seed 001's vocabulary: e0 h1 l2 o3; inputs 'hell', targets 'ello'
    inputs = np.array([1, 0, 2, 2], dtype=np.int64)
    targets = np.array([0, 2, 2, 3], dtype=np.int64)
    flops = T * 2 * (2 * H * V + 3 * H * H + 3 * V * H)  # one-hot x counted as a dense GEMM
    engines = [
        Engine(TN, lambda: hello_engine(tinynet, params, inputs, targets, lr)),
        Engine(REF, lambda: hello_engine(ref, params, inputs, targets, lr)),
        Engine(SEED, lambda: seedstyle.make_hello_rnn(params, inputs, targets, V, lr)),
    ]
    if have_torch:
        engines.append(Engine(TORCH, lambda: hello_torch(params, inputs, targets, lr)))

    def oracle():
        step, canon = hello_engine(ref, params, inputs, targets, lr)
        return canon(step())

    return [Case("hello", "hello", f'"hello" RNN step (V={V}, H={H}, T={T}, float64)', np.float64, flops,
                 engines, oracle)]


# ------------------------------------------------------------------------- makemore

MAKEMORE = dict(n_embd=10, block=3, vocab=27, batch=32, lr=0.1, pool=64)


def makemore_data(rng, block=MAKEMORE["block"]):
    """(Xtr, Ytr, source): seed 003's training split of names.txt as
    tinynet.data.load_names() finds it, contexts of `block` characters, or, when it
    finds none, as many random ids."""
    try:
        words = data.load_names()
    except (OSError, ValueError) as exc:  # DataNotFoundError, NamesFormatError
        print(f"[bench] makemore trains on random indices: tinynet.data.load_names() failed: {exc}",
              file=sys.stderr)
        n = 182418
        X = rng.integers(0, 27, size=(n, block), dtype=np.int64)
        Y = rng.integers(0, 27, size=n, dtype=np.int64)
        return X, Y, "random indices (tinynet.data.load_names() found no names.txt)"
    train, _, _ = data.split_words(words, seed=278)
    X, Y = data.build_dataset(train, block_size=block)
    return X, Y, f"names.txt (tinynet.data.load_names()), seed 003's training split: {len(X):,} examples"


def cycle(pool):
    """itertools.cycle over pool, primed by one pass so that its internal copy of the
    pool is complete (the memory case then sees no growth that is the harness's)."""
    it = itertools.cycle(pool)
    for _ in pool:
        next(it)
    return it


def makemore_batches(X, Y, rng, batch, pool):
    """A fixed pool of random minibatches (drawn once, outside the timing) that every
    engine cycles through in the same order."""
    ix = rng.integers(0, len(X), size=(pool, batch))
    return [(np.ascontiguousarray(X[i]), np.ascontiguousarray(Y[i])) for i in ix]


def makemore_params(rng, n_hidden, dtype):
    """Seed 003's init, in tinynet's (out, in) layout."""
    E, blk, V = MAKEMORE["n_embd"], MAKEMORE["block"], MAKEMORE["vocab"]
    fan_in = E * blk
    p = {
        "C": rng.standard_normal((V, E)),
        "W1": rng.standard_normal((n_hidden, fan_in)) * (5 / 3) / fan_in**0.5,
        "b1": rng.standard_normal(n_hidden) * 0.1,
        "gamma": 1.0 + 0.1 * rng.standard_normal(n_hidden),
        "beta": 0.1 * rng.standard_normal(n_hidden),
        "W2": rng.standard_normal((V, n_hidden)) * 0.1,
        "b2": rng.standard_normal(V) * 0.1,
    }
    return {k: v.astype(dtype) for k, v in p.items()}


MM_KEYS = ("C", "W1", "b1", "gamma", "beta", "W2", "b2")
#: db1 is mathematically zero (BatchNorm cancels b1): what remains is
#: rounding of a sum of the batch's dhpre, so it is compared on the scale of dW1, the same
#: layer's gradient (dW1 = embcat.T @ dhpre), not on its own ~1e-17 scale.
MM_SCALE_OF = {"db1": "dW1"}


def makemore_canon(state):
    """The guard's view of a makemore step (tinynet layout): its loss, the gradients and the
    updated parameters, state being the step's live parameters in MM_KEYS order."""

    def canon(res):
        loss, grads = res
        out = {"loss": np.array(loss)}
        out.update({"d" + k: g for k, g in zip(MM_KEYS, grads)})
        out.update(zip(MM_KEYS, state))
        return out

    return canon


def makemore_sgd(E, state, lr):
    """sgd_step_ on the 7 parameters of a makemore step, one call each (a step's last part,
    for tinynet and the NumPy engine); returns the gradients."""
    C, W1, b1, gamma, beta, W2, b2 = state
    sgd_step_ = E.sgd_step_

    def update(grads):
        dC, dW1, db1, dgamma, dbeta, dW2, db2 = grads
        sgd_step_(C, dC, lr)
        sgd_step_(W1, dW1, lr)
        sgd_step_(b1, db1, lr)
        sgd_step_(gamma, dgamma, lr)
        sgd_step_(beta, dbeta, lr)
        sgd_step_(W2, dW2, lr)
        sgd_step_(b2, db2, lr)
        return grads

    return update


def makemore_engine(E, params, pool, lr):
    """tinynet or the NumPy engine: one public call per layer forward and backward,
    then sgd_step_ on the 7 parameters."""
    state = C, W1, b1, gamma, beta, W2, b2 = tuple(params[k].copy() for k in MM_KEYS)
    V = C.shape[0]
    batches = cycle(pool)
    embedding_forward, linear_forward, batchnorm_forward = E.embedding_forward, E.linear_forward, E.batchnorm_forward
    tanh_forward, cross_entropy_forward = E.tanh_forward, E.cross_entropy_forward
    cross_entropy_backward, linear_backward, tanh_backward = E.cross_entropy_backward, E.linear_backward, E.tanh_backward
    batchnorm_backward, embedding_backward = E.batchnorm_backward, E.embedding_backward
    update = makemore_sgd(E, state, lr)

    def step():
        Xb, Yb = next(batches)
        n = Xb.shape[0]
        emb = embedding_forward(C, Xb)                       # (n, 3, 10)
        x = emb.reshape(n, -1)                               # (n, 30)
        hpre = linear_forward(x, W1, b1)
        hbn, mean, invstd = batchnorm_forward(hpre, gamma, beta, correction=1)
        h = tanh_forward(hbn)
        logits = linear_forward(h, W2, b2)
        loss, probs = cross_entropy_forward(logits, Yb)
        dlogits = cross_entropy_backward(probs, Yb)
        dh, dW2, db2 = linear_backward(dlogits, h, W2)
        dhbn = tanh_backward(dh, h)
        dhpre, dgamma, dbeta = batchnorm_backward(dhbn, hpre, gamma, mean, invstd, correction=1)
        dx, dW1, db1 = linear_backward(dhpre, x, W1)
        dC = embedding_backward(dx.reshape(emb.shape), Xb, V)
        return loss, update((dC, dW1, db1, dgamma, dbeta, dW2, db2))

    return step, makemore_canon(state)


def makemore_fused(E, params, pool, lr):
    """tinynet or the NumPy engine with the fused calls: embedding, the hidden
    block forward (linear, batch norm, tanh), the output layer with its loss forward and
    backward, the block backward, the embedding's gradient, then sgd_step_ on the 7
    parameters -- 5 calls and the updates.  The fused calls write into arrays made once
    (out=), as a training loop would keep them."""
    state = C, W1, b1, gamma, beta, W2, b2 = tuple(params[k].copy() for k in MM_KEYS)
    V, H, D, n = C.shape[0], W1.shape[0], W1.shape[1], pool[0][0].shape[0]
    batches = cycle(pool)
    embedding_forward, embedding_backward = E.embedding_forward, E.embedding_backward
    update = makemore_sgd(E, state, lr)
    block_forward, block_backward = E.linear_batchnorm_tanh_forward, E.linear_batchnorm_tanh_backward
    linear_cross_entropy = E.linear_cross_entropy
    new = lambda *shapes: [np.empty(s, C.dtype) for s in shapes]
    fwd_out, head_out, bwd_out = new((n, H), (n, H), H, H), new((n, H), (V, H), V), new((n, D), (H, D), H, H, H)

    def step():
        Xb, Yb = next(batches)
        emb = embedding_forward(C, Xb)                       # (n, 3, 10)
        x = emb.reshape(Xb.shape[0], -1)                     # (n, 30)
        h, hpre, mean, invstd = block_forward(x, W1, b1, gamma, beta, 1e-5, 1, fwd_out)
        loss, dh, dW2, db2 = linear_cross_entropy(h, W2, b2, Yb, "mean", head_out)
        dx, dW1, db1, dgamma, dbeta = block_backward(dh, h, x, W1, gamma, hpre, mean, invstd, 1, bwd_out)
        dC = embedding_backward(dx.reshape(emb.shape), Xb, V)
        return loss, update((dC, dW1, db1, dgamma, dbeta, dW2, db2))

    return step, makemore_canon(state)


def makemore_vectorised(params, pool, lr):
    """bench/vectorised.py's step, with the guard's canon."""
    step, state = vectorised.make_makemore(params, cycle(pool), lr)
    return step, makemore_canon(state)


def makemore_step(E, params, pool, lr):
    """The step as the engine runs it best: the fused calls where they exist."""
    return (makemore_fused if FUSED else makemore_engine)(E, params, pool, lr)


def load_params(model, values):
    """model (a tinynet.nn layer) holding `values` ({state-dict key: array}), the rest of
    its state (BatchNorm's running statistics) as it was."""
    state = model.state_dict()
    state.update(values)
    model.load_state_dict(state)
    return model


def nn_step(E, model, batches, lr):
    """A training step of a tinynet.nn model as a user writes it: the model's forward,
    the engine's cross-entropy forward and backward, the model's backward, one
    optim.SGD step.  step() returns the loss (the guard's canon reads model.grads(),
    which the step itself has no use for)."""
    opt = optim.SGD(model, lr=lr)
    cross_entropy_forward, cross_entropy_backward = E.cross_entropy_forward, E.cross_entropy_backward

    def step():
        Xb, Yb = next(batches)
        logits = model(Xb)
        loss, probs = cross_entropy_forward(logits, Yb)
        model.backward(cross_entropy_backward(probs, Yb))
        opt.step()
        return loss

    return step


#: Where the makemore parameters live in makemore_model's state dict.
MM_NN_KEYS = {"C": "0.weight", "W1": "2.weight", "b1": "2.bias", "gamma": "3.weight", "beta": "3.bias",
              "W2": "5.weight", "b2": "5.bias"}


def makemore_model(params, engine="c"):
    """Seed 003's model as tinynet.nn layers holding `params`; Sequential runs its
    Linear -> BatchNorm1d -> Tanh as one fused call."""
    V, E = params["C"].shape
    H, D = params["W1"].shape
    kw = dict(engine=engine, dtype=params["C"].dtype, rng=0)
    model = nn.Sequential([nn.Embedding(V, E, **kw), nn.Flatten(engine=engine), nn.Linear(D, H, **kw),
                           nn.BatchNorm1d(H, correction=1, **kw), nn.Tanh(engine=engine), nn.Linear(H, V, **kw)])
    return load_params(model, {MM_NN_KEYS[k]: params[k] for k in MM_KEYS})


def makemore_nn(params, pool, lr):
    """The step written with tinynet.nn layers and optim.SGD (its parameters() are
    MM_KEYS in order).  Its BatchNorm1d also updates running statistics, which the
    functional steps do not keep: the canon leaves them out."""
    model = makemore_model(params)
    canon = makemore_canon(model.parameters())
    return nn_step(tinynet, model, cycle(pool), lr), lambda loss: canon((loss, model.grads()))


def makemore_torch(params, pool, lr):
    """PyTorch autograd: F.embedding, F.linear, BatchNorm written out with Bessel's
    variance (as the seed), torch.tanh, F.cross_entropy; backward; SGD under no_grad."""
    ps = [_t(params[k], grad=True) for k in MM_KEYS]
    C, W1, b1, gamma, beta, W2, b2 = ps
    tpool = [(torch.from_numpy(Xb), torch.from_numpy(Yb)) for Xb, Yb in pool]
    batches = cycle(tpool)

    def step():
        Xb, Yb = next(batches)
        emb = F.embedding(Xb, C)
        embcat = emb.view(emb.shape[0], -1)
        hprebn = F.linear(embcat, W1, b1)
        bnmean = hprebn.mean(0, keepdim=True)
        bnvar = hprebn.var(0, keepdim=True, unbiased=True)
        bnvar_inv = (bnvar + 1e-5) ** -0.5
        hpreact = gamma * (hprebn - bnmean) * bnvar_inv + beta
        h = torch.tanh(hpreact)
        logits = F.linear(h, W2, b2)
        return _torch_sgd(F.cross_entropy(logits, Yb), ps, lr)

    return step, lambda loss: _torch_canon(loss, MM_KEYS, ps)


def makemore_flops(n_hidden, batch=32):
    fan_in = MAKEMORE["n_embd"] * MAKEMORE["block"]
    # forward 2 GEMMs, backward dx and dW of both (dx of layer 1 feeds dC)
    return 3 * 2 * batch * n_hidden * (fan_in + MAKEMORE["vocab"])


def makemore_setup():
    rng = np.random.default_rng(3)
    X, Y, source = makemore_data(rng)
    pool = makemore_batches(X, Y, rng, MAKEMORE["batch"], MAKEMORE["pool"])
    return pool, source


def makemore_cases(have_torch, pool, hiddens=(64, 200), dtypes=(np.float32, np.float64)):
    lr = MAKEMORE["lr"]
    cases = []
    for n_hidden in hiddens:
        for dtype in dtypes:
            params = makemore_params(np.random.default_rng(n_hidden), n_hidden, dtype)
            engines = [Engine(TN, lambda p=params: makemore_step(tinynet, p, pool, lr))]
            if NN_OPTIM:
                engines.append(Engine(TN_NN, lambda p=params: makemore_nn(p, pool, lr)))
            if FUSED:
                engines.append(Engine(TN_LAYERS, lambda p=params: makemore_engine(tinynet, p, pool, lr)))
            engines += [
                Engine(REF, lambda p=params: makemore_step(ref, p, pool, lr)),
                Engine(SEED, lambda p=params: seedstyle.make_makemore(p, cycle(pool), lr)),
                Engine(VEC, lambda p=params: makemore_vectorised(p, pool, lr)),
            ]
            if have_torch:
                engines.append(Engine(TORCH, lambda p=params: makemore_torch(p, pool, lr)))

            def oracle(p=params):
                step, canon = makemore_engine(ref, p, pool, lr)
                return canon(step())

            name = np.dtype(dtype).name
            cases.append(Case(f"makemore-h{n_hidden}-{name}", "makemore",
                              f"makemore MLP step (hidden {n_hidden}, batch {MAKEMORE['batch']}, {name})",
                              dtype, makemore_flops(n_hidden), engines, oracle, scale_of=MM_SCALE_OF))
    return cases


# ------------------------------------------------------------------------- char-RNN

CHARRNN = dict(T=64, B=32, D=128, H=256)


def charrnn_state(dtype=np.float32):
    T, B, D, H = CHARRNN["T"], CHARRNN["B"], CHARRNN["D"], CHARRNN["H"]
    rng = np.random.default_rng(5)
    k = 1 / H**0.5  # PyTorch's nn.RNN init range
    s = {
        "x": rng.standard_normal((T, B, D)),
        "h0": 0.1 * rng.standard_normal((B, H)),
        "W_xh": rng.uniform(-k, k, (H, D)),
        "W_hh": rng.uniform(-k, k, (H, H)),
        "b_h": rng.uniform(-k, k, H),
        "R": rng.standard_normal((T, B, H)),
    }
    return {key: v.astype(dtype) for key, v in s.items()}


def charrnn_engine(E, s):
    """rnn_forward on float inputs + rnn_backward (full BPTT) with dhs = R."""
    x, h0, W_xh, W_hh, b_h, R = (s[k] for k in ("x", "h0", "W_xh", "W_hh", "b_h", "R"))
    rnn_forward, rnn_backward = E.rnn_forward, E.rnn_backward

    def step():
        hs = rnn_forward(x, h0, W_xh, W_hh, b_h)
        return hs, rnn_backward(R, x, h0, hs, W_xh, W_hh)

    def canon(res):
        hs, (dx, dh0, dW_xh, dW_hh, db_h) = res
        return {"hs": hs, "dx": dx, "dh0": dh0, "dW_xh": dW_xh, "dW_hh": dW_hh, "db_h": db_h}

    return step, canon


def charrnn_torch(s):
    """nn.RNN(D, H) with tinynet's weights (bias_hh = 0), forward + backward of
    sum(hs * R); gradients for x and h0 too, as tinynet computes them."""
    D, H = CHARRNN["D"], CHARRNN["H"]
    dt = _torch_dtype(s["x"].dtype)
    rnn = torch.nn.RNN(D, H).to(dt)
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.from_numpy(s["W_xh"]))
        rnn.weight_hh_l0.copy_(torch.from_numpy(s["W_hh"]))
        rnn.bias_ih_l0.copy_(torch.from_numpy(s["b_h"]))
        rnn.bias_hh_l0.zero_()
    x = _t(s["x"], grad=True)
    h0 = _t(s["h0"][None], grad=True)
    R = _t(s["R"])
    params = list(rnn.parameters())

    def step():
        for p in params:
            p.grad = None
        x.grad = None
        h0.grad = None
        hs, _ = rnn(x, h0)
        (hs * R).sum().backward()
        return hs

    def canon(hs):
        return {"hs": _np(hs), "dx": _np(x.grad), "dh0": _np(h0.grad[0]), "dW_xh": _np(rnn.weight_ih_l0.grad),
                "dW_hh": _np(rnn.weight_hh_l0.grad), "db_h": _np(rnn.bias_ih_l0.grad)}

    return step, canon


def charrnn_flops():
    T, B, D, H = CHARRNN["T"], CHARRNN["B"], CHARRNN["D"], CHARRNN["H"]
    # forward x@W_xh.T, h@W_hh.T; backward dW_xh, dx, dW_hh, dh_prev
    return 6 * T * B * H * (D + H)


def charrnn_cases(have_torch):
    s = charrnn_state(np.float32)
    engines = [Engine(TN, lambda: charrnn_engine(tinynet, s)), Engine(REF, lambda: charrnn_engine(ref, s))]
    if have_torch:
        engines.append(Engine(TORCH, lambda: charrnn_torch(s)))

    def oracle():
        step, canon = charrnn_engine(ref, s)
        return canon(step())

    c = CHARRNN
    return [Case("char-rnn", "char-rnn",
                 f"char-RNN forward + full BPTT (T={c['T']}, B={c['B']}, D={c['D']}, H={c['H']}, float32)",
                 np.float32, charrnn_flops(), engines, oracle)]


# --------------------------------------------------------------------- LSTM and GRU

GATED = dict(T=64, B=32, D=128, H=256)
GATES = {"lstm": 4, "gru": 3}


def gated_state(kind, dtype=np.float32):
    T, B, D, H = GATED["T"], GATED["B"], GATED["D"], GATED["H"]
    G = GATES[kind]
    rng = np.random.default_rng(6)
    k = 1 / H**0.5  # PyTorch's init range
    s = {
        "x": rng.standard_normal((T, B, D)),
        "h0": 0.1 * rng.standard_normal((B, H)),
        "c0": 0.1 * rng.standard_normal((B, H)),
        "W_ih": rng.uniform(-k, k, (G * H, D)),
        "W_hh": rng.uniform(-k, k, (G * H, H)),
        "b_ih": rng.uniform(-k, k, G * H),
        "b_hh": rng.uniform(-k, k, G * H),
        "R": rng.standard_normal((T, B, H)),
    }
    return {key: v.astype(dtype) for key, v in s.items()}


def gated_engine(E, kind, s):
    """lstm_forward + lstm_backward (or the GRU's) on float inputs with dhs = R: every
    gradient, x and the initial states' included."""
    x, h0, c0, W_ih, W_hh, b_ih, b_hh, R = (s[k] for k in ("x", "h0", "c0", "W_ih", "W_hh", "b_ih", "b_hh", "R"))
    if kind == "lstm":
        fwd, bwd = E.lstm_forward, E.lstm_backward

        def step():
            hs, cs, gates = fwd(x, h0, c0, W_ih, W_hh, b_ih, b_hh)
            return hs, cs[-1], bwd(R, x, h0, c0, hs, cs, gates, W_ih, W_hh)

        def canon(res):
            hs, c_n, (dx, dh0, dc0, dW_ih, dW_hh, db_ih, db_hh) = res
            return {"hs": hs, "c_n": c_n, "dx": dx, "dh0": dh0, "dc0": dc0, "dW_ih": dW_ih, "dW_hh": dW_hh,
                    "db_ih": db_ih, "db_hh": db_hh}
    else:
        fwd, bwd = E.gru_forward, E.gru_backward

        def step():
            hs, gates, gh_n = fwd(x, h0, W_ih, W_hh, b_ih, b_hh)
            return hs, bwd(R, x, h0, hs, gates, gh_n, W_ih, W_hh)

        def canon(res):
            hs, (dx, dh0, dW_ih, dW_hh, db_ih, db_hh) = res
            return {"hs": hs, "dx": dx, "dh0": dh0, "dW_ih": dW_ih, "dW_hh": dW_hh, "db_ih": db_ih, "db_hh": db_hh}

    return step, canon


def gated_torch(kind, s):
    """nn.LSTM / nn.GRU(D, H) with tinynet's weights, forward + backward of sum(hs * R);
    gradients for x and the initial states too, as tinynet computes them.  (For float32
    LSTMs PyTorch runs oneDNN's fused RNN kernels; its GRU runs step by step.)"""
    D, H = GATED["D"], GATED["H"]
    dt = _torch_dtype(s["x"].dtype)
    module = (torch.nn.LSTM if kind == "lstm" else torch.nn.GRU)(D, H).to(dt)
    with torch.no_grad():
        for p, k in zip(module.parameters(), ("W_ih", "W_hh", "b_ih", "b_hh")):
            p.copy_(torch.from_numpy(s[k]))
    x = _t(s["x"], grad=True)
    h0 = _t(s["h0"][None], grad=True)
    c0 = _t(s["c0"][None], grad=True)
    R = _t(s["R"])
    params = list(module.parameters())

    def step():
        for p in params + [x, h0, c0]:
            p.grad = None
        if kind == "lstm":
            hs, (_, c_n) = module(x, (h0, c0))
        else:
            hs, c_n = module(x, h0)
        (hs * R).sum().backward()
        return hs, c_n

    def canon(res):
        hs, c_n = res
        out = {"hs": _np(hs), "dx": _np(x.grad), "dh0": _np(h0.grad[0])}
        if kind == "lstm":
            out.update(c_n=_np(c_n[0]), dc0=_np(c0.grad[0]))
        out.update({f"d{k}": _np(p.grad) for p, k in zip(params, ("W_ih", "W_hh", "b_ih", "b_hh"))})
        return out

    return step, canon


def gated_flops(kind):
    T, B, D, H = GATED["T"], GATED["B"], GATED["D"], GATED["H"]
    # forward x@W_ih.T, h@W_hh.T; backward dW_ih, dx, dW_hh, dh_prev: each G H wide
    return 6 * T * B * GATES[kind] * H * (D + H)


def gated_cases(have_torch):
    cases = []
    for kind in GATES:
        s = gated_state(kind, np.float32)
        engines = [Engine(TN, lambda k=kind, s=s: gated_engine(tinynet, k, s)),
                   Engine(REF, lambda k=kind, s=s: gated_engine(ref, k, s))]
        if have_torch:
            engines.append(Engine(TORCH, lambda k=kind, s=s: gated_torch(k, s)))

        def oracle(k=kind, s=s):
            step, canon = gated_engine(ref, k, s)
            return canon(step())

        g = GATED
        cases.append(Case(kind, "gated",
                          f"{kind.upper()} forward + full BPTT (T={g['T']}, B={g['B']}, D={g['D']}, H={g['H']}, float32)",
                          np.float32, gated_flops(kind), engines, oracle))
    return cases


# ----------------------------------------------------------------------------- GEMM

GEMM_N = 1024


def gemm_state(dtype, n=GEMM_N):
    rng = np.random.default_rng(7)
    return {k: rng.standard_normal((n, n)).astype(dtype) for k in ("x", "W", "dy")}


def linear_fwd_engines(s, have_torch):
    x, W = s["x"], s["W"]

    def tn_build():
        return (lambda: tinynet.linear_forward(x, W)), (lambda y: {"y": y})

    def np_build():
        return (lambda: x @ W.T), (lambda y: {"y": y})

    engines = [Engine(TN, tn_build), Engine(RAW, np_build)]
    if have_torch:
        def torch_build():
            xt, Wt = _t(x), _t(W)
            return (lambda: F.linear(xt, Wt)), (lambda y: {"y": _np(y)})

        engines.append(Engine(TORCH, torch_build))
    return engines


def linear_bwd_engines(s, have_torch):
    x, W, dy = s["x"], s["W"], s["dy"]
    names = ("dx", "dW", "db")

    def tn_build():
        return (lambda: tinynet.linear_backward(dy, x, W)), (lambda r: dict(zip(names, r)))

    def np_build():
        return (lambda: (dy @ W, dy.T @ x, dy.sum(0))), (lambda r: dict(zip(names, r)))

    engines = [Engine(TN, tn_build), Engine(RAW, np_build)]
    if have_torch:
        def torch_build():
            xt, Wt, dyt = _t(x), _t(W), _t(dy)
            return (lambda: (dyt @ Wt, dyt.T @ xt, dyt.sum(0))), (lambda r: dict(zip(names, map(_np, r))))

        engines.append(Engine(TORCH, torch_build))
    return engines


def gemm_cases(have_torch, n=GEMM_N):
    cases = []
    for dtype in (np.float32, np.float64):
        s = gemm_state(dtype, n)
        name = np.dtype(dtype).name
        cases.append(Case(f"linear-fwd-{name}", "linear", f"linear_forward {n}x{n}x{n} ({name})", dtype,
                          2 * n**3, linear_fwd_engines(s, have_torch),
                          lambda s=s: {"y": ref.linear_forward(s["x"], s["W"])}))
        cases.append(Case(f"linear-bwd-{name}", "linear", f"linear_backward {n}x{n}x{n} ({name})", dtype,
                          4 * n**3, linear_bwd_engines(s, have_torch),
                          lambda s=s: dict(zip(("dx", "dW", "db"), ref.linear_backward(s["dy"], s["x"], s["W"])))))
    return cases


# -------------------------------------------------------------------- the guard


#: Elements of an array compared under `masked_by` count only where the reference
#: gradient named there is at least this fraction of that gradient's largest magnitude.
MASK_REL = 1e-3


def compare(got, want, dtype, scale_of=None, masked_by=None):
    """(ok, worst relative error, where): every array of `want` against `got`, as
    max|got - want| / max|want| (the array's scale), within 1e-10 (float64) / 1e-4
    (float32).  scale_of maps an array whose exact value cancels to ~0 to another
    array whose scale it is measured on (the larger of both is used).  masked_by maps
    a parameter updated by Adam to its gradient's key: only its elements whose
    reference gradient is at least MASK_REL of that gradient's scale are compared
    (Adam's first step moves a parameter by about lr * g / (|g| + eps), which turns a
    gradient within rounding of zero into any change in (-lr, lr))."""
    scale_of, masked_by = scale_of or {}, masked_by or {}
    tol = 1e-10 if np.dtype(dtype) == np.float64 else 1e-4
    worst, where = 0.0, ""
    for k, w in want.items():
        if k not in got:
            return False, float("inf"), f"{k} missing"
        g = np.asarray(got[k], dtype=np.float64)
        w = np.asarray(w, dtype=np.float64)
        if g.shape != w.shape:
            return False, float("inf"), f"{k}: shape {g.shape} != {w.shape}"
        scale = float(np.max(np.abs(w))) if w.size else 0.0
        if k in scale_of:
            scale = max(scale, float(np.max(np.abs(want[scale_of[k]]))))
        if k in masked_by:
            dw = np.abs(np.asarray(want[masked_by[k]], dtype=np.float64))
            keep = dw >= MASK_REL * dw.max() if dw.size else dw.astype(bool)
            g, w = g[keep], w[keep]
        err = float(np.max(np.abs(g - w))) if w.size else 0.0
        rel = err / scale if scale > 0 else err
        if not np.isfinite(rel):
            rel = float("inf")
        if rel > worst or where == "":
            worst, where = rel, k
    return worst <= tol, worst, where


def guard(case, skipped=None):
    """Run one step of every engine from the initial state and compare with the NumPy
    engine.  Returns {engine name: (ok, rel err, worst array)}; an engine whose build
    raises Skipped is left out, its reason put in `skipped` ({engine name: reason})."""
    want = case.oracle()
    out = {}
    for e in case.engines:
        try:
            step, canon = e.build()
            got = canon(step())
        except Skipped as exc:
            if skipped is not None:
                skipped[e.name] = str(exc)
            continue
        except Exception as exc:  # a crash is a failed guard, reported, not fatal
            out[e.name] = (False, float("inf"), f"{type(exc).__name__}: {exc}")
            continue
        out[e.name] = compare(got, want, case.dtype, case.scale_of, getattr(case, "masked_by", None))
    return out


# --------------------------------------------------------------------------- memory


def memory_run(build, steps=200, mark=10):
    """tracemalloc over a training run: (state bytes, current after step `mark`,
    current after the last step, peak), all relative to the empty start; NumPy's data
    buffers and tinynet's PyMem_RawMalloc workspace are both traced."""
    import gc
    import tracemalloc

    gc.collect()
    tracemalloc.start()
    try:
        step, _ = build()
        step()  # first call: lazy imports / caches are not growth
        gc.collect()
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        cur_mark = None
        for i in range(2, steps + 1):
            step()
            if i == mark:
                cur_mark = tracemalloc.get_traced_memory()[0]
        cur_end, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return {"state": base, "after_mark": cur_mark, "after_end": cur_end, "peak": peak,
            "growth": cur_end - cur_mark, "steps": steps, "mark": mark}
