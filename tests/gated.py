"""What the gated recurrent layers' tests share: tests/test_lstm.py and tests/test_gru.py
run these tests, each for its own layer.

The LSTM and the GRU are tested the same way, case for case: one body per test,
parametrized by `kind` ("lstm" or "gru"), rather than two copies that would drift
apart.  The bodies are the methods of GatedTests and GatedGradients; a layer's test file
runs them for its layer with `TestLSTM, TestGradients = classes_for("lstm")` (subclasses
whose tests get the `kind` parameter).  What only one layer has (nn.LSTM's cell state,
say) is in that layer's file.

* the C engine against the NumPy engine: every shape class (size 1, odd, the packed and
  blocked GEMM paths), both dtypes, float and token input, batched and unbatched, with
  and without initial states and biases, and non-contiguous / Fortran / byte-swapped
  layouts; inputs are never modified;
* the NumPy engine's backward passes against central finite differences (float64), and
  the C engine's too (GatedGradients);
* both engines against torch.nn.LSTM / torch.nn.GRU autograd, loaded with the same
  weights: outputs, final states and every gradient (inputs, initial states, weights,
  biases) within 1e-10 (float64) and 1e-5 (float32) of the tensor's scale;
* the layers: PyTorch's call signatures, state-dict keys in both directions,
  named_grads(), bias=False, states in PyTorch's (1, B, H) shape or as (B, H), save /
  load;
* what the C engine promises beyond the NumPy twin: a zero state given as None is the
  same as zeros, to the bit; a sequence cut in two (the state carried over) gives the
  same bits as the whole.
"""
import itertools
import os
import tempfile

import numpy as np
import pytest

import tinynet
import tinynet as tn
import tinynet.reference as ref
from tinynet import nn

from conftest import DTYPES, assert_close
from helpers import check_grad, numgrad


KINDS = {"lstm": 4, "gru": 3}
TORCH_TOL = {np.dtype(np.float64): 1e-10, np.dtype(np.float32): 1e-5}


def weights(rng, G, D, H, dtype, bias=True):
    """PyTorch-like scales: U(-1/sqrt(H), 1/sqrt(H)), a little wider to exercise the gates."""
    k = 1.5 / np.sqrt(max(H, 1))
    W_ih = rng.uniform(-k, k, (G * H, D)).astype(dtype)
    W_hh = rng.uniform(-k, k, (G * H, H)).astype(dtype)
    b = [rng.uniform(-k, k, G * H).astype(dtype) for _ in range(2)] if bias else [None, None]
    return W_ih, W_hh, *b


def inputs(rng, T, B, D, dtype, tokens, batched):
    if tokens:
        return rng.integers(0, D, (T, B) if batched else (T,))
    return rng.standard_normal((T, B, D) if batched else (T, D)).astype(dtype)


def states(rng, B, H, dtype, batched, n):
    return [rng.standard_normal((B, H) if batched else (H,)).astype(dtype) for _ in range(n)]


def run(E, kind, x, h0, c0, W_ih, W_hh, b_ih, b_hh, R, dc_n=None):
    """Forward, then backward from dhs = R: (forward results, backward results)."""
    if kind == "lstm":
        fwd = E.lstm_forward(x, h0, c0, W_ih, W_hh, b_ih, b_hh)
        hs, cs, gates = fwd
        return fwd, E.lstm_backward(R, x, h0, c0, hs, cs, gates, W_ih, W_hh, dc_n)
    fwd = E.gru_forward(x, h0, W_ih, W_hh, b_ih, b_hh)
    hs, gates, gh_n = fwd
    return fwd, E.gru_backward(R, x, h0, hs, gates, gh_n, W_ih, W_hh)


# (T, B, D, H): tiny, odd, one step, one sequence; then the packed GEMM paths: B H G H
# above the small-GEMM limit, D and 4H above one KC block (256), T B above a column-sum
# block (128 rows)
SHAPES = [(1, 1, 1, 1), (3, 2, 4, 5), (7, 3, 5, 9), (1, 4, 3, 6), (5, 1, 2, 7), (6, 32, 20, 40), (3, 9, 300, 70),
          (2, 5, 7, 130), (40, 4, 6, 12)]


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


def _np(t):
    return t.detach().numpy()


class GatedTests:
    """The tests both gated layers run; a subclass in tests/test_<layer>.py gives `kind`."""

    @pytest.mark.parametrize("dtype", DTYPES)
    @pytest.mark.parametrize("T,B,D,H", SHAPES)
    def test_c_engine_matches_numpy_engine(self, kind, dtype, T, B, D, H):
        G = KINDS[kind]
        rng = np.random.default_rng(T * 1000 + B * 100 + D * 10 + H)
        for tokens, batched, given, bias in itertools.product([False, True], [True, False], [True, False], [True, False]):
            if not batched and B > 1:
                continue
            W = weights(rng, G, D, H, dtype, bias)
            x = inputs(rng, T, B, D, dtype, tokens, batched)
            h0, c0 = states(rng, B, H, dtype, batched, 2) if given else (None, None)
            dc_n = states(rng, B, H, dtype, batched, 1)[0] if given and kind == "lstm" else None
            R = rng.standard_normal((T, B, H) if batched else (T, H)).astype(dtype)
            args = [x, h0, c0, *W, R, dc_n]
            before = [None if a is None else a.copy() for a in args]
            got = run(tn, kind, *args)
            for a, b in zip(args, before):
                assert a is None or np.array_equal(a, b), f"{kind} modified an input"
            want = run(ref, kind, *args)
            where = f"{kind} tokens={tokens} batched={batched} states={given} bias={bias}"
            assert_close(got, want, where)
            assert (got[1][0] is None) == tokens, where

    @pytest.mark.parametrize("dtype", DTYPES)
    @pytest.mark.parametrize("layout", ["fortran", "strided", "byteswapped", "negative-stride"])
    def test_any_input_layout(self, kind, dtype, layout):
        G = KINDS[kind]
        rng = np.random.default_rng(3)
        T, B, D, H = 4, 3, 5, 6
        args = [inputs(rng, T, B, D, dtype, False, True), *states(rng, B, H, dtype, True, 2), *weights(rng, G, D, H, dtype),
                rng.standard_normal((T, B, H)).astype(dtype), states(rng, B, H, dtype, True, 1)[0]]
        want = run(tn, kind, *args)

        def relayout(a):
            if a.ndim < 2 and layout == "fortran":
                return a
            return {"fortran": np.asfortranarray, "strided": lambda v: np.repeat(v, 2, axis=-1)[..., ::2],
                    "byteswapped": lambda v: v.astype(v.dtype.newbyteorder()),
                    "negative-stride": lambda v: np.ascontiguousarray(v[::-1])[::-1]}[layout](a)

        assert_close(run(tn, kind, *[relayout(a) for a in args]), want, layout)

    # -------------------------------------------------------------------- PyTorch

    @pytest.mark.parametrize("engine", ["c", "numpy"])
    @pytest.mark.parametrize("dtype", DTYPES)
    @pytest.mark.parametrize("tokens", [False, True], ids=["floats", "tokens"])
    @pytest.mark.parametrize("T,B,D,H", [(5, 3, 4, 6), (9, 32, 20, 40)])
    def test_functions_match_torch(self, torch, kind, engine, dtype, tokens, T, B, D, H):
        """torch.nn.LSTM / GRU with the same weights: outputs, final states and every gradient
        of L = sum(R * output) + sum(Rh * h_n) (+ sum(Rc * c_n)) -- x (one-hot for token
        ids), h0, c0, both weights, both biases."""
        E, G = tinynet.engine(engine), KINDS[kind]
        rng = np.random.default_rng(T + B)
        tdt = {np.dtype(np.float64): torch.float64, np.dtype(np.float32): torch.float32}[np.dtype(dtype)]
        W = weights(rng, G, D, H, dtype)
        module = (torch.nn.LSTM if kind == "lstm" else torch.nn.GRU)(D, H, dtype=tdt)
        with torch.no_grad():
            for p, w in zip(module.parameters(), W):
                p.copy_(torch.from_numpy(w))
        x = inputs(rng, T, B, D, dtype, tokens, True)
        h0, c0 = states(rng, B, H, dtype, True, 2)
        R, Rh, Rc = (rng.standard_normal(s).astype(dtype) for s in [(T, B, H), (B, H), (B, H)])
        xt = torch.tensor(np.eye(D, dtype=dtype)[x] if tokens else x, requires_grad=True)
        h0t, c0t = (torch.tensor(s[None], requires_grad=True) for s in (h0, c0))
        if kind == "lstm":
            out, (h_n, c_n) = module(xt, (h0t, c0t))
            loss = (out * torch.from_numpy(R)).sum() + (h_n[0] * torch.from_numpy(Rh)).sum() + \
                (c_n[0] * torch.from_numpy(Rc)).sum()
        else:
            out, h_n = module(xt, h0t)
            loss = (out * torch.from_numpy(R)).sum() + (h_n[0] * torch.from_numpy(Rh)).sum()
        loss.backward()
        tol = TORCH_TOL[np.dtype(dtype)]
        dhs = R.copy()
        dhs[-1] += Rh  # h_n is the last output
        if kind == "lstm":
            (hs, cs, gates), grads = run(E, kind, x, h0, c0, *W, dhs, Rc)
            assert_close(cs[-1], _np(c_n[0]), "c_n", rtol=tol)
            names = ["dx", "dh0", "dc0", "dW_ih", "dW_hh", "db_ih", "db_hh"]
            want = [xt.grad, h0t.grad[0], c0t.grad[0]]
        else:
            (hs, gates, gh_n), grads = run(E, kind, x, h0, None, *W, dhs)
            names = ["dx", "dh0", "dW_ih", "dW_hh", "db_ih", "db_hh"]
            want = [xt.grad, h0t.grad[0]]
        want += [p.grad for p in module.parameters()]
        assert_close(hs, _np(out), "output", rtol=tol)
        assert_close(hs[-1], _np(h_n[0]), "h_n", rtol=tol)
        for name, g, w in zip(names, grads, want):
            if name == "dx" and tokens:
                assert g is None
                continue
            assert_close(g, _np(w), f"{kind} {name}", rtol=tol)

    @pytest.mark.parametrize("engine", ["c", "numpy"])
    @pytest.mark.parametrize("dtype", DTYPES)
    @pytest.mark.parametrize("bias", [True, False])
    def test_layers_are_torchs_both_ways(self, torch, kind, engine, dtype, bias):
        """nn.LSTM / nn.GRU: torch's state dict in, the same outputs, final states and
        gradients (named_grads under the state-dict names, dh0 / dc0); and tinynet's state
        dict into torch."""
        cls, tcls = (nn.LSTM, torch.nn.LSTM) if kind == "lstm" else (nn.GRU, torch.nn.GRU)
        tdt = {np.dtype(np.float64): torch.float64, np.dtype(np.float32): torch.float32}[np.dtype(dtype)]
        T, B, D, H = 6, 3, 4, 5
        theirs = tcls(D, H, bias=bias, dtype=tdt)
        ours = cls(D, H, bias=bias, engine=engine, dtype=dtype, rng=0)
        ours.load_state_dict(theirs.state_dict(keep_vars=True))
        assert list(ours.state_dict()) == [k for k, _ in theirs.named_parameters()]
        rng = np.random.default_rng(1)
        x = rng.standard_normal((T, B, D)).astype(dtype)
        h0, c0 = (rng.standard_normal((1, B, H)).astype(dtype) for _ in range(2))
        R, Rh, Rc = (rng.standard_normal(s).astype(dtype) for s in [(T, B, H), (1, B, H), (1, B, H)])
        xt = torch.tensor(x, requires_grad=True)
        h0t, c0t = torch.tensor(h0, requires_grad=True), torch.tensor(c0, requires_grad=True)
        tol = TORCH_TOL[np.dtype(dtype)]
        if kind == "lstm":
            out, (h_n, c_n) = ours(x, (h0, c0))
            tout, (th_n, tc_n) = theirs(xt, (h0t, c0t))
            ((tout * torch.from_numpy(R)).sum() + (th_n * torch.from_numpy(Rh)).sum() +
             (tc_n * torch.from_numpy(Rc)).sum()).backward()
            dx = ours.backward(R, dh_n=Rh, dc_n=Rc)
            assert_close(c_n, _np(tc_n), "c_n", rtol=tol)
            assert_close(ours.dc0, _np(c0t.grad), "dc0", rtol=tol)
        else:
            out, h_n = ours(x, h0)
            tout, th_n = theirs(xt, h0t)
            ((tout * torch.from_numpy(R)).sum() + (th_n * torch.from_numpy(Rh)).sum()).backward()
            dx = ours.backward(R, dh_n=Rh)
        assert_close(out, _np(tout), "output", rtol=tol)
        assert_close(h_n, _np(th_n), "h_n", rtol=tol)
        assert_close(dx, _np(xt.grad), "dx", rtol=tol)
        assert_close(ours.dh0, _np(h0t.grad), "dh0", rtol=tol)
        tgrads = {k: p.grad for k, p in theirs.named_parameters()}
        assert [k for k, _ in ours.named_grads()] == list(tgrads)
        for k, g in ours.named_grads():
            assert_close(g, _np(tgrads[k]), k, rtol=tol)
        # tinynet -> torch
        back = tcls(D, H, bias=bias, dtype=tdt)
        back.load_state_dict({k: torch.from_numpy(v) for k, v in cls(D, H, bias=bias, dtype=dtype, rng=3).state_dict().items()})
        again = cls(D, H, bias=bias, engine=engine, dtype=dtype, rng=3)
        assert_close(again(x)[0], _np(back(torch.from_numpy(x))[0]), "output after tinynet -> torch", rtol=tol)

    # --------------------------------------------------------------------- layers

    def test_layer_states_in_either_shape(self, kind):
        """States (1, B, H) as in PyTorch or (B, H); unbatched (1, H) or (H,); results and
        dh0 come back in the shape the state was given (PyTorch's when none was)."""
        cls = nn.LSTM if kind == "lstm" else nn.GRU
        layer = cls(3, 4, rng=0)
        rng = np.random.default_rng(0)
        x, h0 = rng.standard_normal((5, 2, 3)), rng.standard_normal((2, 4))
        hx = (h0, h0 * 0.5) if kind == "lstm" else h0
        hx3 = (h0[None], h0[None] * 0.5) if kind == "lstm" else h0[None]
        out2, st2 = layer(x, hx)
        dx2 = layer.backward(np.ones_like(out2))
        dh0_2 = layer.dh0
        out3, st3 = layer(x, hx3)
        dx3 = layer.backward(np.ones_like(out3))
        assert np.array_equal(out2, out3) and np.array_equal(dx2, dx3)
        first2, first3 = (st2[0], st3[0]) if kind == "lstm" else (st2, st3)
        assert first2.shape == (2, 4) and first3.shape == (1, 2, 4) and np.array_equal(first2, first3[0])
        assert dh0_2.shape == (2, 4) and layer.dh0.shape == (1, 2, 4)
        out, st = layer(x)  # no state: PyTorch's shape
        assert (st[0] if kind == "lstm" else st).shape == (1, 2, 4)
        outu, stu = layer(x[:, 0], None)  # unbatched
        assert outu.shape == (5, 4) and (stu[0] if kind == "lstm" else stu).shape == (1, 4)
        assert np.array_equal(outu, out[:, 0])
        with pytest.raises(ValueError, match=r"h0 has shape \(2, 2, 4\)"):
            layer(x, (np.zeros((2, 2, 4)), None) if kind == "lstm" else np.zeros((2, 2, 4)))

    @pytest.mark.parametrize("dtype", DTYPES)
    def test_layers_save_and_load(self, kind, dtype):
        cls = nn.LSTM if kind == "lstm" else nn.GRU
        model = cls(5, 7, bias=False, dtype=dtype, rng=2)
        path = os.path.join(tempfile.mkdtemp(), "gated.npz")
        tinynet.save(path, model)
        again = tinynet.load(path)
        assert type(again) is cls and again.bias is False and again.dtype == np.dtype(dtype)
        x = np.random.default_rng(0).standard_normal((4, 2, 5)).astype(dtype)
        assert np.array_equal(again(x)[0], model(x)[0])

    # -------------------------------------------------------- the C engine's bits

    @pytest.mark.parametrize("dtype", DTYPES)
    @pytest.mark.parametrize("T,B,D,H", [(5, 3, 4, 6), (7, 32, 20, 40)])
    def test_none_is_a_zero_state_to_the_bit(self, kind, dtype, T, B, D, H):
        rng = np.random.default_rng(4)
        W = weights(rng, KINDS[kind], D, H, dtype)
        x = inputs(rng, T, B, D, dtype, False, True)
        R = rng.standard_normal((T, B, H)).astype(dtype)
        zeros = np.zeros((B, H), dtype)
        a = run(tn, kind, x, None, None, *W, R)
        b = run(tn, kind, x, zeros, zeros, *W, R, zeros if kind == "lstm" else None)
        for i, (u, v) in enumerate(zip(a[0] + a[1], b[0] + b[1])):
            assert (u is None and v is None) or np.array_equal(u, v), f"result {i} differs"

    @pytest.mark.parametrize("T,B,D,H", [(6, 3, 4, 6), (8, 32, 20, 40)])
    def test_a_sequence_cut_in_two_gives_the_same_bits(self, kind, T, B, D, H):
        """The states of a sequence run in two chunks, the second starting from the first's
        final state, are those of the whole sequence, bit for bit."""
        rng = np.random.default_rng(5)
        W = weights(rng, KINDS[kind], D, H, np.float32)
        x = inputs(rng, T, B, D, np.float32, False, True)
        k = T // 2
        if kind == "lstm":
            hs, cs, _ = tn.lstm_forward(x, None, None, *W)
            hs1, cs1, _ = tn.lstm_forward(x[:k], None, None, *W)
            hs2, cs2, _ = tn.lstm_forward(x[k:], hs1[-1], cs1[-1], *W)
            assert np.array_equal(np.concatenate([cs1, cs2]), cs)
        else:
            hs = tn.gru_forward(x, None, *W)[0]
            hs1 = tn.gru_forward(x[:k], None, *W)[0]
            hs2 = tn.gru_forward(x[k:], hs1[-1], *W)[0]
        assert np.array_equal(np.concatenate([hs1, hs2]), hs)


class GatedGradients:
    """The backward passes against central finite differences (helpers.check_grad); a subclass
    in tests/test_<layer>.py gives `kind`."""

    @pytest.mark.parametrize("tokens", [False, True], ids=["floats", "tokens"])
    @pytest.mark.parametrize("E", [ref, tn], ids=["numpy", "c"])
    def test_backward_is_the_gradient(self, kind, tokens, E):
        """Every gradient of L = sum(R * hs) (+ sum(Rc * c_n) for the LSTM) against central
        differences, float64: the NumPy engine (the oracle), and the C engine too."""
        G = KINDS[kind]
        rng = np.random.default_rng(11)
        T, B, D, H = 4, 2, 3, 3
        W_ih, W_hh, b_ih, b_hh = weights(rng, G, D, H, np.float64)
        x = inputs(rng, T, B, D, np.float64, tokens, True)
        h0, c0 = states(rng, B, H, np.float64, True, 2)
        R, Rc = rng.standard_normal((T, B, H)), rng.standard_normal((B, H))
        if kind == "lstm":
            def L():
                hs, cs, _ = E.lstm_forward(x, h0, c0, W_ih, W_hh, b_ih, b_hh)
                return np.sum(R * hs) + np.sum(Rc * cs[-1])
            hs, cs, gates = E.lstm_forward(x, h0, c0, W_ih, W_hh, b_ih, b_hh)
            dx, dh0, dc0, dW_ih, dW_hh, db_ih, db_hh = E.lstm_backward(R, x, h0, c0, hs, cs, gates, W_ih, W_hh, Rc)
            params = [("c0", c0, dc0)]
        else:
            def L():
                return np.sum(R * E.gru_forward(x, h0, W_ih, W_hh, b_ih, b_hh)[0])
            hs, gates, gh_n = E.gru_forward(x, h0, W_ih, W_hh, b_ih, b_hh)
            dx, dh0, dW_ih, dW_hh, db_ih, db_hh = E.gru_backward(R, x, h0, hs, gates, gh_n, W_ih, W_hh)
            params = []
        params += [("h0", h0, dh0), ("W_ih", W_ih, dW_ih), ("W_hh", W_hh, dW_hh), ("b_ih", b_ih, db_ih),
                   ("b_hh", b_hh, db_hh)]
        if not tokens:
            params.append(("x", x, dx))
        for name, p, g in params:
            check_grad(f"{kind} {name}", g, numgrad(L, p))


def classes_for(kind):
    """GatedTests and GatedGradients for one layer, `kind`: the classes Test<KIND> and
    TestGradients, their tests parametrized by kind (the last of their parameter ids)."""
    mark = pytest.mark.parametrize("kind", [kind])
    return (type(f"Test{kind.upper()}", (GatedTests,), {"pytestmark": mark}),
            type("TestGradients", (GatedGradients,), {"pytestmark": mark}))
