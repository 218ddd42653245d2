"""The bad-input matrix, generated from ONE table and run on BOTH engines.

TABLE (tests/specs.py, a section per layer) describes every public function once: its
array arguments (kind, shape in size symbols, value range, what else is accepted) and
its other arguments.  From it the matrix derives, for every argument, each bad-input
class that applies to it (wrong ndim, each dimension one too large and one too small,
wrong dtype -- int, bool, complex, object, float16, longdouble, str, datetime --,
float32/float64 mix, None, scalar, ragged list, string, out-of-range and negative ids;
read-only / strided / Fortran / byte-swapped / misaligned / aliased arrays for in-place
arguments) plus the function's own bad scalars (bptt_steps < 1, n < 0,
temperature <= 0, an unknown reduction, ...).  The optimizers' *_foreach_ take lists of
arrays and an int64 array of step counts: they get their own classes (not a list, one
entry more or fewer, a bad entry named as "params[1]", each tensor its own dtype
accepted, steps of another dtype or shape or negative; NOT_FOR_LISTS says what else
differs and why).  Every case runs on the C engine and on
the NumPy engine and asserts:

* the exception type is the expected one, and the same in both engines;
* the message starts with the function name, names the argument and gives the
  offending shape, dtype or value;
* none of the caller's arrays changed;
* the variants that must be accepted (free sizes, documented None, lists of ints as
  floats, any integer dtype) work and give the same result in both engines.

Beside the matrix, also generated from TABLE for every function and argument:
* zero-size dimensions (empty results, or a clear error);
* non-contiguous / Fortran / byte-swapped / negative-stride / misaligned / read-only
  inputs to the functions that do not work in place (the same result as the contiguous
  call);
* NaN, +inf and -inf in any float argument: no error, and the same NaN / inf positions
  as the NumPy engine (IEEE arithmetic);
* one dimension of 2**44 (with another 0, or not), as np.empty arrays or broadcast
  views: an immediate empty result or the same MemoryError / ValueError / IndexError in
  both engines -- no wrapped size, no long loop; and the core's workspace sizes
  (tn_*_work) never wrap, for any sizes;
* results are fresh arrays, sharing no memory with the inputs or each other.
"""
import dataclasses
import faulthandler
import itertools
import re
import time
import zlib
from typing import Callable

import numpy as np
import pytest

from conftest import ENGINES, RTOL, assert_close
from specs import INPLACE, LISTS, TABLE, Fn, _alias, _shifted, arrays_of, copy_args, inplace_outputs, make  # noqa: E501


def free(spec, sym):
    """A size symbol used by one dimension only may take any value -- unless that
    dimension is a multiple of it ("3C" stays a multiple of 3) or a scalar argument comes
    from it too (attention's n_head from n)."""
    if sym[0].isdigit():
        return False
    uses = sum(d == sym or (d[0].isdigit() and d[-1] == sym) for a in spec.args for d in a.dims)
    bumped = dict(spec.sizes, **{sym: spec.sizes[sym] + 1})
    return uses == 1 and spec.scalars(bumped) == spec.scalars(spec.sizes)


# -------------------------------------------------------------------------- the cases


@dataclasses.dataclass
class Case:
    spec: Fn
    arg: str  # the argument made bad ("" for scalar cases)
    label: str
    build: Callable  # fn(kw) -> None: makes the valid kw bad, in place
    exc: type = None  # None: the call must work
    needles: list = ()  # strings (or fn(msg) -> bool) the message must contain
    dtype: type = np.float64

    @property
    def id(self):
        dt = "" if self.dtype is np.float64 else "-f32"
        return f"{self.spec.id}-{self.arg or '*'}-{self.label}{dt}"


def _set(name, fn):
    def build(kw):
        kw[name] = fn(kw[name])

    return build


def _shape_needle(name, fn, dim=None):
    """The message gives the bad argument's shape, or names its (changed) dimension."""

    def check(msg, kw):
        a = np.asarray(kw[name])
        if str(tuple(a.shape)) in msg:
            return True
        if dim is None:
            return f"{name}.shape[" in msg
        # (counted from the end for the channels of x (..., C): x.shape[-1])
        return any(f"{name}.shape[{d}] = {a.shape[dim]}" in msg for d in (dim, dim - a.ndim))

    check.__name__ = f"shape of {name}"
    return check


def _readonly(a):
    a = a.copy()
    a.flags.writeable = False
    return a


def _strided(a):
    return np.repeat(a, 2, axis=-1)[..., ::2]


def _negative(a):
    return np.ascontiguousarray(a[::-1])[::-1]


def _byteswapped(a):
    return a.astype(a.dtype.newbyteorder())


def _misaligned(a):
    buf = np.zeros(a.nbytes + 1, np.uint8)[1:].view(a.dtype).reshape(a.shape)
    buf[...] = a
    return buf


def _as_dtype(v, d):
    """v's values in dtype d (datetimes from whole numbers)."""
    return (v * 100).astype(np.int64).astype(d) if d.kind == "M" else v.astype(d)


def _ragged(a):
    return [[0.5, 0.5], [0.5]]


def arg_cases(spec, a):
    """The bad-input classes that apply to argument a of spec."""
    C = lambda label, build, exc, needles=(), dtype=np.float64: Case(spec, a.name, label, build, exc, list(needles),
                                                                     dtype)
    if a.kind in LISTS or a.kind == "n":  # NOT_FOR_LISTS["array cases"]
        yield from _list_cases(spec, a) if a.kind in LISTS else _counter_cases(spec, a, C)
        return
    yield from _shape_cases(spec, a, C)
    exc = None if a.optional else a.none_raises
    yield C("None", _set(a.name, lambda v: None), exc, ["NoneType"] if exc is TypeError else [])
    yield C("str", _set(a.name, lambda v: "abc"), TypeError, ["str"])
    if a.kind == "p":
        yield from _inplace_cases(spec, a, C)
    else:
        yield C("ragged", _set(a.name, _ragged), ValueError, ["could not be converted"])
        yield C("scalar", _set(a.name, lambda v: 0 if a.kind == "i" else 0.5),
                None if 0 in a.ok_ndims else ValueError, ["()"])
    if a.kind == "f":
        yield from _float_cases(a, C)
    fl = [b for b in spec.args if b.kind in "fp"]
    if a.kind in "fp" and len(fl) > 1:
        for dt, other in ((np.float64, np.float32), (np.float32, np.float64)):
            others = [b.name for b in fl if b.name != a.name]
            yield C("mixed", _set(a.name, lambda v, o=other: v.astype(o)), TypeError,
                    ["float32", "float64", _names_needle(others)], dtype=dt)
    if a.kind == "i":
        yield from _int_cases(spec, a, C)


def _shape_cases(spec, a, C):
    """One dimension more or fewer, each dimension one larger and one smaller."""
    n, nd = a.name, len(a.dims)
    yield C("ndim+1", _set(n, lambda v: np.stack([v, v])),
            None if nd + 1 in a.ok_ndims else ValueError, [_shape_needle(n, None)])
    if nd:
        yield C("ndim-1", _set(n, lambda v: np.ascontiguousarray(v[0])),
                None if nd - 1 in a.ok_ndims else ValueError, [_shape_needle(n, None)])
    for i, sym in enumerate(a.dims):
        for delta in (+1, -1):
            if delta < 0 and free(spec, sym) and any(b.hi == sym for b in spec.args):
                continue  # a smaller range for the ids: IndexError or not, by their values
            def resize(v, i=i, delta=delta):
                shape = list(v.shape)
                shape[i] += delta
                return np.resize(v, shape)

            yield C(f"shape[{i}]={sym}{delta:+d}", _set(n, resize),
                    None if free(spec, sym) else ValueError,
                    [_shape_needle(n, None, i)])


def _inplace_cases(spec, a, C):
    """Updated in place: an ndarray of the call's dtype, writeable, C-contiguous, its own memory."""
    n = a.name
    yield C("list", _set(n, lambda v: v.tolist()), TypeError, ["list"])
    yield C("scalar", _set(n, lambda v: 0.5), TypeError, ["float"])
    for dt in (np.int64, np.float16, np.bool_, np.complex128, object, np.longdouble):
        yield C(np.dtype(dt).name, _set(n, lambda v, dt=dt: v.astype(dt)), TypeError, [np.dtype(dt).name])
    for label, f, why in [("read-only", _readonly, "read-only"), ("strided", _strided, "not C-contiguous"),
                          ("fortran", np.asfortranarray, "not C-contiguous"),
                          ("negative-stride", _negative, "not C-contiguous"),
                          ("misaligned", _misaligned, "not aligned"),
                          ("byteswapped", _byteswapped, "native byte order")]:
        if label != "fortran" or len(a.dims) >= 2:  # (a vector in Fortran order is C-contiguous)
            yield C(label, _set(n, f), ValueError, [why, _shape_needle(n, None)])
    earlier = [b.name for b in spec.args[: spec.args.index(a)] if b.kind == "p"]
    for e in earlier:
        yield C(f"is-{e}", _alias(n, e), ValueError, ["share memory", e])
        yield C(f"overlaps-{e}", _shifted(n, e), ValueError, ["share memory", e])


def _float_cases(a, C):
    """Dtypes a float argument refuses, and the plain lists it takes."""
    n = a.name
    bad = [np.bool_, np.complex128, np.complex64, object, np.float16, np.longdouble, "U3", "M8[s]"]
    bad += [] if a.tokens else [np.int64, np.int32, np.uint8]
    for d in map(np.dtype, bad):
        yield C(d.name, _set(n, lambda v, d=d: _as_dtype(v, d)), TypeError, [str(d) if d.kind in "UM" else d.name])
    if not a.tokens:
        yield C("int-list", _set(n, lambda v: np.rint(v * 4).astype(int).tolist()), None)
    for dt in (np.float64, np.float32):
        yield C("list", _set(n, lambda v: v.tolist()), None, dtype=dt)


def _int_cases(spec, a, C):
    """Dtypes an integer argument refuses or takes, and ids out of range."""
    n = a.name
    for dt in (np.bool_, object, np.complex128):
        yield C(np.dtype(dt).name, _set(n, lambda v, dt=dt: v.astype(dt)), TypeError, [np.dtype(dt).name])
    if a.tokens:  # float x is the RNN's float input (T, B, D): here the shape is wrong
        yield C("float64", _set(n, lambda v: v.astype(float)), ValueError, [_shape_needle(n, None)])
        yield C("float-list", _set(n, lambda v: v.astype(float).tolist()), ValueError, [_shape_needle(n, None)])
    else:
        yield C("float64", _set(n, lambda v: v.astype(float)), TypeError, ["float64"])
        yield C("float-list", _set(n, lambda v: v.astype(float).tolist()), TypeError, ["float64"])
    for dt in (np.uint8, np.int32):
        yield C(np.dtype(dt).name, _set(n, lambda v, dt=dt: v.astype(dt)), None)
    yield C("int-list", _set(n, lambda v: v.tolist()), None)
    hi = spec.sizes[a.hi]
    for label, val in (("too-large", hi), ("negative", -1), ("huge", 2**62)):
        yield C(label, _set(n, lambda v, val=val: _poke(v, val)), IndexError, [_index_needle(n, val)])
    yield C("uint64-max", _set(n, lambda v: _poke(v.astype(np.uint64), 2**64 - 1)), IndexError,
            [_index_needle(n, 2**64 - 1)])


# ------------------------------------------- the optimizers' lists of tensors and steps

ENTRY = 1  # the entry of a list made bad (TENSORS[1], a matrix: every layout applies)

# What the generic tests do not do with a list argument, and why -- the one place.
NOT_FOR_LISTS = {
    "array cases": "an array's ndim, shape, dtype and layout cases do not apply to a list: _list_cases gives "
                   "the list's own and its entry ENTRY's (every array case, the message naming params[1])",
    "huge length": "a list of 2**44 arrays cannot be made (its entries' huge dimensions are tested)",
    "result dtype": "each tensor keeps its own dtype: there is no one result dtype to check",
    "in-place layouts": "test_layouts relays out what is not updated in place; the in-place lists' entries in "
                        "other layouts are refused, in the matrix",
}


def _entry(name, fn, j=ENTRY):
    """Entry j of list `name` replaced by fn(entry)."""

    def build(kw):
        v = list(kw[name])
        v[j] = fn(v[j])
        kw[name] = v

    return build


def _entries_as(spec, dtype, j=ENTRY):
    """Tensor j -- its parameter, gradient and states -- in another dtype."""

    def build(kw):
        for a in spec.args:
            if a.kind in LISTS:
                _entry(a.name, lambda v: v.astype(dtype), j)(kw)

    return build


def _list_cases(spec, a):
    """A list argument of a *_foreach_ function: the list itself (not a list, one entry
    more or fewer) and its entry ENTRY (not an array, a bad dtype, layout or shape, the
    other dtype, aliasing); the message names the list, or the entry as "params[1]"."""
    n, K = a.name, spec.sizes[a.dims[0]]
    C = lambda label, build, exc, needles=(), dtype=np.float64, arg=n: Case(spec, arg, label, build, exc,  # noqa
                                                                           list(needles), dtype)
    yield C("None", _set(n, lambda v: None), a.none_raises, ["NoneType"] if a.none_raises is TypeError else [])
    for label, fn, what in [("str", lambda v: "abc", "str"), ("dict", lambda v: dict(enumerate(v)), "dict"),
                            ("ndarray", lambda v: v[ENTRY], "ndarray")]:
        yield C(label, _set(n, fn), TypeError, ["must be a list or tuple of arrays", what])
    yield C("tuple", _set(n, tuple), None)
    for label, fn, k in [("len+1", lambda v: v + [v[-1].copy()], K + 1), ("len-1", lambda v: v[:-1], K - 1)]:
        yield C(label, _set(n, fn), ValueError, [f"params has {k}" if n == "params" else f"{n} has {k} entries"])
    if n == "params":  # each tensor its own dtype, its states and gradient with it
        yield C("tensor-float32", _entries_as(spec, np.float32), None)
        yield C("tensor-float64", _entries_as(spec, np.float64), None, dtype=np.float32)
    el = f"{n}[{ENTRY}]"
    E = lambda label, fn, exc, needles=(): C(label, _entry(n, fn), exc, needles, arg=el)  # noqa: E731
    yield E("shape[0]+1", lambda v: np.resize(v, (v.shape[0] + 1,) + v.shape[1:]), ValueError,
            ["has shape (4, 4)", "(3, 4)"])
    yield E("float32", lambda v: v.astype(np.float32), TypeError, ["float32", "float64"])
    yield E("str", lambda v: "abc", TypeError, ["str"])
    for d in map(np.dtype, (np.int64, np.float16, np.bool_, np.complex128, object)):
        yield E(d.name, lambda v, d=d: v.astype(d), TypeError, [d.name])
    if a.kind == "F":
        yield E("None", lambda v: None, None)
        yield C("all-None", _set(n, lambda v: [None] * len(v)), None)
        yield E("list", lambda v: v.tolist(), None)
        yield E("int-list", lambda v: np.rint(v * 4).astype(int).tolist(), None)
        for label, f in [("fortran", np.asfortranarray), ("strided", _strided), ("negative-stride", _negative),
                         ("byteswapped", _byteswapped), ("misaligned", _misaligned), ("read-only", _readonly)]:
            yield E(label, f, None)
        yield C(f"is-params[{ENTRY}]", _alias_entry(n, "params"), None, arg=el)
        return
    yield E("list", lambda v: v.tolist(), TypeError, ["must be a NumPy array, not list"])
    yield E("None", lambda v: None, TypeError, ["NoneType"])
    yield E("scalar", lambda v: 0.5, TypeError, ["float"])
    yield E("longdouble", lambda v: v.astype(np.longdouble), TypeError, ["float128"])
    for label, f, why in [("read-only", _readonly, "read-only"), ("strided", _strided, "not C-contiguous"),
                          ("fortran", np.asfortranarray, "not C-contiguous"),
                          ("negative-stride", _negative, "not C-contiguous"),
                          ("misaligned", _misaligned, "not aligned"),
                          ("byteswapped", _byteswapped, "native byte order")]:
        yield E(label, f, ValueError, [why, "(3, 4)"])
    earlier = [b.name for b in spec.args[: spec.args.index(a)] if b.kind == "P"]
    for e in earlier:
        yield C(f"is-{e}[{ENTRY}]", _alias_entry(n, e), ValueError, ["share memory", f"{e}[{ENTRY}]"], arg=el)


def _alias_entry(dst, src, j=ENTRY):
    def build(kw):
        v = list(kw[dst])
        v[j] = kw[src][j]
        kw[dst] = v

    return build


def _counter_cases(spec, a, C):
    """steps: an int64 ndarray (K,) updated in place, each count in [0, 2**62)."""
    n = a.name
    yield C("None", _set(n, lambda v: None), a.none_raises, ["NoneType"] if a.none_raises is TypeError else [])
    for label, fn, what in [("str", lambda v: "abc", "str"), ("list", lambda v: v.tolist(), "list"),
                            ("scalar", lambda v: 0, "int")]:
        yield C(label, _set(n, fn), TypeError, ["must be an int64 NumPy array", what])
    for dt in (np.int32, np.uint64, np.float64, np.int8):
        yield C(np.dtype(dt).name, _set(n, lambda v, dt=dt: v.astype(dt)), TypeError,
                ["must be an int64 NumPy array", np.dtype(dt).name])
    K = spec.sizes[a.dims[0]]
    for label, fn in [("len+1", lambda v: np.append(v, 0)), ("len-1", lambda v: np.ascontiguousarray(v[:-1])),
                      ("ndim+1", lambda v: v[None].copy()), ("ndim-1", lambda v: np.array(v[0]))]:
        yield C(label, _set(n, fn), ValueError, [_shape_needle(n, None), f"len(params) = {K}"])
    for label, f in [("read-only", _readonly), ("strided", _strided), ("negative-stride", _negative),
                     ("misaligned", _misaligned), ("byteswapped", _byteswapped)]:
        yield C(label, _set(n, f), ValueError, ["must be writeable and C-contiguous", f"(shape ({K},))"])
    for label, val in (("negative", -1), ("2**62", 2**62), ("int64-min", -(2**63))):
        yield C(label, _set(n, lambda v, val=val: _poke(v, val)), ValueError,
                [f"{n}[{K - 1}] = {val} is out of range [0, {2**62})"])
    yield C("2**62-1", _set(n, lambda v: _poke(v, 2**62 - 1)), None)


def _names_needle(names):
    def check(msg, kw):
        return any(re.search(rf"(?<![\w.]){re.escape(x)}\b", msg) for x in names)

    check.__name__ = f"name of the other float argument (one of {names})"
    return check


def _poke(v, val):
    """v with its last element set to val."""
    v = v.copy()
    v.flat[-1] = val
    return v


def _index_needle(name, val):
    def check(msg, kw):
        a = np.asarray(kw[name])
        pos = np.unravel_index(a.size - 1, a.shape)
        where = f"[{', '.join(str(int(p)) for p in pos)}]" if a.ndim else ""
        return f"{name}{where} = {val} " in msg

    check.__name__ = f"position and value of {name}"
    return check


def scalar_cases(spec):
    for label, upd, exc, needles in spec.bad:
        build = upd if callable(upd) else (lambda kw, u=upd: kw.update(u))
        yield Case(spec, "", label, build, exc, list(needles))


def all_cases():
    cases = []
    for spec in TABLE:
        for a in spec.args:
            cases.extend(arg_cases(spec, a))
        cases.extend(scalar_cases(spec))
    ids = [c.id for c in cases]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    return cases


CASES = all_cases()

# ---------------------------------------------------------------------------- running


@dataclasses.dataclass
class Outcome:
    kw: dict
    error: BaseException = None
    result: object = None
    changed: list = None  # the caller's arrays the call modified


def _seed(text):
    return zlib.crc32(text.encode())


def _outputs(spec, kw, result):
    """What a call produced: its result, and the arrays it updates in place (a list's
    entries one by one)."""
    inplace = inplace_outputs(spec, kw)
    return (result, *inplace) if inplace else result


def _same(a, b):
    return a.shape == b.shape and np.array_equal(a, b, equal_nan=b.dtype.kind in "fc")


def run(engine, spec, kw, snapshot=True):
    """Call spec's function of `engine`; with snapshot, note which arrays it changed
    (the arrays in lists too)."""
    snap = {k: [np.array(e, copy=True) for e in arrays_of(v)] for k, v in kw.items() if snapshot and arrays_of(v)}
    out = Outcome(kw)
    try:
        out.result = _outputs(spec, kw, getattr(engine, spec.name)(**kw))
    except Exception as e:  # noqa: BLE001 (every exception type is compared)
        out.error = e
    out.changed = [k for k, v in snap.items() if not all(map(_same, arrays_of(kw[k]), v))]
    return out


def _updated(spec):
    """The names of the arguments spec's function updates in place."""
    return {a.name for a in spec.args if a.kind in INPLACE}


def _changed_inputs(spec, out):
    """The arguments a call changed that it does not update in place -- nor share memory
    with one it does (a gradient that is its parameter)."""
    updated = [e for k in _updated(spec) for e in arrays_of(out.kw[k])]
    return [k for k in out.changed if k not in _updated(spec)
            and not any(np.may_share_memory(e, u) for e in arrays_of(out.kw[k]) for u in updated)]


def run_case(engine, case):
    kw = make(case.spec, case.dtype, np.random.default_rng(_seed(case.id)))
    case.build(kw)
    return run(engine, case.spec, kw)


def result_dtype(kw):
    """The documented result dtype: the float ndarrays' one, float64 when there are none."""
    for v in kw.values():
        if isinstance(v, np.ndarray) and v.dtype.kind == "f":
            return np.dtype(v.dtype.type)
    return np.dtype(np.float64)


def float_arrays(x):
    if isinstance(x, np.ndarray):
        if x.dtype.kind == "f":
            yield x
    elif isinstance(x, dict):
        for v in x.values():
            yield from float_arrays(v)
    elif isinstance(x, (tuple, list)):
        for v in x:
            yield from float_arrays(v)


def check_message(case, engine_name, out):
    fn = case.spec.name
    msg = str(out.error)
    where = f"{engine_name} engine, {type(out.error).__name__}: {msg}"
    assert msg.startswith(f"{fn}: "), f"message does not start with the function name ({where})"
    if case.arg:
        assert re.search(rf"(?<![\w.]){re.escape(case.arg)}(?!\w)", msg), f"message does not name {case.arg} ({where})"
    for needle in case.needles:
        if callable(needle):
            assert needle(msg, out.kw), f"message lacks the {needle.__name__} ({where})"
        else:
            assert needle in msg, f"message lacks {needle!r} ({where})"


def check_outcomes(case, outs):
    """The expected exception (same type in both engines, a full message, nothing
    modified), or, for an accepted variant, the same result in both engines."""
    for name, out in outs.items():
        if case.exc is None:
            if out.error is not None:
                raise AssertionError(f"{name} engine refused a valid call") from out.error
        else:
            assert out.error is not None, f"{name} engine accepted it, expected {case.exc.__name__}"
            assert type(out.error) is case.exc, (
                f"{name} engine raised {type(out.error).__name__}: {out.error}; expected {case.exc.__name__}")
            check_message(case, name, out)
            assert not out.changed, f"{name} engine modified {out.changed} in a failing call"
        if case.exc is None:
            others = _changed_inputs(case.spec, out)
            assert not others, f"{name} engine modified {others}"
    types = {name: type(out.error).__name__ for name, out in outs.items()}
    assert len(set(types.values())) == 1, f"the engines disagree: {types}"
    if case.exc is None:
        c, n = outs["c"], outs["numpy"]
        if any(a.kind in LISTS for a in case.spec.args):  # NOT_FOR_LISTS["result dtype"]: each tensor
            # within its own dtype's tolerance
            assert_close(c.result, n.result, case.spec.name)
            return
        assert_close(c.result, n.result, case.spec.name, rtol=RTOL[np.dtype(case.dtype)])
        want = result_dtype(c.kw)
        for a in float_arrays(c.result):
            assert a.dtype == want, f"result dtype {a.dtype}, expected {want}"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_bad_input(case):
    check_outcomes(case, {name: run_case(mod, case) for name, mod in ENGINES.items()})


def test_case_count():
    """The matrix covers every function, argument and class (keep this in step with the table)."""
    per_fn = {}
    for c in CASES:
        per_fn[c.spec.name] = per_fn.get(c.spec.name, 0) + 1
    assert set(per_fn) == {f.name for f in TABLE}
    assert all(k >= 15 for k in per_fn.values()), per_fn
    assert sum(c.exc is not None for c in CASES) > 1000


# ------------------------------------------------------------------------- zero sizes

ZERO_CASES = [(spec, sym) for spec in TABLE for sym in spec.sizes]


@pytest.mark.parametrize("spec,sym", ZERO_CASES, ids=[f"{s.id}-{k}=0" for s, k in ZERO_CASES])
def test_zero_size(spec, sym):
    """A zero size works (empty results), or, where the call is undefined, both engines
    raise the same clear error; never a crash."""
    sizes = dict(spec.sizes, **{sym: 0})
    outs = {}
    for name, mod in ENGINES.items():
        kw = make(spec, np.float64, np.random.default_rng(_seed(spec.id + sym)), sizes)
        outs[name] = run(mod, spec, kw)
    kw = outs["c"].kw
    if sym in spec.zero_raises:
        exc = spec.zero_raises[sym]
    elif any(a.kind == "i" and kw[a.name].size and not sizes[a.hi] for a in spec.args):
        exc = IndexError  # no id fits in [0, 0)
    else:
        exc = None
    case = Case(spec, "", f"{sym}=0", None, exc, [])
    check_outcomes(case, outs)


# ------------------------------------------------------------------- memory layouts


def layouts(a):
    if a.ndim >= 2:
        yield "fortran", np.asfortranarray(a)
    if a.ndim >= 1:
        yield "strided", _strided(a)
        yield "negative-stride", _negative(a)
    yield "byteswapped", _byteswapped(a)
    yield "misaligned", _misaligned(a)
    yield "read-only", _readonly(a)
    if a.ndim >= 1:
        yield "byteswapped-negative-stride", _negative(_byteswapped(a))


def arg_layouts(v):
    """layouts() of an argument: of an array, or of every entry of a list at once (each
    entry in the layouts that apply to it)."""
    if not isinstance(v, list):
        yield from layouts(v)
        return
    kinds = dict.fromkeys(k for e in v for k, _ in layouts(e))
    for kind in kinds:
        yield kind, [dict(layouts(e)).get(kind, e) for e in v]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("spec", TABLE, ids=lambda s: s.id)
def test_layouts(spec, engine):
    """Every argument not updated in place, in every memory layout, gives the result of
    the contiguous call."""
    mod = ENGINES[engine]
    rng = np.random.default_rng(_seed(spec.id))
    base = make(spec, np.float64, rng)
    want = run(mod, spec, copy_args(base))
    assert want.error is None, want.error
    for a in spec.args:
        if a.kind in INPLACE:  # (refused in other layouts: the matrix; NOT_FOR_LISTS["in-place layouts"])
            continue
        for kind, arr in arg_layouts(base[a.name]):
            kw = copy_args(base)
            kw[a.name] = arr
            got = run(mod, spec, kw)
            assert got.error is None, f"{a.name} {kind}: {got.error!r}"
            assert not _changed_inputs(spec, got), f"{a.name} {kind} modified an input"
            assert_close(got.result, want.result, f"{spec.id} with {a.name} {kind}")


# ------------------------------------------------------------------ beyond the table


def test_seed_none_is_accepted():
    """seed=None (documented: seeded from the OS) works in both engines."""
    spec = next(s for s in TABLE if s.name == "rnn_sample")
    for mod in ENGINES.values():
        kw = make(spec, np.float64, np.random.default_rng(0))
        kw["seed"] = None
        tokens = mod.rnn_sample(**kw)
        assert tokens.shape == (spec.sizes["n"], spec.sizes["B"]) and tokens.dtype == np.int64
        assert ((tokens >= 0) & (tokens < spec.sizes["V"])).all()


try:  # NumPy's limit on ndim: 64 in NumPy 2, 32 in NumPy 1.x
    from numpy._core.multiarray import MAXDIMS as NPY_MAXDIMS  # NumPy 2 (and 1.26)
except ImportError:
    from numpy.core.multiarray import MAXDIMS as NPY_MAXDIMS  # NumPy 1.24 and 1.25


@pytest.mark.parametrize("ndim", sorted({min(n, NPY_MAXDIMS - 1) for n in (33, 40)}))
def test_high_ndim_ids(ndim):
    """Ids with more dimensions than np.unravel_index / ndarray.flat support (32): the
    same IndexError with the full position in both engines, and correct results.  Under
    NumPy 1.x (at most 32 dimensions) the most the output (ids plus one axis) allows."""
    table = np.arange(6.0).reshape(3, 2)
    idx = np.zeros((2, 2) + (1,) * (ndim - 2), np.int64)
    idx[(1,) * 2 + (0,) * (ndim - 2)] = 2
    for mod in ENGINES.values():
        out = mod.embedding_forward(table, idx)
        assert out.shape == idx.shape + (2,)
        assert_close(out.reshape(-1, 2), table[idx.ravel()], "embedding_forward")
    bad = idx.copy()
    bad[(1, 0) + (0,) * (ndim - 2)] = 3
    for name, mod in ENGINES.items():
        with pytest.raises(IndexError) as e:
            mod.embedding_forward(table, bad)
        pos = ", ".join(["1", "0"] + ["0"] * (ndim - 2))
        assert str(e.value).startswith(f"embedding_forward: idx[{pos}] = 3 is out of range [0, 3)"), (name, e.value)
    # the C engine's scatter-add at high ndim, against the reference on flattened ids
    # (the reference itself is not called here: np.add.at crashes NumPy 2.4 for >= 32-d ids)
    dout = np.ones(idx.shape + (2,))
    got = ENGINES["c"].embedding_backward(dout, idx, 3)
    assert_close(got, ENGINES["numpy"].embedding_backward(dout.reshape(-1, 2), idx.ravel(), 3), "embedding_backward")


@pytest.mark.skipif(int(np.__version__.split(".")[0]) < 2, reason="NumPy 1.x arrays have at most 32 dimensions")
def test_embedding_output_too_many_dims():
    idx = np.zeros((1,) * 64, np.int64)
    for mod in ENGINES.values():
        with pytest.raises(ValueError, match=r"^embedding_forward: idx has shape \(1, 1, .*expected at most 63"):
            mod.embedding_forward(np.ones((3, 2)), idx)


def _kind(e):
    """The exception's kind: NumPy raises its MemoryError subclass, tinynet's C engine the
    builtin (saying which function and result)."""
    return MemoryError if isinstance(e, MemoryError) else type(e)


@pytest.mark.parametrize("call,shape", [("rnn_sample", "(4611686018427387904, 2) (int64)"),
                                        ("embedding_backward", "(4611686018427387904, 3) (float64)"),
                                        ("rnn_lm_loss", "(576460752303423488, 64) (float64)"),
                                        ("rnn_lm_loss", "(1099511627776, 64) (float64)")])
def test_absurd_output_size(call, shape):
    """An output size that cannot exist (or never fit in memory): the same exception in
    both engines, no crash, and in the C engine a message naming the function and the
    result's shape.  rnn_lm_loss's h_last (B, H) takes B from a zero-size input."""
    errors = {}
    B = int(shape[1:shape.index(",")])
    tokens = np.empty((0, B), np.int64) if call == "rnn_lm_loss" else None
    for name, mod in ENGINES.items():
        try:
            if call == "rnn_sample":
                mod.rnn_sample(None, [0, 1], 2**62, np.ones((3, 4)), np.eye(3), np.zeros(3), np.ones((4, 3)),
                               np.zeros(4), seed=1)
            elif call == "rnn_lm_loss":
                mod.rnn_lm_loss(tokens, tokens, None, np.ones((64, 4)), np.eye(64), np.zeros(64), np.ones((4, 64)),
                                np.zeros(4))
            else:
                mod.embedding_backward(np.ones((2, 3)), [0, 1], 2**62)
        except (ValueError, MemoryError) as e:
            errors[name] = e
    assert len(errors) == 2 and len({_kind(e) for e in errors.values()}) == 1, errors
    msg = str(errors["c"])
    assert msg.startswith(f"{call}: ") and f"result of shape {shape}" in msg, msg


# ---------------------------------------------------------------- NaN and infinities

SPECIALS = {"nan": np.nan, "inf": np.inf, "-inf": -np.inf}
SPECIAL_CASES = [(spec, a.name, label, dt) for spec in TABLE for a in spec.args if a.kind in "fpFP"
                 for label in SPECIALS for dt in (np.float64, np.float32)]


@pytest.mark.parametrize("spec,arg,label,dtype", SPECIAL_CASES,
                         ids=[f"{s.id}-{a}={v}{'-f32' if d is np.float32 else ''}" for s, a, v, d in SPECIAL_CASES])
def test_nan_and_inf_propagate(spec, arg, label, dtype):
    """A NaN or an infinity in any float argument is no error: both engines run, and the
    results have NaN and +-inf in the same places with the same values (IEEE arithmetic,
    as NumPy does it); the rest agrees as usual."""
    outs = {}
    for name, mod in ENGINES.items():
        kw = make(spec, dtype, np.random.default_rng(_seed(spec.id + arg)))
        entries = kw[arg] if isinstance(kw[arg], list) else None
        v = (entries[ENTRY] if entries else kw[arg]).copy()  # (in a list: one entry's)
        v.flat[v.size // 2] = SPECIALS[label]
        if entries:
            kw[arg] = entries[:ENTRY] + [v] + entries[ENTRY + 1:]
        else:
            kw[arg] = v
        outs[name] = run(mod, spec, kw)
    check_outcomes(Case(spec, arg, label, None, None, [], dtype), outs)


# ------------------------------------------------------- huge and empty dimensions

HUGE = 2**44  # any array with this dimension and no zero one is >= 64 TiB


def _huge_kw(spec, sizes, rng):
    """Arguments for sizes where some dimension is HUGE: empty arrays are np.empty (no
    memory), non-empty ones with a HUGE dimension are read-only broadcast views of one
    value (no memory either); raises ValueError if an argument cannot exist at all."""
    kw = make(spec, np.float64, rng, {k: 1 if v == HUGE else v for k, v in sizes.items()})
    for a in spec.args:
        shape = a.shape(sizes)
        dtype = np.int64 if a.kind in "in" else np.float64
        if a.kind in LISTS:
            if shape[0] >= HUGE:
                raise ValueError(f"{a.name}: {NOT_FOR_LISTS['huge length']}")
            kw[a.name] = [_huge_array(s, dtype, 0.5) for s in a.item_shapes(sizes)]
        elif 0 in shape or max(shape, default=0) >= HUGE:
            kw[a.name] = _huge_array(shape, dtype, 0 if a.kind in "in" else 0.5)
    kw.update(spec.scalars(sizes))
    return kw


def _huge_array(shape, dtype, value):
    """An array of `shape` that takes no memory: np.empty when empty, a read-only broadcast
    view of one value when a dimension is HUGE (ValueError if it cannot exist at all)."""
    if 0 in shape:
        return np.empty(shape, dtype)
    if max(shape, default=0) >= HUGE:
        return np.broadcast_to(np.array(value, dtype), shape)
    return np.full(shape, value, dtype)


HUGE_CASES = [(spec, h, z) for spec in TABLE for h in spec.sizes for z in [None, *spec.sizes] if z != h]


@pytest.mark.parametrize("spec,huge,zero", HUGE_CASES,
                         ids=[f"{s.id}-{h}=2**44" + (f"-{z}=0" if z else "") for s, h, z in HUGE_CASES])
def test_huge_dimensions(spec, huge, zero):
    """One size 2**44 (and another 0, or none): no size may wrap around and no loop may
    run over the huge size for nothing.  Both engines finish at once, with the same
    (empty) result, or the same clean error: MemoryError (or NumPy's "array is too
    big" ValueError) for what cannot be allocated, IndexError for ids with no range."""
    sizes = dict(spec.sizes, **{huge: HUGE}, **({zero: 0} if zero else {}))
    try:
        kws = {name: _huge_kw(spec, sizes, np.random.default_rng(0)) for name in ENGINES}
    except ValueError as e:  # e.g. W_hh (H, H) with H = 2**44 cannot exist, even as a view
        pytest.skip(f"no such arguments: {e}")
    outs = {}
    faulthandler.dump_traceback_later(300, exit=True)  # a runaway loop fails the run, not hangs it
    try:
        for name, mod in ENGINES.items():
            t0 = time.perf_counter()
            outs[name] = run(mod, spec, kws[name], snapshot=False)  # (views are read-only)
            took = time.perf_counter() - t0
            assert took < 5, f"{name} engine took {took:.1f} s"
    finally:
        faulthandler.cancel_dump_traceback_later()
    errors = {name: out.error for name, out in outs.items()}
    for name, e in errors.items():
        if e is not None and not isinstance(e, (MemoryError, ValueError, IndexError)):
            raise AssertionError(f"{name} engine raised {type(e).__name__}") from e
    assert len({None if e is None else _kind(e) for e in errors.values()}) == 1, f"the engines disagree: {errors}"
    if errors["c"] is None:
        assert_close(outs["c"].result, outs["numpy"].result, spec.id)


# ------------------------------------------------------------------ fresh outputs


def _arrays(x):
    if isinstance(x, np.ndarray):
        yield x
    elif isinstance(x, dict):
        for v in x.values():
            yield from _arrays(v)
    elif isinstance(x, (tuple, list)):
        for v in x:
            yield from _arrays(v)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("spec", TABLE, ids=lambda s: s.id)
def test_outputs_are_fresh(spec, engine):
    """Results are new, writeable arrays: never a view of an input, never memory shared
    with another result of the same call or of an earlier call; in-place functions
    return None."""
    mod = ENGINES[engine]
    kw = make(spec, np.float64, np.random.default_rng(_seed(spec.id)))
    first = getattr(mod, spec.name)(**kw)
    second = getattr(mod, spec.name)(**kw)
    if spec.name.endswith("_"):  # updates in place
        assert first is None and second is None
        return
    inputs = [e for v in kw.values() for e in arrays_of(v)]
    outs1, outs2 = list(_arrays(first)), list(_arrays(second))
    assert outs1 and len(outs1) == len(outs2)
    for o in outs1:
        assert o.flags.writeable, "a result is read-only"
        assert not any(np.shares_memory(o, i) for i in inputs), "a result shares memory with an input"
        assert not any(np.shares_memory(o, p) for p in outs2), "results of two calls share memory"
    for o, p in itertools.combinations(outs1, 2):
        assert not np.shares_memory(o, p), "two results of one call share memory"


# ------------------------------------------------------- the core's size arithmetic

SIZES = [0, 1, 7, 300, 2**20, 2**31, 2**32 + 1, 2**33, 2**40, 2**62, 2**64 - 1]


def _core_fn(name, nargs):
    import ctypes

    import tinynet

    f = getattr(ctypes.CDLL(tinynet._core.__file__), name)
    f.restype, f.argtypes = ctypes.c_size_t, [ctypes.c_size_t] * nargs
    return f


def test_workspace_sizes_never_wrap():
    """The C core's workspace sizes (tinynet.h: tn_*_work, which the wrapper allocates
    from) never wrap around: for any sizes, even ones no array could have, each is
    SIZE_MAX (too large: MemoryError) or at least the largest buffer its kernel carves
    out -- and a GEMM is never given no workspace unless it is small."""
    SIZE_MAX = 2**64 - 1
    gemm = _core_fn("tn_gemm_work", 3)
    for M, N, K in itertools.product(SIZES, repeat=3):
        w = gemm(M, N, K)
        assert w > 0 or M * N * K <= 2**24, f"tn_gemm_work({M}, {N}, {K}) = 0 for a large GEMM"
        assert w == SIZE_MAX or w < 2**40, f"tn_gemm_work({M}, {N}, {K}) = {w}"
    lm = _core_fn("tn_rnn_lm_loss_work", 6)
    fwd, bwd = _core_fn("tn_rnn_forward_work", 4), _core_fn("tn_rnn_backward_work", 5)
    sample = _core_fn("tn_rnn_sample_work", 4)
    for T, B, D, H, V in itertools.product(SIZES[:1] + SIZES[2::2], repeat=5):
        TB = T * B
        for w, need in [(lm(T, B, D, H, V, 0), max(2 * TB * H, TB * V, D * H)),
                        (bwd(T, B, D, H, 0), max(TB * H, D * H)),
                        (fwd(T, B, D, H), 0),
                        (sample(B, D, H, V), max(2 * B * H, B * V))]:
            assert w == SIZE_MAX or need <= w, f"(T, B, D, H, V) = {(T, B, D, H, V)}: {w} < {need}"
    # attention: per thread, the logits (or dS) and one more T x T, and the head's operands
    import ctypes

    import tinynet

    lib = ctypes.CDLL(tinynet._core.__file__)
    for name, matrices, operands in (("tn_attention_forward_work", 2, 2), ("tn_attention_backward_work", 2, 4)):
        f = getattr(lib, name)
        f.restype, f.argtypes = ctypes.c_size_t, [ctypes.c_size_t] * 3 + [ctypes.c_int]
        for T, C, n_head, threads in itertools.product(SIZES[:1] + SIZES[1::2], SIZES[::2], [1, 3, 2**40], [1, 2, 64]):
            w = f(T, C, n_head, threads)
            need = threads * (matrices * T * T + operands * T * (C // n_head))
            assert w == SIZE_MAX or need <= w < 2**64, f"{name}(T={T}, C={C}, n_head={n_head}, threads={threads}) = {w}"
