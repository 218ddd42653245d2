"""The function specifications: one `Fn` for every public function (and one for each
other way of calling it -- unbatched, token ids), from which the matrices are generated.

Each spec gives the function's array arguments (kind, shape in size symbols, value
range, what else is accepted), its small valid sizes, its other arguments and its own
bad scalars.  The optimizers' *_foreach_ take lists of arrays, one per tensor (kinds "P"
and "F": each entry shaped by its own symbols, the list's length a size symbol) and an
int64 array of step counts (kind "n"); the matrices give lists their own cases (not a
list, the wrong length, each bad entry named as "params[1]") where an array's do not
apply.  `make(spec, dtype, rng)` gives valid keyword arguments for it.  From
TABLE come the bad-input matrix, zero sizes, memory layouts, NaN / inf and huge
dimensions (tests/test_errors.py), the hypothesis properties (test_properties.py), the
thread tests (test_threads.py), the leak tests (test_leaks.py) and the recorded bits
(test_bits.py, tests/bits.json).

The specs are laid out as the code is: a section per layer (csrc/tn_<layer>.c,
tinynet/reference/<layer>.py), BY_LAYER[<layer>], in the order of
tinynet._core.FUNCTIONS; TABLE is all of them in that order.  A new function's spec goes
in its layer's section (tests/test_layout.py checks that every function has one, there).
"""
import dataclasses
import math
from typing import Callable

import numpy as np

# -------------------------------------------------------------- the spec language


@dataclasses.dataclass(frozen=True)
class Arg:
    name: str
    kind: str  # "f": float array; "i": integer array; "p": float array updated in place; the lists of
    #            the optimizers' *_foreach_ (one entry per tensor): "P" of "p" arrays, "F" of "f" arrays
    #            (None entries accepted: the grads); "n": int64 counters updated in place (steps)
    dims: tuple  # size symbols, one per dimension ("4H": 4 times H, the LSTM's gate blocks); a list's: its length
    hi: str = None  # "i": values lie in [0, sizes[hi])
    ndims: frozenset = None  # ndims accepted with the other arguments unchanged
    optional: bool = False  # None is documented as accepted
    tokens: bool = False  # "f" that takes integer token ids instead, or "i" float inputs instead (the RNN's x)
    items: tuple = None  # "P", "F": each entry's dims, entry i shaped as items[i % len(items)]
    none_raises: type = TypeError  # what None raises when it is not optional

    @property
    def ok_ndims(self):
        return self.ndims if self.ndims is not None else frozenset([len(self.dims)])

    def shape(self, sizes):
        """The argument's shape for the given sizes (a list's: its length, as a 1-tuple)."""
        return _shape(self.dims, sizes)

    def item_shapes(self, sizes):
        """A list's entries' shapes."""
        return [_shape(self.items[i % len(self.items)], sizes) for i in range(self.shape(sizes)[0])]


def _shape(dims, sizes):
    return tuple(int(d[:-1]) * sizes[d[-1]] if d[0].isdigit() else sizes[d] for d in dims)


INPLACE = frozenset("pPn")  # the kinds updated in place
LISTS = frozenset("PF")  # the kinds that are lists of arrays


def F(name, dims, **kw):
    return Arg(name, "f", tuple(dims.split()), **kw)


def I(name, dims, hi, **kw):  # noqa: E743 (I for integer)
    return Arg(name, "i", tuple(dims.split()), hi=hi, **kw)


def P(name, dims, **kw):
    return Arg(name, "p", tuple(dims.split()), **kw)


def PL(name, length, items, **kw):
    """A list of `length` arrays updated in place, shaped as `items` in turn."""
    return Arg(name, "P", (length,), items=tuple(tuple(d.split()) for d in items), **kw)


def FL(name, length, items, **kw):
    """A list of `length` float array-likes (None entries accepted), shaped as `items` in turn."""
    return Arg(name, "F", (length,), items=tuple(tuple(d.split()) for d in items), **kw)


def N(name, dims, **kw):
    """int64 counters updated in place."""
    return Arg(name, "n", tuple(dims.split()), **kw)


ANY_NDIM = frozenset(range(5))


@dataclasses.dataclass
class Fn:
    name: str
    args: list
    sizes: dict
    scalars: Callable = lambda s: {}  # the non-array arguments, from the sizes
    bad: list = ()  # (label, updates dict or fn(kw), exception, needles): bad scalars and combinations
    zero_raises: dict = dataclasses.field(default_factory=dict)  # size symbol -> exception when it is 0
    variant: str = ""

    @property
    def id(self):
        return self.name + (f"[{self.variant}]" if self.variant else "")

    def arg(self, name):
        return next(a for a in self.args if a.name == name)


def make(spec, dtype, rng, sizes=None):
    """Valid keyword arguments of spec's function in `dtype`."""
    s = spec.sizes if sizes is None else sizes
    kw = {}
    for a in spec.args:
        shape = a.shape(s)
        if a.kind == "i":
            hi = s[a.hi]
            kw[a.name] = rng.integers(0, hi, shape) if hi else np.zeros(shape, np.int64)
        elif a.kind in LISTS:
            kw[a.name] = [rng.uniform(0.1, 0.9, sh).astype(dtype) for sh in a.item_shapes(s)]
        elif a.kind == "n":
            kw[a.name] = rng.integers(0, 3, shape).astype(np.int64)
        else:
            kw[a.name] = rng.uniform(0.1, 0.9, shape).astype(dtype)
    kw.update(spec.scalars(s))
    return kw


def copy_args(kw):
    """Fresh copies of kw's arrays (in lists too), for a call that updates them in place."""
    return {k: [e.copy() if isinstance(e, np.ndarray) else e for e in v] if isinstance(v, (list, tuple))
            else v.copy() if isinstance(v, np.ndarray) else v for k, v in kw.items()}


def arrays_of(v):
    """The arrays an argument is: itself, or a list's entries."""
    if isinstance(v, np.ndarray):
        return [v]
    if isinstance(v, (list, tuple)):
        return [e for e in v if isinstance(e, np.ndarray)]
    return []


def inplace_outputs(spec, kw):
    """The arrays spec's function updates in place, flattened (lists entry by entry)."""
    return [e for a in spec.args if a.kind in INPLACE for e in arrays_of(kw[a.name])]


# ----------------------------------------------- bad scalars several layers share


def _reduction_bad():
    return [
        ("reduction=max", {"reduction": "max"}, ValueError, ["reduction", "'max'"]),
        ("reduction=None", {"reduction": None}, ValueError, ["reduction", "None"]),
    ]


def _correction_bad():
    return [
        ("correction=-1", {"correction": -1}, ValueError, ["correction", "-1"]),
        ("correction=N", {"correction": 3}, ValueError, ["correction=3", "(3, 4)"]),
        ("correction=N+1", {"correction": 4}, ValueError, ["correction=4", "(3, 4)"]),
        ("correction=1.0", {"correction": 1.0}, TypeError, ["correction", "float"]),
        ("correction=None", {"correction": None}, TypeError, ["correction", "NoneType"]),
    ]


def _eps_bad():
    return [
        ("eps=None", {"eps": None}, TypeError, ["eps", "NoneType"]),
        ("eps=str", {"eps": "tiny"}, TypeError, ["eps", "str"]),
    ] + _nonneg_bad("eps")


def _nonneg_bad(name):
    """The one rule for eps, lr and weight_decay: a finite number >= 0 (README,
    "Hyperparameters"); 0 itself is accepted."""
    must = f"{name} must be a finite number >= 0"
    return [
        (f"{name}=-1", {name: -1.0}, ValueError, [must, "got -1.0"]),
        (f"{name}=-tiny", {name: -1e-300}, ValueError, [must, "got -1e-300"]),
        (f"{name}=nan", {name: math.nan}, ValueError, [must, "got nan"]),
        (f"{name}=inf", {name: math.inf}, ValueError, [must, "got inf"]),
        (f"{name}=0", {name: 0.0}, None, []),
    ]


def _alias(dst, src):
    def f(kw):
        kw[dst] = kw[src]

    return f


def _shifted(dst, src):
    """dst a view of src's memory shifted by one element."""

    def f(kw):
        a = kw[src]
        buf = np.empty(a.size + 1, a.dtype)
        buf[:-1] = a.ravel()
        buf[-1] = 0.25
        kw[src] = buf[:-1].reshape(a.shape)
        kw[dst] = buf[1:].reshape(a.shape)

    return f


BY_LAYER = {}  # layer -> the specs of its functions, in the order of tinynet._core.FUNCTIONS


# ------------------------------------------------------------------------- linear

LINEAR = dict(N=3, D=4, H=5)
ACT = dict(A=3, B=4)


def _activations():
    out = []
    for act in ("tanh", "sigmoid", "relu"):
        out.append(Fn(f"{act}_forward", [F("x", "A B", ndims=ANY_NDIM)], ACT))
        out.append(Fn(f"{act}_backward", [F("dy", "A B"), F("y", "A B")], ACT))
    return out


SEQ = dict(B=2, T=3, D=4, H=5)  # a (B, T, D) sequence: makemore part 5's activations
LEADING = frozenset({1, 2, 3, 4})  # x (..., D): any number of leading axes
def _approximate_bad():
    return [
        ("approximate=erf", {"approximate": "erf"}, ValueError, ["approximate", "'erf'"]),
        ("approximate=None", {"approximate": None}, ValueError, ["approximate", "None"]),
        ("approximate=True", {"approximate": True}, ValueError, ["approximate", "True"]),
        ("approximate=TANH", {"approximate": "TANH"}, ValueError, ["approximate", "'TANH'"]),
    ]


def _gelu():
    """GELU's two forms, each a variant; its backward takes the input x."""
    out = []
    for form in ("none", "tanh"):
        variant = "" if form == "none" else form
        scalars = lambda s, form=form: {"approximate": form}  # noqa: E731
        out.append(Fn("gelu_forward", [F("x", "A B", ndims=ANY_NDIM)], ACT, scalars=scalars, bad=_approximate_bad(),
                      variant=variant))
        out.append(Fn("gelu_backward", [F("dy", "A B"), F("x", "A B")], ACT, scalars=scalars, bad=_approximate_bad(),
                      variant=variant))
    return [*out[0::2], *out[1::2]]


def _ignore_index_bad():
    """ignore_index: None or any integer (a target value, in range or not)."""
    return [
        ("ignore_index=1.0", {"ignore_index": 1.0}, TypeError, ["ignore_index", "float"]),
        ("ignore_index=str", {"ignore_index": "-1"}, TypeError, ["ignore_index", "str"]),
        ("ignore_index=2**70", {"ignore_index": 2**70}, ValueError, ["ignore_index", "out of range"]),
        ("ignore_index=-1", {"ignore_index": -1}, None, []),
        ("ignore_index=int8", {"ignore_index": np.int8(1)}, None, []),
        ("ignore_index=-2**63", {"ignore_index": -(2**63)}, None, []),
    ]


def _ignored(kw):
    """Every other target replaced by ignore_index (-1, makemore's padding)."""
    t = np.array(kw["targets"])
    t[::2] = -1
    kw["targets"], kw["ignore_index"] = t, -1


BY_LAYER["linear"] = [
    Fn("linear_forward", [F("x", "N D", ndims=LEADING), F("W", "H D"), F("b", "H", optional=True)], LINEAR),
    Fn("linear_forward", [F("x", "D", ndims=LEADING), F("W", "H D"), F("b", "H", optional=True)], LINEAR,
       variant="unbatched"),
    Fn("linear_forward", [F("x", "B T D", ndims=LEADING), F("W", "H D"), F("b", "H", optional=True)], SEQ,
       variant="sequence"),
    Fn("linear_backward", [F("dy", "N H"), F("x", "N D"), F("W", "H D")], LINEAR),
    Fn("linear_backward", [F("dy", "H"), F("x", "D"), F("W", "H D")], LINEAR, variant="unbatched"),
    Fn("linear_backward", [F("dy", "B T H"), F("x", "B T D"), F("W", "H D")], SEQ, variant="sequence"),
    *_activations(),
    *_gelu(),
    Fn("softmax", [F("logits", "N V", ndims={1, 2, 3, 4})], dict(N=3, V=5)),
    Fn("cross_entropy_forward", [F("logits", "N V"), I("targets", "N", "V")], dict(N=3, V=5),
       scalars=lambda s: {"reduction": "mean"}, bad=_reduction_bad() + _ignore_index_bad()),
    # ignore_index a class in range: its targets count for nothing, the others are checked as usual
    Fn("cross_entropy_forward", [F("logits", "N V"), I("targets", "N", "V")], dict(N=3, V=5),
       scalars=lambda s: {"reduction": "mean", "ignore_index": 2}, bad=[("ignore-1", _ignored, None, [])],
       variant="ignore_index"),
    Fn("cross_entropy_backward", [F("probs", "N V"), I("targets", "N", "V")], dict(N=3, V=5),
       scalars=lambda s: {"reduction": "sum"}, bad=_reduction_bad() + _ignore_index_bad()),
    Fn("cross_entropy_backward", [F("probs", "N V"), I("targets", "N", "V")], dict(N=3, V=5),
       scalars=lambda s: {"reduction": "mean", "ignore_index": 2}, bad=[("ignore-1", _ignored, None, [])],
       variant="ignore_index"),
]


# ---------------------------------------------------------------------- embedding

BY_LAYER["embedding"] = [
    Fn("embedding_forward", [F("table", "V E"), I("idx", "S R", "V", ndims=ANY_NDIM)], dict(V=5, E=3, S=2, R=4)),
    Fn("embedding_backward", [F("dout", "S R E"), I("idx", "S R", "V")], dict(V=5, E=3, S=2, R=4),
       scalars=lambda s: {"num_embeddings": s["V"]},
       bad=[
           ("num_embeddings=-1", {"num_embeddings": -1}, ValueError, ["num_embeddings", "-1"]),
           ("num_embeddings=0", {"num_embeddings": 0}, IndexError, ["num_embeddings", "idx[0, 0] = "]),
           ("num_embeddings=2.5", {"num_embeddings": 2.5}, TypeError, ["num_embeddings", "float"]),
           ("num_embeddings=None", {"num_embeddings": None}, TypeError, ["num_embeddings", "NoneType"]),
           ("num_embeddings=str", {"num_embeddings": "5"}, TypeError, ["num_embeddings", "str"]),
       ]),
]


# --------------------------------------------------------------------------- norm

CHANNELS_LAST = frozenset({2, 3, 4})  # x (..., C): at least one leading axis
BN_SEQ = dict(B=2, T=3, C=4)  # (B, T, C), the statistics over (B, T)


def _running_bad(x="x"):
    """The running statistics' own bad cases (both or neither; momentum in [0, 1]; more
    than one value per channel, for their unbiased variance)."""
    one_row = lambda kw: kw.update({x: np.ascontiguousarray(kw[x][:1]), "correction": 0})  # noqa: E731
    return [
        ("running_var=None", {"running_var": None}, ValueError, ["running_mean and running_var"]),
        ("momentum=-0.1", {"momentum": -0.1}, ValueError, ["momentum must be in [0, 1]", "-0.1"]),
        ("momentum=1.5", {"momentum": 1.5}, ValueError, ["momentum must be in [0, 1]", "1.5"]),
        ("momentum=nan", {"momentum": math.nan}, ValueError, ["momentum", "nan"]),
        ("momentum=None", {"momentum": None}, TypeError, ["momentum", "NoneType"]),
        ("momentum=str", {"momentum": "fast"}, TypeError, ["momentum", "str"]),
        ("momentum=0", {"momentum": 0.0}, None, []),
        ("momentum=1", {"momentum": 1.0}, None, []),
        ("N=1", one_row, ValueError, ["running variance", "(1, "]),
        ("N=1-no-running", lambda kw: (one_row(kw), kw.update(running_mean=None, running_var=None)), None, []),
        # lists take float64 (nothing else fixes the dtype), which the running statistics must match
        ("lists-float32-running", _lists_float32_running, TypeError, ["running_mean is float32 but", "is float64"]),
    ]


def _lists_float32_running(kw):
    for k, v in kw.items():
        if isinstance(v, np.ndarray):
            kw[k] = v.astype(np.float32) if k.startswith("running") else v.tolist()


def _running(length):
    """running_mean, running_var: (length,), updated in place; None alone is a ValueError."""
    return [P(n, length, none_raises=ValueError) for n in ("running_mean", "running_var")]


BY_LAYER["norm"] = [
    Fn("batchnorm_forward", [F("x", "N C", ndims=CHANNELS_LAST), F("gamma", "C"), F("beta", "C")], dict(N=3, C=4),
       scalars=lambda s: {"eps": 1e-5, "correction": 0}, bad=_correction_bad() + _eps_bad(),
       zero_raises={"N": ValueError}),
    Fn("batchnorm_forward", [F("x", "B T C", ndims=CHANNELS_LAST), F("gamma", "C"), F("beta", "C")], BN_SEQ,
       scalars=lambda s: {"eps": 1e-5, "correction": 1}, zero_raises={"B": ValueError, "T": ValueError},
       variant="sequence"),
    Fn("batchnorm_forward", [F("x", "N C", ndims=CHANNELS_LAST), F("gamma", "C"), F("beta", "C"), *_running("C")],
       dict(N=3, C=4), scalars=lambda s: {"eps": 1e-5, "correction": 1, "momentum": 0.1}, bad=_running_bad(),
       zero_raises={"N": ValueError}, variant="running"),
    Fn("batchnorm_forward", [F("x", "B T C", ndims=CHANNELS_LAST), F("gamma", "C"), F("beta", "C"), *_running("C")],
       BN_SEQ, scalars=lambda s: {"eps": 1e-5, "correction": 0, "momentum": 0.25},
       zero_raises={"B": ValueError, "T": ValueError}, variant="sequence-running"),
    Fn("batchnorm_backward", [F("dy", "N C"), F("x", "N C"), F("gamma", "C"), F("mean", "C"), F("invstd", "C")],
       dict(N=3, C=4), scalars=lambda s: {"correction": 0}, bad=_correction_bad(), zero_raises={"N": ValueError}),
    Fn("batchnorm_backward",
       [F("dy", "B T C"), F("x", "B T C"), F("gamma", "C"), F("mean", "C"), F("invstd", "C")], BN_SEQ,
       scalars=lambda s: {"correction": 1}, zero_raises={"B": ValueError, "T": ValueError}, variant="sequence"),
    Fn("batchnorm_inference",
       [F("x", "N C", ndims=CHANNELS_LAST), F("gamma", "C"), F("beta", "C"), F("running_mean", "C"),
        F("running_var", "C")],
       dict(N=3, C=4), scalars=lambda s: {"eps": 1e-5}, bad=_eps_bad()),
    Fn("batchnorm_inference",
       [F("x", "B T C", ndims=CHANNELS_LAST), F("gamma", "C"), F("beta", "C"), F("running_mean", "C"),
        F("running_var", "C")],
       BN_SEQ, scalars=lambda s: {"eps": 1e-5}, variant="sequence"),
    Fn("layernorm_forward", [F("x", "N C", ndims={1, 2, 3, 4}), F("weight", "C", optional=True),
                             F("bias", "C", optional=True)],
       dict(N=3, C=4), scalars=lambda s: {"eps": 1e-5}, bad=_eps_bad()),
    Fn("layernorm_forward", [F("x", "B T C", ndims={1, 2, 3, 4}), F("weight", "C", optional=True),
                             F("bias", "C", optional=True)],
       dict(B=2, T=3, C=5), scalars=lambda s: {"eps": 1e-5}, variant="sequence"),
    Fn("layernorm_backward", [F("dy", "N C"), F("x", "N C"), F("weight", "C", optional=True), F("mean", "N"),
                              F("rstd", "N")], dict(N=3, C=4)),
    Fn("layernorm_backward", [F("dy", "B T C"), F("x", "B T C"), F("weight", "C", optional=True),
                              F("mean", "B T"), F("rstd", "B T")], dict(B=2, T=3, C=5), variant="sequence"),
    Fn("layernorm_backward", [F("dy", "C"), F("x", "C"), F("weight", "C", optional=True), F("mean", ""),
                              F("rstd", "")], dict(C=4), variant="unbatched"),
]


# ---------------------------------------------------------------------------- mlp

BY_LAYER["mlp"] = [
    Fn("linear_batchnorm_tanh_forward",
       [F("x", "N D"), F("W", "H D"), F("b", "H", optional=True), F("gamma", "H"), F("beta", "H")], LINEAR,
       scalars=lambda s: {"eps": 1e-5, "correction": 0}, bad=_correction_bad() + _eps_bad(),
       zero_raises={"N": ValueError}),
    Fn("linear_batchnorm_tanh_forward",
       [F("x", "N D"), F("W", "H D"), F("b", "H", optional=True), F("gamma", "H"), F("beta", "H"), *_running("H")],
       LINEAR, scalars=lambda s: {"eps": 1e-5, "correction": 1, "momentum": 0.1}, bad=_running_bad(),
       zero_raises={"N": ValueError}, variant="running"),
    Fn("linear_batchnorm_tanh_backward",
       [F("dh", "N H"), F("h", "N H"), F("x", "N D"), F("W", "H D"), F("gamma", "H"), F("hpre", "N H"),
        F("mean", "H"), F("invstd", "H")], LINEAR,
       scalars=lambda s: {"correction": 0}, bad=_correction_bad(), zero_raises={"N": ValueError}),
    Fn("linear_cross_entropy", [F("x", "N D"), F("W", "V D"), F("b", "V", optional=True), I("targets", "N", "V")],
       dict(N=3, D=4, V=5), scalars=lambda s: {"reduction": "mean"}, bad=_reduction_bad() + _ignore_index_bad()),
    Fn("linear_cross_entropy", [F("x", "N D"), F("W", "V D"), F("b", "V", optional=True), I("targets", "N", "V")],
       dict(N=3, D=4, V=5), scalars=lambda s: {"reduction": "mean", "ignore_index": 2},
       bad=[("ignore-1", _ignored, None, [])], variant="ignore_index"),
]


# ---------------------------------------------------------------------- attention

# hs = C / n_head = 3: no whole SIMD vector; n_head is the sizes' n
ATTENTION = dict(B=2, T=3, C=6, n=2)


def _n_head(s):
    return {"n_head": s["n"]}


def _n_head_bad():
    return [
        ("n_head=0", {"n_head": 0}, ValueError, ["n_head must be >= 1", "got 0"]),
        ("n_head=-1", {"n_head": -1}, ValueError, ["n_head must be >= 1", "got -1"]),
        ("n_head=4", {"n_head": 4}, ValueError, ["qkv", "C = qkv.shape[-1] / 3 = 6 divisible by n_head = 4"]),
        ("n_head=7", {"n_head": 7}, ValueError, ["qkv", "divisible by n_head = 7"]),
        ("n_head=2.0", {"n_head": 2.0}, TypeError, ["n_head", "float"]),
        ("n_head=None", {"n_head": None}, TypeError, ["n_head", "NoneType"]),
        ("n_head=str", {"n_head": "2"}, TypeError, ["n_head", "str"]),
        ("n_head=array", {"n_head": np.array([2, 2])}, TypeError, ["n_head", "ndarray"]),
        ("n_head=2**70", {"n_head": 2**70}, ValueError, ["n_head", "out of range"]),
        ("n_head=int64", {"n_head": np.int64(2)}, None, []),
        ("n_head=1", {"n_head": 1}, None, []),
    ]


def _one_head_for_att(kw):
    """n_head = 1 against an att of two heads: att's shape is wrong"""
    kw["n_head"] = 1


BY_LAYER["attention"] = [
    Fn("attention_forward", [F("qkv", "B T 3C", ndims={2, 3})], ATTENTION, scalars=_n_head, bad=_n_head_bad(),
       zero_raises={"n": ValueError}),
    Fn("attention_forward", [F("qkv", "T 3C", ndims={2, 3})], ATTENTION, scalars=_n_head,
       zero_raises={"n": ValueError}, variant="unbatched"),
    Fn("attention_backward", [F("dout", "B T C"), F("qkv", "B T 3C"), F("att", "B n T T")], ATTENTION,
       scalars=_n_head, zero_raises={"n": ValueError},
       bad=[b for b in _n_head_bad() if b[0] != "n_head=1"] + [
           ("n_head=3", {"n_head": 3}, ValueError, ["att has shape (2, 2, 3, 3)", "(2, 3, 3, 3)", "n_head = 3"]),
           ("n_head=1-att", _one_head_for_att, ValueError, ["att has shape (2, 2, 3, 3)", "(2, 1, 3, 3)"]),
       ]),
    Fn("attention_backward", [F("dout", "T C"), F("qkv", "T 3C"), F("att", "n T T")], ATTENTION, scalars=_n_head,
       zero_raises={"n": ValueError}, variant="unbatched"),
]


# ---------------------------------------------------------------------------- rnn

RNN = dict(T=3, B=2, D=4, H=5)
SAMPLE = dict(B=2, D=6, H=5, V=4, n=4)
RNN_W = [F("W_xh", "H D"), F("W_hh", "H H"), F("b_h", "H")]
RNN_OUT = [F("W_hy", "V H"), F("b_y", "V")]


def _bptt_bad():
    return [
        ("bptt_steps=0", {"bptt_steps": 0}, ValueError, ["bptt_steps", "got 0"]),
        ("bptt_steps=-2", {"bptt_steps": -2}, ValueError, ["bptt_steps", "got -2"]),
        ("bptt_steps=1.5", {"bptt_steps": 1.5}, TypeError, ["bptt_steps", "float"]),
        ("bptt_steps=str", {"bptt_steps": "3"}, TypeError, ["bptt_steps", "str"]),
        ("bptt_steps=2**70", {"bptt_steps": 2**70}, ValueError, ["bptt_steps", "out of range"]),
    ]


def _v_over_d(kw):
    H = kw["W_hh"].shape[0]
    D = kw["W_xh"].shape[1]
    kw["W_hy"] = np.full((D + 1, H), 0.5, kw["W_hh"].dtype)
    kw["b_y"] = np.zeros(D + 1, kw["W_hh"].dtype)


BY_LAYER["rnn"] = [
    Fn("rnn_forward", [F("x", "T B D", tokens=True), F("h0", "B H", optional=True), *RNN_W], RNN),
    Fn("rnn_forward", [I("x", "T B", "D", tokens=True), F("h0", "B H", optional=True), *RNN_W], RNN, variant="tokens"),
    Fn("rnn_forward", [F("x", "T D", tokens=True), F("h0", "H", optional=True), *RNN_W], RNN, variant="unbatched"),
    Fn("rnn_backward",
       [F("dhs", "T B H"), F("x", "T B D", tokens=True), F("h0", "B H", optional=True), F("hs", "T B H"),
        F("W_xh", "H D"), F("W_hh", "H H")],
       RNN, scalars=lambda s: {"bptt_steps": None}, bad=_bptt_bad()),
    Fn("rnn_backward",
       [F("dhs", "T B H"), I("x", "T B", "D", tokens=True), F("h0", "B H", optional=True), F("hs", "T B H"),
        F("W_xh", "H D"), F("W_hh", "H H")],
       RNN, scalars=lambda s: {"bptt_steps": 2}, variant="tokens"),
    Fn("rnn_backward",
       [F("dhs", "T H"), F("x", "T D", tokens=True), F("h0", "H", optional=True), F("hs", "T H"),
        F("W_xh", "H D"), F("W_hh", "H H")],
       RNN, scalars=lambda s: {"bptt_steps": None}, variant="unbatched"),
    Fn("rnn_lm_loss",
       [I("inputs", "T B", "D"), I("targets", "T B", "V"), F("h0", "B H", optional=True), *RNN_W, *RNN_OUT],
       dict(RNN, V=3), scalars=lambda s: {"bptt_steps": None, "reduction": "mean"},
       bad=_bptt_bad() + _reduction_bad()),
    Fn("rnn_lm_loss",
       [I("inputs", "T", "D"), I("targets", "T", "V"), F("h0", "H", optional=True), *RNN_W, *RNN_OUT],
       dict(RNN, V=3), scalars=lambda s: {"bptt_steps": 2, "reduction": "sum"}, variant="unbatched"),
    Fn("rnn_sample", [F("h0", "B H", optional=True), I("token", "B", "D"), *RNN_W, *RNN_OUT], SAMPLE,
       scalars=lambda s: {"n": s["n"], "temperature": 1.0, "greedy": False, "seed": 7},
       zero_raises={"V": ValueError},
       bad=[
           ("n=-1", {"n": -1}, ValueError, ["n must", "-1"]),
           ("n=2.0", {"n": 2.0}, TypeError, ["n must", "float"]),
           ("n=None", {"n": None}, TypeError, ["n must", "NoneType"]),
           ("temperature=0", {"temperature": 0.0}, ValueError, ["temperature", "0"]),
           ("temperature=-1", {"temperature": -1.0}, ValueError, ["temperature", "-1"]),
           ("temperature=nan", {"temperature": math.nan}, ValueError, ["temperature", "nan"]),
           ("temperature=str", {"temperature": "hot"}, TypeError, ["temperature", "str"]),
           ("temperature=None", {"temperature": None}, TypeError, ["temperature", "NoneType"]),
           ("seed=1.5", {"seed": 1.5}, TypeError, ["seed", "float"]),
           ("seed=str", {"seed": "abc"}, TypeError, ["seed", "str"]),
           ("greedy=array", {"greedy": np.array([1, 0])}, ValueError, ["greedy"]),
           ("V>D", _v_over_d, ValueError, ["W_hy", "W_xh.shape[1] = 6"]),
       ]),
    Fn("rnn_sample", [F("h0", "H", optional=True), I("token", "", "D", ndims={0}), *RNN_W, *RNN_OUT], SAMPLE,
       scalars=lambda s: {"n": s["n"], "temperature": 0.5, "greedy": True}, zero_raises={"V": ValueError},
       variant="unbatched"),
]


# --------------------------------------------------------------------------- lstm

GATED = dict(T=3, B=2, D=4, H=5)


def _gated(kind, G):
    """The specs of <kind>_forward and <kind>_backward (G gate blocks): float, token and
    unbatched inputs, as the RNN's."""
    out = []
    W = [F("W_ih", f"{G}H D"), F("W_hh", f"{G}H H")]
    b = [F("b_ih", f"{G}H", optional=True), F("b_hh", f"{G}H", optional=True)]
    for variant, x, state in (("", F("x", "T B D", tokens=True), "B H"),
                              ("tokens", I("x", "T B", "D", tokens=True), "B H"),
                              ("unbatched", F("x", "T D", tokens=True), "H")):
        seq = state.replace("H", "").split()  # the leading (T, B) / (T,) of a sequence
        S = lambda name, w: F(name, " ".join(["T", *seq, w]))  # noqa: E731
        h0 = [F("h0", state, optional=True)] + ([F("c0", state, optional=True)] if kind == "lstm" else [])
        out.append(Fn(f"{kind}_forward", [x, *h0, *W, *b], GATED, variant=variant))
        if kind == "lstm":
            args = [S("dhs", "H"), x, *h0, S("hs", "H"), S("cs", "H"), S("gates", "4H"), *W,
                    F("dc_n", state, optional=True)]
        else:
            args = [S("dhs", "H"), x, *h0, S("hs", "H"), S("gates", "3H"), S("gh_n", "H"), *W]
        out.append(Fn(f"{kind}_backward", args, GATED, variant=variant))
    return out


BY_LAYER["lstm"] = _gated("lstm", 4)


# ---------------------------------------------------------------------------- gru

BY_LAYER["gru"] = _gated("gru", 3)


# -------------------------------------------------------------------------- optim

BY_LAYER["optim"] = [
    Fn("sgd_step_", [P("param", "A B"), F("grad", "A B")], ACT, scalars=lambda s: {"lr": 0.1},
       bad=[
           ("lr=None", {"lr": None}, TypeError, ["lr", "NoneType"]),
           ("lr=str", {"lr": "big"}, TypeError, ["lr", "str"]),
           ("lr=array", {"lr": np.array([0.1, 0.2])}, TypeError, ["lr", "ndarray"]),
           ("grad-is-param", _alias("grad", "param"), None, []),
           ("grad-overlaps-param", _shifted("grad", "param"), None, []),
           *_nonneg_bad("lr"),
       ]),
    Fn("adagrad_step_", [P("param", "A B"), F("grad", "A B"), P("mem", "A B")], ACT,
       scalars=lambda s: {"lr": 0.1, "eps": 1e-8},
       bad=[
           ("lr=None", {"lr": None}, TypeError, ["lr", "NoneType"]),
           ("eps=str", {"eps": "tiny"}, TypeError, ["eps", "str"]),
           ("grad-is-param", _alias("grad", "param"), None, []),
           ("grad-is-mem", _alias("grad", "mem"), None, []),
           ("grad-overlaps-mem", _shifted("grad", "mem"), None, []),
           *_nonneg_bad("lr"), *_nonneg_bad("eps"),
       ]),
    Fn("adam_step_", [P("param", "A B"), F("grad", "A B"), P("m", "A B"), P("v", "A B")], ACT,
       scalars=lambda s: {"t": 2, "lr": 1e-2, "weight_decay": 0.01},
       bad=[
           ("t=0", {"t": 0}, ValueError, ["t counts", "got 0"]),
           ("t=1.5", {"t": 1.5}, TypeError, ["t must", "float"]),
           ("t=None", {"t": None}, TypeError, ["t must", "NoneType"]),
           *_nonneg_bad("lr"), *_nonneg_bad("eps"), *_nonneg_bad("weight_decay"),
           ("beta1=1", {"beta1": 1.0}, ValueError, ["beta1", "[0, 1)", "got 1"]),
           ("beta2=-0.5", {"beta2": -0.5}, ValueError, ["beta2", "got -0.5"]),
           ("beta1=str", {"beta1": "a"}, TypeError, ["beta1", "str"]),
           ("grad-is-param", _alias("grad", "param"), None, []),
           ("grad-is-v", _alias("grad", "v"), None, []),
       ]),
    Fn("clip_", [P("grad", "A B", ndims=ANY_NDIM)], ACT, scalars=lambda s: {"lo": -0.5, "hi": 0.5},
       bad=[
           ("lo>hi", {"lo": 1.0, "hi": -1.0}, ValueError, ["lo=1", "hi=-1"]),
           ("hi=nan", {"hi": math.nan}, ValueError, ["hi=nan"]),
           ("lo=None", {"lo": None}, TypeError, ["lo", "NoneType"]),
           ("hi=str", {"hi": "5"}, TypeError, ["hi", "str"]),
       ]),
]


# torch.optim's algorithms over lists of tensors: K tensors of mixed shapes (a vector, a
# matrix, a scalar, ...), their states alike; steps (K,) counts each tensor's steps.
FOREACH = dict(K=3, A=3, B=4)
TENSORS = ("B", "A B", "")


def _foreach(name, states, scalars, bad, variant="", none_raises=TypeError):
    """A *_foreach_ spec: params, grads, the state lists, steps."""
    lists = [PL("params", "K", TENSORS), FL("grads", "K", TENSORS)]
    lists += [PL(s, "K", TENSORS, none_raises=none_raises) for s in states]
    steps = [N("steps", "K", none_raises=none_raises)] if states else []
    return Fn(name, lists + steps, FOREACH, scalars=lambda s: dict(scalars), bad=bad, variant=variant)


def _hyper_bad(*names):
    """The one rule for lr, eps, weight_decay, momentum, ...: a finite number >= 0."""
    out = [(f"{names[0]}=None", {names[0]: None}, TypeError, [names[0], "NoneType"]),
           (f"{names[0]}=str", {names[0]: "big"}, TypeError, [names[0], "str"])]
    for n in names:
        out += [case for case in _nonneg_bad(n) if case[0] in (f"{n}=-1", f"{n}=nan", f"{n}=inf", f"{n}=0")]
    return out


def _beta_bad():
    return [
        ("beta1=1", {"beta1": 1.0}, ValueError, ["beta1 must be in [0, 1)", "got 1.0"]),
        ("beta1=-0.1", {"beta1": -0.1}, ValueError, ["beta1", "got -0.1"]),
        ("beta2=1", {"beta2": 1.0}, ValueError, ["beta2 must be in [0, 1)", "got 1.0"]),
        ("beta2=nan", {"beta2": math.nan}, ValueError, ["beta2", "got nan"]),
        ("beta1=str", {"beta1": "a"}, TypeError, ["beta1", "str"]),
        ("beta1=0", {"beta1": 0.0}, None, []),
        ("decoupled=array", {"decoupled": np.array([1, 0])}, ValueError, ["decoupled must be true or false"]),
    ]


SGD_MOMENTUM = dict(lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01, nesterov=False)
NESTEROV = "nesterov momentum needs momentum > 0 and dampening = 0"

BY_LAYER["optim"] += [
    _foreach("sgd_foreach_", ["momentum_buffers"], SGD_MOMENTUM, none_raises=ValueError, bad=[
        *_hyper_bad("lr", "momentum", "dampening", "weight_decay"),
        ("nesterov-without-momentum", {"nesterov": True, "momentum": 0.0, "dampening": 0.0}, ValueError, [NESTEROV]),
        ("nesterov-with-dampening", {"nesterov": True}, ValueError, [NESTEROV]),
        ("nesterov", {"nesterov": True, "dampening": 0.0}, None, []),
        ("nesterov=array", {"nesterov": np.array([1, 0])}, ValueError, ["nesterov must be true or false"]),
        ("momentum=0-buffers-ignored", {"momentum": 0.0, "momentum_buffers": None, "steps": None}, None, []),
    ]),
    _foreach("sgd_foreach_", [], dict(momentum_buffers=None, steps=None, lr=0.5), variant="plain", bad=[
        *_hyper_bad("lr"),
        ("momentum-without-buffers", {"momentum": 0.9}, ValueError, ["momentum != 0 needs momentum_buffers"]),
    ]),
    _foreach("adam_foreach_", ["ms", "vs"], dict(lr=1e-2, weight_decay=0.1), bad=[
        *_hyper_bad("lr", "eps", "weight_decay"), *_beta_bad()]),
    _foreach("adam_foreach_", ["ms", "vs"], dict(lr=1e-2, beta1=0.8, beta2=0.99, weight_decay=0.1, decoupled=False),
             variant="l2", bad=[*_hyper_bad("weight_decay")]),
    _foreach("adagrad_foreach_", ["sums"], dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, eps=1e-6), bad=[
        *_hyper_bad("lr", "eps", "weight_decay", "lr_decay")]),
]


# -------------------------------------------------------------------- all of them

TABLE = [spec for specs in BY_LAYER.values() for spec in specs]
