"""No leaks: the C engine's wrapper releases every reference and every buffer it takes.

* Reference counts: after many successful and failing calls of every function (from the
  function specs, tests/specs.py, and test_errors.py's bad-input matrix), with inputs
  that are borrowed on the fast path (C-contiguous ndarrays of the call's dtype),
  converted (lists, Fortran and byte-swapped arrays, integer arrays of other dtypes) or
  scalars, every input's reference count is what it was, and every result is referenced
  only by its caller.
* Memory: in a fresh interpreter, a million successful calls and a hundred thousand
  failing ones (all functions, every kind of input) leave the resident set size flat;
  traced allocations (tracemalloc, which sees Python objects, NumPy's array buffers and
  the wrapper's workspace) are flat per function.  An even longer run is marked slow.
"""
import inspect
import os
import subprocess
import sys

import numpy as np
import pytest

import tinynet
from specs import TABLE, make
from test_errors import CASES

SANITIZER = bool(os.environ.get("TINYNET_SANITIZER"))


def _variants(spec, kw):
    """kw, and kw with its arguments given in ways the wrapper must convert."""
    yield "borrowed", kw
    conv = dict(kw)
    kinds = [a.kind for a in spec.args]
    # (lists take float64 unless an array fixes the dtype first: the running statistics, in
    # place and after them, must match it -- so the first float argument stays an array)
    keep = "f" in kinds and "p" in kinds[kinds.index("f"):]
    for a in spec.args:
        v = kw[a.name]
        if a.kind == "f" and keep:
            keep = False
        elif a.kind == "f":
            conv[a.name] = v.tolist()
        elif a.kind == "F":  # the gradients of the optimizers' *_foreach_: each converted
            conv[a.name] = [e.tolist() for e in v]
        elif a.kind == "i":
            conv[a.name] = v.astype(np.int32)
    yield "lists", conv
    other = dict(kw)
    swapped = lambda v: np.asfortranarray(v) if v.ndim >= 2 else v.astype(v.dtype.newbyteorder())  # noqa: E731
    for a in spec.args:
        v = kw[a.name]
        if a.kind == "f":
            other[a.name] = swapped(v)
        elif a.kind == "F":
            other[a.name] = [swapped(e) for e in v]
        elif a.kind == "i":
            other[a.name] = v.astype(v.dtype.newbyteorder())
    yield "converted", other


def _refcounts(kw):
    out = {}
    for k, v in kw.items():
        if not isinstance(v, (np.ndarray, np.generic, list, float)):
            continue  # small ints, None, interned strings: shared with everyone
        out[k] = sys.getrefcount(v)
        if isinstance(v, list):  # and the rows of nested lists
            out[k, "rows"] = [sys.getrefcount(r) for r in v]
    return out


def _held_once(x, where="result"):
    """x and everything in it is referenced by its container (or the caller) alone."""
    if x is None:
        return
    # one reference from the caller or the container, one from getrefcount's argument;
    # the dict's values are also referenced by the iteration below
    assert sys.getrefcount(x) <= 3, f"{where} has {sys.getrefcount(x)} references"
    if isinstance(x, dict):
        for k in list(x):
            _held_once(x[k], f"{where}[{k!r}]")
    elif isinstance(x, tuple):
        for i in range(len(x)):
            _held_once(x[i], f"{where}[{i}]")


@pytest.mark.parametrize("spec", TABLE, ids=lambda s: s.id)
def test_refcounts_after_successful_calls(spec):
    fn = getattr(tinynet, spec.name)
    params = inspect.signature(fn).parameters
    for dtype in (np.float64, np.float32):
        for label, kw in _variants(spec, make(spec, dtype, np.random.default_rng(0))):
            kw = {k: kw[k] if k in kw else p.default for k, p in params.items()}
            before = _refcounts(kw)
            for _ in range(50):
                r = fn(**kw)
                _held_once(r)
                del r
                r = fn(*[kw[k] for k in params])  # positional: the other parsing path
                del r
            assert _refcounts(kw) == before, f"{label} inputs, {np.dtype(dtype).name}"


@pytest.mark.parametrize("spec", TABLE, ids=lambda s: s.id)
def test_refcounts_after_failing_calls(spec):
    """Every case of the bad-input matrix for this function: the inputs' reference
    counts do not change, however the call fails."""
    fn = getattr(tinynet, spec.name)
    cases = [c for c in CASES if c.spec is spec and c.exc is not None]
    assert cases
    for case in cases:
        kw = make(spec, case.dtype, np.random.default_rng(1))
        case.build(kw)
        before = _refcounts(kw)
        for _ in range(5):
            with pytest.raises(case.exc):
                fn(**kw)
        assert _refcounts(kw) == before, case.id


# -------------------------------------------------------------------- memory growth

SCRIPT = r"""
import gc, os, sys, time, tracemalloc
import numpy as np
sys.path.insert(0, {tests!r})
import tinynet
from specs import TABLE, make
from test_errors import CASES
from test_leaks import _variants

N_OK, N_BAD, PER_FN = {n_ok}, {n_bad}, {per_fn}

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

good = []  # (name, fn, kwargs): every function, borrowed / list / converted inputs, both dtypes
for spec in TABLE:
    for dtype in (np.float64, np.float32):
        for _, kw in _variants(spec, make(spec, dtype, np.random.default_rng(0))):
            good.append((spec.name, getattr(tinynet, spec.name), kw))
bad = []
for case in CASES:
    if case.exc is not None:
        kw = make(case.spec, case.dtype, np.random.default_rng(1))
        case.build(kw)
        bad.append((case.spec.name, getattr(tinynet, case.spec.name), kw))

def run_good(n, calls):
    done = 0
    while done < n:
        for _, fn, kw in calls:
            fn(**kw)
        done += len(calls)
    return done

def run_bad(n, calls):
    done = 0
    while done < n:
        for _, fn, kw in calls:
            try:
                fn(**kw)
            except Exception:
                pass
        done += len(calls)
    return done

# warm up (NumPy's caches, the thread team, lazily built objects), then measure
run_good(20 * len(good), good)
run_bad(2 * len(bad), bad)
gc.collect()
objects0, rss0 = len(gc.get_objects()), rss()
t0 = time.perf_counter()
n_ok = run_good(N_OK, good)
n_bad = run_bad(N_BAD, bad)
took = time.perf_counter() - t0
gc.collect()
objects1, rss1 = len(gc.get_objects()), rss()
print("RSS", n_ok, n_bad, rss0, rss1, objects0, objects1, round(took, 2))

# traced allocations, one function at a time: after a warm-up, two equal rounds of
# calls; a leak grows the traced memory in both, one-off allocations (caches, interned
# strings, the first traceback of a kind) in the first at most -- the second is reported
tracemalloc.start()
for name in tinynet.FUNCTIONS:
    g = [c for c in good if c[0] == name]
    b = [c for c in bad if c[0] == name]
    run_good(PER_FN // 2, g), run_bad(PER_FN // 8, b)
    gc.collect()
    m0 = tracemalloc.get_traced_memory()[0]
    run_good(PER_FN, g), run_bad(PER_FN // 4, b)
    gc.collect()
    m1 = tracemalloc.get_traced_memory()[0]
    run_good(PER_FN, g), run_bad(PER_FN // 4, b)
    gc.collect()
    m2 = tracemalloc.get_traced_memory()[0]
    print("TRACED", name, m1, m2)
"""


def _measure(n_ok, n_bad, per_fn):
    tests = os.path.dirname(os.path.abspath(__file__))
    code = SCRIPT.format(tests=tests, n_ok=n_ok, n_bad=n_bad, per_fn=per_fn)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=1800)
    assert out.returncode == 0, out.stderr[-3000:]
    rss_line = next(line for line in out.stdout.splitlines() if line.startswith("RSS"))
    _, n_ok_done, n_bad_done, rss0, rss1, obj0, obj1, took = rss_line.split()
    traced = {}
    for line in out.stdout.splitlines():
        if line.startswith("TRACED"):
            _, name, m0, m1 = line.split()
            traced[name] = int(m1) - int(m0)
    return int(n_ok_done), int(n_bad_done), int(rss1) - int(rss0), int(obj1) - int(obj0), float(took), traced


def _check(n_ok, n_bad, per_fn):
    if not sys.platform.startswith("linux"):
        pytest.skip("reads the resident set size from /proc")
    done_ok, done_bad, grew, objects, took, traced = _measure(n_ok, n_bad, per_fn)
    assert done_ok >= n_ok and done_bad >= n_bad
    print(f"{done_ok} good and {done_bad} failing calls in {took} s: RSS {grew / 2**20:+.2f} MiB, "
          f"{objects:+d} gc objects; traced per function: {traced}")
    # a leaked reference to anything (the smallest Python object is 16 bytes) in any
    # one of the ~100 kinds of call would add megabytes
    assert abs(objects) < 100, f"{objects} more objects tracked by the garbage collector"
    if not SANITIZER:  # (ASan's allocator keeps freed memory in quarantine)
        assert grew < 2 * 2**20, f"the resident set grew by {grew / 2**20:.1f} MiB"
    for name, growth in traced.items():
        assert growth < 16 * 2**10, f"{name}: {growth} more bytes traced after {per_fn} calls"


def test_memory_is_flat():
    """A million successful calls and a hundred thousand failing ones."""
    _check(1_000_000, 100_000, 5_000)


@pytest.mark.slow
def test_memory_is_flat_long():
    _check(20_000_000, 2_000_000, 100_000)
