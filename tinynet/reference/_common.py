"""What every function of the NumPy engine uses: IEEE arithmetic without warnings, and
the types its annotations name (the stubs of both engines)."""
from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING, Any, Callable, Literal, TypeVar

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

    FloatArray = NDArray[np.floating[Any]]  # float32 or float64: the dtype of the call's float arguments
    Reduction = Literal["mean", "sum"]


_MAXDIMS = 64 if int(np.__version__.split(".")[0]) >= 2 else 32  # NumPy's limit on ndim


_F = TypeVar("_F", bound=Callable[..., Any])


def _ieee(f: _F) -> _F:
    """Let inf and nan arise silently (overflow in exp, 0/0 ...), as in C; and return a
    0-d array where NumPy's ufuncs give a scalar (tanh_forward of a 0-d array)."""

    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        with np.errstate(all="ignore"):
            out = f(*args, **kwargs)
        return np.asarray(out) if isinstance(out, np.generic) else out

    return wrapper  # type: ignore[return-value]  (the same signature: functools.wraps)


def _rows(a):
    """a (..., K) as the matrix (N, K) of its rows, N the product of the leading axes (also
    when K or N is 0, where reshape(-1, K) fails or NumPy's batched matmul would loop over
    the empty leading axes)."""
    return a.reshape(math.prod(a.shape[:-1]), a.shape[-1])
