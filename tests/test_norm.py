"""Batch normalisation: batchnorm_forward / batchnorm_backward and batchnorm_inference;
layer normalisation: layernorm_forward / layernorm_backward.

* the C engine against the NumPy engine on random inputs (helpers.check): several
  batch sizes and channel counts, both dtypes, with and without Bessel's correction,
  and non-contiguous / Fortran / byte-swapped / negative-stride layouts; batches of one
  and two rows (defined, or a clear error in both engines); layer norm over (C,),
  (T, C), (B, T, C), C = 1, C not a multiple of any vector width, zero-size axes,
  weight and bias None;
* x (..., C), channels last (makemore part 5's (B, T, C), statistics over (B, T)): both
  engines, the C engine's bits those of the rows (N, C); no values per channel is an
  error;
* the running statistics (running_mean, running_var, momentum) updated in place as
  F.batch_norm's training mode does (the unbiased variance), both engines alike, by hand,
  the outputs unchanged by them; their errors;
* layer norm at the edges: a constant row gives the bias and a finite gradient; the
  statistics of rows far from 0;
* layer norm against PyTorch (F.layer_norm and autograd; skipped without torch);
* the NumPy engine's backward passes against central finite differences (float64):
  TestGradients.

The matrices every function goes through (bad inputs, properties, threads, leaks,
recorded bits) are generated from its spec in tests/specs.py.
"""
import re

import numpy as np
import pytest

import tinynet as tn
import tinynet.reference as ref
from conftest import DTYPES, ENGINES, RTOL, assert_close
from helpers import LAYOUTS, check, check_grad, numgrad, rand, randn, relayout

# -------------------------------------------------------------------- the engines


@pytest.mark.parametrize("correction", [0, 1])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("N,C", [(2, 1), (2, 5), (32, 64), (7, 3), (200, 9)])
def test_batchnorm(N, C, dtype, correction):
    rng = np.random.default_rng(N + C)
    x = randn(rng, (N, C), dtype, 2.0) + 1.5
    gamma, beta = randn(rng, C, dtype) + 1, randn(rng, C, dtype)
    y, mean, invstd = check("batchnorm_forward", x, gamma, beta, 1e-5, correction)
    dy = randn(rng, (N, C), dtype)
    check("batchnorm_backward", dy, x, gamma, mean, invstd, correction)
    rm, rv = randn(rng, C, dtype), np.abs(randn(rng, C, dtype)) + 0.1
    check("batchnorm_inference", x, gamma, beta, rm, rv)
    check("batchnorm_inference", x, gamma, beta, rm, rv, eps=0.1)
    for kind in LAYOUTS:
        assert_close(tn.batchnorm_forward(*relayout([x, gamma, beta], kind), 1e-5, correction), (y, mean, invstd), kind)


def test_batchnorm_small_batches():
    x = np.array([[1.0, -2.0, 3.0]])
    # N = 1: variance 0 is defined without Bessel's correction ...
    y, mean, invstd = check("batchnorm_forward", x, np.ones(3), np.zeros(3))
    assert_close(y, np.zeros((1, 3)))
    check("batchnorm_backward", np.ones((1, 3)), x, np.ones(3), mean, invstd)
    # ... and undefined with it: a clear error in both engines
    for engine in (tn, ref):
        with pytest.raises(ValueError, match=r"batchnorm_forward: .*correction=1.*\(1, 3\)"):
            engine.batchnorm_forward(x, np.ones(3), np.zeros(3), correction=1)
    # N = 2 with correction=1: defined
    x2 = np.array([[1.0, 2.0], [3.0, 5.0]])
    y2, m2, s2 = check("batchnorm_forward", x2, np.ones(2), np.zeros(2), 0.0, 1)
    assert_close(s2, 1 / np.sqrt(np.array([2.0, 4.5])))


# ----------------------------------------------- x (..., C): channels last, any leading axes

# makemore part 5's (B, T, C) with its statistics over (B, T), more leading axes, a
# leading axis of 1; zero channels
SEQUENCES = [(4, 8, 5), (32, 4, 64), (2, 3, 4, 3), (1, 2, 3), (3, 1, 6), (5, 2, 0)]


@pytest.mark.parametrize("correction", [0, 1])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SEQUENCES, ids=str)
def test_batchnorm_channels_last(shape, dtype, correction):
    """Both engines on x (..., C), and the C engine's bits are those of the rows (N, C):
    the statistics run over every leading axis."""
    rng = np.random.default_rng(sum(shape) + correction)
    C = shape[-1]
    x, dy = randn(rng, shape, dtype, 2.0) + 1, randn(rng, shape, dtype)
    gamma, beta = randn(rng, C, dtype) + 1, randn(rng, C, dtype)
    y, mean, invstd = check("batchnorm_forward", x, gamma, beta, 1e-5, correction)
    dx, dgamma, dbeta = check("batchnorm_backward", dy, x, gamma, mean, invstd, correction)
    rm, rv = randn(rng, C, dtype), np.abs(randn(rng, C, dtype)) + 0.1
    y_eval = check("batchnorm_inference", x, gamma, beta, rm, rv)
    assert y.shape == dx.shape == y_eval.shape == shape
    rows = (-1 if C else int(np.prod(shape[:-1])), C)
    for got, want in [((y, mean, invstd), tn.batchnorm_forward(x.reshape(rows), gamma, beta, 1e-5, correction)),
                      ((dx, dgamma, dbeta), tn.batchnorm_backward(dy.reshape(rows), x.reshape(rows), gamma, mean,
                                                                  invstd, correction)),
                      ((y_eval,), (tn.batchnorm_inference(x.reshape(rows), gamma, beta, rm, rv),))]:
        for g, w in zip(got, want):
            assert np.array_equal(g, w.reshape(g.shape))
    for kind in LAYOUTS:
        assert_close(tn.batchnorm_forward(*relayout([x, gamma, beta], kind), 1e-5, correction), (y, mean, invstd), kind)
        check("batchnorm_backward", *relayout([dy, x], kind), gamma, mean, invstd, correction)


@pytest.mark.parametrize("shape", [(0, 3, 4), (3, 0, 4), (1, 1, 4)], ids=str)
def test_batchnorm_channels_last_needs_values(shape):
    """No value per channel (a zero-size leading axis), or one with Bessel's correction:
    the same ValueError in both engines, naming x's shape."""
    x = np.ones(shape)
    for engine in (tn, ref):
        with pytest.raises(ValueError, match=rf"batchnorm_forward: .*correction=1.*{re.escape(str(shape))}"):
            engine.batchnorm_forward(x, np.ones(4), np.zeros(4), correction=1)
    # eval mode needs no batch: empty in, empty out
    check("batchnorm_inference", np.ones(shape[:1] + (0,) + shape[2:]), np.ones(4), np.zeros(4), np.zeros(4),
          np.ones(4))


# ------------------------------------------------------------ running statistics


def running_by_hand(x, rm, rv, momentum):
    """PyTorch's training-mode update: the batch mean and the unbiased batch variance."""
    rows = x.reshape(-1, x.shape[-1]).astype(np.float64)
    return ((1 - momentum) * rm + momentum * rows.mean(0), (1 - momentum) * rv + momentum * rows.var(0, ddof=1))


@pytest.mark.parametrize("momentum", [0.1, 0.0, 1.0, 0.37])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(32, 6), (4, 8, 5), (2, 3)], ids=str)
def test_batchnorm_running_statistics(shape, dtype, momentum):
    """Updated in place by both engines alike, as F.batch_norm's training mode does (the
    unbiased variance whatever correction is); the outputs are those of the call without
    them, bit for bit; momentum 0 keeps them, 1 replaces them."""
    rng = np.random.default_rng(len(shape) + int(momentum * 100))
    C = shape[-1]
    x, gamma, beta = randn(rng, shape, dtype, 2.0) + 1, randn(rng, C, dtype) + 1, randn(rng, C, dtype)
    rm0, rv0 = randn(rng, C, dtype), np.abs(randn(rng, C, dtype)) + 0.5
    for correction in (0, 1):
        got = {}
        for name, engine in (("c", tn), ("numpy", ref)):
            rm, rv = rm0.copy(), rv0.copy()
            out = engine.batchnorm_forward(x, gamma, beta, 1e-5, correction, rm, rv, momentum)
            for a, b in zip(out, engine.batchnorm_forward(x, gamma, beta, 1e-5, correction)):
                assert np.array_equal(a, b), f"{name}: the running statistics changed the outputs"
            got[name] = (rm, rv)
        assert_close(got["c"], got["numpy"], "running statistics")
        want = running_by_hand(x, rm0.astype(np.float64), rv0.astype(np.float64), momentum)
        assert_close(got["c"], tuple(w.astype(dtype) for w in want), "running statistics by hand",
                     rtol=1e-4 if dtype == np.float32 else 1e-12)
        if momentum == 0:
            assert np.array_equal(got["c"][0], rm0) and np.array_equal(got["c"][1], rv0)


def test_batchnorm_running_statistics_errors():
    """One without the other, a momentum outside [0, 1], a wrong shape, a read-only array,
    one value per channel: a ValueError naming it, in both engines, nothing modified."""
    x, g, b = np.arange(12.0).reshape(4, 3), np.ones(3), np.zeros(3)
    ro = np.zeros(3)
    ro.flags.writeable = False
    cases = [(dict(running_mean=np.zeros(3)), "give both running_mean and running_var"),
             (dict(running_mean=np.zeros(3), running_var=np.ones(3), momentum=1.5), r"momentum must be in \[0, 1\]"),
             (dict(running_mean=np.zeros(4), running_var=np.ones(3)), r"running_mean has shape \(4,\)"),
             (dict(running_mean=np.zeros(3), running_var=ro), "running_var is read-only"),
             (dict(running_mean=np.zeros(3), running_var=np.ones(3), x=x[:1]), "running variance .* needs more than 1")]
    for kw, msg in cases:
        for engine in (tn, ref):
            args = dict(dict(x=x, gamma=g, beta=b), **kw)
            before = {k: np.copy(v) for k, v in args.items()}
            with pytest.raises(ValueError, match=msg):
                engine.batchnorm_forward(**args)
            assert all(np.array_equal(args[k], v) for k, v in before.items())
# --------------------------------------------------------------------- layer norm

# x's shapes: one vector, rows, a transformer's (B, T, C); C = 1, C not a multiple of
# 8 or 16 (the row sums' partial sums), above 128 rows (the column sums' blocks), zero
# sizes anywhere
LN_SHAPES = [(5,), (1,), (3, 1), (4, 7), (16, 64), (2, 3, 17), (32, 16, 64), (3, 5, 33), (300, 9), (129, 16),
             (0, 4), (3, 0), (2, 0, 5), (0,)]


@pytest.mark.parametrize("affine", ["weight+bias", "weight", "bias", "none"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", LN_SHAPES, ids=str)
def test_layernorm(shape, dtype, affine):
    rng = np.random.default_rng(sum(shape) + len(shape))
    C = shape[-1]
    x = randn(rng, shape, dtype, 2.0) + 1.5
    weight = randn(rng, C, dtype) + 1 if "weight" in affine else None
    bias = randn(rng, C, dtype) if "bias" in affine else None
    y, mean, rstd = check("layernorm_forward", x, weight, bias)
    assert y.shape == shape and mean.shape == rstd.shape == shape[:-1]
    check("layernorm_forward", x, weight, bias, eps=0.1)
    dy = randn(rng, shape, dtype)
    dx, dweight, dbias = check("layernorm_backward", dy, x, weight, mean, rstd)
    assert (dweight is None) == (weight is None) and dbias.shape == (C,)
    for kind in LAYOUTS:
        assert_close(tn.layernorm_forward(*relayout([x, weight, bias], kind)), (y, mean, rstd), kind)
        assert_close(tn.layernorm_backward(*relayout([dy, x, weight, mean, rstd], kind)), (dx, dweight, dbias), kind)


def test_layernorm_statistics_are_the_biased_ones_over_the_last_axis():
    x = np.array([[1.0, 2.0, 3.0, 6.0], [-1.0, 1.0, -1.0, 1.0]])
    for name, mod in ENGINES.items():
        y, mean, rstd = mod.layernorm_forward(x, None, None, eps=0.0)
        assert_close(mean, np.array([3.0, 0.0]), f"{name} mean")
        assert_close(rstd, 1 / np.sqrt(np.array([3.5, 1.0])), f"{name} rstd")  # sum (x - mean)^2 / C
        assert_close(y, (x - mean[:, None]) * rstd[:, None], f"{name} y")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("engine", ENGINES)
def test_layernorm_of_a_constant_row_is_the_bias(engine, dtype):
    """A constant row has mean exactly its value (x[0] + mean(x - x[0])), so it
    normalises to exactly 0: y is the bias, bit for bit, and the gradient is finite --
    also for values whose plain sum would round (0.1, 1e4 + 0.1)."""
    mod = ENGINES[engine]
    C = 37
    x = np.array([[0.1] * C, [1e4 + 0.1] * C, [-3.0] * C, [7e-30] * C], dtype)
    weight, bias = np.linspace(0.5, 2, C).astype(dtype), np.linspace(-1, 1, C).astype(dtype)
    y, mean, rstd = mod.layernorm_forward(x, weight, bias)
    assert np.array_equal(y, np.broadcast_to(bias, x.shape)), y - bias
    assert np.array_equal(mean, x[:, 0])
    assert np.allclose(rstd, 1 / np.sqrt(dtype(1e-5)), rtol=1e-6)
    dy = np.random.default_rng(0).standard_normal(x.shape).astype(dtype)
    dx, dweight, dbias = mod.layernorm_backward(dy, x, weight, mean, rstd)
    assert np.all(np.isfinite(dx)) and np.all(np.isfinite(dweight)) and np.all(np.isfinite(dbias))
    g = dy * weight  # xhat = 0: dx = rstd (g - mean(g)), dweight = 0
    assert_close(dx, rstd[:, None] * (g - g.mean(axis=1, keepdims=True)), f"{engine} dx")
    assert np.array_equal(dweight, np.zeros(C, dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_layernorm_rows_far_from_zero(dtype):
    """Rows with a large common offset (1e4 + N(0, 1)): the two-pass variance stays
    within the dtype's rounding of float64's (a one-pass E[x^2] - E[x]^2 would lose it
    all in float32), and y is off by no more than the rounding of the mean itself (an
    ulp or two of 1e4) times rstd."""
    rng = np.random.default_rng(6)
    x = (1e4 + rng.standard_normal((8, 64))).astype(dtype)
    x64 = x.astype(np.float64)
    want_rstd = 1 / np.sqrt(x64.var(axis=1) + 1e-5)
    want_y = (x64 - x64.mean(1, keepdims=True)) * want_rstd[:, None]
    for name, mod in ENGINES.items():
        y, mean, rstd = mod.layernorm_forward(x, None, None)
        assert np.max(np.abs(rstd / want_rstd - 1)) <= (1e-12 if dtype == np.float64 else 1e-6), name
        assert np.max(np.abs(y - want_y)) <= 2 * np.spacing(dtype(1e4)) * np.max(want_rstd), name


def test_layernorm_backward_sums_are_column_sums():
    """dweight and dbias add the rows as every column sum of the C engine does (rows in
    order within blocks of 128, the blocks pairwise): bit for bit the bias gradient of
    linear_backward, over 300 rows."""
    rng = np.random.default_rng(3)
    x, dy = rng.standard_normal((300, 9)).astype(np.float32), rng.standard_normal((300, 9)).astype(np.float32)
    y, mean, rstd = tn.layernorm_forward(x, None, None)
    _, _, dbias = tn.layernorm_backward(dy, x, np.ones(9, np.float32), mean, rstd)
    ones = np.ones((300, 1), np.float32)
    assert np.array_equal(dbias, tn.linear_backward(dy, ones, np.ones((9, 1), np.float32))[2])
    xhat = (x - mean[:, None]) * rstd[:, None]
    _, dweight, _ = tn.layernorm_backward(dy, x, np.ones(9, np.float32), mean, rstd)
    assert np.array_equal(dweight, tn.linear_backward(dy * xhat, ones, np.ones((9, 1), np.float32))[2])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("affine", [True, False], ids=["affine", "no-affine"])
@pytest.mark.parametrize("shape", [(32, 16, 64), (5, 33), (7,)], ids=str)
def test_layernorm_against_torch(shape, affine, dtype):
    """F.layer_norm and its autograd gradients (x, weight, bias), with the saved mean and
    rstd of aten's native_layer_norm: 1e-10 (float64) and 1e-5 (float32) of each
    tensor's scale; prints each tensor's largest difference."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(len(shape))
    C = shape[-1]
    x, dy = randn(rng, shape, dtype, 2.0) + 0.5, randn(rng, shape, dtype)
    w, b = (randn(rng, C, dtype) + 1, randn(rng, C, dtype)) if affine else (None, None)
    y, mean, rstd = tn.layernorm_forward(x, w, b)
    dx, dw, db = tn.layernorm_backward(dy, x, w, mean, rstd)

    t = {k: torch.from_numpy(v.copy()).requires_grad_(True) for k, v in dict(x=x, w=w, b=b).items() if v is not None}
    ty = F.layer_norm(t["x"], (C,), t.get("w"), t.get("b"), 1e-5)
    ty.backward(torch.from_numpy(dy))
    _, tmean, trstd = torch.ops.aten.native_layer_norm(t["x"].detach(), [C], None, None, 1e-5)
    rtol = 1e-10 if dtype == np.float64 else 1e-5
    pairs = [("y", y, ty), ("mean", mean, tmean.reshape(shape[:-1])), ("rstd", rstd, trstd.reshape(shape[:-1])),
             ("dx", dx, t["x"].grad)]
    if affine:
        pairs += [("dweight", dw, t["w"].grad), ("dbias", db, t["b"].grad)]
    for name, got, want in pairs:
        want = want.detach().numpy()
        print(f"layernorm {np.dtype(dtype).name} {shape} {name}: max |diff| "
              f"{np.max(np.abs(got - want)):.3e} (scale {np.max(np.abs(want)):.3e})")
        assert_close(got, want, name, rtol=rtol)


# ------------------------------------------------------------- finite differences


class TestGradients:
    """The NumPy engine's backward passes against central finite differences (helpers.check_grad)."""

    @pytest.mark.parametrize("correction", [0, 1])
    @pytest.mark.parametrize("N", [2, 3, 8])
    def test_batchnorm(self, N, correction):
        rng = np.random.default_rng(4 + N)
        x, gamma, beta = rand(rng, N, 4, scale=2.0) + 1, rand(rng, 4) + 1, rand(rng, 4)
        R = rand(rng, N, 4)
        L = lambda: np.sum(R * ref.batchnorm_forward(x, gamma, beta, 1e-5, correction)[0])
        _, mean, invstd = ref.batchnorm_forward(x, gamma, beta, 1e-5, correction)
        dx, dgamma, dbeta = ref.batchnorm_backward(R, x, gamma, mean, invstd, correction)
        for name, p, g in [("x", x, dx), ("gamma", gamma, dgamma), ("beta", beta, dbeta)]:
            check_grad(name, g, numgrad(L, p))

    @pytest.mark.parametrize("correction", [0, 1])
    @pytest.mark.parametrize("shape", [(2, 3, 4), (3, 1, 2, 4)], ids=str)
    def test_batchnorm_channels_last(self, shape, correction):
        """x (B, T, C) (and more leading axes): the statistics over all of them."""
        rng = np.random.default_rng(sum(shape))
        x, gamma, beta = rand(rng, *shape, scale=2.0) + 1, rand(rng, 4) + 1, rand(rng, 4)
        R = rand(rng, *shape)
        L = lambda: np.sum(R * ref.batchnorm_forward(x, gamma, beta, 1e-5, correction)[0])
        _, mean, invstd = ref.batchnorm_forward(x, gamma, beta, 1e-5, correction)
        dx, dgamma, dbeta = ref.batchnorm_backward(R, x, gamma, mean, invstd, correction)
        for name, p, g in [("x", x, dx), ("gamma", gamma, dgamma), ("beta", beta, dbeta)]:
            check_grad(name, g, numgrad(L, p))

    def test_batchnorm_inference(self):
        # eval mode is affine in x; its gradient is gamma / sqrt(running_var + eps)
        rng = np.random.default_rng(5)
        x, gamma, beta, rm, rv = rand(rng, 3, 4), rand(rng, 4), rand(rng, 4), rand(rng, 4), np.abs(rand(rng, 4)) + 0.5
        R = rand(rng, 3, 4)
        L = lambda: np.sum(R * ref.batchnorm_inference(x, gamma, beta, rm, rv))
        check_grad("x", R * gamma / np.sqrt(rv + 1e-5), numgrad(L, x))

    @pytest.mark.parametrize("affine", ["weight+bias", "none"])
    @pytest.mark.parametrize("shape", [(3, 5), (2, 3, 4), (6,), (2, 1)], ids=str)
    def test_layernorm(self, shape, affine):
        rng = np.random.default_rng(7 + len(shape))
        C = shape[-1]
        x = rand(rng, *shape, scale=2.0) + 1
        weight, bias = (rand(rng, C) + 1, rand(rng, C)) if affine != "none" else (None, None)
        R = rand(rng, *shape)
        L = lambda: np.sum(R * ref.layernorm_forward(x, weight, bias)[0])
        _, mean, rstd = ref.layernorm_forward(x, weight, bias)
        dx, dweight, dbias = ref.layernorm_backward(R, x, weight, mean, rstd)
        check_grad("x", dx, numgrad(L, x))
        if weight is not None:
            check_grad("weight", dweight, numgrad(L, weight))
            check_grad("bias", dbias, numgrad(L, bias))
        else:  # dbias is the gradient of a bias added to y: sum of R over the rows
            assert dweight is None
            assert_close(dbias, R.reshape(-1, C).sum(axis=0), "dbias")
