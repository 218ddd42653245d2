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
By layer; each name's docstring (help(tinynet.linear_forward)) gives the shapes, dtypes
and an example.  This list is tinynet.FUNCTIONS, both engines' functions:
{functions}

The engine:
    engine(name="c"), set_num_threads(n), get_num_threads()

Beyond the functions
--------------------
tinynet.nn           layer objects built like their torch.nn namesakes (Linear, Tanh,
                     ReLU, Sigmoid, Embedding, BatchNorm1d, RNN, LSTM, GRU, Flatten,
                     Sequential),
                     with forward / backward, parameters() / grads(), and
                     state_dict() / load_state_dict() in PyTorch's key names and layouts
tinynet.optim        optimizers as objects (SGD, Adam, AdamW, Adagrad), as torch.optim:
                     step() updates a whole model in one call
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
import inspect
import types
from typing import Any, Callable

from tinynet import _core
from tinynet._core import *  # noqa: F401,F403 -- the functions of FUNCTIONS, the thread controls, simd
from tinynet._core import FUNCTIONS, get_num_threads, set_num_threads
from tinynet._gradcheck import gradcheck
from tinynet.io import load, save

from tinynet._version import __version__ as __version__

__all__ = [*FUNCTIONS, "engine", "gradcheck", "set_num_threads", "get_num_threads", "save", "load", "FUNCTIONS"]


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


def _c_docstring(f: Callable[..., Any]) -> str:
    """The C engine's docstring of a function: its NumPy twin's, with the example
    importing tinynet, in the form CPython reads a builtin's signature from."""
    signature, _, text = (inspect.getdoc(f) or "").partition("\n")
    return f"{signature}\n--\n\n{text.lstrip()}".replace("tinynet.reference as tn", "tinynet as tn")


def _function_guide() -> str:
    """The section of this module's docstring that lists the functions, by layer."""
    from tinynet import reference

    lines = []
    for layer in dict.fromkeys(_core._layers.values()):
        summary = (getattr(reference, layer).__doc__ or "").split(":", 1)[-1].split("(csrc/")[0]
        lines.append(" ".join(f"{layer}:{summary}".split()))
        for name in FUNCTIONS:
            twin = getattr(reference, name, None)
            if _core._layers[name] == layer and twin is not None:
                lines.append("    " + (inspect.getdoc(twin) or name).split("\n", 1)[0])
    return "\n".join(lines)


def _share_docstrings() -> None:
    """Every function's docstring is written once, in tinynet/reference.py, and shown by
    both engines.  (A function missing from reference.py keeps no docstring here; the
    tests name it.)"""
    from tinynet import reference

    twins = {name: getattr(reference, name, None) for name in FUNCTIONS}
    _core._set_docs({name: _c_docstring(f) for name, f in twins.items() if f is not None and f.__doc__})


_share_docstrings()
__doc__ = (__doc__ or "").replace("{functions}", _function_guide())
