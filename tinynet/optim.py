"""tinynet.optim: optimizers as objects, as torch.optim, each step one call into the engine.

An optimizer holds a model's parameters (the live arrays of ``model.parameters()``, or a
list of arrays) and what its algorithm keeps between steps (momentum buffers, moments,
sums, step counts); ``step()`` updates every parameter in place with one call of the
engine's multi-tensor function (``sgd_foreach_``, ``adam_foreach_``,
``adagrad_foreach_``), whatever the number of parameters.

    >>> import numpy as np
    >>> import tinynet as tn
    >>> from tinynet import nn, optim
    >>> model = nn.Sequential([nn.Linear(3, 4, rng=0), nn.Tanh(), nn.Linear(4, 2, rng=1)])
    >>> opt = optim.AdamW(model, lr=1e-2)
    >>> x, y = np.ones((5, 3)), np.array([0, 1, 1, 0, 1])
    >>> for _ in range(3):
    ...     loss, probs = tn.cross_entropy_forward(model(x), y)
    ...     dx = model.backward(tn.cross_entropy_backward(probs, y))
    ...     opt.step()                       # every parameter, one C call
    >>> opt.lr = 1e-3                        # or opt.param_groups[0]["lr"] = 1e-3
    >>> sorted(opt.state_dict()["state"][0])
    ['exp_avg', 'exp_avg_sq', 'step']

PyTorch's arithmetic and defaults: ``SGD`` (momentum, dampening, Nesterov, L2 weight
decay), ``Adam`` (weight decay added to the gradient), ``AdamW`` (decoupled weight decay:
``adam_step_``'s arithmetic, bit for bit), ``Adagrad`` (eps outside the square root, as
torch; ``adagrad_step_`` is min-char-rnn's).  A parameter whose gradient is None (before
its first backward, or after ``zero_grad()``) is skipped and its state left alone, as in
PyTorch.  ``state_dict()`` uses torch.optim's layout: ``{"state": {i: {...}},
"param_groups": [{..., "params": [0, 1, ...]}]}``.
"""
import math
from operator import getitem

import numpy as np

import tinynet

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "Adagrad"]


def _hyper(name, v, owner, upper=None):
    """A hyperparameter: a finite number >= 0 (and < upper when given)."""
    if isinstance(v, (bool, str, bytes)) or v is None:
        raise TypeError(f"{owner}: {name} must be a real number, not {type(v).__name__}")
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise TypeError(f"{owner}: {name} must be a real number, not {type(v).__name__}") from None
    if upper is not None and not (0 <= f < upper):
        raise ValueError(f"{owner}: {name} must be in [0, {upper}), got {f!r}")
    if not (f >= 0 and math.isfinite(f)):
        raise ValueError(f"{owner}: {name} must be a finite number >= 0, got {f!r}")
    return f


def _parameters(params, owner):
    """(module or None, [arrays]) from an nn.Module or an iterable of arrays."""
    from tinynet import nn

    module = params if isinstance(params, nn.Module) else None
    arrays = list(module.parameters() if module is not None else params)
    if not arrays:
        raise ValueError(f"{owner}: got an empty list of parameters")
    for i, p in enumerate(arrays):
        if not isinstance(p, np.ndarray) or p.dtype not in (np.float32, np.float64):
            got = f"dtype {p.dtype}" if isinstance(p, np.ndarray) else type(p).__name__
            raise TypeError(f"{owner}: parameter {i} must be a float32 or float64 ndarray, got {got}")
        if not (p.flags.writeable and p.flags.c_contiguous):
            raise ValueError(f"{owner}: parameter {i} (shape {p.shape}) must be writeable and C-contiguous: "
                             "it is updated in place")
    for i, p in enumerate(arrays):
        for j in range(i):
            if np.may_share_memory(p, arrays[j]):
                raise ValueError(f"{owner}: parameters {j} and {i} share memory; each must be its own array")
    return module, arrays


def _module_engine(module):
    """The engine a model's layers use ("c" when they use none, or both)."""
    layers = getattr(module, "layers", None)
    if layers is None:
        return module.engine or "c"
    engines = {_module_engine(layer) for layer in layers if layer.parameters()}
    return engines.pop() if len(engines) == 1 else "c"


class Optimizer:
    """Optimizer(params, defaults, *, engine=None)

    The base of the optimizers: the parameters, one parameter group (``param_groups[0]``,
    the hyperparameters, as torch.optim), the state kept between steps, and the step
    counts.  ``params`` is an ``nn.Module`` (then ``step()`` reads its gradients) or a
    list of arrays (then ``step(grads)`` takes their gradients in the same order).
    ``engine`` is the module's by default ("c" for a list): "numpy" steps with the NumPy
    engine's functions.  Subclasses name their state (``_state_names``, torch's keys)
    and call their engine function in ``_step``.
    """

    _state_names = ()

    def __init__(self, params, defaults, *, engine=None):
        owner = type(self).__name__
        self.module, self.params = _parameters(params, owner)
        if engine is None:
            engine = _module_engine(self.module) if self.module is not None else "c"
        self.engine = engine
        self.tn = tinynet.engine(engine)
        self.param_groups = [dict(defaults, params=self.params)]
        # where the module keeps each gradient, read at every step without walking the model
        self._grad_slots = self.module._grad_slots() if self.module is not None else None
        if self._grad_slots is not None:
            self._grad_dicts = [d for d, _ in self._grad_slots]
            self._grad_keys = [k for _, k in self._grad_slots]
        self._steps = np.zeros(len(self.params), dtype=np.int64)
        self._state = {name: [np.zeros_like(p) for p in self.params] for name in self._state_names}

    @property
    def lr(self):
        """The learning rate (``param_groups[0]["lr"]``), which may change between steps."""
        return self.param_groups[0]["lr"]

    @lr.setter
    def lr(self, value):
        self.param_groups[0]["lr"] = _hyper("lr", value, type(self).__name__)

    def _grads(self, grads):
        if grads is None:
            if self.module is None:
                raise TypeError(f"{type(self).__name__}.step: an optimizer over a list of arrays needs "
                                "step(grads), the gradients in the parameters' order")
            return list(map(getitem, self._grad_dicts, self._grad_keys))
        grads = list(grads)
        if len(grads) != len(self.params):
            raise ValueError(f"{type(self).__name__}.step: got {len(grads)} gradients for {len(self.params)} "
                             "parameters")
        return grads

    def step(self, grads=None):
        """step(grads=None)

        Updates every parameter in place, in one engine call.  grads: None for a module
        (its gradients from the last backward), else a list in the parameters' order;
        a None gradient skips its parameter.  Returns None.
        """
        if grads is None and self._grad_slots is not None:  # a module's gradients, where its layers keep them
            self._step(list(map(getitem, self._grad_dicts, self._grad_keys)), self.param_groups[0])
        else:
            self._step(self._grads(grads), self.param_groups[0])

    def zero_grad(self):
        """zero_grad()

        Forgets the module's gradients (each becomes None, as PyTorch's
        ``set_to_none=True``), so a step before the next backward changes nothing.
        Gradients passed to ``step(grads)`` are the caller's: nothing to do then.
        """
        if self.module is not None:
            self.module.zero_grad()

    # -- state dict: torch.optim's layout ------------------------------------------------
    def state_dict(self):
        """state_dict()

        ``{"state": {i: {key: value}}, "param_groups": [{hyperparameters, "params": [0,
        1, ...]}]}`` as torch.optim: the state of each parameter stepped so far (copies),
        under torch's keys, with its step count.
        """
        state = {}
        for i in range(len(self.params)):
            if self._steps[i] == 0 and not self._stateful_before_step():
                continue
            entry = {name: self._state[name][i].copy() for name in self._state_names}
            if self._counts_steps():
                entry["step"] = int(self._steps[i])
            state[i] = entry
        group = {k: (tuple(v) if isinstance(v, list) else v) for k, v in self.param_groups[0].items() if k != "params"}
        group["params"] = list(range(len(self.params)))
        return {"state": state, "param_groups": [group]}

    def load_state_dict(self, state_dict):
        """load_state_dict(state_dict)

        Takes a ``state_dict()`` (this optimizer's, or torch.optim's of the same kind
        over the same parameters: arrays or tensors): the hyperparameters of its first
        group and each parameter's state, copied into this optimizer's arrays.
        """
        owner = f"{type(self).__name__}.load_state_dict"
        groups = state_dict["param_groups"]
        if len(groups) != 1 or len(groups[0]["params"]) != len(self.params):
            raise ValueError(f"{owner}: expected one parameter group of {len(self.params)} parameters")
        index = {pid: i for i, pid in enumerate(groups[0]["params"])}
        for pid, entry in state_dict["state"].items():
            i = index[pid]
            for name in self._state_names:
                value = np.asarray(entry[name].detach().cpu().numpy() if hasattr(entry[name], "detach") else entry[name])
                if value.shape != self.params[i].shape:
                    raise ValueError(f"{owner}: state {pid}[{name!r}] has shape {value.shape}, expected "
                                     f"{self.params[i].shape}")
                np.copyto(self._state[name][i], value, casting="same_kind")
            self._steps[i] = int(float(np.asarray(entry.get("step", 1))))
        defaults = {k: v for k, v in groups[0].items() if k != "params" and k in self.param_groups[0]}
        self.param_groups[0].update(defaults)

    def _counts_steps(self):
        return True

    def _stateful_before_step(self):
        return False

    def __repr__(self):
        group = ", ".join(f"{k}={v!r}" for k, v in self.param_groups[0].items() if k != "params")
        return f"{type(self).__name__}({len(self.params)} parameters, {group})"


class SGD(Optimizer):
    """SGD(params, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, *, engine=None)

    torch.optim.SGD: g = grad + weight_decay * p; with momentum, buf = g at a
    parameter's first step, then buf = momentum * buf + (1 - dampening) * g, and g = g +
    momentum * buf (nesterov) or buf; p -= lr * g.  Without momentum and weight decay
    each parameter changes exactly as ``sgd_step_`` would change it.  lr, momentum,
    dampening, weight_decay: finite numbers >= 0; nesterov needs momentum > 0 and
    dampening 0 (ValueError otherwise).  State: ``momentum_buffer``.

    >>> import numpy as np
    >>> from tinynet import optim
    >>> w = np.ones(2)
    >>> opt = optim.SGD([w], lr=0.1, momentum=0.9)
    >>> opt.step([np.array([1.0, 2.0])]); opt.step([np.array([1.0, 2.0])]); w
    array([0.71, 0.42])
    """

    _state_names = ("momentum_buffer",)

    def __init__(self, params, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, *, engine=None):
        name = "SGD"
        defaults = dict(lr=_hyper("lr", lr, name), momentum=_hyper("momentum", momentum, name),
                        dampening=_hyper("dampening", dampening, name),
                        weight_decay=_hyper("weight_decay", weight_decay, name), nesterov=bool(nesterov))
        if defaults["nesterov"] and (defaults["momentum"] <= 0 or defaults["dampening"] != 0):
            raise ValueError("SGD: nesterov momentum needs momentum > 0 and dampening = 0")
        super().__init__(params, defaults, engine=engine)

    def _step(self, grads, g):
        with_momentum = g["momentum"] != 0
        self.tn.sgd_foreach_(self.params, grads, self._state["momentum_buffer"] if with_momentum else None,
                             self._steps if with_momentum else None, g["lr"], g["momentum"], g["dampening"],
                             g["weight_decay"], g["nesterov"])

    def _counts_steps(self):
        return False

    def state_dict(self):
        d = super().state_dict()
        if self.param_groups[0]["momentum"] == 0:  # torch keeps no buffer without momentum
            d["state"] = {}
        return d


class _Adam(Optimizer):
    _state_names = ("exp_avg", "exp_avg_sq")
    _decoupled = True

    def __init__(self, params, lr, betas, eps, weight_decay, engine):
        name = type(self).__name__
        b1, b2 = betas
        defaults = dict(lr=_hyper("lr", lr, name), betas=(_hyper("betas[0]", b1, name, upper=1.0),
                                                           _hyper("betas[1]", b2, name, upper=1.0)),
                        eps=_hyper("eps", eps, name), weight_decay=_hyper("weight_decay", weight_decay, name))
        super().__init__(params, defaults, engine=engine)

    def _step(self, grads, g):
        b1, b2 = g["betas"]
        self.tn.adam_foreach_(self.params, grads, self._state["exp_avg"], self._state["exp_avg_sq"], self._steps,
                              g["lr"], b1, b2, g["eps"], g["weight_decay"], self._decoupled)


class Adam(_Adam):
    """Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, *, engine=None)

    torch.optim.Adam: the weight decay is added to the gradient (L2, g = grad +
    weight_decay * p), then the moments and the bias-corrected update.  lr, eps,
    weight_decay: finite numbers >= 0; betas in [0, 1).  State: ``exp_avg``,
    ``exp_avg_sq``, ``step``.

    >>> import numpy as np
    >>> from tinynet import optim
    >>> w = np.ones(1)
    >>> optim.Adam([w], lr=0.1).step([np.array([0.5])]); w.round(6)
    array([0.9])
    """

    _decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, *, engine=None):
        super().__init__(params, lr, betas, eps, weight_decay, engine)


class AdamW(_Adam):
    """AdamW(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, *, engine=None)

    torch.optim.AdamW: decoupled weight decay (p *= 1 - lr * weight_decay), then Adam's
    moments and update; each parameter changes exactly as ``adam_step_`` would change
    it.  lr, eps, weight_decay: finite numbers >= 0; betas in [0, 1).  State:
    ``exp_avg``, ``exp_avg_sq``, ``step``.

    >>> import numpy as np
    >>> from tinynet import optim
    >>> w = np.ones(1)
    >>> optim.AdamW([w], lr=0.1).step([np.array([0.5])]); w.round(6)
    array([0.899])
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, *, engine=None):
        super().__init__(params, lr, betas, eps, weight_decay, engine)


class Adagrad(Optimizer):
    """Adagrad(params, lr=1e-2, *, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10, engine=None)

    torch.optim.Adagrad: g = grad + weight_decay * p, sum += g**2,
    p -= lr / (1 + (step - 1) * lr_decay) * g / (sqrt(sum) + eps) -- eps outside the
    square root, as PyTorch (``adagrad_step_`` is min-char-rnn's, eps inside).  The
    arguments after lr are keyword-only.  State: ``sum`` (starting at
    initial_accumulator_value), ``step``.

    >>> import numpy as np
    >>> from tinynet import optim
    >>> w = np.ones(1)
    >>> optim.Adagrad([w], lr=0.1).step([np.array([2.0])]); w.round(6)
    array([0.9])
    """

    _state_names = ("sum",)

    def __init__(self, params, lr=1e-2, *, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10,
                 engine=None):
        name = "Adagrad"
        defaults = dict(lr=_hyper("lr", lr, name), lr_decay=_hyper("lr_decay", lr_decay, name),
                        weight_decay=_hyper("weight_decay", weight_decay, name),
                        initial_accumulator_value=_hyper("initial_accumulator_value", initial_accumulator_value, name),
                        eps=_hyper("eps", eps, name))
        super().__init__(params, defaults, engine=engine)
        for s in self._state["sum"]:
            s[...] = defaults["initial_accumulator_value"]

    def _step(self, grads, g):
        self.tn.adagrad_foreach_(self.params, grads, self._state["sum"], self._steps, g["lr"], g["eps"],
                                 g["weight_decay"], g["lr_decay"])

    def _stateful_before_step(self):
        return True  # torch creates the sums with the optimizer
