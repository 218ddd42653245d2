"""tinynet: a fast, correct C engine for small neural networks, NumPy in, NumPy out.

Two engines share one API (see the README's API tour):

    import tinynet as tn                 # the C engine (tinynet._core)
    import tinynet.reference as tn       # the NumPy engine, written to be read

``tinynet.engine("c")`` / ``tinynet.engine("numpy")`` return those two modules, so a
notebook swaps engines with one parameter.
"""
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
    linear_backward,
    linear_forward,
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

__version__ = "0.1.0"

#: The functions both engines provide, in the order of the API table.
FUNCTIONS = (
    "linear_forward", "linear_backward",
    "tanh_forward", "tanh_backward", "sigmoid_forward", "sigmoid_backward",
    "relu_forward", "relu_backward",
    "softmax", "cross_entropy_forward", "cross_entropy_backward",
    "embedding_forward", "embedding_backward",
    "batchnorm_forward", "batchnorm_backward", "batchnorm_inference",
    "rnn_forward", "rnn_backward", "rnn_lm_loss", "rnn_sample",
    "sgd_step_", "adagrad_step_", "adam_step_", "clip_",
)


def engine(name="c"):
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


__all__ = list(FUNCTIONS) + ["engine", "gradcheck", "set_num_threads", "get_num_threads", "FUNCTIONS"]
