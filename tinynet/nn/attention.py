"""tinynet.nn.attention: causal multi-head self-attention and the transformer block, as
torch.nn.MultiheadAttention and torch.nn.TransformerEncoderLayer (tinynet's attention
layer: csrc/tn_attention.c)."""
import numpy as np

from tinynet.nn._base import Module, _generator, _size, _weight
from tinynet.nn.linear import GELU, Linear, ReLU
from tinynet.nn.norm import LayerNorm

#: TransformerEncoderLayer's activations: torch's "relu" and "gelu", and "gelu_tanh"
#: (GPT-2's / makemore's NewGELU, torch's GELU(approximate="tanh")).
ACTIVATIONS = {"relu": lambda **kw: ReLU(**kw), "gelu": lambda **kw: GELU("none", **kw),
               "gelu_tanh": lambda **kw: GELU("tanh", **kw)}


def _flag(value, name, who, hint=""):
    """A bool argument (bias), refused otherwise: in MultiheadAttention a number there is
    most likely torch's positional dropout."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{who}: {name} must be True or False, got {value!r}{hint}")
    return bool(value)


def _check_x(layer, x, name):
    """x (B, T, E) / (T, B, E) or (T, E), of the layer's dtype: ValueError / TypeError naming it."""
    layer._check_dtype(x, name)
    E = layer.embed_dim if isinstance(layer, MultiheadAttention) else layer.d_model
    if x.ndim not in (2, 3) or x.shape[-1] != E:
        batched = "(B, T, E)" if layer.batch_first else "(T, B, E)"
        raise ValueError(f"{layer!r}.forward: {name} has shape {x.shape}, expected {batched} or (T, E) "
                         f"with E = {E}")


def _plus(a, fresh):
    """a + fresh, written into fresh: an array a sublayer has just returned, which nothing
    else holds (a residual connection's sum without a new array)."""
    return np.add(a, fresh, out=fresh)


def _causal_only(layer, T, attn_mask, is_causal, name="attn_mask"):
    """tinynet's attention is causal: is_causal=True, or an attn_mask (T, T) that is the
    causal one (bool: True above the diagonal; float: -inf above it, 0 elsewhere).  The
    errors name layer's forward."""
    if attn_mask is None:
        if not is_causal:
            raise ValueError(f"{layer!r}.forward: tinynet's attention is causal: pass is_causal=True or the causal "
                             f"{name}")
        return
    m = np.asarray(attn_mask)
    upper = np.triu(np.ones((T, T), dtype=bool), 1)
    if m.shape == (T, T) and m.dtype == bool and np.array_equal(m, upper):
        return
    if m.shape == (T, T) and m.dtype.kind == "f" and np.all(np.isneginf(m[upper])) and np.all(m[~upper] == 0):
        return
    raise ValueError(f"{layer!r}.forward: {name} of shape {m.shape} is not the causal mask of T = {T} (True or "
                     "-inf above the diagonal): tinynet's attention is causal only")


class MultiheadAttention(Module):
    """MultiheadAttention(embed_dim, num_heads, bias=True, batch_first=True, *, dropout=0.0, engine="c", dtype=np.float64, rng=None)

    Causal multi-head self-attention, as torch.nn.MultiheadAttention with a causal mask:
    qkv = x @ in_proj_weight.T + in_proj_bias (q, k, v side by side), each split into
    num_heads heads of embed_dim / num_heads, softmax(q k^T / sqrt(head size)) masked
    above the diagonal, the heads' outputs side by side through out_proj (a Linear).
    Self-attention only: ``forward(x)`` or ``forward(x, x, x)``; the mask must be causal
    (``is_causal=True``, or ``attn_mask`` equal to the causal mask); dropout 0 only.
    ``bias`` must be True or False: torch's third positional argument is dropout, so a
    number there is refused (TypeError) rather than taken as a bias flag.
    x is (B, T, embed_dim) with ``batch_first`` (the default here; torch's is False),
    (T, B, embed_dim) without, or (T, embed_dim).  Returns (out like x, weights):
    weights the attention weights averaged over the heads (B, T, T), or per head with
    ``average_attn_weights=False``, None with ``need_weights=False``.
    State-dict keys as torch: ``in_proj_weight`` (3E, E), ``in_proj_bias`` (3E,),
    ``out_proj.weight``, ``out_proj.bias``; the same initialisation (Xavier-uniform
    in_proj_weight, zero biases).  backward(dout) returns dx and stores the gradients.

    >>> import numpy as np
    >>> from tinynet.nn import MultiheadAttention
    >>> mha = MultiheadAttention(8, 2, rng=0)
    >>> out, w = mha(np.ones((3, 5, 8)), is_causal=True)
    >>> out.shape, w.shape, mha.backward(np.ones_like(out)).shape
    ((3, 5, 8), (3, 5, 5), (3, 5, 8))
    """

    _param_names = ("in_proj_weight", "in_proj_bias")

    def __init__(self, embed_dim, num_heads, bias=True, batch_first=True, *, dropout=0.0, engine="c",
                 dtype=np.float64, rng=None):
        Module.__init__(self, engine=engine, dtype=dtype)
        E = self.embed_dim = _size(embed_dim, "embed_dim", "MultiheadAttention")
        H = self.num_heads = _size(num_heads, "num_heads", "MultiheadAttention", minimum=1)
        if E % H:
            raise ValueError(f"MultiheadAttention: embed_dim = {E} is not a multiple of num_heads = {H}")
        if dropout != 0:
            raise ValueError(f"MultiheadAttention: dropout must be 0 (tinynet has no dropout), got {dropout!r}")
        bias = _flag(bias, "bias", "MultiheadAttention", " (torch.nn.MultiheadAttention's third positional argument "
                     "is dropout: pass dropout= and bias= by keyword)")
        self.batch_first = bool(batch_first)
        g = _generator(rng, "MultiheadAttention")
        self.in_proj_weight = _weight(g, (3 * E, E), "xavier_uniform", self.dtype)
        self.in_proj_bias = np.zeros(3 * E, dtype=self.dtype) if bias else None
        self.out_proj = Linear(E, E, bias=bias, engine=engine, dtype=dtype, rng=g)
        if bias:
            self.out_proj.bias[...] = 0
        else:
            self._param_names = ("in_proj_weight",)
        self._grads = dict.fromkeys(self._param_names)

    def _submodules(self):
        return [("out_proj", self.out_proj)]

    def extra_repr(self):
        return f"{self.embed_dim}, {self.num_heads}, bias={self.in_proj_bias is not None}, batch_first={self.batch_first}"

    def forward(self, query, key=None, value=None, key_padding_mask=None, need_weights=True, attn_mask=None,
                average_attn_weights=True, is_causal=False):
        """forward(query, key=None, value=None, key_padding_mask=None, need_weights=True, attn_mask=None, average_attn_weights=True, is_causal=False) -> (out, weights)"""
        if (key is not None and key is not query) or (value is not None and value is not query):
            raise ValueError(f"{self!r}.forward: tinynet's attention is self-attention: key and value must be query "
                             "(or None)")
        if key_padding_mask is not None:
            raise ValueError(f"{self!r}.forward: key_padding_mask is not supported (the causal mask only)")
        x = query if isinstance(query, np.ndarray) else self._input(query)
        _check_x(self, x, "query")
        swap = x.ndim == 3 and not self.batch_first
        xb = np.swapaxes(x, 0, 1) if swap else x
        _causal_only(self, xb.shape[-2], attn_mask, is_causal)
        tn = self.tn
        qkv = tn.linear_forward(xb, self.in_proj_weight, self.in_proj_bias)
        heads, att = tn.attention_forward(qkv, self.num_heads)
        out = self.out_proj.forward(heads)
        self._cache = (xb, qkv, att, swap, x.shape)
        weights = None
        if need_weights:  # (a copy: backward reads att, which the caller may change)
            weights = att.mean(axis=-3) if average_attn_weights else att.copy()
        return (np.swapaxes(out, 0, 1) if swap else out), weights

    def backward(self, dout):
        """backward(dout): dout like out -> dx; stores the gradients."""
        xb, qkv, att, swap, out_shape = self._cached()
        self._check_dout(dout, out_shape)
        dout = dout if isinstance(dout, np.ndarray) else np.asarray(dout, dtype=self.dtype)
        dout = np.swapaxes(dout, 0, 1) if swap else dout
        dheads = self.out_proj.backward(dout)
        dqkv = self.tn.attention_backward(dheads, qkv, att, self.num_heads)
        dx, dW, db = self.tn.linear_backward(dqkv, xb, self.in_proj_weight)
        self._grads["in_proj_weight"] = dW
        if self.in_proj_bias is not None:
            self._grads["in_proj_bias"] = db
        return np.swapaxes(dx, 0, 1) if swap else dx


class TransformerEncoderLayer(Module):
    """TransformerEncoderLayer(d_model, nhead, dim_feedforward=2048, dropout=0.0, activation="relu", layer_norm_eps=1e-5, batch_first=True, norm_first=True, bias=True, *, engine="c", dtype=np.float64, rng=None)

    A transformer block with causal self-attention, as torch.nn.TransformerEncoderLayer
    with a causal mask: with ``norm_first`` (a GPT's pre-norm block, the default here),
    x = x + self_attn(norm1(x)); x = x + linear2(activation(linear1(norm2(x))));
    without, the post-norm order.  activation: "relu", "gelu" or "gelu_tanh" (GPT-2's /
    makemore's NewGELU).  dropout must be 0.  The defaults differ from torch's
    (dropout=0.1, batch_first=False, norm_first=False): pass those to torch to compare.
    State-dict keys as torch: ``self_attn.*``, ``linear1.*``, ``linear2.*``, ``norm1.*``,
    ``norm2.*``.  forward(src, src_mask=None, src_key_padding_mask=None,
    is_causal=False): the mask must be causal (is_causal=True, or src_mask the causal
    mask).  backward(dout) returns dx through both residual branches and stores every
    sublayer's gradients.

    >>> import numpy as np
    >>> from tinynet.nn import TransformerEncoderLayer
    >>> block = TransformerEncoderLayer(8, 2, 32, activation="gelu_tanh", rng=0)
    >>> y = block(np.ones((3, 5, 8)), is_causal=True)
    >>> y.shape, block.backward(np.ones_like(y)).shape, len(block.state_dict())
    ((3, 5, 8), (3, 5, 8), 12)
    """

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.0, activation="relu", layer_norm_eps=1e-5,
                 batch_first=True, norm_first=True, bias=True, *, engine="c", dtype=np.float64, rng=None):
        Module.__init__(self, engine=engine, dtype=dtype)
        who = "TransformerEncoderLayer"
        if dropout != 0:
            raise ValueError(f"{who}: dropout must be 0 (tinynet has no dropout), got {dropout!r}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"{who}: activation must be one of {', '.join(map(repr, ACTIVATIONS))}; got {activation!r}")
        self.d_model, self.nhead = _size(d_model, "d_model", who), _size(nhead, "nhead", who, minimum=1)
        if self.d_model % self.nhead:
            raise ValueError(f"{who}: d_model = {self.d_model} is not a multiple of nhead = {self.nhead}")
        bias = _flag(bias, "bias", who)
        g = _generator(rng, who)
        kw = dict(engine=engine, dtype=dtype)
        self.dim_feedforward = _size(dim_feedforward, "dim_feedforward", who)
        self.batch_first, self.norm_first, self.activation_name = bool(batch_first), bool(norm_first), activation
        self.dropout, self.bias = 0.0, bias  # (the constructor's arguments, kept for tinynet.save)
        self.self_attn = MultiheadAttention(d_model, nhead, bias=bias, batch_first=True, rng=g, **kw)
        self.linear1 = Linear(d_model, self.dim_feedforward, bias=bias, rng=g, **kw)
        self.linear2 = Linear(self.dim_feedforward, d_model, bias=bias, rng=g, **kw)
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.layer_norm_eps = self.norm1.eps
        self.activation = ACTIVATIONS[activation](engine=engine)

    def _submodules(self):
        return [("self_attn", self.self_attn), ("linear1", self.linear1), ("linear2", self.linear2),
                ("norm1", self.norm1), ("norm2", self.norm2)]

    def extra_repr(self):
        return (f"{self.d_model}, {self.nhead}, dim_feedforward={self.dim_feedforward}, "
                f"activation={self.activation_name!r}, norm_first={self.norm_first}")

    def _ff(self, x):
        return self.linear2.forward(self.activation.forward(self.linear1.forward(x)))

    def _ff_back(self, d):
        return self.linear1.backward(self.activation.backward(self.linear2.backward(d)))

    def _sa(self, x):  # (the mask was checked: the causal one)
        return self.self_attn.forward(x, is_causal=True, need_weights=False)[0]

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        """forward(src, src_mask=None, src_key_padding_mask=None, is_causal=False) -> out like src"""
        if src_key_padding_mask is not None:
            raise ValueError(f"{self!r}.forward: src_key_padding_mask is not supported (the causal mask only)")
        x = src if isinstance(src, np.ndarray) else self._input(src)
        _check_x(self, x, "src")
        swap, shape = x.ndim == 3 and not self.batch_first, x.shape
        x = np.swapaxes(x, 0, 1) if swap else x
        _causal_only(self, x.shape[-2], src_mask, is_causal, "src_mask")
        if self.norm_first:
            x = _plus(x, self._sa(self.norm1.forward(x)))
            x = _plus(x, self._ff(self.norm2.forward(x)))
        else:
            x = self.norm1.forward(_plus(x, self._sa(x)))
            x = self.norm2.forward(_plus(x, self._ff(x)))
        self._cache = (swap, shape)
        return np.swapaxes(x, 0, 1) if swap else x

    def backward(self, dout):
        """backward(dout): dout like out -> dx, through both residual branches."""
        swap, out_shape = self._cached()
        self._check_dout(dout, out_shape)
        d = dout if isinstance(dout, np.ndarray) else np.asarray(dout, dtype=self.dtype)
        d = np.swapaxes(d, 0, 1) if swap else d
        if self.norm_first:
            d = _plus(d, self.norm2.backward(self._ff_back(d)))
            d = _plus(d, self.norm1.backward(self.self_attn.backward(d)))
        else:
            d = self.norm2.backward(d)
            d = _plus(d, self._ff_back(d))
            d = self.norm1.backward(d)
            d = _plus(d, self.self_attn.backward(d))
        return np.swapaxes(d, 0, 1) if swap else d
