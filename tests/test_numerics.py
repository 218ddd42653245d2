"""Numerics at the edges, in both engines and both dtypes: softmax and cross-entropy stay
finite and exact for logits of +-1e4 and for target probabilities that underflow (the
loss comes from log-sum-exp, never from log(softmax)); a NaN stays in its own row (or
channel, or sequence) and never spreads through a batch."""
import math

import numpy as np
import pytest

import tinynet as tn
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


def test_column_sums_stay_accurate_over_long_batches():
    """The C engine's sums over a batch (bias gradients, batch-norm statistics and
    gradients) add rows in blocks and combine the blocks pairwise: in float32 over
    200,000 rows they stay within 1e-5 of the float64 sum, where adding row after row
    drifts by ~1e-3 (NumPy's own float32 column sum, x.sum(0), does: 2e-3 here)."""
    N = 200_000
    rng = np.random.default_rng(5)
    dy = np.full((N, 3), 0.1, np.float32)
    dy[:, 1] = rng.random(N, dtype=np.float32)
    _, _, db = tn.linear_backward(dy, np.ones((N, 2), np.float32), np.ones((3, 2), np.float32))
    exact = dy.astype(np.float64).sum(0)
    assert np.all(np.abs(db - exact) <= 1e-5 * np.abs(exact)), db - exact

    x = (1000 + rng.standard_normal((N, 2))).astype(np.float32)
    gamma, beta = np.ones(2, np.float32), np.zeros(2, np.float32)
    _, mean, invstd = tn.batchnorm_forward(x, gamma, beta)
    x64 = x.astype(np.float64)
    m64, v64 = x64.mean(0), x64.var(0)
    assert np.all(np.abs(mean - m64) <= 1e-6 * m64)
    assert np.all(np.abs(invstd * np.sqrt(v64 + 1e-5) - 1) <= 1e-5)
    g = rng.standard_normal((N, 2)).astype(np.float32) + 0.5
    _, dgamma, dbeta = tn.batchnorm_backward(g, x, gamma, mean, invstd)
    xhat = (x64 - mean) * invstd.astype(np.float64)
    assert np.all(np.abs(dbeta - g.astype(np.float64).sum(0)) <= 1e-5 * np.abs(g.astype(np.float64)).sum(0))
    assert np.all(np.abs(dgamma - (g * xhat).sum(0)) <= 1e-5 * np.abs(g * xhat).sum(0))


@pytest.mark.parametrize("N", [1, 7, 128])
def test_short_column_sums_are_plain_row_order_sums(N):
    """Up to one block (128 rows) a column sum is the plain sum in row order, bit for
    bit (the fused small rnn_lm_loss relies on it)."""
    dy = np.random.default_rng(N).standard_normal((N, 5)).astype(np.float32) * 10 ** np.arange(5, dtype=np.float32)
    _, _, db = tn.linear_backward(dy, np.ones((N, 1), np.float32), np.ones((5, 1), np.float32))
    want = np.zeros(5, np.float32)
    for row in dy:
        want += row
    assert np.array_equal(db, want)


def test_tanh_float32_within_5_ulp():
    """float32 tanh is a 13/6 rational interpolant (csrc/tn_tanh_impl.h): every 97th
    float32 in [0, 8) (11 million; the README's 4.9 ulp is the worst over all of them,
    measured once through tanh_forward) is within 5 ulp of tanh computed in float64, most of them exactly
    rounded; it is odd bit for bit, and exactly 1 from 7.99881 on."""
    x = np.arange(0, 0x41000000, 97, dtype=np.uint32).view(np.float32)
    got = tn.tanh_forward(x)
    want = np.tanh(x.astype(np.float64))
    ulp = np.spacing(np.abs(want.astype(np.float32))).astype(np.float64)
    err = np.abs(got - want) / ulp
    assert err.max() <= 5.0, (err.max(), x[err.argmax()])
    assert np.mean(got == want.astype(np.float32)) > 0.9
    assert np.array_equal(tn.tanh_forward(-x).view(np.uint32), (-got).view(np.uint32))
    big = np.array([7.99881172180175781, 8, 9, 1e30, np.inf], np.float32)
    assert tn.tanh_forward(big).tolist() == [1.0] * 5


def test_tanh_float64_within_3_ulp():
    """float64 tanh (expm1-based, glibc's formulation): within 2.6 ulp of tanh in long
    double over 8 million points spread over 1e-10 .. 20 on a log scale."""
    rng = np.random.default_rng(0)
    worst = 0.0
    for lo, hi in ((1e-10, 1e-3), (1e-3, 1.0), (1.0, 5.0), (5.0, 20.0)):
        x = np.exp(rng.uniform(np.log(lo), np.log(hi), 2_000_000))
        want = np.tanh(x.astype(np.longdouble))
        err = np.abs((tn.tanh_forward(x).astype(np.longdouble) - want) / np.spacing(want.astype(np.float64)))
        worst = max(worst, float(err.max()))
    assert worst <= 2.6, worst
