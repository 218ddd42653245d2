"""Every C function against the NumPy engine on random inputs: several shapes (size-1
and odd sizes included), both dtypes, batched and unbatched, token and float inputs,
and non-contiguous / Fortran / byte-swapped / negative-stride layouts."""
import numpy as np
import pytest

import tinynet as tn
import tinynet.reference as ref
from conftest import DTYPES, RTOL, assert_close

# ------------------------------------------------------------------ input layouts


def layouts(a):
    """The same values in other memory layouts."""
    yield "contiguous", a
    if a.ndim >= 2:
        yield "fortran", np.asfortranarray(a)
    wide = np.repeat(a, 2, axis=-1) if a.ndim else a
    yield "strided", wide[..., ::2] if a.ndim else a
    yield "byteswapped", a.astype(a.dtype.newbyteorder())
    if a.ndim:
        yield "negative-stride", np.ascontiguousarray(a[::-1])[::-1]


def relayout(args, kind):
    """args with every float ndarray replaced by its `kind` layout."""
    out = []
    for a in args:
        if isinstance(a, np.ndarray) and a.dtype.kind == "f":
            a = dict(layouts(a)).get(kind, a)
        out.append(a)
    return out


LAYOUTS = ["contiguous", "fortran", "strided", "byteswapped", "negative-stride"]


def both(name, *args, **kwargs):
    """Call both engines on copies; check the inputs were not modified."""
    before = [np.copy(a) if isinstance(a, np.ndarray) else a for a in args]
    got = getattr(tn, name)(*args, **kwargs)
    for a, b in zip(args, before):
        if isinstance(a, np.ndarray):
            assert np.array_equal(a, b, equal_nan=True), f"{name} modified an input"
    want = getattr(ref, name)(*args, **kwargs)
    return got, want


def check(name, *args, **kwargs):
    got, want = both(name, *args, **kwargs)
    floats = [a.dtype for a in args if isinstance(a, np.ndarray) and a.dtype.kind == "f"]
    assert_close(got, want, name, scalar_rtol=RTOL[np.dtype(floats[0].type)] if floats else 1e-10)
    return got


def randn(rng, shape, dtype, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(dtype)


# ------------------------------------------------------------------------- linear

LINEAR_SHAPES = [(1, 1, 1), (3, 5, 7), (17, 33, 9), (64, 30, 200), (5, 300, 260), (0, 4, 3), (4, 0, 3), (4, 3, 0)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("N,D,H", LINEAR_SHAPES)
def test_linear(dtype, N, D, H):
    rng = np.random.default_rng(N * 1000 + D * 10 + H)
    x, W, b, dy = randn(rng, (N, D), dtype), randn(rng, (H, D), dtype), randn(rng, H, dtype), randn(rng, (N, H), dtype)
    check("linear_forward", x, W, b)
    check("linear_forward", x, W)
    check("linear_backward", dy, x, W)
    if N:  # unbatched: one example
        check("linear_forward", x[0], W, b)
        check("linear_backward", dy[0], x[0], W)


@pytest.mark.parametrize("kind", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_linear_layouts(kind, dtype):
    rng = np.random.default_rng(1)
    x, W, b, dy = randn(rng, (6, 5), dtype), randn(rng, (4, 5), dtype), randn(rng, 4, dtype), randn(rng, (6, 4), dtype)
    want = tn.linear_forward(x, W, b)
    assert_close(tn.linear_forward(*relayout([x, W, b], kind)), want, kind)
    assert_close(tn.linear_backward(*relayout([dy, x, W], kind)), tn.linear_backward(dy, x, W), kind)
    check("linear_backward", *relayout([dy, x, W], kind))


def test_linear_lists_take_the_arrays_dtype():
    W = np.ones((2, 3), dtype=np.float32)
    y = tn.linear_forward([[1, 2, 3]], W, [0.5, 0.5])
    assert y.dtype == np.float32
    assert_close(y, np.array([[6.5, 6.5]], dtype=np.float32))
    assert tn.linear_forward([[1.0, 2.0, 3.0]], [[1.0, 1.0, 1.0]]).dtype == np.float64


# -------------------------------------------------------------------- activations

ELEMENTWISE_SHAPES = [(), (1,), (7,), (3, 5), (2, 3, 4), (0, 3), (1000,)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", ELEMENTWISE_SHAPES)
@pytest.mark.parametrize("act", ["tanh", "sigmoid", "relu"])
def test_activations(act, shape, dtype):
    rng = np.random.default_rng(len(shape))
    x, dy = randn(rng, shape, dtype, 3.0), randn(rng, shape, dtype)
    y = check(f"{act}_forward", x)
    check(f"{act}_backward", dy, y)
    for kind in LAYOUTS:
        assert_close(getattr(tn, f"{act}_forward")(*relayout([x], kind)), y, f"{act} {kind}")


# (x, dy, y) -> (forward(x), backward(dy, y)), exact in float32: y is given, not computed
ACTIVATION_0D = {"tanh": (0.6351489523872873, -1.5 * (1 - 0.5 * 0.5)),
                 "sigmoid": (0.679178699175393, -1.5 * 0.5 * (1 - 0.5)),
                 "relu": (0.75, -1.5)}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", sorted(ACTIVATION_0D))
def test_activations_keep_the_dtype_of_0d_input(act, dtype):
    """A 0-d array (or a NumPy scalar) keeps its dtype through both engines.  NumPy 1.x
    promotes a 0-d float32 array combined with a Python number (1 - y) to float64, NumPy 2
    does not; the NumPy engine must give float32 under both rules, as the C engine does.
    Each backward is called on its own (with a given y), so one bug cannot hide another."""
    want_y, want_dx = ACTIVATION_0D[act]
    x, dy, y = np.asarray(dtype(0.75)), np.asarray(dtype(-1.5)), np.asarray(dtype(0.5))
    wrong_dtype = []
    for mod in (tn, ref):
        for how, got, want in [("forward(0-d)", getattr(mod, f"{act}_forward")(x), want_y),
                               ("forward(scalar)", getattr(mod, f"{act}_forward")(dtype(0.75)), want_y),
                               ("backward(0-d)", getattr(mod, f"{act}_backward")(dy, y), want_dx),
                               ("backward(scalars)", getattr(mod, f"{act}_backward")(dtype(-1.5), dtype(0.5)), want_dx)]:
            name = f"{mod.__name__}.{act}_{how}"
            assert isinstance(got, np.ndarray) and got.shape == (), (name, type(got), np.shape(got))
            if got.dtype != dtype:
                wrong_dtype.append(f"{name}: {got.dtype}")
            assert_close(got.astype(dtype), np.asarray(want, dtype=dtype), name)
    assert not wrong_dtype, f"expected {np.dtype(dtype)}, got " + ", ".join(wrong_dtype)
    # Python floats have no dtype of their own: float64, as documented
    assert ref.tanh_backward(-1.5, 0.5).dtype == tn.tanh_backward(-1.5, 0.5).dtype == np.float64


def test_activation_extremes():
    x = np.array([-1e4, -800.0, -20.0, 0.0, 20.0, 800.0, 1e4, np.inf, -np.inf, np.nan])
    for act in ["tanh", "sigmoid", "relu"]:
        check(f"{act}_forward", x)
    assert np.all(np.isfinite(tn.sigmoid_forward(x[:-1])))


# ------------------------------------------------------- softmax and cross-entropy

SOFTMAX_SHAPES = [(1,), (5,), (1, 1), (4, 27), (33, 7), (2, 3, 5), (0, 4), (3, 0)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SOFTMAX_SHAPES)
def test_softmax(shape, dtype):
    rng = np.random.default_rng(len(shape) + sum(shape))
    logits = randn(rng, shape, dtype, 5.0)
    p = check("softmax", logits)
    if p.size:
        assert_close(p.sum(-1), np.ones(shape[:-1], dtype))
    for kind in LAYOUTS:
        assert_close(tn.softmax(*relayout([logits], kind)), p, kind)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("N,V", [(1, 1), (1, 5), (32, 27), (7, 3), (0, 4)])
def test_cross_entropy(N, V, dtype, reduction):
    rng = np.random.default_rng(N * 100 + V)
    logits = randn(rng, (N, V), dtype, 3.0)
    targets = rng.integers(0, V, N)
    loss, probs = check("cross_entropy_forward", logits, targets, reduction=reduction)
    assert isinstance(loss, float)
    check("cross_entropy_backward", probs, targets, reduction=reduction)
    for kind in LAYOUTS:
        got = tn.cross_entropy_forward(*relayout([logits], kind), targets, reduction)
        assert_close(got, (loss, probs), kind, rtol=1e-4 if dtype == np.float32 else None)
    # any integer dtype for targets
    for itype in [np.int8, np.uint8, np.int32, np.uint64]:
        assert_close(tn.cross_entropy_forward(logits, targets.astype(itype), reduction)[1], probs)


def test_cross_entropy_huge_logits_and_underflow():
    logits = np.array([[1e4, -1e4, 0.0], [0.0, -1e4, 1e4], [0.0, 0.0, -1e4]])
    targets = np.array([1, 1, 2])
    loss, probs = check("cross_entropy_forward", logits, targets, reduction="sum")
    # exact: the target probabilities underflow, the losses do not
    assert loss == 2e4 + 2e4 + (1e4 + np.log(2.0))
    assert np.all(np.isfinite(probs))


def test_cross_entropy_nan_stays_in_its_row():
    logits = np.array([[0.0, np.nan], [1.0, 2.0]])
    (loss, probs) = check("cross_entropy_forward", logits, [0, 1], reduction="sum")
    assert np.isnan(loss) and np.all(np.isnan(probs[0])) and np.all(np.isfinite(probs[1]))


# ---------------------------------------------------------------------- embedding


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


# ---------------------------------------------------------------------- batchnorm


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


# ---------------------------------------------------------------------------- RNN

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


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_large_results_are_64_byte_aligned(dtype):
    """As the README says: a result of 64 KiB or more is a writeable, C-contiguous view
    starting on a 64-byte boundary of a buffer made for it (NumPy's allocator aligns to
    16 bytes); smaller ones are ordinary arrays that own their data."""
    rng = np.random.default_rng(12)
    n = 64 * 1024 // np.dtype(dtype).itemsize  # elements in 64 KiB
    x, W = randn(rng, (n // 64, 64), dtype), randn(rng, (64, 64), dtype)
    for _ in range(3):  # whatever address the allocator hands out
        y = tn.linear_forward(x, W)
        assert y.nbytes == 64 * 1024 and y.ctypes.data % 64 == 0 and not y.flags.owndata
        assert y.base is not None and y.base.nbytes < y.nbytes + 64
        assert y.flags.writeable and y.flags.c_contiguous and y.dtype == dtype
        assert_close(y, ref.linear_forward(x, W), "y")
        W_xh, W_hh, b_h = randn(rng, (64, 4), dtype), randn(rng, (64, 64), dtype) / 8, randn(rng, 64, dtype)
        hs = tn.rnn_forward(randn(rng, (8, 32, 4), dtype), None, W_xh, W_hh, b_h)  # (8, 32, 64): 64 KiB in float32
        assert hs.ctypes.data % 64 == 0
    small = tn.linear_forward(x[:10], W)
    assert small.flags.owndata and small.base is None


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


# --------------------------------------------------------------------- optimizers


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


def test_engine_switch():
    import tinynet

    assert tinynet.engine("c") is tn
    assert tinynet.engine("numpy") is ref
    assert tinynet.engine() is tn
    with pytest.raises(ValueError, match="engine"):
        tinynet.engine("torch")
    for name in tinynet.FUNCTIONS:
        assert callable(getattr(tn, name)) and callable(getattr(ref, name)), name
