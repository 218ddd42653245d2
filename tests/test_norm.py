"""Batch normalisation: batchnorm_forward / batchnorm_backward and batchnorm_inference.

* the C engine against the NumPy engine on random inputs (helpers.check): several
  batch sizes and channel counts, both dtypes, with and without Bessel's correction,
  and non-contiguous / Fortran / byte-swapped / negative-stride layouts; batches of one
  and two rows (defined, or a clear error in both engines);
* x (..., C), channels last (makemore part 5's (B, T, C), statistics over (B, T)): both
  engines, the C engine's bits those of the rows (N, C); no values per channel is an
  error;
* the running statistics (running_mean, running_var, momentum) updated in place as
  F.batch_norm's training mode does (the unbiased variance), both engines alike, by hand,
  the outputs unchanged by them; their errors;
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
from conftest import DTYPES, assert_close
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
