"""Central-difference gradient checking (seed 002, chapter 5, for any function)."""
import numpy as np

__all__ = ["gradcheck"]


def _relative_error(num, ana):
    """max|num - ana| / max(max|num|, max|ana|, 1e-300); 0 when both are all zero."""
    if num.size == 0:
        return 0.0
    scale = max(float(np.max(np.abs(num))), float(np.max(np.abs(ana))))
    diff = float(np.max(np.abs(num - ana)))
    if scale == 0.0 and diff == 0.0:
        return 0.0
    return diff / max(scale, 1e-300)


def gradcheck(f, inputs, eps=1e-6):
    """gradcheck(f, inputs, eps=1e-6)

    Compare the analytic gradients of a scalar function with central differences.

    ``f(*inputs)`` must return ``(loss, grads)``: the loss as a number and ``grads`` a
    sequence of analytic gradients dloss/dinput, one per input, each shaped like its
    input.  If ``inputs`` is a dict, ``f(**inputs)`` is called and must return
    ``(loss, grads_dict)`` with the same keys, and the result is a dict.

    Every input is copied to float64 (the caller's arrays are never modified).  The
    analytic gradients are taken from one call at the unperturbed inputs; then for every
    element of every input, the numerical derivative is the central difference
    ``(f(x + eps) - f(x - eps)) / (2 * eps)`` (its truncation error is O(eps**2), its
    rounding error about 1e-16 * |loss| / eps; eps=1e-6 balances them in float64).
    Inputs are perturbed in place between calls, so ``f`` must not modify its arguments
    or keep references to them between calls.

    Returns the relative error of each input (a list, or a dict for dict inputs),
    measured normwise over that input's whole gradient:

        error = max|num - ana| / max(max|num|, max|ana|, 1e-300)    (0 if both are all 0)

    so an element whose gradient is near zero is judged against the size of the largest
    gradient of that input, not against its own tiny value.  An input whose whole
    gradient is (analytically) zero but numerically noisy, such as a bias right before a
    batch normalisation, gets an error of order 1: look at its absolute values instead.
    In float64, correct gradients give errors around 1e-9 and below; seed 002 uses
    eps 1e-5 and an absolute tolerance of 1e-4.

    >>> import numpy as np
    >>> from tinynet import gradcheck
    >>> f = lambda x: (float(np.sum(x ** 3)), [3 * x ** 2])
    >>> gradcheck(f, [np.array([1.0, -2.0])])[0] < 1e-8
    True
    >>> wrong = lambda x: (float(np.sum(x ** 3)), [2 * x ** 2])
    >>> round(gradcheck(wrong, [np.array([1.0, -2.0])])[0], 6)
    0.333333
    """
    eps = float(eps)
    if not eps > 0:
        raise ValueError(f"gradcheck: eps must be > 0, got {eps!r}")
    keyed = isinstance(inputs, dict)
    keys = list(inputs) if keyed else list(range(len(inputs)))
    xs = [np.array(inputs[k], dtype=np.float64, copy=True, order="C") for k in keys]

    def call(arrays):
        out = f(**dict(zip(keys, arrays))) if keyed else f(*arrays)
        try:
            loss, grads = out
        except (TypeError, ValueError):
            raise TypeError("gradcheck: f must return (loss, grads)") from None
        return float(loss), grads

    analytic = _analytic(call(xs)[1], keys, xs, keyed)
    errors = [_relative_error(_numerical(lambda: call(xs)[0], x, eps), ana) for x, ana in zip(xs, analytic)]
    return dict(zip(keys, errors)) if keyed else errors


def _analytic(grads, keys, xs, keyed):
    """f's gradients at the unperturbed inputs, as float64 copies in the inputs' order."""
    if keyed:
        if not isinstance(grads, dict) or sorted(map(str, grads)) != sorted(map(str, keys)):
            got = sorted(grads) if isinstance(grads, dict) else type(grads).__name__
            raise ValueError(f"gradcheck: f must return a dict of gradients with keys {keys}, got {got}")
        grads = [grads[k] for k in keys]
    else:
        grads = list(grads)
        if len(grads) != len(xs):
            raise ValueError(f"gradcheck: f returned {len(grads)} gradients for {len(xs)} inputs")
    analytic = []
    for k, x, g in zip(keys, xs, grads):
        if g is None:
            raise ValueError(f"gradcheck: f returned no gradient (None) for input {k!r}")
        g = np.array(g, dtype=np.float64, copy=True)
        if g.shape != x.shape:
            raise ValueError(f"gradcheck: the gradient for input {k!r} has shape {g.shape}, "
                             f"but the input has shape {x.shape}")
        analytic.append(g)
    return analytic


def _numerical(loss, x, eps):
    """Central differences of loss() for every element of x, perturbed in place."""
    flat = x.reshape(-1)  # a view: x is a C-contiguous copy
    num = np.empty(flat.size)
    for j in range(flat.size):
        orig = flat[j]
        flat[j] = orig + eps
        plus = loss()
        flat[j] = orig - eps
        minus = loss()
        flat[j] = orig
        num[j] = (plus - minus) / (2 * eps)
    return num.reshape(x.shape)
