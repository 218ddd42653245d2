"""tinynet.reference.norm: batch and layer normalisation (csrc/tn_norm.c)."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Optional, Tuple

import numpy as np

from tinynet._checks import Call
from tinynet.reference._common import _ieee, _rows

if TYPE_CHECKING:
    from numpy.typing import ArrayLike
    from tinynet.reference._common import FloatArray


# --------------------------------------------------------------------------- batchnorm


def _bn_shapes(c, x, vectors, correction, need_rows=True):
    """x (..., C) with at least one leading axis, channels last; vectors (C,)."""
    if x.ndim < 2:
        raise c.shape_error("x", x, "(N, C) or (..., C), channels last")
    C = x.shape[-1]
    for name, v in vectors:
        c.expect(name, v, (C,), "(C,)", f" with C = x.shape[-1] = {C}")
    if correction < 0:
        raise ValueError(f"{c.fn}: correction must be >= 0, got {correction}")
    if need_rows and math.prod(x.shape[:-1]) <= correction:
        raise ValueError(
            f"{c.fn}: the batch variance with correction={correction} needs more than {correction} value(s) "
            f"per channel, but x has shape {tuple(x.shape)}"
        )


def _running_args(c, shape, running_mean, running_var, momentum):
    """The optional running statistics of a batch of `shape` (both or neither, updated in
    place) and momentum."""
    if (running_mean is None) != (running_var is None):
        raise ValueError(f"{c.fn}: give both running_mean and running_var, or neither")
    momentum = c.real("momentum", momentum)
    if not 0 <= momentum <= 1:
        raise ValueError(f"{c.fn}: momentum must be in [0, 1], got {momentum!r}")
    if running_mean is None:
        return None, None, momentum
    C = shape[-1]
    rm, rv = c.inplace("running_mean", running_mean), c.inplace("running_var", running_var)
    c.expect("running_mean", rm, (C,), "(C,)", f" with C = x.shape[-1] = {C}")
    c.expect("running_var", rv, (C,), "(C,)", f" with C = x.shape[-1] = {C}")
    if rm.size and np.may_share_memory(rm, rv):
        raise ValueError(f"{c.fn}: running_var and running_mean share memory; they must be separate arrays")
    if C and math.prod(shape[:-1]) <= 1:
        raise ValueError(f"{c.fn}: the running variance (unbiased) needs more than 1 value per channel, but x has "
                         f"shape {tuple(shape)}")
    return rm, rv, momentum


def _update_running(rm, rv, rows, mean, momentum):
    """running = (1 - momentum) running + momentum batch, the batch's variance unbiased
    (N - 1), as PyTorch's training mode; rows: the (N, C) values."""
    if rm is None:
        return
    dt = rows.dtype.type
    diff = rows - mean
    unbiased = (diff * diff).sum(axis=0) / dt(rows.shape[0] - 1)
    rm *= dt(1 - momentum)
    rm += dt(momentum) * mean
    rv *= dt(1 - momentum)
    rv += dt(momentum) * unbiased


@_ieee
def batchnorm_forward(
    x: ArrayLike, gamma: ArrayLike, beta: ArrayLike, eps: float = 1e-5, correction: int = 0,
    running_mean: Optional[FloatArray] = None, running_var: Optional[FloatArray] = None, momentum: float = 0.1,
) -> Tuple[FloatArray, FloatArray, FloatArray]:
    """batchnorm_forward(x, gamma, beta, eps=1e-5, correction=0, running_mean=None, running_var=None, momentum=0.1)

    Normalise each channel (the last axis) of x with the batch statistics, taken over
    all the other axes (the N values per channel):
    mean = sum(x) / N, var = sum((x - mean)**2) / (N - correction),
    y = gamma * (x - mean) / sqrt(var + eps) + beta.  correction=0 is PyTorch's
    training mode, correction=1 Bessel's n-1 (makemore); N must exceed correction;
    eps must be a finite number >= 0.

    x: (N, C), or (..., C) channels last -- makemore part 5's (B, T, C), statistics
    over (B, T) -- gamma, beta: (C,).  Returns (y like x, mean (C,), invstd (C,)) with
    invstd = 1 / sqrt(var + eps), all in x's dtype.

    running_mean, running_var: None, or (C,) arrays of x's dtype (writeable,
    C-contiguous) updated in place as PyTorch's training mode does (F.batch_norm):
    running = (1 - momentum) * running + momentum * batch, with the batch's mean and
    its unbiased variance, sum((x - mean)**2) / (N - 1), whatever correction is;
    momentum in [0, 1].

    >>> import tinynet.reference as tn
    >>> y, mean, invstd = tn.batchnorm_forward([[1.0], [3.0]], [1.0], [0.0])
    >>> y.round(4).ravel(), mean
    (array([-1.,  1.]), array([2.]))
    """
    c = Call("batchnorm_forward")
    eps = c.nonneg("eps", eps)
    correction = c.integer("correction", correction)
    x, gamma, beta = c.floats(("x", x), ("gamma", gamma), ("beta", beta))
    _bn_shapes(c, x, [("gamma", gamma), ("beta", beta)], correction)
    rm, rv, momentum = _running_args(c, x.shape, running_mean, running_var, momentum)
    shape, x = x.shape, _rows(x)  # the N values of each channel: one column each
    N = x.shape[0]

    mean = x.sum(axis=0) / N
    diff = x - mean
    var = (diff * diff).sum(axis=0) / (N - correction)
    invstd = 1 / np.sqrt(var + eps)
    y = gamma * (diff * invstd) + beta
    _update_running(rm, rv, x, mean, momentum)
    return y.reshape(shape), mean, invstd


@_ieee
def batchnorm_backward(
    dy: ArrayLike, x: ArrayLike, gamma: ArrayLike, mean: ArrayLike, invstd: ArrayLike, correction: int = 0,
) -> Tuple[FloatArray, FloatArray, FloatArray]:
    """batchnorm_backward(dy, x, gamma, mean, invstd, correction=0)

    With xhat = (x - mean) * invstd and g = dy * gamma (the gradient at xhat):
        dx = invstd * (g - mean_n(g) - xhat * sum_n(g * xhat) / (N - correction))
    (the second term is the path through the mean, the third through the variance);
    dgamma = sum_n(dy * xhat), dbeta = sum_n(dy).

    dy, x: (N, C) or (..., C), the same shape; gamma, mean, invstd: (C,) (mean and
    invstd from batchnorm_forward with the same correction; sums and means over the N
    values of each channel).  Returns (dx like x, dgamma (C,), dbeta (C,)), float32 or
    float64 as the arguments.

    >>> import tinynet.reference as tn
    >>> y, m, s = tn.batchnorm_forward([[1.0], [3.0]], [1.0], [0.0])
    >>> dx, dgamma, dbeta = tn.batchnorm_backward([[1.0], [1.0]], [[1.0], [3.0]], [1.0], m, s)
    >>> dbeta
    array([2.])
    """
    c = Call("batchnorm_backward")
    correction = c.integer("correction", correction)
    dy, x, gamma, mean, invstd = c.floats(
        ("dy", dy), ("x", x), ("gamma", gamma), ("mean", mean), ("invstd", invstd))
    _bn_shapes(c, x, [("gamma", gamma), ("mean", mean), ("invstd", invstd)], correction)
    c.same_shape("dy", dy, "x", x)
    shape, C = x.shape, x.shape[-1]
    x, dy = _rows(x), _rows(dy)
    N = x.shape[0]

    xhat = (x - mean) * invstd
    dbeta = dy.sum(axis=0)
    dgamma = (dy * xhat).sum(axis=0)
    g = dy * gamma
    g_mean = gamma * dbeta / N                      # mean over the batch of g
    g_xhat = gamma * dgamma / (N - correction)      # sum of g * xhat, over N - correction
    dx = invstd * (g - g_mean - xhat * g_xhat)
    return dx.reshape(shape), dgamma, dbeta


@_ieee
def batchnorm_inference(
    x: ArrayLike, gamma: ArrayLike, beta: ArrayLike, running_mean: ArrayLike, running_var: ArrayLike, eps: float = 1e-5,
) -> FloatArray:
    """batchnorm_inference(x, gamma, beta, running_mean, running_var, eps=1e-5)

    Eval mode: y = gamma * (x - running_mean) / sqrt(running_var + eps) + beta; eps: a
    finite number >= 0.

    x: (N, C) or (..., C), channels last; gamma, beta, running_mean, running_var: (C,).
    Returns y like x, in the arguments' dtype (float32 or float64).

    >>> import tinynet.reference as tn
    >>> tn.batchnorm_inference([[2.0]], [1.0], [0.0], [1.0], [1.0], eps=0.0)
    array([[1.]])
    """
    c = Call("batchnorm_inference")
    eps = c.nonneg("eps", eps)
    x, gamma, beta, rm, rv = c.floats(("x", x), ("gamma", gamma), ("beta", beta),
                                      ("running_mean", running_mean), ("running_var", running_var))
    _bn_shapes(c, x, [("gamma", gamma), ("beta", beta), ("running_mean", rm), ("running_var", rv)], 0,
               need_rows=False)

    return gamma * (x - rm) / np.sqrt(rv + eps) + beta


# -------------------------------------------------------------------------- layernorm


def _ln_shapes(c, x, vectors):
    """x (..., C) with at least one axis, normalised over the last; vectors (C,) or None."""
    if x.ndim < 1:
        raise c.shape_error("x", x, "(..., C), normalised over the last axis")
    C = x.shape[-1]
    for name, v in vectors:
        if v is not None:
            c.expect(name, v, (C,), "(C,)", f" with C = x.shape[-1] = {C} (x has shape {tuple(x.shape)})")


@_ieee
def layernorm_forward(
    x: ArrayLike, weight: Optional[ArrayLike], bias: Optional[ArrayLike], eps: float = 1e-5,
) -> Tuple[FloatArray, FloatArray, FloatArray]:
    """layernorm_forward(x, weight, bias, eps=1e-5)

    Normalise each row of x -- its C values along the last axis -- with that row's own
    statistics, as torch.nn.functional.layer_norm(x, (C,), weight, bias, eps):
    mean = sum(x) / C, var = sum((x - mean)**2) / C (the biased variance),
    y = (x - mean) / sqrt(var + eps) * weight + bias.  eps must be a finite number >= 0.
    The mean is taken as x[..., 0] + mean(x - x[..., 0]): the same number in exact
    arithmetic, and exact for a constant row, which then normalises to 0 (y = bias).

    x: (..., C) -- a transformer's (B, T, C), rows (N, C), one vector (C,); weight,
    bias: (C,) or None (a scale of 1, a shift of 0).  Returns (y like x, mean, rstd),
    mean and rstd = 1 / sqrt(var + eps) of shape x.shape[:-1] (what layernorm_backward
    needs), all in x's dtype.  A row of no values (C = 0) has mean and rstd nan.

    >>> import tinynet.reference as tn
    >>> y, mean, rstd = tn.layernorm_forward([[1.0, 3.0], [2.0, 2.0]], None, [0.0, 0.5])
    >>> y.round(4), mean
    (array([[-1. ,  1.5],
           [ 0. ,  0.5]]), array([2., 2.]))
    """
    c = Call("layernorm_forward")
    eps = c.nonneg("eps", eps)
    x, weight, bias = c.floats(("x", x), ("weight", weight), ("bias", bias), optional=("weight", "bias"))
    _ln_shapes(c, x, [("weight", weight), ("bias", bias)])
    C = x.shape[-1]

    if C == 0:  # rows of no values: their mean is 0 / 0
        nan = np.full(x.shape[:-1], np.nan, x.dtype)
        return x.copy(), nan, nan.copy()
    first = x[..., :1]  # each row's first value; statistics keep their axis: (..., 1)
    mean = first + (x - first).sum(axis=-1, keepdims=True) / C
    xshift = x - mean
    var = (xshift * xshift).sum(axis=-1, keepdims=True) / C
    rstd = 1 / np.sqrt(var + eps)
    y = xshift * rstd
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y, np.asarray(mean[..., 0]), np.asarray(rstd[..., 0])


@_ieee
def layernorm_backward(
    dy: ArrayLike, x: ArrayLike, weight: Optional[ArrayLike], mean: ArrayLike, rstd: ArrayLike,
) -> Tuple[FloatArray, Optional[FloatArray], FloatArray]:
    """layernorm_backward(dy, x, weight, mean, rstd)

    With xhat = (x - mean) * rstd and g = dy * weight (the gradient at xhat; dy when
    weight is None), in each row:
        dx = rstd * (g - mean_C(g) - xhat * mean_C(g * xhat))
    (the second term is the path through the row's mean, the third through its
    variance); dweight = sum(dy * xhat) and dbias = sum(dy) over every leading axis.

    dy, x: (..., C), the same shape; weight: (C,) or None; mean, rstd: x.shape[:-1], as
    layernorm_forward returned them.  Returns (dx like x, dweight (C,) or None when
    weight is None, dbias (C,)), float32 or float64 as the arguments.  dbias is always given: it is the gradient of a bias
    added after the normalisation (PyTorch's), whether or not the forward call had one
    -- without one, ignore it.

    >>> import tinynet.reference as tn
    >>> x = [[1.0, 3.0], [2.0, 2.0]]
    >>> y, mean, rstd = tn.layernorm_forward(x, [1.0, 1.0], None)
    >>> dx, dweight, dbias = tn.layernorm_backward([[1.0, 0.0], [0.0, 1.0]], x, [1.0, 1.0], mean, rstd)
    >>> dbias, dweight.round(4)
    (array([1., 1.]), array([-1.,  0.]))
    """
    c = Call("layernorm_backward")
    dy, x, weight, mean, rstd = c.floats(
        ("dy", dy), ("x", x), ("weight", weight), ("mean", mean), ("rstd", rstd), optional=("weight",))
    _ln_shapes(c, x, [("weight", weight)])
    c.same_shape("dy", dy, "x", x)
    for name, v in (("mean", mean), ("rstd", rstd)):
        c.expect(name, v, x.shape[:-1], str(x.shape[:-1]), " (x.shape[:-1])")
    C, batch = x.shape[-1], tuple(range(x.ndim - 1))  # every leading axis is a batch axis
    mean, rstd = mean[..., None], rstd[..., None]  # (..., 1): one per row

    xhat = (x - mean) * rstd
    g = dy * weight if weight is not None else dy
    g_mean = g.sum(axis=-1, keepdims=True) / max(C, 1)
    gx_mean = (g * xhat).sum(axis=-1, keepdims=True) / max(C, 1)
    dx = rstd * (g - g_mean - xhat * gx_mean)
    dweight = (dy * xhat).sum(axis=batch) if weight is not None else None
    return dx, dweight, dy.sum(axis=batch)
