"""tinynet.nn layers and tinynet.gradcheck.

* every layer's forward/backward is exactly the engine function calls it wraps;
* the C and NumPy engines agree through the layers, in float64 and float32; tinynet.engine()
  picks one by name, and both have every function;
* gradcheck passes on a small network of each layer type (< 1e-6 in float64) and
  catches wrong gradients;
* BatchNorm1d's running statistics and eval mode match torch.nn.BatchNorm1d, on (N, C)
  and on (N, C, L) (weights exchanged by state dict); channels_last=True is the engine
  functions on (..., C);
* FlattenConsecutive: shapes, views, backward, errors;
* Sequential's fused Linear -> BatchNorm1d -> Tanh gives the bits of the layers run one
  by one (both engines, both dtypes, 2-D and channels-last 3-D, with and without bias;
  eval mode not fused); zero_grad then an optimizer step changes nothing;
* initialisation is reproducible by seed; errors name the layer and the shapes.
"""
import copy
import math
import re

import numpy as np
import pytest

import tinynet
import tinynet as tn
import tinynet.reference as ref
from tinynet import gradcheck, nn

from conftest import DTYPES, ENGINES, RTOL, assert_close

ENGINE_NAMES = list(ENGINES)
GRADCHECK_TOL = 1e-6


def randn(rng, *shape, dtype=np.float64):
    return rng.standard_normal(shape).astype(dtype)


def loss_and_dout(out, targets=None, R=None):
    """Cross-entropy against targets, or the linear functional sum(out * R)."""
    if targets is not None:
        loss, probs = ref.cross_entropy_forward(out, targets)
        return loss, ref.cross_entropy_backward(probs, targets)
    return float(np.sum(out * R)), R.astype(out.dtype)


def check_model(model, x, targets=None, include_input=True, seed=0):
    """gradcheck of every parameter of `model` (and of its float input) on one batch."""
    names = [n for n, _ in model.named_parameters()]
    saved = [p.copy() for p in model.parameters()]
    R = None
    if targets is None:
        R = np.random.default_rng(seed).standard_normal(np.shape(model(x)))

    def f(**kw):
        for n, p in model.named_parameters():
            p[...] = kw[n]
        out = model(kw["input"] if include_input else x)
        loss, dout = loss_and_dout(out, targets, R)
        dx = model.backward(dout)
        grads = dict(model.named_grads())
        if include_input:
            grads["input"] = dx
        return loss, grads

    inputs = {n: p.copy() for n, p in model.named_parameters()}
    if include_input:
        inputs["input"] = x
    errors = gradcheck(f, inputs)
    for p, s in zip(model.parameters(), saved):
        p[...] = s
    assert set(errors) == set(names) | ({"input"} if include_input else set())
    return errors


def assert_gradcheck(errors, tol=GRADCHECK_TOL):
    bad = {k: v for k, v in errors.items() if not v < tol}
    assert not bad, f"gradcheck errors above {tol}: {bad} (all: {errors})"


# ------------------------------------------------------- layers == the functions they wrap


@pytest.mark.parametrize("engine", ENGINE_NAMES)
@pytest.mark.parametrize("dtype", DTYPES)
class TestLayersAreTheFunctions:
    """Same engine, same inputs: a layer's results are exactly the direct calls'."""

    def test_linear(self, engine, dtype):
        tn, rng = ENGINES[engine], np.random.default_rng(1)
        for bias, x in [(True, randn(rng, 5, 3, dtype=dtype)), (False, randn(rng, 5, 3, dtype=dtype)),
                        (True, randn(rng, 3, dtype=dtype))]:
            layer = nn.Linear(3, 4, bias=bias, engine=engine, dtype=dtype, rng=2)
            y = layer(x)
            np.testing.assert_array_equal(y, tn.linear_forward(x, layer.weight, layer.bias))
            dy = randn(rng, *y.shape, dtype=dtype)
            dx = layer.backward(dy)
            ex, eW, eb = tn.linear_backward(dy, x, layer.weight)
            np.testing.assert_array_equal(dx, ex)
            np.testing.assert_array_equal(layer.grads()[0], eW)
            if bias:
                np.testing.assert_array_equal(layer.grads()[1], eb)
                assert [n for n, _ in layer.named_parameters()] == ["weight", "bias"]
            else:
                assert layer.bias is None and len(layer.parameters()) == len(layer.grads()) == 1
            assert y.dtype == dx.dtype == layer.weight.dtype == dtype

    @pytest.mark.parametrize("name, cls", [("tanh", nn.Tanh), ("relu", nn.ReLU), ("sigmoid", nn.Sigmoid)])
    def test_activation(self, engine, dtype, name, cls):
        tn, rng = ENGINES[engine], np.random.default_rng(3)
        act = cls(engine=engine)
        x = randn(rng, 4, 5, 2, dtype=dtype)
        y = act(x)
        np.testing.assert_array_equal(y, getattr(tn, f"{name}_forward")(x))
        dy = randn(rng, *y.shape, dtype=dtype)
        np.testing.assert_array_equal(act.backward(dy), getattr(tn, f"{name}_backward")(dy, y))
        assert act.parameters() == [] and act.grads() == []

    def test_embedding(self, engine, dtype):
        tn, rng = ENGINES[engine], np.random.default_rng(4)
        emb = nn.Embedding(7, 3, engine=engine, dtype=dtype, rng=5)
        idx = rng.integers(0, 7, (6, 4)).astype(np.int32)
        out = emb(idx)
        np.testing.assert_array_equal(out, tn.embedding_forward(emb.weight, idx))
        dout = randn(rng, *out.shape, dtype=dtype)
        assert emb.backward(dout) is None
        np.testing.assert_array_equal(emb.grads()[0], tn.embedding_backward(dout, idx, 7))

    @pytest.mark.parametrize("correction", [0, 1])
    def test_batchnorm_train_and_eval(self, engine, dtype, correction):
        tn, rng = ENGINES[engine], np.random.default_rng(6)
        bn = nn.BatchNorm1d(3, eps=1e-3, correction=correction, engine=engine, dtype=dtype)
        bn.weight[...] = randn(rng, 3, dtype=dtype)
        bn.bias[...] = randn(rng, 3, dtype=dtype)
        x = randn(rng, 8, 3, dtype=dtype) * 2 + 1
        y = bn(x)
        ey, mean, invstd = tn.batchnorm_forward(x, bn.weight, bn.bias, 1e-3, correction)
        np.testing.assert_array_equal(y, ey)
        dy = randn(rng, 8, 3, dtype=dtype)
        dx = bn.backward(dy)
        ex, eg, eb = tn.batchnorm_backward(dy, x, bn.weight, mean, invstd, correction)
        np.testing.assert_array_equal(dx, ex)
        np.testing.assert_array_equal(bn.grads()[0], eg)
        np.testing.assert_array_equal(bn.grads()[1], eb)

        bn.eval()
        y = bn(x)
        np.testing.assert_array_equal(
            y, tn.batchnorm_inference(x, bn.weight, bn.bias, bn.running_mean, bn.running_var, 1e-3))
        # eval-mode backward: the affine map y = gamma * (x - rm) / sqrt(rv + eps) + beta
        dx = bn.backward(dy)
        scale = bn.weight / np.sqrt(bn.running_var + dtype(1e-3))
        assert_close(dx, dy * scale, "eval dx")
        assert_close(bn.grads()[0], (dy * (x - bn.running_mean) / np.sqrt(bn.running_var + dtype(1e-3))).sum(0),
                     "eval dgamma")
        assert_close(bn.grads()[1], dy.sum(0), "eval dbeta")

    @pytest.mark.parametrize("kind", ["float", "tokens", "unbatched-float", "unbatched-tokens"])
    @pytest.mark.parametrize("bptt_steps", [None, 2])
    def test_rnn(self, engine, dtype, kind, bptt_steps):
        tn, rng = ENGINES[engine], np.random.default_rng(7)
        T, B, D, H = 5, 3, 4, 6
        rnn = nn.RNN(D, H, bptt_steps=bptt_steps, engine=engine, dtype=dtype, rng=8)
        x = {"float": randn(rng, T, B, D, dtype=dtype), "tokens": rng.integers(0, D, (T, B)),
             "unbatched-float": randn(rng, T, D, dtype=dtype), "unbatched-tokens": rng.integers(0, D, T)}[kind]
        h0 = randn(rng, *((B, H) if kind in ("float", "tokens") else (H,)), dtype=dtype)
        for h in (None, h0):
            hs = rnn(x, h)
            np.testing.assert_array_equal(hs, tn.rnn_forward(x, h, rnn.W_xh, rnn.W_hh, rnn.b_h))
            dhs = randn(rng, *hs.shape, dtype=dtype)
            dx = rnn.backward(dhs)
            expected = tn.rnn_backward(dhs, x, h, hs, rnn.W_xh, rnn.W_hh, bptt_steps)
            assert_close(dx, expected[0], "dx", rtol=0)
            np.testing.assert_array_equal(rnn.dh0, expected[1])
            for g, e in zip(rnn.grads(), expected[2:]):
                np.testing.assert_array_equal(g, e)
        assert (dx is None) == kind.endswith("tokens")

    def test_flatten(self, engine, dtype):
        x = np.arange(24, dtype=dtype).reshape(2, 3, 4)
        f = nn.Flatten(engine=engine)
        y = f(x)
        np.testing.assert_array_equal(y, x.reshape(2, 12))
        np.testing.assert_array_equal(f.backward(y * 2), x * 2)
        g = nn.Flatten(0, 1)
        assert g(x).shape == (6, 4)


# --------------------------------------------------------------- C and NumPy engines agree


def makemore_model(engine, dtype, correction=1):
    return nn.Sequential([
        nn.Embedding(27, 10, engine=engine, dtype=dtype, rng=1),
        nn.Flatten(),
        nn.Linear(30, 64, engine=engine, dtype=dtype, rng=2),
        nn.BatchNorm1d(64, correction=correction, engine=engine, dtype=dtype),
        nn.Tanh(),
        nn.Linear(64, 27, engine=engine, dtype=dtype, rng=3),
    ])


def mlp_model(engine, dtype):
    return nn.Sequential([
        nn.Linear(5, 16, engine=engine, dtype=dtype, init="kaiming_normal", rng=1), nn.ReLU(),
        nn.Linear(16, 8, engine=engine, dtype=dtype, init="xavier_uniform", rng=2), nn.Sigmoid(),
        nn.Linear(8, 4, engine=engine, dtype=dtype, rng=3),
    ])


@pytest.mark.parametrize("dtype", DTYPES)
def test_engines_agree_makemore_model(dtype):
    rng = np.random.default_rng(11)
    X = rng.integers(0, 27, (32, 3))
    Y = rng.integers(0, 27, 32)
    results = {}
    for engine in ENGINE_NAMES:
        model = makemore_model(engine, dtype)
        steps = []
        for step in range(3):  # three SGD steps, so the running stats and weights evolve
            logits = model(X)
            loss, probs = ENGINES[engine].cross_entropy_forward(logits, Y)
            assert model.backward(ENGINES[engine].cross_entropy_backward(probs, Y)) is None
            steps.append((logits, loss, [g.copy() for g in model.grads()]))
            for p, g in zip(model.parameters(), model.grads()):
                ENGINES[engine].sgd_step_(p, g, 0.1)
        model.eval()
        steps.append((model(X), [b.copy() for _, b in model.named_buffers()[:2]]))
        results[engine] = steps
    c, npy = results["c"], results["numpy"]
    for step in range(3):
        assert_close(c[step][0], npy[step][0], f"step {step} logits")
        assert_close(c[step][1], npy[step][1], f"step {step} loss", rtol=1e-10 if dtype == np.float64 else 1e-5)
        cg, ng = c[step][2], npy[step][2]
        # grads[2] is the bias right before BatchNorm: its true gradient is 0, both engines
        # give rounding noise, so it is judged on the scale of that layer's weight gradient
        tol = RTOL[np.dtype(dtype)] * np.max(np.abs(ng[1]))
        assert np.max(np.abs(cg[2])) <= tol and np.max(np.abs(ng[2])) <= tol, "bias before BatchNorm"
        assert_close(cg[:2] + cg[3:], ng[:2] + ng[3:], f"step {step} grads")
    assert_close(c[3][0], npy[3][0], "eval logits")
    assert_close(c[3][1], npy[3][1], "running stats")


@pytest.mark.parametrize("dtype", DTYPES)
def test_engines_agree_mlp_and_rnn(dtype):
    rng = np.random.default_rng(12)
    x = randn(rng, 9, 5, dtype=dtype)
    xs = randn(rng, 6, 2, 4, dtype=dtype)
    h0 = randn(rng, 2, 3, dtype=dtype)
    out = {}
    for engine in ENGINE_NAMES:
        mlp = mlp_model(engine, dtype)
        y = mlp(x)
        dx = mlp.backward(np.ones_like(y))
        rnn = nn.RNN(4, 3, engine=engine, dtype=dtype, rng=4)
        hs = rnn(xs, h0)
        dxs = rnn.backward(hs.copy())
        out[engine] = [y, dx, mlp.grads(), hs, dxs, rnn.dh0, rnn.grads()]
    for i, (a, e) in enumerate(zip(out["c"], out["numpy"])):
        assert_close(a, e, f"result {i}")


def test_engine_switch():
    import tinynet

    assert tinynet.engine("c") is tn
    assert tinynet.engine("numpy") is ref
    assert tinynet.engine() is tn
    with pytest.raises(ValueError, match="engine"):
        tinynet.engine("torch")
    for name in tinynet.FUNCTIONS:
        assert callable(getattr(tn, name)) and callable(getattr(ref, name)), name


# ------------------------------------------------------------------------------ gradcheck


class TestGradcheckNetworks:
    """gradcheck < 1e-6 on a small float64 network of each layer type."""

    def setup_method(self):
        self.rng = np.random.default_rng(21)

    @pytest.mark.parametrize("engine", ENGINE_NAMES)
    def test_linear_tanh(self, engine):
        model = nn.Sequential([nn.Linear(4, 5, engine=engine, rng=1), nn.Tanh(engine=engine),
                               nn.Linear(5, 3, engine=engine, rng=2)])
        assert_gradcheck(check_model(model, randn(self.rng, 6, 4), targets=np.array([0, 1, 2, 2, 1, 0])))

    def test_linear_unbatched(self):
        layer = nn.Linear(4, 3, rng=1)
        assert_gradcheck(check_model(layer, randn(self.rng, 4)))

    def test_relu(self):
        model = nn.Sequential([nn.Linear(4, 8, rng=1), nn.ReLU(), nn.Linear(8, 3, rng=2)])
        x = randn(self.rng, 6, 4)
        pre = model[0](x)
        assert np.min(np.abs(pre)) > 1e-3, "a pre-activation sits on ReLU's kink; pick another seed"
        assert (pre > 0).any() and (pre < 0).any()
        assert_gradcheck(check_model(model, x, targets=np.array([0, 1, 2, 2, 1, 0])))

    def test_sigmoid(self):
        model = nn.Sequential([nn.Linear(4, 5, rng=1), nn.Sigmoid(), nn.Linear(5, 3, rng=2), nn.Sigmoid()])
        assert_gradcheck(check_model(model, randn(self.rng, 6, 4), targets=np.array([0, 1, 2, 2, 1, 0])))

    def test_embedding(self):
        model = nn.Sequential([nn.Embedding(6, 3, rng=1), nn.Flatten(), nn.Linear(6, 4, rng=2), nn.Tanh()])
        idx = np.array([[0, 1], [1, 1], [5, 2], [2, 0], [3, 3]])  # repeated ids accumulate
        errors = check_model(model, idx, include_input=False)
        assert_gradcheck(errors)
        # rows never looked up get exactly zero gradient
        assert np.all(model[0].grads()[0][4] == 0)

    @pytest.mark.parametrize("correction", [0, 1])
    def test_batchnorm_train(self, correction):
        model = nn.Sequential([nn.Linear(4, 5, bias=False, rng=1), nn.BatchNorm1d(5, correction=correction),
                               nn.Tanh(), nn.Linear(5, 3, rng=2)])
        model[1].weight[...] = 1 + 0.3 * randn(self.rng, 5)
        model[1].bias[...] = 0.3 * randn(self.rng, 5)
        x = randn(self.rng, 8, 4)
        assert_gradcheck(check_model(model, x, targets=np.array([0, 1, 2, 2, 1, 0, 0, 1])))

    def test_batchnorm_bias_before_bn_has_zero_gradient(self):
        """makemore's b1: a bias right before BatchNorm cannot change the loss.  Its
        analytic gradient is rounding noise, and so is its central difference, so the
        relative error is meaningless (about 1); the absolute values are what to check."""
        model = nn.Sequential([nn.Linear(4, 5, rng=1), nn.BatchNorm1d(5, correction=1), nn.Tanh(),
                               nn.Linear(5, 3, rng=2)])
        x, y = randn(self.rng, 8, 4), np.array([0, 1, 2, 2, 1, 0, 0, 1])
        errors = check_model(model, x, targets=y)
        assert_gradcheck({k: v for k, v in errors.items() if k != "0.bias"})
        assert errors["0.bias"] > 0.1  # documented: normwise relative error of pure noise
        loss, dout = loss_and_dout(model(x), y)
        model.backward(dout)
        db1 = dict(model.named_grads())["0.bias"]
        dW1 = dict(model.named_grads())["0.weight"]
        assert np.max(np.abs(db1)) < 1e-14 * np.max(np.abs(dW1))

    def test_batchnorm_eval(self):
        bn = nn.BatchNorm1d(4).eval()
        bn.running_mean[...] = randn(self.rng, 4)
        bn.running_var[...] = 0.5 + self.rng.random(4)
        bn.weight[...] = randn(self.rng, 4)
        bn.bias[...] = randn(self.rng, 4)
        assert_gradcheck(check_model(bn, randn(self.rng, 3, 4)))

    @pytest.mark.parametrize("engine", ENGINE_NAMES)
    @pytest.mark.parametrize("batched", [True, False])
    def test_rnn_float_input(self, engine, batched):
        rnn = nn.RNN(3, 4, engine=engine, rng=1)
        shape_x, shape_h = ((5, 2, 3), (2, 4)) if batched else ((5, 3), (4,))
        x, h0 = randn(self.rng, *shape_x), 0.5 * randn(self.rng, *shape_h)
        R = randn(self.rng, *(shape_x[:-1] + (4,)))

        def f(W_xh, W_hh, b_h, x, h0):
            rnn.W_xh[...], rnn.W_hh[...], rnn.b_h[...] = W_xh, W_hh, b_h
            hs = rnn(x, h0)
            dx = rnn.backward(R)
            return float(np.sum(hs * R)), rnn.grads() + [dx, rnn.dh0]

        errors = gradcheck(f, [p.copy() for p in rnn.parameters()] + [x, h0])
        assert max(errors) < GRADCHECK_TOL, errors

    def test_rnn_token_input(self):
        V = 5
        model = nn.RNN(V, 4, rng=1)
        tokens = np.array([[0, 4], [1, 1], [4, 2], [3, 3]])
        assert_gradcheck(check_model(model, tokens, include_input=False))

    def test_sequential_mlp(self):
        model = mlp_model("c", np.float64)
        x = randn(self.rng, 7, 5)
        assert_gradcheck(check_model(model, x, targets=np.array([0, 1, 2, 3, 3, 2, 1])))


class TestGradcheckItself:
    def test_exact_function(self):
        x = np.array([[0.5, -1.5], [2.0, 0.25]])
        errors = gradcheck(lambda a: (float(np.sum(np.sin(a) * a)), [np.cos(a) * a + np.sin(a)]), [x])
        assert errors[0] < 1e-8

    def test_detects_scaled_gradient(self):
        x = np.array([1.0, -2.0, 0.5])
        (err,) = gradcheck(lambda a: (float(np.sum(a ** 3)), [3 * a ** 2 * 1.01]), [x])
        assert err == pytest.approx(0.01 / 1.01, rel=1e-6)  # max|num - ana| / max|ana|

    def test_detects_one_wrong_element_of_a_layer(self):
        """A backward with one wrong weight-gradient element and a transposed-style
        mistake must both be reported far above the tolerance."""
        rng = np.random.default_rng(0)
        layer = nn.Linear(3, 3, rng=1)
        x, R = randn(rng, 4, 3), randn(rng, 4, 3)

        def make_f(corrupt):
            def f(W, b):
                layer.weight[...], layer.bias[...] = W, b
                out = layer(x)
                layer.backward(R)
                dW, db = layer.grads()
                return float(np.sum(out * R)), [corrupt(dW), db]
            return f

        W, b = layer.weight.copy(), layer.bias.copy()
        assert max(gradcheck(make_f(lambda g: g), [W, b])) < GRADCHECK_TOL

        def one_element(g):
            g = g.copy()
            g[1, 2] += 0.5 * np.max(np.abs(g))
            return g

        errors = gradcheck(make_f(one_element), [W, b])
        assert errors[0] == pytest.approx(0.5, rel=0.02) and errors[1] < GRADCHECK_TOL
        errors = gradcheck(make_f(lambda g: g.T), [W, b])
        assert errors[0] > 0.05

    def test_dict_inputs_are_not_modified(self):
        a = np.array([1.0, 2.0])
        b = np.array([[3.0]], dtype=np.float32)
        before = (a.copy(), b.copy())
        seen = []

        def f(p, q):
            seen.append((p.dtype, q.dtype))
            return float(np.sum(p * p) + 3 * q.sum()), {"p": 2 * p, "q": np.full(q.shape, 3.0)}

        errors = gradcheck(f, {"p": a, "q": b})
        assert set(errors) == {"p", "q"} and max(errors.values()) < 1e-8
        np.testing.assert_array_equal(a, before[0])
        np.testing.assert_array_equal(b, before[1])
        assert set(seen) == {(np.dtype(np.float64), np.dtype(np.float64))}

    def test_zero_gradient_is_zero_error(self):
        assert gradcheck(lambda a: (1.0, [np.zeros_like(a)]), [np.ones(3)]) == [0.0]

    def test_bad_gradients_raise(self):
        with pytest.raises(ValueError, match="shape"):
            gradcheck(lambda a: (0.0, [np.zeros(2)]), [np.ones(3)])
        with pytest.raises(ValueError, match="2 gradients for 1 inputs"):
            gradcheck(lambda a: (0.0, [a, a]), [np.ones(3)])
        with pytest.raises(ValueError, match="None"):
            gradcheck(lambda a: (0.0, [None]), [np.ones(3)])
        with pytest.raises(ValueError, match="eps"):
            gradcheck(lambda a: (0.0, [a]), [np.ones(3)], eps=0)


# ---------------------------------------------------------------- BatchNorm1d vs PyTorch


@pytest.mark.parametrize("engine", ENGINE_NAMES)
@pytest.mark.parametrize("momentum", [0.1, 0.3, None])
@pytest.mark.parametrize("correction", [0, 1])
def test_batchnorm_matches_torch(engine, momentum, correction):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(31)
    C = 4
    ours = nn.BatchNorm1d(C, eps=1e-5, momentum=momentum, correction=correction, engine=engine)
    theirs = torch.nn.BatchNorm1d(C, eps=1e-5, momentum=momentum, dtype=torch.float64)
    gamma, beta = 1 + 0.5 * randn(rng, C), randn(rng, C)
    ours.weight[...], ours.bias[...] = gamma, beta
    with torch.no_grad():
        theirs.weight.copy_(torch.from_numpy(gamma))
        theirs.bias.copy_(torch.from_numpy(beta))
    for step, N in enumerate([8, 5, 16, 2]):
        x = randn(rng, N, C) * 3 + rng.standard_normal(C) * 2
        dy = randn(rng, N, C)
        y = ours(x)
        dx = ours.backward(dy)
        xt = torch.from_numpy(x).requires_grad_(True)
        theirs.weight.grad = theirs.bias.grad = None
        yt = theirs(xt)
        yt.backward(torch.from_numpy(dy))
        # running statistics use the unbiased variance whatever `correction` is
        assert_close(ours.running_mean, theirs.running_mean.numpy(), f"step {step} running_mean")
        assert_close(ours.running_var, theirs.running_var.numpy(), f"step {step} running_var")
        assert ours.num_batches_tracked == int(theirs.num_batches_tracked) == step + 1
        if correction == 0:  # PyTorch normalises with the biased variance
            assert_close(y, yt.detach().numpy(), f"step {step} y")
            assert_close(dx, xt.grad.numpy(), f"step {step} dx")
            assert_close(ours.grads(), [theirs.weight.grad.numpy(), theirs.bias.grad.numpy()], "grads")
    ours.eval()
    theirs.eval()
    x = randn(rng, 3, C)
    xt = torch.from_numpy(x).requires_grad_(True)
    yt = theirs(xt)
    assert_close(ours(x), yt.detach().numpy(), "eval y")
    dy = randn(rng, 3, C)
    theirs.weight.grad = theirs.bias.grad = None
    yt.backward(torch.from_numpy(dy))
    assert_close(ours.backward(dy), xt.grad.numpy(), "eval dx")
    assert_close(ours.grads(), [theirs.weight.grad.numpy(), theirs.bias.grad.numpy()], "eval grads")
    assert_close(ours(x[:1]), theirs(torch.from_numpy(x[:1])).detach().numpy(), "eval with N = 1")


def test_batchnorm_float32_running_stats_match_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(32)
    ours = nn.BatchNorm1d(6, dtype=np.float32)
    theirs = torch.nn.BatchNorm1d(6)
    for _ in range(5):
        x = (randn(rng, 10, 6) * 4 + 1).astype(np.float32)
        assert_close(ours(x), theirs(torch.from_numpy(x)).detach().numpy(), "y")
    assert ours.running_var.dtype == np.float32
    assert_close(ours.running_mean, theirs.running_mean.numpy(), "running_mean")
    assert_close(ours.running_var, theirs.running_var.numpy(), "running_var")


def test_batchnorm_train_eval_modes_and_buffers():
    bn = nn.BatchNorm1d(2, momentum=0.5)
    x = np.array([[1.0, 2.0], [3.0, 6.0], [5.0, 1.0]])
    bn(x)
    np.testing.assert_allclose(bn.running_mean, 0.5 * x.mean(0))
    np.testing.assert_allclose(bn.running_var, 0.5 + 0.5 * x.var(0, ddof=1))
    rm = bn.running_mean
    bn.eval()
    y = bn(x)
    assert bn.running_mean is rm and bn.num_batches_tracked == 1  # eval does not update
    np.testing.assert_allclose(y, (x - bn.running_mean) / np.sqrt(bn.running_var + 1e-5))
    assert [n for n, _ in bn.named_buffers()] == ["running_mean", "running_var", "num_batches_tracked"]
    assert [n for n, _ in bn.named_parameters()] == ["weight", "bias"]


def test_batchnorm_training_needs_two_rows():
    bn = nn.BatchNorm1d(3)
    with pytest.raises(ValueError, match=r"BatchNorm1d.*more than 1 value.*\(1, 3\)"):
        bn(np.ones((1, 3)))
    assert bn.num_batches_tracked == 0
    bn.eval()
    assert bn(np.ones((1, 3))).shape == (1, 3)
    with pytest.raises(ValueError, match=r"\(2, 4\).*\(N, 3\)"):
        bn(np.ones((2, 4)))


@pytest.mark.parametrize("kw,exc,msg", [
    (dict(eps=-1e-5), ValueError, r"^BatchNorm1d: eps must be a finite number >= 0, got -1e-05$"),
    (dict(eps=float("nan")), ValueError, r"^BatchNorm1d: eps must be a finite number >= 0, got nan$"),
    (dict(eps=float("inf")), ValueError, r"^BatchNorm1d: eps must be a finite number >= 0, got inf$"),
    (dict(eps="small"), TypeError, r"^BatchNorm1d: eps must be a real number, not str$"),
    (dict(momentum=-0.1), ValueError, r"^BatchNorm1d: momentum must be in \[0, 1\], got -0.1$"),
    (dict(momentum=1.5), ValueError, r"^BatchNorm1d: momentum must be in \[0, 1\], got 1.5$"),
    (dict(momentum=float("nan")), ValueError, r"^BatchNorm1d: momentum must be in \[0, 1\], got nan$"),
    (dict(momentum=True), TypeError, r"^BatchNorm1d: momentum must be a real number, not bool$"),
])
def test_batchnorm_refuses_bad_hyperparameters(kw, exc, msg):
    """The rule of the functions (eps finite and >= 0) plus momentum in [0, 1], checked
    when the layer is built -- not as NaN later."""
    with pytest.raises(exc, match=msg):
        nn.BatchNorm1d(3, **kw)


@pytest.mark.parametrize("kw", [dict(eps=0.0), dict(momentum=0.0), dict(momentum=1.0), dict(momentum=None)])
def test_batchnorm_accepts_the_edges(kw):
    bn = nn.BatchNorm1d(2, **kw)
    y = bn(np.array([[1.0, 2.0], [3.0, 5.0]]))
    assert np.all(np.isfinite(y))
    if kw.get("momentum") == 1.0:  # the batch statistics replace the running ones
        np.testing.assert_allclose(bn.running_mean, [2.0, 3.5])


# -------------------------------------------------------------------------- initialisation


LAYERS = {
    "Linear": lambda **kw: nn.Linear(20, 30, **kw),
    "Embedding": lambda **kw: nn.Embedding(20, 30, **kw),
    "RNN": lambda **kw: nn.RNN(20, 30, **kw),
}


@pytest.mark.parametrize("name", list(LAYERS))
@pytest.mark.parametrize("init", nn.INITS)
def test_init_reproducible_by_seed(name, init):
    make = LAYERS[name]
    a, b, c = make(init=init, rng=5), make(init=init, rng=5), make(init=init, rng=6)
    for pa, pb, pc in zip(a.parameters(), b.parameters(), c.parameters()):
        np.testing.assert_array_equal(pa, pb)
        if init == "pytorch" or pa.ndim == 2:  # xavier/kaiming biases are all zero
            assert not np.array_equal(pa, pc)
    g1, g2 = np.random.default_rng(9), np.random.default_rng(9)
    for pa, pb in zip(make(init=init, rng=g1).parameters(), make(init=init, rng=g2).parameters()):
        np.testing.assert_array_equal(pa, pb)
    # a shared generator advances: two layers drawn from it differ
    first, second = make(init=init, rng=g1), make(init=init, rng=g1)
    assert not np.array_equal(first.parameters()[0], second.parameters()[0])
    # float32 holds the float64 draws rounded
    f32 = make(init=init, rng=5, dtype=np.float32)
    for p32, p64 in zip(f32.parameters(), a.parameters()):
        assert p32.dtype == np.float32 and p32.flags.c_contiguous and p32.flags.writeable
        np.testing.assert_array_equal(p32, p64.astype(np.float32))


def test_init_distributions():
    big = nn.Linear(400, 300, rng=0)
    bound = 1 / math.sqrt(400)
    for p in big.parameters():
        assert np.max(np.abs(p)) <= bound and np.max(np.abs(p)) > 0.99 * bound
    assert abs(np.std(big.weight) - bound / math.sqrt(3)) < 0.01 * bound

    xav = nn.Linear(400, 300, init="xavier_uniform", rng=0)
    limit = math.sqrt(6 / 700)
    assert limit * 0.99 < np.max(np.abs(xav.weight)) <= limit
    assert np.all(xav.bias == 0)

    kai = nn.Linear(400, 300, init="kaiming_normal", rng=0)
    assert abs(np.std(kai.weight) / math.sqrt(2 / 400) - 1) < 0.01
    assert abs(np.mean(kai.weight)) < 0.01 * math.sqrt(2 / 400)
    assert np.all(kai.bias == 0)

    emb = nn.Embedding(300, 400, rng=0)
    assert abs(np.std(emb.weight) - 1) < 0.01 and abs(np.mean(emb.weight)) < 0.01

    rnn = nn.RNN(500, 200, rng=0)  # PyTorch: every RNN tensor ~ U(-1/sqrt(hidden), 1/sqrt(hidden))
    hb = 1 / math.sqrt(200)
    for p in rnn.parameters():
        assert 0.95 * hb < np.max(np.abs(p)) <= hb
    assert [p.shape for p in rnn.parameters()] == [(200, 500), (200, 200), (200,)]

    bn = nn.BatchNorm1d(5, dtype=np.float32)
    assert np.all(bn.weight == 1) and np.all(bn.bias == 0) and bn.weight.dtype == np.float32


# ----------------------------------------------------------------- parameters and grads


def test_parameters_are_live_and_grads_overwrite():
    rng = np.random.default_rng(41)
    model = mlp_model("c", np.float64)
    assert [n for n, _ in model.named_parameters()] == [
        "0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"]
    assert model.grads() == [None] * 6
    x, y = randn(rng, 4, 5), np.array([0, 1, 2, 3])
    loss, dout = loss_and_dout(model(x), y)
    model.backward(dout)
    first = [g.copy() for g in model.grads()]
    model.backward(dout)  # a second backward overwrites, it does not accumulate
    assert_close(model.grads(), first, "grads after a second backward")
    for p, g in zip(model.parameters(), model.grads()):
        tinynet.sgd_step_(p, g, 0.5)
    loss2, _ = loss_and_dout(model(x), y)
    assert loss2 < loss  # the model itself was updated
    assert model[0].weight is model.parameters()[0]

    rnn = nn.RNN(3, 2)
    assert [n for n, _ in rnn.named_parameters()] == ["W_xh", "W_hh", "b_h"]
    emb = nn.Embedding(4, 2)
    assert [n for n, _ in emb.named_parameters()] == ["weight"]


def test_sequential_train_eval_propagate_and_repr():
    model = makemore_model("c", np.float64)
    assert model.eval() is model
    assert not any(layer.training for layer in model)
    model.train()
    assert all(layer.training for layer in model)
    assert "BatchNorm1d(64" in repr(model) and len(model) == 6 and isinstance(model[1:], nn.Sequential)
    assert [n for n, _ in model.named_buffers()][:2] == ["3.running_mean", "3.running_var"]
    assert nn.Sequential(nn.Tanh(), nn.ReLU()).forward(np.array([-1.0, 0.5])).tolist() == [0.0, math.tanh(0.5)]


def test_deepcopy_is_independent():
    model = mlp_model("c", np.float64)
    clone = copy.deepcopy(model)
    clone.parameters()[0][...] = 0
    assert np.any(model.parameters()[0] != 0)


# ------------------------------------------------------------------------------ errors


@pytest.mark.parametrize("layer, dout", [
    (nn.Linear(3, 2), np.ones((1, 2))),
    (nn.Tanh(), np.ones(2)),
    (nn.ReLU(), np.ones(2)),
    (nn.Sigmoid(), np.ones(2)),
    (nn.Embedding(3, 2), np.ones((1, 2))),
    (nn.BatchNorm1d(2), np.ones((2, 2))),
    (nn.RNN(2, 2), np.ones((1, 2))),
    (nn.Flatten(), np.ones((1, 2))),
])
def test_backward_before_forward(layer, dout):
    with pytest.raises(ValueError, match=rf"{type(layer).__name__}\(.*backward.*before forward"):
        layer.backward(dout)


def test_backward_shape_mismatch_names_layer_and_shapes():
    layer = nn.Linear(3, 2)
    layer(np.ones((4, 3)))
    with pytest.raises(ValueError, match=r"Linear\(in_features=3, out_features=2.*\(4, 3\).*expected \(4, 2\)"):
        layer.backward(np.ones((4, 3)))
    rnn = nn.RNN(2, 3)
    rnn(np.ones((5, 2)))
    with pytest.raises(ValueError, match=r"RNN\(2, 3\).*dhs has shape \(5, 2\).*expected \(5, 3\)"):
        rnn.backward(np.ones((5, 2)))
    bn = nn.BatchNorm1d(2)
    bn(np.ones((3, 2)) * [[1.0], [2.0], [4.0]])
    with pytest.raises(ValueError, match=r"BatchNorm1d\(2.*dout has shape \(2, 3\).*expected \(3, 2\)"):
        bn.backward(np.ones((2, 3)))


def test_sequential_backward():
    seq = nn.Sequential([nn.Embedding(3, 2), nn.Flatten(), nn.Linear(4, 2)])
    out = seq(np.array([[0, 1]]))
    assert seq.backward(np.ones_like(out)) is None  # token ids have no gradient
    assert seq[0].grads()[0].tolist() == seq[2].weight.sum(0).reshape(2, 2).tolist() + [[0.0, 0.0]]
    # a token layer in the middle stops the backward pass, with an error naming both layers
    mid = nn.Sequential([nn.Flatten(), nn.RNN(3, 2)])
    hs = mid(np.array([[[0], [2]], [[1], [1]]]))  # ids (T=2, B=2, 1) -> (T, B)
    with pytest.raises(ValueError, match=r"layer 1 \(RNN\(3, 2\)\) returned no input gradient.*layer 0"):
        mid.backward(np.ones_like(hs))
    assert mid[1].grads()[0].shape == (2, 3)  # the RNN itself was backpropagated


def test_dtype_errors():
    with pytest.raises(TypeError, match="float32 or float64"):
        nn.Linear(2, 2, dtype=np.int32)
    with pytest.raises(TypeError, match="float32 or float64"):
        nn.Tanh(dtype=np.float16)
    with pytest.raises(TypeError):
        nn.Linear(2, 2)(np.ones((1, 2), dtype=np.float32))  # never silently mixed
    with pytest.raises(TypeError, match=r"Tanh.*float32.*float64"):
        nn.Tanh(dtype=np.float64)(np.ones(2, dtype=np.float32))
    assert nn.Linear(2, 2, dtype=np.float32)([[1, 2]]).dtype == np.float32  # lists take the layer's dtype
    assert nn.Tanh()(np.ones(2, dtype=np.float32)).dtype == np.float32
    assert nn.Tanh()([0, 1]).dtype == np.float64  # a list of ints is a float input, as in the engines
    assert nn.ReLU(dtype=np.float32)([[-1, 2]]).dtype == np.float32
    rnn32 = nn.RNN(2, 3, dtype=np.float32)
    assert rnn32([[0.5, 1.0], [1.0, 0.0]]).dtype == np.float32  # float lists take the layer's dtype
    assert rnn32([[0, 1], [1, 0]]).shape == (2, 2, 3)  # int lists are token ids (T, B)
    with pytest.raises(TypeError):
        rnn32(np.ones((2, 2)))  # a float64 array is not silently mixed with float32 weights
    with pytest.raises(ValueError, match="init"):
        nn.Linear(2, 2, init="glorot")
    with pytest.raises(TypeError, match="rng"):
        nn.Linear(2, 2, rng=1.5)
    with pytest.raises(ValueError, match="engine"):
        nn.Linear(2, 2, engine="cuda")
    with pytest.raises(ValueError, match="hidden_size"):
        nn.RNN(2, -1)


# ------------------------------------------------ FlattenConsecutive (makemore part 5)


@pytest.mark.parametrize("shape,n,out", [((32, 8, 24), 2, (32, 4, 48)), ((32, 2, 128), 2, (32, 256)),
                                         ((4, 6, 3), 3, (4, 2, 9)), ((4, 6, 3), 1, (4, 6, 3)),
                                         ((4, 6, 3), 6, (4, 18)), ((0, 4, 2), 2, (0, 2, 4)), ((3, 0, 2), 2, (3, 0, 4))],
                         ids=str)
def test_flatten_consecutive(shape, n, out):
    """(B, T, C) -> (B, T // n, C * n), n consecutive steps side by side (the lecture's
    x.view(B, T // n, C * n)), the middle axis dropped when it is 1; views of x; backward
    reshapes the gradient back."""
    x = np.arange(math.prod(shape), dtype=np.float64).reshape(shape)
    f = nn.FlattenConsecutive(n)
    y = f(x)
    assert y.shape == out
    assert x.size == 0 or np.shares_memory(y, x)
    np.testing.assert_array_equal(y.reshape(-1), x.reshape(-1))
    if shape[0] and shape[1] and len(out) == 3:
        np.testing.assert_array_equal(y[:, 0], x[:, :n].reshape(shape[0], -1))  # steps 0..n-1, side by side
    dy = np.arange(math.prod(out), dtype=np.float64).reshape(out) * 2
    dx = f.backward(dy)
    assert dx.shape == shape
    np.testing.assert_array_equal(dx.reshape(-1), dy.reshape(-1))
    assert repr(f) == f"FlattenConsecutive({n})"
    assert f.parameters() == [] and f.state_dict() == {}


def test_flatten_consecutive_errors():
    f = nn.FlattenConsecutive(2)
    with pytest.raises(ValueError, match=r"FlattenConsecutive\(2\)\.backward: called before forward"):
        f.backward(np.zeros((2, 4)))
    for bad in (np.zeros((4, 5, 3)), np.zeros((4, 6)), np.zeros((2, 4, 6, 3))):
        with pytest.raises(ValueError, match=rf"x has shape {re.escape(str(bad.shape))}, expected \(B, T, C\) with "
                                             r"T a multiple of n = 2"):
            f(bad)
    f(np.zeros((4, 6, 3)))
    with pytest.raises(ValueError, match=r"dout has shape \(4, 6, 3\), expected \(4, 3, 6\)"):
        f.backward(np.zeros((4, 6, 3)))
    for n, exc in ((0, ValueError), (-1, ValueError), (1.5, TypeError), (None, TypeError)):
        with pytest.raises(exc, match="FlattenConsecutive: n must"):
            nn.FlattenConsecutive(n)
    with pytest.raises(TypeError, match="x is float64 but the layer is float32"):
        nn.FlattenConsecutive(2, dtype=np.float32)(np.zeros((2, 4, 3)))


# ------------------------------------- BatchNorm1d: channels last, and (N, C, L) as torch


@pytest.mark.parametrize("engine", ENGINE_NAMES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_batchnorm_channels_last_is_the_functions(engine, dtype):
    """channels_last=True on (B, T, C): batchnorm_forward / _backward / _inference on x as
    given, the statistics over (B, T); (N, C) means the same either way."""
    E, rng = ENGINES[engine], np.random.default_rng(40)
    bn = nn.BatchNorm1d(5, momentum=0.2, correction=1, channels_last=True, engine=engine, dtype=dtype)
    bn.weight[...], bn.bias[...] = 1 + randn(rng, 5, dtype=dtype) / 4, randn(rng, 5, dtype=dtype)
    x, dy = randn(rng, 4, 6, 5, dtype=dtype) * 2 + 1, randn(rng, 4, 6, 5, dtype=dtype)
    rm, rv = bn.running_mean.copy(), bn.running_var.copy()
    y, mean, invstd = E.batchnorm_forward(x, bn.weight, bn.bias, 1e-5, 1, rm, rv, 0.2)
    np.testing.assert_array_equal(bn(x), y)
    np.testing.assert_array_equal(bn.running_mean, rm)
    np.testing.assert_array_equal(bn.running_var, rv)
    for got, want in zip([bn.backward(dy)] + bn.grads(), E.batchnorm_backward(dy, x, bn.weight, mean, invstd, 1)):
        np.testing.assert_array_equal(got, want)
    bn.eval()
    np.testing.assert_array_equal(bn(x), E.batchnorm_inference(x, bn.weight, bn.bias, rm, rv))
    flat = nn.BatchNorm1d(5, engine=engine, dtype=dtype)
    last = nn.BatchNorm1d(5, channels_last=True, engine=engine, dtype=dtype)
    np.testing.assert_array_equal(flat(x[0]), last(x[0]))
    with pytest.raises(ValueError, match=r"x has shape \(4, 6\), expected \(N, 5\) or \(\.\.\., 5\)"):
        last(x[..., 0])


@pytest.mark.parametrize("engine", ENGINE_NAMES)
def test_batchnorm_ncl_matches_torch_with_state_dicts(engine):
    """(N, C, L), the channels on axis 1, as torch.nn.BatchNorm1d: the weights go to torch
    by state_dict, then y, dx, the parameter gradients and the running statistics agree
    through training steps; torch's state_dict back into a fresh layer gives its eval
    outputs."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(41)
    C = 3
    ours = nn.BatchNorm1d(C, momentum=0.3, engine=engine)
    ours.weight[...], ours.bias[...] = 1 + randn(rng, C) / 3, randn(rng, C)
    theirs = torch.nn.BatchNorm1d(C, momentum=0.3, dtype=torch.float64)
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    for step, (N, L) in enumerate([(4, 5), (2, 7), (8, 1)]):
        x, dy = randn(rng, N, C, L) * 2 + 1, randn(rng, N, C, L)
        xt = torch.from_numpy(x).requires_grad_(True)
        theirs.zero_grad()
        yt = theirs(xt)
        yt.backward(torch.from_numpy(dy))
        assert_close(ours(x), yt.detach().numpy(), f"step {step}: y")
        assert_close(ours.backward(dy), xt.grad.numpy(), f"step {step}: dx")
        assert_close(ours.grads(), [theirs.weight.grad.numpy(), theirs.bias.grad.numpy()], f"step {step}: grads")
    want = {k: v.numpy() for k, v in theirs.state_dict().items()}
    assert_close(ours.state_dict(), want, "state dict")
    back = nn.BatchNorm1d(C, engine=engine)
    back.load_state_dict(theirs.state_dict())
    x = randn(rng, 2, C, 4)
    theirs.eval()
    assert_close(back.eval()(x), theirs(torch.from_numpy(x)).detach().numpy(), "eval y")


# ------------------------------------- Sequential runs Linear, BatchNorm1d, Tanh in one call


def block_model(engine, dtype, bias, channels_last, correction):
    return nn.Sequential([
        nn.Linear(6, 8, bias=bias, engine=engine, dtype=dtype, rng=1),
        nn.BatchNorm1d(8, momentum=0.25, correction=correction, channels_last=channels_last, engine=engine,
                       dtype=dtype),
        nn.Tanh(engine=engine),
        nn.Linear(8, 8, bias=bias, engine=engine, dtype=dtype, rng=2),
        nn.BatchNorm1d(8, correction=correction, channels_last=channels_last, engine=engine, dtype=dtype),
        nn.Tanh(engine=engine),
        nn.Linear(8, 3, engine=engine, dtype=dtype, rng=3),
    ])


def one_by_one(model, x, dout):
    """Each layer's forward, then each layer's backward in reverse: what Sequential would
    do without fusing."""
    for layer in model.layers:
        x = layer(x)
    out = x
    for layer in reversed(model.layers):
        dout = layer.backward(dout)
    return out, dout


def assert_same_state(a, b, what):
    for (k, x), (_, y) in zip(list(a.state_dict().items()) + a.named_grads(),
                              list(b.state_dict().items()) + b.named_grads()):
        assert np.array_equal(x, y), f"{what}: {k}"


@pytest.mark.parametrize("engine", ENGINE_NAMES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no-bias"])
@pytest.mark.parametrize("shape", [(16, 6), (4, 5, 6)], ids=["2-D", "channels-last-3-D"])
def test_sequential_fused_block_gives_the_layers_bits(engine, dtype, bias, shape):
    """Sequential runs each Linear, BatchNorm1d (training), Tanh as one
    linear_batchnorm_tanh_forward / _backward call: the output, dx, every gradient, the
    running statistics and the batch count are those of the layers run one by one, bit for
    bit, through two steps; each layer's cache is its own (its backward alone gives the
    same); in eval mode nothing is fused."""
    rng = np.random.default_rng(42)
    for correction in (0, 1):
        fused, alone = (block_model(engine, dtype, bias, len(shape) == 3, correction) for _ in range(2))
        for step in range(2):
            x = randn(rng, *shape, dtype=dtype)
            dout = randn(rng, *shape[:-1], 3, dtype=dtype)
            out = fused(x)
            assert fused._fused == [0, 3]
            dx = fused.backward(dout)
            want_out, want_dx = one_by_one(alone, x, dout)
            assert np.array_equal(out, want_out) and np.array_equal(dx, want_dx), f"step {step}"
            assert_same_state(fused, alone, f"step {step}")
        # after a fused forward, the layers' own backward passes give the fused one's results
        d = dout
        for layer in reversed(fused.layers):
            d = layer.backward(d)
        assert np.array_equal(d, dx)
        assert_same_state(fused, alone, "the layers' own backward")
        fused.eval()
        alone.eval()
        out = fused(x)
        assert fused._fused == []
        want_out, want_dx = one_by_one(alone, x, dout)
        assert np.array_equal(out, want_out) and np.array_equal(fused.backward(dout), want_dx)


def test_sequential_fuses_only_what_it_may():
    """Not fused: a list input, a BatchNorm1d over (N, C, L), another dtype's layers, an
    activation other than Tanh, one value per channel (then the same error as unfused)."""
    rng = np.random.default_rng(43)
    x = randn(rng, 5, 4)
    model = nn.Sequential([nn.Linear(4, 3, rng=0), nn.BatchNorm1d(3), nn.ReLU()])
    model(x)
    assert model._fused == []
    model = nn.Sequential([nn.Linear(4, 3, rng=0), nn.BatchNorm1d(3), nn.Tanh()])
    model(x.tolist())
    assert model._fused == []
    model(x)
    assert model._fused == [0]
    model = nn.Sequential([nn.Linear(4, 3, rng=0), nn.BatchNorm1d(3), nn.Tanh()])
    with pytest.raises(ValueError, match=r"BatchNorm1d\(3.*more than 1 value per channel.*\(1, 3\)"):
        model(x[:1])
    assert model[1].num_batches_tracked == 0
    wide = nn.Sequential([nn.Linear(40, 3, rng=0), nn.BatchNorm1d(3), nn.Tanh()])
    assert wide(randn(rng, 2, 40)).shape == (2, 3) and wide._fused == [0]  # (2 rows of 40 values: fine)


def test_sequential_plan_follows_the_layers():
    """Sequential keeps the plan of its fused blocks between calls; it makes a new one when
    a layer is swapped or appended, or a layer's mode or engine changes -- through the
    container or on the layer itself -- and reads the parameters at every call, so
    load_state_dict and a reassigned array take effect."""
    rng = np.random.default_rng(44)
    x, dout = randn(rng, 6, 6), randn(rng, 6, 3)
    fused, alone = (block_model("c", np.float64, True, False, 1) for _ in range(2))

    def check(what, fused_blocks):
        out, dx = fused(x), None
        assert fused._fused == fused_blocks, what
        dx = fused.backward(dout)
        want_out, want_dx = one_by_one(alone, x, dout)
        assert np.array_equal(out, want_out) and np.array_equal(dx, want_dx), what
        assert_same_state(fused, alone, what)

    check("first call", [0, 3])
    plan = fused._plan
    check("second call (the plan kept)", [0, 3])
    assert fused._plan is plan
    for model in (fused, alone):  # a layer swapped for another kind
        model.layers[2] = nn.ReLU()
    check("Tanh swapped for ReLU", [3])
    for model in (fused, alone):
        model.layers[2] = nn.Tanh()
    check("a new Tanh", [0, 3])
    for model in (fused, alone):  # a sublayer's own eval(), not the container's
        model[4].eval()
    check("BatchNorm1d 4 in eval mode", [0])
    for model in (fused, alone):
        model[4].training = True
    check("its training flag set back", [0, 3])
    fused.eval()
    alone.eval()
    check("the container in eval mode", [])
    fused.train()
    alone.train()
    check("back to training", [0, 3])
    state = {k: v * 0.5 if v.dtype.kind == "f" else v for k, v in fused.state_dict().items()}
    for model in (fused, alone):  # parameters copied in place, then an array replaced
        model.load_state_dict(state)
    check("after load_state_dict", [0, 3])
    for model in (fused, alone):
        model[0].weight = model[0].weight * 2.0
        model[1].bias = model[1].bias + 1.0
    check("arrays reassigned", [0, 3])
    for model in (fused, alone):  # a layer appended: a third block
        model.layers += [nn.BatchNorm1d(3, engine="c"), nn.Tanh()]
    check("a block appended", [0, 3, 6])
    for layer in fused.layers[6:] + alone.layers[6:]:  # the last block on the NumPy engine: fused by it
        layer.engine = "numpy"
    check("a block moved to the NumPy engine", [0, 3, 6])
    fused[6].engine = alone[6].engine = "c"  # engines that differ: not fused
    check("a block of two engines", [0, 3])


def test_sequential_plan_kept_while_nothing_changes():
    """The plan is made again only when a setting changes: train() every step (a PyTorch
    habit) sets nothing new and keeps it; a layer made meanwhile, or a mode set on
    another model, may make a new one, with the same blocks."""
    rng = np.random.default_rng(46)
    x = randn(rng, 6, 6)
    model = block_model("c", np.float64, True, False, 0)
    model(x)
    plan = model._plan
    for _ in range(3):
        model.train()
        model[1].engine = "c"
        model[2].training = True
        model(x)
    assert model._plan is plan and model._fused == [0, 3]
    nn.Linear(2, 2).eval()  # another layer's setting: a new plan, the same blocks
    model(x)
    assert model._fused == [0, 3]


def test_sequential_fuses_the_blocks_after_one_it_cannot():
    """A block whose input it does not take (a list, not an array) runs its layers one by
    one; the blocks after it are still fused, with the same bits as the layers alone."""
    rng = np.random.default_rng(47)
    x, dout = randn(rng, 6, 6), randn(rng, 6, 3)
    fused, alone = (block_model("c", np.float64, True, False, 0) for _ in range(2))
    out = fused(x.tolist())
    assert fused._fused == [3]
    dx = fused.backward(dout)
    want_out, want_dx = one_by_one(alone, x, dout)
    assert np.array_equal(out, want_out) and np.array_equal(dx, want_dx)
    assert_same_state(fused, alone, "a list, then arrays")
    fused(x)
    assert fused._fused == [0, 3]


def test_layer_settings_are_checked_and_survive_pickling():
    """engine is checked when it is set; a layer pickles and copies with its engine (the
    module it calls is looked up again, not stored)."""
    import pickle

    layer = nn.Linear(3, 2, dtype=np.float32, rng=0)
    with pytest.raises(ValueError, match="engine"):
        layer.engine = "cuda"
    assert layer.engine == "c" and layer.tn is tinynet
    layer.engine = "numpy"
    for clone in (pickle.loads(pickle.dumps(layer)), copy.copy(layer), copy.deepcopy(layer)):
        assert clone.engine == "numpy" and clone.tn is ref and clone.dtype == np.float32 and clone.training
        x = np.ones((4, 3), np.float32)
        assert np.array_equal(clone(x), layer(x))


def test_sequential_plan_survives_deepcopy():
    rng = np.random.default_rng(45)
    x = randn(rng, 6, 6)
    model = block_model("c", np.float64, True, False, 0)
    model(x)
    clone = copy.deepcopy(model)
    clone[0].weight[...] = 0
    out = clone(x)
    assert clone._fused == [0, 3] and clone._plan.layers == clone.layers
    assert all(a is not b for a, b in zip(clone.layers, model.layers))
    assert np.array_equal(clone[0]._cache[0], x) and model[0]._cache[0] is x
    assert not np.array_equal(out, model(x))


@pytest.mark.parametrize("engine", ENGINE_NAMES)
def test_zero_grad_then_step_changes_nothing(engine):
    """After zero_grad (the model's or the optimizer's) every gradient is None, and a step
    skips every parameter: nothing changes, the optimizer's state neither."""
    from tinynet import optim

    rng = np.random.default_rng(44)
    model = block_model(engine, np.float64, True, False, 1)
    x, y = randn(rng, 8, 6), rng.integers(0, 3, 8)
    for make in (lambda m: optim.SGD(m, lr=0.1, momentum=0.9), lambda m: optim.Adam(m, lr=0.01),
                 lambda m: optim.Adagrad(m, lr=0.1)):
        opt = make(model)
        loss, probs = tn.cross_entropy_forward(model(x), y)
        model.backward(tn.cross_entropy_backward(probs, y))
        opt.step()
        for zero in (model.zero_grad, opt.zero_grad):
            zero()
            assert all(g is None for g in model.grads())
            before, state = [p.copy() for p in model.parameters()], opt.state_dict()
            opt.step()
            assert all(np.array_equal(a, b) for a, b in zip(model.parameters(), before))
            after = opt.state_dict()
            assert_close(after["state"], state["state"], "optimizer state")
