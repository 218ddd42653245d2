"""tinynet.data: names.txt and the character-level helpers of makemore (seed 003).

    >>> from tinynet import data
    >>> stoi, itos = data.build_vocab(["emma", "olivia"])
    >>> stoi["."], stoi["a"], itos[1]
    (0, 1, 'a')
    >>> data.encode("emma"), data.decode([5, 13, 13, 1])
    ([5, 13, 13, 1], 'emma')
    >>> X, Y = data.build_dataset(["emma"], block_size=3)
    >>> X.tolist(), Y.tolist()
    ([[0, 0, 0], [0, 0, 5], [0, 5, 13], [5, 13, 13], [13, 13, 1]], [5, 13, 13, 1, 0])

``load_names()`` reads karpathy/makemore's names.txt: 32,033 lowercase names.  A copy
ships inside the package (tinynet/names.txt, MIT: source and licence in
tinynet/names.txt.license), so it works offline with no set-up.  It looks, in this order,
at: the path it is given; ``$TINYNET_DATA/names.txt``; the packaged copy.  Nothing is
downloaded and nothing is cached.  The default vocabulary is makemore's on that file:
'.' = 0 (the start/end token), 'a'..'z' = 1..26.
"""
import os
import pathlib
import random
import re
import string

import numpy as np

__all__ = [
    "NAMES_URL", "NAMES_COUNT", "VOCAB", "DataNotFoundError", "NamesFormatError",
    "load_names", "build_vocab", "encode", "decode", "build_dataset", "split_words",
]

#: Where names.txt comes from (the raw file, not GitHub's HTML "blob" page).
NAMES_URL = "https://raw.githubusercontent.com/karpathy/makemore/master/names.txt"
#: The number of names in names.txt.
NAMES_COUNT = 32033
#: The default vocabulary, in id order: '.' = 0, 'a'..'z' = 1..26.
VOCAB = "." + string.ascii_lowercase

_WORD = re.compile(r"[a-z]+\Z")

# The copy of names.txt that ships inside the package (package-data in pyproject.toml).
_PACKAGED = pathlib.Path(__file__).resolve().with_name("names.txt")


class DataNotFoundError(FileNotFoundError):
    """names.txt is nowhere to be found (the packaged copy is missing: a broken install)."""


class NamesFormatError(ValueError):
    """A file that should be names.txt is something else (for instance an HTML page)."""


def _check_words(words, source):
    """Raise NamesFormatError unless words are lines of lowercase letters a-z."""
    hint = (f"names.txt must hold one lowercase name per line; get the raw file from {NAMES_URL} "
            "(a GitHub 'blob' URL, as in seed 003's wget, saves an HTML page instead)")
    if not words:
        raise NamesFormatError(f"{source} is empty; {hint}")
    for i, w in enumerate(words):
        if not _WORD.match(w):
            raise NamesFormatError(f"{source} does not look like names.txt: line {i + 1} is {w[:60]!r}; {hint}")


def _read(path, source):
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise NamesFormatError(f"{source} ({path}) is not UTF-8 text; expected names.txt from {NAMES_URL}") from None
    words = text.splitlines()
    _check_words(words, f"{source} ({path})")
    return words


def load_names(path=None):
    """load_names(path=None)

    The words of names.txt (karpathy/makemore's 32,033 names) as a list of str.

    Looks, in this order, at: ``path`` if given; ``$TINYNET_DATA/names.txt``; the copy
    that ships inside the package (tinynet/names.txt), so with no path and no
    TINYNET_DATA it works offline with no set-up.  The first file that exists is used;
    it must hold lowercase names, one per line (NamesFormatError otherwise, e.g. for a
    saved HTML page).  Nothing is downloaded.  Raises DataNotFoundError (a
    FileNotFoundError) only if the packaged copy is missing too, i.e. tinynet was
    installed without its package data.

    >>> words = load_names()
    >>> len(words), words[:3]
    (32033, ['emma', 'olivia', 'ava'])
    """
    places = []
    if path is not None:
        p = pathlib.Path(os.fspath(path)).expanduser()
        if p.is_file():
            return _read(p, "the given path")
        places.append(f"the given path {p}")
    env = os.environ.get("TINYNET_DATA")
    if env:
        p = pathlib.Path(env).expanduser() / "names.txt"
        if p.is_file():
            return _read(p, "$TINYNET_DATA/names.txt")
        places.append(f"$TINYNET_DATA/names.txt = {p}")
    if _PACKAGED.is_file():
        return _read(_PACKAGED, "the packaged copy")
    places.append(f"the packaged copy {_PACKAGED}")
    raise DataNotFoundError(
        "names.txt was not found; looked at: " + "; ".join(places) + ". "
        "tinynet ships a copy inside the package, so this installation is incomplete: reinstall "
        f"tinynet, or pass the path of a names.txt ({NAMES_URL}) to load_names(path), or put it in "
        "a directory named by $TINYNET_DATA."
    )


# -------------------------------------------------------------------------- vocabulary


def build_vocab(words):
    """build_vocab(words)

    makemore's character vocabulary: the sorted characters of ``words`` numbered from 1,
    and '.' = 0 (the start/end token).  On names.txt: '.' = 0, 'a'..'z' = 1..26.
    Returns (stoi: dict str -> int, itos: dict int -> str).

    >>> stoi, itos = build_vocab(["ab", "ba"])
    >>> stoi == {".": 0, "a": 1, "b": 2}, itos[2]
    (True, 'b')
    """
    chars = sorted(set("".join(words)))
    if "." in chars:
        raise ValueError("build_vocab: '.' is the start/end token and cannot appear inside a word")
    stoi = {s: i + 1 for i, s in enumerate(chars)}
    stoi["."] = 0
    itos = {i: s for s, i in stoi.items()}
    return stoi, itos


_STOI = {s: i for i, s in enumerate(VOCAB)}
_ITOS = dict(enumerate(VOCAB))


def encode(word, stoi=None):
    """encode(word, stoi=None)

    The ids of the characters of ``word`` (no start/end tokens added), with ``stoi``
    (default: '.' = 0, 'a'..'z' = 1..26).  Returns a list of int.

    >>> encode("ava")
    [1, 22, 1]
    """
    stoi = _STOI if stoi is None else stoi
    try:
        return [stoi[ch] for ch in word]
    except KeyError as e:
        raise ValueError(f"encode: character {e.args[0]!r} of {word!r} is not in the vocabulary") from None


def decode(ids, itos=None):
    """decode(ids, itos=None)

    The string of the ids (any iterable of integers, e.g. a NumPy array), with ``itos``
    (default: 0 = '.', 1..26 = 'a'..'z').

    >>> decode([1, 22, 1, 0])
    'ava.'
    """
    itos = _ITOS if itos is None else itos
    try:
        return "".join(itos[int(i)] for i in ids)
    except KeyError as e:
        raise ValueError(f"decode: id {e.args[0]!r} is not in the vocabulary") from None


def build_dataset(words, block_size=3, stoi=None):
    """build_dataset(words, block_size=3, stoi=None)

    makemore's next-character dataset, exactly as seed 003 builds it: for every word and
    every character of ``word + '.'``, the ids of the ``block_size`` previous characters
    (padded with '.' = 0 at the start) and the id of the character.
    Returns (X int64 (n, block_size), Y int64 (n,)), n = sum(len(w) + 1).

    >>> X, Y = build_dataset(["ab"], block_size=2)
    >>> X.tolist(), Y.tolist()
    ([[0, 0], [0, 1], [1, 2]], [1, 2, 0])
    """
    if isinstance(block_size, (bool, float)) or not hasattr(block_size, "__index__"):
        raise TypeError(f"build_dataset: block_size must be an integer, not {type(block_size).__name__}")
    block_size = int(block_size.__index__())
    if block_size < 1:
        raise ValueError(f"build_dataset: block_size must be >= 1, got {block_size}")
    if isinstance(words, str):
        raise TypeError("build_dataset: words must be a list of words, not one str")
    stoi = _STOI if stoi is None else stoi
    X, Y = [], []
    for w in words:
        context = [0] * block_size
        for ch in w + ".":
            try:
                ix = stoi[ch]
            except KeyError:
                raise ValueError(f"build_dataset: character {ch!r} of {w!r} is not in the vocabulary") from None
            X.append(context)
            Y.append(ix)
            context = context[1:] + [ix]
    return (np.array(X, dtype=np.int64).reshape(len(Y), block_size),
            np.array(Y, dtype=np.int64).reshape(len(Y)))


def split_words(words, seed=278, fractions=(0.8, 0.9)):
    """split_words(words, seed=278, fractions=(0.8, 0.9))

    Shuffle a copy of ``words`` with ``random.Random(seed).shuffle`` (the same order as
    seed 003's ``random.seed(278); random.shuffle(words)``, without touching the global
    generator or the caller's list) and cut it at int(f1 * n) and int(f2 * n).
    Returns (train, dev, test) lists: 80% / 10% / 10% by default.

    >>> train, dev, test = split_words([str(i) for i in range(10)], seed=0)
    >>> len(train), len(dev), len(test)
    (8, 1, 1)
    """
    if isinstance(words, str):
        raise TypeError("split_words: words must be a list of words, not one str")
    f1, f2 = (float(f) for f in fractions)
    if not 0.0 <= f1 <= f2 <= 1.0:
        raise ValueError(f"split_words: fractions must satisfy 0 <= f1 <= f2 <= 1, got {tuple(fractions)}")
    words = list(words)
    random.Random(seed).shuffle(words)
    n1, n2 = int(f1 * len(words)), int(f2 * len(words))
    return words[:n1], words[n1:n2], words[n2:]
