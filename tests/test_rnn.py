"""The vanilla RNN: rnn_forward / rnn_backward (full and truncated BPTT), rnn_lm_loss and
rnn_sample.

* the C engine against the NumPy engine on random inputs (helpers.check, helpers.both):
  several shapes (size-1, odd and zero sizes included), both dtypes, batched and
  unbatched, token and float inputs, every bptt_steps, and non-contiguous / Fortran /
  byte-swapped / negative-stride layouts; bptt_steps >= T is full BPTT;
* rnn_lm_loss's arrays are disjoint views of one allocation (C engine);
* rnn_sample: greedy and seeded draws, reproducible, and following the distribution
  (temperature included);
* the NumPy engine's backward passes against central finite differences (float64),
  truncated BPTT as the exact gradient of the truncated objective: TestGradients.

The matrices every function goes through (bad inputs, properties, threads, leaks,
recorded bits) are generated from its spec in tests/specs.py.
"""
import numpy as np
import pytest

import tinynet as tn
import tinynet.reference as ref
from conftest import DTYPES, assert_close
from helpers import LAYOUTS, both, check, check_grad, numgrad, rand, randn, relayout

# -------------------------------------------------------------------- the engines

RNN_SHAPES = [  # T, B, D, H
    (1, 1, 1, 1),
    (4, 1, 4, 4),
    (5, 3, 7, 6),
    (9, 2, 3, 17),
    (3, 32, 27, 64),
    (0, 2, 3, 4),
    (3, 0, 3, 4),
]


def rnn_weights(rng, D, H, dtype):
    """Weights scaled like a real initialisation (W_hh contracting): a chaotic RNN
    would amplify float32 rounding through time in both engines alike."""
    return (randn(rng, (H, D), dtype, 1 / np.sqrt(D)), randn(rng, (H, H), dtype, 0.7 / np.sqrt(H)),
            randn(rng, H, dtype, 0.1))


def with_unbatched(shapes):
    """(shape..., batched) cases: every shape batched, the B = 1 ones also unbatched."""
    return [(*s, True) for s in shapes] + [(*s, False) for s in shapes if s[1] == 1]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("T,B,D,H,batched", with_unbatched(RNN_SHAPES))
@pytest.mark.parametrize("tokens", [False, True], ids=["floats", "tokens"])
def test_rnn(T, B, D, H, batched, dtype, tokens):
    rng = np.random.default_rng(T * 1000 + B * 100 + D * 10 + H)
    W_xh, W_hh, b_h = rnn_weights(rng, D, H, dtype)
    x = rng.integers(0, D, (T, B)) if tokens else randn(rng, (T, B, D), dtype)
    h0 = randn(rng, (B, H), dtype)
    if not batched:
        x, h0 = x[:, 0], h0[0]
    hs = check("rnn_forward", x, h0, W_xh, W_hh, b_h)
    check("rnn_forward", x, None, W_xh, W_hh, b_h)
    dhs = randn(rng, hs.shape, dtype)
    for k in [None, 1, 2, 3, T + 1]:
        dx, dh0, *_ = check("rnn_backward", dhs, x, h0, hs, W_xh, W_hh, bptt_steps=k)
        assert (dx is None) == tokens
    check("rnn_backward", dhs, x, None, tn.rnn_forward(x, None, W_xh, W_hh, b_h), W_xh, W_hh)


@pytest.mark.parametrize("kind", LAYOUTS)
def test_rnn_layouts(kind):
    rng = np.random.default_rng(7)
    T, B, D, H = 4, 3, 5, 6
    W_xh, W_hh, b_h = rnn_weights(rng, D, H, np.float64)
    x, h0 = randn(rng, (T, B, D), np.float64), randn(rng, (B, H), np.float64)
    hs = tn.rnn_forward(x, h0, W_xh, W_hh, b_h)
    assert_close(tn.rnn_forward(*relayout([x, h0, W_xh, W_hh, b_h], kind)), hs, kind)
    dhs = randn(rng, hs.shape, np.float64)
    want = tn.rnn_backward(dhs, x, h0, hs, W_xh, W_hh, 2)
    assert_close(tn.rnn_backward(*relayout([dhs, x, h0, hs, W_xh, W_hh], kind), 2), want, kind)


def test_rnn_bptt_steps_at_least_T_is_full_bptt():
    rng = np.random.default_rng(3)
    T, B, D, H = 6, 2, 3, 4
    W_xh, W_hh, b_h = rnn_weights(rng, D, H, np.float64)
    x = randn(rng, (T, B, D), np.float64)
    hs = tn.rnn_forward(x, None, W_xh, W_hh, b_h)
    dhs = randn(rng, hs.shape, np.float64)
    full = tn.rnn_backward(dhs, x, None, hs, W_xh, W_hh)
    for engine in (tn, ref):
        assert_close(engine.rnn_backward(dhs, x, None, hs, W_xh, W_hh, T), full)
        assert_close(engine.rnn_backward(dhs, x, None, hs, W_xh, W_hh, 100), full)
        # and k = 1 differs: it is truncated
        assert not np.allclose(engine.rnn_backward(dhs, x, None, hs, W_xh, W_hh, 1)[3], full[3])


@pytest.mark.parametrize("reduction", ["sum", "mean"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("T,B,D,H,batched", with_unbatched([(1, 1, 1, 1), (4, 1, 4, 4), (25, 1, 65, 100), (7, 5, 11, 9),
                                                             (0, 3, 4, 5)]))
def test_rnn_lm_loss(T, B, D, H, batched, dtype, reduction):
    rng = np.random.default_rng(T + B + D + H)
    V = D
    W_xh, W_hh, b_h = rnn_weights(rng, D, H, dtype)
    W_hy, b_y = randn(rng, (V, H), dtype, 0.3), randn(rng, V, dtype, 0.1)
    inputs, targets = rng.integers(0, D, (T, B)), rng.integers(0, V, (T, B))
    h0 = randn(rng, (B, H), dtype)
    if not batched:
        inputs, targets, h0 = inputs[:, 0], targets[:, 0], h0[0]
    for k in [None, 1, 3]:
        for h in [h0, None]:
            (loss, grads, h_last), want = both("rnn_lm_loss", inputs, targets, h, W_xh, W_hh, b_h, W_hy, b_y,
                                               bptt_steps=k, reduction=reduction)
            assert_close(loss, want[0], "loss", rtol=1e-4 if dtype == np.float32 else 1e-10)
            assert_close(grads, want[1], "grads")
            assert_close(h_last, want[2], "h_last")


def test_rnn_lm_loss_arrays_are_views_of_one_allocation():
    """As the README says: the gradients and h_last are writeable, C-contiguous views of
    one buffer made for the call, disjoint from each other (the NumPy engine returns
    separate arrays).  Bit-exact agreement with the layer functions composed is in
    test_determinism.py."""
    rng = np.random.default_rng(11)
    T, B, V, H = 6, 3, 5, 7
    W_xh, W_hh, b_h = rnn_weights(rng, V, H, np.float64)
    W_hy, b_y = randn(rng, (V, H), np.float64), randn(rng, V, np.float64)
    inputs, targets = rng.integers(0, V, (T, B)), rng.integers(0, V, (T, B))
    _, grads, h_last = tn.rnn_lm_loss(inputs, targets, None, W_xh, W_hh, b_h, W_hy, b_y)
    arrays = [*grads.values(), h_last]
    base = h_last.base
    assert base is not None and not h_last.flags.owndata
    for a in arrays:
        assert a.base is base and a.flags.writeable and a.flags.c_contiguous
        assert a.ctypes.data % 64 == 0, "each starts on a 64-byte boundary"
    for i, a in enumerate(arrays):
        assert not any(np.shares_memory(a, b) for b in arrays[i + 1:])
    before = {k: v.copy() for k, v in grads.items()}
    h_last += 1.0  # writing one leaves the others alone
    for k in grads:
        assert np.array_equal(grads[k], before[k])


# ----------------------------------------------------------------------- sampling


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batched", [True, False], ids=["batched", "unbatched"])
def test_rnn_sample(dtype, batched):
    rng = np.random.default_rng(5)
    V, H, B = 6, 8, 3
    W_xh, W_hh, b_h = rnn_weights(rng, V, H, dtype)
    W_hy, b_y = randn(rng, (V, H), dtype, 2.0), randn(rng, V, dtype)
    h0 = randn(rng, (B, H), dtype) if batched else randn(rng, H, dtype)
    token = rng.integers(0, V, B) if batched else 2
    for kwargs in [dict(greedy=True), dict(seed=0), dict(seed=123, temperature=0.5), dict(seed=2**70 + 5, temperature=3.0)]:
        out = check("rnn_sample", h0, token, 40, W_xh, W_hh, b_h, W_hy, b_y, **kwargs)
        assert out.dtype == np.int64 and out.shape == ((40, B) if batched else (40,))
        assert out.min() >= 0 and out.max() < V
    # seeded draws are reproducible; different seeds give different sequences
    a = tn.rnn_sample(h0, token, 60, W_xh, W_hh, b_h, W_hy, b_y, seed=9)
    assert np.array_equal(a, tn.rnn_sample(h0, token, 60, W_xh, W_hh, b_h, W_hy, b_y, seed=9))
    assert not np.array_equal(a, tn.rnn_sample(h0, token, 60, W_xh, W_hh, b_h, W_hy, b_y, seed=10))
    assert tn.rnn_sample(h0, token, 0, W_xh, W_hh, b_h, W_hy, b_y).size == 0


def test_rnn_sample_follows_the_distribution():
    """Draws from a fixed distribution (W_hh = 0, one-hot-free logits) match its
    probabilities: chi-square-style bound over 20,000 draws."""
    V, H = 4, 2
    W_xh, W_hh, b_h = np.zeros((H, V)), np.zeros((H, H)), np.zeros(H)
    W_hy, b_y = np.zeros((V, H)), np.log(np.array([0.1, 0.2, 0.3, 0.4]))
    out = tn.rnn_sample(None, 0, 20000, W_xh, W_hh, b_h, W_hy, b_y, seed=1)
    freq = np.bincount(out, minlength=V) / out.size
    assert np.all(np.abs(freq - [0.1, 0.2, 0.3, 0.4]) < 0.015), freq
    # temperature 0.5 squares and renormalises the probabilities
    out = tn.rnn_sample(None, 0, 20000, W_xh, W_hh, b_h, W_hy, b_y, temperature=0.5, seed=2)
    p = np.array([0.01, 0.04, 0.09, 0.16]) / 0.3
    assert np.all(np.abs(np.bincount(out, minlength=V) / out.size - p) < 0.015)


# ------------------------------------------------------------- finite differences

RNN_CASES = [(5, 2, 3, 4), (1, 1, 2, 3), (4, 1, 4, 4)]


def truncated_objective(x, h0, W_xh, W_hh, b_h, R, k, tokens):
    """The loss whose exact gradient truncated BPTT computes: each step t's term
    R_t . h_t is recomputed from the state k steps back, h_{t-k}, held fixed at its
    value from the unperturbed forward pass (or from h0 itself when the window reaches
    the start, so that h0 gets its gradient through steps 0 .. k-1)."""
    hs_fixed = ref.rnn_forward(x, h0, W_xh, W_hh, b_h)  # evaluated at the point

    def L():
        total = 0.0
        for t in range(len(x)):
            lo = max(t - k + 1, 0)
            h = h0 if lo == 0 else hs_fixed_at_point[lo - 1]
            for s in range(lo, t + 1):
                h = ref.rnn_forward(x[s : s + 1], h, W_xh, W_hh, b_h)[0]
            total += np.sum(R[t] * h)
        return total

    hs_fixed_at_point = hs_fixed.copy()
    return L


class TestGradients:
    """The NumPy engine's backward passes against central finite differences (helpers.check_grad)."""

    @pytest.mark.parametrize("T,B,D,H", RNN_CASES)
    @pytest.mark.parametrize("tokens", [False, True], ids=["floats", "tokens"])
    def test_rnn_full_bptt(self, T, B, D, H, tokens):
        rng = np.random.default_rng(T + B + D + H)
        W_xh, W_hh, b_h, h0 = rand(rng, H, D, scale=0.5), rand(rng, H, H, scale=0.5), rand(rng, H), rand(rng, B, H)
        x = rng.integers(0, D, (T, B)) if tokens else rand(rng, T, B, D)
        R = rand(rng, T, B, H)
        L = lambda: np.sum(R * ref.rnn_forward(x, h0, W_xh, W_hh, b_h))
        hs = ref.rnn_forward(x, h0, W_xh, W_hh, b_h)
        dx, dh0, dW_xh, dW_hh, db_h = ref.rnn_backward(R, x, h0, hs, W_xh, W_hh)
        params = [("h0", h0, dh0), ("W_xh", W_xh, dW_xh), ("W_hh", W_hh, dW_hh), ("b_h", b_h, db_h)]
        if not tokens:
            params.append(("x", x, dx))
        for name, p, g in params:
            check_grad(name, g, numgrad(L, p))

    @pytest.mark.parametrize("k", [1, 2, 3])
    @pytest.mark.parametrize("tokens", [False, True], ids=["floats", "tokens"])
    def test_rnn_truncated_bptt(self, k, tokens):
        """bptt_steps=k is the exact gradient of the truncated objective above."""
        rng = np.random.default_rng(10 + k)
        T, B, D, H = 6, 2, 3, 4
        W_xh, W_hh, b_h, h0 = rand(rng, H, D, scale=0.6), rand(rng, H, H, scale=0.6), rand(rng, H), rand(rng, B, H)
        x = rng.integers(0, D, (T, B)) if tokens else rand(rng, T, B, D)
        R = rand(rng, T, B, H)
        hs = ref.rnn_forward(x, h0, W_xh, W_hh, b_h)
        dx, dh0, dW_xh, dW_hh, db_h = ref.rnn_backward(R, x, h0, hs, W_xh, W_hh, bptt_steps=k)
        L = truncated_objective(x, h0, W_xh, W_hh, b_h, R, k, tokens)
        params = [("h0", h0, dh0), ("W_xh", W_xh, dW_xh), ("W_hh", W_hh, dW_hh), ("b_h", b_h, db_h)]
        if not tokens:
            params.append(("x", x, dx))
        for name, p, g in params:
            check_grad(f"{name} (k={k})", g, numgrad(L, p))

    @pytest.mark.parametrize("reduction", ["sum", "mean"])
    def test_rnn_lm_loss(self, reduction):
        rng = np.random.default_rng(20)
        T, B, V, H = 5, 2, 4, 3
        W = dict(W_xh=rand(rng, H, V, scale=0.5), W_hh=rand(rng, H, H, scale=0.5), b_h=rand(rng, H),
                 W_hy=rand(rng, V, H), b_y=rand(rng, V))
        inputs, targets, h0 = rng.integers(0, V, (T, B)), rng.integers(0, V, (T, B)), rand(rng, B, H)
        L = lambda: ref.rnn_lm_loss(inputs, targets, h0, **W, reduction=reduction)[0]
        _, grads, _ = ref.rnn_lm_loss(inputs, targets, h0, **W, reduction=reduction)
        for name, p in W.items():
            check_grad(name, grads[name], numgrad(L, p))
