"""tinynet.reference.optim: the in-place optimizers and clipping (csrc/tn_optim.c)."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Optional, Sequence

import numpy as np

from tinynet._checks import Call
from tinynet.reference._common import _ieee

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray
    from tinynet.reference._common import FloatArray


# -------------------------------------------------------------------------- optimizers


@_ieee
def sgd_step_(param: FloatArray, grad: ArrayLike, lr: float) -> None:
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
def adagrad_step_(param: FloatArray, grad: ArrayLike, mem: FloatArray, lr: float, eps: float = 1e-8) -> None:
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
def adam_step_(
    param: FloatArray, grad: ArrayLike, m: FloatArray, v: FloatArray, t: int, lr: float = 1e-3, beta1: float = 0.9,
    beta2: float = 0.999, eps: float = 1e-8, weight_decay: float = 0.0,
) -> None:
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
def clip_(grad: FloatArray, lo: float, hi: float) -> None:
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


# ---------------------------------------------- torch.optim's algorithms, a model at a time
#
# tinynet.optim's optimizers step every parameter of a model in one call of these.  Each
# parameter's arrays -- params[i], grads[i] (None: skipped), its states -- share one
# dtype, which may differ from parameter to parameter; steps[i] counts parameter i's
# steps, as torch's state["step"] (incremented, then used).


def _foreach_args(c, params, grads, states, steps, need_steps=True):
    """[(param, grad or None, [state...])] checked, and steps; nothing modified yet."""
    n = None
    lists = [("params", params), ("grads", grads)] + list(states)
    for name, seq in lists:
        if not isinstance(seq, (list, tuple)):
            raise TypeError(f"{c.fn}: {name} must be a list or tuple of arrays, not {type(seq).__name__}")
        if n is not None and len(seq) != n:
            raise ValueError(f"{c.fn}: {name} has {len(seq)} entries but params has {n}; they must match")
        n = len(seq)
    slots = []
    for i in range(n):
        t = Call(c.fn)  # each parameter brings its own dtype
        param = t.inplace(f"params[{i}]", params[i])
        st = [t.inplace(f"{name}[{i}]", seq[i]) for name, seq in states]
        grad = grads[i]
        if grad is not None:
            names = [f"params[{i}]"] + [f"{name}[{i}]" for name, _ in states]
            grad = t.optimizer(grad, names, [param, *st], grad_name=f"grads[{i}]")
        slots.append((param, grad, st))
    return slots, (c.steps(steps, n) if need_steps else None)


@_ieee
def sgd_foreach_(
    params: Sequence[FloatArray], grads: Sequence[Optional[ArrayLike]],
    momentum_buffers: Optional[Sequence[FloatArray]], steps: Optional[NDArray[np.int64]], lr: float,
    momentum: float = 0.0, dampening: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False,
) -> None:
    """sgd_foreach_(params, grads, momentum_buffers, steps, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False)

    In place, torch.optim.SGD's step for every parameter at once (tinynet.optim.SGD):
    g = grad + weight_decay * param; with momentum, buf = g on a parameter's first step
    (steps[i] == 0), then buf = momentum * buf + (1 - dampening) * g, and g = g +
    momentum * buf (nesterov) or buf; param -= lr * g.  Without momentum and weight
    decay, each parameter changes exactly as sgd_step_ would change it.

    params: a list of writeable, C-contiguous float32/float64 ndarrays (each its own
    dtype); grads: a list of array-likes shaped like them, None to skip one;
    momentum_buffers: a list like params, modified (None without momentum); steps: an
    int64 ndarray (len(params),), each parameter's step count, incremented for the
    stepped ones (None without momentum).  lr, momentum, dampening, weight_decay: finite
    numbers >= 0; nesterov needs momentum > 0 and dampening 0.  Returns None.

    >>> import numpy as np, tinynet.reference as tn
    >>> p, buf, steps = np.ones(2), np.zeros(2), np.zeros(1, dtype=np.int64)
    >>> for _ in range(2):
    ...     tn.sgd_foreach_([p], [[1.0, 2.0]], [buf], steps, lr=0.1, momentum=0.9)
    >>> p, buf, steps
    (array([0.71, 0.42]), array([1.9, 3.8]), array([2]))
    """
    c = Call("sgd_foreach_")
    lr, momentum = c.nonneg("lr", lr), c.nonneg("momentum", momentum)
    dampening, weight_decay = c.nonneg("dampening", dampening), c.nonneg("weight_decay", weight_decay)
    nesterov = c.truth("nesterov", nesterov)
    if nesterov and (momentum <= 0 or dampening != 0):
        raise ValueError("sgd_foreach_: nesterov momentum needs momentum > 0 and dampening = 0")
    if momentum != 0 and (momentum_buffers is None or steps is None):
        raise ValueError("sgd_foreach_: momentum != 0 needs momentum_buffers and steps")
    states = [("momentum_buffers", momentum_buffers)] if momentum != 0 else []
    slots, steps = _foreach_args(c, params, grads, states, steps, need_steps=momentum != 0)

    for i, (param, grad, st) in enumerate(slots):
        if grad is None:
            continue
        dt = param.dtype.type
        if weight_decay != 0:
            grad = grad + dt(weight_decay) * param
        if momentum != 0:
            buf = st[0]
            if steps[i] == 0:
                buf[...] = grad
            else:
                buf[...] = buf * dt(momentum) + dt(1 - dampening) * grad
            steps[i] += 1
            grad = grad + dt(momentum) * buf if nesterov else buf
        param -= dt(lr) * grad


@_ieee
def adam_foreach_(
    params: Sequence[FloatArray], grads: Sequence[Optional[ArrayLike]], ms: Sequence[FloatArray],
    vs: Sequence[FloatArray], steps: NDArray[np.int64], lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999,
    eps: float = 1e-8, weight_decay: float = 0.0, decoupled: bool = True,
) -> None:
    """adam_foreach_(params, grads, ms, vs, steps, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, decoupled=True)

    In place, Adam's step for every parameter at once (tinynet.optim.Adam, AdamW):
    steps[i] += 1, then with t = steps[i], decoupled=True (AdamW) is adam_step_(params[i],
    grads[i], ms[i], vs[i], t, ...) exactly; decoupled=False is torch.optim.Adam, whose
    weight decay is added to the gradient instead (g = grad + weight_decay * param) and
    never decays param itself.

    params, ms, vs: lists of writeable, C-contiguous float32/float64 ndarrays, the
    moments shaped like their parameter (modified); grads: array-likes, None to skip a
    parameter; steps: an int64 ndarray (len(params),), incremented for the stepped
    ones.  lr, eps, weight_decay: finite numbers >= 0; beta1, beta2 in [0, 1).
    Returns None.

    >>> import numpy as np, tinynet.reference as tn
    >>> p, m, v, steps = np.ones(1), np.zeros(1), np.zeros(1), np.zeros(1, dtype=np.int64)
    >>> tn.adam_foreach_([p], [[0.5]], [m], [v], steps, lr=0.1)
    >>> p.round(6), steps
    (array([0.9]), array([1]))
    """
    c = Call("adam_foreach_")
    lr = c.nonneg("lr", lr)
    beta1, beta2 = c.real("beta1", beta1), c.real("beta2", beta2)
    eps, weight_decay = c.nonneg("eps", eps), c.nonneg("weight_decay", weight_decay)
    for name, b in (("beta1", beta1), ("beta2", beta2)):
        if not 0 <= b < 1:
            raise ValueError(f"adam_foreach_: {name} must be in [0, 1), got {b}")
    decoupled = c.truth("decoupled", decoupled)
    slots, steps = _foreach_args(c, params, grads, [("ms", ms), ("vs", vs)], steps)

    for i, (param, grad, (m, v)) in enumerate(slots):
        if grad is None:
            continue
        steps[i] += 1
        t = int(steps[i])
        if decoupled:
            adam_step_(param, grad, m, v, t, lr, beta1, beta2, eps, weight_decay)
            continue
        dt = param.dtype.type
        if weight_decay != 0:
            grad = grad + dt(weight_decay) * param    # L2: the decay goes into the gradient
        m += (grad - m) * dt(1 - beta1)
        v *= dt(beta2)
        v += dt(1 - beta2) * grad * grad
        denom = np.sqrt(v) / dt(math.sqrt(1 - beta2**t)) + dt(eps)
        param += dt(-(lr / (1 - beta1**t))) * m / denom


@_ieee
def adagrad_foreach_(
    params: Sequence[FloatArray], grads: Sequence[Optional[ArrayLike]], sums: Sequence[FloatArray],
    steps: NDArray[np.int64], lr: float = 1e-2, eps: float = 1e-10, weight_decay: float = 0.0, lr_decay: float = 0.0,
) -> None:
    """adagrad_foreach_(params, grads, sums, steps, lr=1e-2, eps=1e-10, weight_decay=0.0, lr_decay=0.0)

    In place, torch.optim.Adagrad's step for every parameter at once
    (tinynet.optim.Adagrad): steps[i] += 1, t = steps[i], g = grad + weight_decay *
    param, sum += g**2, param -= lr / (1 + (t - 1) * lr_decay) * g / (sqrt(sum) + eps)
    -- eps outside the square root, as PyTorch (adagrad_step_ is min-char-rnn's, eps
    inside).

    params, sums: lists of writeable, C-contiguous float32/float64 ndarrays, the sums
    shaped like their parameter (modified); grads: array-likes shaped like them, None to
    skip a parameter; steps: an int64 ndarray
    (len(params),), incremented for the stepped ones.  lr, eps, weight_decay, lr_decay:
    finite numbers >= 0.  Returns None.

    >>> import numpy as np, tinynet.reference as tn
    >>> p, s, steps = np.ones(1), np.zeros(1), np.zeros(1, dtype=np.int64)
    >>> tn.adagrad_foreach_([p], [[2.0]], [s], steps, lr=0.1)
    >>> p.round(6), s
    (array([0.9]), array([4.]))
    """
    c = Call("adagrad_foreach_")
    lr, eps = c.nonneg("lr", lr), c.nonneg("eps", eps)
    weight_decay, lr_decay = c.nonneg("weight_decay", weight_decay), c.nonneg("lr_decay", lr_decay)
    slots, steps = _foreach_args(c, params, grads, [("sums", sums)], steps)

    for i, (param, grad, (total,)) in enumerate(slots):
        if grad is None:
            continue
        steps[i] += 1
        dt = param.dtype.type
        if weight_decay != 0:
            grad = grad + dt(weight_decay) * param
        total += grad * grad
        clr = dt(lr / (1 + (int(steps[i]) - 1) * lr_decay))
        param -= clr * (grad / (np.sqrt(total) + dt(eps)))
