"""Type stub for tinynet.data (names.txt and makemore's character-level helpers)."""
import os
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

__all__ = [
    "NAMES_URL", "NAMES_COUNT", "VOCAB", "DataNotFoundError", "NamesFormatError",
    "load_names", "build_vocab", "encode", "decode", "build_dataset", "split_words",
]

NAMES_URL: str
NAMES_COUNT: int
VOCAB: str

class DataNotFoundError(FileNotFoundError): ...
class NamesFormatError(ValueError): ...

def load_names(path: Optional[Union[str, "os.PathLike[str]"]] = None) -> List[str]: ...
def build_vocab(words: Iterable[str]) -> Tuple[Dict[str, int], Dict[int, str]]: ...
def encode(word: str, stoi: Optional[Mapping[str, int]] = None) -> List[int]: ...
def decode(ids: Iterable[int], itos: Optional[Mapping[int, str]] = None) -> str: ...
def build_dataset(
    words: Iterable[str], block_size: int = 3, stoi: Optional[Mapping[str, int]] = None
) -> Tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]: ...
def split_words(
    words: Sequence[str], seed: int = 278, fractions: Tuple[float, float] = (0.8, 0.9)
) -> Tuple[List[str], List[str], List[str]]: ...
