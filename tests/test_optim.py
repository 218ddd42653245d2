"""The optimizers and gradient clipping, in place: sgd_step_, adagrad_step_, adam_step_
(AdamW) and clip_; torch.optim's algorithms over lists of tensors, sgd_foreach_,
adam_foreach_, adagrad_foreach_; and the optimizer objects of tinynet.optim.

* the C engine against the NumPy engine (each updating its own copy of the state): the
  shapes of a scalar, a vector, a matrix and an empty array, both dtypes, default and
  other hyperparameters; the gradient is never modified, and the functions return None;
* clip_ keeps NaN; sgd_step_ reads a gradient that overlaps its parameter before writing;
* the *_foreach_ functions, C against NumPy, over several steps of tensors of mixed
  shapes (0-d and empty ones) and dtypes, some without a gradient (skipped, their step
  counts too), every option (momentum from the first step, dampening, Nesterov, weight
  decay, decoupled or not, lr_decay); the first steps by hand; sgd_foreach_ and
  adam_foreach_ give sgd_step_'s and adam_step_'s bits on each tensor;
* tinynet.optim (SGD, Adam, AdamW, Adagrad) against torch.optim over 100 steps in float64
  within 1e-12, the learning rate changed midway, over a list of arrays and over a
  model; SGD and AdamW give the step functions' bits; state dicts in torch's layout,
  round trips (ours -> ours bit for bit; torch's loaded into ours continues as torch);
  bad hyperparameters; float32 and float64 parameters in one optimizer.  The torch
  comparisons skip without torch.

No finite differences: the functions update parameters in place and have no gradient
of their own.  The matrices every function goes through (bad inputs, properties,
threads, leaks, recorded bits) are generated from its spec in tests/specs.py.
"""
import math
import re

import numpy as np
import pytest

import tinynet
import tinynet as tn
import tinynet.reference as ref
from tinynet import nn, optim

from conftest import DTYPES, assert_close
from helpers import randn


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(), (1,), (7,), (5, 3), (0,)])
def test_optimizers(shape, dtype):
    rng = np.random.default_rng(len(shape))
    p0, g = randn(rng, shape, dtype), randn(rng, shape, dtype, 3.0)
    m0, v0 = randn(rng, shape, dtype), np.abs(randn(rng, shape, dtype))

    def run(name, *state, **kwargs):
        results = []
        for engine in (tn, ref):
            st = [np.array(s, copy=True) for s in state]
            g_before = g.copy()
            out = getattr(engine, name)(st[0], g, *st[1:], **kwargs)
            assert out is None
            assert np.array_equal(g, g_before)
            results.append(st)
        assert_close(results[0], results[1], name)
        return results[0]

    p1 = run("sgd_step_", p0, lr=0.1)[0]
    assert_close(p1, (p0 - dtype(0.1) * g).astype(dtype))
    run("adagrad_step_", p0, np.abs(v0), lr=0.1)
    run("adagrad_step_", p0, np.abs(v0), lr=0.1, eps=1e-3)
    run("adam_step_", p0, m0, v0, t=1)
    run("adam_step_", p0, m0, v0, t=7, lr=0.01, beta1=0.8, beta2=0.99, eps=1e-6, weight_decay=0.1)
    for engine in (tn, ref):
        c = np.array(g, copy=True)
        engine.clip_(c, -1, 1.5)
        assert_close(c, np.clip(g, -1, 1.5).astype(dtype))


def test_clip_keeps_nan():
    for engine in (tn, ref):
        g = np.array([np.nan, -np.inf, 7.0])
        engine.clip_(g, -5, 5)
        assert np.isnan(g[0]) and g[1] == -5 and g[2] == 5


def test_sgd_grad_overlapping_param_is_read_before_writing():
    for engine in (tn, ref):
        buf = np.arange(6.0)
        engine.sgd_step_(buf[1:], buf[:-1], 1.0)  # grad overlaps param, shifted by one
        assert_close(buf, np.array([0.0, 1 - 0, 2 - 1, 3 - 2, 4 - 3, 5 - 4]))


# ------------------------------------------------- over lists of tensors: *_foreach_

# (function, its state lists, hyperparameters): torch.optim's algorithms, and their options
FOREACH = [
    ("sgd_foreach_", [], dict(lr=0.1)),
    ("sgd_foreach_", ["momentum_buffers"], dict(lr=0.1, momentum=0.9)),
    ("sgd_foreach_", ["momentum_buffers"], dict(lr=0.1, momentum=0.9, dampening=0.3, weight_decay=0.01)),
    ("sgd_foreach_", ["momentum_buffers"], dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.1)),
    ("sgd_foreach_", [], dict(lr=0.1, weight_decay=0.1)),
    ("adam_foreach_", ["ms", "vs"], dict()),
    ("adam_foreach_", ["ms", "vs"], dict(lr=0.01, weight_decay=0.1)),
    ("adam_foreach_", ["ms", "vs"], dict(lr=0.01, weight_decay=0.1, decoupled=False)),
    ("adam_foreach_", ["ms", "vs"], dict(lr=0.01, beta1=0.0, beta2=0.5, eps=1e-3, decoupled=False)),
    ("adagrad_foreach_", ["sums"], dict()),
    ("adagrad_foreach_", ["sums"], dict(lr=0.1, lr_decay=0.05, weight_decay=0.1, eps=1e-6)),
]
SHAPES = [(), (7,), (5, 3), (0,), (2, 3, 4), (1,)]
MIXES = {"float64": [np.float64], "float32": [np.float32], "mixed": [np.float64, np.float32]}


def foreach_state(rng, name, states, dtypes, shapes=SHAPES):
    """Parameters of several shapes (each of dtypes[i % len]), zero states (Adagrad's sums
    and Adam's second moments >= 0 as they would be), steps from 0."""
    params = [np.array(randn(rng, s, dtypes[i % len(dtypes)])) for i, s in enumerate(shapes)]  # (0-d: arrays)
    st = {k: [np.zeros_like(p) for p in params] for k in states}
    return params, st, np.zeros(len(params), np.int64)


def foreach_call(engine, name, params, grads, st, steps, hyper):
    """One call: the state lists by keyword (momentum_buffers and steps None without them)."""
    fn = getattr(engine, name)
    if name == "sgd_foreach_":
        with_state = "momentum_buffers" in st
        return fn(params, grads, st["momentum_buffers"] if with_state else None, steps if with_state else None,
                  **hyper)
    return fn(params, grads, *st.values(), steps, **hyper)


def foreach_both(name, params, grads, st, steps, hyper):
    """Both engines step their own copies; the results agree (each tensor within its dtype's
    tolerance) and the gradients are untouched.  Returns the C engine's arrays."""
    out = {}
    for key, engine in (("c", tn), ("numpy", ref)):
        mine = ([p.copy() for p in params], {k: [a.copy() for a in v] for k, v in st.items()}, steps.copy())
        before = [None if g is None else np.copy(g) for g in grads]
        assert foreach_call(engine, name, mine[0], grads, mine[1], mine[2], hyper) is None
        for g, b in zip(grads, before):
            assert g is None or np.array_equal(g, b), f"{name} ({key}) modified a gradient"
        out[key] = mine
    assert_close(out["c"], out["numpy"], name)
    return out["c"]


@pytest.mark.parametrize("mix", MIXES)
@pytest.mark.parametrize("name,states,hyper", FOREACH, ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(FOREACH)])
def test_foreach(name, states, hyper, mix):
    """Six steps of several tensors of mixed shapes (a scalar, empty ones) and dtypes; from
    each tensor's first step (momentum buffers start as the gradient); now and then a
    tensor without a gradient, which stays as it is, its step count too."""
    rng = np.random.default_rng(len(states) * 10 + len(hyper))
    params, st, steps = foreach_state(rng, name, states, MIXES[mix])
    for step in range(6):
        grads = [np.array(randn(rng, p.shape, p.dtype, 2.0)) for p in params]
        skipped = step % len(params) if step % 2 else None
        if skipped is not None:
            grads[skipped] = None
        new_params, new_st, new_steps = foreach_both(name, params, grads, st, steps, hyper)
        if skipped is not None:
            assert np.array_equal(new_params[skipped], params[skipped])
            assert new_steps[skipped] == steps[skipped]
            for k in st:
                assert np.array_equal(new_st[k][skipped], st[k][skipped])
        counted = name != "sgd_foreach_" or bool(states)  # (SGD counts steps only with momentum)
        assert np.array_equal(new_steps, steps + [int(counted and g is not None) for g in grads])
        assert all(p.dtype == q.dtype for p, q in zip(params, new_params))
        params, st, steps = new_params, new_st, new_steps


@pytest.mark.parametrize("dtype", DTYPES)
def test_foreach_first_steps(dtype):
    """The first steps by hand: SGD's momentum buffer starts as the gradient (weight decay
    added) and then runs on; nesterov steps along g + momentum * buf; Adam's first step
    is lr * sign(grad) (eps aside); Adagrad's lr * g / |g|; decoupled decay shrinks
    the parameter first."""
    d = dtype
    for engine in (tn, ref):
        p, g, buf, steps = np.array([1.0, -2.0], d), np.array([0.5, 4.0], d), np.zeros(2, d), np.zeros(1, np.int64)
        engine.sgd_foreach_([p], [g], [buf], steps, lr=0.1, momentum=0.9, weight_decay=0.1)
        g0 = np.array([0.5, 4.0], d) + d(0.1) * np.array([1.0, -2.0], d)
        assert_close(buf, g0, "first buffer")
        assert_close(p, np.array([1.0, -2.0], d) - d(0.1) * g0, "first step")
        assert steps[0] == 1
        q, nb, s2 = np.array([1.0], d), np.zeros(1, d), np.zeros(1, np.int64)
        for _ in range(2):
            engine.sgd_foreach_([q], [np.array([1.0], d)], [nb], s2, lr=0.5, momentum=0.5, nesterov=True)
        # buf: 1, then 0.5 + 1 = 1.5; steps along g + 0.5 buf: 1.5, then 1.75
        assert_close(nb, np.array([1.5], d), "nesterov buffer")
        assert_close(q, np.array([1.0 - 0.5 * 1.5 - 0.5 * 1.75], d), "nesterov")
        for decoupled in (True, False):
            w, m, v, t = np.array([2.0, -3.0], d), np.zeros(2, d), np.zeros(2, d), np.zeros(1, np.int64)
            engine.adam_foreach_([w], [np.array([0.25, -8.0], d)], [m], [v], t, lr=0.1, eps=0.0,
                                 weight_decay=0.5 if decoupled else 0.0, decoupled=decoupled)
            shrink = 1 - 0.1 * 0.5 if decoupled else 1.0
            assert_close(w, np.array([2.0 * shrink - 0.1, -3.0 * shrink + 0.1], d), f"adam decoupled={decoupled}")
        a, s, t = np.array([1.0, 1.0], d), np.full(2, 0.0, d), np.zeros(1, np.int64)
        engine.adagrad_foreach_([a], [np.array([3.0, -0.5], d)], [s], t, lr=0.1, eps=0.0)
        assert_close(a, np.array([0.9, 1.1], d), "adagrad")
        assert_close(s, np.array([9.0, 0.25], d), "adagrad sums")


@pytest.mark.parametrize("engine", [tn, ref], ids=["c", "numpy"])
@pytest.mark.parametrize("mix", MIXES)
def test_foreach_gives_the_step_functions_bits(engine, mix):
    """sgd_foreach_ without momentum and weight decay is sgd_step_ on each tensor, and
    adam_foreach_ (decoupled) is adam_step_ with t = steps[i]: the same bits, in each
    tensor's own dtype."""
    rng = np.random.default_rng(3)
    params, st, steps = foreach_state(rng, "adam_foreach_", ["ms", "vs"], MIXES[mix])
    alone = [p.copy() for p in params]
    ms, vs = [np.zeros_like(p) for p in params], [np.zeros_like(p) for p in params]
    sgd_params, sgd_alone = [p.copy() for p in params], [p.copy() for p in params]
    steps[1:3] = [4, 9]  # tensors at different steps
    t = steps.copy()
    for _ in range(3):
        grads = [np.array(randn(rng, p.shape, p.dtype)) for p in params]
        engine.adam_foreach_(params, grads, st["ms"], st["vs"], steps, lr=0.02, weight_decay=0.1)
        engine.sgd_foreach_(sgd_params, grads, None, None, lr=0.3)
        t += 1
        for i, g in enumerate(grads):
            engine.adam_step_(alone[i], g, ms[i], vs[i], int(t[i]), lr=0.02, weight_decay=0.1)
            engine.sgd_step_(sgd_alone[i], g, 0.3)
    for i in range(len(params)):
        for got, want in [(params[i], alone[i]), (st["ms"][i], ms[i]), (st["vs"][i], vs[i]),
                          (sgd_params[i], sgd_alone[i])]:
            assert got.dtype == want.dtype and np.array_equal(got, want), f"tensor {i}"
    assert np.array_equal(steps, t)


def test_foreach_of_no_tensors():
    for engine in (tn, ref):
        for name, states, hyper in FOREACH:
            st = {k: [] for k in states}
            assert foreach_call(engine, name, [], [], st, np.zeros(0, np.int64), hyper) is None


def test_foreach_reads_a_gradient_that_is_its_parameter():
    """grads[i] may be params[i] itself (read before written), and a state list may be a
    tuple; the engines agree."""
    for name, states, hyper in FOREACH:
        rng = np.random.default_rng(5)
        params, st, steps = foreach_state(rng, name, states, [np.float64])
        st = {k: tuple(v) for k, v in st.items()}
        foreach_both(name, params, [p for p in params], st, steps, hyper)


# ------------------------------------------------------ tinynet.optim: the optimizer objects

# (ours, torch's name, keyword arguments): every option of each, PyTorch's arithmetic
OPTIMIZERS = [
    ("SGD", "SGD", dict(lr=0.1)),
    ("SGD", "SGD", dict(lr=0.05, momentum=0.9, dampening=0.1)),
    ("SGD", "SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("SGD", "SGD", dict(lr=0.1, weight_decay=0.1)),
    ("Adam", "Adam", dict(lr=0.01)),
    ("Adam", "Adam", dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    ("AdamW", "AdamW", dict(lr=0.01, weight_decay=0.05)),
    ("AdamW", "AdamW", dict()),
    ("Adagrad", "Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.1)),
    ("Adagrad", "Adagrad", dict(lr=0.1, eps=1e-6)),
]
OPT_IDS = [f"{ours}-{i}" for i, (ours, _, _) in enumerate(OPTIMIZERS)]
TORCH_TOL = 1e-12


def arrays(rng, dtypes=(np.float64,)):
    """Parameters of several shapes (a scalar among them) and a quadratic bowl's target."""
    shapes = [(4, 3), (3,), (), (2, 2, 2)]
    params = [np.array(randn(rng, s, dtypes[i % len(dtypes)])) for i, s in enumerate(shapes)]
    return params, [np.array(randn(rng, p.shape, p.dtype)) for p in params]


def bowl_grads(params, targets):
    """The gradients of sum((p - target)**2 / 2 - cos(3 p) / 30): each depends on its
    parameter, the bowl not quite quadratic."""
    return [np.asarray((p - t) + 0.1 * np.sin(3 * p)) for p, t in zip(params, targets)]


@pytest.mark.parametrize("ours,theirs,kw", OPTIMIZERS, ids=OPT_IDS)
def test_over_a_list_of_arrays_matches_torch(ours, theirs, kw):
    """100 steps on a bowl, float64, the learning rate halved midway: torch.optim's
    parameters, state and all, within 1e-12."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    params, targets = arrays(rng)
    tparams = [torch.tensor(p.copy(), requires_grad=True) for p in params]
    opt, topt = getattr(optim, ours)(params, **kw), getattr(torch.optim, theirs)(tparams, **kw)
    for step in range(100):
        if step == 50:
            opt.lr = opt.lr / 2
            for group in topt.param_groups:
                group["lr"] = group["lr"] / 2
        grads = bowl_grads(params, targets)
        for tp, t in zip(tparams, targets):
            tp.grad = torch.from_numpy(bowl_grads([tp.detach().numpy()], [t])[0])
        opt.step(grads)
        topt.step()
    assert_close(params, [tp.detach().numpy() for tp in tparams], f"{ours}", rtol=TORCH_TOL)
    for i, state in topt.state_dict()["state"].items():
        ours_state = opt.state_dict()["state"][i]
        for key, value in state.items():
            want = float(value) if key == "step" else value.numpy()
            assert_close(np.asarray(ours_state[key], dtype=np.float64), np.asarray(want), f"state {key}",
                         rtol=TORCH_TOL)


def torch_mlp(torch, model):
    """torch.nn's twin of mlp() with its weights."""
    twin = torch.nn.Sequential(torch.nn.Linear(5, 16), torch.nn.Tanh(), torch.nn.Linear(16, 16),
                               torch.nn.BatchNorm1d(16), torch.nn.Tanh(), torch.nn.Linear(16, 4)).double()
    twin.load_state_dict({k: torch.from_numpy(v) for k, v in model.state_dict().items()})
    return twin


def mlp(engine="c", dtype=np.float64):
    return nn.Sequential([nn.Linear(5, 16, rng=1, engine=engine, dtype=dtype), nn.Tanh(engine=engine),
                          nn.Linear(16, 16, rng=2, engine=engine, dtype=dtype),
                          nn.BatchNorm1d(16, engine=engine, dtype=dtype), nn.Tanh(engine=engine),
                          nn.Linear(16, 4, rng=3, engine=engine, dtype=dtype)])


@pytest.mark.parametrize("ours,theirs,kw", OPTIMIZERS, ids=OPT_IDS)
def test_over_a_model_matches_torch(ours, theirs, kw):
    """100 steps of training a small MLP (batch norm fused in the C engine), the learning
    rate halved midway: tinynet.optim reads the model's gradients, and torch.optim gets
    the same ones (the model's own gradients agree with autograd to rounding, which 100
    steps of training would amplify: tests/test_nn.py and test_wavenet.py compare them),
    and the weights stay within 1e-12."""
    torch = pytest.importorskip("torch")
    model = mlp()
    twin = torch_mlp(torch, model)
    opt, topt = getattr(optim, ours)(model, **kw), getattr(torch.optim, theirs)(twin.parameters(), **kw)
    tparams = dict(twin.named_parameters())
    rng = np.random.default_rng(8)
    for step in range(100):
        if step == 50:
            opt.param_groups[0]["lr"] /= 2
            topt.param_groups[0]["lr"] /= 2
        X, Y = rng.standard_normal((32, 5)), rng.integers(0, 4, 32)
        loss, probs = tn.cross_entropy_forward(model(X), Y)
        model.backward(tn.cross_entropy_backward(probs, Y))
        for name, g in model.named_grads():
            tparams[name].grad = torch.from_numpy(g.copy())
        opt.step()
        topt.step()
    want = {k: v.detach().numpy() for k, v in twin.state_dict().items() if k in dict(model.named_parameters())}
    assert_close(dict(model.named_parameters()), want, ours, rtol=TORCH_TOL)


@pytest.mark.parametrize("engine", ["c", "numpy"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_sgd_and_adamw_give_the_step_functions_bits(engine, dtype):
    """SGD without momentum and weight decay is sgd_step_ on every parameter, AdamW is
    adam_step_ (t counting from 1): the same bits, over a model and over a list of arrays,
    in both engines."""
    E = tinynet.engine(engine)
    rng = np.random.default_rng(9)
    X, Y = randn(rng, (16, 5), dtype), rng.integers(0, 4, 16)
    for kind, lr in (("SGD", 0.1), ("AdamW", 0.01)):
        model, alone = mlp(engine, dtype), mlp(engine, dtype)
        opt = getattr(optim, kind)(model, lr=lr)
        params, _ = arrays(rng, (dtype,))
        by_hand = [p.copy() for p in params]
        opt_list = getattr(optim, kind)(params, lr=lr, engine=engine)
        moments = [(np.zeros_like(p), np.zeros_like(p)) for p in model.parameters() + params]
        for t in range(1, 4):
            for m in (model, alone):
                loss, probs = E.cross_entropy_forward(m(X), Y)
                m.backward(E.cross_entropy_backward(probs, Y))
            grads = [np.array(randn(rng, p.shape, dtype)) for p in params]
            opt.step()
            opt_list.step(grads)
            pairs = list(zip(alone.parameters() + by_hand, alone.grads() + grads, moments))
            for p, g, (m, v) in pairs:
                if kind == "SGD":
                    E.sgd_step_(p, g, lr)
                else:
                    E.adam_step_(p, g, m, v, t, lr=lr, weight_decay=1e-2)
        for got, want in zip(model.parameters() + params, alone.parameters() + by_hand):
            assert got.dtype == want.dtype and np.array_equal(got, want), kind


def stepped(cls, kw, params, targets, steps, opt=None):
    """`steps` steps on the bowl; returns the optimizer."""
    opt = opt or getattr(optim, cls)(params, **kw)
    for _ in range(steps):
        opt.step(bowl_grads(params, targets))
    return opt


@pytest.mark.parametrize("ours,theirs,kw", OPTIMIZERS, ids=OPT_IDS)
def test_state_dict_round_trip(ours, theirs, kw):
    """torch.optim's layout; copies; loaded into a new optimizer over copies of the
    parameters, it continues bit for bit as the original does."""
    rng = np.random.default_rng(10)
    params, targets = arrays(rng)
    opt = stepped(ours, kw, params, targets, 10)
    sd = opt.state_dict()
    assert sorted(sd) == ["param_groups", "state"] and len(sd["param_groups"]) == 1
    assert sd["param_groups"][0]["params"] == list(range(len(params)))
    names = {"SGD": {"momentum_buffer"} if kw.get("momentum") else set(), "Adagrad": {"sum", "step"}}
    want = names.get(ours, {"exp_avg", "exp_avg_sq", "step"})
    assert all(set(entry) == want for entry in sd["state"].values()), sd["state"]
    assert set(sd["state"]) == (set(range(len(params))) if want else set())
    for entry in sd["state"].values():  # copies: changing them changes nothing
        for v in entry.values():
            if isinstance(v, np.ndarray):
                v[...] = np.nan
    copies = [p.copy() for p in params]
    other = getattr(optim, ours)(copies, lr=0.5) if ours != "Adagrad" else optim.Adagrad(copies, lr=0.5)
    other.load_state_dict(opt.state_dict())
    assert other.lr == opt.lr
    stepped(ours, kw, params, targets, 10, opt)
    stepped(ours, kw, copies, targets, 10, other)
    for a, b in zip(params, copies):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("ours,theirs,kw", OPTIMIZERS, ids=OPT_IDS)
def test_torch_state_dict_continues(ours, theirs, kw):
    """torch.optim's state_dict (tensors) loaded into ours over the same parameters: the next
    20 steps are torch's, within 1e-12; our state_dict's keys are torch's."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(11)
    params, targets = arrays(rng)
    tparams = [torch.tensor(p, requires_grad=True) for p in params]
    topt = getattr(torch.optim, theirs)(tparams, **kw)

    def torch_steps(n):
        for _ in range(n):
            for tp, g in zip(tparams, bowl_grads([tp.detach().numpy() for tp in tparams], targets)):
                tp.grad = torch.from_numpy(g)
            topt.step()

    torch_steps(10)
    mine = [tp.detach().numpy().copy() for tp in tparams]
    opt = getattr(optim, ours)(mine, **kw)
    opt.load_state_dict(topt.state_dict())
    ours_sd, torch_sd = opt.state_dict(), topt.state_dict()
    assert {i: set(e) for i, e in ours_sd["state"].items()} == {i: set(e) for i, e in torch_sd["state"].items()}
    assert set(ours_sd["param_groups"][0]) <= set(torch_sd["param_groups"][0])
    stepped(ours, kw, mine, targets, 20, opt)
    torch_steps(20)
    assert_close(mine, [tp.detach().numpy() for tp in tparams], ours, rtol=TORCH_TOL)


BAD_HYPERPARAMETERS = [
    (optim.SGD, dict(lr=-0.1), "lr"), (optim.SGD, dict(lr=0.1, momentum=-0.5), "momentum"),
    (optim.SGD, dict(lr=0.1, dampening=math.nan), "dampening"), (optim.SGD, dict(lr=0.1, weight_decay=-1.0),
                                                                 "weight_decay"),
    (optim.SGD, dict(lr=0.1, nesterov=True), "nesterov"),
    (optim.SGD, dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "nesterov"),
    (optim.Adam, dict(lr=math.inf), "lr"), (optim.Adam, dict(betas=(1.0, 0.999)), "betas[0]"),
    (optim.Adam, dict(betas=(0.9, -0.1)), "betas[1]"), (optim.Adam, dict(eps=-1e-8), "eps"),
    (optim.AdamW, dict(weight_decay=-0.01), "weight_decay"), (optim.AdamW, dict(betas=(0.9, 1.0)), "betas[1]"),
    (optim.Adagrad, dict(lr_decay=-1.0), "lr_decay"), (optim.Adagrad, dict(eps=math.nan), "eps"),
    (optim.Adagrad, dict(initial_accumulator_value=-0.1), "initial_accumulator_value"),
]


@pytest.mark.parametrize("cls,kw,name", BAD_HYPERPARAMETERS,
                         ids=[f"{c.__name__}-{'-'.join(k)}" for c, k, _ in BAD_HYPERPARAMETERS])
def test_bad_hyperparameters_raise_naming_them(cls, kw, name):
    """A ValueError naming the argument, when the optimizer is made (as torch.optim, which
    refuses them too -- except NaN and infinities, which it takes and tinynet's one rule
    for hyperparameters refuses)."""
    with pytest.raises(ValueError, match=rf"^{cls.__name__}: {re.escape(name)}(?!\w)"):
        cls([np.zeros(3)], **kw)
    if any(isinstance(v, float) and not math.isfinite(v) for v in kw.values()):
        return
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError):
        getattr(torch.optim, cls.__name__)([torch.zeros(3, requires_grad=True)], **dict(dict(lr=0.1), **kw))


def test_bad_learning_rate_later_and_bad_calls():
    opt = optim.Adam([np.zeros(3)])
    for bad, exc in ((-1.0, ValueError), (math.nan, ValueError), ("fast", TypeError), (None, TypeError)):
        with pytest.raises(exc, match=r"^Adam: lr "):
            opt.lr = bad
    assert opt.lr == 1e-3
    with pytest.raises(TypeError, match=r"step\(grads\)"):
        opt.step()
    with pytest.raises(ValueError, match="got 2 gradients for 1 parameters"):
        opt.step([np.zeros(3), np.zeros(3)])
    with pytest.raises(ValueError, match="empty list of parameters"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="parameter 1 must be a float32 or float64 ndarray"):
        optim.SGD([np.zeros(2), [1.0, 2.0]], lr=0.1)
    p = np.zeros(3)
    with pytest.raises(ValueError, match="share memory"):
        optim.SGD([p, p[1:]], lr=0.1)


@pytest.mark.parametrize("engine", ["c", "numpy"])
def test_float32_and_float64_parameters_together(engine):
    """One optimizer over float32 and float64 arrays: each stepped in its own dtype, exactly
    as the step function on it alone (AdamW: adam_step_; SGD: sgd_step_), with a parameter
    that has no gradient left alone."""
    E = tinynet.engine(engine)
    rng = np.random.default_rng(12)
    params, _ = arrays(rng, (np.float32, np.float64))
    for kind in ("AdamW", "SGD"):
        mine, alone = [p.copy() for p in params], [p.copy() for p in params]
        opt = getattr(optim, kind)(mine, lr=0.01, engine=engine)
        moments = [(np.zeros_like(p), np.zeros_like(p)) for p in params]
        for t in range(1, 4):
            grads = [np.array(randn(rng, p.shape, p.dtype)) for p in params]
            grads[2] = None
            opt.step(grads)
            for p, g, (m, v) in zip(alone, grads, moments):
                if g is not None and kind == "SGD":
                    E.sgd_step_(p, g, 0.01)
                elif g is not None:
                    E.adam_step_(p, g, m, v, t, lr=0.01, weight_decay=1e-2)
        for a, b, p in zip(mine, alone, params):
            assert a.dtype == p.dtype and np.array_equal(a, b), kind
        assert np.array_equal(mine[2], params[2])
