"""Type stub for tinynet.optim (checked against the module by tests/test_stubs.py)."""
from types import ModuleType
from typing import Any, Dict, Iterable, List, Literal, Optional, Sequence, Tuple, Union

import numpy as np
from numpy.typing import ArrayLike, NDArray

from tinynet.nn import Module

_Params = Union[Module, Iterable[NDArray[np.floating[Any]]]]
_Engine = Optional[Literal["c", "numpy"]]

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "Adagrad"]

class Optimizer:
    module: Optional[Module]
    params: List[NDArray[np.floating[Any]]]
    engine: str
    tn: ModuleType
    param_groups: List[Dict[str, Any]]
    def __init__(self, params: _Params, defaults: Dict[str, Any], *, engine: _Engine = None) -> None: ...
    @property
    def lr(self) -> float: ...
    @lr.setter
    def lr(self, value: float) -> None: ...
    def step(self, grads: Optional[Sequence[Optional[ArrayLike]]] = None) -> None: ...
    def zero_grad(self) -> None: ...
    def state_dict(self) -> Dict[str, Any]: ...
    def load_state_dict(self, state_dict: Dict[str, Any]) -> None: ...

class SGD(Optimizer):
    def __init__(
        self, params: _Params, lr: float, momentum: float = 0.0, dampening: float = 0.0, weight_decay: float = 0.0,
        nesterov: bool = False, *, engine: _Engine = None,
    ) -> None: ...

class Adam(Optimizer):
    def __init__(
        self, params: _Params, lr: float = 1e-3, betas: Tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
        weight_decay: float = 0.0, *, engine: _Engine = None,
    ) -> None: ...

class AdamW(Optimizer):
    def __init__(
        self, params: _Params, lr: float = 1e-3, betas: Tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
        weight_decay: float = 1e-2, *, engine: _Engine = None,
    ) -> None: ...

class Adagrad(Optimizer):
    def __init__(
        self, params: _Params, lr: float = 1e-2, *, lr_decay: float = 0.0, weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0, eps: float = 1e-10, engine: _Engine = None,
    ) -> None: ...
