"""The fused MLP steps: linear_batchnorm_tanh_forward / _backward and
linear_cross_entropy.

* the C engine gives exactly the bits of the single layers' public functions called in
  turn (what the functions promise), on the direct, packed and small GEMM paths;
* the C engine against the NumPy engine (shapes, dtypes, bias or None, corrections,
  layouts, ignore_index), the NumPy engine against the composition it is documented to be;
* each call's arrays are disjoint views of one buffer (C engine);
* the running statistics: as batchnorm_forward updates them from hpre (bit for bit);
* against PyTorch autograd on makemore's block (skipped without torch);
* the NumPy engine's backward passes against central finite differences (float64):
  TestGradients.

The matrices every function goes through (bad inputs, properties, threads, leaks,
recorded bits) are generated from its spec in tests/specs.py.
"""
import numpy as np
import pytest

import tinynet as tn
import tinynet.reference as ref
from conftest import DTYPES, RTOL, assert_close
from helpers import check_grad, numgrad, rand, randn

# (N, D, H): makemore's block (direct GEMM path), odd small sizes (small path), a batch
# above one 128-row block of the column sums and products on the packed path
SHAPES = [(32, 30, 200), (3, 4, 5), (2, 1, 1), (7, 13, 9), (300, 40, 70), (64, 300, 33)]


def block_args(rng, N, D, H, dtype, bias=True):
    x = randn(rng, (N, D), dtype)
    W = randn(rng, (H, D), dtype, 1 / np.sqrt(max(D, 1)))
    b = randn(rng, H, dtype) if bias else None
    gamma, beta = randn(rng, H, dtype, 0.2) + 1, randn(rng, H, dtype, 0.2)
    return x, W, b, gamma, beta


def composed_forward(E, x, W, b, gamma, beta, eps, correction):
    hpre = E.linear_forward(x, W, b)
    y, mean, invstd = E.batchnorm_forward(hpre, gamma, beta, eps, correction)
    return E.tanh_forward(y), hpre, mean, invstd


def composed_backward(E, dh, h, x, W, gamma, hpre, mean, invstd, correction):
    dhpre, dgamma, dbeta = E.batchnorm_backward(E.tanh_backward(dh, h), hpre, gamma, mean, invstd, correction)
    return (*E.linear_backward(dhpre, x, W), dgamma, dbeta)


def composed_head(E, x, W, b, targets, reduction):
    loss, probs = E.cross_entropy_forward(E.linear_forward(x, W, b), targets, reduction)
    return (loss, *E.linear_backward(E.cross_entropy_backward(probs, targets, reduction), x, W))


def same_bits(got, want, name):
    assert len(got) == len(want), name
    for i, (g, w) in enumerate(zip(got, want)):
        if isinstance(w, float):
            assert g == w or (np.isnan(g) and np.isnan(w)), f"{name}[{i}]: {g!r} != {w!r}"
        else:
            assert g.dtype == w.dtype and g.shape == w.shape, f"{name}[{i}]: {g.dtype}{g.shape} != {w.dtype}{w.shape}"
            assert np.array_equal(g, w, equal_nan=True), f"{name}[{i}]: not the same bits"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("correction", [0, 1])
@pytest.mark.parametrize("bias", [True, False], ids=["b", "no-b"])
def test_block_is_the_layers_composed(dtype, shape, correction, bias):
    N, D, H = shape
    rng = np.random.default_rng(N * 1000 + D * 10 + H)
    x, W, b, gamma, beta = block_args(rng, N, D, H, dtype, bias)
    fwd = tn.linear_batchnorm_tanh_forward(x, W, b, gamma, beta, 1e-5, correction)
    same_bits(fwd, composed_forward(tn, x, W, b, gamma, beta, 1e-5, correction), "forward")
    dh = randn(rng, (N, H), dtype)
    bwd = tn.linear_batchnorm_tanh_backward(dh, *fwd[:1], x, W, gamma, *fwd[1:], correction)
    same_bits(bwd, composed_backward(tn, dh, *fwd[:1], x, W, gamma, *fwd[1:], correction), "backward")
    # the NumPy engine: its own composition, and the C engine within tolerance
    want = ref.linear_batchnorm_tanh_forward(x, W, b, gamma, beta, 1e-5, correction)
    assert_close(want, composed_forward(ref, x, W, b, gamma, beta, 1e-5, correction), "numpy forward")
    assert_close(fwd, want, "forward", rtol=RTOL[np.dtype(dtype)])
    want_b = ref.linear_batchnorm_tanh_backward(dh, *fwd[:1], x, W, gamma, *fwd[1:], correction)
    # db cancels (batch norm removes the bias): compare it on dW's scale
    scale = float(np.max(np.abs(want_b[1]), initial=0.0))
    for name, g, w in zip(("dx", "dW", "db", "dgamma", "dbeta"), bwd, want_b):
        assert_close(g, w, name, rtol=RTOL[np.dtype(dtype)], min_scale=scale if name == "db" else 0.0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("correction", [0, 1])
@pytest.mark.parametrize("momentum", [0.1, 1.0])
def test_block_running_statistics(dtype, shape, correction, momentum):
    """running_mean and running_var updated in place as batchnorm_forward updates them from
    hpre (the C engine bit for bit, as the layers composed); the block's results unchanged
    by them; both engines alike."""
    N, D, H = shape
    rng = np.random.default_rng(N + D + H)
    x, W, b, gamma, beta = block_args(rng, N, D, H, dtype)
    rm0, rv0 = randn(rng, H, dtype), np.abs(randn(rng, H, dtype)) + 0.5
    got = {}
    for name, E in (("c", tn), ("numpy", ref)):
        rm, rv = rm0.copy(), rv0.copy()
        fwd = E.linear_batchnorm_tanh_forward(x, W, b, gamma, beta, 1e-5, correction, None, rm, rv, momentum)
        assert_close(fwd, E.linear_batchnorm_tanh_forward(x, W, b, gamma, beta, 1e-5, correction), name)
        crm, crv = rm0.copy(), rv0.copy()
        E.batchnorm_forward(E.linear_forward(x, W, b), gamma, beta, 1e-5, correction, crm, crv, momentum)
        if E is tn:
            same_bits(fwd, tn.linear_batchnorm_tanh_forward(x, W, b, gamma, beta, 1e-5, correction), "outputs")
            same_bits((rm, rv), (crm, crv), "running statistics")
        else:
            assert_close((rm, rv), (crm, crv), "numpy running statistics")
        got[name] = (rm, rv)
    assert_close(got["c"], got["numpy"], "running statistics", rtol=RTOL[np.dtype(dtype)])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(32, 200, 27), (3, 4, 5), (1, 1, 1), (5, 9, 2), (300, 40, 70), (64, 300, 33),
                                   (0, 4, 3)], ids=str)
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("bias", [True, False], ids=["b", "no-b"])
def test_head_is_the_layers_composed(dtype, shape, reduction, bias):
    N, D, V = shape
    rng = np.random.default_rng(N * 100 + D + V)
    x, W = randn(rng, (N, D), dtype), randn(rng, (V, D), dtype, 1 / np.sqrt(D))
    b = randn(rng, V, dtype) if bias else None
    targets = rng.integers(0, V, N)
    got = tn.linear_cross_entropy(x, W, b, targets, reduction)
    same_bits(got, composed_head(tn, x, W, b, targets, reduction), "head")
    want = ref.linear_cross_entropy(x, W, b, targets, reduction)
    assert_close(want, composed_head(ref, x, W, b, targets, reduction), "numpy head")
    assert_close(got, want, "head", rtol=RTOL[np.dtype(dtype)], scalar_rtol=RTOL[np.dtype(dtype)])
    assert isinstance(got[0], float) and isinstance(want[0], float)
    if N == 0 and reduction == "mean":
        assert np.isnan(got[0]) and np.isnan(want[0])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(32, 200, 27), (7, 13, 9), (300, 40, 70), (3, 4, 5)], ids=str)
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_head_with_ignore_index(dtype, shape, reduction):
    """ignore_index (makemore's -1 padding): the bits of the layers composed with it, the
    NumPy engine's values, and the rows ignored count for nothing (zero rows of dx)."""
    N, D, V = shape
    rng = np.random.default_rng(N + D + V)
    x, W, b = randn(rng, (N, D), dtype), randn(rng, (V, D), dtype, 1 / np.sqrt(D)), randn(rng, V, dtype)
    targets = rng.integers(0, V, N)
    targets[1::3] = -1
    got = tn.linear_cross_entropy(x, W, b, targets, reduction, ignore_index=-1)
    loss, probs = tn.cross_entropy_forward(tn.linear_forward(x, W, b), targets, reduction, -1)
    dlogits = tn.cross_entropy_backward(probs, targets, reduction, -1)
    same_bits(got, (loss, *tn.linear_backward(dlogits, x, W)), "head")
    want = ref.linear_cross_entropy(x, W, b, targets, reduction, ignore_index=-1)
    assert_close(got, want, "head", rtol=RTOL[np.dtype(dtype)], scalar_rtol=RTOL[np.dtype(dtype)])
    assert np.all(got[1][targets == -1] == 0)
    # without ignore_index (or with one no target has): the bits of the call without it
    kept = np.where(targets == -1, 0, targets)
    same_bits(tn.linear_cross_entropy(x, W, b, kept, reduction, ignore_index=None),
              tn.linear_cross_entropy(x, W, b, kept, reduction), "ignore_index=None")
    same_bits(tn.linear_cross_entropy(x, W, b, kept, reduction, None, -1),
              tn.linear_cross_entropy(x, W, b, kept, reduction), "ignore_index=-1, none ignored")


@pytest.mark.parametrize("kind", ["fortran", "strided", "byteswapped", "list"])
def test_layouts_give_the_same_bits(kind):
    rng = np.random.default_rng(5)
    x, W, b, gamma, beta = block_args(rng, 8, 6, 5, np.float64)
    targets = rng.integers(0, 5, 8)

    def lay(a):
        if kind == "fortran":
            return np.asfortranarray(a)
        if kind == "strided":
            return np.repeat(a, 2, axis=-1)[..., ::2]
        if kind == "byteswapped":
            return a.astype(a.dtype.newbyteorder())
        return a.tolist()

    fwd = tn.linear_batchnorm_tanh_forward(x, W, b, gamma, beta)
    same_bits(tn.linear_batchnorm_tanh_forward(*map(lay, (x, W, b, gamma, beta))), fwd, kind)
    dh = randn(rng, (8, 5), np.float64)
    args = (dh, fwd[0], x, W, gamma, *fwd[1:])
    same_bits(tn.linear_batchnorm_tanh_backward(*map(lay, args)), tn.linear_batchnorm_tanh_backward(*args), kind)
    same_bits(tn.linear_cross_entropy(*map(lay, (x, W, b)), targets), tn.linear_cross_entropy(x, W, b, targets), kind)


def test_arrays_are_disjoint_views_of_one_allocation():
    """As rnn_lm_loss's: one buffer per call, each array a writeable, C-contiguous view
    starting on a 64-byte boundary, sharing no memory with another (the NumPy engine
    returns separate arrays)."""
    rng = np.random.default_rng(6)
    x, W, b, gamma, beta = block_args(rng, 32, 30, 64, np.float32)
    fwd = tn.linear_batchnorm_tanh_forward(x, W, b, gamma, beta)
    bwd = tn.linear_batchnorm_tanh_backward(np.ones_like(fwd[0]), fwd[0], x, W, gamma, *fwd[1:])
    head = tn.linear_cross_entropy(fwd[0], randn(rng, (27, 64), np.float32), None, rng.integers(0, 27, 32))[1:]
    for arrays in (fwd, bwd, head):
        base = arrays[0].base
        assert base is not None
        for i, a in enumerate(arrays):
            assert a.base is base and not a.flags.owndata and a.flags.writeable and a.flags.c_contiguous
            assert a.ctypes.data % 64 == 0
            assert not any(np.shares_memory(a, o) for o in arrays[i + 1:])
        before = [a.copy() for a in arrays[1:]]
        arrays[0][...] = 7  # writing one leaves the others alone
        assert all(np.array_equal(a, c) for a, c in zip(arrays[1:], before))


def test_makemore_training_matches_the_layers_step_by_step():
    """Twenty SGD steps of makemore's model (float32, Bessel's variance): the fused calls
    keep every parameter bit for bit where the 19 single-layer calls put it."""
    rng = np.random.default_rng(7)
    V, E, block, H, n = 27, 10, 3, 64, 32
    p0 = {"C": randn(rng, (V, E), np.float32), "W1": randn(rng, (H, block * E), np.float32, 0.3),
          "b1": randn(rng, H, np.float32, 0.1), "gamma": randn(rng, H, np.float32, 0.1) + 1,
          "beta": randn(rng, H, np.float32, 0.1), "W2": randn(rng, (V, H), np.float32, 0.1),
          "b2": randn(rng, V, np.float32, 0.1)}
    batches = [(rng.integers(0, V, (n, block)), rng.integers(0, V, n)) for _ in range(20)]

    def train(fused):
        p = {k: v.copy() for k, v in p0.items()}
        losses = []
        for Xb, Yb in batches:
            emb = tn.embedding_forward(p["C"], Xb)
            x = emb.reshape(n, -1)
            if fused:
                h, hpre, mean, invstd = tn.linear_batchnorm_tanh_forward(x, p["W1"], p["b1"], p["gamma"], p["beta"],
                                                                         correction=1)
                loss, dh, dW2, db2 = tn.linear_cross_entropy(h, p["W2"], p["b2"], Yb)
                dx, dW1, db1, dgamma, dbeta = tn.linear_batchnorm_tanh_backward(
                    dh, h, x, p["W1"], p["gamma"], hpre, mean, invstd, correction=1)
            else:
                h, hpre, mean, invstd = composed_forward(tn, x, p["W1"], p["b1"], p["gamma"], p["beta"], 1e-5, 1)
                loss, dh, dW2, db2 = composed_head(tn, h, p["W2"], p["b2"], Yb, "mean")
                dx, dW1, db1, dgamma, dbeta = composed_backward(tn, dh, h, x, p["W1"], p["gamma"], hpre, mean,
                                                                invstd, 1)
            dC = tn.embedding_backward(dx.reshape(emb.shape), Xb, V)
            for k, g in zip(("C", "W1", "b1", "gamma", "beta", "W2", "b2"), (dC, dW1, db1, dgamma, dbeta, dW2, db2)):
                tn.sgd_step_(p[k], g, 0.1)
            losses.append(loss)
        return losses, p

    (l1, p1), (l2, p2) = train(True), train(False)
    assert l1 == l2
    for k in p1:
        assert np.array_equal(p1[k], p2[k]), k
    assert l1[-1] < l1[0]


@pytest.mark.parametrize("dtype", DTYPES)
def test_against_torch_autograd(dtype):
    """makemore's block and head (Linear, Bessel-variance batch norm written out as the
    seed does, tanh, Linear, F.cross_entropy) in PyTorch autograd: the same loss and the
    same gradients of every parameter and of the input."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(8)
    N, D, H, V = 32, 30, 64, 27
    x, W1, b1, gamma, beta = block_args(rng, N, D, H, dtype)
    W2, b2 = randn(rng, (V, H), dtype, 0.1), randn(rng, V, dtype, 0.1)
    targets = rng.integers(0, V, N)

    h, hpre, mean, invstd = tn.linear_batchnorm_tanh_forward(x, W1, b1, gamma, beta, correction=1)
    loss, dh, dW2, db2 = tn.linear_cross_entropy(h, W2, b2, targets)
    dx, dW1, db1, dgamma, dbeta = tn.linear_batchnorm_tanh_backward(dh, h, x, W1, gamma, hpre, mean, invstd,
                                                                    correction=1)

    t = {k: torch.from_numpy(v.copy()).requires_grad_(True)
         for k, v in dict(x=x, W1=W1, b1=b1, gamma=gamma, beta=beta, W2=W2, b2=b2).items()}
    hp = F.linear(t["x"], t["W1"], t["b1"])
    var = hp.var(0, keepdim=True, unbiased=True)
    th = torch.tanh(t["gamma"] * (hp - hp.mean(0, keepdim=True)) * (var + 1e-5) ** -0.5 + t["beta"])
    tloss = F.cross_entropy(F.linear(th, t["W2"], t["b2"]), torch.from_numpy(targets))
    tloss.backward()
    rtol = RTOL[np.dtype(dtype)]
    assert_close(loss, tloss.item(), "loss", scalar_rtol=rtol)
    assert_close(h, th.detach().numpy(), "h", rtol=rtol)
    for name, got in dict(x=dx, W1=dW1, gamma=dgamma, beta=dbeta, W2=dW2, b2=db2).items():
        assert_close(got, t[name].grad.numpy(), f"d{name}", rtol=rtol)
    # db1 cancels (batch norm removes the bias): on dW1's scale
    assert_close(db1, t["b1"].grad.numpy(), "db1", rtol=rtol, min_scale=float(np.max(np.abs(dW1))))


def _calls(E, rng, dtype):
    """(name, args, result shapes) of the three functions on one makemore-like block."""
    x, W, b, gamma, beta = block_args(rng, 6, 5, 4, dtype)
    h, hpre, mean, invstd = E.linear_batchnorm_tanh_forward(x, W, b, gamma, beta)
    dh = randn(rng, (6, 4), dtype)
    W2, targets = randn(rng, (3, 4), dtype), rng.integers(0, 3, 6)
    return [("linear_batchnorm_tanh_forward", (x, W, b, gamma, beta), [(6, 4), (6, 4), (4,), (4,)]),
            ("linear_batchnorm_tanh_backward", (dh, h, x, W, gamma, hpre, mean, invstd),
             [(6, 5), (4, 5), (4,), (4,), (4,)]),
            ("linear_cross_entropy", (h, W2, None, targets), [(6, 4), (3, 4), (3,)])]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("engine", ["c", "numpy"])
def test_out_receives_the_results(dtype, engine):
    """out=: the results written into the caller's arrays (the same bits as fresh ones),
    and those very arrays returned; out may be a list, and be reused call after call."""
    E = tn if engine == "c" else ref
    for name, args, shapes in _calls(E, np.random.default_rng(9), dtype):
        fn = getattr(E, name)
        fresh = fn(*args)
        out = [np.full(s, np.nan, dtype) for s in shapes]
        for _ in range(2):
            got = fn(*args, out=out)
            arrays = got[1:] if name == "linear_cross_entropy" else got
            assert isinstance(got, tuple) and all(a is o for a, o in zip(arrays, out)), name
            same_bits(got, fresh, f"{name} out=")
        assert fn(*args, out=None)[-1].shape == shapes[-1]


def _bad_outs(shapes, dtype, args):
    good = lambda: [np.zeros(s, dtype) for s in shapes]
    other = np.float32 if dtype == np.float64 else np.float64
    k, x = next((k, a) for k, s in enumerate(shapes) for a in args
                if isinstance(a, np.ndarray) and a.dtype.kind == "f" and a.shape == s)  # an input shaped as out[k]

    def swap(i, a):
        out = good()
        out[i] = a
        return out

    ro = np.zeros(shapes[0], dtype)
    ro.flags.writeable = False
    both = good()
    return [
        ("not a sequence", np.zeros(3), TypeError, ["out must be", "ndarray"]),
        ("too short", good()[:-1], TypeError, ["out must be", f"{len(shapes)} arrays"]),
        ("a list in it", swap(0, np.zeros(shapes[0]).tolist()), TypeError, ["out[0]", "list"]),
        ("wrong dtype", swap(1, np.zeros(shapes[1], other)), TypeError, ["out[1]", "float"]),
        ("wrong shape", swap(2, np.zeros((7,), dtype)), ValueError, ["out[2]", "(7,)", str(shapes[2])]),
        ("read-only", swap(0, ro), ValueError, ["out[0]", "read-only"]),
        ("strided", swap(0, np.zeros((shapes[0][0], 2 * shapes[0][1]), dtype)[:, ::2]), ValueError,
         ["out[0]", "C-contiguous"]),
        ("an input", swap(k, x), ValueError, [f"out[{k}]", "shares memory"]),
        ("twice", [both[0]] + [both[0]] + both[2:] if shapes[1] == shapes[0] else None, ValueError,
         ["out[1]", "shares memory with out[0]"]),
    ]


@pytest.mark.parametrize("dtype", DTYPES)
def test_bad_out_is_refused_alike(dtype):
    """A bad out=: the same exception in both engines, naming the function and out[i],
    and nothing written (not even into the good arrays of out)."""
    per_engine = {E: _calls(E, np.random.default_rng(10), dtype) for E in (tn, ref)}
    for i, (name, _, shapes) in enumerate(per_engine[tn]):
        for j in range(len(_bad_outs(shapes, dtype, per_engine[tn][i][1]))):
            seen = {}
            for E, calls in per_engine.items():
                args = calls[i][1]
                label, out, exc, needles = _bad_outs(shapes, dtype, args)[j]
                if out is None:
                    continue
                before = [np.array(v, copy=True) for v in out] if isinstance(out, list) else []
                with pytest.raises(exc) as e:
                    getattr(E, name)(*args, out=out)
                msg = seen[E.__name__] = str(e.value)
                assert msg.startswith(f"{name}: "), (label, msg)
                for needle in needles:
                    assert needle in msg, (label, E.__name__, msg)
                assert all(np.array_equal(p, q, equal_nan=True) for p, q in zip(before, out)), (label, "written")
            assert len(set(seen.values())) <= 1, seen  # the same message, word for word


# ------------------------------------------------------------- finite differences


class TestGradients:
    """The NumPy engine's backward passes against central finite differences (helpers.check_grad)."""

    @pytest.mark.parametrize("correction", [0, 1])
    @pytest.mark.parametrize("bias", [True, False], ids=["b", "no-b"])
    def test_linear_batchnorm_tanh(self, correction, bias):
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
    def test_linear_cross_entropy(self, reduction):
        rng = np.random.default_rng(40)
        x, W, b, targets = rand(rng, 6, 3), rand(rng, 5, 3, scale=1.5), rand(rng, 5), rng.integers(0, 5, 6)
        L = lambda: ref.linear_cross_entropy(x, W, b, targets, reduction)[0]
        _, dx, dW, db = ref.linear_cross_entropy(x, W, b, targets, reduction)
        for name, p, g in [("x", x, dx), ("W", W, dW), ("b", b, db)]:
            check_grad(name, g, numgrad(L, p))

    def test_linear_cross_entropy_ignore_index(self):
        rng = np.random.default_rng(41)
        x, W, b, targets = rand(rng, 6, 3), rand(rng, 5, 3, scale=1.5), rand(rng, 5), rng.integers(0, 5, 6)
        targets[[0, 3]] = -1
        L = lambda: ref.linear_cross_entropy(x, W, b, targets, ignore_index=-1)[0]
        _, dx, dW, db = ref.linear_cross_entropy(x, W, b, targets, ignore_index=-1)
        for name, p, g in [("x", x, dx), ("W", W, dW), ("b", b, db)]:
            check_grad(name, g, numgrad(L, p))
