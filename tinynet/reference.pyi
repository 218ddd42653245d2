"""Type stub for tinynet.reference, the NumPy engine: the same functions and signatures
as the C engine (tinynet._core), so both engines type-check alike.  tests/test_stubs.py
checks it against the module with mypy's stubtest."""
from tinynet._core import adagrad_step_ as adagrad_step_
from tinynet._core import adam_step_ as adam_step_
from tinynet._core import batchnorm_backward as batchnorm_backward
from tinynet._core import batchnorm_forward as batchnorm_forward
from tinynet._core import batchnorm_inference as batchnorm_inference
from tinynet._core import clip_ as clip_
from tinynet._core import cross_entropy_backward as cross_entropy_backward
from tinynet._core import cross_entropy_forward as cross_entropy_forward
from tinynet._core import embedding_backward as embedding_backward
from tinynet._core import embedding_forward as embedding_forward
from tinynet._core import gru_backward as gru_backward
from tinynet._core import gru_forward as gru_forward
from tinynet._core import linear_backward as linear_backward
from tinynet._core import linear_batchnorm_tanh_backward as linear_batchnorm_tanh_backward
from tinynet._core import linear_batchnorm_tanh_forward as linear_batchnorm_tanh_forward
from tinynet._core import linear_cross_entropy as linear_cross_entropy
from tinynet._core import linear_forward as linear_forward
from tinynet._core import lstm_backward as lstm_backward
from tinynet._core import lstm_forward as lstm_forward
from tinynet._core import relu_backward as relu_backward
from tinynet._core import relu_forward as relu_forward
from tinynet._core import rnn_backward as rnn_backward
from tinynet._core import rnn_forward as rnn_forward
from tinynet._core import rnn_lm_loss as rnn_lm_loss
from tinynet._core import rnn_sample as rnn_sample
from tinynet._core import sgd_step_ as sgd_step_
from tinynet._core import sigmoid_backward as sigmoid_backward
from tinynet._core import sigmoid_forward as sigmoid_forward
from tinynet._core import softmax as softmax
from tinynet._core import tanh_backward as tanh_backward
from tinynet._core import tanh_forward as tanh_forward

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
]
