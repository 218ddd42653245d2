"""The embedding: embedding_forward / embedding_backward.

* the C engine against the NumPy engine on random inputs (helpers.check): ids of any
  number of dimensions (none, and zero-size, included), both dtypes, and
  non-contiguous / Fortran / byte-swapped / negative-stride tables; repeated ids
  accumulate their gradients;
* the NumPy engine's backward pass against central finite differences (float64):
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


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("idx_shape", [(), (1,), (5,), (32, 3), (2, 3, 4), (0, 3)])
def test_embedding(idx_shape, dtype):
    rng = np.random.default_rng(sum(idx_shape) + 3)
    V, E = 6, 5
    table = randn(rng, (V, E), dtype)
    idx = rng.integers(0, V, idx_shape)
    out = check("embedding_forward", table, idx)
    assert out.shape == idx_shape + (E,)
    dout = randn(rng, out.shape, dtype)
    check("embedding_backward", dout, idx, V)
    for kind in LAYOUTS:
        assert_close(tn.embedding_forward(*relayout([table], kind), idx), out, kind)
        assert_close(tn.embedding_backward(*relayout([dout], kind), idx, V), tn.embedding_backward(dout, idx, V), kind)


def test_embedding_repeated_indices_accumulate():
    dout = np.arange(12.0).reshape(4, 3)
    d = check("embedding_backward", dout, [2, 0, 2, 2], 4)
    assert_close(d, np.array([[3.0, 4, 5], [0, 0, 0], [0 + 6 + 9, 1 + 7 + 10, 2 + 8 + 11], [0, 0, 0]]))


# ------------------------------------------------------------- finite differences


class TestGradients:
    """The NumPy engine's backward pass against central finite differences (helpers.check_grad)."""

    def test_embedding(self):
        rng = np.random.default_rng(3)
        table, idx = rand(rng, 5, 3), np.array([[0, 4, 4], [2, 0, 4]])
        R = rand(rng, 2, 3, 3)
        L = lambda: np.sum(R * ref.embedding_forward(table, idx))
        check_grad("table", ref.embedding_backward(R, idx, 5), numgrad(L, table))
