"""tinynet: a fast, correct C engine for small neural networks, NumPy in, NumPy out.

tinynet runs the forward and backward passes of the networks people write by hand in
NumPy notebooks -- a vanilla tanh RNN with backpropagation through time, min-char-rnn's
``lossFun`` in one call, MLP layers (linear, tanh / ReLU / sigmoid, softmax
cross-entropy, embedding, batch norm) and in-place optimizers -- in C, on NumPy arrays.
Every function's docstring starts with its signature and gives shapes, dtypes and an
example: ``help(tinynet.rnn_lm_loss)``, or ``tinynet.rnn_lm_loss?`` in Jupyter.

Two engines, one API
--------------------
    import tinynet as tn                 # the C engine (tinynet._core, re-exported here)
    import tinynet.reference as tn       # the NumPy engine: the same functions, written to be read
    tn = tinynet.engine("numpy")         # or "c": swap engines with one parameter

The NumPy engine is the oracle every C function is tested against.

Conventions
-----------
Weights are (out_features, in_features), as in PyTorch, so a layer is y = x @ W.T + b.
Batches are rows (N, features); sequences are time-major (T, B, ...), and an unbatched
(T, ...) sequence with h0 (H,) works too.  float64 and float32 are both supported but
never mixed in one call (TypeError naming the argument); results keep the dtype.  Token
ids, targets and indices take any integer dtype.  Backward functions return fresh
gradient arrays; the functions ending in "_" work in place and return None.  Bad input
raises ValueError (shapes, values), TypeError (types, dtypes) or IndexError (an id out
of range), naming the function, the argument and the shapes.

The functions
-------------
Layers, as forward / backward pairs:
    linear_forward(x, W, b=None) -> y                x (N, D), W (H, D), b (H,) -> (N, H)
    linear_backward(dy, x, W) -> (dx, dW, db)
    tanh_forward(x) -> y, tanh_backward(dy, y) -> dx          (also sigmoid_*, relu_*)
    softmax(logits) -> probs                          over the last axis
    cross_entropy_forward(logits, targets, reduction="mean") -> (loss, probs)
    cross_entropy_backward(probs, targets, reduction="mean") -> dlogits
    embedding_forward(table, idx) -> table[idx]       table (V, E), idx ints of shape S
    embedding_backward(dout, idx, num_embeddings) -> dtable (V, E)
    batchnorm_forward(x, gamma, beta, eps=1e-5, correction=0) -> (y, mean, invstd)
    batchnorm_backward(dy, x, gamma, mean, invstd, correction=0) -> (dx, dgamma, dbeta)
    batchnorm_inference(x, gamma, beta, running_mean, running_var, eps=1e-5) -> y
An MLP's layer steps fused (each the same bits as the layers' functions in turn):
    linear_batchnorm_tanh_forward(x, W, b, gamma, beta, eps=1e-5, correction=0)
        -> (h, hpre, mean, invstd)               tanh(batchnorm(x @ W.T + b))
    linear_batchnorm_tanh_backward(dh, h, x, W, gamma, hpre, mean, invstd, correction=0)
        -> (dx, dW, db, dgamma, dbeta)
    linear_cross_entropy(x, W, b, targets, reduction="mean") -> (loss, dx, dW, db)
The vanilla RNN, h_t = tanh(W_xh @ x_t + W_hh @ h_{t-1} + b_h):
    rnn_forward(x, h0, W_xh, W_hh, b_h) -> hs (T, B, H)
    rnn_backward(dhs, x, h0, hs, W_xh, W_hh, bptt_steps=None) -> (dx, dh0, dW_xh, dW_hh, db_h)
    rnn_lm_loss(inputs, targets, h0, W_xh, W_hh, b_h, W_hy, b_y, bptt_steps=None,
                reduction="sum") -> (loss, grads, h_last)
    rnn_sample(h0, token, n, W_xh, W_hh, b_h, W_hy, b_y, temperature=1.0, greedy=False,
               seed=None) -> tokens
The gated layers, as torch.nn.LSTM / GRU (W_ih (G H, D), W_hh (G H, H); gates i, f, g, o
and r, z, n):
    lstm_forward(x, h0, c0, W_ih, W_hh, b_ih=None, b_hh=None) -> (hs, cs, gates)
    lstm_backward(dhs, x, h0, c0, hs, cs, gates, W_ih, W_hh, dc_n=None)
        -> (dx, dh0, dc0, dW_ih, dW_hh, db_ih, db_hh)
    gru_forward(x, h0, W_ih, W_hh, b_ih=None, b_hh=None) -> (hs, gates, gh_n)
    gru_backward(dhs, x, h0, hs, gates, gh_n, W_ih, W_hh) -> (dx, dh0, dW_ih, dW_hh, db_ih, db_hh)
Optimizers and helpers, in place:
    sgd_step_(param, grad, lr), adagrad_step_(param, grad, mem, lr, eps=1e-8),
    adam_step_(param, grad, m, v, t, lr=1e-3, ...), clip_(grad, lo, hi)
The engine:
    engine(name="c"), set_num_threads(n), get_num_threads()

Beyond the functions
--------------------
tinynet.nn           layer objects built like their torch.nn namesakes (Linear, Tanh,
                     ReLU, Sigmoid, Embedding, BatchNorm1d, RNN, LSTM, GRU, Flatten,
                     Sequential),
                     with forward / backward, parameters() / grads(), and
                     state_dict() / load_state_dict() in PyTorch's key names and layouts
save(path, model)    a model as a plain .npz file (arrays plus the architecture as JSON)
load(path)           ... and back, without pickle
gradcheck(f, inputs) central-difference gradient checking
tinynet.data         the character vocabulary, build_dataset(words, block_size) and
                     load_names() for makemore's names.txt

Where to go next
----------------
The repository's notebooks/ folder holds the worked notebooks (see the README's
"Notebooks" section), and docs/reference.md the full API table and the conventions of
PyTorch, min-char-rnn, makemore and cs231n side by side, with how tinynet handles each.

>>> import numpy as np
>>> import tinynet
>>> x, W, b = np.ones((2, 3)), np.full((4, 3), 0.5), np.zeros(4)
>>> tinynet.linear_forward(x, W, b)
array([[1.5, 1.5, 1.5, 1.5],
       [1.5, 1.5, 1.5, 1.5]])
>>> tn = tinynet.engine("numpy")                     # the same call on the NumPy engine
>>> bool(np.array_equal(tn.linear_forward(x, W, b), tinynet.linear_forward(x, W, b)))
True
"""
import types

from tinynet import _core
from tinynet._core import (
    adagrad_step_,
    adam_step_,
    batchnorm_backward,
    batchnorm_forward,
    batchnorm_inference,
    clip_,
    cross_entropy_backward,
    cross_entropy_forward,
    embedding_backward,
    embedding_forward,
    get_num_threads,
    gru_backward,
    gru_forward,
    linear_backward,
    linear_batchnorm_tanh_backward,
    linear_batchnorm_tanh_forward,
    linear_cross_entropy,
    linear_forward,
    lstm_backward,
    lstm_forward,
    relu_backward,
    relu_forward,
    rnn_backward,
    rnn_forward,
    rnn_lm_loss,
    rnn_sample,
    set_num_threads,
    sgd_step_,
    sigmoid_backward,
    sigmoid_forward,
    softmax,
    tanh_backward,
    tanh_forward,
)
from tinynet._gradcheck import gradcheck
from tinynet.io import load, save

from tinynet._version import __version__ as __version__

def engine(name: str = "c") -> types.ModuleType:
    """engine(name="c")

    The module implementing tinynet's functions: ``"c"`` gives the C engine
    (``tinynet`` itself), ``"numpy"`` the NumPy reference engine (``tinynet.reference``).

    >>> import tinynet
    >>> tn = tinynet.engine("numpy")
    >>> tn.__name__
    'tinynet.reference'
    """
    import sys

    if name == "c":
        return sys.modules[__name__]
    if name == "numpy":
        from tinynet import reference

        return reference
    raise ValueError(f'engine: name must be "c" or "numpy", got {name!r}')


# Written out (not computed) so that type checkers see the re-exports.
__all__ = [
    "linear_forward", "linear_backward",
    "tanh_forward", "tanh_backward", "sigmoid_forward", "sigmoid_backward",
    "relu_forward", "relu_backward",
    "softmax", "cross_entropy_forward", "cross_entropy_backward",
    "embedding_forward", "embedding_backward",
    "batchnorm_forward", "batchnorm_backward", "batchnorm_inference",
    "linear_batchnorm_tanh_forward", "linear_batchnorm_tanh_backward", "linear_cross_entropy",
    "rnn_forward", "rnn_backward", "rnn_lm_loss", "rnn_sample",
    "lstm_forward", "lstm_backward", "gru_forward", "gru_backward",
    "sgd_step_", "adagrad_step_", "adam_step_", "clip_",
    "engine", "gradcheck", "set_num_threads", "get_num_threads", "save", "load", "FUNCTIONS",
]

#: The functions both engines provide, in the order of the API table (the head of __all__).
FUNCTIONS = tuple(__all__[: __all__.index("engine")])
