"""What every layer shares: the Module base (parameters, gradients, state dicts, modes) and
the checks of constructor arguments and initialisations."""
import math
from operator import attrgetter
from typing import Tuple

import numpy as np

import tinynet

#: The engine modules by name, looked up once.
_ENGINES: "dict[str, object]" = {}

#: How many times a layer's training mode, engine or dtype has changed, any layer's: a
#: container's plan of its layers (Sequential's fused blocks) holds while this stays.
_SETTINGS = [0]


def _engine_module(name):
    """The engine module of an engine's name (None for None), looked up once per name;
    ValueError for an unknown name."""
    if name is None:
        return None
    tn = _ENGINES.get(name) if isinstance(name, str) else None
    if tn is None:
        tn = _ENGINES[name] = tinynet.engine(name)
    return tn


def _set_setting(layer, name, value):
    """layer.<name> = value, counted in _SETTINGS when it changes (None and a dtype never
    compare equal here, though NumPy says np.dtype(None) is float64)."""
    old = layer.__dict__.get(name, _SETTINGS)
    if not (old is value or (old is not _SETTINGS and old is not None and value is not None and old == value)):
        _SETTINGS[0] += 1
    layer.__dict__[name] = value

#: The initialisation schemes of layers with weights.
INITS = ("pytorch", "xavier_uniform", "kaiming_normal")


# ----------------------------------------------------------------------------- helpers


def _float_dtype(dtype, who, allow_none=False):
    if dtype is None and allow_none:
        return None
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{who}: dtype must be float32 or float64, got {dtype!r}") from None
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"{who}: dtype must be float32 or float64, got {dt}")
    return dt


def _generator(rng, who):
    """A np.random.Generator from a seed, a Generator (used as is) or None (OS entropy)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, np.random.SeedSequence):
        return np.random.default_rng(rng)
    if isinstance(rng, (bool, float)) or not hasattr(rng, "__index__"):
        raise TypeError(f"{who}: rng must be an integer seed, a numpy.random.Generator or None, "
                        f"not {type(rng).__name__}")
    return np.random.default_rng(int(rng.__index__()))


def _size(value, name, who, minimum=0):
    if isinstance(value, (bool, float)) or not hasattr(value, "__index__"):
        raise TypeError(f"{who}: {name} must be an integer, not {type(value).__name__}")
    value = int(value.__index__())
    if value < minimum:
        raise ValueError(f"{who}: {name} must be >= {minimum}, got {value}")
    return value


def _hyper(value, name, who, upper=None):
    """A hyperparameter as a float: finite and >= 0 (eps, lr), and <= upper where given
    (momentum <= 1) -- the rule the engines' functions apply too."""
    if isinstance(value, (bool, str, bytes)) or value is None:
        raise TypeError(f"{who}: {name} must be a real number, not {type(value).__name__}")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{who}: {name} must be a real number, not {type(value).__name__}") from None
    if upper is None and not (v >= 0 and math.isfinite(v)):
        raise ValueError(f"{who}: {name} must be a finite number >= 0, got {v!r}")
    if upper is not None and not 0 <= v <= upper:
        raise ValueError(f"{who}: {name} must be in [0, {upper:g}], got {v!r}")
    return v


def _check_init(init, who):
    if init not in INITS:
        raise ValueError(f"{who}: init must be one of {', '.join(map(repr, INITS))}; got {init!r}")
    return init


def _weight(rng, shape, init, dtype, pytorch_fan_in=None):
    """A weight of `shape` drawn as torch.nn / torch.nn.init would (in float64, then
    rounded to dtype).  fan_in = shape[1], fan_out = shape[0]; `pytorch_fan_in` is the
    fan-in torch's default uses (None: N(0, 1), as nn.Embedding)."""
    fan_out, fan_in = shape
    if init == "pytorch":
        if pytorch_fan_in is None:
            w = rng.standard_normal(shape)
        else:
            bound = 1 / math.sqrt(pytorch_fan_in) if pytorch_fan_in > 0 else 0.0
            w = rng.uniform(-bound, bound, shape)
    elif init == "xavier_uniform":
        limit = math.sqrt(6 / (fan_in + fan_out)) if fan_in + fan_out > 0 else 0.0
        w = rng.uniform(-limit, limit, shape)
    else:  # kaiming_normal: torch's defaults a=0, mode="fan_in", nonlinearity="leaky_relu"
        std = math.sqrt(2 / fan_in) if fan_in > 0 else 0.0
        w = rng.normal(0.0, std, shape)
    return np.ascontiguousarray(w, dtype=dtype)


def _bias(rng, size, init, dtype, pytorch_fan_in):
    if init == "pytorch":
        bound = 1 / math.sqrt(pytorch_fan_in) if pytorch_fan_in > 0 else 0.0
        return np.ascontiguousarray(rng.uniform(-bound, bound, size), dtype=dtype)
    return np.zeros(size, dtype=dtype)


def _shape(obj):
    return tuple(np.shape(obj))


def _to_numpy(value):
    """A state-dict value as an ndarray: a torch tensor through detach().cpu().numpy()
    (recognised by those methods, so torch is never imported here), anything else
    through np.asarray."""
    if not isinstance(value, np.ndarray) and all(hasattr(value, m) for m in ("detach", "cpu", "numpy")):
        t = value.detach().cpu()
        try:
            return t.numpy()
        except TypeError:  # a dtype NumPy lacks, such as bfloat16
            return t.double().numpy()
    return np.asarray(value)


# ------------------------------------------------------------------------------ Module


class Module:
    """Module(*, engine="c", dtype=np.float64)

    The base of every layer: parameter bookkeeping, train/eval mode, error messages.
    Subclasses list their parameter names in ``_param_names`` (and non-trainable state
    in ``_buffer_names``) as PyTorch would name them, in PyTorch's order, and implement
    ``forward`` and ``backward``; ``state_dict()``, ``load_state_dict()``,
    ``parameters()`` and ``grads()`` then work for them.

    >>> import numpy as np
    >>> from tinynet import nn
    >>> class Scale(nn.Module):                  # a layer of your own: y = weight * x
    ...     _param_names = ("weight",)
    ...     def __init__(self, n):
    ...         super().__init__()
    ...         self.weight = np.full(n, 2.0)
    ...     def forward(self, x):
    ...         self._cache = x
    ...         return self.weight * x
    ...     def backward(self, dout):
    ...         self._grads["weight"] = (dout * self._cache).sum(axis=0)
    ...         return dout * self.weight
    >>> layer = Scale(2)
    >>> layer.backward(layer(np.ones((3, 2))))
    array([[4., 4.],
           [4., 4.],
           [4., 4.]])
    >>> layer.grads(), layer.state_dict()
    ([array([6., 6.])], {'weight': array([2., 2.])})
    """

    _param_names: Tuple[str, ...] = ()
    _buffer_names: Tuple[str, ...] = ()

    #: The engine module of `engine` (None for a container's engine None).
    _tn = None

    def __init__(self, *, engine="c", dtype=np.float64, _dtype_optional=False):
        self.engine = engine  # ValueError for an unknown engine
        self.dtype = _float_dtype(dtype, type(self).__name__, allow_none=_dtype_optional)
        self.training = True
        self._grads = dict.fromkeys(self._param_names)
        self._cache = None

    # -- settings: plain attributes to the user; setting one to a new value counts as a
    # change (_SETTINGS), so that containers know when to look at their layers again
    training = property(attrgetter("_training"), lambda self, mode: _set_setting(self, "_training", mode),
                        doc="True in training mode (``train()``), False in eval mode (``eval()``).")
    dtype = property(attrgetter("_dtype"), lambda self, dtype: _set_setting(self, "_dtype", dtype),
                     doc="The parameters' dtype (None for a layer that follows its input's).")

    @property
    def engine(self):
        """The engine's name, "c" or "numpy" (None for a container whose layers choose)."""
        return self._engine

    @engine.setter
    def engine(self, name):
        tn = _engine_module(name)  # ValueError for an unknown engine, before anything changes
        _set_setting(self, "_engine", name)
        self._tn = tn

    def __getstate__(self):  # copy and pickle: the engine by name (a module is neither)
        state = self.__dict__.copy()
        state.pop("_tn", None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._tn = _engine_module(state.get("_engine"))

    @property
    def tn(self):
        """The engine module (``tinynet`` or ``tinynet.reference``) this layer calls."""
        tn = self._tn
        return tn if tn is not None else tinynet.engine(self.engine)  # (a container's None: the error)

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def forward(self, x):
        raise NotImplementedError

    def backward(self, dout):
        raise NotImplementedError

    # -- parameters --------------------------------------------------------------------
    def _submodules(self):
        """[(name, layer)]: the layers this one is made of -- each attribute that is a
        tinynet.nn layer, in the order they were assigned, as torch.nn registers them (so
        a model written as a Module subclass holding its layers works as torch's does)."""
        return [(n, v) for n, v in vars(self).items() if isinstance(v, Module)]

    def named_parameters(self):
        """[(name, array), ...]: the live parameter arrays with PyTorch's names -- the
        layer's own, then each sublayer's under its name ("out_proj.weight")."""
        own = [(n, getattr(self, n)) for n in self._param_names]
        return own + [(f"{n}.{k}", p) for n, m in self._submodules() for k, p in m.named_parameters()]

    def parameters(self):
        """[array, ...]: the live parameter arrays, in the order of named_parameters()."""
        return [p for _, p in self.named_parameters()]

    def named_grads(self):
        """[(name, gradient), ...] from the last backward (None before it)."""
        own = [(n, self._grads[n]) for n in self._param_names]
        return own + [(f"{n}.{k}", g) for n, m in self._submodules() for k, g in m.named_grads()]

    def grads(self):
        """[gradient, ...] matching parameters(): dL/dparam from the last backward."""
        return [g for _, g in self.named_grads()]

    def named_buffers(self):
        """[(name, value), ...]: non-trainable state (BatchNorm's running statistics)."""
        own = [(n, getattr(self, n)) for n in self._buffer_names]
        return own + [(f"{n}.{k}", b) for n, m in self._submodules() for k, b in m.named_buffers()]

    def zero_grad(self):
        """zero_grad(): forget the gradients of the last backward (each becomes None, as
        PyTorch's ``set_to_none=True``); an optimizer's step skips such parameters."""
        for name in self._grads:
            self._grads[name] = None
        for _, layer in self._submodules():
            layer.zero_grad()

    def _grad_slots(self):
        """[(dict, key)]: where each gradient of grads() is kept, in parameters() order,
        so that an optimizer reads them without walking the model every step."""
        own = [(self._grads, n) for n in self._param_names]
        return own + [slot for _, layer in self._submodules() for slot in layer._grad_slots()]

    # -- state dict: PyTorch's keys and layouts -----------------------------------------
    #: Appended to key-mismatch errors (RNN explains its mapping to torch's names).
    _state_hint = ""

    def state_dict(self):
        """state_dict()

        The layer's parameters and buffers as ``{key: ndarray}``, with PyTorch's key
        names and layouts, so ``torch_module.load_state_dict({k: torch.from_numpy(v)
        for k, v in d.items()})`` loads them into the equivalent ``torch.nn`` module.
        Keys: Linear ``weight`` (out_features, in_features) and ``bias``
        (out_features,); Embedding ``weight`` (num_embeddings, embedding_dim);
        BatchNorm1d ``weight``, ``bias``, ``running_mean``, ``running_var`` (C,) and
        ``num_batches_tracked`` (an int64 array of shape ()); RNN ``weight_ih_l0``
        (= W_xh), ``weight_hh_l0`` (= W_hh), ``bias_ih_l0`` (= b_h) and
        ``bias_hh_l0`` (zeros); LSTM and GRU ``weight_ih_l0``, ``weight_hh_l0``,
        ``bias_ih_l0``, ``bias_hh_l0``, their own parameters, as torch.nn.LSTM / GRU;
        Sequential prefixes each layer's keys with its index
        (``"0.weight"``, nested ``"1.0.weight"``); Tanh, ReLU, Sigmoid and Flatten have
        none.  Float arrays have the layer's dtype.  The arrays are copies: changing
        them does not change the layer.

        >>> import numpy as np
        >>> from tinynet import nn
        >>> model = nn.Sequential([nn.Linear(3, 4, rng=0), nn.Tanh(), nn.BatchNorm1d(4)])
        >>> {k: v.shape for k, v in model.state_dict().items()}  # doctest: +NORMALIZE_WHITESPACE
        {'0.weight': (4, 3), '0.bias': (4,), '2.weight': (4,), '2.bias': (4,),
         '2.running_mean': (4,), '2.running_var': (4,), '2.num_batches_tracked': ()}
        """
        return {k: np.array(v, copy=True) for k, v in self._state().items()}

    def load_state_dict(self, state_dict):
        """load_state_dict(state_dict)

        Copy a state dict (PyTorch's keys and layouts, see ``state_dict()``) into the
        layer's arrays, in place (``parameters()`` taken earlier stay valid).  Values
        may be NumPy arrays, anything ``np.asarray`` accepts, or torch tensors (taken
        with ``detach().cpu().numpy()``; torch is not imported for that); they are
        converted to the layer's dtype.  A ``torch.nn.RNN``'s two biases are added into
        ``b_h = bias_ih_l0 + bias_hh_l0``.

        Like PyTorch's ``strict=True``: a missing or unexpected key is a ValueError
        listing them, a shape that differs is a ValueError naming the key and both
        shapes, a non-real dtype a TypeError.  Everything is checked before anything is
        copied, so a refused state dict leaves the layer unchanged.  Returns None.

        >>> import numpy as np
        >>> from tinynet import nn
        >>> layer = nn.Linear(2, 1)
        >>> layer.load_state_dict({"weight": [[1.0, 2.0]], "bias": [0.5]})
        >>> layer(np.array([[1.0, 1.0]]))
        array([[3.5]])
        >>> layer.load_state_dict({"weight": np.ones((2, 1)), "bias": [0.5]})
        Traceback (most recent call last):
        ...
        ValueError: Linear.load_state_dict: 'weight' of Linear(in_features=2, out_features=1, bias=True) has shape (2, 1), expected (1, 2) (transposed? tinynet and PyTorch store weights as (out_features, in_features): pass W.T for a matrix stored (in, out), as makemore and cs231n do)
        """
        who = f"{type(self).__name__}.load_state_dict"
        if not (hasattr(state_dict, "keys") and hasattr(state_dict, "__getitem__")):
            raise TypeError(f"{who}: expected a dict of arrays (a state dict), got {type(state_dict).__name__}")
        expected = self._state()
        given = list(state_dict.keys())
        given_set = set(given)
        missing = [k for k in expected if k not in given_set]
        unexpected = [k for k in given if k not in expected]
        if missing or unexpected:
            parts = []
            if missing:
                parts.append("missing key(s) " + ", ".join(map(repr, missing)))
            if unexpected:
                parts.append("unexpected key(s) " + ", ".join(map(repr, unexpected)))
            hints = "".join(dict.fromkeys(self._owner(k)._state_hint for k in missing + unexpected))
            raise ValueError(f"{who}: the state dict does not fit {self._short_repr()}: {'; '.join(parts)}"
                             f"{hints}")
        arrays = {}
        for key, current in expected.items():
            value = _to_numpy(state_dict[key])
            where = f"{who}: {key!r} of {self._owner(key)!r}"
            if value.dtype.kind not in "fiu":
                raise TypeError(f"{where} has dtype {value.dtype}; expected real numbers "
                                f"(converted to {current.dtype})")
            if value.shape != current.shape:
                hint = ""
                if value.ndim == 2 and value.shape[::-1] == current.shape:
                    hint = (" (transposed? tinynet and PyTorch store weights as (out_features, in_features): "
                            "pass W.T for a matrix stored (in, out), as makemore and cs231n do)")
                raise ValueError(f"{where} has shape {value.shape}, expected {current.shape}{hint}")
            if current.dtype.kind in "iu":  # a counter (num_batches_tracked)
                if not (np.all(np.isfinite(value)) and np.all(value == np.floor(value)) and np.all(value >= 0)):
                    raise ValueError(f"{where} must be a non-negative integer, got {value!r}")
            arrays[key] = value
        self._load_state(arrays)

    def _state(self):
        """{key: array}: the arrays behind state_dict() (live ones where they exist)."""
        state = dict(self.named_parameters())
        for name, value in self.named_buffers():
            if isinstance(value, (int, np.integer)):  # a counter such as num_batches_tracked
                value = np.array(value, dtype=np.int64)
            state[name] = value if isinstance(value, np.ndarray) else np.asarray(value)
        return state

    def _load_state(self, arrays):
        """Copy checked arrays (the keys of _state(), the right shapes) into the layer."""
        children = dict(self._submodules())
        for key, value in arrays.items():
            name, _, rest = key.partition(".")
            if rest and name in children:
                continue
            current = getattr(self, key)
            if isinstance(current, np.ndarray):
                current[...] = value  # in place, cast to the layer's dtype
            elif isinstance(current, (int, np.integer)):
                setattr(self, key, int(value))
            else:
                setattr(self, key, value.item() if value.ndim == 0 else value.copy())
        for name, layer in children.items():
            prefix = f"{name}."
            layer._load_state({k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)})

    def _owner(self, key):
        """The layer a state-dict key belongs to (itself, or the sublayer it names)."""
        name, _, rest = str(key).partition(".")
        child = dict(self._submodules()).get(name) if rest else None
        return child._owner(rest) if child is not None else self

    def _short_repr(self):
        return repr(self)

    # -- mode --------------------------------------------------------------------------
    def train(self, mode=True):
        """Training mode (batch statistics in BatchNorm1d), for the layer and its
        sublayers; returns self."""
        self.training = bool(mode)
        for _, layer in self._submodules():
            layer.train(mode)
        return self

    def eval(self):
        """Evaluation mode (running statistics in BatchNorm1d); returns self."""
        return self.train(False)

    # -- helpers -----------------------------------------------------------------------
    def extra_repr(self):
        return ""

    def __repr__(self):
        return f"{type(self).__name__}({self.extra_repr()})"

    def _input(self, x):
        """Float inputs: lists and scalars take the layer's dtype (float64 for a
        parameter-free layer without one), as the engines treat them; arrays keep theirs
        (the engine rejects a float dtype that differs from the parameters')."""
        if isinstance(x, np.ndarray):
            return x
        return np.asarray(x, dtype=self._dtype if self._dtype is not None else np.float64)

    def _check_dtype(self, x, name="x"):
        if self._dtype is not None and x.dtype.kind == "f" and x.dtype != self._dtype:
            raise TypeError(f"{self!r}.forward: {name} is {x.dtype} but the layer is {self.dtype}")

    def _cached(self):
        cache = self._cache
        if cache is None:
            raise ValueError(f"{self!r}.backward: called before forward (nothing to backpropagate through); "
                             "call forward first")
        return cache

    def _check_dout(self, dout, expected, name="dout"):
        if getattr(dout, "shape", None) == expected:  # an array of the expected shape (tuple): the usual case
            return
        shape = _shape(dout)
        if shape != tuple(expected):
            raise ValueError(f"{self!r}.backward: {name} has shape {shape}, expected {tuple(expected)} "
                             "(the shape of the last forward output)")

