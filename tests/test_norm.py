"""Batch normalisation: batchnorm_forward / batchnorm_backward and batchnorm_inference.

* the C engine against the NumPy engine on random inputs (helpers.check): several
  batch sizes and channel counts, both dtypes, with and without Bessel's correction,
  and non-contiguous / Fortran / byte-swapped / negative-stride layouts; batches of one
  and two rows (defined, or a clear error in both engines);
* the NumPy engine's backward passes against central finite differences (float64):
  TestGradients.

The matrices every function goes through (bad inputs, properties, threads, leaks,
recorded bits) are generated from its spec in tests/specs.py.
"""
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

    def test_batchnorm_inference(self):
        # eval mode is affine in x; its gradient is gamma / sqrt(running_var + eps)
        rng = np.random.default_rng(5)
        x, gamma, beta, rm, rv = rand(rng, 3, 4), rand(rng, 4), rand(rng, 4), rand(rng, 4), np.abs(rand(rng, 4)) + 0.5
        R = rand(rng, 3, 4)
        L = lambda: np.sum(R * ref.batchnorm_inference(x, gamma, beta, rm, rv))
        check_grad("x", R * gamma / np.sqrt(rv + 1e-5), numgrad(L, x))
