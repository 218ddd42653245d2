"""tinynet.reference.attention: causal multi-head self-attention, the transformer's
(csrc/tn_attention.c)."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Tuple

import numpy as np

from tinynet._checks import Call
from tinynet.reference._common import _ieee

if TYPE_CHECKING:
    from numpy.typing import ArrayLike
    from tinynet.reference._common import FloatArray


# ------------------------------------------------------------------------ the checks


def _n_head(c, n_head):
    if n_head < 1:
        raise ValueError(f"{c.fn}: n_head must be >= 1, got {n_head}")


def _qkv_sizes(c, qkv, n_head):
    """qkv (B, T, 3C) or (T, 3C) with C divisible by n_head: (B, T, C), B = 1 unbatched."""
    if qkv.ndim not in (2, 3):
        raise c.shape_error("qkv", qkv, "(B, T, 3C) or (T, 3C): q, k and v side by side")
    pattern = "(B, T, 3C)" if qkv.ndim == 3 else "(T, 3C)"
    if qkv.shape[-1] % 3:
        raise c.shape_error("qkv", qkv, pattern, ": q, k and v side by side, a last axis divisible by 3")
    C = qkv.shape[-1] // 3
    if C % n_head:
        raise c.shape_error("qkv", qkv, pattern, f" with C = qkv.shape[-1] / 3 = {C} divisible by n_head = {n_head}")
    B = qkv.shape[0] if qkv.ndim == 3 else 1
    return B, qkv.shape[-2], C


def _result_shapes(qkv, n_head):
    """out's (qkv.shape[:-1] + (C,)) and att's ((B, n_head, T, T), or (n_head, T, T))."""
    T = qkv.shape[-2]
    return qkv.shape[:-1] + (qkv.shape[-1] // 3,), qkv.shape[:-2] + (n_head, T, T)


def _expect(c, name, a, shape, pattern, qkv, n_head):
    if a.shape != shape:
        raise c.shape_error(name, a, pattern, f" = {shape}, from qkv of shape {tuple(qkv.shape)} and n_head = {n_head}")


# ------------------------------------------------------------------------ the math


def _heads(x, B, T, n_head):
    """(B, T, n_head * hs) -> (B, n_head, T, hs): head h is columns h*hs .. h*hs + hs - 1."""
    return x.reshape(B, T, n_head, -1).transpose(0, 2, 1, 3)


def _split(qkv, B, T, C, n_head):
    """q, k, v, each (B, n_head, T, hs), from qkv (B, T, 3C) (or (T, 3C)): nanoGPT's
    q, k, v = c_attn(x).split(C, dim=2), then the heads."""
    x = qkv.reshape(B, T, 3 * C)
    return [_heads(x[..., i * C : (i + 1) * C], B, T, n_head) for i in range(3)]


def _scale(dt, C, n_head):
    """1 / sqrt(hs) (with hs = 0, no columns, the logits are 0 and the scale does not matter)."""
    hs = C // n_head
    return dt.type(1 / math.sqrt(hs) if hs else 1)


@_ieee
def attention_forward(qkv: ArrayLike, n_head: int) -> Tuple[FloatArray, FloatArray]:
    """attention_forward(qkv, n_head)

    Causal multi-head self-attention, as GPT-2 / nanoGPT / makemore compute it after their
    c_attn projection.  qkv holds q, k and v side by side (q = qkv[..., :C], k the next C
    columns, v the last C), each split into n_head heads of hs = C / n_head columns (head
    h: columns h*hs .. h*hs + hs - 1).  For each sequence, head and token i, looking at
    tokens j <= i only:

        att[i, j] = softmax over j <= i of (q_i . k_j / sqrt(hs)),  0 for j > i
        out_i     = sum over j <= i of att[i, j] * v_j          (head h in out[..., h*hs:(h+1)*hs])

    The softmax subtracts each row's max over j <= i first, so logits of +-1e4 stay
    finite.  A token's results never depend on a later token, even on an inf or a NaN in
    its q, k or v.

    qkv: (B, T, 3C) float32/float64, or (T, 3C) for one sequence; n_head: an int >= 1
    dividing C.  Returns (out, att): out (B, T, C) (or (T, C)), att (B, n_head, T, T)
    (or (n_head, T, T)), the attention weights (what attention_backward needs), in qkv's
    dtype.

    >>> import numpy as np, tinynet.reference as tn
    >>> qkv = np.zeros((1, 3, 6))                    # B = 1, T = 3, C = 2: q = k = 0, ...
    >>> qkv[0, :, 4:] = [[1, 2], [3, 4], [5, 6]]     # ... so each token averages the values so far
    >>> out, att = tn.attention_forward(qkv, n_head=1)
    >>> att[0, 0]
    array([[1.        , 0.        , 0.        ],
           [0.5       , 0.5       , 0.        ],
           [0.33333333, 0.33333333, 0.33333333]])
    >>> out[0]
    array([[1., 2.],
           [2., 3.],
           [3., 4.]])
    """
    c = Call("attention_forward")
    n_head = c.integer("n_head", n_head)
    qkv = c.floats(("qkv", qkv))
    _n_head(c, n_head)
    B, T, C = _qkv_sizes(c, qkv, n_head)
    out_shape, att_shape = _result_shapes(qkv, n_head)
    if B * n_head * T == 0:  # no weights to compute (and no loop over a T of any size)
        return np.zeros(out_shape, qkv.dtype), np.zeros(att_shape, qkv.dtype)

    q, k, v = _split(qkv, B, T, C, n_head)
    causal = np.tril(np.ones((T, T), dtype=bool))  # causal[i, j]: token i sees token j
    logits = np.where(causal, (q @ k.transpose(0, 1, 3, 2)) * _scale(qkv.dtype, C, n_head), -np.inf)
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    att = np.where(causal, e / e.sum(axis=-1, keepdims=True), 0)
    y = np.empty(q.shape, qkv.dtype)
    for i in range(T):  # token i: its weights times the values of tokens 0..i, none later
        y[:, :, i] = (att[:, :, i, None, : i + 1] @ v[:, :, : i + 1])[:, :, 0]
    return y.transpose(0, 2, 1, 3).reshape(out_shape), att.reshape(att_shape)


@_ieee
def attention_backward(dout: ArrayLike, qkv: ArrayLike, att: ArrayLike, n_head: int) -> FloatArray:
    """attention_backward(dout, qkv, att, n_head)

    Gradient of attention_forward with respect to qkv, from dout = dL/dout and the
    forward's att (its upper triangle is not read).  Per sequence and head, with
    datt[i, j] = dout_i . v_j and, for j <= i (0 above the diagonal),

        dS[i, j] = att[i, j] * (datt[i, j] - sum over j' <= i of att[i, j'] * datt[i, j'])

    (the softmax's backward), the gradients are dq_i = sum over j <= i of dS[i, j] k_j
    / sqrt(hs), dk_j = sum over i >= j of dS[i, j] q_i / sqrt(hs) and dv_j = sum over
    i >= j of att[i, j] dout_i.

    dout: (B, T, C) (or (T, C)); qkv: (B, T, 3C) (or (T, 3C)); att: (B, n_head, T, T)
    (or (n_head, T, T)); n_head: an int >= 1 dividing C.  Returns dqkv, shaped like qkv
    (dq, dk, dv side by side), float32 or float64 as the arguments.

    >>> import numpy as np, tinynet.reference as tn
    >>> qkv = np.zeros((1, 3, 6))
    >>> qkv[0, :, 4:] = [[1, 2], [3, 4], [5, 6]]
    >>> out, att = tn.attention_forward(qkv, n_head=1)
    >>> dqkv = tn.attention_backward(np.ones((1, 3, 2)), qkv, att, n_head=1)
    >>> dqkv[0, :, 4:]                               # dv_j: the weights token j got from tokens j..2
    array([[1.83333333, 1.83333333],
           [0.83333333, 0.83333333],
           [0.33333333, 0.33333333]])
    """
    c = Call("attention_backward")
    n_head = c.integer("n_head", n_head)
    dout, qkv, att = c.floats(("dout", dout), ("qkv", qkv), ("att", att))
    _n_head(c, n_head)
    B, T, C = _qkv_sizes(c, qkv, n_head)
    out_shape, att_shape = _result_shapes(qkv, n_head)
    _expect(c, "dout", dout, out_shape, "(B, T, C)" if qkv.ndim == 3 else "(T, C)", qkv, n_head)
    _expect(c, "att", att, att_shape, "(B, n_head, T, T)" if qkv.ndim == 3 else "(n_head, T, T)", qkv, n_head)
    if B * T * C == 0:
        return np.zeros(qkv.shape, qkv.dtype)

    q, k, v = _split(qkv, B, T, C, n_head)
    d = _heads(dout.reshape(B, T, C), B, T, n_head)
    scale = _scale(qkv.dtype, C, n_head)
    causal = np.tril(np.ones((T, T), dtype=bool))
    A = np.where(causal, att.reshape(B, n_head, T, T), 0)     # the weights; their upper triangle unread
    datt = np.where(causal, d @ v.transpose(0, 1, 3, 2), 0)    # dL/datt[i, j] = dout_i . v_j
    dS = np.where(causal, A * (datt - (A * datt).sum(axis=-1, keepdims=True)), 0)  # through the softmax
    dq, dk, dv = np.empty(q.shape, qkv.dtype), np.empty(q.shape, qkv.dtype), np.empty(q.shape, qkv.dtype)
    for i in range(T):  # each sum over its causal range only: the query of token i saw keys 0..i,
        dq[:, :, i] = (dS[:, :, i, None, : i + 1] @ k[:, :, : i + 1])[:, :, 0] * scale
        # ... the key and the value of token i were seen by the queries of tokens i..T-1
        dk[:, :, i] = (dS[:, :, None, i:, i] @ q[:, :, i:])[:, :, 0] * scale
        dv[:, :, i] = (A[:, :, None, i:, i] @ d[:, :, i:])[:, :, 0]
    grads = [g.transpose(0, 2, 1, 3).reshape(B, T, C) for g in (dq, dk, dv)]
    return np.concatenate(grads, axis=-1).reshape(qkv.shape)
