"""Type stub for tinynet._gradcheck (tinynet.gradcheck)."""
from typing import Any, Callable, Dict, List, Mapping, Sequence, overload

from numpy.typing import ArrayLike

__all__ = ["gradcheck"]

@overload
def gradcheck(f: Callable[..., Any], inputs: Mapping[str, ArrayLike], eps: float = 1e-06) -> Dict[str, float]: ...
@overload
def gradcheck(f: Callable[..., Any], inputs: Sequence[ArrayLike], eps: float = 1e-06) -> List[float]: ...
