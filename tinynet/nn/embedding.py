"""tinynet.nn.embedding: The embedding layer."""
import numpy as np

from tinynet.nn._base import Module, _check_init, _generator, _size, _weight


# --------------------------------------------------------------------------- Embedding


class Embedding(Module):
    """Embedding(num_embeddings, embedding_dim, *, engine="c", dtype=np.float64, init="pytorch", rng=None)

    out = weight[idx], as torch.nn.Embedding: a lookup table of row vectors.

    weight: (num_embeddings, embedding_dim), init "pytorch" N(0, 1) (also
    "xavier_uniform", "kaiming_normal").  idx: integers of any shape S in
    [0, num_embeddings) -> out: S + (embedding_dim,).  backward(dout) stores dweight
    (repeated indices add up) and returns None: token ids have no gradient.

    >>> import numpy as np
    >>> from tinynet.nn import Embedding
    >>> emb = Embedding(27, 10, rng=0)
    >>> out = emb(np.array([[0, 5, 5]]))
    >>> out.shape, emb.backward(np.ones_like(out)), float(emb.grads()[0][5, 0])
    ((1, 3, 10), None, 2.0)
    """

    _param_names = ("weight",)

    def __init__(self, num_embeddings, embedding_dim, *, engine="c", dtype=np.float64, init="pytorch",
                 rng=None):
        super().__init__(engine=engine, dtype=dtype)
        self.num_embeddings = _size(num_embeddings, "num_embeddings", "Embedding")
        self.embedding_dim = _size(embedding_dim, "embedding_dim", "Embedding")
        self.init = _check_init(init, "Embedding")
        g = _generator(rng, "Embedding")
        self.weight = _weight(g, (self.num_embeddings, self.embedding_dim), init, self.dtype)

    def extra_repr(self):
        return f"{self.num_embeddings}, {self.embedding_dim}"

    def forward(self, idx):
        """forward(idx): integer ids of shape S -> S + (embedding_dim,)."""
        if not isinstance(idx, np.ndarray):
            idx = np.asarray(idx)
        out = self._tn.embedding_forward(self.weight, idx)
        self._cache = (idx, out.shape)
        return out

    def backward(self, dout):
        """backward(dout): stores dweight (num_embeddings, embedding_dim); returns None."""
        idx, out_shape = self._cache or self._cached()
        if getattr(dout, "shape", None) != out_shape:
            self._check_dout(dout, out_shape)
        tn = self._tn
        self._grads["weight"] = tn.embedding_backward(dout, idx, self.num_embeddings)
        return None
