"""Argument checks for tinynet.reference, mirroring the C wrapper (csrc/_core.c).

Both engines follow the same rules, so that a call either works in both or fails in
both with the same exception type:

* ndarrays, NumPy scalars and other array objects bring their dtype: float32 or
  float64, never mixed in one call (TypeError naming the argument);
* plain lists, tuples and Python numbers take the call's dtype (float64 if no
  argument fixes it); their values must be real numbers.  (np.float64 is a subclass
  of Python's float, so its scalars count as Python numbers here, as in the C engine's
  PyFloat_Check);
* integer arguments (tokens, targets, indices) take any integer dtype and must lie in
  range (IndexError);
* shapes are checked before any computation (ValueError naming argument and shapes);
* arrays updated in place must be writeable, C-contiguous, aligned, native-order
  float ndarrays.
"""
import math

import numpy as np

__all__ = ["Call"]


def _shape(a):
    return str(tuple(a.shape))


def _index(a, flat):
    """"[i, j]" for element `flat` of a (row-major), "" for a 0-d array.
    (np.unravel_index stops at 32 dimensions; arrays may have 64.)"""
    pos = []
    for n in reversed(a.shape):
        flat, p = divmod(int(flat), n)
        pos.append(str(p))
    return "[" + ", ".join(reversed(pos)) + "]" if pos else ""


def _weak(obj):
    """Plain Python values take the call's dtype; everything else brings its own."""
    return isinstance(obj, (list, tuple, int, float))


class Call:
    """The checks of one call of function `fn`; `dtype` is fixed by the first float array."""

    def __init__(self, fn):
        self.fn = fn
        self.dtype = None
        self.dtype_from = None

    # -- errors ----------------------------------------------------------------------
    def shape_error(self, name, a, pattern, where=""):
        return ValueError(f"{self.fn}: {name} has shape {_shape(a)}, expected {pattern}{where}")

    def expect(self, name, a, dims, pattern, where=""):
        """a.shape must be dims (None = any size)."""
        if a.ndim != len(dims) or any(d is not None and s != d for s, d in zip(a.shape, dims)):
            raise self.shape_error(name, a, pattern, where)

    def same_shape(self, name, a, ref_name, ref):
        if a.shape != ref.shape:
            raise ValueError(
                f"{self.fn}: {name} has shape {_shape(a)} but {ref_name} has shape {_shape(ref)}; they must match"
            )

    # -- conversion ------------------------------------------------------------------
    def raw(self, name, obj):
        """obj as an ndarray of whatever dtype it has."""
        if obj is None or isinstance(obj, (str, bytes)):
            raise TypeError(f"{self.fn}: {name} must be an array, not {type(obj).__name__}")
        try:
            return np.asarray(obj)
        except (ValueError, TypeError) as e:
            raise type(e)(f"{self.fn}: {name} could not be converted to an array: {e}") from e

    def _resolve(self, name, obj, raw):
        if _weak(obj):
            if raw.dtype.kind not in "fiu":
                raise TypeError(
                    f"{self.fn}: {name} must be an array of real numbers (float32 or float64), got dtype {raw.dtype}"
                )
            return
        if raw.dtype.kind != "f" or raw.dtype.itemsize not in (4, 8):
            raise TypeError(f"{self.fn}: {name} must be float32 or float64, got dtype {raw.dtype}")
        self._fix_dtype(name, np.dtype(raw.dtype.type))  # byte-swapped input counts as its native twin

    def _fix_dtype(self, name, dt):
        if self.dtype is None:
            self.dtype, self.dtype_from = dt, name
        elif dt != self.dtype:
            raise TypeError(
                f"{self.fn}: {name} is {dt} but {self.dtype_from} is {self.dtype}; "
                "all float arrays of one call must share one dtype"
            )

    def floats(self, *named, optional=()):
        """Convert (name, obj) pairs together to C-contiguous arrays of one float dtype."""
        raws = []
        for name, obj in named:
            if obj is None and name in optional:
                raws.append(None)
                continue
            raw = self.raw(name, obj)
            self._resolve(name, obj, raw)
            raws.append(raw)
        if self.dtype is None:  # only lists and numbers: float64, which a later in-place array must match
            self.dtype = np.dtype(np.float64)
            self.dtype_from = next((name for (name, _), r in zip(named, raws) if r is not None), named[0][0])
        out = [None if r is None else np.asarray(r, dtype=self.dtype, order="C") for r in raws]
        return out[0] if len(out) == 1 else out

    def ints(self, name, obj, raw=None):
        """An integer argument as int64 (any integer dtype; an empty list is fine)."""
        raw = self.raw(name, obj) if raw is None else raw
        if raw.dtype.kind not in "iu" and not (_weak(obj) and raw.size == 0):
            raise TypeError(f"{self.fn}: {name} must be an integer array, got dtype {raw.dtype}")
        if raw.dtype.kind == "u" and raw.dtype.itemsize >= 8:  # would wrap to negative int64
            big = np.flatnonzero(raw.ravel() > np.iinfo(np.int64).max)
            if big.size:
                raise IndexError(
                    f"{self.fn}: {name}{_index(raw, big[0])} = {int(raw.ravel()[big[0]])} is out of range "
                    f"(too large for an index); {name} has shape {_shape(raw)}"
                )
        return np.asarray(raw, dtype=np.int64, order="C")

    def in_range(self, name, a, hi, hi_what, exc=IndexError):
        """Every value of a must lie in [0, hi): else `exc` (IndexError for ids, ValueError
        for counts)."""
        bad = np.flatnonzero((a < 0) | (a >= hi))
        if bad.size:
            value = int(a.reshape(-1)[bad[0]])  # (a.flat stops at 32 dimensions)
            raise exc(
                f"{self.fn}: {name}{_index(a, bad[0])} = {value} is out of range [0, {hi}) ({hi_what}); "
                f"{name} has shape {_shape(a)}"
            )

    # -- scalars ---------------------------------------------------------------------
    def real(self, name, v):
        if v is None or isinstance(v, (str, bytes)):
            raise TypeError(f"{self.fn}: {name} must be a real number, not {type(v).__name__}")
        try:
            return float(v)
        except OverflowError:  # an int beyond the float range
            raise ValueError(f"{self.fn}: {name} is out of range (too large for a float)") from None
        except (TypeError, ValueError):
            raise TypeError(f"{self.fn}: {name} must be a real number, not {type(v).__name__}") from None

    def nonneg(self, name, v):
        """A hyperparameter that must be a finite number >= 0 (eps, lr, weight_decay)."""
        v = self.real(name, v)
        if not (v >= 0 and math.isfinite(v)):
            raise ValueError(f"{self.fn}: {name} must be a finite number >= 0, got {v!r}")
        return v

    def integer(self, name, v):
        if v is None or isinstance(v, float):
            raise TypeError(f"{self.fn}: {name} must be an integer, not {type(v).__name__}")
        try:
            i = int(v.__index__())
        except (AttributeError, TypeError):
            raise TypeError(f"{self.fn}: {name} must be an integer, not {type(v).__name__}") from None
        if not -(2**63) <= i < 2**63:
            raise ValueError(f"{self.fn}: {name} is out of range")
        return i

    def truth(self, name, v):
        """A flag: any value with a truth value, as Python's bool() (an array of several
        elements has none: ValueError)."""
        try:
            return bool(v)
        except (TypeError, ValueError) as e:
            raise type(e)(f"{self.fn}: {name} must be true or false: {e}") from None

    def steps(self, steps, n):
        """The optimizers' step counters: an int64 ndarray (n,), updated in place."""
        if not isinstance(steps, np.ndarray) or steps.dtype.kind != "i" or steps.dtype.itemsize != 8:
            # (an int64 in the other byte order is the right dtype in the wrong layout: below)
            what = f"one of dtype {steps.dtype}" if isinstance(steps, np.ndarray) else type(steps).__name__
            raise TypeError(f"{self.fn}: steps is updated in place, so it must be an int64 NumPy array, not {what}")
        if not (steps.flags.writeable and steps.flags.c_contiguous and steps.flags.aligned and steps.dtype.isnative):
            raise ValueError(f"{self.fn}: steps (shape {_shape(steps)}) must be writeable and C-contiguous")
        self.expect("steps", steps, (n,), "(len(params),)", f" with len(params) = {n}")
        self.in_range("steps", steps, 2**62, "steps counted so far", ValueError)  # a count, not an index
        return steps

    def reduction(self, v):
        if isinstance(v, str) and v in ("mean", "sum"):
            return v
        raise ValueError(f'{self.fn}: reduction must be "mean" or "sum", got {v!r}')

    def bptt(self, k):
        if k is None:
            return None
        k = self.integer("bptt_steps", k)
        if k < 1:
            raise ValueError(f"{self.fn}: bptt_steps must be None (full BPTT) or >= 1, got {k}")
        return k

    # -- in-place arrays ---------------------------------------------------------------
    def inplace(self, name, a):
        if not isinstance(a, np.ndarray):
            raise TypeError(
                f"{self.fn}: {name} is updated in place, so it must be a NumPy array, not {type(a).__name__}"
            )
        if a.dtype.kind != "f" or a.dtype.itemsize not in (4, 8):
            raise TypeError(f"{self.fn}: {name} must be float32 or float64, got dtype {a.dtype}")
        self._fix_dtype(name, np.dtype(a.dtype.type))
        why = (
            "is read-only" if not a.flags.writeable
            else "is not C-contiguous" if not a.flags.c_contiguous
            else "is not aligned" if not a.flags.aligned
            else "is not in native byte order" if not a.dtype.isnative
            else None
        )
        if why:
            raise ValueError(
                f"{self.fn}: {name} {why} (shape {_shape(a)}); in-place updates need a writeable, C-contiguous array"
            )
        return a

    def optimizer(self, grad, names, state, grad_name="grad"):
        """state arrays (state[0] the parameter): one shape, no shared memory; grad converted,
        and copied when it overlaps them."""
        for i in range(1, len(state)):
            self.same_shape(names[i], state[i], names[0], state[0])
            for j in range(i):
                if state[i].size and state[j].size and np.may_share_memory(state[i], state[j]):
                    raise ValueError(f"{self.fn}: {names[i]} and {names[j]} share memory; they must be separate arrays")
        grad = self.floats((grad_name, grad))
        self.same_shape(grad_name, grad, names[0], state[0])
        if any(grad.size and s.size and np.may_share_memory(grad, s) for s in state):
            grad = grad.copy()
        return grad
