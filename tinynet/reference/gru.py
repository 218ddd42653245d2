"""tinynet.reference.gru: the GRU, as torch.nn.GRU (csrc/tn_gru.c)."""
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
def gru_forward(
    x: ArrayLike, h0: Optional[ArrayLike], W_ih: ArrayLike, W_hh: ArrayLike, b_ih: Optional[ArrayLike] = None,
    b_hh: Optional[ArrayLike] = None,
) -> Tuple[FloatArray, FloatArray, FloatArray]:
    """gru_forward(x, h0, W_ih, W_hh, b_ih=None, b_hh=None)

    A one-layer GRU over a time-major sequence, exactly as torch.nn.GRU: for each step,
    with gi = W_ih @ x_t + b_ih and gh = W_hh @ h_{t-1} + b_hh split into three blocks of H,
        r = sigmoid(gi_r + gh_r),  z = sigmoid(gi_z + gh_z),
        n = tanh(gi_n + r * gh_n),  h_t = (1 - z) * n + z * h_{t-1}.


    x: floats (T, B, D), or integer token ids (T, B) (one-hot implied, D =
    W_ih.shape[1]); unbatched (T, D) / (T,) go with h0 (H,).  h0: (B, H) / (H,), or None
    for zeros.  W_ih: (3H, D); W_hh: (3H, H); b_ih, b_hh: (3H,) or None.
    Returns (hs, gates, gh_n): hs (T, B, H) the state after every step (the output;
    h_n = hs[-1]), gates (T, B, 3H) the gate values r, z, n, and gh_n (T, B, H) the
    hidden side of the candidate, W_hn @ h_{t-1} + b_hn, which r scales -- what
    gru_backward needs.

    >>> import numpy as np, tinynet.reference as tn
    >>> H, D = 3, 2
    >>> hs, gates, gh_n = tn.gru_forward(np.ones((5, D)), None, np.ones((3 * H, D)), np.eye(3 * H, H))
    >>> hs.shape, gates.shape, gh_n.shape
    ((5, 3), (5, 9), (5, 3))
    """
    c = Call("gru_forward")
    raw, tokens = _rnn_input(c, x)
    xf, h0, W_ih, W_hh, b_ih, b_hh = c.floats(
        ("x", None if tokens else x), ("h0", h0), ("W_ih", W_ih), ("W_hh", W_hh), ("b_ih", b_ih), ("b_hh", b_hh),
        optional=("x", "h0", "b_ih", "b_hh"))
    r = _Gated(c, 3, W_ih, W_hh, b_ih, b_hh)
    x = r.inputs("x", x, raw, tokens, xf)
    h = r.state("h0", h0)

    T, B, H = r.T, r.B, r.H
    hs, gh_n = np.empty((T, B, H), c.dtype), np.empty((T, B, H), c.dtype)
    gates = np.empty((T, B, 3 * H), c.dtype)
    if T * B * H:
        gi = _project_inputs(x, W_ih, b_ih, tokens)
        for t in range(T):
            gh = h @ W_hh.T
            if b_hh is not None:
                gh = gh + b_hh
            rg = _sigmoid(gi[t, :, :H] + gh[:, :H])
            z = _sigmoid(gi[t, :, H : 2 * H] + gh[:, H : 2 * H])
            n = np.tanh(gi[t, :, 2 * H :] + rg * gh[:, 2 * H :])
            h = (1 - z) * n + z * h
            hs[t], gates[t], gh_n[t] = h, np.concatenate([rg, z, n], axis=1), gh[:, 2 * H :]
    return r.unbatch(hs, axis=1), r.unbatch(gates, axis=1), r.unbatch(gh_n, axis=1)


@_ieee
def gru_backward(
    dhs: ArrayLike, x: ArrayLike, h0: Optional[ArrayLike], hs: ArrayLike, gates: ArrayLike, gh_n: ArrayLike,
    W_ih: ArrayLike, W_hh: ArrayLike,
) -> Tuple[Optional[FloatArray], FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """gru_backward(dhs, x, h0, hs, gates, gh_n, W_ih, W_hh)

    Backpropagation through time (full) for gru_forward, given dhs = dL/dhs (shaped like
    hs; the gradient of h_n = hs[-1] belongs in dhs[-1]).  Going back from step T-1, with
    dh the gradient reaching h_t (dhs[t] plus what comes back from step t+1):
        dn = dh * (1 - z) * (1 - n**2),  dz = dh * (h_{t-1} - n) * z(1-z),
        dr = dn * gh_n * r(1-r);
    the input side gets [dr, dz, dn], the hidden side [dr, dz, dn * r], and
        dh_{t-1} = dh * z + [dr, dz, dn * r] @ W_hh.

    x, h0, W_ih, W_hh as for gru_forward; hs, gates, gh_n its results.
    Returns (dx, dh0, dW_ih, dW_hh, db_ih, db_hh), each shaped like its input and in the
    float arguments' dtype; dx is None for token input; dh0 is returned (shaped like h0)
    even when h0 is None.

    >>> import numpy as np, tinynet.reference as tn
    >>> W_ih, W_hh = np.ones((6, 3)) * 0.1, np.eye(6, 2)
    >>> hs, gates, gh_n = tn.gru_forward([0, 2], None, W_ih, W_hh)
    >>> dx, dh0, dW_ih, dW_hh, db_ih, db_hh = tn.gru_backward(np.ones_like(hs), [0, 2], None, hs, gates, gh_n,
    ...                                                       W_ih, W_hh)
    >>> dx is None, dW_hh.shape, db_hh.shape
    (True, (6, 2), (6,))
    """
    c = Call("gru_backward")
    raw, tokens = _rnn_input(c, x)
    dhs, xf, h0, hs, gates, gh_n, W_ih, W_hh = c.floats(
        ("dhs", dhs), ("x", None if tokens else x), ("h0", h0), ("hs", hs), ("gates", gates), ("gh_n", gh_n),
        ("W_ih", W_ih), ("W_hh", W_hh), optional=("x", "h0"))
    r = _Gated(c, 3, W_ih, W_hh)
    x = r.inputs("x", x, raw, tokens, xf)
    h0 = r.state("h0", h0)
    hs, dhs, gh_n = r.sequence("hs", hs), r.sequence("dhs", dhs), r.sequence("gh_n", gh_n)
    gates = r.sequence("gates", gates, gates=3)

    T, H = r.T, r.H
    dh = np.zeros_like(h0)
    da_ih, da_hh = np.zeros_like(gates), np.zeros_like(gates)  # dL/d(input-side, hidden-side pre-activations)
    if hs.size:
        for t in reversed(range(T)):
            rg, z, n = (gates[t, :, k * H : (k + 1) * H] for k in range(3))
            h_prev = hs[t - 1] if t else h0
            dh = dhs[t] + dh
            dn = dh * (1 - z) * (1 - n * n)
            dz = dh * (h_prev - n) * z * (1 - z)
            dr = dn * gh_n[t] * rg * (1 - rg)
            da_ih[t] = np.concatenate([dr, dz, dn], axis=1)
            da_hh[t] = np.concatenate([dr, dz, dn * rg], axis=1)
            dh = dh * z + da_hh[t] @ W_hh
    h_prev = np.concatenate([h0[None], hs[:-1]])
    dW_ih, dW_hh, db_ih, db_hh = _weight_grads(da_ih, da_hh, x, h_prev, W_ih, tokens)
    dx = None if tokens else r.unbatch(_input_grad(da_ih, W_ih, x), axis=1)
    return dx, r.unbatch(dh, axis=0), dW_ih, dW_hh, db_ih, db_hh
