"""tinynet.nn.linear: The affine layer and the activations (tinynet's linear layer:
csrc/tn_linear.c), Flatten and FlattenConsecutive."""
import math
from typing import Optional

import numpy as np

from tinynet.nn._base import Module, _bias, _check_init, _generator, _size, _weight


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
        if not isinstance(x, np.ndarray):
            x = self._input(x)
        y = self._tn.linear_forward(x, self.weight, self.bias)
        self._cache = (x, y.shape)
        return y

    def backward(self, dout):
        """backward(dout): dout shaped like y -> dx shaped like x; stores dweight, dbias."""
        x, y_shape = self._cache or self._cached()
        if getattr(dout, "shape", None) != y_shape:
            self._check_dout(dout, y_shape)
        dx, dW, db = self._tn.linear_backward(dout, x, self.weight)
        grads = self._grads
        grads["weight"] = dW
        if self.bias is not None:
            grads["bias"] = db
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
        if not isinstance(x, np.ndarray):
            x = self._input(x)
        self._check_dtype(x)
        y = getattr(self._tn, self._forward_name)(x)
        self._cache = y if self._saves == "output" else x
        return y

    def backward(self, dout):
        v = self._cached()
        self._check_dout(dout, v.shape)
        return getattr(self._tn, self._backward_name)(dout, v)

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        if cls._name is not None:
            cls._forward_name, cls._backward_name = f"{cls._name}_forward", f"{cls._name}_backward"


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


class _Reshape(Module):
    """A layer that only reshapes: forward caches (x.shape, y.shape), backward reshapes
    dout back.  No parameters; rng is validated and unused."""

    def __init__(self, rng, who, *, engine, dtype):
        super().__init__(engine=engine, dtype=dtype, _dtype_optional=True)
        if rng is not None:
            _generator(rng, who)  # validated, unused

    def _array(self, x):
        """x as an ndarray of the layer's dtype (if it has one)."""
        if not isinstance(x, np.ndarray):
            x = np.asarray(x)
        self._check_dtype(x)
        return x

    def backward(self, dout):
        x_shape, y_shape = self._cache or self._cached()
        if getattr(dout, "shape", None) != y_shape:
            self._check_dout(dout, y_shape)
        return dout.reshape(x_shape) if isinstance(dout, np.ndarray) else np.reshape(dout, x_shape)


class Flatten(_Reshape):
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
        super().__init__(rng, "Flatten", engine=engine, dtype=dtype)
        self.start_dim = int(start_dim)
        self.end_dim = int(end_dim)
        self._shapes = {}

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"

    def forward(self, x):
        x = self._array(x)
        shapes = self._shapes.get(x.shape)  # the last input shapes' outputs: a step sees the same ones
        if shapes is None:
            shapes = self._shapes[x.shape] = (x.shape, self._flat_shape(x.shape))
        self._cache = shapes
        return x.reshape(shapes[1])

    def _flat_shape(self, shape):
        nd = len(shape)
        s = self.start_dim + nd if self.start_dim < 0 else self.start_dim
        e = self.end_dim + nd if self.end_dim < 0 else self.end_dim
        if not (0 <= s < max(nd, 1) and 0 <= e < max(nd, 1)) or s > e:
            raise ValueError(f"{self!r}.forward: dims {self.start_dim}..{self.end_dim} are out of range for "
                             f"x of shape {shape}")
        if len(self._shapes) > 16:
            self._shapes.clear()
        return shape[:s] + (math.prod(shape[s:e + 1]),) + shape[e + 1:]

class FlattenConsecutive(_Reshape):
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
        super().__init__(rng, "FlattenConsecutive", engine=engine, dtype=dtype)
        self.n = _size(n, "n", "FlattenConsecutive")
        if self.n == 0:
            raise ValueError("FlattenConsecutive: n must be >= 1, got 0")

    def extra_repr(self):
        return f"{self.n}"

    def forward(self, x):
        """forward(x): x (B, T, C) -> (B, T // n, C * n), or (B, C * n) when T == n."""
        x = self._array(x)
        if x.ndim != 3 or x.shape[1] % self.n:
            raise ValueError(f"{self!r}.forward: x has shape {x.shape}, expected (B, T, C) with T a multiple "
                             f"of n = {self.n}")
        B, T, C = x.shape
        y = x.reshape(B, T // self.n, C * self.n)
        if y.shape[1] == 1:
            y = y.reshape(B, C * self.n)
        self._cache = (x.shape, y.shape)
        return y


class GELU(_Activation):
    """GELU(approximate="none", *, engine="c", dtype=None, rng=None)

    y = x * Phi(x) elementwise (Phi the standard normal's distribution function, through
    erf), or with ``approximate="tanh"`` GPT-2's / makemore's NewGELU,
    0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x**3))), as torch.nn.GELU.  Its derivative
    needs the input: the layer keeps x for ``gelu_backward(dy, x)``.  No parameters.

    >>> from tinynet.nn import GELU
    >>> act = GELU()
    >>> act([0.0, 1.0]).round(4), GELU("tanh")([1.0]).round(4)
    (array([0.    , 0.8413]), array([0.8412]))
    """

    _name = "gelu"
    _saves = "input"

    def __init__(self, approximate="none", *, engine="c", dtype=None, rng=None):
        super().__init__(engine=engine, dtype=dtype, rng=rng)
        if approximate not in ("none", "tanh"):
            raise ValueError(f'GELU: approximate must be "none" or "tanh", got {approximate!r}')
        self.approximate = approximate

    def extra_repr(self):
        return f"approximate={self.approximate!r}"

    def forward(self, x):
        if not isinstance(x, np.ndarray):
            x = self._input(x)
        self._check_dtype(x)
        self._cache = x
        return self.tn.gelu_forward(x, self.approximate)

    def backward(self, dout):
        x = self._cached()
        self._check_dout(dout, x.shape)
        return self.tn.gelu_backward(dout, x, self.approximate)
