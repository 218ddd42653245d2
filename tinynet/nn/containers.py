"""tinynet.nn.containers: Sequential (which runs a Linear, BatchNorm1d, Tanh block as one
fused call)."""
import math
from collections import namedtuple

import numpy as np

from tinynet.nn._base import _SETTINGS, Module
from tinynet.nn.linear import Linear, Tanh
from tinynet.nn.norm import BatchNorm1d


# -------------------------------------------------------------------------- Sequential


def _fusable_layers(linear, bn, act):
    """Can Sequential run these three layers as one linear_batchnorm_tanh_* call, as far
    as the layers go: a Linear, a BatchNorm1d in training mode on the channels it
    outputs, a Tanh, one engine and dtype.  (The input is checked at each call, by
    _takes.)"""
    return (type(linear) is Linear and type(bn) is BatchNorm1d and type(act) is Tanh and bn.training
            and linear.dtype == bn.dtype and bn.num_features == linear.out_features
            and linear.engine == bn.engine == act.engine and act.dtype in (None, linear.dtype))


#: A step of a forward pass: a layer run alone (bn None and the rest None), or a fusable
#: block (layer its Linear, then its BatchNorm1d and Tanh, its engine's two fused
#: functions, and the last axis and dtype of the inputs it takes).
_Step = namedtuple("_Step", "index layer bn act forward backward last_axis dtype",
                   defaults=(None, None, None, None, None, None))


def _takes(block, x):
    """Does a fusable block (a _Step) take x: an array of its dtype, (N, D), or (..., D)
    with channels last?"""
    return (isinstance(x, np.ndarray) and x.shape[-1:] == block.last_axis
            and (x.dtype is block.dtype or x.dtype == block.dtype)
            and (x.ndim == 2 or (block.bn.channels_last and x.ndim > 2)))


def _block_forward(linear, bn, act, x, forward):
    """The forward pass of three fusable layers in one call of the engine's
    linear_batchnorm_tanh_forward (`forward`); each layer keeps its cache."""
    rows = x if x.ndim == 2 else x.reshape(math.prod(x.shape[:-1]), x.shape[-1])
    if rows.shape[0] <= 1:
        bn._check_batch(rows.shape[0], x.shape[:-1] + (bn.num_features,))
    h, hpre, mean, invstd = forward(rows, linear.weight, linear.bias, bn.weight, bn.bias, bn.eps, bn.correction, None,
                                    bn.running_mean, bn.running_var, bn._factor())
    bn.num_batches_tracked += 1
    if rows is not x:
        shape = x.shape[:-1] + (linear.out_features,)
        hpre, h = hpre.reshape(shape), h.reshape(shape)
    linear._cache = (x, h.shape)
    bn._cache = ("train", hpre, h.ndim, mean, invstd)
    act._cache = h
    return h


def _block_backward(linear, bn, act, dh, backward):
    """The backward pass of a block fused in the forward pass, in one call of the engine's
    linear_batchnorm_tanh_backward (`backward`)."""
    h = act._cache
    if h is None:
        act._cached()  # (the error)
    if getattr(dh, "shape", None) != h.shape:
        act._check_dout(dh, h.shape)
    x = linear._cache[0]
    _, hpre, ndim, mean, invstd = bn._cache
    if ndim != 2:
        shape = (math.prod(h.shape[:-1]), linear.out_features)
        dh, h, hpre = np.reshape(dh, shape), h.reshape(shape), hpre.reshape(shape)
        rows = x.reshape(math.prod(x.shape[:-1]), x.shape[-1])
    else:
        rows = x
    dx, dW, db, dgamma, dbeta = backward(dh, h, rows, linear.weight, bn.weight, hpre, mean, invstd, bn.correction)
    grads = linear._grads
    grads["weight"] = dW
    if linear.bias is not None:
        grads["bias"] = db
    grads = bn._grads
    grads["weight"], grads["bias"] = dgamma, dbeta
    return dx if rows is x else dx.reshape(x.shape)


class _Plan:
    """What Sequential decided about its layers: the steps of a forward pass (_Step: a
    layer run alone, or a fusable block).
    It holds while the layers are the same objects (`layers`, a copy of the list) and no
    layer's mode, engine or dtype has changed since it was made (`settings`, the count
    of such changes then): a layer swapped or appended, a BatchNorm1d put in eval mode
    (by the container or on its own), an engine changed make a new plan."""

    __slots__ = ("layers", "settings", "steps")

    def __init__(self, layers):
        self.layers = layers = list(layers)
        self.settings = _SETTINGS[0]
        n = len(layers)
        steps, i = [], 0
        while i < n:
            if i + 2 < n and _fusable_layers(*layers[i:i + 3]):
                linear, bn, act = layers[i:i + 3]
                tn = linear.tn
                steps.append(_Step(i, linear, bn, act, tn.linear_batchnorm_tanh_forward,
                                   tn.linear_batchnorm_tanh_backward, (linear.in_features,), linear.dtype))
                i += 3
            else:
                steps.append(_Step(i, layers[i]))
                i += 1
        self.steps = steps


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

    #: The plan of the forward pass (_Plan), made at the first call and again when the
    #: layers or the modes, engines or dtypes of its blocks change; and the steps the
    #: last forward pass took (its plan's, or each layer alone where a block did not
    #: take its input).
    _plan = None
    _ran = None

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
        plan = self._plan
        if plan is None or plan.settings != _SETTINGS[0] or plan.layers != self.layers:
            plan = self._plan = _Plan(self.layers)
        steps = plan.steps
        for step in steps:
            if step.bn is None:
                x = step.layer.forward(x)
            elif _takes(step, x):
                x = _block_forward(step.layer, step.bn, step.act, x, step.forward)
            else:  # one it does not take: this block's layers one by one, then the rest as planned
                return self._forward_unfused(steps.index(step), x)
        self._ran = steps
        return x

    def _forward_unfused(self, k, x):
        """The forward pass from the block at steps[k], whose layers run one by one (the
        input is not one the block takes); the blocks after it are fused where they
        take their inputs."""
        steps = self._plan.steps
        ran = steps[:k]
        for step in steps[k:]:
            i, layer, bn, act = step.index, step.layer, step.bn, step.act
            if bn is None:
                x = layer.forward(x)
            elif step is not steps[k] and _takes(step, x):
                x = _block_forward(layer, bn, act, x, step.forward)
            else:
                ran += [_Step(i + j, one) for j, one in enumerate((layer, bn, act))]
                x = act.forward(bn.forward(layer.forward(x)))
                continue
            ran.append(step)
        self._ran = ran
        return x

    @property
    def _fused(self):
        """[index, ...]: the first layer of each block the last forward pass fused."""
        return [step.index for step in self._ran if step.bn is not None]

    def backward(self, dout):
        """backward(dout): each layer's backward in reverse order (a block fused in the
        forward pass as one ``linear_batchnorm_tanh_backward`` call); returns dL/dinput
        (None when the first layer takes token ids)."""
        ran = self._ran
        if ran is None:  # no forward pass yet: each layer says so
            ran = [_Step(i, layer) for i, layer in enumerate(self.layers)]
        below = None
        for step in reversed(ran):
            layer, bn = step.layer, step.bn
            if dout is None:
                top = (step.index + 2, step.act) if bn is not None else (step.index, layer)
                raise ValueError(f"Sequential.backward: layer {below.index} ({below.layer!r}) returned no input "
                                 f"gradient, so layer {top[0]} ({top[1]!r}) cannot be backpropagated")
            dout = layer.backward(dout) if bn is None else _block_backward(layer, bn, step.act, dout, step.backward)
            below = step
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
