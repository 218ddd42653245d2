"""tinynet.reference.optim: the in-place optimizers and clipping (csrc/tn_optim.c)."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from tinynet._checks import Call
from tinynet.reference._common import _ieee

if TYPE_CHECKING:
    from numpy.typing import ArrayLike
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
