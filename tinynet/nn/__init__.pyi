"""Type stub for tinynet.nn (checked against the package by tests/test_stubs.py, with
mypy's stubtest: a changed signature in tinynet/nn/ must be changed here too)."""
from types import ModuleType
from typing import Any, Dict, Iterator, List, Literal, Mapping, Optional, Sequence, Tuple, Union, overload

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

_FloatArray = NDArray[np.floating[Any]]
_Engine = Literal["c", "numpy"]
_Init = Literal["pytorch", "xavier_uniform", "kaiming_normal"]
_Rng = Union[int, np.integer[Any], np.random.Generator, np.random.SeedSequence, None]

__all__ = [
    "Module", "Linear", "Tanh", "ReLU", "Sigmoid", "GELU", "Embedding", "BatchNorm1d", "LayerNorm", "RNN", "LSTM",
    "GRU", "MultiheadAttention", "TransformerEncoderLayer", "Flatten", "FlattenConsecutive", "Sequential",
    "ModuleList", "INITS",
]

INITS: Tuple[str, ...]

class Module:
    engine: Optional[str]
    dtype: Optional[np.dtype[Any]]
    training: bool
    def __init__(
        self, *, engine: _Engine = "c", dtype: Optional[DTypeLike] = ..., _dtype_optional: bool = False
    ) -> None: ...
    @property
    def tn(self) -> ModuleType: ...
    def __call__(self, *args: Any, **kwargs: Any) -> Any: ...
    def forward(self, x: Any) -> Any: ...
    def backward(self, dout: Any) -> Any: ...
    def named_parameters(self) -> List[Tuple[str, _FloatArray]]: ...
    def parameters(self) -> List[_FloatArray]: ...
    def named_grads(self) -> List[Tuple[str, Optional[_FloatArray]]]: ...
    def grads(self) -> List[Optional[_FloatArray]]: ...
    def named_buffers(self) -> List[Tuple[str, Any]]: ...
    def zero_grad(self) -> None: ...
    def state_dict(self) -> Dict[str, NDArray[Any]]: ...
    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None: ...
    def train(self, mode: bool = True) -> "Module": ...
    def eval(self) -> "Module": ...
    def extra_repr(self) -> str: ...
    def _state(self) -> Dict[str, NDArray[Any]]: ...
    def _owner(self, key: str) -> "Module": ...
    def _submodules(self) -> List[Tuple[str, "Module"]]: ...

class Linear(Module):
    in_features: int
    out_features: int
    init: str
    weight: _FloatArray
    bias: Optional[_FloatArray]
    def __init__(
        self, in_features: int, out_features: int, bias: bool = True, *, engine: _Engine = "c",
        dtype: DTypeLike = ..., init: _Init = "pytorch", rng: _Rng = None,
    ) -> None: ...
    def forward(self, x: ArrayLike) -> _FloatArray: ...
    def backward(self, dout: ArrayLike) -> _FloatArray: ...

class _Activation(Module):
    def __init__(self, *, engine: _Engine = "c", dtype: Optional[DTypeLike] = None, rng: _Rng = None) -> None: ...
    def forward(self, x: ArrayLike) -> _FloatArray: ...
    def backward(self, dout: ArrayLike) -> _FloatArray: ...

class Tanh(_Activation): ...
class ReLU(_Activation): ...
class Sigmoid(_Activation): ...

class Flatten(Module):
    start_dim: int
    end_dim: int
    def __init__(
        self, start_dim: int = 1, end_dim: int = -1, *, engine: _Engine = "c", dtype: Optional[DTypeLike] = None,
        rng: _Rng = None,
    ) -> None: ...
    def forward(self, x: ArrayLike) -> NDArray[Any]: ...
    def backward(self, dout: ArrayLike) -> NDArray[Any]: ...

class Embedding(Module):
    num_embeddings: int
    embedding_dim: int
    init: str
    weight: _FloatArray
    def __init__(
        self, num_embeddings: int, embedding_dim: int, *, engine: _Engine = "c", dtype: DTypeLike = ...,
        init: _Init = "pytorch", rng: _Rng = None,
    ) -> None: ...
    def forward(self, idx: ArrayLike) -> _FloatArray: ...
    def backward(self, dout: ArrayLike) -> None: ...

class FlattenConsecutive(Module):
    n: int
    def __init__(self, n: int, *, engine: _Engine = "c", dtype: Optional[DTypeLike] = None, rng: _Rng = None) -> None: ...
    def forward(self, x: ArrayLike) -> NDArray[Any]: ...
    def backward(self, dout: ArrayLike) -> NDArray[Any]: ...

class BatchNorm1d(Module):
    num_features: int
    eps: float
    momentum: Optional[float]
    correction: int
    channels_last: bool
    weight: _FloatArray
    bias: _FloatArray
    running_mean: _FloatArray
    running_var: _FloatArray
    num_batches_tracked: int
    def __init__(
        self, num_features: int, eps: float = 1e-05, momentum: Optional[float] = 0.1, correction: int = 0, *,
        channels_last: bool = False, engine: _Engine = "c", dtype: DTypeLike = ..., rng: _Rng = None,
    ) -> None: ...
    def forward(self, x: ArrayLike) -> _FloatArray: ...
    def backward(self, dout: ArrayLike) -> _FloatArray: ...

class RNN(Module):
    input_size: int
    hidden_size: int
    bptt_steps: Optional[int]
    init: str
    W_xh: _FloatArray
    W_hh: _FloatArray
    b_h: _FloatArray
    dh0: Optional[_FloatArray]
    def __init__(
        self, input_size: int, hidden_size: int, bptt_steps: Optional[int] = None, *, engine: _Engine = "c",
        dtype: DTypeLike = ..., init: _Init = "pytorch", rng: _Rng = None,
    ) -> None: ...
    def forward(self, x: ArrayLike, h0: Optional[ArrayLike] = None) -> _FloatArray: ...
    def backward(self, dhs: ArrayLike) -> Optional[_FloatArray]: ...

class _Gated(Module):
    input_size: int
    hidden_size: int
    bias: bool
    init: str
    weight_ih_l0: _FloatArray
    weight_hh_l0: _FloatArray
    bias_ih_l0: _FloatArray
    bias_hh_l0: _FloatArray
    dh0: Optional[_FloatArray]
    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, *, engine: _Engine = "c", dtype: DTypeLike = ...,
        init: _Init = "pytorch", rng: _Rng = None,
    ) -> None: ...

class LSTM(_Gated):
    dc0: Optional[_FloatArray]
    def forward(
        self, x: ArrayLike, hx: Optional[Tuple[Optional[ArrayLike], Optional[ArrayLike]]] = None
    ) -> Tuple[_FloatArray, Tuple[_FloatArray, _FloatArray]]: ...
    def backward(
        self, dout: ArrayLike, dh_n: Optional[ArrayLike] = None, dc_n: Optional[ArrayLike] = None
    ) -> Optional[_FloatArray]: ...

class GRU(_Gated):
    def forward(self, x: ArrayLike, h0: Optional[ArrayLike] = None) -> Tuple[_FloatArray, _FloatArray]: ...
    def backward(self, dout: ArrayLike, dh_n: Optional[ArrayLike] = None) -> Optional[_FloatArray]: ...

class Sequential(Module):
    layers: List[Module]
    def __init__(self, layers: Union[Sequence[Module], Module] = (), *more: Module) -> None: ...
    def __len__(self) -> int: ...
    def __iter__(self) -> Iterator[Module]: ...
    @overload
    def __getitem__(self, i: int) -> Module: ...
    @overload
    def __getitem__(self, i: slice) -> "Sequential": ...
    def forward(self, x: Any) -> Any: ...
    def backward(self, dout: Any) -> Optional[NDArray[Any]]: ...
    def train(self, mode: bool = True) -> "Sequential": ...

class GELU(_Activation):
    approximate: str
    def __init__(
        self, approximate: Literal["none", "tanh"] = "none", *, engine: _Engine = "c", dtype: Optional[DTypeLike] = None,
        rng: _Rng = None,
    ) -> None: ...

class LayerNorm(Module):
    normalized_shape: Tuple[int]
    eps: float
    elementwise_affine: bool
    weight: Optional[_FloatArray]
    bias: Optional[_FloatArray]
    def __init__(
        self, normalized_shape: Union[int, Sequence[int]], eps: float = 1e-05, elementwise_affine: bool = True,
        bias: bool = True, *, engine: _Engine = "c", dtype: DTypeLike = ..., rng: _Rng = None,
    ) -> None: ...
    def forward(self, x: ArrayLike) -> _FloatArray: ...
    def backward(self, dout: ArrayLike) -> _FloatArray: ...

class MultiheadAttention(Module):
    embed_dim: int
    num_heads: int
    batch_first: bool
    in_proj_weight: _FloatArray
    in_proj_bias: Optional[_FloatArray]
    out_proj: Linear
    def __init__(
        self, embed_dim: int, num_heads: int, bias: bool = True, batch_first: bool = True, *, dropout: float = 0.0,
        engine: _Engine = "c", dtype: DTypeLike = ..., rng: _Rng = None,
    ) -> None: ...
    def forward(
        self, query: ArrayLike, key: Optional[ArrayLike] = None, value: Optional[ArrayLike] = None,
        key_padding_mask: Optional[ArrayLike] = None, need_weights: bool = True, attn_mask: Optional[ArrayLike] = None,
        average_attn_weights: bool = True, is_causal: bool = False,
    ) -> Tuple[_FloatArray, Optional[_FloatArray]]: ...
    def backward(self, dout: ArrayLike) -> _FloatArray: ...

class TransformerEncoderLayer(Module):
    d_model: int
    nhead: int
    dim_feedforward: int
    batch_first: bool
    norm_first: bool
    activation_name: str
    dropout: float
    layer_norm_eps: float
    bias: bool
    self_attn: MultiheadAttention
    linear1: Linear
    linear2: Linear
    norm1: LayerNorm
    norm2: LayerNorm
    activation: Module
    def __init__(
        self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.0,
        activation: Literal["relu", "gelu", "gelu_tanh"] = "relu", layer_norm_eps: float = 1e-05,
        batch_first: bool = True, norm_first: bool = True, bias: bool = True, *, engine: _Engine = "c",
        dtype: DTypeLike = ..., rng: _Rng = None,
    ) -> None: ...
    def forward(
        self, src: ArrayLike, src_mask: Optional[ArrayLike] = None, src_key_padding_mask: Optional[ArrayLike] = None,
        is_causal: bool = False,
    ) -> _FloatArray: ...
    def backward(self, dout: ArrayLike) -> _FloatArray: ...

class ModuleList(Module):
    layers: List[Module]
    def __init__(self, layers: Sequence[Module] = ()) -> None: ...
    def append(self, layer: Module) -> "ModuleList": ...
    def __len__(self) -> int: ...
    def __iter__(self) -> Iterator[Module]: ...
    @overload
    def __getitem__(self, i: int) -> Module: ...
    @overload
    def __getitem__(self, i: slice) -> "ModuleList": ...
    def forward(self, x: Any) -> Any: ...
    def backward(self, dout: Any) -> Any: ...
