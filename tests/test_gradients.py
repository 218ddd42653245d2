"""The NumPy engine's backward passes against central finite differences (float64).

Each case builds a scalar loss L = sum(R * output) with a fixed random R, so that the
backward functions' input dL/doutput is R, and compares every analytic gradient with
(L(p + eps) - L(p - eps)) / (2 eps), element by element.  With eps = 1e-6 the
truncation error is O(eps^2) and the rounding error O(1e-16 / eps), so agreement to
1e-7 of the gradient's scale means the backward pass is right."""
import numpy as np
import pytest

import tinynet.reference as ref

EPS = 1e-6
TOL = 1e-7


def numgrad(loss, p):
    """Central differences of loss() with respect to every element of p (in place,
    restored afterwards)."""
    g = np.zeros_like(p)
    flat, gflat = p.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + EPS
        up = loss()
        flat[i] = old - EPS
        down = loss()
        flat[i] = old
        gflat[i] = (up - down) / (2 * EPS)
    return g


def check_grad(name, analytic, numeric):
    scale = max(np.max(np.abs(numeric), initial=0), np.max(np.abs(analytic), initial=0), 1e-300)
    err = np.max(np.abs(analytic - numeric), initial=0) / scale
    assert err < TOL, f"{name}: relative error {err:.2e} (max |grad| {scale:.2e})"


def rand(rng, *shape, scale=1.0):
    return rng.standard_normal(shape) * scale


def test_linear():
    rng = np.random.default_rng(0)
    x, W, b = rand(rng, 4, 3), rand(rng, 5, 3), rand(rng, 5)
    R = rand(rng, 4, 5)
    L = lambda: np.sum(R * ref.linear_forward(x, W, b))
    dx, dW, db = ref.linear_backward(R, x, W)
    for name, p, g in [("x", x, dx), ("W", W, dW), ("b", b, db)]:
        check_grad(name, g, numgrad(L, p))
    # one example
    x1, R1 = rand(rng, 3), rand(rng, 5)
    dx, dW, db = ref.linear_backward(R1, x1, W)
    L1 = lambda: np.sum(R1 * ref.linear_forward(x1, W, b))
    for name, p, g in [("x", x1, dx), ("W", W, dW), ("b", b, db)]:
        check_grad(name, g, numgrad(L1, p))


@pytest.mark.parametrize("act", ["tanh", "sigmoid", "relu"])
def test_activations(act):
    rng = np.random.default_rng(1)
    x = rand(rng, 3, 4, scale=2.0)
    x[np.abs(x) < 0.1] += 0.3  # keep ReLU away from its kink
    R = rand(rng, 3, 4)
    fwd, bwd = getattr(ref, f"{act}_forward"), getattr(ref, f"{act}_backward")
    L = lambda: np.sum(R * fwd(x))
    check_grad(act, bwd(R, fwd(x)), numgrad(L, x))


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_cross_entropy(reduction):
    rng = np.random.default_rng(2)
    logits, targets = rand(rng, 6, 5, scale=2.0), rng.integers(0, 5, 6)
    L = lambda: ref.cross_entropy_forward(logits, targets, reduction)[0]
    _, probs = ref.cross_entropy_forward(logits, targets, reduction)
    check_grad("logits", ref.cross_entropy_backward(probs, targets, reduction), numgrad(L, logits))


def test_embedding():
    rng = np.random.default_rng(3)
    table, idx = rand(rng, 5, 3), np.array([[0, 4, 4], [2, 0, 4]])
    R = rand(rng, 2, 3, 3)
    L = lambda: np.sum(R * ref.embedding_forward(table, idx))
    check_grad("table", ref.embedding_backward(R, idx, 5), numgrad(L, table))


@pytest.mark.parametrize("correction", [0, 1])
@pytest.mark.parametrize("N", [2, 3, 8])
def test_batchnorm(N, correction):
    rng = np.random.default_rng(4 + N)
    x, gamma, beta = rand(rng, N, 4, scale=2.0) + 1, rand(rng, 4) + 1, rand(rng, 4)
    R = rand(rng, N, 4)
    L = lambda: np.sum(R * ref.batchnorm_forward(x, gamma, beta, 1e-5, correction)[0])
    _, mean, invstd = ref.batchnorm_forward(x, gamma, beta, 1e-5, correction)
    dx, dgamma, dbeta = ref.batchnorm_backward(R, x, gamma, mean, invstd, correction)
    for name, p, g in [("x", x, dx), ("gamma", gamma, dgamma), ("beta", beta, dbeta)]:
        check_grad(name, g, numgrad(L, p))


def test_batchnorm_inference():
    # eval mode is affine in x; its gradient is gamma / sqrt(running_var + eps)
    rng = np.random.default_rng(5)
    x, gamma, beta, rm, rv = rand(rng, 3, 4), rand(rng, 4), rand(rng, 4), rand(rng, 4), np.abs(rand(rng, 4)) + 0.5
    R = rand(rng, 3, 4)
    L = lambda: np.sum(R * ref.batchnorm_inference(x, gamma, beta, rm, rv))
    check_grad("x", R * gamma / np.sqrt(rv + 1e-5), numgrad(L, x))


RNN_CASES = [(5, 2, 3, 4), (1, 1, 2, 3), (4, 1, 4, 4)]


@pytest.mark.parametrize("T,B,D,H", RNN_CASES)
@pytest.mark.parametrize("tokens", [False, True], ids=["floats", "tokens"])
def test_rnn_full_bptt(T, B, D, H, tokens):
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


@pytest.mark.parametrize("k", [1, 2, 3])
@pytest.mark.parametrize("tokens", [False, True], ids=["floats", "tokens"])
def test_rnn_truncated_bptt(k, tokens):
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
def test_rnn_lm_loss(reduction):
    rng = np.random.default_rng(20)
    T, B, V, H = 5, 2, 4, 3
    W = dict(W_xh=rand(rng, H, V, scale=0.5), W_hh=rand(rng, H, H, scale=0.5), b_h=rand(rng, H),
             W_hy=rand(rng, V, H), b_y=rand(rng, V))
    inputs, targets, h0 = rng.integers(0, V, (T, B)), rng.integers(0, V, (T, B)), rand(rng, B, H)
    L = lambda: ref.rnn_lm_loss(inputs, targets, h0, **W, reduction=reduction)[0]
    _, grads, _ = ref.rnn_lm_loss(inputs, targets, h0, **W, reduction=reduction)
    for name, p in W.items():
        check_grad(name, grads[name], numgrad(L, p))


@pytest.mark.parametrize("correction", [0, 1])
@pytest.mark.parametrize("bias", [True, False], ids=["b", "no-b"])
def test_linear_batchnorm_tanh(correction, bias):
    rng = np.random.default_rng(30 + correction)
    N, D, H = 5, 3, 4
    x, W = rand(rng, N, D), rand(rng, H, D, scale=0.7)
    b = rand(rng, H) if bias else None
    gamma, beta = rand(rng, H, scale=0.3) + 1, rand(rng, H, scale=0.3)
    R = rand(rng, N, H)
    L = lambda: np.sum(R * ref.linear_batchnorm_tanh_forward(x, W, b, gamma, beta, 1e-5, correction)[0])
    h, hpre, mean, invstd = ref.linear_batchnorm_tanh_forward(x, W, b, gamma, beta, 1e-5, correction)
    dx, dW, db, dgamma, dbeta = ref.linear_batchnorm_tanh_backward(R, h, x, W, gamma, hpre, mean, invstd, correction)
    params = [("x", x, dx), ("W", W, dW), ("gamma", gamma, dgamma), ("beta", beta, dbeta)]
    for name, p, g in params:
        check_grad(name, g, numgrad(L, p))
    if bias:  # batch norm cancels the bias: both gradients are ~0
        assert np.max(np.abs(db)) < 1e-12 and np.max(np.abs(numgrad(L, b))) < 1e-7


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_linear_cross_entropy(reduction):
    rng = np.random.default_rng(40)
    x, W, b, targets = rand(rng, 6, 3), rand(rng, 5, 3, scale=1.5), rand(rng, 5), rng.integers(0, 5, 6)
    L = lambda: ref.linear_cross_entropy(x, W, b, targets, reduction)[0]
    _, dx, dW, db = ref.linear_cross_entropy(x, W, b, targets, reduction)
    for name, p, g in [("x", x, dx), ("W", W, dW), ("b", b, db)]:
        check_grad(name, g, numgrad(L, p))
