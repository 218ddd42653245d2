"""tinynet.nn.norm: Batch normalisation."""
import math

import numpy as np

from tinynet.nn._base import Module, _generator, _hyper, _size


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

    def _check_batch(self, values_per_channel, shape):
        """Training needs more than one value per channel."""
        if values_per_channel <= 1:
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


class LayerNorm(Module):
    """LayerNorm(normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, *, engine="c", dtype=np.float64, rng=None)

    Layer normalisation over the last axis, as torch.nn.LayerNorm: each row of x (..., C)
    is normalised by its own mean and (biased) variance, y = (x - mean) / sqrt(var + eps)
    * weight + bias, through ``layernorm_forward`` / ``layernorm_backward``.
    ``normalized_shape`` is C or (C,) (one axis: a GPT's LayerNorm(n_embd)).
    Parameters weight (1) and bias (0), (C,), present with ``elementwise_affine`` (bias
    with ``bias`` too); state-dict keys ``weight``, ``bias`` as torch.  backward(dy)
    returns dx and stores dweight, dbias.  rng is accepted for a uniform constructor.

    >>> import numpy as np
    >>> from tinynet.nn import LayerNorm
    >>> ln = LayerNorm(3)
    >>> y = ln(np.array([[1.0, 2.0, 3.0]]))
    >>> y.round(4), ln.backward(np.ones_like(y)).round(6)
    (array([[-1.2247,  0.    ,  1.2247]]), array([[0., 0., 0.]]))
    """

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, *, engine="c",
                 dtype=np.float64, rng=None):
        super().__init__(engine=engine, dtype=dtype)
        shape = tuple(normalized_shape) if isinstance(normalized_shape, (tuple, list)) else (normalized_shape,)
        if len(shape) != 1:
            raise ValueError(f"LayerNorm: normalized_shape {tuple(shape)}: tinynet normalises over the last axis "
                             "only, give one size")
        self.normalized_shape = (_size(shape[0], "normalized_shape", "LayerNorm"),)
        C = self.normalized_shape[0]
        self.eps = _hyper(eps, "eps", "LayerNorm")
        self.elementwise_affine = bool(elementwise_affine)
        if rng is not None:
            _generator(rng, "LayerNorm")  # validated, unused
        self.weight = np.ones(C, dtype=self.dtype) if self.elementwise_affine else None
        self.bias = np.zeros(C, dtype=self.dtype) if self.elementwise_affine and bias else None
        self._param_names = tuple(n for n in ("weight", "bias") if getattr(self, n) is not None)
        self._grads = dict.fromkeys(self._param_names)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"

    def forward(self, x):
        """forward(x): x (..., C) -> y like x."""
        if not isinstance(x, np.ndarray):
            x = self._input(x)
        self._check_dtype(x)
        C = self.normalized_shape[0]
        if x.ndim == 0 or x.shape[-1] != C:  # (the engine cannot see it without a weight)
            raise ValueError(f"{self!r}.forward: x has shape {x.shape}, expected (..., {C}): the last axis is "
                             "the one normalised")
        y, mean, rstd = self.tn.layernorm_forward(x, self.weight, self.bias, self.eps)
        self._cache = (x, mean, rstd)
        return y

    def backward(self, dout):
        """backward(dout): dout like x -> dx; stores dweight, dbias."""
        x, mean, rstd = self._cached()
        self._check_dout(dout, x.shape)
        dx, dweight, dbias = self.tn.layernorm_backward(dout, x, self.weight, mean, rstd)
        if self.weight is not None:
            self._grads["weight"] = dweight
        if self.bias is not None:
            self._grads["bias"] = dbias
        return dx
