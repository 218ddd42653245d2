"""tinynet.reference.embedding: the embedding layer (csrc/tn_embedding.c)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from tinynet._checks import Call
from tinynet.reference._common import _MAXDIMS, _ieee

if TYPE_CHECKING:
    from numpy.typing import ArrayLike
    from tinynet.reference._common import FloatArray


# --------------------------------------------------------------------------- embedding


@_ieee
def embedding_forward(table: ArrayLike, idx: ArrayLike) -> FloatArray:
    """embedding_forward(table, idx)

    Row lookup: out = table[idx].

    table: (V, E) floats; idx: integers of any shape S, each in [0, V) (negative or too
    large is IndexError).  Returns out: S + (E,), the dtype of table.

    >>> import numpy as np, tinynet.reference as tn
    >>> tn.embedding_forward(np.eye(3), [[2, 0]]).shape
    (1, 2, 3)
    """
    c = Call("embedding_forward")
    table = c.floats(("table", table))
    idx = c.ints("idx", idx)
    c.expect("table", table, (None, None), "(V, E)")
    c.in_range("idx", idx, table.shape[0], "V = table.shape[0]")
    if idx.ndim + 1 > _MAXDIMS:
        raise c.shape_error("idx", idx, f"at most {_MAXDIMS - 1} dimensions (out = table[idx] adds one)")

    return table[idx]


@_ieee
def embedding_backward(dout: ArrayLike, idx: ArrayLike, num_embeddings: int) -> FloatArray:
    """embedding_backward(dout, idx, num_embeddings)

    dtable: every row of dout added to the table row it was read from.  np.add.at
    accumulates repeated indices (plain fancy-index += would not).

    dout: S + (E,) floats; idx: integers of shape S in [0, num_embeddings).
    Returns dtable: (num_embeddings, E), the dtype of dout.

    >>> import tinynet.reference as tn
    >>> tn.embedding_backward([[1.0], [2.0]], [0, 0], 2)
    array([[3.],
           [0.]])
    """
    c = Call("embedding_backward")
    dout = c.floats(("dout", dout))
    idx = c.ints("idx", idx)
    V = c.integer("num_embeddings", num_embeddings)
    if V < 0:
        raise ValueError(f"embedding_backward: num_embeddings must be >= 0, got {V}")
    if dout.ndim != idx.ndim + 1 or dout.shape[:-1] != idx.shape:
        raise c.shape_error("dout", dout, f"idx.shape + (E,) with idx.shape = {tuple(idx.shape)}")
    c.in_range("idx", idx, V, "num_embeddings")

    dtable = np.zeros((V, dout.shape[-1]), dtype=dout.dtype)
    np.add.at(dtable, idx.reshape(-1), dout.reshape(idx.size, dout.shape[-1]))  # flat: any ndim
    return dtable
