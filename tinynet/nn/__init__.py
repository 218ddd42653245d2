"""tinynet.nn: small layer objects built on the engine functions.

Each layer is constructed like its PyTorch namesake and is a thin wrapper around the
public functions of one engine (``engine="c"``, the default, or ``engine="numpy"``, the
reference): ``forward`` calls ``*_forward`` and keeps what ``backward`` needs,
``backward`` calls ``*_backward``, returns the gradient with respect to the layer's input
and stores the parameter gradients.  There is no autograd and no graph: a model is a
chain of layers, and its backward pass is the chain reversed (``Sequential`` does both).
The layers are laid out as the engine is: tinynet/nn/linear.py (Linear, the
activations, Flatten), embedding.py, norm.py (BatchNorm1d, LayerNorm), rnn.py, gated.py
(LSTM, GRU), attention.py (MultiheadAttention, TransformerEncoderLayer), containers.py
(Sequential, ModuleList); _base.py holds Module.  A model of your own is a Module
subclass that assigns its layers as attributes, as in torch: its parameters, gradients,
state dict, train()/eval() and zero_grad() then reach them.

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
from tinynet.nn._base import INITS, Module
from tinynet.nn.attention import MultiheadAttention, TransformerEncoderLayer
from tinynet.nn.containers import ModuleList, Sequential
from tinynet.nn.embedding import Embedding
from tinynet.nn.gated import GRU, LSTM
from tinynet.nn.linear import GELU, Flatten, FlattenConsecutive, Linear, ReLU, Sigmoid, Tanh
from tinynet.nn.norm import BatchNorm1d, LayerNorm
from tinynet.nn.rnn import RNN

__all__ = [
    "Module", "Linear", "Tanh", "ReLU", "Sigmoid", "GELU", "Embedding", "BatchNorm1d", "LayerNorm", "RNN", "LSTM",
    "GRU", "MultiheadAttention", "TransformerEncoderLayer", "Flatten", "FlattenConsecutive", "Sequential",
    "ModuleList", "INITS",
]

# The public layers are tinynet.nn's (help(), reprs and doctests say so), wherever they are written.
for _cls in (Module, Linear, Tanh, ReLU, Sigmoid, GELU, Embedding, BatchNorm1d, LayerNorm, RNN, LSTM, GRU,
             MultiheadAttention, TransformerEncoderLayer, Flatten, FlattenConsecutive, Sequential, ModuleList):
    _cls.__module__ = __name__
del _cls
