"""The LSTM: lstm_forward / lstm_backward and nn.LSTM.

The tests it shares with the GRU, case for case, are in tests/gated.py (see there): the
C engine against the NumPy engine, against PyTorch's autograd, the nn layer, the C
engine's bits (TestLSTM); the finite differences (TestGradients).  Here they run for the
LSTM, and beside them what is the LSTM's own:

* nn.LSTM with token ids, bias=False, its repr and a state dict with a missing key;
* nn.LSTM.backward checks its arguments (before forward, dout's and dc_n's shapes, the
  (h0, c0) pair) and leaves dout alone;
* bad gate dimensions and states are named, with the shapes expected, in both engines
  (lstm_forward / lstm_backward, and gru_forward's too).

The matrices every function goes through (bad inputs, properties, threads, leaks,
recorded bits) are generated from its spec in tests/specs.py.
"""
import numpy as np
import pytest

import tinynet as tn
import tinynet.reference as ref
from tinynet import nn

from gated import classes_for, torch  # noqa: F401 (torch: the shared tests' fixture)

# The tests the LSTM shares with the GRU (tests/gated.py), run for the LSTM:
# TestLSTM (the engines, PyTorch, the layer, the C engine's bits) and TestGradients
# (finite differences).
TestLSTM, TestGradients = classes_for("lstm")


# ----------------------------------------------------------------- the LSTM's own


def test_lstm_tokens_bias_false_and_repr():
    layer = nn.LSTM(6, 3, bias=False, rng=1)
    assert [n for n, _ in layer.named_parameters()] == ["weight_ih_l0", "weight_hh_l0"]
    assert repr(layer) == "LSTM(6, 3, bias=False)"
    ids = np.array([[0, 5], [2, 3], [1, 1]])
    out, (h_n, c_n) = layer(ids)
    assert layer.backward(np.ones_like(out)) is None
    hs, cs, _ = tn.lstm_forward(ids, None, None, layer.weight_ih_l0, layer.weight_hh_l0)
    assert np.array_equal(out, hs) and np.array_equal(c_n[0], cs[-1])
    with pytest.raises(ValueError, match="missing key"):
        layer.load_state_dict({"weight_ih_l0": np.zeros((12, 6))})


def test_layer_backward_checks_its_arguments():
    layer = nn.LSTM(3, 4, rng=0)
    with pytest.raises(ValueError, match="before forward"):
        layer.backward(np.zeros((2, 1, 4)))
    out, _ = layer(np.zeros((2, 1, 3)))
    with pytest.raises(ValueError, match=r"dout has shape \(2, 4\)"):
        layer.backward(np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"dc_n has shape \(3,\)"):
        layer.backward(np.zeros_like(out), dc_n=np.zeros(3))
    with pytest.raises(TypeError, match="pair"):
        layer(np.zeros((2, 1, 3)), np.zeros((1, 1, 4)))
    dout = np.ones_like(out)
    layer.backward(dout, dh_n=np.ones((1, 1, 4)))
    assert np.array_equal(dout, np.ones_like(out)), "backward modified dout"


@pytest.mark.parametrize("E", [tn, ref], ids=["c", "numpy"])
def test_bad_gate_dimensions_are_named(E):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 2, 4))
    W_ih, W_hh = rng.standard_normal((20, 4)), rng.standard_normal((20, 5))
    with pytest.raises(ValueError, match=r"^lstm_forward: W_ih has shape \(15, 4\), expected \(4H, D\) with "
                                         r"H = W_hh.shape\[1\] = 5$"):
        E.lstm_forward(x, None, None, W_ih[:15], W_hh)
    with pytest.raises(ValueError, match=r"^gru_forward: W_hh has shape \(20, 5\), expected \(3H, H\) with "
                                         r"H = W_hh.shape\[1\] = 5$"):
        E.gru_forward(x, None, W_ih[:15], W_hh)
    with pytest.raises(ValueError, match=r"^lstm_forward: h0 has shape \(2, 4\), expected \(B, H\) with "
                                         r"B = x.shape\[1\] = 2, H = W_hh.shape\[1\] = 5$"):
        E.lstm_forward(x, np.zeros((2, 4)), None, W_ih, W_hh)
    with pytest.raises(ValueError, match=r"^lstm_forward: b_hh has shape \(5,\), expected \(4H,\)"):
        E.lstm_forward(x, None, None, W_ih, W_hh, None, np.zeros(5))
    with pytest.raises(IndexError, match=r"^gru_forward: x\[1, 0\] = 4 is out of range \[0, 4\) "
                                         r"\(D = W_ih.shape\[1\]\)"):
        E.gru_forward([[0, 1], [4, 2]], None, W_ih[:15], W_hh[:15])
    hs, cs, g = E.lstm_forward(x, None, None, W_ih, W_hh)
    with pytest.raises(TypeError, match=r"^lstm_backward: x is float64 but dhs is float32; all float arrays"):
        E.lstm_backward(hs.astype(np.float32), x, None, None, hs, cs, g, W_ih, W_hh)
    with pytest.raises(ValueError, match=r"^lstm_backward: gates has shape \(3, 2, 5\), expected \(T, B, 4H\)"):
        E.lstm_backward(hs, x, None, None, hs, cs, g[..., :5], W_ih, W_hh)
