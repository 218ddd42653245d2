"""Numerics at the edges, in both engines and both dtypes: softmax and cross-entropy stay
finite and exact for logits of +-1e4 and for target probabilities that underflow (the
loss comes from log-sum-exp, never from log(softmax)); a NaN stays in its own row (or
channel, or sequence) and never spreads through a batch."""
import math

import numpy as np
import pytest

from conftest import DTYPES, ENGINES, RTOL, assert_close

both = pytest.mark.parametrize("engine", ENGINES)
dtypes = pytest.mark.parametrize("dtype", DTYPES)


@both
@dtypes
def test_softmax_of_huge_logits(engine, dtype):
    mod = ENGINES[engine]
    logits = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [1e4, 1e4, -1e4], [3e38, -3e38, 0.0]], dtype)
    p = mod.softmax(logits)
    assert np.all(np.isfinite(p))
    want = np.array([[1, 0, 0], [1 / 3] * 3, [0.5, 0.5, 0], [1, 0, 0]], dtype)
    assert_close(p, want, "softmax")


@both
@dtypes
@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_cross_entropy_of_huge_logits_is_exact(engine, dtype, reduction):
    """Target probabilities of e**-2e4, e**-1e4, e**-1000 (0 in floating point) give the
    exact losses 2e4, 1e4 + log 2, 1000 -- finite, no log(0)."""
    mod = ENGINES[engine]
    logits = np.array([[1e4, -1e4, 0.0], [0.0, 0.0, -1e4], [0.0, -1000.0, -1e4], [-1e4, -1e4, -1e4]], dtype)
    targets = np.array([1, 2, 1, 0])
    loss, probs = mod.cross_entropy_forward(logits, targets, reduction)
    want = 2e4 + (1e4 + math.log(2)) + 1000 + math.log(3)
    want = want / 4 if reduction == "mean" else want
    assert math.isfinite(loss) and abs(loss - want) <= RTOL[np.dtype(dtype)] * want, (loss, want)
    assert np.all(np.isfinite(probs))
    assert probs[0, 1] == 0 and probs[2, 1] == 0  # underflowed, and that is fine
    dlogits = mod.cross_entropy_backward(probs, targets, reduction)
    scale = 4 if reduction == "mean" else 1
    assert_close(dlogits[0] * scale, np.array([1, -1, 0], dtype), "dlogits[0]")


@both
@dtypes
def test_nan_stays_in_its_row(engine, dtype):
    mod = ENGINES[engine]
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((4, 5)).astype(dtype)
    logits[2, 3] = np.nan
    rows = np.arange(4) != 2

    p = mod.softmax(logits)
    assert np.all(np.isnan(p[2])) and np.all(np.isfinite(p[rows]))
    loss, probs = mod.cross_entropy_forward(logits, [0, 1, 2, 3], "sum")
    assert math.isnan(loss) and np.all(np.isnan(probs[2])) and np.all(np.isfinite(probs[rows]))
    d = mod.cross_entropy_backward(probs, [0, 1, 2, 3])
    assert np.all(np.isnan(d[2])) and np.all(np.isfinite(d[rows]))

    x, W = logits, rng.standard_normal((3, 5)).astype(dtype)
    y = mod.linear_forward(x, W)
    assert np.all(np.isnan(y[2])) and np.all(np.isfinite(y[rows]))
    dx, dW, db = mod.linear_backward(np.ones((4, 3), dtype), np.nan_to_num(x), W)
    assert np.all(np.isfinite(dx)) and np.all(np.isfinite(dW))
    dx, dW, db = mod.linear_backward(y, np.nan_to_num(x), W)  # dy has a NaN row
    assert np.all(np.isnan(dx[2])) and np.all(np.isfinite(dx[rows])) and np.all(np.isnan(dW))

    out = mod.embedding_forward(logits, [[0, 2], [1, 3]])
    assert np.isnan(out[0, 1, 3]) and np.isfinite(out).sum() == out.size - 1


@both
@dtypes
def test_nan_stays_in_its_channel(engine, dtype):
    mod = ENGINES[engine]
    x = np.random.default_rng(1).standard_normal((6, 4)).astype(dtype)
    x[3, 1] = np.nan
    cols = np.arange(4) != 1
    y, mean, invstd = mod.batchnorm_forward(x, np.ones(4, dtype), np.zeros(4, dtype))
    assert np.all(np.isnan(y[:, 1])) and np.all(np.isfinite(y[:, cols]))
    assert np.isnan(mean[1]) and np.all(np.isfinite(mean[cols]))
    y = mod.batchnorm_inference(x, np.ones(4, dtype), np.zeros(4, dtype), np.zeros(4, dtype), np.ones(4, dtype))
    assert np.isnan(y[3, 1]) and np.isfinite(y).sum() == y.size - 1


@both
@dtypes
def test_nan_stays_in_its_sequence(engine, dtype):
    """A NaN in sequence 1 at step 2 makes that sequence's states NaN from step 2 on;
    the other sequences of the batch, and the steps before, are untouched."""
    mod = ENGINES[engine]
    rng = np.random.default_rng(2)
    T, B, D, H = 5, 3, 4, 6
    x = rng.standard_normal((T, B, D)).astype(dtype)
    W_xh, W_hh, b_h = (rng.standard_normal(s).astype(dtype) * 0.3 for s in [(H, D), (H, H), (H,)])
    clean = mod.rnn_forward(x, None, W_xh, W_hh, b_h)
    x[2, 1, 0] = np.nan
    hs = mod.rnn_forward(x, None, W_xh, W_hh, b_h)
    assert np.all(np.isnan(hs[2:, 1]))
    keep = np.ones((T, B), bool)
    keep[2:, 1] = False
    assert np.array_equal(hs[keep], clean[keep])


@both
@dtypes
def test_activations_at_the_extremes(engine, dtype):
    mod = ENGINES[engine]
    big = np.finfo(dtype).max
    x = np.array([-big, -1e4, -100.0, -20.0, -1e-30, 0.0, 1e-30, 20.0, 100.0, 1e4, big, -np.inf, np.inf, np.nan], dtype)
    t = mod.tanh_forward(x)
    assert t[[0, 1, 2, 9, 10, 11, 12]].tolist() == [-1, -1, -1, 1, 1, -1, 1]
    assert t[4] == x[4] and t[5] == 0 and t[6] == x[6]  # tanh(x) = x for tiny x
    assert np.isnan(t[-1]) and np.all(np.abs(t[:-1]) <= 1)
    s = mod.sigmoid_forward(x)
    assert np.isnan(s[-1]) and np.all((s[:-1] >= 0) & (s[:-1] <= 1))
    assert s[0] == 0 and s[10] == 1 and s[11] == 0 and s[12] == 1
    r = mod.relu_forward(x)
    assert np.isnan(r[-1]) and r[0] == 0 and r[10] == big and r[11] == 0 and r[12] == np.inf
