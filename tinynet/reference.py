"""tinynet.reference: the NumPy engine.

The same functions, signatures and results as the C engine (``import tinynet``),
written to be read: each function first checks its arguments (the same rules and
exceptions as the C engine, see tinynet/_checks.py), then does the math in a few lines
of plain NumPy.  It is the oracle every C function is tested against, and it is itself
tested against finite differences.

Conventions: weights are (out_features, in_features) as in PyTorch, so a layer is
``y = x @ W.T + b``; batches are rows; sequences are time-major (T, B, ...).
Floating-point edge cases follow IEEE (inf, nan) silently, as the C engine does.
"""
import functools
import math
import os

import numpy as np

from tinynet import FUNCTIONS as _FUNCTIONS  # the one list of the engines' functions
from tinynet._checks import Call

__all__ = list(_FUNCTIONS)

_MAXDIMS = 64 if int(np.__version__.split(".")[0]) >= 2 else 32  # NumPy's limit on ndim


def _ieee(f):
    """Let inf and nan arise silently (overflow in exp, 0/0 ...), as in C; and return a
    0-d array where NumPy's ufuncs give a scalar (tanh_forward of a 0-d array)."""

    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        with np.errstate(all="ignore"):
            out = f(*args, **kwargs)
        return np.asarray(out) if isinstance(out, np.generic) else out

    return wrapper


# ------------------------------------------------------------------------------ linear


@_ieee
def linear_forward(x, W, b=None):
    """linear_forward(x, W, b=None)

    Affine layer: y = x @ W.T + b.

    x: (N, D) or (D,); W: (H, D) (PyTorch nn.Linear layout); b: (H,) or None.
    Returns y: (N, H) or (H,), in the dtype of the float arguments (float32/float64).

    >>> import numpy as np, tinynet.reference as tn
    >>> tn.linear_forward(np.ones((2, 3)), np.ones((4, 3)), np.zeros(4)).shape
    (2, 4)
    """
    c = Call("linear_forward")
    x, W, b = c.floats(("x", x), ("W", W), ("b", b), optional=("b",))
    _linear_shapes(c, x, W)
    if b is not None:
        c.expect("b", b, (W.shape[0],), "(H,)", f" with H = W.shape[0] = {W.shape[0]}")

    y = x @ W.T
    if b is not None:
        y = y + b
    return y


def _linear_shapes(c, x, W):
    if W.ndim != 2:
        raise c.shape_error("W", W, "(H, D)")
    D = W.shape[1]
    c.expect("x", x, (None, D) if x.ndim == 2 else (D,), "(N, D) or (D,)", f" with D = W.shape[1] = {D}")


@_ieee
def linear_backward(dy, x, W):
    """linear_backward(dy, x, W)

    Gradients of y = x @ W.T + b given dy = dL/dy.

    dy: (N, H) or (H,); x: (N, D) or (D,) (the forward input); W: (H, D).
    Returns (dx, dW, db): dx = dy @ W like x, dW = dy.T @ x (H, D), db = dy summed
    over the batch (H,); float32 or float64, the dtype of the arguments.

    >>> import numpy as np, tinynet.reference as tn
    >>> dx, dW, db = tn.linear_backward(np.ones((2, 4)), np.ones((2, 3)), np.ones((4, 3)))
    >>> dx.shape, dW.shape, db.shape
    ((2, 3), (4, 3), (4,))
    """
    c = Call("linear_backward")
    dy, x, W = c.floats(("dy", dy), ("x", x), ("W", W))
    _linear_shapes(c, x, W)
    H = W.shape[0]
    if x.ndim == 2:
        c.expect("dy", dy, (x.shape[0], H), "(N, H)", f" with N = x.shape[0] = {x.shape[0]}, H = W.shape[0] = {H}")
    else:
        c.expect("dy", dy, (H,), "(H,)", f" for unbatched x of shape {tuple(x.shape)}, with H = W.shape[0] = {H}")

    if x.ndim == 1:  # one example: the outer product
        return dy @ W, np.outer(dy, x), dy.copy()
    return dy @ W, dy.T @ x, dy.sum(axis=0)


# ------------------------------------------------------------------------- activations


def _elementwise(fn, *named):
    c = Call(fn)
    arrays = c.floats(*named)
    if len(named) == 2:
        c.same_shape(named[0][0], arrays[0], named[1][0], arrays[1])
    return arrays


@_ieee
def tanh_forward(x):
    """tanh_forward(x)

    Elementwise y = tanh(x); x of any shape.  Returns y, same shape and dtype.

    >>> import tinynet.reference as tn
    >>> tn.tanh_forward([0.0, 1.0]).round(4)
    array([0.    , 0.7616])
    """
    x = _elementwise("tanh_forward", ("x", x))
    return np.tanh(x)


@_ieee
def tanh_backward(dy, y):
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
def sigmoid_forward(x):
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
def sigmoid_backward(dy, y):
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
def relu_forward(x):
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
def relu_backward(dy, y):
    """relu_backward(dy, y)

    Gradient of ReLU from its output y: dx = dy where y > 0, else 0; dy, y the same
    shape.  Returns dx, same shape and dtype.

    >>> import tinynet.reference as tn
    >>> tn.relu_backward([5.0, 5.0], [0.0, 2.0])
    array([0., 5.])
    """
    dy, y = _elementwise("relu_backward", ("dy", dy), ("y", y))
    return np.where(y > 0, dy, dy.dtype.type(0))


# -------------------------------------------------------------- softmax, cross-entropy


@_ieee
def softmax(logits):
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


def _ce_args(c, lname, logits, targets):
    logits = c.floats((lname, logits))
    targets = c.ints("targets", targets)
    c.expect(lname, logits, (None, None), "(N, V)")
    N, V = logits.shape
    c.expect("targets", targets, (N,), "(N,)", f" with N = {lname}.shape[0] = {N}")
    c.in_range("targets", targets, V, f"V = {lname}.shape[1]")
    return logits, targets


@_ieee
def cross_entropy_forward(logits, targets, reduction="mean"):
    """cross_entropy_forward(logits, targets, reduction="mean")

    loss_n = logsumexp(logits_n) - logits_n[target_n], averaged ("mean") or added
    ("sum") over the batch.  Working in log space keeps the loss exact even when a
    target's probability underflows to 0.

    logits: (N, V) floats; targets: (N,) integers in [0, V).  Returns (loss, probs):
    loss a Python float (nan for "mean" over N = 0), probs (N, V) = softmax(logits).

    >>> import tinynet.reference as tn
    >>> loss, probs = tn.cross_entropy_forward([[0.0, 0.0]], [1])
    >>> round(loss, 6)
    0.693147
    """
    c = Call("cross_entropy_forward")
    reduction = c.reduction(reduction)
    logits, targets = _ce_args(c, "logits", logits, targets)
    N, V = logits.shape
    if V == 0:  # then N == 0 too (no target fits)
        return (math.nan if reduction == "mean" else 0.0), logits.copy()

    m = logits.max(axis=1, keepdims=True)
    e = np.exp(logits - m)
    s = e.sum(axis=1, keepdims=True)
    log_sum_exp = (m + np.log(s))[:, 0]
    losses = log_sum_exp - logits[np.arange(N), targets]
    loss = float(np.sum(losses, dtype=np.float64))
    if reduction == "mean":
        loss = loss / N if N else math.nan
    return loss, e / s


@_ieee
def cross_entropy_backward(probs, targets, reduction="mean"):
    """cross_entropy_backward(probs, targets, reduction="mean")

    dL/dlogits = probs - onehot(targets), divided by N for "mean".

    probs: (N, V) from cross_entropy_forward; targets: (N,) integers in [0, V).
    Returns dlogits (N, V), the dtype of probs.

    >>> import tinynet.reference as tn
    >>> tn.cross_entropy_backward([[0.5, 0.5]], [1])
    array([[ 0.5, -0.5]])
    """
    c = Call("cross_entropy_backward")
    reduction = c.reduction(reduction)
    probs, targets = _ce_args(c, "probs", probs, targets)
    N = probs.shape[0]

    dlogits = probs.copy()
    dlogits[np.arange(N), targets] -= 1
    if reduction == "mean":
        dlogits /= N
    return dlogits


# --------------------------------------------------------------------------- embedding


@_ieee
def embedding_forward(table, idx):
    """embedding_forward(table, idx)

    Row lookup: out = table[idx].

    table: (V, E) floats; idx: integers of any shape S, each in [0, V) (negative or too
    large is IndexError).  Returns out: S + (E,), the dtype of table.

    >>> import numpy as np, tinynet.reference as tn
    >>> tn.embedding_forward(np.eye(3), [[2, 0]]).shape
    (1, 2, 3)
    """
    c = Call("embedding_forward")
    table = c.floats(("table", table))
    idx = c.ints("idx", idx)
    c.expect("table", table, (None, None), "(V, E)")
    c.in_range("idx", idx, table.shape[0], "V = table.shape[0]")
    if idx.ndim + 1 > _MAXDIMS:
        raise c.shape_error("idx", idx, f"at most {_MAXDIMS - 1} dimensions (out = table[idx] adds one)")

    return table[idx]


@_ieee
def embedding_backward(dout, idx, num_embeddings):
    """embedding_backward(dout, idx, num_embeddings)

    dtable: every row of dout added to the table row it was read from.  np.add.at
    accumulates repeated indices (plain fancy-index += would not).

    dout: S + (E,) floats; idx: integers of shape S in [0, num_embeddings).
    Returns dtable: (num_embeddings, E), the dtype of dout.

    >>> import tinynet.reference as tn
    >>> tn.embedding_backward([[1.0], [2.0]], [0, 0], 2)
    array([[3.],
           [0.]])
    """
    c = Call("embedding_backward")
    dout = c.floats(("dout", dout))
    idx = c.ints("idx", idx)
    V = c.integer("num_embeddings", num_embeddings)
    if V < 0:
        raise ValueError(f"embedding_backward: num_embeddings must be >= 0, got {V}")
    if dout.ndim != idx.ndim + 1 or dout.shape[:-1] != idx.shape:
        raise c.shape_error("dout", dout, f"idx.shape + (E,) with idx.shape = {tuple(idx.shape)}")
    c.in_range("idx", idx, V, "num_embeddings")

    dtable = np.zeros((V, dout.shape[-1]), dtype=dout.dtype)
    np.add.at(dtable, idx.reshape(-1), dout.reshape(idx.size, dout.shape[-1]))  # flat: any ndim
    return dtable


# --------------------------------------------------------------------------- batchnorm


def _bn_shapes(c, x, vectors, correction, need_rows=True):
    c.expect("x", x, (None, None), "(N, C)")
    C = x.shape[1]
    for name, v in vectors:
        c.expect(name, v, (C,), "(C,)", f" with C = x.shape[1] = {C}")
    if correction < 0:
        raise ValueError(f"{c.fn}: correction must be >= 0, got {correction}")
    if need_rows and x.shape[0] <= correction:
        raise ValueError(
            f"{c.fn}: the batch variance with correction={correction} needs more than {correction} row(s), "
            f"but x has shape {tuple(x.shape)}"
        )


@_ieee
def batchnorm_forward(x, gamma, beta, eps=1e-5, correction=0):
    """batchnorm_forward(x, gamma, beta, eps=1e-5, correction=0)

    Normalise each channel (column) of x with the batch statistics:
    mean = x.mean(0), var = sum((x - mean)**2) / (N - correction),
    y = gamma * (x - mean) / sqrt(var + eps) + beta.  correction=0 is PyTorch's
    training mode, correction=1 Bessel's n-1 (makemore); N must exceed correction;
    eps must be a finite number >= 0.

    x: (N, C); gamma, beta: (C,).  Returns (y (N, C), mean (C,), invstd (C,)) with
    invstd = 1 / sqrt(var + eps), all in x's dtype.

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
    N = x.shape[0]

    mean = x.sum(axis=0) / N
    diff = x - mean
    var = (diff * diff).sum(axis=0) / (N - correction)
    invstd = 1 / np.sqrt(var + eps)
    y = gamma * (diff * invstd) + beta
    return y, mean, invstd


@_ieee
def batchnorm_backward(dy, x, gamma, mean, invstd, correction=0):
    """batchnorm_backward(dy, x, gamma, mean, invstd, correction=0)

    With xhat = (x - mean) * invstd and g = dy * gamma (the gradient at xhat):
        dx = invstd * (g - mean_n(g) - xhat * sum_n(g * xhat) / (N - correction))
    (the second term is the path through the mean, the third through the variance);
    dgamma = sum_n(dy * xhat), dbeta = sum_n(dy).

    dy, x: (N, C); gamma, mean, invstd: (C,) (mean and invstd from batchnorm_forward
    with the same correction).  Returns (dx (N, C), dgamma (C,), dbeta (C,)), float32
    or float64 as the arguments.

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
    N = x.shape[0]

    xhat = (x - mean) * invstd
    dbeta = dy.sum(axis=0)
    dgamma = (dy * xhat).sum(axis=0)
    g = dy * gamma
    g_mean = gamma * dbeta / N                      # mean over the batch of g
    g_xhat = gamma * dgamma / (N - correction)      # sum of g * xhat, over N - correction
    dx = invstd * (g - g_mean - xhat * g_xhat)
    return dx, dgamma, dbeta


@_ieee
def batchnorm_inference(x, gamma, beta, running_mean, running_var, eps=1e-5):
    """batchnorm_inference(x, gamma, beta, running_mean, running_var, eps=1e-5)

    Eval mode: y = gamma * (x - running_mean) / sqrt(running_var + eps) + beta; eps: a
    finite number >= 0.

    x: (N, C); gamma, beta, running_mean, running_var: (C,).  Returns y (N, C), in the
    arguments' dtype (float32 or float64).

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
def linear_batchnorm_tanh_forward(x, W, b, gamma, beta, eps=1e-5, correction=0, out=None):
    """linear_batchnorm_tanh_forward(x, W, b, gamma, beta, eps=1e-5, correction=0, out=None)

    A hidden block in one call: hpre = x @ W.T + b, batch normalisation with the batch
    statistics (as batchnorm_forward), then tanh:
    h = tanh(gamma * (hpre - mean) * invstd + beta).

    x: (N, D); W: (H, D); b: (H,) or None (batch norm cancels a bias: makemore's
    Linear(bias=False)); gamma, beta: (H,); N must exceed correction.  Returns
    (h, hpre, mean, invstd): h, hpre (N, H), mean, invstd (H,) -- what
    linear_batchnorm_tanh_backward needs -- in the arguments' dtype; or written into
    out, a tuple of four such arrays (writeable, C-contiguous, sharing no memory with
    the arguments or each other), which is then what is returned.

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

    hpre = linear_forward(x, W, b)
    y, mean, invstd = batchnorm_forward(hpre, gamma, beta, eps, correction)
    return _into(out, (tanh_forward(y), hpre, mean, invstd))


@_ieee
def linear_batchnorm_tanh_backward(dh, h, x, W, gamma, hpre, mean, invstd, correction=0, out=None):
    """linear_batchnorm_tanh_backward(dh, h, x, W, gamma, hpre, mean, invstd, correction=0, out=None)

    Gradients of linear_batchnorm_tanh_forward (same correction) from dh = dL/dh: back
    through tanh (from h), batch norm (from hpre, mean, invstd) and the linear layer.

    dh, h, hpre: (N, H); x: (N, D); W: (H, D); gamma, mean, invstd: (H,) -- h, hpre, mean
    and invstd as the forward call returned them.  Returns (dx, dW, db, dgamma, dbeta):
    dx (N, D), dW (H, D), db, dgamma, dbeta (H,) (db, the bias's gradient, is about 0:
    batch norm cancels a bias), float32 or float64 as the arguments; or written into
    out, a tuple of five such arrays, as in linear_batchnorm_tanh_forward.

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
def linear_cross_entropy(x, W, b, targets, reduction="mean", out=None):
    """linear_cross_entropy(x, W, b, targets, reduction="mean", out=None)

    The output layer and its loss, forward and backward in one call: logits =
    x @ W.T + b, their softmax cross-entropy against targets (as
    cross_entropy_forward), and its gradient back through the layer.

    x: (N, D); W: (V, D); b: (V,) or None; targets: (N,) integers in [0, V);
    reduction: "mean" or "sum".  Returns (loss, dx, dW, db): loss a Python float (nan
    for "mean" over N = 0), dx (N, D), dW (V, D), db (V,); or the arrays written into
    out, a tuple of three, as in linear_batchnorm_tanh_forward.

    >>> import numpy as np, tinynet.reference as tn
    >>> loss, dx, dW, db = tn.linear_cross_entropy(np.ones((1, 3)), np.zeros((2, 3)), None, [1])
    >>> round(loss, 6), db
    (0.693147, array([ 0.5, -0.5]))
    """
    c = Call("linear_cross_entropy")
    reduction = c.reduction(reduction)
    x, W, b = c.floats(("x", x), ("W", W), ("b", b), optional=("b",))
    targets = c.ints("targets", targets)
    _block_shapes(c, x, W, "(V, D)", [("b", b)], "V")
    N = x.shape[0]
    c.expect("targets", targets, (N,), "(N,)", f" with N = x.shape[0] = {N}")
    c.in_range("targets", targets, W.shape[0], "V = W.shape[0]")
    V, D = W.shape
    out = _block_out(c, out, ("dx", "dW", "db"), ((N, D), (V, D), (V,)), [("x", x), ("W", W), ("b", b)])

    logits = linear_forward(x, W, b)
    loss, probs = cross_entropy_forward(logits, targets, reduction)
    grads = linear_backward(cross_entropy_backward(probs, targets, reduction), x, W)
    return (loss, *_into(out, grads))


# --------------------------------------------------------------------------------- RNN
#
# Internally every sequence is batched, (T, B, ...); an unbatched call is a batch of
# one, squeezed again on the way out.


class _Rnn:
    """The sizes of one RNN call, checked the way the C engine checks them."""

    # where the messages say H and D come from
    h_from, d_from = "W_hh.shape[0]", "W_xh.shape[1]"

    def __init__(self, c, W_xh, W_hh, b_h=None):
        self.c = c
        c.expect("W_hh", W_hh, (None, None), "(H, H)")
        if W_hh.shape[0] != W_hh.shape[1]:
            raise c.shape_error("W_hh", W_hh, "(H, H)")
        self.H = H = W_hh.shape[0]
        where = f" with H = W_hh.shape[0] = {H}"
        c.expect("W_xh", W_xh, (H, None), "(H, D)", where)
        self.D = W_xh.shape[1]
        if b_h is not None:
            c.expect("b_h", b_h, (H,), "(H,)", where)

    def outputs(self, W_hy, b_y):
        c = self.c
        c.expect("W_hy", W_hy, (None, self.H), "(V, H)", f" with H = W_hh.shape[0] = {self.H}")
        self.V = W_hy.shape[0]
        c.expect("b_y", b_y, (self.V,), "(V,)", f" with V = W_hy.shape[0] = {self.V}")

    def _input(self, name, a, bdim=1):
        """The input argument that sets T and B (named in messages)."""
        self.in_name, self.in_shape, self.bdim = name, tuple(a.shape), bdim

    def tokens(self, name, tokens):
        """Token ids (T, B) or (T,) in [0, D); returns them batched."""
        self._input(name, tokens)
        if tokens.ndim not in (1, 2):
            raise self.c.shape_error(name, tokens, "(T, B) or (T,) token ids")
        self.batched = tokens.ndim == 2
        self.T = tokens.shape[0]
        self.B = tokens.shape[1] if self.batched else 1
        self.c.in_range(name, tokens, self.D, f"D = {self.d_from}")
        return tokens.reshape(self.T, self.B)

    def floats(self, name, x):
        """Float inputs (T, B, D) or (T, D); returns them batched."""
        self._input(name, x)
        if x.ndim not in (2, 3) or x.shape[-1] != self.D:
            raise self.c.shape_error(name, x, "(T, B, D) or (T, D)", f" with D = {self.d_from} = {self.D}")
        self.batched = x.ndim == 3
        self.T = x.shape[0]
        self.B = x.shape[1] if self.batched else 1
        return x.reshape(self.T, self.B, self.D)

    def state(self, name, h):
        """An (H,) / (B, H) state (None: zeros); returns it batched."""
        if h is None:
            return np.zeros((self.B, self.H), dtype=self.c.dtype)
        i = self.in_name
        if self.batched:
            self.c.expect(name, h, (self.B, self.H), "(B, H)",
                          f" with B = {i}.shape[{self.bdim}] = {self.B}, H = {self.h_from} = {self.H}")
        else:
            self.c.expect(name, h, (self.H,), "(H,)",
                          f" for unbatched {i} of shape {self.in_shape}, with H = {self.h_from} = {self.H}")
        return h.reshape(self.B, self.H)

    def sequence(self, name, hs, gates=1):
        """A (T, B, H) / (T, H) sequence of states (gates=G: of G H gate values); returns
        it batched."""
        i, w = self.in_name, gates * self.H
        G = f"{gates}H" if gates > 1 else "H"
        if self.batched:
            self.c.expect(name, hs, (self.T, self.B, w), f"(T, B, {G})",
                          f" with T = {i}.shape[0] = {self.T}, B = {i}.shape[1] = {self.B}, "
                          f"H = {self.h_from} = {self.H}")
        else:
            self.c.expect(name, hs, (self.T, w), f"(T, {G})",
                          f" for unbatched {i} of shape {self.in_shape}, with T = {i}.shape[0] = {self.T}, "
                          f"H = {self.h_from} = {self.H}")
        return hs.reshape(self.T, self.B, w)

    def unbatch(self, a, axis):
        """Undo the batch of one for unbatched calls."""
        return a if self.batched else np.squeeze(a, axis=axis)


def _rnn_input(c, x):
    """x is token ids when its dtype is integer, float inputs otherwise."""
    raw = c.raw("x", x)
    return raw, raw.dtype.kind in "iu"


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
def rnn_forward(x, h0, W_xh, W_hh, b_h):
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
def rnn_backward(dhs, x, h0, hs, W_xh, W_hh, bptt_steps=None):
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
def rnn_lm_loss(inputs, targets, h0, W_xh, W_hh, b_h, W_hy, b_y, bptt_steps=None, reduction="sum"):
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
def rnn_sample(h0, token, n, W_xh, W_hh, b_h, W_hy, b_y, temperature=1.0, greedy=False, seed=None):
    """rnn_sample(h0, token, n, W_xh, W_hh, b_h, W_hy, b_y, temperature=1.0, greedy=False, seed=None)

    Generate n tokens, feeding each one back as the next input.  greedy=True takes the
    most likely token; otherwise draws from softmax(logits / temperature) with the
    SplitMix64 generator seeded by `seed` (None: from the OS), exactly as the C engine.

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


# ------------------------------------------------------------------ LSTM and GRU
#
# PyTorch's layouts, so weights move across unchanged: W_ih (G H, D) and W_hh (G H, H)
# stack the G gates' matrices (LSTM: i, f, g, o; GRU: r, z, n), b_ih and b_hh (G H,).
# As for the RNN, sequences are time-major and handled batched inside.


class _Gated(_Rnn):
    """The sizes of one LSTM (G = 4) or GRU (G = 3) call, checked as the C engine does."""

    h_from, d_from = "W_hh.shape[1]", "W_ih.shape[1]"

    def __init__(self, c, G, W_ih, W_hh, b_ih=None, b_hh=None):
        self.c, self.G = c, G
        c.expect("W_hh", W_hh, (None, None), f"({G}H, H)")
        self.H = H = W_hh.shape[1]
        where = f" with H = W_hh.shape[1] = {H}"
        if W_hh.shape[0] != G * H:
            raise c.shape_error("W_hh", W_hh, f"({G}H, H)", where)
        c.expect("W_ih", W_ih, (G * H, None), f"({G}H, D)", where)
        self.D = W_ih.shape[1]
        for name, b in (("b_ih", b_ih), ("b_hh", b_hh)):
            if b is not None:
                c.expect(name, b, (G * H,), f"({G}H,)", where)

    def inputs(self, name, x, raw, tokens, xf):
        """The input sequence, batched: ids (T, B) or floats (T, B, D)."""
        return self.tokens(name, self.c.ints(name, x, raw)) if tokens else self.floats(name, xf)


def _sigmoid(a):
    return 1 / (1 + np.exp(-a))


def _project_inputs(x, W_ih, b_ih, tokens):
    """W_ih @ x_t (+ b_ih) for every step at once: (T, B, G H)."""
    xw = W_ih.T[x] if tokens else x @ W_ih.T  # a row of W_ih.T per token id: W_ih @ onehot(id)
    return xw if b_ih is None else xw + b_ih


def _weight_grads(da_ih, da_hh, x, h_prev, W_ih, tokens):
    """dW_ih, dW_hh, db_ih, db_hh from the gradients of the input-side (da_ih) and the
    hidden-side (da_hh) pre-activations of every step, (T, B, G H)."""
    GH, H = da_hh.shape[-1], h_prev.shape[-1]
    if da_ih.size == 0:  # no steps (T may be huge when B or H is 0)
        return np.zeros_like(W_ih), np.zeros((GH, H), da_ih.dtype), np.zeros(GH, da_ih.dtype), np.zeros(GH, da_ih.dtype)
    dW_ih = np.zeros_like(W_ih)
    if tokens:
        np.add.at(dW_ih.T, x.reshape(-1), da_ih.reshape(x.size, da_ih.shape[-1]))  # repeated ids accumulate
    else:
        dW_ih = np.einsum("tbg,tbd->gd", da_ih, x)
    dW_hh = np.einsum("tbg,tbh->gh", da_hh, h_prev)
    return dW_ih, dW_hh, da_ih.sum(axis=(0, 1)), da_hh.sum(axis=(0, 1))


def _input_grad(da_ih, W_ih, x):
    """dx (T, B, D) = da_ih @ W_ih, the gradient of float inputs."""
    return da_ih @ W_ih if da_ih.size else np.zeros_like(x)


@_ieee
def lstm_forward(x, h0, c0, W_ih, W_hh, b_ih=None, b_hh=None):
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
def lstm_backward(dhs, x, h0, c0, hs, cs, gates, W_ih, W_hh, dc_n=None):
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


@_ieee
def gru_forward(x, h0, W_ih, W_hh, b_ih=None, b_hh=None):
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
def gru_backward(dhs, x, h0, hs, gates, gh_n, W_ih, W_hh):
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


# -------------------------------------------------------------------------- optimizers


@_ieee
def sgd_step_(param, grad, lr):
    """sgd_step_(param, grad, lr)

    In place: param -= lr * grad, lr a finite number >= 0.  Returns None.

    param: a writeable, C-contiguous float32/float64 ndarray (it is modified); grad: the
    same shape (any array-like).

    >>> import numpy as np, tinynet.reference as tn
    >>> p = np.ones(2); tn.sgd_step_(p, [1.0, 2.0], 0.5); p
    array([0.5, 0. ])
    """
    c = Call("sgd_step_")
    param = c.inplace("param", param)
    grad = c.optimizer(grad, ["param"], [param])
    lr = c.nonneg("lr", lr)

    param -= lr * grad


@_ieee
def adagrad_step_(param, grad, mem, lr, eps=1e-8):
    """adagrad_step_(param, grad, mem, lr, eps=1e-8)

    In place (min-char-rnn): mem += grad**2; param -= lr * grad / sqrt(mem + eps).
    eps sits inside the square root, as in min-char-rnn (PyTorch's Adagrad adds it
    outside).  param and mem: writeable, C-contiguous ndarrays of one shape and dtype
    (both are modified); grad: that shape.  lr and eps: finite numbers >= 0.  Returns
    None.

    >>> import numpy as np, tinynet.reference as tn
    >>> p, mem = np.ones(1), np.zeros(1); tn.adagrad_step_(p, [2.0], mem, 0.1); mem
    array([4.])
    """
    c = Call("adagrad_step_")
    param = c.inplace("param", param)
    mem = c.inplace("mem", mem)
    grad = c.optimizer(grad, ["param", "mem"], [param, mem])
    lr = c.nonneg("lr", lr)
    eps = c.nonneg("eps", eps)

    mem += grad * grad
    param -= lr * grad / np.sqrt(mem + eps)


@_ieee
def adam_step_(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    """adam_step_(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0)

    In place, AdamW as torch.optim.AdamW computes it (step t counts from 1):
    param *= 1 - lr * weight_decay; m = lerp(m, grad, 1 - beta1);
    v = beta2 * v + (1 - beta2) * grad**2;
    param -= lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps).
    param, m, v: writeable C-contiguous ndarrays of one shape and dtype (all modified);
    grad: that shape.  lr, eps, weight_decay: finite numbers >= 0; beta1, beta2 in
    [0, 1).  Returns None.

    >>> import numpy as np, tinynet.reference as tn
    >>> p, m, v = np.ones(1), np.zeros(1), np.zeros(1)
    >>> tn.adam_step_(p, [1.0], m, v, 1, lr=0.1); p.round(6)
    array([0.9])
    """
    c = Call("adam_step_")
    param = c.inplace("param", param)
    m = c.inplace("m", m)
    v = c.inplace("v", v)
    grad = c.optimizer(grad, ["param", "m", "v"], [param, m, v])
    t = c.integer("t", t)
    lr = c.nonneg("lr", lr)
    beta1, beta2 = c.real("beta1", beta1), c.real("beta2", beta2)
    eps, weight_decay = c.nonneg("eps", eps), c.nonneg("weight_decay", weight_decay)
    if t < 1:
        raise ValueError(f"adam_step_: t counts steps from 1, got {t}")
    for name, b in (("beta1", beta1), ("beta2", beta2)):
        if not 0 <= b < 1:
            raise ValueError(f"adam_step_: {name} must be in [0, 1), got {b}")

    bias_correction1 = 1 - beta1**t
    bias_correction2 = 1 - beta2**t
    if weight_decay != 0:
        param *= 1 - lr * weight_decay              # decoupled weight decay (the W in AdamW)
    m += (grad - m) * (1 - beta1)                   # m = lerp(m, grad, 1 - beta1)
    v *= beta2
    v += (1 - beta2) * grad * grad
    denom = np.sqrt(v) / math.sqrt(bias_correction2) + eps
    param += -(lr / bias_correction1) * m / denom


@_ieee
def clip_(grad, lo, hi):
    """clip_(grad, lo, hi)

    In place: grad = min(max(grad, lo), hi); nan stays nan; min-char-rnn clips to
    [-5, 5].  grad: a writeable, C-contiguous float32/float64 ndarray of any shape;
    lo <= hi.  Returns None.

    >>> import numpy as np, tinynet.reference as tn
    >>> g = np.array([-9.0, 0.5, 9.0]); tn.clip_(g, -5, 5); g
    array([-5. ,  0.5,  5. ])
    """
    c = Call("clip_")
    grad = c.inplace("grad", grad)
    lo = c.real("lo", lo)
    hi = c.real("hi", hi)
    if not lo <= hi:
        raise ValueError(f"clip_: need lo <= hi, got lo={lo!r}, hi={hi!r}")

    np.clip(grad, lo, hi, out=grad)
