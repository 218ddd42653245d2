"""Type stub for tinynet._core, the C engine (re-exported by ``import tinynet``).

Array arguments accept anything NumPy turns into an array (``ArrayLike``); float results
are float32 or float64 ndarrays, the dtype of the call's float arguments.  The in-place
functions (ending in ``_``) need real ndarrays and return None.  tests/test_stubs.py
checks that this file names exactly the module's public functions, with the run-time
signatures, and type-checks a usage file against it with mypy.
"""
from typing import Any, Dict, Literal, Optional, Sequence, Tuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

_FloatArray = NDArray[np.floating[Any]]
_Reduction = Literal["mean", "sum"]

#: The SIMD code path the matrix kernels picked at import (e.g. "avx512").
simd: str

# layers: forward / backward pairs
def linear_forward(x: ArrayLike, W: ArrayLike, b: Optional[ArrayLike] = None) -> _FloatArray: ...
def linear_backward(dy: ArrayLike, x: ArrayLike, W: ArrayLike) -> Tuple[_FloatArray, _FloatArray, _FloatArray]: ...
def tanh_forward(x: ArrayLike) -> _FloatArray: ...
def tanh_backward(dy: ArrayLike, y: ArrayLike) -> _FloatArray: ...
def sigmoid_forward(x: ArrayLike) -> _FloatArray: ...
def sigmoid_backward(dy: ArrayLike, y: ArrayLike) -> _FloatArray: ...
def relu_forward(x: ArrayLike) -> _FloatArray: ...
def relu_backward(dy: ArrayLike, y: ArrayLike) -> _FloatArray: ...
def softmax(logits: ArrayLike) -> _FloatArray: ...
def cross_entropy_forward(
    logits: ArrayLike, targets: ArrayLike, reduction: _Reduction = "mean"
) -> Tuple[float, _FloatArray]: ...
def cross_entropy_backward(probs: ArrayLike, targets: ArrayLike, reduction: _Reduction = "mean") -> _FloatArray: ...
def embedding_forward(table: ArrayLike, idx: ArrayLike) -> _FloatArray: ...
def embedding_backward(dout: ArrayLike, idx: ArrayLike, num_embeddings: int) -> _FloatArray: ...
def batchnorm_forward(
    x: ArrayLike, gamma: ArrayLike, beta: ArrayLike, eps: float = 1e-05, correction: int = 0
) -> Tuple[_FloatArray, _FloatArray, _FloatArray]: ...
def batchnorm_backward(
    dy: ArrayLike, x: ArrayLike, gamma: ArrayLike, mean: ArrayLike, invstd: ArrayLike, correction: int = 0
) -> Tuple[_FloatArray, _FloatArray, _FloatArray]: ...
def batchnorm_inference(
    x: ArrayLike, gamma: ArrayLike, beta: ArrayLike, running_mean: ArrayLike, running_var: ArrayLike,
    eps: float = 1e-05,
) -> _FloatArray: ...

# an MLP's layer steps, fused
def linear_batchnorm_tanh_forward(
    x: ArrayLike, W: ArrayLike, b: Optional[ArrayLike], gamma: ArrayLike, beta: ArrayLike, eps: float = 1e-05,
    correction: int = 0, out: Optional[Sequence[_FloatArray]] = None,
) -> Tuple[_FloatArray, _FloatArray, _FloatArray, _FloatArray]:
    """(h, hpre, mean, invstd)"""
def linear_batchnorm_tanh_backward(
    dh: ArrayLike, h: ArrayLike, x: ArrayLike, W: ArrayLike, gamma: ArrayLike, hpre: ArrayLike, mean: ArrayLike,
    invstd: ArrayLike, correction: int = 0, out: Optional[Sequence[_FloatArray]] = None,
) -> Tuple[_FloatArray, _FloatArray, _FloatArray, _FloatArray, _FloatArray]:
    """(dx, dW, db, dgamma, dbeta)"""
def linear_cross_entropy(
    x: ArrayLike, W: ArrayLike, b: Optional[ArrayLike], targets: ArrayLike, reduction: _Reduction = "mean",
    out: Optional[Sequence[_FloatArray]] = None,
) -> Tuple[float, _FloatArray, _FloatArray, _FloatArray]:
    """(loss, dx, dW, db)"""

# the vanilla RNN
def rnn_forward(
    x: ArrayLike, h0: Optional[ArrayLike], W_xh: ArrayLike, W_hh: ArrayLike, b_h: ArrayLike
) -> _FloatArray: ...
def rnn_backward(
    dhs: ArrayLike, x: ArrayLike, h0: Optional[ArrayLike], hs: ArrayLike, W_xh: ArrayLike, W_hh: ArrayLike,
    bptt_steps: Optional[int] = None,
) -> Tuple[Optional[_FloatArray], _FloatArray, _FloatArray, _FloatArray, _FloatArray]:
    """(dx, dh0, dW_xh, dW_hh, db_h); dx is None for token ids."""
def rnn_lm_loss(
    inputs: ArrayLike, targets: ArrayLike, h0: Optional[ArrayLike], W_xh: ArrayLike, W_hh: ArrayLike,
    b_h: ArrayLike, W_hy: ArrayLike, b_y: ArrayLike, bptt_steps: Optional[int] = None,
    reduction: _Reduction = "sum",
) -> Tuple[float, Dict[str, _FloatArray], _FloatArray]: ...
def rnn_sample(
    h0: Optional[ArrayLike], token: ArrayLike, n: int, W_xh: ArrayLike, W_hh: ArrayLike, b_h: ArrayLike,
    W_hy: ArrayLike, b_y: ArrayLike, temperature: float = 1.0, greedy: bool = False, seed: Optional[int] = None,
) -> NDArray[np.int64]: ...

# the gated recurrent layers (PyTorch's weight layout: LSTM gates i, f, g, o; GRU r, z, n)
def lstm_forward(
    x: ArrayLike, h0: Optional[ArrayLike], c0: Optional[ArrayLike], W_ih: ArrayLike, W_hh: ArrayLike,
    b_ih: Optional[ArrayLike] = None, b_hh: Optional[ArrayLike] = None,
) -> Tuple[_FloatArray, _FloatArray, _FloatArray]:
    """(hs, cs, gates): hidden and cell states (T, B, H), gate values i, f, g, o (T, B, 4H)."""
def lstm_backward(
    dhs: ArrayLike, x: ArrayLike, h0: Optional[ArrayLike], c0: Optional[ArrayLike], hs: ArrayLike, cs: ArrayLike,
    gates: ArrayLike, W_ih: ArrayLike, W_hh: ArrayLike, dc_n: Optional[ArrayLike] = None,
) -> Tuple[Optional[_FloatArray], _FloatArray, _FloatArray, _FloatArray, _FloatArray, _FloatArray, _FloatArray]:
    """(dx, dh0, dc0, dW_ih, dW_hh, db_ih, db_hh); dx is None for token ids."""
def gru_forward(
    x: ArrayLike, h0: Optional[ArrayLike], W_ih: ArrayLike, W_hh: ArrayLike, b_ih: Optional[ArrayLike] = None,
    b_hh: Optional[ArrayLike] = None,
) -> Tuple[_FloatArray, _FloatArray, _FloatArray]:
    """(hs, gates, gh_n): states (T, B, H), gate values r, z, n (T, B, 3H), W_hn h + b_hn (T, B, H)."""
def gru_backward(
    dhs: ArrayLike, x: ArrayLike, h0: Optional[ArrayLike], hs: ArrayLike, gates: ArrayLike, gh_n: ArrayLike,
    W_ih: ArrayLike, W_hh: ArrayLike,
) -> Tuple[Optional[_FloatArray], _FloatArray, _FloatArray, _FloatArray, _FloatArray, _FloatArray]:
    """(dx, dh0, dW_ih, dW_hh, db_ih, db_hh); dx is None for token ids."""

# optimizers and helpers, in place
def sgd_step_(param: _FloatArray, grad: ArrayLike, lr: float) -> None: ...
def adagrad_step_(param: _FloatArray, grad: ArrayLike, mem: _FloatArray, lr: float, eps: float = 1e-08) -> None: ...
def adam_step_(
    param: _FloatArray, grad: ArrayLike, m: _FloatArray, v: _FloatArray, t: int, lr: float = 0.001,
    beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-08, weight_decay: float = 0.0,
) -> None: ...
def clip_(grad: _FloatArray, lo: float, hi: float) -> None: ...

# the engine
def set_num_threads(n: int) -> None: ...
def get_num_threads() -> int: ...
