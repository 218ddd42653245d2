"""Type stub for tinynet._core, the C engine (re-exported by ``import tinynet``).

The functions' signatures are written once, annotated, in tinynet/reference.py (the
NumPy engine, with the same API): this stub takes them from there.  Array arguments
accept anything NumPy turns into an array (``ArrayLike``); float results are float32 or
float64 ndarrays, the dtype of the call's float arguments.  tests/test_stubs.py checks
this stub against the module (names and run-time signatures) and type-checks a usage
file against it with mypy.
"""
from typing import Dict, Tuple

from tinynet.reference import *  # noqa: F401,F403 -- every function of FUNCTIONS, typed

#: The functions both engines provide, in the order of the API table.
FUNCTIONS: Tuple[str, ...]
#: The SIMD code path the matrix kernels picked at import ("avx512", "avx2" or "generic").
simd: str

def set_num_threads(n: int) -> None: ...
def get_num_threads() -> int: ...

# private: tinynet/__init__.py hands the docstrings over; the tests read the layers
def _set_docs(docs: Dict[str, str]) -> None: ...
_layers: Dict[str, str]
