"""tinynet.reference.mlp: an MLP's steps fused: a hidden block (linear, batch norm, tanh)
and the output layer with its loss (csrc/tn_mlp.c)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Optional, Sequence, Tuple

import numpy as np

from tinynet._checks import Call
from tinynet.reference._common import _ieee
from tinynet.reference.linear import (
    _ignore_index,
    _targets_in_range,
    cross_entropy_backward,
    cross_entropy_forward,
    linear_backward,
    linear_forward,
    tanh_backward,
    tanh_forward,
)
from tinynet.reference.norm import _running_args, batchnorm_backward, batchnorm_forward

if TYPE_CHECKING:
    from numpy.typing import ArrayLike
    from tinynet.reference._common import FloatArray, Reduction


# ------------------------------------------------------------------- fused MLP steps
#
# A hidden block (linear, batch norm, tanh) and the output layer with its loss, each one
# call: in this engine literally the single layers' functions called in turn, after
# checking the arguments as the C engine checks them.


def _block_shapes(c, x, W, wpattern, vectors, sym):
    """W (H, D) [or (V, D)], x (N, D), and the (H,) vectors of a block."""
    if W.ndim != 2:
        raise c.shape_error("W", W, wpattern)
    c.expect("x", x, (None, W.shape[1]), "(N, D)", f" with D = W.shape[1] = {W.shape[1]}")
    for name, v in vectors:
        if v is not None:
            c.expect(name, v, (W.shape[0],), f"({sym},)", f" with {sym} = W.shape[0] = {W.shape[0]}")


def _block_out(c, out, names, shapes, inputs):
    """out=: None, or a tuple or list of len(names) arrays the results go to -- each an
    in-place array (writeable, C-contiguous, the call's dtype) of the result's shape,
    sharing no memory with another of them or with an input."""
    if out is None:
        return None
    if not isinstance(out, (tuple, list)) or len(out) != len(names):
        what = "a sequence of another length" if isinstance(out, (tuple, list)) else type(out).__name__
        raise TypeError(f"{c.fn}: out must be None or a tuple of {len(names)} arrays ({names[0]}, ...), not {what}")
    for i, (a, name, shape) in enumerate(zip(out, names, shapes)):
        c.inplace(f"out[{i}]", a)
        if a.shape != shape:
            raise ValueError(f"{c.fn}: out[{i}] has shape {tuple(a.shape)}, expected {shape} for {name}")
        for other, b in list(inputs) + [(f"out[{j}]", out[j]) for j in range(i)]:
            if b is not None and a.size and b.size and np.may_share_memory(a, b):
                raise ValueError(f"{c.fn}: out[{i}] shares memory with {other}; results go to separate arrays")
    return out


def _into(out, results):
    """The results, or written into out (and out returned, as a tuple)."""
    if out is None:
        return results
    for o, r in zip(out, results):
        o[...] = r
    return tuple(out)


def _block_rows(c, x, correction):
    if correction < 0:
        raise ValueError(f"{c.fn}: correction must be >= 0, got {correction}")
    if x.shape[0] <= correction:
        raise ValueError(
            f"{c.fn}: the batch variance with correction={correction} needs more than {correction} row(s), "
            f"but x has shape {tuple(x.shape)}"
        )


@_ieee
def linear_batchnorm_tanh_forward(
    x: ArrayLike, W: ArrayLike, b: Optional[ArrayLike], gamma: ArrayLike, beta: ArrayLike, eps: float = 1e-5,
    correction: int = 0, out: Optional[Sequence[FloatArray]] = None, running_mean: Optional[FloatArray] = None,
    running_var: Optional[FloatArray] = None, momentum: float = 0.1,
) -> Tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """linear_batchnorm_tanh_forward(x, W, b, gamma, beta, eps=1e-5, correction=0, out=None, running_mean=None, running_var=None, momentum=0.1)

    A hidden block in one call: hpre = x @ W.T + b, batch normalisation with the batch
    statistics (as batchnorm_forward), then tanh:
    h = tanh(gamma * (hpre - mean) * invstd + beta).

    x: (N, D); W: (H, D); b: (H,) or None (batch norm cancels a bias: makemore's
    Linear(bias=False)); gamma, beta: (H,); N must exceed correction.  Returns
    (h, hpre, mean, invstd): h, hpre (N, H), mean, invstd (H,) -- what
    linear_batchnorm_tanh_backward needs -- in the arguments' dtype; or written into
    out, a tuple of four such arrays (writeable, C-contiguous, sharing no memory with
    the arguments or each other), which is then what is returned.  The C engine gives
    the same bits as linear_forward, batchnorm_forward and tanh_forward called in turn,
    and returns its fresh arrays as views of one buffer.  running_mean, running_var,
    momentum: batch norm's running statistics, updated in place from hpre as
    batchnorm_forward updates them (None: not kept).

    >>> import numpy as np, tinynet.reference as tn
    >>> x, W, gamma, beta = np.ones((4, 3)), np.ones((2, 3)), np.ones(2), np.zeros(2)
    >>> x[0] = 0
    >>> h, hpre, mean, invstd = tn.linear_batchnorm_tanh_forward(x, W, None, gamma, beta)
    >>> h.shape, mean
    ((4, 2), array([2.25, 2.25]))
    """
    c = Call("linear_batchnorm_tanh_forward")
    eps = c.nonneg("eps", eps)
    correction = c.integer("correction", correction)
    x, W, b, gamma, beta = c.floats(("x", x), ("W", W), ("b", b), ("gamma", gamma), ("beta", beta), optional=("b",))
    _block_shapes(c, x, W, "(H, D)", [("b", b), ("gamma", gamma), ("beta", beta)], "H")
    _block_rows(c, x, correction)
    N, H = x.shape[0], W.shape[0]
    out = _block_out(c, out, ("h", "hpre", "mean", "invstd"), ((N, H), (N, H), (H,), (H,)),
                     [("x", x), ("W", W), ("b", b), ("gamma", gamma), ("beta", beta)])
    rm, rv, momentum = _running_args(c, (N, H), running_mean, running_var, momentum)
    others = [x, W] + (list(out[:2]) if out is not None else [])
    if rm is not None and any(a.size and s.size and np.may_share_memory(a, s) for a in (rm, rv) for s in others):
        raise ValueError(f"{c.fn}: running_mean and running_var must not share memory with the other arrays")

    hpre = linear_forward(x, W, b)
    y, mean, invstd = batchnorm_forward(hpre, gamma, beta, eps, correction, rm, rv, momentum)
    return _into(out, (tanh_forward(y), hpre, mean, invstd))


@_ieee
def linear_batchnorm_tanh_backward(
    dh: ArrayLike, h: ArrayLike, x: ArrayLike, W: ArrayLike, gamma: ArrayLike, hpre: ArrayLike, mean: ArrayLike,
    invstd: ArrayLike, correction: int = 0, out: Optional[Sequence[FloatArray]] = None,
) -> Tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """linear_batchnorm_tanh_backward(dh, h, x, W, gamma, hpre, mean, invstd, correction=0, out=None)

    Gradients of linear_batchnorm_tanh_forward (same correction) from dh = dL/dh: back
    through tanh (from h), batch norm (from hpre, mean, invstd) and the linear layer.

    dh, h, hpre: (N, H); x: (N, D); W: (H, D); gamma, mean, invstd: (H,) -- h, hpre, mean
    and invstd as the forward call returned them.  Returns (dx, dW, db, dgamma, dbeta):
    dx (N, D), dW (H, D), db, dgamma, dbeta (H,) (db, the bias's gradient, is about 0:
    batch norm cancels a bias), float32 or float64 as the arguments; or written into
    out, a tuple of five such arrays, as in linear_batchnorm_tanh_forward.  The C
    engine gives the same bits as tanh_backward, batchnorm_backward and
    linear_backward called in turn, its fresh arrays views of one buffer.

    >>> import numpy as np, tinynet.reference as tn
    >>> x, W, gamma, beta = np.ones((4, 3)), np.ones((2, 3)), np.ones(2), np.zeros(2)
    >>> x[0] = 0
    >>> h, hpre, mean, invstd = tn.linear_batchnorm_tanh_forward(x, W, None, gamma, beta)
    >>> grads = tn.linear_batchnorm_tanh_backward(np.ones_like(h), h, x, W, gamma, hpre, mean, invstd)
    >>> [g.shape for g in grads]
    [(4, 3), (2, 3), (2,), (2,), (2,)]
    """
    c = Call("linear_batchnorm_tanh_backward")
    correction = c.integer("correction", correction)
    dh, h, x, W, gamma, hpre, mean, invstd = c.floats(
        ("dh", dh), ("h", h), ("x", x), ("W", W), ("gamma", gamma), ("hpre", hpre), ("mean", mean),
        ("invstd", invstd))
    _block_shapes(c, x, W, "(H, D)", [("gamma", gamma), ("mean", mean), ("invstd", invstd)], "H")
    N, H = x.shape[0], W.shape[0]
    for name, a in (("hpre", hpre), ("h", h), ("dh", dh)):
        c.expect(name, a, (N, H), "(N, H)", f" with N = x.shape[0] = {N}, H = W.shape[0] = {H}")
    _block_rows(c, x, correction)
    D = x.shape[1]
    out = _block_out(c, out, ("dx", "dW", "db", "dgamma", "dbeta"), ((N, D), (H, D), (H,), (H,), (H,)),
                     [("dh", dh), ("h", h), ("x", x), ("W", W), ("gamma", gamma), ("hpre", hpre), ("mean", mean),
                      ("invstd", invstd)])

    dhbn = tanh_backward(dh, h)
    dhpre, dgamma, dbeta = batchnorm_backward(dhbn, hpre, gamma, mean, invstd, correction)
    dx, dW, db = linear_backward(dhpre, x, W)
    return _into(out, (dx, dW, db, dgamma, dbeta))


@_ieee
def linear_cross_entropy(
    x: ArrayLike, W: ArrayLike, b: Optional[ArrayLike], targets: ArrayLike, reduction: Reduction = "mean",
    out: Optional[Sequence[FloatArray]] = None, ignore_index: Optional[int] = None,
) -> Tuple[float, FloatArray, FloatArray, FloatArray]:
    """linear_cross_entropy(x, W, b, targets, reduction="mean", out=None, ignore_index=None)

    The output layer and its loss, forward and backward in one call: logits =
    x @ W.T + b, their softmax cross-entropy against targets (as
    cross_entropy_forward, ignore_index included), and its gradient back through the
    layer.

    x: (N, D); W: (V, D); b: (V,) or None; targets: (N,) integers in [0, V) (or equal
    to ignore_index: those rows count for nothing); reduction: "mean" or "sum".
    Returns (loss, dx, dW, db): loss a Python float (nan for "mean" over no rows
    counted), dx (N, D), dW (V, D), db (V,); or the arrays written into
    out, a tuple of three, as in linear_batchnorm_tanh_forward.  The C engine gives the
    same bits as linear_forward, cross_entropy_forward, cross_entropy_backward and
    linear_backward called in turn, its fresh arrays views of one buffer.

    >>> import numpy as np, tinynet.reference as tn
    >>> loss, dx, dW, db = tn.linear_cross_entropy(np.ones((1, 3)), np.zeros((2, 3)), None, [1])
    >>> round(loss, 6), db
    (0.693147, array([ 0.5, -0.5]))
    """
    c = Call("linear_cross_entropy")
    reduction = c.reduction(reduction)
    ignore_index = _ignore_index(c, ignore_index)
    x, W, b = c.floats(("x", x), ("W", W), ("b", b), optional=("b",))
    targets = c.ints("targets", targets)
    _block_shapes(c, x, W, "(V, D)", [("b", b)], "V")
    N = x.shape[0]
    c.expect("targets", targets, (N,), "(N,)", f" with N = x.shape[0] = {N}")
    _targets_in_range(c, targets, W.shape[0], "V = W.shape[0]", ignore_index)
    V, D = W.shape
    out = _block_out(c, out, ("dx", "dW", "db"), ((N, D), (V, D), (V,)), [("x", x), ("W", W), ("b", b)])

    logits = linear_forward(x, W, b)
    loss, probs = cross_entropy_forward(logits, targets, reduction, ignore_index)
    grads = linear_backward(cross_entropy_backward(probs, targets, reduction, ignore_index), x, W)
    return (loss, *_into(out, grads))
