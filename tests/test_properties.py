"""Property tests (hypothesis): for every public function, random calls -- random sizes
(0, 1 and odd ones included; now and then large enough for the packed, multi-threaded
GEMM paths), dtypes, values, memory layouts (Fortran, strided,
negative-stride, byte-swapped, misaligned, read-only, nested lists), integer dtypes,
valid and invalid ids, and now and then a bad layout for an in-place argument, a mixed
float dtype or a mismatched shape.  The C engine must give what the NumPy engine gives
(conftest.assert_close: 1e-10 for float64, 1e-4 for float32, relative to the scale), or
both must raise the same exception, one of ValueError / TypeError / IndexError /
MemoryError, with a message naming the function -- never anything else.  Neither engine
may change an input it does not promise to change.

The argument table is specs.TABLE (tests/specs.py: one description of every
function).  The optimizers' *_foreach_ draw their lists of tensors their own way
(list_drafts: each tensor its own shape and dtype, gradients None now and then).  Values keep the problems well-conditioned, so that float32 rounding is not
mistaken for a bug: O(1) values (on a grid of eighths, which makes ties and exact
cancellations common, or continuous, subnormals included), RNN weights scaled by
1/sqrt(fan-in).

Profiles (tests/conftest.py): HYPOTHESIS_PROFILE=ci (default) runs 40 examples per
function with a fixed seed; HYPOTHESIS_PROFILE=long runs 20,000 random ones each:

    HYPOTHESIS_PROFILE=long python -m pytest tests/test_properties.py --hypothesis-show-statistics
"""
import dataclasses
import math

import numpy as np
import pytest

import tinynet
from conftest import ENGINES, RTOL, assert_close

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

from specs import INPLACE, LISTS, TABLE  # noqa: E402 (the one argument table)

ALLOWED = (ValueError, TypeError, IndexError, MemoryError)
SPECS = {name: [s for s in TABLE if s.name == name] for name in tinynet.FUNCTIONS}
#: functions returning (loss, ...): the loss is compared on the scale of its terms
LOSSES = ("cross_entropy_forward", "rnn_lm_loss", "linear_cross_entropy")
INT_DTYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]
LAYOUTS = ["C", "F", "strided", "negative", "byteswapped", "misaligned", "readonly", "list", "scalar"]
# functions whose arguments all have one shape, of any number of dimensions
SAME_SHAPE = {"tanh_forward", "tanh_backward", "sigmoid_forward", "sigmoid_backward", "relu_forward",
              "relu_backward", "gelu_forward", "gelu_backward", "sgd_step_", "adagrad_step_", "adam_step_", "clip_"}


# ----------------------------------------------------------------------- layouts


def _misaligned(a):
    buf = np.zeros(a.nbytes + 1, np.uint8)[1:].view(a.dtype).reshape(a.shape)
    buf[...] = a
    return buf


def relayout(a, layout):
    """A fresh object holding a's values in the given memory layout."""
    if layout == "list":
        return a.tolist()
    if layout == "scalar" and a.ndim == 0:
        return a[()]  # a NumPy scalar (it brings its dtype, like an array)
    if layout == "F":
        return np.asfortranarray(a.copy())
    if layout == "strided" and a.ndim:
        return np.repeat(a, 2, axis=-1)[..., ::2]
    if layout == "negative" and a.ndim:
        return a[::-1].copy()[::-1]  # (a copy: each engine gets its own memory)
    if layout == "byteswapped":
        return a.astype(a.dtype.newbyteorder())
    if layout == "misaligned":
        return _misaligned(a)
    a = a.copy()
    if layout == "readonly":
        a.flags.writeable = False
    return a


# ---------------------------------------------------------------------- drawing


@dataclasses.dataclass
class Draft:
    """A drawn call: base arrays with their layouts, and the other arguments.  Each
    engine gets its own objects, built from the draft (call())."""

    spec: object
    dtype: type
    arrays: dict  # name -> (ndarray, layout)
    scalars: dict
    note: list  # what was made invalid on purpose (for the report)

    def kwargs(self, dtype=None):
        """Fresh arguments (float arrays in `dtype` if given, in the same layouts)."""
        kw = {}
        for name, (a, lay) in self.arrays.items():
            if lay == "entries":  # a list argument: [(ndarray or None, layout)]
                kw[name] = [None if e is None else relayout(e, el) for e, el in a]
                continue
            if a is not None and dtype is not None and a.dtype.kind == "f":
                a = a.astype(dtype)
            kw[name] = None if a is None else relayout(a, lay)
        kw.update(self.scalars)
        return kw


def _values(draw, shape, dtype, mode):
    """O(1) values: eighths in [-2, 2] (ties, exact sums), or continuous in [-2, 2]
    (subnormals included), or, for elementwise functions, wide in [-100, 100]."""
    if mode == "grid":
        k = draw(hnp.arrays(np.int8, shape, elements=st.integers(-16, 16)))
        return k.astype(dtype) / dtype(8)
    lim = 100.0 if mode == "wide" else 2.0
    width = 32 if dtype == np.float32 else 64
    return draw(hnp.arrays(dtype, shape, elements=st.floats(-lim, lim, width=width)))


def _scaled(name, v, sizes, spec, tokens):
    """Scale a weight so the RNN stays well-conditioned; keep documented ranges."""
    H, D = max(sizes.get("H", 1), 1), max(sizes.get("D", 1), 1)
    if name == "W_hh":
        return v / v.dtype.type(2 * math.sqrt(H))
    if name == "W_xh" and not tokens:
        return v / v.dtype.type(math.sqrt(D))
    if name == "W_hy":
        return v / v.dtype.type(math.sqrt(H))
    if name in ("hs", "dhs") or (name == "y" and spec.name == "tanh_backward"):
        return v / v.dtype.type(2)  # hs = tanh(...) lies in [-1, 1]
    if name == "y" and spec.name == "sigmoid_backward":
        return np.abs(v) / v.dtype.type(4)  # in [0, 1]
    if name in ("mem", "v", "running_var", "invstd"):
        return np.abs(v)
    return v


def _shapes(draw, spec, sizes):
    """Each array argument's shape."""
    if spec.name in SAME_SHAPE:
        shape = draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5))
        return {a.name: shape for a in spec.args}
    shapes = {a.name: a.shape(sizes) for a in spec.args}
    if spec.name == "softmax":  # any leading shape; rows of V (up to 48: the vectorised exp)
        lead = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5))
        shapes["logits"] = lead + (sizes["V"],)
    if spec.name in ("embedding_forward", "embedding_backward"):
        s = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4))
        shapes["idx"] = s
        if spec.name == "embedding_backward":
            shapes["dout"] = s + (sizes["E"],)
    return shapes


def _rare(draw, one_in):
    """True about once in `one_in` draws.  (Not `integers(0, n) == 0`: hypothesis favours
    0 and the ends of a range; this one shrinks to False.)"""
    return draw(st.integers(0, 4 * one_in - 1)) % one_in == 1


BAD_IDS = [lambda hi: hi, lambda hi: hi + 3, lambda hi: -1, lambda hi: 2**62, lambda hi: -(2**63),
           lambda hi: 2**64 - 1]


@st.composite
def drafts(draw, name):
    spec = draw(st.sampled_from(SPECS[name]))
    if any(a.kind in LISTS for a in spec.args):
        return draw(list_drafts(spec))
    dtype = draw(st.sampled_from([np.float64, np.float32]))
    sizes = {sym: 0 if _rare(draw, 10) else draw(st.integers(1, 6)) for sym in spec.sizes}
    if spec.name not in SAME_SHAPE and _rare(draw, 4):  # big enough for the packed, threaded GEMM paths
        sizes = {sym: draw(st.integers(1, 48)) for sym in spec.sizes}
        while max(math.prod(a.shape(sizes)) for a in spec.args) > 12_000:
            big = max(sizes, key=sizes.get)
            sizes[big] = (sizes[big] + 1) // 2
    if name == "rnn_sample" and not _rare(draw, 10):
        sizes["D"] = max(sizes["D"], sizes["V"])  # (V <= D: tokens are fed back as inputs)
    if name.startswith("attention") and sizes["n"] and sizes["C"] and not _rare(draw, 10):
        sizes["C"] = sizes["n"] * max(1, sizes["C"] // sizes["n"])  # (n_head divides C: the heads split it)
    shapes = _shapes(draw, spec, sizes)
    mode = draw(st.sampled_from(["grid", "smooth", "wide"] if name in SAME_SHAPE else ["grid", "smooth"]))
    if name in ("batchnorm_forward", "linear_batchnorm_tanh_forward", "layernorm_forward") and dtype == np.float32:
        # exact sums: a (nearly) constant column (layer norm: row) has variance ~0, and
        # 1 / sqrt(var + eps) then amplifies the rounding of its mean 300-fold -- float32
        # chaos, not a bug
        mode = "grid"
    tokens = any(a.kind == "i" and a.tokens for a in spec.args)
    arrays, note = {}, []
    for a in spec.args:
        shape = shapes[a.name]
        if a.optional and draw(st.booleans()):
            arrays[a.name] = (None, "C")
            continue
        if a.kind == "i":
            hi = sizes[a.hi] if a.hi in sizes else 0
            idt = np.dtype(draw(st.sampled_from(INT_DTYPES)))
            top = min(hi - 1, np.iinfo(idt).max)
            if top >= 0:
                v = draw(hnp.arrays(idt, shape, elements=st.integers(0, top)))
            else:
                v = np.zeros(shape, idt)  # no valid id: IndexError unless empty
            if v.size and _rare(draw, 12):  # an invalid id
                bad = draw(st.sampled_from(BAD_IDS))(hi)
                v = v.astype(np.uint64 if bad >= 2**63 else np.int64)
                v.flat[draw(st.integers(0, v.size - 1))] = bad
                note.append(f"{a.name} has id {bad}")
            layout = draw(st.sampled_from(LAYOUTS))
        else:
            v = np.asarray(_scaled(a.name, _values(draw, shape, dtype, mode), sizes, spec, tokens))
            layout = "C" if a.kind == "p" else draw(st.sampled_from(LAYOUTS))
            if a.kind == "p" and _rare(draw, 20):  # refused for in-place updates
                layout = draw(st.sampled_from(LAYOUTS[1:]))
                note.append(f"{a.name} is {layout}")
        arrays[a.name] = (v, layout)
    # now and then a mixed float dtype or a wrong shape
    floats = [n for n, (v, _) in arrays.items() if v is not None and v.dtype.kind == "f"]
    if floats and _rare(draw, 20):
        n = draw(st.sampled_from(floats))
        v, lay = arrays[n]
        arrays[n] = (v.astype(np.float32 if v.dtype == np.float64 else np.float64), lay)
        note.append(f"{n} is {arrays[n][0].dtype}")
    present = [n for n, (v, _) in arrays.items() if v is not None]
    if present and _rare(draw, 20):
        n = draw(st.sampled_from(present))
        v, lay = arrays[n]
        how = draw(st.sampled_from(["stack", "drop", "grow"]))
        if how == "stack":
            v = np.stack([v, v])
        elif how == "drop" and v.ndim:
            v = np.ascontiguousarray(v[0]) if v.shape[0] else np.zeros(v.shape[1:], v.dtype)
        elif v.ndim:
            ax = draw(st.integers(0, v.ndim - 1))
            v = np.resize(v, v.shape[:ax] + (v.shape[ax] + 1,) + v.shape[ax + 1:])
        arrays[n] = (v, lay)
        note.append(f"{n} reshaped to {v.shape}")
    scalars = _scalars(draw, spec, sizes, note)
    return Draft(spec, dtype, arrays, scalars, note)


def _scalars(draw, spec, sizes, note):
    """The non-array arguments: documented values, now and then a bad one."""
    s = dict(spec.scalars(sizes))
    bad = _rare(draw, 25)
    if "reduction" in s:
        s["reduction"] = draw(st.sampled_from(["mean", "sum"]))
    if "bptt_steps" in s:
        T = sizes["T"]
        s["bptt_steps"] = draw(st.sampled_from([None, 1, 2, 3, T + 1, max(T, 1)]))
    if "num_embeddings" in s and bad:
        s["num_embeddings"] = draw(st.sampled_from([-1, max(sizes["V"] - 1, 0), 2.0]))
    if "eps" in s:
        s["eps"] = draw(st.sampled_from([1e-5, 1e-3, 0.1, 1.0]))
    if "correction" in s:
        s["correction"] = draw(st.sampled_from([0, 0, 1]))
    if spec.name == "rnn_sample":
        s["temperature"] = draw(st.sampled_from([1.0, 0.5, 2.0, 0.05]))
        s["greedy"] = draw(st.booleans())
        s["seed"] = draw(st.integers(-(2**63), 2**64 - 1))
    if "lr" in s:
        s["lr"] = draw(st.sampled_from([0.1, 1e-3, 0.5, 0.0]))
    if spec.name == "adagrad_step_":
        s["eps"] = draw(st.sampled_from([1e-8, 1e-3, 0.1]))
    if spec.name == "adam_step_":
        s["t"] = draw(st.integers(1, 50))
        s["beta1"] = draw(st.sampled_from([0.9, 0.0, 0.5, 0.99]))
        s["beta2"] = draw(st.sampled_from([0.999, 0.9, 0.0]))
        s["eps"] = draw(st.sampled_from([1e-8, 1e-3]))
        s["weight_decay"] = draw(st.sampled_from([0.0, 0.01, 0.1]))
    if spec.name == "clip_":
        lo = draw(st.integers(-16, 16)) / 8
        s["lo"], s["hi"] = lo, lo + draw(st.integers(0, 16)) / 8
    if bad:
        for k, v in [("bptt_steps", 0), ("reduction", "avg"), ("eps", None), ("correction", -1), ("n", -1),
                     ("temperature", 0.0), ("lr", "fast"), ("t", 0), ("hi", -9.0)]:
            if k in s:
                s[k] = v
                note.append(f"{k}={v!r}")
                break
    return s


# ----------------------------------------------- the optimizers' lists of tensors

#: The *_foreach_ functions' hyperparameters: documented values, and the edges
HYPER = {"lr": [0.1, 1e-3, 0.5, 0.0], "momentum": [0.0, 0.9, 0.5], "dampening": [0.0, 0.0, 0.1],
         "weight_decay": [0.0, 0.01, 0.1], "nesterov": [False, False, True], "beta1": [0.9, 0.0, 0.5],
         "beta2": [0.999, 0.9, 0.0], "eps": [1e-8, 1e-3, 1e-10, 0.0], "decoupled": [True, False],
         "lr_decay": [0.0, 0.1]}
FOREACH_HYPER = {"sgd_foreach_": ["lr", "momentum", "dampening", "weight_decay", "nesterov"],
                 "adam_foreach_": ["lr", "beta1", "beta2", "eps", "weight_decay", "decoupled"],
                 "adagrad_foreach_": ["lr", "eps", "weight_decay", "lr_decay"]}
BAD_HYPER = [("lr", -0.1), ("momentum", math.nan), ("beta1", 1.0), ("eps", -1.0), ("lr_decay", math.inf),
             ("weight_decay", "a lot")]


@st.composite
def list_drafts(draw, spec):
    """A *_foreach_ call: 0 to 4 tensors, each its own shape (0-d and empty ones included)
    and dtype, its gradient None now and then, given in any layout (the in-place arrays
    C-contiguous); steps from 0 (a first step) up.  Now and then something bad: an
    in-place entry in another layout, an entry in the other dtype or another shape, a
    list one entry short, steps negative or of another dtype."""
    K = draw(st.integers(0, 4))
    shapes = [draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5)) for _ in range(K)]
    dtypes = [draw(st.sampled_from([np.float64, np.float32])) for _ in range(K)]
    mode = draw(st.sampled_from(["grid", "smooth"]))
    arrays, note = {}, []
    for a in spec.args:
        if a.kind == "n":
            arrays[a.name] = (np.array([draw(st.integers(0, 5)) for _ in range(K)], np.int64), "C")
            continue
        entries = []
        for i in range(K):
            if a.kind == "F" and _rare(draw, 5):
                entries.append((None, "C"))  # a parameter without a gradient: skipped
                continue
            v = np.asarray(_values(draw, shapes[i], dtypes[i], mode))
            v = np.asarray(np.abs(v)) if a.name in ("vs", "sums") else v  # (0-d: an array, not a scalar)
            entries.append((v, "C" if a.kind == "P" else draw(st.sampled_from(LAYOUTS))))
        arrays[a.name] = (entries, "entries")
    _spoil(draw, spec, arrays, note)
    s = dict(spec.scalars(spec.sizes))
    for k in FOREACH_HYPER[spec.name]:
        s[k] = draw(st.sampled_from(HYPER[k]))
    if _rare(draw, 25):
        k, v = draw(st.sampled_from([(k, v) for k, v in BAD_HYPER if k in s]))
        s[k] = v
        note.append(f"{k}={v!r}")
    return Draft(spec, np.float64, arrays, s, note)


def _spoil(draw, spec, arrays, note):
    """Now and then one bad thing in a list draft."""
    lists = [n for n, (v, lay) in arrays.items() if lay == "entries" and v]
    if not lists or not _rare(draw, 5):
        return
    name = draw(st.sampled_from(lists))
    entries = arrays[name][0]
    i = draw(st.integers(0, len(entries) - 1))
    v, lay = entries[i]
    how = draw(st.sampled_from(["layout", "dtype", "shape", "short", "steps"]))
    if how == "steps" and "steps" in arrays:
        steps = arrays["steps"][0].copy()
        steps = steps.astype(np.int32) if draw(st.booleans()) else steps
        steps[i] = -1 if steps.dtype == np.int64 else steps[i]
        arrays["steps"] = (steps, "C")
    elif how == "short":
        arrays[name] = (entries[:-1], "entries")
    elif v is None:
        return
    elif how == "layout":
        entries[i] = (v, draw(st.sampled_from(LAYOUTS[1:])))
    elif how == "dtype":
        entries[i] = (v.astype(np.float32 if v.dtype == np.float64 else np.float64), lay)
    else:
        entries[i] = (np.stack([v, v]), lay)
    note.append(f"{name}[{i}]: {how}")


def check_lists(draft, c, n):
    """A *_foreach_ call: the same error, or the same updates (each tensor within its own
    dtype's tolerance) and the gradients untouched."""
    if c.error is not None or n.error is not None:
        return _check_errors(draft, c, n)
    assert c.result is None and n.result is None
    fresh = draft.kwargs()
    for a in draft.spec.args:
        if a.kind in INPLACE:  # (native byte order: entries an unused argument takes as they are)
            native = lambda v: [e.astype(e.dtype.newbyteorder("=")) for e in v] if isinstance(v, list) else v  # noqa
            assert_close(native(c.kw[a.name]), native(n.kw[a.name]), f"{draft.spec.name}: {a.name} after the update",
                         min_scale=1.0)
        for out in (c, n):
            if a.kind not in INPLACE:
                for got, was in zip(out.kw[a.name], fresh[a.name]):
                    assert got is None or np.array_equal(got, was, equal_nan=True), f"{a.name} was modified"


# ----------------------------------------------------------------------- checking


@dataclasses.dataclass
class Outcome:
    kw: dict
    result: object = None
    error: BaseException = None


def call(mod, draft, dtype=None):
    kw = draft.kwargs(dtype)
    try:
        return Outcome(kw, result=getattr(mod, draft.spec.name)(**kw))
    except Exception as e:  # noqa: BLE001 (every exception type is checked)
        return Outcome(kw, error=e)


def _same_structure(a, b, where="result"):
    assert type(a) is type(b) or (isinstance(a, float) and isinstance(b, float)), (
        f"{where}: C gives {type(a).__name__}, NumPy {type(b).__name__}")
    if isinstance(a, dict):
        assert sorted(a) == sorted(b), where
        for k in a:
            _same_structure(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, (tuple, list)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _same_structure(x, y, f"{where}[{i}]")


def _call_dtype(kw):
    """The documented result dtype: that of the float ndarrays and NumPy scalars (float64
    if none); np.float64 scalars are Python floats and take the call's dtype."""
    for v in kw.values():
        if isinstance(v, (np.ndarray, np.generic)) and not isinstance(v, float) and v.dtype.kind == "f":
            return np.dtype(v.dtype.type)
    return np.dtype(np.float64)


def _terms(draft):
    """How many loss terms a scalar loss adds up (its scale, for the comparison)."""
    kw = draft.arrays
    if draft.spec.name == "cross_entropy_forward":
        return max(kw["logits"][0].shape[0], 1) * 4
    if draft.spec.name == "linear_cross_entropy":
        return max(kw["x"][0].shape[0], 1) * 4
    if draft.spec.name == "rnn_lm_loss":
        return max(kw["inputs"][0].size, 1) * 4
    return 1


def check_sample(draft, got, want, dtype):
    """rnn_sample: the same tokens, unless a near-tie (float rounding decides between
    two tokens whose probabilities or logits are equal to the last bits) -- then every
    token the C engine chose must be a right choice, given its own previous tokens,
    with the NumPy engine's float64 arithmetic and the same random draws."""
    if np.array_equal(got, want):
        return
    kw = {k: (None if v is None else np.asarray(v, np.float64) if k not in ("token",) else np.asarray(v))
          for k, v in draft.kwargs().items() if k in draft.arrays}
    s = draft.scalars
    tol = 1e-4 if dtype == np.float32 else 1e-9
    W_xh, W_hh, b_h, W_hy, b_y = (kw[k] for k in ("W_xh", "W_hh", "b_h", "W_hy", "b_y"))
    tok = np.asarray(kw["token"], np.int64).reshape(-1)
    B, H = tok.size, W_hh.shape[0]
    h = np.zeros((B, H)) if kw.get("h0") is None else kw["h0"].reshape(B, H)
    g = got.reshape(got.shape[0], B)
    rng = tinynet.reference.SplitMix64(s["seed"])
    for i in range(g.shape[0]):
        h = np.tanh(W_xh[:, tok].T + h @ W_hh.T + b_h)
        logits = (h @ W_hy.T + b_y) / s["temperature"]
        for b in range(B):
            lb, c = logits[b], int(g[i, b])
            scale = 1 + np.max(np.abs(lb))
            if s["greedy"]:
                assert lb[c] >= lb.max() - tol * scale, f"step {i}, sequence {b}: token {c} is not the argmax"
            else:
                p = np.exp(lb - lb.max())
                p /= p.sum()
                u, cdf = rng.uniform(), np.concatenate([[0.0], np.cumsum(p)])
                assert cdf[c] - tol <= u < cdf[c + 1] + tol or (u >= cdf[-1] - tol and p[c] > 0), (
                    f"step {i}, sequence {b}: token {c} does not hold u = {u} (cdf {cdf})")
        tok = g[i]


def _check_errors(draft, c, n):
    """The same exception type in both engines, one of ALLOWED, its message naming the function."""
    for name, out in (("C", c), ("NumPy", n)):
        if out.error is not None and not isinstance(out.error, ALLOWED):
            raise AssertionError(f"{name} engine raised {type(out.error).__name__}") from out.error
    assert type(c.error) is type(n.error), (
        f"C: {type(c.error).__name__}: {c.error}; NumPy: {type(n.error).__name__}: {n.error}; {draft.note}")
    for out in (c, n):
        msg = str(out.error)
        assert isinstance(out.error, MemoryError) or msg.startswith(f"{draft.spec.name}: ") or \
            "array is too big" in msg, msg


def check(draft, c, n):
    fn = draft.spec.name
    if any(a.kind in LISTS for a in draft.spec.args):
        return check_lists(draft, c, n)
    if c.error is not None or n.error is not None:
        return _check_errors(draft, c, n)
    # both worked
    _same_structure(c.result, n.result)
    dtype = _call_dtype(c.kw)
    inplace = [a.name for a in draft.spec.args if a.kind == "p"]
    rtol = RTOL[dtype]
    if fn == "rnn_sample":
        assert c.result.dtype == np.int64
        check_sample(draft, c.result, n.result, dtype)
    else:
        got, want = c.result, n.result
        if fn in LOSSES:  # the loss: a sum of terms of size ~1
            assert_close(got[0], want[0], f"{fn}: loss", rtol=rtol, min_scale=float(_terms(draft)))
            got, want = got[1:], want[1:]
        # arrays: relative to their scale, or to a floor where they cancel to ~0 (the inputs
        # are ~1; float64 results are sums of many such terms)
        try:
            assert_close(got, want, fn, rtol=rtol, min_scale=0.1 if dtype == np.float32 else 1.0)
        except AssertionError:
            if dtype != np.float32:
                raise
            # a long float32 sum that cancels: then the C engine must be as close to the
            # exact result (float64 arithmetic on the same inputs) as the NumPy engine is
            exact = call(ENGINES["numpy"], draft, np.float64).result
            _as_accurate(got, want, exact[1:] if fn in LOSSES else exact, fn)
        for arr in _floats(c.result):
            assert arr.dtype == dtype, f"result dtype {arr.dtype}, expected {dtype}"
    for k in inplace:
        assert_close(c.kw[k], n.kw[k], f"{fn}: {k} after the update", rtol=rtol, min_scale=1.0)
    # nothing else changed, in either engine
    fresh = draft.kwargs()
    for out in (c, n):
        for k, v in out.kw.items():
            if k not in inplace and isinstance(v, np.ndarray):
                assert np.array_equal(v, fresh[k], equal_nan=True), f"{fn} modified {k}"


def _errors(r, e):
    """|r - e| elementwise for a result r against the exact e (float64), where e is
    finite: where e is beyond r's dtype (it rounds to +-inf there, as a float32 sum of
    gradients that overflow), 0 for that infinity and inf for anything else; a NaN result
    is infinitely wrong."""
    keep = np.isfinite(e)
    e = e[keep].astype(np.float64)
    with np.errstate(over="ignore"):
        rounded = e.astype(r.dtype)
    r = r[keep].astype(np.float64)
    with np.errstate(invalid="ignore"):
        err = np.where(np.isinf(rounded), np.where(r == rounded, 0.0, np.inf), np.abs(r - e))
    return np.where(np.isnan(err), np.inf, err), np.abs(e[np.isfinite(rounded)])


def _as_accurate(got, want, exact, name):
    """got (C) is no further from exact than want (NumPy) is, give or take a factor 4,
    in every float array (max-norm errors; _errors)."""
    for g, w, e in zip(_floats(got), _floats(want), _floats(exact)):
        err_c, magnitudes = _errors(g, e)
        err_n, _ = _errors(w, e)
        err_c, err_n = np.max(err_c, initial=0.0), np.max(err_n, initial=0.0)
        scale = np.max(magnitudes, initial=0.0)
        assert err_c <= 4 * err_n + 1e-6 * scale, (
            f"{name}: the C engine is off by {err_c:.3e} from the exact result, NumPy by {err_n:.3e} "
            f"(scale {scale:.3e})")


def _floats(x):
    if isinstance(x, np.ndarray):
        if x.dtype.kind == "f":
            yield x
    elif isinstance(x, dict):
        for k in sorted(x):
            yield from _floats(x[k])
    elif isinstance(x, (tuple, list)):
        for v in x:
            yield from _floats(v)


@pytest.mark.parametrize("name", tinynet.FUNCTIONS)
@hypothesis.given(data=st.data())
def test_c_engine_matches_numpy_engine(name, data):
    draft = data.draw(drafts(name), label="call")
    hypothesis.note(f"deliberately bad: {draft.note}")
    hypothesis.event("raises" if draft.note else "valid")
    c = call(ENGINES["c"], draft)
    n = call(ENGINES["numpy"], draft)
    hypothesis.event("both raised" if c.error is not None and n.error is not None else "both worked"
                     if c.error is None and n.error is None else "engines differ")
    check(draft, c, n)


def test_a_float32_overflow_to_the_exact_results_infinity_is_as_accurate_as_can_be():
    """A float32 result whose exact value lies beyond float32 (gradients that grow through
    21 steps of a GRU) is best as the infinity the exact value rounds to: the C engine's
    -inf there is no worse than the NumPy engine's NaN (found by the property test above);
    a NaN where the other engine has that infinity, or a finite value where it is right,
    is worse."""
    f32, T, B, H = np.float32, 21, 9, 11
    gates = np.full((T, B, 3 * H), -1.8125, f32)
    gates[0, 1, 22] = 0
    args = (np.ones((T, B, H), f32), np.zeros((T, B, 1), f32), np.full((B, H), 2, f32), np.full((T, B, H), 0.5, f32),
            gates, np.full((T, B, H), -1.4375, f32), np.zeros((3 * H, 1), f32), np.full((3 * H, H), 0.1319112, f32))
    got = ENGINES["c"].gru_backward(*args)
    want = ENGINES["numpy"].gru_backward(*args)
    exact = ENGINES["numpy"].gru_backward(*(a.astype(np.float64) for a in args))
    assert exact[3][0, 0] < -np.finfo(f32).max and got[3][0, 0] == -np.inf
    _as_accurate(got, want, exact, "gru_backward")
    e = np.array([-6e39, 1.0, 2.0])
    inf_c, nan_n = np.array([-np.inf, 1, 2], f32), np.array([np.nan, 1, 2], f32)
    _as_accurate(inf_c, nan_n, e, "f")
    with pytest.raises(AssertionError, match="off by inf"):
        _as_accurate(nan_n, inf_c, e, "f")
    with pytest.raises(AssertionError, match="off by inf"):
        _as_accurate(np.array([-np.inf, np.nan, 2], f32), np.array([-np.inf, 1, 2], f32), e, "f")
    with pytest.raises(AssertionError, match="off by 1.000e"):
        _as_accurate(np.array([-np.inf, 2, 2], f32), np.array([-np.inf, 1, 2], f32), e, "f")
