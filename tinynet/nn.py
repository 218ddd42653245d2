"""tinynet.nn: small layer objects built on the engine functions.

Each layer is constructed like its PyTorch namesake and is a thin wrapper around the
public functions of one engine (``engine="c"``, the default, or ``engine="numpy"``, the
reference): ``forward`` calls ``*_forward`` and keeps what ``backward`` needs,
``backward`` calls ``*_backward``, returns the gradient with respect to the layer's input
and stores the parameter gradients.  There is no autograd and no graph: a model is a
chain of layers, and its backward pass is the chain reversed (``Sequential`` does both).

    >>> import numpy as np
    >>> import tinynet as tn
    >>> from tinynet import nn
    >>> model = nn.Sequential([nn.Linear(3, 4, rng=0), nn.Tanh(), nn.Linear(4, 2, rng=1)])
    >>> x, y = np.ones((5, 3)), np.array([0, 1, 1, 0, 1])
    >>> loss, probs = tn.cross_entropy_forward(model(x), y)
    >>> dx = model.backward(tn.cross_entropy_backward(probs, y))
    >>> for p, g in zip(model.parameters(), model.grads()):
    ...     tn.sgd_step_(p, g, 0.1)                  # updates the model in place
    >>> [name for name, _ in model.named_parameters()]
    ['0.weight', '0.bias', '2.weight', '2.bias']

Conventions
-----------
* ``dtype=np.float64`` by default (NumPy's default; PyTorch's is float32); float32 is
  supported.  Parameters are C-contiguous arrays of that dtype, so the in-place
  optimizers (``tn.sgd_step_``, ``tn.adam_step_`` ...) accept them.  Inputs must have the
  layer's dtype (the engines never mix float32 and float64: TypeError); lists are
  converted to it.  Parameter-free layers (``Tanh``, ``ReLU``, ``Sigmoid``, ``Flatten``)
  follow their input's dtype unless given one.
* Initialisation is explicit: ``rng`` is a seed (int) or a ``np.random.Generator``
  (shared and advanced, so one generator can initialise a whole model); ``rng=None``
  draws fresh OS entropy.  Values are drawn in float64 and then rounded to ``dtype``, so
  float32 and float64 layers built with the same seed hold the same numbers up to
  rounding.  ``init="pytorch"`` (default) follows ``torch.nn``'s defaults,
  ``"xavier_uniform"`` and ``"kaiming_normal"`` the ``torch.nn.init`` functions of those
  names (with fan_in = weight.shape[1], fan_out = weight.shape[0]) and zero biases.
* ``parameters()`` are the live arrays (update them in place; never rebind them if you
  want ``parameters()`` lists taken earlier to stay valid); ``grads()`` are the
  gradients of the last ``backward`` in the same order (None before the first
  ``backward``).  ``backward`` overwrites the stored gradients; it never accumulates.
* ``named_parameters()`` uses PyTorch's names (``weight``, ``bias``; ``Sequential``
  prefixes the layer index, ``0.weight``), except for ``RNN``: ``W_xh``, ``W_hh`` and one
  bias ``b_h`` (PyTorch's ``nn.RNN`` has two biases, ``b_h = bias_ih + bias_hh``).
  ``named_buffers()`` lists non-trainable state (BatchNorm's running statistics).
* ``state_dict()`` / ``load_state_dict(d)`` use PyTorch's key names and layouts for every
  layer, the RNN included (``weight_ih_l0`` = W_xh, ``weight_hh_l0`` = W_hh, and
  ``b_h = bias_ih_l0 + bias_hh_l0``), so weights move to and from ``torch.nn`` modules;
  ``tinynet.save`` / ``tinynet.load`` keep a model in a plain ``.npz`` file.
* ``forward`` keeps references to its input and output, not copies: do not modify them
  in place before calling ``backward``.  ``backward`` may be called more than once
  after one ``forward`` (each call overwrites the gradients).
"""
import math
from typing import Optional, Tuple

import numpy as np

import tinynet

__all__ = [
    "Module", "Linear", "Tanh", "ReLU", "Sigmoid", "Embedding", "BatchNorm1d", "RNN", "LSTM", "GRU",
    "Flatten", "FlattenConsecutive", "Sequential", "INITS",
]

#: The engine modules by name, looked up once (a layer asks for its engine on every call).
_ENGINES = {}

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

    def __init__(self, *, engine="c", dtype=np.float64, _dtype_optional=False):
        tinynet.engine(engine)  # ValueError for an unknown engine
        self.engine = engine
        self.dtype = _float_dtype(dtype, type(self).__name__, allow_none=_dtype_optional)
        self.training = True
        self._grads = dict.fromkeys(self._param_names)
        self._cache = None

    @property
    def tn(self):
        """The engine module (``tinynet`` or ``tinynet.reference``) this layer calls."""
        return _ENGINES.get(self.engine) or _ENGINES.setdefault(self.engine, tinynet.engine(self.engine))

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def forward(self, x):
        raise NotImplementedError

    def backward(self, dout):
        raise NotImplementedError

    # -- parameters --------------------------------------------------------------------
    def named_parameters(self):
        """[(name, array), ...]: the live parameter arrays with PyTorch's names."""
        return [(n, getattr(self, n)) for n in self._param_names]

    def parameters(self):
        """[array, ...]: the live parameter arrays, in the order of named_parameters()."""
        return [p for _, p in self.named_parameters()]

    def named_grads(self):
        """[(name, gradient), ...] from the last backward (None before it)."""
        return [(n, self._grads[n]) for n in self._param_names]

    def grads(self):
        """[gradient, ...] matching parameters(): dL/dparam from the last backward."""
        return [g for _, g in self.named_grads()]

    def named_buffers(self):
        """[(name, value), ...]: non-trainable state (BatchNorm's running statistics)."""
        return [(n, getattr(self, n)) for n in self._buffer_names]

    def zero_grad(self):
        """zero_grad(): forget the gradients of the last backward (each becomes None, as
        PyTorch's ``set_to_none=True``); an optimizer's step skips such parameters."""
        for name in self._grads:
            self._grads[name] = None

    def _grad_slots(self):
        """[(dict, key)]: where each gradient of grads() is kept, in parameters() order,
        so that an optimizer reads them without walking the model every step."""
        return [(self._grads, n) for n in self._param_names]

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
        for key, value in arrays.items():
            current = getattr(self, key)
            if isinstance(current, np.ndarray):
                current[...] = value  # in place, cast to the layer's dtype
            elif isinstance(current, (int, np.integer)):
                setattr(self, key, int(value))
            else:
                setattr(self, key, value.item() if value.ndim == 0 else value.copy())

    def _owner(self, key):
        """The layer a state-dict key belongs to (itself, for a leaf layer)."""
        return self

    def _short_repr(self):
        return repr(self)

    # -- mode --------------------------------------------------------------------------
    def train(self, mode=True):
        """Training mode (batch statistics in BatchNorm1d); returns self."""
        self.training = bool(mode)
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
        return np.asarray(x, dtype=self.dtype if self.dtype is not None else np.float64)

    def _check_dtype(self, x, name="x"):
        if self.dtype is not None and x.dtype.kind == "f" and x.dtype != self.dtype:
            raise TypeError(f"{self!r}.forward: {name} is {x.dtype} but the layer is {self.dtype}")

    def _cached(self):
        if self._cache is None:
            raise ValueError(f"{self!r}.backward: called before forward (nothing to backpropagate through); "
                             "call forward first")
        return self._cache

    def _check_dout(self, dout, expected, name="dout"):
        shape = _shape(dout)
        if shape != tuple(expected):
            raise ValueError(f"{self!r}.backward: {name} has shape {shape}, expected {tuple(expected)} "
                             "(the shape of the last forward output)")


# ------------------------------------------------------------------------------ Linear


class Linear(Module):
    """Linear(in_features, out_features, bias=True, *, engine="c", dtype=np.float64, init="pytorch", rng=None)

    y = x @ weight.T + bias, as torch.nn.Linear, over the last axis of x.

    weight: (out_features, in_features); bias: (out_features,) or None.
    x: (..., in_features) -- (N, in_features), (B, T, in_features), (in_features,) --
    -> y: (..., out_features); backward sums the parameters' gradients over every
    leading axis.
    ``init="pytorch"``: weight and bias ~ U(-1/sqrt(in_features), 1/sqrt(in_features));
    ``"xavier_uniform"``: weight ~ U(-a, a), a = sqrt(6 / (in + out)), bias 0 (seed 002);
    ``"kaiming_normal"``: weight ~ N(0, 2 / in_features), bias 0.
    backward(dy) returns dx and stores dweight, dbias.

    >>> import numpy as np
    >>> from tinynet.nn import Linear
    >>> layer = Linear(3, 2, rng=0)
    >>> y = layer(np.ones((4, 3)))
    >>> y.shape, layer.backward(np.ones_like(y)).shape
    ((4, 2), (4, 3))
    >>> [g.shape for g in layer.grads()]
    [(2, 3), (2,)]
    """

    _param_names = ("weight", "bias")

    def __init__(self, in_features, out_features, bias=True, *, engine="c", dtype=np.float64,
                 init="pytorch", rng=None):
        super().__init__(engine=engine, dtype=dtype)
        self.in_features = _size(in_features, "in_features", "Linear")
        self.out_features = _size(out_features, "out_features", "Linear")
        _check_init(init, "Linear")
        self.init = init
        if not bias:
            self._param_names = ("weight",)
            self._grads = {"weight": None}
        g = _generator(rng, "Linear")
        shape = (self.out_features, self.in_features)
        self.weight = _weight(g, shape, init, self.dtype, pytorch_fan_in=self.in_features)
        self.bias = _bias(g, self.out_features, init, self.dtype, self.in_features) if bias else None

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"

    def forward(self, x):
        """forward(x): x (..., in_features) -> y (..., out_features)."""
        x = self._input(x)
        y = self.tn.linear_forward(x, self.weight, self.bias)
        self._cache = (x, y.shape)
        return y

    def backward(self, dout):
        """backward(dout): dout shaped like y -> dx shaped like x; stores dweight, dbias."""
        x, y_shape = self._cached()
        self._check_dout(dout, y_shape)
        dx, dW, db = self.tn.linear_backward(dout, x, self.weight)
        self._grads["weight"] = dW
        if self.bias is not None:
            self._grads["bias"] = db
        return dx


# --------------------------------------------------------------------------- activations


class _Activation(Module):
    """An elementwise activation: <name>_forward(x) and <name>_backward(dy, v), where v is
    the value its derivative is written in -- the output y (tanh, sigmoid, ReLU: _saves
    = "output") or the input x (_saves = "input", for a derivative that needs x, as
    GELU's) -- which forward keeps for backward."""

    _name: Optional[str] = None
    _saves = "output"

    def __init__(self, *, engine="c", dtype=None, rng=None):
        super().__init__(engine=engine, dtype=dtype, _dtype_optional=True)
        if rng is not None:
            _generator(rng, type(self).__name__)  # validated, unused

    def forward(self, x):
        x = self._input(x)
        self._check_dtype(x)
        y = getattr(self.tn, f"{self._name}_forward")(x)
        self._cache = y if self._saves == "output" else x
        return y

    def backward(self, dout):
        v = self._cached()
        self._check_dout(dout, v.shape)
        return getattr(self.tn, f"{self._name}_backward")(dout, v)


class Tanh(_Activation):
    """Tanh(*, engine="c", dtype=None, rng=None)

    y = tanh(x) elementwise, any shape; backward(dy) = dy * (1 - y**2).
    No parameters.  dtype=None follows the input (float32 or float64); a given dtype is
    enforced.  rng is accepted for a uniform constructor and unused.

    >>> from tinynet.nn import Tanh
    >>> act = Tanh()
    >>> act([0.0, 1.0]).round(4), act.backward([1.0, 1.0]).round(4)
    (array([0.    , 0.7616]), array([1.  , 0.42]))
    """

    _name = "tanh"


class ReLU(_Activation):
    """ReLU(*, engine="c", dtype=None, rng=None)

    y = max(x, 0) elementwise, any shape; backward(dy) = dy where y > 0, else 0.
    No parameters; dtype=None follows the input.

    >>> from tinynet.nn import ReLU
    >>> act = ReLU()
    >>> act([-1.0, 2.0]), act.backward([5.0, 5.0])
    (array([0., 2.]), array([0., 5.]))
    """

    _name = "relu"


class Sigmoid(_Activation):
    """Sigmoid(*, engine="c", dtype=None, rng=None)

    y = 1 / (1 + exp(-x)) elementwise, any shape; backward(dy) = dy * y * (1 - y).
    No parameters; dtype=None follows the input.

    >>> from tinynet.nn import Sigmoid
    >>> act = Sigmoid()
    >>> act([0.0]), act.backward([1.0])
    (array([0.5]), array([0.25]))
    """

    _name = "sigmoid"


class Flatten(Module):
    """Flatten(start_dim=1, end_dim=-1, *, engine="c", dtype=None, rng=None)

    Merges dimensions start_dim..end_dim, as torch.nn.Flatten: (N, T, E) -> (N, T*E),
    e.g. makemore's ``emb.view(N, -1)`` after an Embedding.  backward reshapes the
    gradient back.  Both return reshaped views where NumPy can.  No parameters.

    >>> import numpy as np
    >>> from tinynet.nn import Flatten
    >>> f = Flatten()
    >>> f(np.zeros((32, 3, 10))).shape, f.backward(np.zeros((32, 30))).shape
    ((32, 30), (32, 3, 10))
    """

    def __init__(self, start_dim=1, end_dim=-1, *, engine="c", dtype=None, rng=None):
        super().__init__(engine=engine, dtype=dtype, _dtype_optional=True)
        if rng is not None:
            _generator(rng, "Flatten")  # validated, unused
        self.start_dim = int(start_dim)
        self.end_dim = int(end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"

    def forward(self, x):
        x = np.asarray(x)
        self._check_dtype(x)
        nd = x.ndim
        s = self.start_dim + nd if self.start_dim < 0 else self.start_dim
        e = self.end_dim + nd if self.end_dim < 0 else self.end_dim
        if not (0 <= s < max(nd, 1) and 0 <= e < max(nd, 1)) or s > e:
            raise ValueError(f"{self!r}.forward: dims {self.start_dim}..{self.end_dim} are out of range for "
                             f"x of shape {x.shape}")
        shape = x.shape[:s] + (math.prod(x.shape[s:e + 1]),) + x.shape[e + 1:]
        y = x.reshape(shape)
        self._cache = (x.shape, y.shape)
        return y

    def backward(self, dout):
        x_shape, y_shape = self._cached()
        self._check_dout(dout, y_shape)
        return np.reshape(dout, x_shape)


class FlattenConsecutive(Module):
    """FlattenConsecutive(n, *, engine="c", dtype=None, rng=None)

    Groups n consecutive steps, as makemore part 5's WaveNet does: (B, T, C) ->
    (B, T // n, C * n), the middle axis dropped when it becomes 1 ((B, C * n)).  T must
    be a multiple of n.  backward reshapes the gradient back.  Both return views where
    NumPy can.  No parameters.

    >>> import numpy as np
    >>> from tinynet.nn import FlattenConsecutive
    >>> f = FlattenConsecutive(2)
    >>> f(np.zeros((32, 8, 24))).shape, f(np.zeros((32, 2, 128))).shape
    ((32, 4, 48), (32, 256))
    >>> f.backward(np.zeros((32, 256))).shape
    (32, 2, 128)
    """

    def __init__(self, n, *, engine="c", dtype=None, rng=None):
        super().__init__(engine=engine, dtype=dtype, _dtype_optional=True)
        if rng is not None:
            _generator(rng, "FlattenConsecutive")  # validated, unused
        self.n = _size(n, "n", "FlattenConsecutive")
        if self.n == 0:
            raise ValueError("FlattenConsecutive: n must be >= 1, got 0")

    def extra_repr(self):
        return f"{self.n}"

    def forward(self, x):
        """forward(x): x (B, T, C) -> (B, T // n, C * n), or (B, C * n) when T == n."""
        x = np.asarray(x)
        self._check_dtype(x)
        if x.ndim != 3 or x.shape[1] % self.n:
            raise ValueError(f"{self!r}.forward: x has shape {x.shape}, expected (B, T, C) with T a multiple "
                             f"of n = {self.n}")
        B, T, C = x.shape
        y = x.reshape(B, T // self.n, C * self.n)
        if y.shape[1] == 1:
            y = y.reshape(B, C * self.n)
        self._cache = (x.shape, y.shape)
        return y

    def backward(self, dout):
        x_shape, y_shape = self._cached()
        self._check_dout(dout, y_shape)
        return np.reshape(dout, x_shape)


# --------------------------------------------------------------------------- Embedding


class Embedding(Module):
    """Embedding(num_embeddings, embedding_dim, *, engine="c", dtype=np.float64, init="pytorch", rng=None)

    out = weight[idx], as torch.nn.Embedding: a lookup table of row vectors.

    weight: (num_embeddings, embedding_dim), init "pytorch" N(0, 1) (also
    "xavier_uniform", "kaiming_normal").  idx: integers of any shape S in
    [0, num_embeddings) -> out: S + (embedding_dim,).  backward(dout) stores dweight
    (repeated indices add up) and returns None: token ids have no gradient.

    >>> import numpy as np
    >>> from tinynet.nn import Embedding
    >>> emb = Embedding(27, 10, rng=0)
    >>> out = emb(np.array([[0, 5, 5]]))
    >>> out.shape, emb.backward(np.ones_like(out)), float(emb.grads()[0][5, 0])
    ((1, 3, 10), None, 2.0)
    """

    _param_names = ("weight",)

    def __init__(self, num_embeddings, embedding_dim, *, engine="c", dtype=np.float64, init="pytorch",
                 rng=None):
        super().__init__(engine=engine, dtype=dtype)
        self.num_embeddings = _size(num_embeddings, "num_embeddings", "Embedding")
        self.embedding_dim = _size(embedding_dim, "embedding_dim", "Embedding")
        self.init = _check_init(init, "Embedding")
        g = _generator(rng, "Embedding")
        self.weight = _weight(g, (self.num_embeddings, self.embedding_dim), init, self.dtype)

    def extra_repr(self):
        return f"{self.num_embeddings}, {self.embedding_dim}"

    def forward(self, idx):
        """forward(idx): integer ids of shape S -> S + (embedding_dim,)."""
        idx = np.asarray(idx)
        out = self.tn.embedding_forward(self.weight, idx)
        self._cache = (idx, out.shape)
        return out

    def backward(self, dout):
        """backward(dout): stores dweight (num_embeddings, embedding_dim); returns None."""
        idx, out_shape = self._cached()
        self._check_dout(dout, out_shape)
        self._grads["weight"] = self.tn.embedding_backward(dout, idx, self.num_embeddings)
        return None


# ------------------------------------------------------------------------- BatchNorm1d


class BatchNorm1d(Module):
    """BatchNorm1d(num_features, eps=1e-5, momentum=0.1, correction=0, *, channels_last=False, engine="c", dtype=np.float64, rng=None)

    Batch normalisation of each channel over the batch, as torch.nn.BatchNorm1d (affine,
    tracking running statistics): x (N, C) or (N, C, L), the statistics over N (and L).
    ``channels_last=True`` takes the channels on the last axis instead, x (..., C) with
    the statistics over every other axis: makemore part 5's BatchNorm1d after a
    (B, T, C) activation, whose statistics run over (B, T) -- with its unbiased
    variance, ``BatchNorm1d(C, correction=1, channels_last=True)``.  (N, C) means the
    same either way.

    Training mode (the default, ``train()``): normalises with the batch mean and the
    batch variance divided by N - correction (N the values per channel; 0: PyTorch, 1:
    Bessel, as makemore) via ``batchnorm_forward``, and updates the running statistics
    as PyTorch does: ``running = (1 - momentum) * running + momentum * batch`` with the
    batch mean and the *unbiased* (N - 1) batch variance whatever ``correction`` is (so
    makemore part 5's too); momentum=None is PyTorch's cumulative average (factor 1 /
    num_batches_tracked).  N = 1 raises ValueError, as in PyTorch.  Eval mode
    (``eval()``): ``batchnorm_inference`` with the running statistics; its backward
    treats them as constants.

    Parameters weight (gamma, init 1) and bias (beta, init 0), (num_features,);
    buffers running_mean (0), running_var (1), num_batches_tracked (int, 0) -- all
    (num_features,) whatever the input's layout, so state dicts move to and from
    torch.nn.BatchNorm1d.  eps must be a finite number >= 0 and momentum in [0, 1] (or
    None): ValueError otherwise.  backward(dy) returns dx and stores dweight, dbias.
    rng is accepted for a uniform constructor and unused.

    >>> import numpy as np
    >>> from tinynet.nn import BatchNorm1d
    >>> bn = BatchNorm1d(2)
    >>> y = bn(np.array([[1.0, 2.0], [3.0, 6.0]]))
    >>> y.round(4), bn.running_mean, bn.running_var
    (array([[-1., -1.],
           [ 1.,  1.]]), array([0.2, 0.4]), array([1.1, 1.7]))
    >>> BatchNorm1d(2, channels_last=True)(np.ones((4, 3, 2))).shape     # (B, T, C)
    (4, 3, 2)
    """

    _param_names = ("weight", "bias")
    _buffer_names = ("running_mean", "running_var", "num_batches_tracked")

    def __init__(self, num_features, eps=1e-5, momentum=0.1, correction=0, *, channels_last=False, engine="c",
                 dtype=np.float64, rng=None):
        super().__init__(engine=engine, dtype=dtype)
        self.num_features = C = _size(num_features, "num_features", "BatchNorm1d")
        self.eps = _hyper(eps, "eps", "BatchNorm1d")
        self.momentum = None if momentum is None else _hyper(momentum, "momentum", "BatchNorm1d", upper=1.0)
        self.correction = _size(correction, "correction", "BatchNorm1d")
        self.channels_last = bool(channels_last)
        if rng is not None:
            _generator(rng, "BatchNorm1d")  # validated, unused
        self.weight = np.ones(C, dtype=self.dtype)
        self.bias = np.zeros(C, dtype=self.dtype)
        self.running_mean = np.zeros(C, dtype=self.dtype)
        self.running_var = np.ones(C, dtype=self.dtype)
        self.num_batches_tracked = 0

    def extra_repr(self):
        last = ", channels_last=True" if self.channels_last else ""
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"correction={self.correction}{last}")

    def _channels_last(self, x):
        """x with its channels on the last axis (a copy for (N, C, L)), checked."""
        C = self.num_features
        if self.channels_last:
            ok, want = x.ndim >= 2 and x.shape[-1] == C, f"(N, {C}) or (..., {C})"
        else:
            ok, want = x.ndim in (2, 3) and x.shape[1] == C, f"(N, {C}) or (N, {C}, L)"
        if not ok:
            raise ValueError(f"{self!r}.forward: x has shape {x.shape}, expected {want}")
        return np.ascontiguousarray(np.moveaxis(x, 1, -1)) if x.ndim == 3 and not self.channels_last else x

    def _back(self, y, ndim):
        """A channels-last result in the input's layout."""
        return np.moveaxis(y, -1, 1) if ndim == 3 and not self.channels_last else y

    def forward(self, x):
        """forward(x): x (N, C) / (N, C, L), or (..., C) with channels_last -> y like x, in the current mode."""
        x = self._input(x)
        xl = self._channels_last(x)
        tn = self.tn
        if not self.training:
            y = tn.batchnorm_inference(xl, self.weight, self.bias, self.running_mean, self.running_var, self.eps)
            self._cache = ("eval", xl, x.ndim)
            return self._back(y, x.ndim)
        self._check_batch(math.prod(xl.shape[:-1]), x.shape)
        y, mean, invstd = tn.batchnorm_forward(xl, self.weight, self.bias, self.eps, self.correction,
                                               self.running_mean, self.running_var, self._factor())
        self.num_batches_tracked += 1
        self._cache = ("train", xl, x.ndim, mean, invstd)
        return self._back(y, x.ndim)

    def _check_batch(self, n, shape):
        """Training needs n, the values per channel, above 1."""
        if n <= 1:
            raise ValueError(f"{self!r}.forward: training needs more than 1 value per channel, "
                             f"got x of shape {shape} (use eval() for single examples)")

    def _factor(self):
        """This step's running-average factor: momentum, or 1 / (batches so far + 1)."""
        return self.momentum if self.momentum is not None else 1.0 / (self.num_batches_tracked + 1)

    def backward(self, dout):
        """backward(dout): dout shaped like the output -> dx like x; stores dweight, dbias."""
        cache = self._cached()
        mode, x, ndim = cache[:3]
        self._check_dout(dout, self._back(x, ndim).shape)
        dout = np.asarray(dout, dtype=x.dtype) if not isinstance(dout, np.ndarray) else dout
        if ndim == 3 and not self.channels_last:
            dout = np.ascontiguousarray(np.moveaxis(dout, 1, -1))
        tn = self.tn
        if mode == "train":
            mean, invstd = cache[3:]
            dx, dgamma, dbeta = tn.batchnorm_backward(dout, x, self.weight, mean, invstd, self.correction)
        else:
            # eval: y = gamma * xhat + beta with xhat = (x - running_mean) / sqrt(running_var + eps),
            # an affine map; dx = dy * gamma / sqrt(running_var + eps) is the same map applied to dy
            # with beta = 0 and mean 0.
            zeros = np.zeros_like(self.bias)
            dx = tn.batchnorm_inference(dout, self.weight, zeros, zeros, self.running_var, self.eps)
            xhat = tn.batchnorm_inference(x, np.ones_like(self.weight), zeros, self.running_mean,
                                          self.running_var, self.eps)
            rows = (math.prod(x.shape[:-1]), self.num_features)
            dgamma = (dout * xhat).reshape(rows).sum(axis=0)
            dbeta = dout.reshape(rows).sum(axis=0)
        self._grads["weight"] = dgamma
        self._grads["bias"] = dbeta
        return self._back(dx, ndim)


# --------------------------------------------------------------------------------- RNN


class RNN(Module):
    """RNN(input_size, hidden_size, bptt_steps=None, *, engine="c", dtype=np.float64, init="pytorch", rng=None)

    A vanilla tanh RNN, one layer, time-major, one bias:
    h_t = tanh(W_xh @ x_t + W_hh @ h_{t-1} + b_h).

    W_xh: (hidden_size, input_size); W_hh: (hidden_size, hidden_size); b_h: (hidden_size,).
    init "pytorch": all ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)) as torch.nn.RNN
    ("xavier_uniform" / "kaiming_normal" per matrix, b_h 0).
    forward(x, h0=None): x floats (T, B, input_size) or token ids (T, B) (one-hot
    implied, so input_size is the vocabulary size); unbatched (T, input_size) / (T,)
    with h0 (hidden_size,).  h0 None means zeros.  Returns hs (T, B, H) or (T, H), the
    state after every step (the last state is hs[-1]).
    backward(dhs): dhs = dL/dhs -> dx (None for token input); stores dW_xh, dW_hh, db_h
    and sets ``self.dh0`` (dL/dh0).  bptt_steps=None is full backpropagation through
    time; bptt_steps=k truncates it (see tinynet.rnn_backward).

    >>> import numpy as np
    >>> from tinynet.nn import RNN
    >>> rnn = RNN(4, 3, rng=0)
    >>> hs = rnn(np.array([[0, 1], [2, 3]]))          # T=2 steps, B=2 token sequences
    >>> hs.shape, rnn.backward(np.ones_like(hs)), rnn.dh0.shape
    ((2, 2, 3), None, (2, 3))
    >>> [name for name, _ in rnn.named_parameters()]
    ['W_xh', 'W_hh', 'b_h']
    """

    _param_names = ("W_xh", "W_hh", "b_h")

    def __init__(self, input_size, hidden_size, bptt_steps=None, *, engine="c", dtype=np.float64,
                 init="pytorch", rng=None):
        super().__init__(engine=engine, dtype=dtype)
        self.input_size = D = _size(input_size, "input_size", "RNN")
        self.hidden_size = H = _size(hidden_size, "hidden_size", "RNN")
        self.bptt_steps = None if bptt_steps is None else _size(bptt_steps, "bptt_steps", "RNN", 1)
        self.init = _check_init(init, "RNN")
        g = _generator(rng, "RNN")
        self.W_xh = _weight(g, (H, D), init, self.dtype, pytorch_fan_in=H)
        self.W_hh = _weight(g, (H, H), init, self.dtype, pytorch_fan_in=H)
        self.b_h = _bias(g, H, init, self.dtype, H)
        self.dh0 = None

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        return s if self.bptt_steps is None else s + f", bptt_steps={self.bptt_steps}"

    def forward(self, x, h0=None):
        """forward(x, h0=None) -> hs (T, B, hidden_size) or (T, hidden_size)."""
        raw = np.asarray(x)
        x = raw if raw.dtype.kind in "iu" else self._input(x)  # token ids, or floats
        if h0 is not None:
            h0 = self._input(h0)
        hs = self.tn.rnn_forward(x, h0, self.W_xh, self.W_hh, self.b_h)
        self._cache = (x, h0, hs)
        self.dh0 = None
        return hs

    _state_hint = (" (RNN.state_dict uses torch.nn.RNN's keys: weight_ih_l0 is W_xh, weight_hh_l0 is W_hh, "
                   "and b_h = bias_ih_l0 + bias_hh_l0; tinynet.nn.RNN is torch.nn.RNN(input_size, hidden_size) "
                   "with one layer, tanh, biases and batch_first=False)")

    def _state(self):
        # torch.nn.RNN's names; its two biases are exported as b_h and zeros
        return {"weight_ih_l0": self.W_xh, "weight_hh_l0": self.W_hh, "bias_ih_l0": self.b_h,
                "bias_hh_l0": np.zeros_like(self.b_h)}

    def _load_state(self, arrays):
        self.W_xh[...] = arrays["weight_ih_l0"]
        self.W_hh[...] = arrays["weight_hh_l0"]
        b_ih, b_hh = arrays["bias_ih_l0"], arrays["bias_hh_l0"]
        # added at the wider of the two precisions, then rounded once to the layer's dtype
        self.b_h[...] = np.add(b_ih, b_hh, dtype=np.result_type(b_ih.dtype, b_hh.dtype, self.dtype))

    def backward(self, dhs):
        """backward(dhs) -> dx (None for token ids); stores the weight gradients and self.dh0."""
        x, h0, hs = self._cached()
        self._check_dout(dhs, hs.shape, "dhs")
        dx, dh0, dW_xh, dW_hh, db_h = self.tn.rnn_backward(dhs, x, h0, hs, self.W_xh, self.W_hh,
                                                           self.bptt_steps)
        self._grads.update(W_xh=dW_xh, W_hh=dW_hh, b_h=db_h)
        self.dh0 = dh0
        return dx


# ------------------------------------------------------------------------ LSTM and GRU


class _Gated(Module):
    """What LSTM and GRU share: PyTorch's parameters and names, states in PyTorch's
    (num_layers = 1, B, H) shape or without the leading 1."""

    _gates = 0  # G: 4 (LSTM) or 3 (GRU)

    def __init__(self, input_size, hidden_size, bias=True, *, engine="c", dtype=np.float64, init="pytorch",
                 rng=None):
        super().__init__(engine=engine, dtype=dtype)
        who = type(self).__name__
        self.input_size = D = _size(input_size, "input_size", who)
        self.hidden_size = H = _size(hidden_size, "hidden_size", who)
        self.bias = bool(bias)
        self.init = _check_init(init, who)
        if not self.bias:
            self._param_names = ("weight_ih_l0", "weight_hh_l0")
            self._grads = dict.fromkeys(self._param_names)
        g = _generator(rng, who)
        G = self._gates
        # torch.nn.LSTM / GRU draw every parameter from U(-1/sqrt(H), 1/sqrt(H)), in this order
        self.weight_ih_l0 = _weight(g, (G * H, D), init, self.dtype, pytorch_fan_in=H)
        self.weight_hh_l0 = _weight(g, (G * H, H), init, self.dtype, pytorch_fan_in=H)
        if self.bias:
            self.bias_ih_l0 = _bias(g, G * H, init, self.dtype, H)
            self.bias_hh_l0 = _bias(g, G * H, init, self.dtype, H)

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")

    @property
    def _state_hint(self):
        name = type(self).__name__
        return (f" (tinynet.nn.{name} is torch.nn.{name}(input_size, hidden_size, bias) with one layer, "
                f"batch_first=False, unidirectional{', proj_size=0' if name == 'LSTM' else ''}: its keys are "
                f"weight_ih_l0, weight_hh_l0{', bias_ih_l0, bias_hh_l0' if self.bias else ''})")

    def _biases(self):
        return (self.bias_ih_l0, self.bias_hh_l0) if self.bias else (None, None)

    def _sequence(self, x):
        """x as token ids (integer dtype) or floats of the layer's dtype; and whether batched."""
        raw = np.asarray(x)
        x = raw if raw.dtype.kind in "iu" else self._input(x)
        return x, x.ndim == (2 if x.dtype.kind in "iu" else 3)

    def _state_in(self, h, name, batched):
        """A state given in PyTorch's shape (1, B, H) / (1, H), or as (B, H) / (H,): the
        latter, for the engine; None stays None."""
        if h is None:
            return None
        h = self._input(h)
        if h.ndim == (3 if batched else 2):
            if h.shape[0] != 1:
                raise ValueError(f"{self!r}.forward: {name} has shape {h.shape}; a one-layer "
                                 f"{type(self).__name__} takes {'(1, B, H) or (B, H)' if batched else '(1, H) or (H,)'}")
            h = h[0]
        return h

    @staticmethod
    def _state_out(h, like):
        """An engine state (B, H) / (H,) in the shape of `like` (the user's state), or in
        PyTorch's (1, B, H) / (1, H) when there was none."""
        return h.reshape(like.shape) if like is not None else h[None]

    def _dstate(self, d, name, hs):
        """An optional gradient of a final state, as the engine wants it (B, H) / (H,)."""
        if d is None:
            return None
        d = self._input(d)
        want = hs.shape[1:]
        if d.shape not in (want, (1,) + want):
            raise ValueError(f"{self!r}.backward: {name} has shape {d.shape}, expected {(1,) + want} or {want} "
                             "(the shape of the final state)")
        return d.reshape(want)

    def _dout(self, dout, dh_n, hs):
        """dL/dhs: dout plus the final state's gradient at the last step (dout itself is
        not modified)."""
        self._check_dout(dout, hs.shape)
        dout = self._input(dout)
        dh_n = self._dstate(dh_n, "dh_n", hs)
        if dh_n is None or hs.shape[0] == 0:
            return dout
        dhs = np.array(dout, dtype=hs.dtype, copy=True)
        dhs[-1] += dh_n
        return dhs


class LSTM(_Gated):
    """LSTM(input_size, hidden_size, bias=True, *, engine="c", dtype=np.float64, init="pytorch", rng=None)

    A one-layer LSTM, time-major, exactly torch.nn.LSTM(input_size, hidden_size, bias):
    for each step, with a = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh in blocks i, f, g, o,
    c_t = sigmoid(a_f) c_{t-1} + sigmoid(a_i) tanh(a_g), h_t = sigmoid(a_o) tanh(c_t).

    Parameters with PyTorch's names and layouts: weight_ih_l0 (4H, input_size),
    weight_hh_l0 (4H, H), bias_ih_l0, bias_hh_l0 (4H,) (none with bias=False); init
    "pytorch": all ~ U(-1/sqrt(H), 1/sqrt(H)) as torch.nn.LSTM ("xavier_uniform" /
    "kaiming_normal" per matrix, biases 0).
    forward(x, hx=None) -> (output, (h_n, c_n)), called as torch's: x floats
    (T, B, input_size) or token ids (T, B) (one-hot implied); unbatched (T, input_size) /
    (T,).  hx = (h0, c0), each (1, B, H) as in PyTorch or (B, H) (unbatched (1, H) or
    (H,)), None for zeros.  output (T, B, H) is the hidden state after every step; h_n,
    c_n come back as (1, B, H) / (1, H), or in the shape h0, c0 were given.
    backward(dout, dh_n=None, dc_n=None): dout = dL/doutput, and optionally the
    gradients of the final states -> dx (None for token ids); the parameter gradients go
    to named_grads() under the state-dict names, and dL/dh0, dL/dc0 to self.dh0,
    self.dc0 (shaped like h_n, c_n).

    >>> import numpy as np
    >>> from tinynet.nn import LSTM
    >>> lstm = LSTM(4, 3, rng=0)
    >>> output, (h_n, c_n) = lstm(np.array([[0, 1], [2, 3]]))   # T=2 steps, B=2 token sequences
    >>> output.shape, h_n.shape, lstm.backward(np.ones_like(output)), lstm.dc0.shape
    ((2, 2, 3), (1, 2, 3), None, (1, 2, 3))
    >>> [name for name, _ in lstm.named_grads()]
    ['weight_ih_l0', 'weight_hh_l0', 'bias_ih_l0', 'bias_hh_l0']
    """

    _param_names = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")
    _gates = 4

    def __init__(self, input_size, hidden_size, bias=True, *, engine="c", dtype=np.float64, init="pytorch",
                 rng=None):
        super().__init__(input_size, hidden_size, bias, engine=engine, dtype=dtype, init=init, rng=rng)
        self.dh0 = self.dc0 = None

    def forward(self, x, hx=None):
        """forward(x, hx=None) -> (output, (h_n, c_n))."""
        x, batched = self._sequence(x)
        if hx is None:
            hx = (None, None)
        if not (isinstance(hx, (tuple, list)) and len(hx) == 2):
            raise TypeError(f"{self!r}.forward: hx must be None or a pair (h0, c0), got {type(hx).__name__}")
        h0, c0 = self._state_in(hx[0], "h0", batched), self._state_in(hx[1], "c0", batched)
        hs, cs, gates = self.tn.lstm_forward(x, h0, c0, self.weight_ih_l0, self.weight_hh_l0, *self._biases())
        self._cache = (x, h0, c0, hs, cs, gates, hx)
        self.dh0 = self.dc0 = None
        h_n = hs[-1] if len(hs) else (h0 if h0 is not None else np.zeros(hs.shape[1:], hs.dtype))
        c_n = cs[-1] if len(cs) else (c0 if c0 is not None else np.zeros(cs.shape[1:], cs.dtype))
        return hs, (self._state_out(h_n, hx[0]), self._state_out(c_n, hx[1]))

    def backward(self, dout, dh_n=None, dc_n=None):
        """backward(dout, dh_n=None, dc_n=None) -> dx (None for token ids)."""
        x, h0, c0, hs, cs, gates, hx = self._cached()
        dhs = self._dout(dout, dh_n, hs)
        dc_n = self._dstate(dc_n, "dc_n", hs)
        dx, dh0, dc0, dW_ih, dW_hh, db_ih, db_hh = self.tn.lstm_backward(
            dhs, x, h0, c0, hs, cs, gates, self.weight_ih_l0, self.weight_hh_l0, dc_n)
        self._grads.update(weight_ih_l0=dW_ih, weight_hh_l0=dW_hh)
        if self.bias:
            self._grads.update(bias_ih_l0=db_ih, bias_hh_l0=db_hh)
        self.dh0, self.dc0 = self._state_out(dh0, hx[0]), self._state_out(dc0, hx[1])
        return dx


class GRU(_Gated):
    """GRU(input_size, hidden_size, bias=True, *, engine="c", dtype=np.float64, init="pytorch", rng=None)

    A one-layer GRU, time-major, exactly torch.nn.GRU(input_size, hidden_size, bias): for
    each step, with gi = W_ih x_t + b_ih and gh = W_hh h_{t-1} + b_hh in blocks r, z, n,
    r = sigmoid(gi_r + gh_r), z = sigmoid(gi_z + gh_z), n = tanh(gi_n + r gh_n),
    h_t = (1 - z) n + z h_{t-1}.

    Parameters with PyTorch's names and layouts: weight_ih_l0 (3H, input_size),
    weight_hh_l0 (3H, H), bias_ih_l0, bias_hh_l0 (3H,) (none with bias=False); init as
    LSTM's.
    forward(x, h0=None) -> (output, h_n), called as torch's: x floats (T, B, input_size)
    or token ids (T, B); unbatched (T, input_size) / (T,).  h0 (1, B, H) as in PyTorch or
    (B, H) (unbatched (1, H) or (H,)), None for zeros.  output (T, B, H); h_n comes back
    as (1, B, H) / (1, H), or in the shape h0 was given.
    backward(dout, dh_n=None) -> dx (None for token ids); the parameter gradients go to
    named_grads() under the state-dict names, dL/dh0 to self.dh0.

    >>> import numpy as np
    >>> from tinynet.nn import GRU
    >>> gru = GRU(2, 3, rng=0)
    >>> output, h_n = gru(np.ones((5, 4, 2)))            # T=5, B=4, input_size=2
    >>> output.shape, h_n.shape, gru.backward(np.ones_like(output)).shape
    ((5, 4, 3), (1, 4, 3), (5, 4, 2))
    """

    _param_names = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")
    _gates = 3

    def __init__(self, input_size, hidden_size, bias=True, *, engine="c", dtype=np.float64, init="pytorch",
                 rng=None):
        super().__init__(input_size, hidden_size, bias, engine=engine, dtype=dtype, init=init, rng=rng)
        self.dh0 = None

    def forward(self, x, h0=None):
        """forward(x, h0=None) -> (output, h_n)."""
        x, batched = self._sequence(x)
        given = h0
        h0 = self._state_in(h0, "h0", batched)
        hs, gates, gh_n = self.tn.gru_forward(x, h0, self.weight_ih_l0, self.weight_hh_l0, *self._biases())
        self._cache = (x, h0, hs, gates, gh_n, given)
        self.dh0 = None
        h_n = hs[-1] if len(hs) else (h0 if h0 is not None else np.zeros(hs.shape[1:], hs.dtype))
        return hs, self._state_out(h_n, given)

    def backward(self, dout, dh_n=None):
        """backward(dout, dh_n=None) -> dx (None for token ids)."""
        x, h0, hs, gates, gh_n, given = self._cached()
        dhs = self._dout(dout, dh_n, hs)
        dx, dh0, dW_ih, dW_hh, db_ih, db_hh = self.tn.gru_backward(dhs, x, h0, hs, gates, gh_n,
                                                                   self.weight_ih_l0, self.weight_hh_l0)
        self._grads.update(weight_ih_l0=dW_ih, weight_hh_l0=dW_hh)
        if self.bias:
            self._grads.update(bias_ih_l0=db_ih, bias_hh_l0=db_hh)
        self.dh0 = self._state_out(dh0, given)
        return dx


# -------------------------------------------------------------------------- Sequential


def _fusable(linear, bn, act, x):
    """Can Sequential run these three layers as one linear_batchnorm_tanh_* call: a
    Linear, a BatchNorm1d in training mode on the channels it outputs, a Tanh, one
    engine and dtype, and an input array it takes as rows (N, D) (or (..., D) with
    channels last)?"""
    return (type(linear) is Linear and type(bn) is BatchNorm1d and type(act) is Tanh and bn.training
            and isinstance(x, np.ndarray) and x.dtype == linear.dtype == bn.dtype
            and (x.ndim == 2 or (bn.channels_last and x.ndim > 2)) and x.shape[-1] == linear.in_features
            and bn.num_features == linear.out_features and linear.engine == bn.engine == act.engine
            and act.dtype in (None, x.dtype))


def _block_forward(linear, bn, act, x):
    """The forward pass of three fusable layers in one call; each keeps its cache."""
    rows = x.reshape(math.prod(x.shape[:-1]), x.shape[-1])
    bn._check_batch(rows.shape[0], x.shape[:-1] + (bn.num_features,))
    h, hpre, mean, invstd = linear.tn.linear_batchnorm_tanh_forward(
        rows, linear.weight, linear.bias, bn.weight, bn.bias, bn.eps, bn.correction, None, bn.running_mean,
        bn.running_var, bn._factor())
    bn.num_batches_tracked += 1
    shape = x.shape[:-1] + (linear.out_features,)
    linear._cache = (x, shape)
    bn._cache = ("train", hpre.reshape(shape), len(shape), mean, invstd)
    act._cache = h = h.reshape(shape)
    return h


def _block_backward(linear, bn, act, dh):
    """The backward pass of a block fused in the forward pass, in one call."""
    h = act._cached()
    act._check_dout(dh, h.shape)
    x, _ = linear._cached()
    _, hpre, _, mean, invstd = bn._cached()
    N, H = math.prod(x.shape[:-1]), linear.out_features
    dx, dW, db, dgamma, dbeta = linear.tn.linear_batchnorm_tanh_backward(
        np.reshape(dh, (N, H)), h.reshape(N, H), x.reshape(N, x.shape[-1]), linear.weight, bn.weight,
        hpre.reshape(N, H), mean, invstd, bn.correction)
    linear._grads["weight"] = dW
    if linear.bias is not None:
        linear._grads["bias"] = db
    bn._grads["weight"], bn._grads["bias"] = dgamma, dbeta
    return dx.reshape(x.shape)


class Sequential(Module):
    """Sequential([layer, ...])

    Layers applied in order; backward runs them in reverse, so an MLP is
    ``Sequential([Linear(...), Tanh(), Linear(...)])``.  ``Sequential(l1, l2, ...)``
    works too.  parameters()/grads() concatenate the layers' lists;
    named_parameters() prefixes each name with the layer's index ("0.weight", as
    PyTorch); train()/eval() reach every layer.  Indexing and len() as for a list.

    >>> import numpy as np
    >>> from tinynet.nn import Sequential, Linear, ReLU
    >>> mlp = Sequential([Linear(26, 64, rng=42), ReLU(), Linear(64, 26, rng=43)])
    >>> out = mlp(np.eye(26)[:2])
    >>> out.shape, mlp.backward(np.ones_like(out)).shape, sum(p.size for p in mlp.parameters())
    ((2, 26), (2, 26), 3418)
    """

    def __init__(self, layers=(), *more):
        if isinstance(layers, Module):
            layers = (layers,) + more
        elif more:
            raise TypeError("Sequential: pass the layers as one list, Sequential([l1, l2]), or as arguments")
        self.layers = list(layers)
        for i, layer in enumerate(self.layers):
            if not isinstance(layer, Module):
                raise TypeError(f"Sequential: layer {i} is a {type(layer).__name__}, not a tinynet.nn layer")
        self.training = True
        self.engine = None
        self.dtype = None

    def __repr__(self):
        inner = "".join(f"\n  ({i}): {layer!r}" for i, layer in enumerate(self.layers))
        return f"Sequential({inner}\n)" if inner else "Sequential()"

    def __len__(self):
        return len(self.layers)

    def __iter__(self):
        return iter(self.layers)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return Sequential(self.layers[i])
        return self.layers[i]

    def forward(self, x):
        """forward(x): each layer's forward in order.  A Linear followed by a BatchNorm1d in
        training mode and a Tanh (makemore's hidden block) runs as one
        ``linear_batchnorm_tanh_forward`` call: the same bits as the three layers one
        after the other, each layer's cache and running statistics as they would be."""
        layers, n, i = self.layers, len(self.layers), 0
        self._fused = fused = []
        while i < n:
            if i + 2 < n and _fusable(layers[i], layers[i + 1], layers[i + 2], x):
                x = _block_forward(layers[i], layers[i + 1], layers[i + 2], x)
                fused.append(i)
                i += 3
            else:
                x = layers[i](x)
                i += 1
        return x

    def backward(self, dout):
        """backward(dout): each layer's backward in reverse order (a block fused in the
        forward pass as one ``linear_batchnorm_tanh_backward`` call); returns dL/dinput
        (None when the first layer takes token ids)."""
        fused = getattr(self, "_fused", ())
        i = len(self.layers) - 1
        while i >= 0:
            if dout is None:
                raise ValueError(f"Sequential.backward: layer {i + 1} ({self.layers[i + 1]!r}) returned no input "
                                 f"gradient, so layer {i} ({self.layers[i]!r}) cannot be backpropagated")
            if i - 2 in fused:
                dout = _block_backward(self.layers[i - 2], self.layers[i - 1], self.layers[i], dout)
                i -= 3
            else:
                dout = self.layers[i].backward(dout)
                i -= 1
        return dout

    def named_parameters(self):
        return [(f"{i}.{n}", p) for i, layer in enumerate(self.layers) for n, p in layer.named_parameters()]

    def _state(self):
        return {f"{i}.{k}": v for i, layer in enumerate(self.layers) for k, v in layer._state().items()}

    def _load_state(self, arrays):
        for i, layer in enumerate(self.layers):
            prefix = f"{i}."
            layer._load_state({k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)})

    def _owner(self, key):
        i, _, rest = str(key).partition(".")
        if i.isdigit() and int(i) < len(self.layers):
            return self.layers[int(i)]._owner(rest)
        return self

    def _short_repr(self):
        return f"Sequential({', '.join(type(layer).__name__ for layer in self.layers)})"

    def named_grads(self):
        return [(f"{i}.{n}", g) for i, layer in enumerate(self.layers) for n, g in layer.named_grads()]

    def named_buffers(self):
        return [(f"{i}.{n}", b) for i, layer in enumerate(self.layers) for n, b in layer.named_buffers()]

    def zero_grad(self):
        for layer in self.layers:
            layer.zero_grad()

    def _grad_slots(self):
        return [slot for layer in self.layers for slot in layer._grad_slots()]

    def train(self, mode=True):
        self.training = bool(mode)
        for layer in self.layers:
            layer.train(mode)
        return self
