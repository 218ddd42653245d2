"""tinynet.reference: the NumPy engine.

The same functions, signatures and results as the C engine (``import tinynet``),
written to be read: each function first checks its arguments (the same rules and
exceptions as the C engine, see tinynet/_checks.py), then does the math in a few lines
of plain NumPy.  It is the oracle every C function is tested against, and it is itself
tested against finite differences.

Laid out by layer, as the C core is: tinynet/reference/<layer>.py holds what
csrc/tn_<layer>.c does (linear, embedding, norm, mlp, attention, rnn, lstm, gru, optim; _seq.py
what the recurrent layers share).  Each function's docstring is also the C engine's
(tinynet shows it with the example's import line naming ``tinynet``), and its
annotations are the type stubs of both engines (tinynet/_core.pyi imports them).

Conventions: weights are (out_features, in_features) as in PyTorch, so a layer is
``y = x @ W.T + b``; batches are rows; sequences are time-major (T, B, ...).
Floating-point edge cases follow IEEE (inf, nan) silently, as the C engine does.
"""
from typing import TYPE_CHECKING

from tinynet._core import FUNCTIONS as _FUNCTIONS  # the one list of the engines' functions
from tinynet.reference._common import _MAXDIMS  # noqa: F401 (NumPy's limit on ndim, for the tests)
from tinynet.reference.attention import *  # noqa: F401,F403
from tinynet.reference.embedding import *  # noqa: F401,F403
from tinynet.reference.gru import *  # noqa: F401,F403
from tinynet.reference.linear import *  # noqa: F401,F403
from tinynet.reference.lstm import *  # noqa: F401,F403
from tinynet.reference.mlp import *  # noqa: F401,F403
from tinynet.reference.norm import *  # noqa: F401,F403
from tinynet.reference.optim import *  # noqa: F401,F403
from tinynet.reference.rnn import *  # noqa: F401,F403
from tinynet.reference.rnn import SplitMix64  # noqa: F401 (rnn_sample's generator)

if not TYPE_CHECKING:  # (for mypy, every public function here is exported: tinynet/_core.pyi imports them)
    __all__ = list(_FUNCTIONS)
