"""tinynet.reference.lstm: the LSTM, as torch.nn.LSTM (csrc/tn_lstm.c)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Optional, Tuple

import numpy as np

from tinynet._checks import Call
from tinynet.reference._common import _ieee
from tinynet.reference._seq import _Gated, _input_grad, _project_inputs, _rnn_input, _sigmoid, _weight_grads

if TYPE_CHECKING:
    from numpy.typing import ArrayLike
    from tinynet.reference._common import FloatArray


@_ieee
def lstm_forward(
    x: ArrayLike, h0: Optional[ArrayLike], c0: Optional[ArrayLike], W_ih: ArrayLike, W_hh: ArrayLike,
    b_ih: Optional[ArrayLike] = None, b_hh: Optional[ArrayLike] = None,
) -> Tuple[FloatArray, FloatArray, FloatArray]:
    """lstm_forward(x, h0, c0, W_ih, W_hh, b_ih=None, b_hh=None)

    A one-layer LSTM over a time-major sequence, exactly as torch.nn.LSTM: for each step,
    with a = W_ih @ x_t + b_ih + W_hh @ h_{t-1} + b_hh split into four blocks of H,
        i = sigmoid(a_i), f = sigmoid(a_f), g = tanh(a_g), o = sigmoid(a_o),
        c_t = f * c_{t-1} + i * g,  h_t = o * tanh(c_t).

    x: floats (T, B, D), or integer token ids (T, B) (one-hot implied, D =
    W_ih.shape[1]); unbatched (T, D) / (T,) go with h0, c0 (H,).  h0, c0: (B, H) / (H,),
    or None for zeros.  W_ih: (4H, D); W_hh: (4H, H); b_ih, b_hh: (4H,) or None.


    Returns (hs, cs, gates): hs and cs (T, B, H) the hidden and cell states after every
    step (the output is hs; h_n = hs[-1], c_n = cs[-1]), gates (T, B, 4H) the gate values
    i, f, g, o after their sigmoid / tanh -- what lstm_backward needs.

    >>> import numpy as np, tinynet.reference as tn
    >>> H, D = 3, 2
    >>> hs, cs, gates = tn.lstm_forward(np.ones((5, D)), None, None, np.ones((4 * H, D)), np.eye(4 * H, H))
    >>> hs.shape, cs.shape, gates.shape
    ((5, 3), (5, 3), (5, 12))
    """
    c = Call("lstm_forward")
    raw, tokens = _rnn_input(c, x)
    xf, h0, c0, W_ih, W_hh, b_ih, b_hh = c.floats(
        ("x", None if tokens else x), ("h0", h0), ("c0", c0), ("W_ih", W_ih), ("W_hh", W_hh), ("b_ih", b_ih),
        ("b_hh", b_hh), optional=("x", "h0", "c0", "b_ih", "b_hh"))
    r = _Gated(c, 4, W_ih, W_hh, b_ih, b_hh)
    x = r.inputs("x", x, raw, tokens, xf)
    h, cell = r.state("h0", h0), r.state("c0", c0)

    T, B, H = r.T, r.B, r.H
    hs, cs = np.empty((T, B, H), c.dtype), np.empty((T, B, H), c.dtype)
    gates = np.empty((T, B, 4 * H), c.dtype)
    if T * B * H:  # (T may be huge when B or H is 0)
        xw = _project_inputs(x, W_ih, b_ih, tokens)
        for t in range(T):
            a = xw[t] + h @ W_hh.T
            if b_hh is not None:
                a = a + b_hh
            i, f, o = _sigmoid(a[:, :H]), _sigmoid(a[:, H : 2 * H]), _sigmoid(a[:, 3 * H :])
            g = np.tanh(a[:, 2 * H : 3 * H])
            cell = f * cell + i * g
            h = o * np.tanh(cell)
            hs[t], cs[t], gates[t] = h, cell, np.concatenate([i, f, g, o], axis=1)
    return r.unbatch(hs, axis=1), r.unbatch(cs, axis=1), r.unbatch(gates, axis=1)


@_ieee
def lstm_backward(
    dhs: ArrayLike, x: ArrayLike, h0: Optional[ArrayLike], c0: Optional[ArrayLike], hs: ArrayLike, cs: ArrayLike,
    gates: ArrayLike, W_ih: ArrayLike, W_hh: ArrayLike, dc_n: Optional[ArrayLike] = None,
) -> Tuple[Optional[FloatArray], FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """lstm_backward(dhs, x, h0, c0, hs, cs, gates, W_ih, W_hh, dc_n=None)

    Backpropagation through time (full) for lstm_forward, given dhs = dL/dhs (shaped like
    hs; the gradient of h_n = hs[-1] belongs in dhs[-1]) and, optionally, dc_n = dL/dc_n
    for the last cell state (B, H) / (H,).  Going back from step T-1, with dh the
    gradient reaching h_t (dhs[t] plus what comes back from step t+1) and dc that
    reaching c_t:
        dc += dh * o * (1 - tanh(c_t)**2)
        da = [dc * g * i(1-i), dc * c_{t-1} * f(1-f), dc * i * (1-g**2), dh * tanh(c_t) * o(1-o)]
        dh_{t-1} = da @ W_hh,  dc_{t-1} = dc * f.

    x, h0, c0, W_ih, W_hh as for lstm_forward; hs, cs, gates its results.
    Returns (dx, dh0, dc0, dW_ih, dW_hh, db_ih, db_hh), each shaped like its input and
    in the float arguments' dtype; dx is None for token input; dh0 and dc0 are returned
    (shaped like the states) even when h0 / c0 are None; db_ih and db_hh are equal (both
    biases are added to the same pre-activations).

    >>> import numpy as np, tinynet.reference as tn
    >>> W_ih, W_hh = np.ones((8, 3)) * 0.1, np.eye(8, 2)
    >>> hs, cs, gates = tn.lstm_forward([0, 2], None, None, W_ih, W_hh)
    >>> dx, dh0, dc0, dW_ih, dW_hh, db_ih, db_hh = tn.lstm_backward(np.ones_like(hs), [0, 2], None, None,
    ...                                                             hs, cs, gates, W_ih, W_hh)
    >>> dx is None, dW_ih.shape, dc0.shape
    (True, (8, 3), (2,))
    """
    c = Call("lstm_backward")
    raw, tokens = _rnn_input(c, x)
    dhs, xf, h0, c0, hs, cs, gates, W_ih, W_hh, dc_n = c.floats(
        ("dhs", dhs), ("x", None if tokens else x), ("h0", h0), ("c0", c0), ("hs", hs), ("cs", cs),
        ("gates", gates), ("W_ih", W_ih), ("W_hh", W_hh), ("dc_n", dc_n), optional=("x", "h0", "c0", "dc_n"))
    r = _Gated(c, 4, W_ih, W_hh)
    x = r.inputs("x", x, raw, tokens, xf)
    h0, c0 = r.state("h0", h0), r.state("c0", c0)
    hs, cs, dhs = r.sequence("hs", hs), r.sequence("cs", cs), r.sequence("dhs", dhs)
    gates = r.sequence("gates", gates, gates=4)
    dc = r.state("dc_n", dc_n).copy()

    T, H = r.T, r.H
    dh = np.zeros_like(h0)
    da = np.zeros_like(gates)  # dL/d(pre-activations) of every step
    if hs.size:
        for t in reversed(range(T)):
            i, f, g, o = (gates[t, :, k * H : (k + 1) * H] for k in range(4))
            c_prev = cs[t - 1] if t else c0
            dh = dhs[t] + dh
            tanh_c = np.tanh(cs[t])
            dc = dc + dh * o * (1 - tanh_c * tanh_c)
            da[t] = np.concatenate([dc * g * i * (1 - i), dc * c_prev * f * (1 - f), dc * i * (1 - g * g),
                                    dh * tanh_c * o * (1 - o)], axis=1)
            dh = da[t] @ W_hh
            dc = dc * f
    h_prev = np.concatenate([h0[None], hs[:-1]])  # the state each step started from
    dW_ih, dW_hh, db_ih, db_hh = _weight_grads(da, da, x, h_prev, W_ih, tokens)
    dx = None if tokens else r.unbatch(_input_grad(da, W_ih, x), axis=1)
    return dx, r.unbatch(dh, axis=0), r.unbatch(dc, axis=0), dW_ih, dW_hh, db_ih, db_hh
