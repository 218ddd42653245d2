"""tinynet.reference.linear: the affine layer, the activations (tanh, sigmoid, ReLU,
GELU), softmax and softmax cross-entropy (csrc/tn_linear.c)."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Optional, Tuple

import numpy as np

from tinynet._checks import Call
from tinynet.reference._common import _ieee, _rows

if TYPE_CHECKING:
    from numpy.typing import ArrayLike
    from typing import Literal

    from tinynet.reference._common import FloatArray, Reduction

    Approximate = Literal["none", "tanh"]  # GELU's forms


# ------------------------------------------------------------------------------ linear


@_ieee
def linear_forward(x: ArrayLike, W: ArrayLike, b: Optional[ArrayLike] = None) -> FloatArray:
    """linear_forward(x, W, b=None)

    Affine layer: y = x @ W.T + b, over the last axis of x, as torch.nn.functional.linear.

    x: (..., D) -- (N, D), a sequence (B, T, D), one example (D,); W: (H, D) (PyTorch
    nn.Linear layout); b: (H,) or None.  Returns y: x.shape[:-1] + (H,), in the dtype
    of the float arguments (float32/float64).

    >>> import numpy as np, tinynet.reference as tn
    >>> tn.linear_forward(np.ones((2, 3)), np.ones((4, 3)), np.zeros(4)).shape
    (2, 4)
    >>> tn.linear_forward(np.ones((5, 2, 3)), np.ones((4, 3))).shape
    (5, 2, 4)
    """
    c = Call("linear_forward")
    x, W, b = c.floats(("x", x), ("W", W), ("b", b), optional=("b",))
    _linear_shapes(c, x, W)
    if b is not None:
        c.expect("b", b, (W.shape[0],), "(H,)", f" with H = W.shape[0] = {W.shape[0]}")

    y = (_rows(x) @ W.T).reshape(x.shape[:-1] + (W.shape[0],))  # (one product, whatever the leading axes)
    if b is not None:
        y = y + b
    return y


def _linear_shapes(c, x, W):
    """W (H, D), x (..., D)."""
    if W.ndim != 2:
        raise c.shape_error("W", W, "(H, D)")
    D = W.shape[1]
    if x.ndim < 1 or x.shape[-1] != D:
        raise c.shape_error("x", x, "(..., D)", f" with D = W.shape[1] = {D}")


@_ieee
def linear_backward(dy: ArrayLike, x: ArrayLike, W: ArrayLike) -> Tuple[FloatArray, FloatArray, FloatArray]:
    """linear_backward(dy, x, W)

    Gradients of y = x @ W.T + b given dy = dL/dy.

    dy: shaped like y, x.shape[:-1] + (H,); x: (..., D) (the forward input); W: (H, D).
    Returns (dx, dW, db): dx = dy @ W like x, dW (H, D) and db (H,) summed over every
    leading axis (over the rows of x and dy seen as (N, D) and (N, H)); float32 or
    float64, the dtype of the arguments.

    >>> import numpy as np, tinynet.reference as tn
    >>> dx, dW, db = tn.linear_backward(np.ones((2, 4)), np.ones((2, 3)), np.ones((4, 3)))
    >>> dx.shape, dW.shape, db.shape
    ((2, 3), (4, 3), (4,))
    """
    c = Call("linear_backward")
    dy, x, W = c.floats(("dy", dy), ("x", x), ("W", W))
    _linear_shapes(c, x, W)
    H, D = W.shape
    y_shape = x.shape[:-1] + (H,)
    if dy.shape != y_shape:
        raise c.shape_error("dy", dy, str(y_shape),
                            f" (x.shape[:-1] + (H,), with x of shape {tuple(x.shape)} and H = W.shape[0] = {H})")

    rows_x, rows_dy = _rows(x), _rows(dy)  # every leading axis is a batch axis
    return (rows_dy @ W).reshape(x.shape), rows_dy.T @ rows_x, rows_dy.sum(axis=0)


# ------------------------------------------------------------------------- activations


def _elementwise(fn, *named):
    c = Call(fn)
    arrays = c.floats(*named)
    if len(named) == 2:
        c.same_shape(named[0][0], arrays[0], named[1][0], arrays[1])
    return arrays


@_ieee
def tanh_forward(x: ArrayLike) -> FloatArray:
    """tanh_forward(x)

    Elementwise y = tanh(x); x of any shape.  Returns y, same shape and dtype.

    >>> import tinynet.reference as tn
    >>> tn.tanh_forward([0.0, 1.0]).round(4)
    array([0.    , 0.7616])
    """
    x = _elementwise("tanh_forward", ("x", x))
    return np.tanh(x)


@_ieee
def tanh_backward(dy: ArrayLike, y: ArrayLike) -> FloatArray:
    """tanh_backward(dy, y)

    Gradient of tanh from its output y: dx = dy * (1 - y**2); dy, y the same shape.
    Returns dx, same shape and dtype.

    >>> import tinynet.reference as tn
    >>> tn.tanh_backward([1.0, 1.0], [0.0, 0.5])
    array([1.  , 0.75])
    """
    dy, y = _elementwise("tanh_backward", ("dy", dy), ("y", y))
    return dy * (y.dtype.type(1) - y * y)  # a 1 of y's dtype: NumPy 1.x makes 1 - (0-d float32) float64


@_ieee
def sigmoid_forward(x: ArrayLike) -> FloatArray:
    """sigmoid_forward(x)

    Elementwise y = 1 / (1 + exp(-x)); x of any shape.  Returns y, same shape and dtype.

    >>> import tinynet.reference as tn
    >>> tn.sigmoid_forward([0.0])
    array([0.5])
    """
    x = _elementwise("sigmoid_forward", ("x", x))
    one = x.dtype.type(1)  # a 1 of x's dtype: NumPy 1.x makes 1 + (0-d float32) float64
    return one / (one + np.exp(-x))


@_ieee
def sigmoid_backward(dy: ArrayLike, y: ArrayLike) -> FloatArray:
    """sigmoid_backward(dy, y)

    Gradient of the sigmoid from its output y: dx = dy * y * (1 - y); dy, y the same
    shape.  Returns dx, same shape and dtype.

    >>> import tinynet.reference as tn
    >>> tn.sigmoid_backward([1.0], [0.5])
    array([0.25])
    """
    dy, y = _elementwise("sigmoid_backward", ("dy", dy), ("y", y))
    return dy * (y * (y.dtype.type(1) - y))


@_ieee
def relu_forward(x: ArrayLike) -> FloatArray:
    """relu_forward(x)

    Elementwise y = max(x, 0); x of any shape (nan stays nan).  Returns y, same shape
    and dtype.

    >>> import tinynet.reference as tn
    >>> tn.relu_forward([-1.0, 2.0])
    array([0., 2.])
    """
    x = _elementwise("relu_forward", ("x", x))
    return np.where(x < 0, x.dtype.type(0), x)


@_ieee
def relu_backward(dy: ArrayLike, y: ArrayLike) -> FloatArray:
    """relu_backward(dy, y)

    Gradient of ReLU from its output y: dx = dy where y > 0, else 0; dy, y the same
    shape.  Returns dx, same shape and dtype.

    >>> import tinynet.reference as tn
    >>> tn.relu_backward([5.0, 5.0], [0.0, 2.0])
    array([0., 5.])
    """
    dy, y = _elementwise("relu_backward", ("dy", dy), ("y", y))
    return np.where(y > 0, dy, dy.dtype.type(0))


# ------------------------------------------------------------------------------- GELU

_erfc = np.vectorize(math.erfc, otypes=[np.float64])  # the complementary error function, elementwise


def _gelu_args(fn, approximate, *named):
    """The arrays of a GELU call (of one shape) and approximate: "none" or "tanh"."""
    if not (isinstance(approximate, str) and approximate in ("none", "tanh")):
        raise ValueError(f'{fn}: approximate must be "none" or "tanh", got {approximate!r}')
    return _elementwise(fn, *named)


def _normal_cdf(x):
    """Phi(x), the probability that a standard normal variable is at most x:
    (1 + erf(x / sqrt 2)) / 2, written as erfc(-x / sqrt 2) / 2 -- the same number,
    but for x << 0 it does not come from 1 - (almost 1), which would lose its digits."""
    return (0.5 * _erfc(-x.astype(np.float64) / math.sqrt(2))).astype(x.dtype)


_K0, _K1 = math.sqrt(2 / math.pi), 0.044715  # the tanh form's constants


@_ieee
def gelu_forward(x: ArrayLike, approximate: Approximate = "none") -> FloatArray:
    """gelu_forward(x, approximate="none")

    The Gaussian error linear unit, elementwise, as torch.nn.functional.gelu:
    approximate="none": y = x * Phi(x), Phi the standard normal CDF,
    (1 + erf(x / sqrt 2)) / 2; approximate="tanh": GPT-2's (and makemore's NewGELU)
    y = 0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x**3))).  x of any shape.
    Returns y, same shape and dtype.  At x = -inf, y = 0 (the limit).

    >>> import tinynet.reference as tn
    >>> tn.gelu_forward([-1.0, 0.0, 1.0]).round(4)
    array([-0.1587,  0.    ,  0.8413])
    >>> tn.gelu_forward([1.0], approximate="tanh").round(4)
    array([0.8412])
    """
    x = _gelu_args("gelu_forward", approximate, ("x", x))
    one, half = x.dtype.type(1), x.dtype.type(0.5)  # (NumPy 1.x would make a 0-d float32 float64)
    if approximate == "tanh":
        p = half * (one + np.tanh(x.dtype.type(_K0) * (x + x.dtype.type(_K1) * (x * x * x))))
    else:
        p = _normal_cdf(x)
    return np.where(p == 0, -x.dtype.type(0), x * p)  # (x * 0 is nan at x = -inf)


@_ieee
def gelu_backward(dy: ArrayLike, x: ArrayLike, approximate: Approximate = "none") -> FloatArray:
    """gelu_backward(dy, x, approximate="none")

    Gradient of GELU from its input x (GELU's derivative is not a function of its
    output): for "none", dx = dy * (Phi(x) + x * phi(x)), phi(x) = exp(-x**2 / 2) /
    sqrt(2 pi) the normal density; for "tanh", with u = sqrt(2 / pi) * (x + 0.044715 *
    x**3) and t = tanh(u), dx = dy * ((1 + t) / 2 + x / 2 * (1 - t**2) * du/dx).  dy, x
    the same shape.  Returns dx, same shape and dtype: dy at x = +inf, 0 at -inf.

    >>> import tinynet.reference as tn
    >>> tn.gelu_backward([1.0, 1.0], [0.0, 1.0]).round(4)
    array([0.5   , 1.0833])
    """
    dy, x = _gelu_args("gelu_backward", approximate, ("dy", dy), ("x", x))
    dt = x.dtype.type
    if approximate == "tanh":
        t = np.tanh(dt(_K0) * (x + dt(_K1) * (x * x * x)))
        dtanh, du = dt(1) - t * t, dt(_K0) * (dt(1) + dt(3) * dt(_K1) * (x * x))
        p, slope = dt(0.5) * (dt(1) + t), np.where(dtanh == 0, dt(0), dt(0.5) * x * dtanh * du)
    else:
        pdf = np.exp(-(x.astype(np.float64) ** 2) / 2).astype(x.dtype) * dt(1 / math.sqrt(2 * math.pi))
        p, slope = _normal_cdf(x), np.where(pdf == 0, dt(0), x * pdf)
    return dy * (p + slope)  # (the slope term is 0 where it is 0 * inf at x = +-inf)


# -------------------------------------------------------------- softmax, cross-entropy


@_ieee
def softmax(logits: ArrayLike) -> FloatArray:
    """softmax(logits)

    Softmax over the last axis.  Subtracting the row maximum first changes nothing
    mathematically but keeps exp() from overflowing for huge logits.

    logits: (N, V) or (V,) (any leading shape works), float32/float64.  Returns probs,
    same shape and dtype.

    >>> import tinynet.reference as tn
    >>> tn.softmax([0.0, 0.0])
    array([0.5, 0.5])
    """
    c = Call("softmax")
    logits = c.floats(("logits", logits))
    if logits.ndim < 1:
        raise c.shape_error("logits", logits, "(N, V) or (V,)")
    if logits.shape[-1] == 0:
        return logits.copy()

    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _ce_args(c, lname, logits, targets, ignore_index):
    logits = c.floats((lname, logits))
    targets = c.ints("targets", targets)
    c.expect(lname, logits, (None, None), "(N, V)")
    N, V = logits.shape
    c.expect("targets", targets, (N,), "(N,)", f" with N = {lname}.shape[0] = {N}")
    _targets_in_range(c, targets, V, f"V = {lname}.shape[1]", ignore_index)
    return logits, targets


def _ignore_index(c, ignore_index):
    """None, or an integer: the target value whose rows count for nothing."""
    return None if ignore_index is None else c.integer("ignore_index", ignore_index)


def _counted(targets, ignore_index):
    """The rows that count: those whose target is not ignore_index (all without one)."""
    return np.arange(targets.size) if ignore_index is None else np.flatnonzero(targets != ignore_index)


def _targets_in_range(c, targets, V, what, ignore_index):
    """targets in [0, V), except those equal to ignore_index."""
    if ignore_index is not None:
        targets = np.where(targets == ignore_index, 0, targets)  # (ignored: any value will do)
    c.in_range("targets", targets, V, what)


@_ieee
def cross_entropy_forward(
    logits: ArrayLike, targets: ArrayLike, reduction: Reduction = "mean", ignore_index: Optional[int] = None,
) -> Tuple[float, FloatArray]:
    """cross_entropy_forward(logits, targets, reduction="mean", ignore_index=None)

    loss_n = logsumexp(logits_n) - logits_n[target_n], averaged ("mean") or added
    ("sum") over the batch.  Working in log space keeps the loss exact even when a
    target's probability underflows to 0.  With ignore_index (an integer, e.g. -1 for
    padding), the rows whose target equals it add nothing, and "mean" averages over
    the others, as torch.nn.functional.cross_entropy.

    logits: (N, V) floats; targets: (N,) integers in [0, V) (or equal to
    ignore_index).  Returns (loss, probs): loss a Python float (nan for "mean" over no
    rows counted), probs (N, V) = softmax(logits).

    >>> import tinynet.reference as tn
    >>> loss, probs = tn.cross_entropy_forward([[0.0, 0.0]], [1])
    >>> round(loss, 6)
    0.693147
    >>> tn.cross_entropy_forward([[0.0, 0.0], [5.0, 0.0]], [1, -1], ignore_index=-1)[0] == loss
    True
    """
    c = Call("cross_entropy_forward")
    reduction = c.reduction(reduction)
    ignore_index = _ignore_index(c, ignore_index)
    logits, targets = _ce_args(c, "logits", logits, targets, ignore_index)
    N, V = logits.shape
    if V == 0:  # then every row is ignored (no target fits)
        return (math.nan if reduction == "mean" else 0.0), logits.copy()

    m = logits.max(axis=1, keepdims=True)
    e = np.exp(logits - m)
    s = e.sum(axis=1, keepdims=True)
    log_sum_exp = (m + np.log(s))[:, 0]
    rows = _counted(targets, ignore_index)
    losses = log_sum_exp[rows] - logits[rows, targets[rows]]
    loss = float(np.sum(losses, dtype=np.float64))
    if reduction == "mean":
        loss = loss / rows.size if rows.size else math.nan
    return loss, e / s


@_ieee
def cross_entropy_backward(
    probs: ArrayLike, targets: ArrayLike, reduction: Reduction = "mean", ignore_index: Optional[int] = None,
) -> FloatArray:
    """cross_entropy_backward(probs, targets, reduction="mean", ignore_index=None)

    dL/dlogits = probs - onehot(targets), divided by N for "mean" -- or, with
    ignore_index, 0 in the rows whose target equals it, and "mean" divides by the
    count of the others.

    probs: (N, V) from cross_entropy_forward; targets: (N,) integers in [0, V) (or
    equal to ignore_index).  Returns dlogits (N, V), the dtype of probs.

    >>> import tinynet.reference as tn
    >>> tn.cross_entropy_backward([[0.5, 0.5]], [1])
    array([[ 0.5, -0.5]])
    """
    c = Call("cross_entropy_backward")
    reduction = c.reduction(reduction)
    ignore_index = _ignore_index(c, ignore_index)
    probs, targets = _ce_args(c, "probs", probs, targets, ignore_index)
    rows = _counted(targets, ignore_index)

    dlogits = np.zeros_like(probs)
    dlogits[rows] = probs[rows]
    dlogits[rows, targets[rows]] -= 1
    if reduction == "mean" and rows.size:
        dlogits /= rows.size
    return dlogits
