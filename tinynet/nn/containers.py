"""tinynet.nn.containers: Sequential (which runs a Linear, BatchNorm1d, Tanh block as one
fused call)."""
import math

import numpy as np

from tinynet.nn._base import Module
from tinynet.nn.linear import Linear, Tanh
from tinynet.nn.norm import BatchNorm1d


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
    rows = x if x.ndim == 2 else x.reshape(math.prod(x.shape[:-1]), x.shape[-1])
    if rows.shape[0] <= 1:
        bn._check_batch(rows.shape[0], x.shape[:-1] + (bn.num_features,))
    momentum = bn.momentum if bn.momentum is not None else 1.0 / (bn.num_batches_tracked + 1)
    h, hpre, mean, invstd = linear.tn.linear_batchnorm_tanh_forward(
        rows, linear.weight, linear.bias, bn.weight, bn.bias, bn.eps, bn.correction, None, bn.running_mean,
        bn.running_var, momentum)
    bn.num_batches_tracked += 1
    if x.ndim != 2:
        shape = x.shape[:-1] + (linear.out_features,)
        hpre, h = hpre.reshape(shape), h.reshape(shape)
    linear._cache = (x, h.shape)
    bn._cache = ("train", hpre, h.ndim, mean, invstd)
    act._cache = h
    return h


def _block_backward(linear, bn, act, dh):
    """The backward pass of a block fused in the forward pass, in one call."""
    h = act._cached()
    if getattr(dh, "shape", None) != h.shape:
        act._check_dout(dh, h.shape)
    x = linear._cache[0]
    _, hpre, _, mean, invstd = bn._cache
    if h.ndim != 2:
        rows = (math.prod(h.shape[:-1]), linear.out_features)
        dh, h, hpre = np.reshape(dh, rows), h.reshape(rows), hpre.reshape(rows)
    rows = x if x.ndim == 2 else x.reshape(math.prod(x.shape[:-1]), x.shape[-1])
    dx, dW, db, dgamma, dbeta = linear.tn.linear_batchnorm_tanh_backward(
        dh, h, rows, linear.weight, bn.weight, hpre, mean, invstd, bn.correction)
    grads = linear._grads
    grads["weight"] = dW
    if linear.bias is not None:
        grads["bias"] = db
    grads = bn._grads
    grads["weight"], grads["bias"] = dgamma, dbeta
    return dx if x.ndim == 2 else dx.reshape(x.shape)


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
                x = layers[i].forward(x)
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


class ModuleList(Module):
    """ModuleList([layer, ...])

    Layers held in a list, as torch.nn.ModuleList: indexing, len(), iteration and
    append(); its parameters, gradients and state dict are its layers', prefixed with
    their index ("0.weight", as PyTorch); train()/eval() reach every layer.  It has no
    forward: the model that holds it runs its layers (a GPT's stack of blocks).

    >>> from tinynet.nn import ModuleList, Linear
    >>> blocks = ModuleList([Linear(4, 4, rng=i) for i in range(3)])
    >>> len(blocks), list(blocks.state_dict())[:2]
    (3, ['0.weight', '0.bias'])
    """

    def __init__(self, layers=()):
        self.layers = []
        self.training = True
        self.engine = None
        self.dtype = None
        self._grads = {}
        self._cache = None
        for layer in layers:
            self.append(layer)

    def append(self, layer):
        """append(layer): adds a layer at the end; returns self."""
        if not isinstance(layer, Module):
            raise TypeError(f"ModuleList: layer {len(self.layers)} is a {type(layer).__name__}, not a tinynet.nn layer")
        self.layers.append(layer)
        return self

    def _submodules(self):
        return [(str(i), layer) for i, layer in enumerate(self.layers)]

    def __len__(self):
        return len(self.layers)

    def __iter__(self):
        return iter(self.layers)

    def __getitem__(self, i):
        return ModuleList(self.layers[i]) if isinstance(i, slice) else self.layers[i]

    def __repr__(self):
        inner = "".join(f"\n  ({i}): {layer!r}" for i, layer in enumerate(self.layers))
        return f"ModuleList({inner}\n)" if inner else "ModuleList()"

    def _short_repr(self):
        return f"ModuleList({', '.join(type(layer).__name__ for layer in self.layers)})"

    def forward(self, x):
        raise TypeError("ModuleList has no forward: run its layers in turn (for layer in blocks: x = layer(x))")

    def backward(self, dout):
        raise TypeError("ModuleList has no backward: run its layers' backward in reverse order "
                        "(for layer in reversed(blocks): dout = layer.backward(dout))")
