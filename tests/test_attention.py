"""Causal multi-head self-attention: attention_forward / attention_backward.

* the C engine against the NumPy engine (helpers.check) over a grid of (B, T, C, n_head):
  T = 1, one head, hs = 1, head sizes that are no whole SIMD vector, C = 3 times an odd
  number, T past one block of the GEMM (256), unbatched, both dtypes, and
  non-contiguous / Fortran / byte-swapped / negative-stride layouts;
* against PyTorch (skipped without it): F.scaled_dot_product_attention(is_causal=True)
  after nanoGPT's split into heads, its output and (autograd) dqkv; att against the
  explicitly masked softmax;
* numerics: logits of +-1e4, rows of att that sum to 1 with exact zeros above the
  diagonal, no columns at all (C = 0), a later token's inf or NaN that never reaches an
  earlier token, att's upper triangle never read;
* threads and instruction sets: the same bits for 1 and 2 threads at sizes that take
  the threaded path, and under TINYNET_SIMD=generic / avx2;
* the messages of bad n_head and shapes, the same in both engines;
* the NumPy engine's backward against central finite differences (float64):
  TestGradients.

The matrices every function goes through (bad inputs, properties, threads, leaks,
recorded bits) are generated from its spec in tests/specs.py.
"""
import math
import sys

import numpy as np
import pytest

import tinynet as tn
import tinynet.reference as ref
from conftest import DTYPES, assert_close
from helpers import LAYOUTS, check, check_grad, numgrad, output_per_instruction_set, rand, randn, relayout


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


@pytest.fixture
def restore_threads():
    n = tn.get_num_threads()
    yield
    tn.set_num_threads(n)


def make(B, T, C, n_head, dtype, seed=0, scale=1.0):
    """qkv (B, T, 3C) and dout (B, T, C), O(1) values (logits O(scale**2))."""
    rng = np.random.default_rng(seed)
    return randn(rng, (B, T, 3 * C), dtype, scale), randn(rng, (B, T, C), dtype)


# -------------------------------------------------------------------- the engines

# (B, T, C, n_head): T = 1, one head, hs = 1, hs = 3 / 10 / 12 (no whole vector), C = 3
# times an odd number (9, 15, 21), GPT's training step (hs = 16), T past one GEMM block,
# and T = 50, hs = 20 (a last column panel of 18 and one of 20 values: a full-width kernel
# reading a panel to the padding of the rows, a multiple of 16)
SHAPES = [(1, 1, 4, 1), (2, 1, 6, 2), (2, 5, 6, 6), (2, 13, 9, 1), (1, 33, 15, 5), (3, 7, 24, 2), (2, 9, 21, 7),
          (32, 16, 64, 4), (2, 40, 96, 3), (1, 70, 40, 4), (1, 300, 64, 2), (2, 50, 40, 2)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("B,T,C,n_head", SHAPES)
def test_attention(B, T, C, n_head, dtype):
    qkv, dout = make(B, T, C, n_head, dtype, seed=B * 1000 + T + C)
    out, att = check("attention_forward", qkv, n_head)
    assert out.shape == (B, T, C) and att.shape == (B, n_head, T, T)
    assert out.dtype == att.dtype == dtype
    dqkv = check("attention_backward", dout, qkv, att, n_head)
    assert dqkv.shape == qkv.shape and dqkv.dtype == dtype
    # unbatched: one sequence, the batch's first
    out1, att1 = check("attention_forward", qkv[0], n_head)
    assert_close(out1, out[0], "unbatched out")
    assert_close(att1, att[0], "unbatched att")
    assert_close(check("attention_backward", dout[0], qkv[0], att[0], n_head), dqkv[0], "unbatched dqkv")


@pytest.mark.parametrize("kind", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_attention_layouts(kind, dtype):
    qkv, dout = make(3, 11, 12, 2, dtype, seed=5)
    out, att = tn.attention_forward(qkv, 2)
    assert_close(tn.attention_forward(*relayout([qkv], kind), 2), (out, att), kind)
    want = tn.attention_backward(dout, qkv, att, 2)
    assert_close(tn.attention_backward(*relayout([dout, qkv, att], kind), 2), want, kind)
    check("attention_backward", *relayout([dout, qkv, att], kind), 2)


def test_lists_and_keywords():
    qkv = [[[0.0, 1.0, 2.0], [1.0, 0.0, 3.0]]]  # B = 1, T = 2, C = 1
    for engine in (tn, ref):
        out, att = engine.attention_forward(qkv=qkv, n_head=np.int64(1))
        assert out.dtype == np.float64
        e = math.e  # token 1: its q = 1 against k = 1 (token 0's) and k = 0 (its own)
        want = np.array([[2.0], [(2.0 * e + 3.0) / (e + 1.0)]])
        assert_close(out[0], want, "out")
        dqkv = engine.attention_backward(dout=np.ones((1, 2, 1)), qkv=qkv, att=att, n_head=1)
        assert dqkv.shape == (1, 2, 3)


# -------------------------------------------------------------------- PyTorch


def torch_attention(torch, qkv, dout, n_head):
    """out, dqkv (autograd) and the masked softmax's weights, as nanoGPT computes them."""
    x = torch.tensor(qkv, requires_grad=True)
    B, T, C = x.shape[0], x.shape[1], x.shape[2] // 3
    q, k, v = (t.view(B, T, n_head, C // n_head).transpose(1, 2) for t in x.split(C, dim=2))
    y = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
    y = y.transpose(1, 2).contiguous().view(B, T, C)
    y.backward(torch.tensor(dout))
    logits = (q @ k.transpose(-2, -1)) / math.sqrt(C // n_head)
    mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
    att = torch.softmax(logits.masked_fill(~mask, float("-inf")), dim=-1)
    return y.detach().numpy(), x.grad.numpy(), att.detach().numpy()


# float64: as exact as the arithmetic; float32: relative to each result's scale
TORCH_RTOL = {np.float64: 1e-10, np.float32: 1e-5}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("B,T,C,n_head", [(32, 16, 64, 4), (2, 33, 15, 5), (1, 1, 4, 1), (2, 100, 96, 6)])
def test_against_pytorch(torch, B, T, C, n_head, dtype):
    qkv, dout = make(B, T, C, n_head, dtype, seed=T)
    out, att = tn.attention_forward(qkv, n_head)
    dqkv = tn.attention_backward(dout, qkv, att, n_head)
    t_out, t_dqkv, t_att = torch_attention(torch, qkv, dout, n_head)
    rtol = TORCH_RTOL[dtype]
    assert_close(out, t_out, "out against F.scaled_dot_product_attention", rtol=rtol)
    assert_close(dqkv, t_dqkv, "dqkv against autograd", rtol=rtol)
    assert_close(att, t_att, "att against the masked softmax", rtol=rtol)


# ------------------------------------------------------------------- numerics


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("engine", [tn, ref], ids=["c", "numpy"])
def test_huge_logits_stay_finite(engine, dtype):
    """Logits of +-1e4: max-subtracted over each causal row, att is finite (one-hot where
    one logit dominates) and so are out and dqkv."""
    B, T, C, n_head = 2, 9, 8, 2
    rng = np.random.default_rng(3)
    qkv = np.zeros((B, T, 3 * C), dtype)
    qkv[..., :C] = 100.0  # q
    qkv[..., C:2 * C] = 100.0 * rng.choice([-1.0, 1.0], (B, T, C))  # k: q . k / sqrt(4) = +-1e4 terms
    qkv[..., 2 * C:] = rng.standard_normal((B, T, C))
    out, att = engine.attention_forward(qkv, n_head)
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(att))
    assert_close(att.sum(axis=-1), np.ones((B, n_head, T), dtype), "rows of att")
    dqkv = engine.attention_backward(rng.standard_normal((B, T, C)).astype(dtype), qkv, att, n_head)
    assert np.all(np.isfinite(dqkv))
    check("attention_forward", qkv, n_head)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("T", [1, 7, 16, 29])
def test_rows_sum_to_one_with_zeros_above_the_diagonal(T, dtype):
    qkv, _ = make(3, T, 12, 3, dtype, seed=T, scale=3.0)
    for engine in (tn, ref):
        _, att = engine.attention_forward(qkv, 3)
        assert np.all(att[..., np.triu_indices(T, 1)[0], np.triu_indices(T, 1)[1]] == 0)
        assert np.all(att >= 0)
        tol = 1e-12 if dtype == np.float64 else 1e-5
        assert np.abs(att.sum(axis=-1) - 1).max() < tol
        assert np.all(att[..., 0, 0] == 1)  # token 0 sees itself only


@pytest.mark.parametrize("dtype", DTYPES)
def test_no_columns(dtype):
    """C = 0 (heads of no columns): the logits are 0 and each token weighs itself and the
    ones before it equally; out and dqkv have no columns."""
    qkv = np.zeros((2, 4, 0), dtype)
    for engine in (tn, ref):
        out, att = engine.attention_forward(qkv, 2)
        assert out.shape == (2, 4, 0) and att.shape == (2, 2, 4, 4) and att.dtype == dtype
        assert_close(att[1, 1], (np.tril(np.ones((4, 4))) / np.arange(1, 5)[:, None]).astype(dtype), "uniform weights")
        assert engine.attention_backward(out, qkv, att, 2).shape == (2, 4, 0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("part,token", [("q", 5), ("k", 5), ("v", 5), ("v", 12), ("k", 23), ("q", 11)])
@pytest.mark.parametrize("bad", [np.inf, np.nan])
def test_a_later_token_never_reaches_an_earlier_one(part, token, bad, dtype):
    """An inf or NaN in token t's q, k or v changes no result that does not depend on it,
    whatever group of rows the kernels compute it in (rows 12 at a time): the products over
    causal ranges never multiply a later token's values by the 0 of a masked weight.  So
    out_i, att_i and dq_i (which read k_j, v_j for j <= i) stay as they were for i < t,
    dk_j (which reads q_i for i >= j) for j > t, and dv (att and dout only) everywhere."""
    B, T, C, n_head = 2, 26, 20, 2
    qkv, dout = make(B, T, C, n_head, dtype, seed=token)
    col = {"q": 0, "k": C, "v": 2 * C}[part] + 3
    poked = qkv.copy()
    poked[1, token, col] = bad
    for engine in (tn, ref):
        out, att = engine.attention_forward(qkv, n_head)
        out_p, att_p = engine.attention_forward(poked, n_head)
        assert np.array_equal(out_p[:, :token], out[:, :token]), engine.__name__
        assert np.array_equal(att_p[..., :token, :], att[..., :token, :]), engine.__name__
        assert not np.all(np.isfinite(out_p[1, token:]))
        dqkv = engine.attention_backward(dout, qkv, att, n_head)  # the same att: dS does not change
        dqkv_p = engine.attention_backward(dout, poked, att, n_head)
        dq, dk, dv, dq_p, dk_p, dv_p = np.split(dqkv, 3, axis=-1) + np.split(dqkv_p, 3, axis=-1)
        assert np.array_equal(dq_p[:, :token], dq[:, :token]), engine.__name__
        if part != "v":  # (v_t enters every later row's dS through its softmax sum, and so every dk_j)
            assert np.array_equal(dk_p[:, token + 1:], dk[:, token + 1:]), engine.__name__
        assert np.array_equal(dv_p, dv), engine.__name__
        assert not np.all(np.isfinite({"q": dk_p, "k": dq_p, "v": dk_p}[part]))
    check("attention_forward", poked, n_head)
    check("attention_backward", dout, poked, tn.attention_forward(poked, n_head)[1], n_head)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("token", [3, 11, 12, 25])
def test_a_nan_in_dout_stays_in_its_causal_range(token, dtype):
    B, T, C, n_head = 2, 26, 20, 2
    qkv, dout = make(B, T, C, n_head, dtype, seed=token)
    poked = dout.copy()
    poked[0, token, 7] = np.nan
    for engine in (tn, ref):
        _, att = engine.attention_forward(qkv, n_head)
        want = engine.attention_backward(dout, qkv, att, n_head)
        got = engine.attention_backward(poked, qkv, att, n_head)
        others = np.arange(T) != token  # dq_i needs dout_i only; dk_j, dv_j the dout_i of i >= j
        assert np.array_equal(got[:, others, :C], want[:, others, :C]), engine.__name__
        assert np.array_equal(got[:, token + 1:, C:], want[:, token + 1:, C:]), engine.__name__
        assert np.isnan(got[0, token]).any()
    check("attention_backward", poked, qkv, tn.attention_forward(qkv, n_head)[1], n_head)


@pytest.mark.parametrize("dtype", DTYPES)
def test_the_upper_triangle_of_att_is_not_read(dtype):
    qkv, dout = make(2, 14, 12, 3, dtype, seed=8)
    _, att = tn.attention_forward(qkv, 3)
    junk = att.copy()
    iu = np.triu_indices(14, 1)
    junk[..., iu[0], iu[1]] = np.nan
    junk[0, 1, 2, 9] = np.inf
    for engine in (tn, ref):
        assert np.array_equal(engine.attention_backward(dout, qkv, junk, 3), engine.attention_backward(dout, qkv, att, 3))


# ---------------------------------------------------- threads, instruction sets


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("B,T,C,n_head", [(32, 16, 64, 4), (3, 130, 48, 2), (2, 40, 40, 5)])
def test_same_bits_for_one_and_two_threads(B, T, C, n_head, dtype, restore_threads):
    """Every size here is above the threaded path's threshold: the (b, h) problems are
    shared out to the team, each member on its own scratch."""
    assert 2.0 * B * T * T * C > 2e5 and B * n_head >= 2
    qkv, dout = make(B, T, C, n_head, dtype, seed=T)
    results = {}
    for threads in (1, 2, 1, 2):
        tn.set_num_threads(threads)
        out, att = tn.attention_forward(qkv, n_head)
        got = (out, att, tn.attention_backward(dout, qkv, att, n_head))
        if threads in results:
            assert all(np.array_equal(a, b) for a, b in zip(got, results[threads]))
        results[threads] = got
    for a, b in zip(results[1], results[2]):
        assert np.array_equal(a, b), "two threads changed the bits"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="instruction-set override is for x86 Linux")
def test_same_bits_on_every_instruction_set():
    code = "\n".join([
        "import numpy as np, sys, tinynet as tn",
        "rng, out = np.random.default_rng(3), b''",
        "for dt in (np.float64, np.float32):",
        "    for B, T, C, h in [(2, 19, 15, 3), (4, 16, 64, 4), (1, 70, 64, 2)]:",
        "        qkv, d = rng.standard_normal((B, T, 3 * C)).astype(dt), rng.standard_normal((B, T, C)).astype(dt)",
        "        o, a = tn.attention_forward(qkv, h)",
        "        out += o.tobytes() + a.tobytes() + tn.attention_backward(d, qkv, a, h).tobytes()",
        "sys.stdout.buffer.write(out)",
    ])
    outs = output_per_instruction_set(code)
    assert outs["avx2"] == outs["avx512"]
    assert outs["generic"] == outs["avx512"]


# --------------------------------------------------------------------- errors


@pytest.mark.parametrize("E", [tn, ref], ids=["c", "numpy"])
def test_bad_arguments_are_named(E):
    qkv = np.zeros((2, 3, 18))
    out, att = E.attention_forward(qkv, 2)
    with pytest.raises(ValueError, match=r"^attention_forward: qkv has shape \(2, 3, 18\), expected \(B, T, 3C\) "
                                         r"with C = qkv.shape\[-1\] / 3 = 6 divisible by n_head = 4$"):
        E.attention_forward(qkv, 4)
    with pytest.raises(ValueError, match=r"^attention_forward: qkv has shape \(2, 3, 17\), expected \(B, T, 3C\): "
                                         r"q, k and v side by side, a last axis divisible by 3$"):
        E.attention_forward(qkv[..., :17], 1)
    with pytest.raises(ValueError, match=r"^attention_forward: qkv has shape \(18,\), expected \(B, T, 3C\) or "
                                         r"\(T, 3C\)"):
        E.attention_forward(qkv[0, 0], 1)
    with pytest.raises(ValueError, match=r"^attention_forward: n_head must be >= 1, got 0$"):
        E.attention_forward(qkv, 0)
    with pytest.raises(TypeError, match=r"^attention_forward: n_head must be an integer, not float$"):
        E.attention_forward(qkv, 2.0)
    with pytest.raises(ValueError, match=r"^attention_backward: dout has shape \(2, 3, 5\), expected \(B, T, C\) = "
                                         r"\(2, 3, 6\), from qkv of shape \(2, 3, 18\) and n_head = 2$"):
        E.attention_backward(out[..., :5], qkv, att, 2)
    with pytest.raises(ValueError, match=r"^attention_backward: att has shape \(2, 2, 3, 3\), expected "
                                         r"\(B, n_head, T, T\) = \(2, 3, 3, 3\), from qkv of shape \(2, 3, 18\) "
                                         r"and n_head = 3$"):
        E.attention_backward(out, qkv, att, 3)
    with pytest.raises(ValueError, match=r"^attention_backward: att has shape \(2, 2, 3\), expected "
                                         r"\(n_head, T, T\) = \(2, 3, 3\)"):
        E.attention_backward(out[0], qkv[0], att[0, :, :2], 2)


# --------------------------------------------------------- finite differences


class TestGradients:
    """The NumPy engine's backward against central finite differences (helpers.check_grad):
    L = sum(R * out) for a fixed random R, so dout = R."""

    @pytest.mark.parametrize("B,T,C,n_head", [(2, 5, 4, 2), (1, 1, 3, 1), (1, 6, 6, 3), (2, 4, 6, 1)])
    def test_attention(self, B, T, C, n_head):
        rng = np.random.default_rng(B * 100 + T * 10 + C)
        qkv, R = rand(rng, B, T, 3 * C), rand(rng, B, T, C)
        L = lambda: np.sum(R * ref.attention_forward(qkv, n_head)[0])
        _, att = ref.attention_forward(qkv, n_head)
        check_grad("qkv", ref.attention_backward(R, qkv, att, n_head), numgrad(L, qkv))

    def test_attention_unbatched(self):
        rng = np.random.default_rng(11)
        qkv, R = rand(rng, 5, 12, scale=2.0), rand(rng, 5, 4)
        L = lambda: np.sum(R * ref.attention_forward(qkv, 2)[0])
        check_grad("qkv", ref.attention_backward(R, qkv, ref.attention_forward(qkv, 2)[1], 2), numgrad(L, qkv))
