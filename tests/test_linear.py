"""The linear layer, the activations, softmax and cross-entropy: linear_forward /
linear_backward, tanh_ / sigmoid_ / relu_ / gelu_forward and _backward, softmax,
cross_entropy_forward / cross_entropy_backward.

* the C engine against the NumPy engine on random inputs (helpers.check): several
  shapes (size-1, odd and zero sizes included), both dtypes, batched and unbatched, and
  non-contiguous / Fortran / byte-swapped / negative-stride layouts; lists take the
  arrays' dtype; extreme and NaN logits; GELU's two forms; cross-entropy's ignore_index;
* linear_forward / linear_backward on x (..., D), any leading axes (makemore part 5's
  (B, T, D), empty ones): both engines, the C engine's bits those of the rows (N, D), and
  against torch.nn.functional.linear (values and gradients; skipped without torch);
* GELU at the edges (huge |x|, infinities, NaN) and the float32 error bound of its
  "none" form; cross-entropy with every target ignored;
* GELU and cross-entropy with ignore_index against PyTorch (skipped without torch);
* large results are 64-byte aligned views of a buffer made for them;
* the NumPy engine's backward passes against central finite differences (float64):
  TestGradients.

The matrices every function goes through (bad inputs, properties, threads, leaks,
recorded bits) are generated from its spec in tests/specs.py.
"""
import numpy as np
import pytest

import tinynet as tn
import tinynet.reference as ref
from conftest import DTYPES, ENGINES, assert_close
from helpers import LAYOUTS, check, check_grad, numgrad, rand, randn, relayout

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


# x (..., D): any leading axes, as torch.nn.functional.linear -- makemore part 5's (B, T, D),
# one example (D,), empty leading axes; D and H 0 too
LEADING = [(), (1,), (6,), (4, 8), (2, 3, 4), (0, 5), (5, 0), (3, 0, 2), (2, 1, 1, 3)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("D,H", [(5, 7), (0, 3), (4, 0), (30, 200)])
@pytest.mark.parametrize("lead", LEADING, ids=str)
def test_linear_any_leading_axes(lead, D, H, dtype):
    """Both engines on x (..., D), and the C engine's bits are those of the rows (N, D):
    every leading axis is a batch axis."""
    rng = np.random.default_rng(len(lead) * 100 + sum(lead) + D)
    x, W, b = randn(rng, lead + (D,), dtype), randn(rng, (H, D), dtype), randn(rng, H, dtype)
    dy = randn(rng, lead + (H,), dtype)
    y = check("linear_forward", x, W, b)
    assert y.shape == lead + (H,)
    check("linear_forward", x, W)
    dx, dW, db = check("linear_backward", dy, x, W)
    assert dx.shape == x.shape and dW.shape == (H, D) and db.shape == (H,)
    N = int(np.prod(lead))
    rows = tn.linear_forward(x.reshape(N, D), W, b)
    assert np.array_equal(y, rows.reshape(y.shape))
    for got, want in zip((dx, dW, db), tn.linear_backward(dy.reshape(N, H), x.reshape(N, D), W)):
        assert np.array_equal(got, want.reshape(got.shape))


@pytest.mark.parametrize("kind", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_linear_sequence_layouts(kind, dtype):
    """(B, T, D) in every memory layout: the contiguous call's result, in both engines."""
    rng = np.random.default_rng(2)
    x, W, b, dy = randn(rng, (4, 8, 5), dtype), randn(rng, (3, 5), dtype), randn(rng, 3, dtype), randn(rng, (4, 8, 3),
                                                                                                         dtype)
    assert_close(tn.linear_forward(*relayout([x, W, b], kind)), tn.linear_forward(x, W, b), kind)
    assert_close(tn.linear_backward(*relayout([dy, x, W], kind)), tn.linear_backward(dy, x, W), kind)
    check("linear_forward", *relayout([x, W, b], kind))
    check("linear_backward", *relayout([dy, x, W], kind))
    # a (B, T) slice of a bigger array, as x[:, ::2] of a sequence
    wide = randn(rng, (4, 16, 5), dtype)
    check("linear_forward", wide[:, ::2], W, b)
    check("linear_backward", dy, wide[:, ::2], W)


def test_linear_sequence_matches_torch():
    """F.linear on (B, T, D): values and the gradients of x, W, b (float64)."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    x, W, b, dy = rand(rng, 4, 8, 6), rand(rng, 5, 6), rand(rng, 5), rand(rng, 4, 8, 5)
    xt, Wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, W, b))
    yt = torch.nn.functional.linear(xt, Wt, bt)
    yt.backward(torch.from_numpy(dy))
    for engine in (tn, ref):
        assert_close(engine.linear_forward(x, W, b), yt.detach().numpy(), f"{engine.__name__}: y")
        for name, got, want in zip(("dx", "dW", "db"), engine.linear_backward(dy, x, W), (xt, Wt, bt)):
            assert_close(got, want.grad.numpy(), f"{engine.__name__}: {name}")


def test_linear_lists_take_the_arrays_dtype():
    W = np.ones((2, 3), dtype=np.float32)
    y = tn.linear_forward([[1, 2, 3]], W, [0.5, 0.5])
    assert y.dtype == np.float32
    assert_close(y, np.array([[6.5, 6.5]], dtype=np.float32))
    assert tn.linear_forward([[1.0, 2.0, 3.0]], [[1.0, 1.0, 1.0]]).dtype == np.float64


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


# --------------------------------------------------------------------------- GELU

# crossing the kernels' blocks of 512 values, and shapes of any ndim
GELU_SHAPES = ELEMENTWISE_SHAPES + [(32, 16, 256), (1537,)]


@pytest.mark.parametrize("approximate", ["none", "tanh"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", GELU_SHAPES, ids=str)
def test_gelu(shape, dtype, approximate):
    rng = np.random.default_rng(len(shape) + sum(shape))
    x, dy = randn(rng, shape, dtype, 3.0), randn(rng, shape, dtype)
    y = check("gelu_forward", x, approximate)
    dx = check("gelu_backward", dy, x, approximate=approximate)
    for kind in LAYOUTS:
        assert_close(tn.gelu_forward(*relayout([x], kind), approximate=approximate), y, f"gelu {kind}")
        assert_close(tn.gelu_backward(*relayout([dy, x], kind), approximate), dx, f"gelu_backward {kind}")
    # an element's value does not depend on where it lies in the array (the blocks, the tail)
    flat, dflat = x.reshape(-1), dy.reshape(-1)
    for start, length in [(0, 1), (3, 17), (500, 30), (1, 1030)]:
        part = slice(start, start + length)
        assert np.array_equal(tn.gelu_forward(flat[part], approximate), y.reshape(-1)[part])
        assert np.array_equal(tn.gelu_backward(dflat[part], flat[part], approximate), dx.reshape(-1)[part])


def test_gelu_is_the_default_form_and_refuses_others():
    x = np.linspace(-3, 3, 13)
    for name, mod in ENGINES.items():
        assert np.array_equal(mod.gelu_forward(x), mod.gelu_forward(x, approximate="none")), name
        assert not np.array_equal(mod.gelu_forward(x), mod.gelu_forward(x, "tanh")), name
        for bad in ["erf", "Tanh", None, 1]:
            with pytest.raises(ValueError, match=r'^gelu_forward: approximate must be "none" or "tanh", got '):
                mod.gelu_forward(x, bad)
            with pytest.raises(ValueError, match=r'^gelu_backward: approximate must be "none" or "tanh", got '):
                mod.gelu_backward(x, x, approximate=bad)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("engine", ENGINES)
def test_gelu_extremes(engine, dtype, approximate):
    """Huge |x| (x**3 and x**2 overflow in the tanh form), infinities and NaN: y = x for
    x >> 0 and 0 for x << 0, the limits (y = inf at inf, 0 at -inf); the gradient is 1
    and 0 there, never inf * 0 = nan; NaN stays NaN.  (At x = -10, x Phi(x) = -7.6e-23.)"""
    mod = ENGINES[engine]
    big = 1e30 if dtype == np.float32 else 1e300
    x = np.array([big, 1e20, 50.0, 10.0, -50.0, -1e20, -big, np.inf, -np.inf, np.nan, 0.0, -10.0], dtype)
    y = mod.gelu_forward(x, approximate)
    dx = mod.gelu_backward(np.ones_like(x), x, approximate)
    assert np.array_equal(y[:4], x[:4]) and np.all(y[4:7] == 0) and y[7] == np.inf and y[8] == 0
    assert np.isnan(y[9]) and y[10] == 0 and -1e-21 < y[11] <= 0
    assert np.array_equal(dx[:4], np.ones(4)) and np.all(dx[4:7] == 0) and dx[7] == 1 and dx[8] == 0
    assert np.isnan(dx[9]) and dx[10] == 0.5 and abs(dx[11]) < 1e-20
    assert np.isnan(mod.gelu_backward(np.array([np.nan], dtype), np.array([1.0], dtype), approximate)[0])


def test_gelu_float32_within_8_ulp():
    """float32 GELU ("none") is x Phi(x) with Phi from the vectorised approximation of
    csrc/tn_linear.c: within 8 ulp of x Phi(x) computed in float64 at every 211th float32
    in [-20, 20] (the bound holds over all of them; most results are within 2 ulp), where
    Phi(x) is a normal float (x > -13); odd in the sense Phi(-x) = 1 - Phi(x) up to that."""
    import math

    bits = np.arange(0, 0x41A00000, 211, dtype=np.uint32)  # [0, 20)
    x = np.concatenate([bits.view(np.float32), -bits.view(np.float32)])
    x = x[x > -13]
    got = tn.gelu_forward(x)
    x64 = x.astype(np.float64)
    want = x64 * 0.5 * np.vectorize(math.erfc, otypes=[np.float64])(-x64 / math.sqrt(2))
    tiny = np.abs(want) < np.finfo(np.float32).tiny  # results below the normal range: in subnormal ulps
    ulp = np.where(tiny, np.float64(2.0 ** -149), np.spacing(np.abs(want.astype(np.float32))).astype(np.float64))
    err = np.abs(got - want) / ulp
    assert err.max() <= 8, (err.max(), x[err.argmax()])
    assert np.mean(err <= 2) > 0.95


@pytest.mark.parametrize("approximate", ["none", "tanh"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_gelu_against_torch(dtype, approximate):
    """F.gelu (both forms) and its autograd gradient: 1e-10 (float64) and 1e-5 (float32)
    of the scale; prints the largest differences."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(11)
    x, dy = randn(rng, (32, 16, 256), dtype, 2.0), randn(rng, (32, 16, 256), dtype)
    tx = torch.from_numpy(x.copy()).requires_grad_(True)
    ty = torch.nn.functional.gelu(tx, approximate=approximate)
    ty.backward(torch.from_numpy(dy))
    rtol = 1e-10 if dtype == np.float64 else 1e-5
    for name, got, want in [("y", tn.gelu_forward(x, approximate), ty),
                            ("dx", tn.gelu_backward(dy, x, approximate), tx.grad)]:
        want = want.detach().numpy()
        print(f"gelu {approximate} {np.dtype(dtype).name} {name}: max |diff| {np.max(np.abs(got - want)):.3e} "
              f"(scale {np.max(np.abs(want)):.3e})")
        assert_close(got, want, name, rtol=rtol)


# ------------------------------------------------------ softmax and cross-entropy

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


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ignore_index", [-1, 0, 3, -100])
@pytest.mark.parametrize("N,V", [(1, 1), (32, 27), (7, 5), (40, 3), (0, 4)])
def test_cross_entropy_ignore_index(N, V, ignore_index, dtype, reduction):
    """Targets equal to ignore_index (makemore's -1 padding, PyTorch's -100, or a class)
    count for nothing: the loss and the gradient are those of the other rows alone, and
    "mean" averages over them; the ignored rows' gradients are 0."""
    rng = np.random.default_rng(N * 10 + V)
    logits = randn(rng, (N, V), dtype, 3.0)
    targets = rng.integers(0, V, N)
    targets[::3] = ignore_index
    kept = targets != ignore_index
    loss, probs = check("cross_entropy_forward", logits, targets, reduction, ignore_index)
    d = check("cross_entropy_backward", probs, targets, reduction=reduction, ignore_index=ignore_index)
    assert np.all(d[~kept] == 0)
    if kept.any():
        # the rows kept, on their own: the same loss and gradient rows (the mean over kept.sum() rows)
        loss_kept, _ = tn.cross_entropy_forward(logits[kept], targets[kept], reduction)
        assert_close(loss, loss_kept, "loss", scalar_rtol=1e-6 if dtype == np.float32 else 1e-12)
        assert_close(d[kept], tn.cross_entropy_backward(probs[kept], targets[kept], reduction), "dlogits")
    # ignore_index=None, or a value no target has: the call without it, bit for bit
    others = np.where(kept, targets, 0)
    plain = tn.cross_entropy_forward(logits, others, reduction)
    for ignore in (None, -7):
        got = tn.cross_entropy_forward(logits, others, reduction, ignore)
        assert (got[0] == plain[0] or np.isnan(plain[0])) and np.array_equal(got[1], plain[1])
    assert np.array_equal(tn.cross_entropy_backward(probs, others, reduction, V + 5),
                          tn.cross_entropy_backward(probs, others, reduction))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("engine", ENGINES)
def test_cross_entropy_every_target_ignored(engine, dtype):
    """Every target ignored: "mean" is nan (0 / 0, as PyTorch), "sum" 0; the gradient is 0
    everywhere, for both reductions; out-of-range targets that are not ignore_index are
    still an IndexError naming the value."""
    mod = ENGINES[engine]
    logits, targets = np.ones((3, 4), dtype), np.array([-1, -1, -1])
    loss, probs = mod.cross_entropy_forward(logits, targets, "mean", -1)
    assert np.isnan(loss) and mod.cross_entropy_forward(logits, targets, "sum", -1)[0] == 0.0
    for reduction in ("mean", "sum"):
        assert np.array_equal(mod.cross_entropy_backward(probs, targets, reduction, -1), np.zeros((3, 4), dtype))
    with pytest.raises(IndexError, match=r"^cross_entropy_forward: targets\[1\] = -2 is out of range \[0, 4\)"):
        mod.cross_entropy_forward(logits, [-1, -2, 0], ignore_index=-1)
    with pytest.raises(IndexError, match=r"^cross_entropy_backward: targets\[0\] = -1 is out of range \[0, 4\)"):
        mod.cross_entropy_backward(probs, [-1, 0, 0], ignore_index=-100)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_cross_entropy_ignore_index_against_torch(reduction, dtype):
    """F.cross_entropy(..., ignore_index=-1): the loss and its gradient (1e-10 float64,
    1e-5 float32); prints the largest differences."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(12)
    logits = randn(rng, (512, 27), dtype, 2.0)
    targets = rng.integers(0, 27, 512)
    targets[rng.random(512) < 0.3] = -1
    loss, probs = tn.cross_entropy_forward(logits, targets, reduction, ignore_index=-1)
    dlogits = tn.cross_entropy_backward(probs, targets, reduction, ignore_index=-1)
    t = torch.from_numpy(logits.copy()).requires_grad_(True)
    tloss = torch.nn.functional.cross_entropy(t, torch.from_numpy(targets), ignore_index=-1, reduction=reduction)
    tloss.backward()
    rtol = 1e-10 if dtype == np.float64 else 1e-5
    want = t.grad.numpy()
    print(f"cross_entropy ignore_index=-1 {reduction} {np.dtype(dtype).name}: loss |diff| "
          f"{abs(loss - tloss.item()):.3e} (loss {tloss.item():.3e}); dlogits max |diff| "
          f"{np.max(np.abs(dlogits - want)):.3e} (scale {np.max(np.abs(want)):.3e})")
    assert_close(loss, tloss.item(), "loss", scalar_rtol=rtol)
    assert_close(dlogits, want, "dlogits", rtol=rtol)


# ------------------------------------------------------------- finite differences


class TestGradients:
    """The NumPy engine's backward passes against central finite differences (helpers.check_grad)."""

    def test_linear(self):
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

    @pytest.mark.parametrize("lead", [(2, 3), (2, 1, 3)], ids=str)
    def test_linear_sequence(self, lead):
        """x (B, T, D): dx, and dW, db summed over (B, T)."""
        rng = np.random.default_rng(7)
        x, W, b = rand(rng, *lead, 4), rand(rng, 5, 4), rand(rng, 5)
        R = rand(rng, *lead, 5)
        L = lambda: np.sum(R * ref.linear_forward(x, W, b))
        dx, dW, db = ref.linear_backward(R, x, W)
        for name, p, g in [("x", x, dx), ("W", W, dW), ("b", b, db)]:
            check_grad(name, g, numgrad(L, p))

    @pytest.mark.parametrize("act", ["tanh", "sigmoid", "relu"])
    def test_activations(self, act):
        rng = np.random.default_rng(1)
        x = rand(rng, 3, 4, scale=2.0)
        x[np.abs(x) < 0.1] += 0.3  # keep ReLU away from its kink
        R = rand(rng, 3, 4)
        fwd, bwd = getattr(ref, f"{act}_forward"), getattr(ref, f"{act}_backward")
        L = lambda: np.sum(R * fwd(x))
        check_grad(act, bwd(R, fwd(x)), numgrad(L, x))

    @pytest.mark.parametrize("reduction", ["mean", "sum"])
    def test_cross_entropy(self, reduction):
        rng = np.random.default_rng(2)
        logits, targets = rand(rng, 6, 5, scale=2.0), rng.integers(0, 5, 6)
        L = lambda: ref.cross_entropy_forward(logits, targets, reduction)[0]
        _, probs = ref.cross_entropy_forward(logits, targets, reduction)
        check_grad("logits", ref.cross_entropy_backward(probs, targets, reduction), numgrad(L, logits))

    @pytest.mark.parametrize("approximate", ["none", "tanh"])
    def test_gelu(self, approximate):
        rng = np.random.default_rng(3)
        x = rand(rng, 4, 5, scale=2.5)
        R = rand(rng, 4, 5)
        L = lambda: np.sum(R * ref.gelu_forward(x, approximate))
        check_grad(f"gelu {approximate}", ref.gelu_backward(R, x, approximate), numgrad(L, x))

    @pytest.mark.parametrize("reduction", ["mean", "sum"])
    def test_cross_entropy_ignore_index(self, reduction):
        rng = np.random.default_rng(4)
        logits, targets = rand(rng, 7, 5, scale=2.0), rng.integers(0, 5, 7)
        targets[[1, 4]] = -1
        L = lambda: ref.cross_entropy_forward(logits, targets, reduction, ignore_index=-1)[0]
        _, probs = ref.cross_entropy_forward(logits, targets, reduction, ignore_index=-1)
        check_grad("logits", ref.cross_entropy_backward(probs, targets, reduction, ignore_index=-1), numgrad(L, logits))
