"""tinynet.reference.rnn: the vanilla RNN, min-char-rnn's loss in one call, and sampling
(csrc/tn_rnn.c)."""
from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING, Dict, Optional, Tuple

import numpy as np

from tinynet._checks import Call
from tinynet.reference._common import _ieee
from tinynet.reference._seq import _Rnn, _rnn_input

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray
    from tinynet.reference._common import FloatArray, Reduction


def _input_projection(x_t, W_xh, tokens):
    """W_xh @ x_t for every sequence of the batch: a column lookup for token ids
    (W_xh @ onehot(i) is column i of W_xh), a matrix product for float inputs."""
    return W_xh[:, x_t].T if tokens else x_t @ W_xh.T

def _forward(x, h0, W_xh, W_hh, b_h, tokens):
    """hs (T, B, H): the RNN over batched x (T, B) ids or (T, B, D) floats from h0 (B, H)."""
    T, B, H = x.shape[0], h0.shape[0], W_hh.shape[0]
    hs = np.empty((T, B, H), dtype=h0.dtype)
    if hs.size == 0:  # nothing to compute (T may be huge when B or H is 0)
        return hs
    h = h0
    for t in range(T):
        h = np.tanh(_input_projection(x[t], W_xh, tokens) + h @ W_hh.T + b_h)
        hs[t] = h
    return hs

@_ieee
def rnn_forward(
    x: ArrayLike, h0: Optional[ArrayLike], W_xh: ArrayLike, W_hh: ArrayLike, b_h: ArrayLike
) -> FloatArray:
    """rnn_forward(x, h0, W_xh, W_hh, b_h)

    h_t = tanh(W_xh @ x_t + W_hh @ h_{t-1} + b_h) for t = 0 .. T-1, with h_{-1} = h0.

    x: floats (T, B, D), or integer token ids (T, B) (one-hot implied, D =
    W_xh.shape[1]); unbatched (T, D) / (T,) go with h0 (H,).  h0: (B, H) / (H,), or
    None for zeros.  W_xh: (H, D); W_hh: (H, H); b_h: (H,).
    Returns hs: (T, B, H) or (T, H), the state after every step.

    >>> import numpy as np, tinynet.reference as tn
    >>> H, V = 3, 4
    >>> hs = tn.rnn_forward([0, 1, 2], np.zeros(H), np.ones((H, V)), np.eye(H), np.zeros(H))
    >>> hs.shape
    (3, 3)
    """
    c = Call("rnn_forward")
    raw, tokens = _rnn_input(c, x)
    xf, h0, W_xh, W_hh, b_h = c.floats(("x", None if tokens else x), ("h0", h0), ("W_xh", W_xh),
                                       ("W_hh", W_hh), ("b_h", b_h), optional=("x", "h0"))
    ids = c.ints("x", x, raw) if tokens else None
    r = _Rnn(c, W_xh, W_hh, b_h)
    x = r.tokens("x", ids) if tokens else r.floats("x", xf)
    h0 = r.state("h0", h0)

    return r.unbatch(_forward(x, h0, W_xh, W_hh, b_h, tokens), axis=1)


def _backward(dhs, x, h0, hs, W_xh, W_hh, bptt_steps, tokens):
    """BPTT on batched arrays; returns (dx or None, dh0, dW_xh, dW_hh, db_h)."""
    T = hs.shape[0]
    if hs.size == 0:  # no states, so no gradient (T may be huge when B or H is 0)
        dx = None if tokens else np.zeros_like(x)
        return dx, np.zeros_like(h0), np.zeros_like(W_xh), np.zeros_like(W_hh), np.zeros(W_hh.shape[0], hs.dtype)
    # dpre[t] = dL / d(pre-activation of step t): what tanh'(.) lets through
    dpre = np.zeros_like(hs)
    if bptt_steps is None or bptt_steps >= T:
        # full BPTT: the gradient reaching h_t is its own dhs[t] plus what flows
        # back from step t+1 through W_hh
        dh_next = np.zeros_like(h0)
        for t in reversed(range(T)):
            dh = dhs[t] + dh_next
            dpre[t] = dh * (1 - hs[t] * hs[t])
            dh_next = dpre[t] @ W_hh
        dh0 = dh_next
    else:
        # truncated: the loss at step t reaches steps t, t-1, ..., t-k+1 only
        dh0 = np.zeros_like(h0)
        for t in range(T):
            lo = max(t - bptt_steps + 1, 0)
            g = dhs[t]
            for s in range(t, lo - 1, -1):
                d = g * (1 - hs[s] * hs[s])
                dpre[s] += d
                g = d @ W_hh
            if lo == 0:
                dh0 += g  # the window reached step 0, whose input is h0

    h_prev = np.concatenate([h0[None], hs[:-1]])  # the state each step started from
    dW_hh = np.zeros_like(W_hh)
    dW_xh = np.zeros_like(W_xh)
    for t in range(T):
        dW_hh += dpre[t].T @ h_prev[t]
        if tokens:
            np.add.at(dW_xh, (slice(None), x[t]), dpre[t].T)  # repeated ids accumulate
        else:
            dW_xh += dpre[t].T @ x[t]
    db_h = dpre.sum(axis=(0, 1))
    dx = None if tokens else dpre @ W_xh
    return dx, dh0, dW_xh, dW_hh, db_h


@_ieee
def rnn_backward(
    dhs: ArrayLike, x: ArrayLike, h0: Optional[ArrayLike], hs: ArrayLike, W_xh: ArrayLike, W_hh: ArrayLike,
    bptt_steps: Optional[int] = None,
) -> Tuple[Optional[FloatArray], FloatArray, FloatArray, FloatArray, FloatArray]:
    """rnn_backward(dhs, x, h0, hs, W_xh, W_hh, bptt_steps=None)

    Backpropagation through time given dhs = dL/dhs (shaped like hs).
    bptt_steps=None: full BPTT; bptt_steps=k: the gradient of the loss at step t
    reaches steps t .. t-k+1 only; bptt_steps=1 is seed 000's per-step gradient.

    x, h0, W_xh, W_hh as for rnn_forward; hs: its output.
    Returns (dx, dh0, dW_xh, dW_hh, db_h), each shaped like its input and in the float
    arguments' dtype; dx is None for token input; dh0 is returned (shaped like h0) even when h0 is None.

    >>> import numpy as np, tinynet.reference as tn
    >>> W_xh, W_hh, b = np.ones((3, 4)) * 0.1, np.eye(3) * 0.5, np.zeros(3)
    >>> hs = tn.rnn_forward([0, 1], None, W_xh, W_hh, b)
    >>> dx, dh0, dW_xh, dW_hh, db_h = tn.rnn_backward(np.ones_like(hs), [0, 1], None, hs, W_xh, W_hh)
    >>> dx is None, dW_xh.shape
    (True, (3, 4))
    """
    c = Call("rnn_backward")
    bptt_steps = c.bptt(bptt_steps)
    raw, tokens = _rnn_input(c, x)
    dhs, xf, h0, hs, W_xh, W_hh = c.floats(("dhs", dhs), ("x", None if tokens else x), ("h0", h0),
                                           ("hs", hs), ("W_xh", W_xh), ("W_hh", W_hh), optional=("x", "h0"))
    ids = c.ints("x", x, raw) if tokens else None
    r = _Rnn(c, W_xh, W_hh)
    x = r.tokens("x", ids) if tokens else r.floats("x", xf)
    h0 = r.state("h0", h0)
    hs = r.sequence("hs", hs)
    dhs = r.sequence("dhs", dhs)

    dx, dh0, dW_xh, dW_hh, db_h = _backward(dhs, x, h0, hs, W_xh, W_hh, bptt_steps, tokens)
    if dx is not None:
        dx = r.unbatch(dx, axis=1)
    return dx, r.unbatch(dh0, axis=0), dW_xh, dW_hh, db_h


@_ieee
def rnn_lm_loss(
    inputs: ArrayLike, targets: ArrayLike, h0: Optional[ArrayLike], W_xh: ArrayLike, W_hh: ArrayLike, b_h: ArrayLike,
    W_hy: ArrayLike, b_y: ArrayLike, bptt_steps: Optional[int] = None, reduction: Reduction = "sum",
) -> Tuple[float, Dict[str, FloatArray], FloatArray]:
    """rnn_lm_loss(inputs, targets, h0, W_xh, W_hh, b_h, W_hy, b_y, bptt_steps=None, reduction="sum")

    min-char-rnn's lossFun: forward over the token ids, logits = h_t @ W_hy.T + b_y,
    cross-entropy against targets (summed, or averaged over all T*B predictions, which
    scales the gradients too), and BPTT.

    inputs: integer ids (T,) or (T, B) in [0, W_xh.shape[1]); targets: same shape, in
    [0, V) with V = W_hy.shape[0]; h0: (H,) / (B, H) or None for zeros; W_xh (H, D),
    W_hh (H, H), b_h (H,), W_hy (V, H), b_y (V,).
    Returns (loss, grads, h_last): loss a float, grads a dict keyed "W_xh", "W_hh",
    "b_h", "W_hy", "b_y" (each shaped like its weight), h_last (H,) / (B, H).

    >>> import numpy as np, tinynet.reference as tn
    >>> rng = np.random.default_rng(0); V, H = 4, 3
    >>> W_xh, W_hh, W_hy = (rng.standard_normal(s) * 0.1 for s in [(H, V), (H, H), (V, H)])
    >>> loss, grads, h = tn.rnn_lm_loss([1, 0, 2, 2], [0, 2, 2, 3], None, W_xh, W_hh, np.zeros(H), W_hy, np.zeros(V))
    >>> sorted(grads), h.shape
    (['W_hh', 'W_hy', 'W_xh', 'b_h', 'b_y'], (3,))
    """
    c = Call("rnn_lm_loss")
    bptt_steps = c.bptt(bptt_steps)
    reduction = c.reduction(reduction)
    h0, W_xh, W_hh, b_h, W_hy, b_y = c.floats(("h0", h0), ("W_xh", W_xh), ("W_hh", W_hh), ("b_h", b_h),
                                              ("W_hy", W_hy), ("b_y", b_y), optional=("h0",))
    inputs = c.ints("inputs", inputs)
    targets = c.ints("targets", targets)
    r = _Rnn(c, W_xh, W_hh, b_h)
    r.outputs(W_hy, b_y)
    x = r.tokens("inputs", inputs)
    c.same_shape("targets", targets, "inputs", inputs)
    c.in_range("targets", targets, r.V, "V = W_hy.shape[0]")
    h0 = r.state("h0", h0)
    y = targets.reshape(r.T, r.B)
    T, B, V = r.T, r.B, r.V
    if T * B == 0:  # no predictions (T may be huge when B is 0): zero loss and gradients
        grads = {"W_xh": np.zeros_like(W_xh), "W_hh": np.zeros_like(W_hh), "b_h": np.zeros_like(b_h),
                 "W_hy": np.zeros_like(W_hy), "b_y": np.zeros_like(b_y)}
        return (math.nan if reduction == "mean" else 0.0), grads, r.unbatch(h0.copy(), axis=0)

    # forward: hidden states, then a linear read-out and softmax at every step
    hs = _forward(x, h0, W_xh, W_hh, b_h, tokens=True)
    logits = hs @ W_hy.T + b_y                                     # (T, B, V)
    m = logits.max(axis=2, keepdims=True) if V else logits[..., :0]
    e = np.exp(logits - m)
    probs = e / e.sum(axis=2, keepdims=True)
    log_sum_exp = (m + np.log(e.sum(axis=2, keepdims=True)))[..., 0]
    t_idx, b_idx = np.meshgrid(np.arange(T), np.arange(B), indexing="ij")
    losses = log_sum_exp - logits[t_idx, b_idx, y]                 # (T, B)
    loss = float(np.sum(losses, dtype=np.float64))

    # backward: softmax + cross-entropy, the read-out, then through time
    dlogits = probs.copy()
    dlogits[t_idx, b_idx, y] -= 1
    if reduction == "mean":
        loss = loss / (T * B) if T * B else math.nan
        dlogits /= T * B
    dW_hy = np.einsum("tbv,tbh->vh", dlogits, hs)
    db_y = dlogits.sum(axis=(0, 1))
    dhs = dlogits @ W_hy
    _, _, dW_xh, dW_hh, db_h = _backward(dhs, x, h0, hs, W_xh, W_hh, bptt_steps, tokens=True)

    grads = {"W_xh": dW_xh, "W_hh": dW_hh, "b_h": db_h, "W_hy": dW_hy, "b_y": db_y}
    h_last = hs[-1] if T else h0.copy()
    return loss, grads, r.unbatch(h_last, axis=0)


class SplitMix64:
    """The random generator of rnn_sample, identical in both engines.

    splitmix64 (Steele, Lea, Flood 2014): a 64-bit counter scrambled by two
    multiply-xorshift rounds; uniform() takes the top 53 bits as a double in [0, 1).
    """

    MASK = (1 << 64) - 1

    def __init__(self, seed):
        self.state = seed & self.MASK

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & self.MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & self.MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & self.MASK
        return z ^ (z >> 31)

    def uniform(self):
        return (self.next() >> 11) * 2.0**-53


def _draw(p, u):
    """Inverse-CDF sampling: the first i with u < p_0 + ... + p_i (added in double);
    if rounding leaves u above the total, the last i with p_i > 0."""
    total = 0.0
    for i, p_i in enumerate(p):
        total += float(p_i)
        if u < total:
            return i
    positive = np.flatnonzero(p > 0)
    return int(positive[-1]) if positive.size else len(p) - 1


@_ieee
def rnn_sample(
    h0: Optional[ArrayLike], token: ArrayLike, n: int, W_xh: ArrayLike, W_hh: ArrayLike, b_h: ArrayLike,
    W_hy: ArrayLike, b_y: ArrayLike, temperature: float = 1.0, greedy: bool = False, seed: Optional[int] = None,
) -> NDArray[np.int64]:
    """rnn_sample(h0, token, n, W_xh, W_hh, b_h, W_hy, b_y, temperature=1.0, greedy=False, seed=None)

    Generate n tokens, feeding each one back as the next input (the start token is not
    in the output): h = tanh(W_xh[:, tok] + W_hh @ h + b_h), p = softmax((W_hy @ h +
    b_y) / temperature).  greedy=True takes the most likely token (seed notebook 001's
    predict); otherwise draws from p with tinynet's own SplitMix64 generator seeded by
    `seed` (None: from the OS), the same in both engines, so a seed gives the same
    tokens in each.

    h0 (H,) and an int token give (n,); h0 (B, H) (or None) and tokens (B,) give
    (n, B); int64.  Weights as for rnn_lm_loss; W_hy.shape[0] <= W_xh.shape[1].

    >>> import numpy as np, tinynet.reference as tn
    >>> V, H = 4, 3
    >>> W_xh, W_hh, W_hy = np.eye(H, V), np.eye(H) * 0.5, np.eye(V, H)
    >>> tn.rnn_sample(None, 0, 5, W_xh, W_hh, np.zeros(H), W_hy, np.zeros(V), seed=1).shape
    (5,)
    """
    c = Call("rnn_sample")
    n = c.integer("n", n)
    temperature = c.real("temperature", temperature)
    if n < 0:
        raise ValueError(f"rnn_sample: n must be >= 0, got {n}")
    if not temperature > 0:
        raise ValueError(f"rnn_sample: temperature must be > 0, got {temperature!r}")
    try:
        greedy = bool(greedy)
    except (ValueError, TypeError) as e:
        raise type(e)(f"rnn_sample: greedy must be true or false: {e}") from e
    if seed is None:
        seed = int.from_bytes(os.urandom(8), "little")
    elif not hasattr(seed, "__index__") or isinstance(seed, float):
        raise TypeError(f"rnn_sample: seed must be None or an integer, not {type(seed).__name__}")
    rng = SplitMix64(int(seed.__index__()) if not isinstance(seed, int) else seed)
    h0, W_xh, W_hh, b_h, W_hy, b_y = c.floats(("h0", h0), ("W_xh", W_xh), ("W_hh", W_hh), ("b_h", b_h),
                                              ("W_hy", W_hy), ("b_y", b_y), optional=("h0",))
    token = c.ints("token", token)
    r = _Rnn(c, W_xh, W_hh, b_h)
    r.outputs(W_hy, b_y)
    if token.ndim > 1:
        raise c.shape_error("token", token, "() for one sequence or (B,) for a batch")
    r.batched = token.ndim == 1
    r.B = token.shape[0] if r.batched else 1
    r._input("token", token, bdim=0)
    h = r.state("h0", h0)
    c.in_range("token", token, r.D, "D = W_xh.shape[1]")
    if r.V > r.D:
        raise ValueError(
            f"rnn_sample: sampled tokens are fed back as inputs, so V = W_hy.shape[0] = {r.V} must not "
            f"exceed D = W_xh.shape[1] = {r.D}"
        )
    if r.V == 0 and n > 0:
        raise ValueError(
            f"rnn_sample: W_hy has shape {tuple(W_hy.shape)}: with V = W_hy.shape[0] = 0 there is no token to "
            f"sample (n = {n})"
        )

    tok = token.reshape(r.B)
    out = np.empty((n, r.B), dtype=np.int64)
    if r.B == 0:  # no sequences, nothing to generate (n may be huge)
        return out
    for i in range(n):
        h = np.tanh(_input_projection(tok, W_xh, tokens=True) + h @ W_hh.T + b_h)
        logits = (h @ W_hy.T + b_y) / temperature
        for b in range(r.B):
            if greedy:
                out[i, b] = np.argmax(logits[b])
            else:
                p = np.exp(logits[b] - logits[b].max())
                p = p / p.sum()
                out[i, b] = _draw(p, rng.uniform())
        tok = out[i]
    return out if r.batched else out[:, 0]
