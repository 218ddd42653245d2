"""tinynet.recipes: the ready-made set-ups of the models in ``notebooks/``.

The pieces a notebook needs but does not teach, shared by the notebooks,
``python -m tinynet`` and the tests:

* initial weights drawn exactly as the original notebooks drew them, so that a rerun
  prints the original's numbers: ``xavier_uniform_python`` and ``letter_classifier``
  (notebook 002's letter classifier, Python-``random`` Xavier weights), and
  ``makemore_init`` (notebook 003's makemore MLP, from a ``torch.Generator`` when
  PyTorch is installed);
* makemore's training step, evaluation and sampling: ``makemore_forward_backward``,
  ``makemore_calibrate``, ``makemore_logits``, ``makemore_split_loss``,
  ``makemore_sample``;
* the same evaluation and sampling for a model of ``tinynet.nn`` layers that maps a
  context of token ids to logits (notebook 005's WaveNet): ``nn_split_loss``,
  ``nn_sample``;
* makemore's transformer (notebook 006): the model ``GPT``, its names in makemore
  (``gpt_makemore_name``, ``gpt_makemore_state``), makemore's data framing, loss,
  evaluation and sampling (``gpt_dataset``, ``gpt_loss``, ``gpt_split_loss``,
  ``gpt_sample``) and its check against PyTorch (``gpt_torch_loss_and_grads``).

The lessons themselves, the forward and backward passes written out and the training
loops, stay in the notebooks, where a learner reads them.

    >>> from tinynet import recipes
    >>> model = recipes.letter_classifier("c")
    >>> sum(p.size for p in model.parameters())
    3418
"""
import random

import numpy as np

from tinynet import data, nn

__all__ = [
    "xavier_uniform_python", "letter_classifier",
    "makemore_init", "makemore_forward_backward", "makemore_calibrate", "makemore_logits",
    "makemore_split_loss", "makemore_sample", "nn_split_loss", "nn_sample",
    "GPT", "gpt_makemore_name", "gpt_makemore_state", "gpt_dataset", "gpt_loss", "gpt_split_loss", "gpt_sample",
    "gpt_torch_loss_and_grads",
]


# -------------------------------------------------------- notebook 002: letter classifier


def xavier_uniform_python(seed, fan_in, fan_out):
    """xavier_uniform_python(seed, fan_in, fan_out)

    The original letter classifier's initialisation (notebook 002), number for number:
    ``random.seed(seed)`` and then ``random.uniform(-limit, limit)`` with
    ``limit = sqrt(6 / (fan_in + fan_out))``, drawn in row-major (out, in) order.  A
    private ``random.Random(seed)`` draws the same numbers without touching Python's
    global generator.
    Returns a float64 array (fan_out, fan_in), tinynet's (and PyTorch's) layout.
    """
    r = random.Random(seed)
    limit = (6.0 / (fan_in + fan_out)) ** 0.5
    return np.array([[r.uniform(-limit, limit) for _ in range(fan_in)] for _ in range(fan_out)])


def letter_classifier(engine="c", dtype=np.float64):
    """letter_classifier(engine="c", dtype=np.float64)

    Notebook 002's ``BackpropNetwork([26, 64, 26])`` as tinynet.nn layers: Linear, ReLU,
    Linear, Sigmoid (the softmax comes after, in the loss), with the original's weights
    (``xavier_uniform_python`` with seeds 42 and 43) and zero biases.  3,418 parameters.
    """
    model = nn.Sequential([
        nn.Linear(26, 64, engine=engine, dtype=dtype, init="xavier_uniform", rng=0),
        nn.ReLU(engine=engine),
        nn.Linear(64, 26, engine=engine, dtype=dtype, init="xavier_uniform", rng=0),
        nn.Sigmoid(engine=engine),
    ])
    model[0].weight[...] = xavier_uniform_python(42, 26, 64)
    model[2].weight[...] = xavier_uniform_python(43, 64, 26)
    return model


# -------------------------------------------------------------- notebook 003: makemore


def _torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


def makemore_init(vocab_size=27, block_size=3, n_embd=10, n_hidden=64, seed=2147483647, use_torch=None):
    """makemore_init(vocab_size=27, block_size=3, n_embd=10, n_hidden=64, seed=2147483647, use_torch=None)

    Notebook 003's makemore parameters and its random stream of minibatch indices.

    With PyTorch (``use_torch=None`` uses it when it is installed), the numbers come
    from ``g = torch.Generator().manual_seed(seed)`` in the original's order: C, W1
    (scaled by (5/3)/sqrt(fan_in)), b1 (* 0.1), W2 (* 0.1), b2 (* 0.1); the minibatch
    indices are then ``torch.randint(0, n, (batch,), generator=g)`` as in makemore.
    Without it, the same shapes and scales are drawn from ``np.random.default_rng(seed)``.
    Either way bngain = 1 and bnbias = 0 (the original drew them from torch's *unseeded*
    global generator, which no rerun can reproduce).

    The values are converted to float64, and the weights are returned in tinynet's
    (out, in) layout: ``W1`` (n_hidden, block_size * n_embd) is the original's ``W1.T``.
    Returns ``(params, randint, source)``: params a dict C, W1, b1, W2, b2, bngain,
    bnbias; ``randint(high, size)`` draws int64 indices in [0, high) from the same
    generator; source is "torch" or "numpy".
    """
    torch = _torch() if use_torch in (None, True) else None
    if use_torch and torch is None:
        raise ImportError("makemore_init: use_torch=True but PyTorch is not installed")
    fan_in = n_embd * block_size
    if torch is not None:
        g = torch.Generator().manual_seed(seed)
        C = torch.randn((vocab_size, n_embd), generator=g)
        W1 = torch.randn((fan_in, n_hidden), generator=g) * (5 / 3) / (fan_in ** 0.5)
        b1 = torch.randn(n_hidden, generator=g) * 0.1
        W2 = torch.randn((n_hidden, vocab_size), generator=g) * 0.1
        b2 = torch.randn(vocab_size, generator=g) * 0.1
        raw = {k: v.numpy().astype(np.float64) for k, v in dict(C=C, W1=W1, b1=b1, W2=W2, b2=b2).items()}

        def randint(high, size):
            return torch.randint(0, high, (size,), generator=g).numpy().astype(np.int64)

        source = "torch"
    else:
        rng = np.random.default_rng(seed)
        raw = dict(C=rng.standard_normal((vocab_size, n_embd)),
                   W1=rng.standard_normal((fan_in, n_hidden)) * (5 / 3) / fan_in ** 0.5,
                   b1=rng.standard_normal(n_hidden) * 0.1,
                   W2=rng.standard_normal((n_hidden, vocab_size)) * 0.1,
                   b2=rng.standard_normal(vocab_size) * 0.1)

        def randint(high, size):
            return rng.integers(0, high, size, dtype=np.int64)

        source = "numpy"
    params = dict(C=np.ascontiguousarray(raw["C"]),
                  W1=np.ascontiguousarray(raw["W1"].T), b1=raw["b1"],
                  W2=np.ascontiguousarray(raw["W2"].T), b2=raw["b2"],
                  bngain=np.ones(n_hidden), bnbias=np.zeros(n_hidden))
    return params, randint, source


def makemore_forward_backward(tn, P, Xb, Yb):
    """makemore_forward_backward(tn, P, Xb, Yb)

    One training step's forward and backward pass of notebook 003's model on the engine
    ``tn`` (BatchNorm on batch statistics with Bessel's correction).
    Returns (loss, grads) with grads keyed like P.
    """
    n = Xb.shape[0]
    emb = tn.embedding_forward(P["C"], Xb)
    embcat = emb.reshape(n, -1)
    hprebn = tn.linear_forward(embcat, P["W1"], P["b1"])
    hpreact, mean, invstd = tn.batchnorm_forward(hprebn, P["bngain"], P["bnbias"], 1e-5, 1)
    h = tn.tanh_forward(hpreact)
    logits = tn.linear_forward(h, P["W2"], P["b2"])
    loss, probs = tn.cross_entropy_forward(logits, Yb)
    dlogits = tn.cross_entropy_backward(probs, Yb)
    dh, dW2, db2 = tn.linear_backward(dlogits, h, P["W2"])
    dhpreact = tn.tanh_backward(dh, h)
    dhprebn, dbngain, dbnbias = tn.batchnorm_backward(dhpreact, hprebn, P["bngain"], mean, invstd, 1)
    dembcat, dW1, db1 = tn.linear_backward(dhprebn, embcat, P["W1"])
    dC = tn.embedding_backward(dembcat.reshape(emb.shape), Xb, P["C"].shape[0])
    return loss, dict(C=dC, W1=dW1, b1=db1, W2=dW2, b2=db2, bngain=dbngain, bnbias=dbnbias)


def makemore_calibrate(tn, P, X):
    """makemore_calibrate(tn, P, X)

    makemore's "calibrate the batch norm at the end of training": the mean and the
    unbiased (n - 1) variance of the pre-BatchNorm activations over the whole of X (the
    training set).  Returns (bnmean, bnvar), each (n_hidden,).
    """
    embcat = tn.embedding_forward(P["C"], X).reshape(X.shape[0], -1)
    hprebn = tn.linear_forward(embcat, P["W1"], P["b1"])
    return hprebn.mean(axis=0), hprebn.var(axis=0, ddof=1)


def makemore_logits(tn, P, X, bnmean, bnvar):
    """makemore_logits(tn, P, X, bnmean, bnvar): the logits (N, vocab) in inference mode
    (BatchNorm with the fixed statistics bnmean, bnvar)."""
    embcat = tn.embedding_forward(P["C"], X).reshape(X.shape[0], -1)
    hpreact = tn.batchnorm_inference(tn.linear_forward(embcat, P["W1"], P["b1"]), P["bngain"], P["bnbias"],
                                     bnmean, bnvar, 1e-5)
    return tn.linear_forward(tn.tanh_forward(hpreact), P["W2"], P["b2"])


def makemore_split_loss(tn, P, X, Y, bnmean, bnvar):
    """makemore_split_loss(tn, P, X, Y, bnmean, bnvar): the mean cross-entropy over a
    whole split, in inference mode.  Returns a float."""
    loss, _ = tn.cross_entropy_forward(makemore_logits(tn, P, X, bnmean, bnvar), Y)
    return loss


def _sample_names(next_logits, tn, n, block_size, seed, itos):
    """n names from next_logits(context (1, block_size) int64) -> logits (1, vocab), as
    makemore samples: start from '...', draw the next character by inverse CDF from
    np.random.default_rng(seed), shift it into the context, stop at '.'."""
    rng = np.random.default_rng(seed)
    names = []
    for _ in range(n):
        context, out = [0] * block_size, []
        while True:
            logits = next_logits(np.array([context], dtype=np.int64))
            cdf = np.cumsum(tn.softmax(logits)[0])
            ix = min(int(np.searchsorted(cdf, rng.random() * cdf[-1], side="right")), cdf.size - 1)
            context = context[1:] + [ix]
            if ix == 0:
                break
            out.append(ix)
        names.append(data.decode(out, itos))
    return names


def makemore_sample(tn, P, bnmean, bnvar, n, block_size=3, seed=2147483647 + 10, itos=None):
    """makemore_sample(tn, P, bnmean, bnvar, n, block_size=3, seed=2147483647 + 10, itos=None)

    n names drawn from the model as makemore does (start from '...', draw the next
    character from the softmax, stop at '.'), with ``np.random.default_rng(seed)`` and
    inverse-CDF draws, so both engines give the same names.  Returns a list of str.
    """
    return _sample_names(lambda context: makemore_logits(tn, P, context, bnmean, bnvar), tn, n, block_size,
                         seed, itos)


# ------------------------------------------------- notebook 005: a model of nn layers


def nn_split_loss(tn, model, X, Y, chunk=10_000):
    """nn_split_loss(tn, model, X, Y, chunk=10_000)

    makemore's ``split_loss`` for a model of ``tinynet.nn`` layers: the mean
    cross-entropy of ``model(X)`` against Y over a whole split, computed in eval mode
    (BatchNorm1d normalises with its running statistics, which stay as they are) and
    ``chunk`` rows at a time (the summed losses divided by len(Y); the chunk size
    changes nothing but rounding).  The model's mode (``model.training``) is restored
    afterwards.  X: (N, ...) token ids (or inputs) of the model; Y: (N,) int64 targets.
    Returns a float.

    >>> import math
    >>> import numpy as np
    >>> import tinynet as tn
    >>> from tinynet import data, nn, recipes
    >>> X, Y = data.build_dataset(["emma", "ava"], block_size=2)
    >>> model = nn.Sequential([nn.Embedding(27, 4, rng=0), nn.Flatten(), nn.Linear(8, 27, rng=0)])
    >>> model[-1].weight[...] = 0.0; model[-1].bias[...] = 0.0   # uniform: the loss is ln 27
    >>> abs(recipes.nn_split_loss(tn, model, X, Y, chunk=3) - math.log(27)) < 1e-12, model.training
    (True, True)
    """
    if isinstance(chunk, (bool, float)) or not hasattr(chunk, "__index__") or int(chunk) < 1:
        raise ValueError(f"nn_split_loss: chunk must be a positive integer, got {chunk!r}")
    X, Y = np.asarray(X), np.asarray(Y)
    if X.shape[:1] != Y.shape or Y.shape[0] == 0:
        raise ValueError(f"nn_split_loss: X {X.shape} and Y {Y.shape} must have the same (non-zero) length")
    chunk = int(chunk)
    was_training = model.training
    model.eval()
    try:
        total = 0.0
        for i in range(0, Y.shape[0], chunk):
            loss, _ = tn.cross_entropy_forward(model(X[i:i + chunk]), Y[i:i + chunk], reduction="sum")
            total += loss
    finally:
        model.train(was_training)
    return total / Y.shape[0]


def nn_sample(tn, model, n, block_size, seed=2147483647 + 10, itos=None):
    """nn_sample(tn, model, n, block_size, seed=2147483647 + 10, itos=None)

    n names drawn from a model of ``tinynet.nn`` layers as makemore samples: the model
    maps a context of ``block_size`` token ids, (1, block_size), to the next character's
    logits, (1, vocab); start from '.' * block_size, draw the next character from the
    softmax, shift it into the context, stop at '.'.  The model runs in eval mode
    (BatchNorm1d with its running statistics) and its mode is restored afterwards.  The
    draws are inverse-CDF draws from ``np.random.default_rng(seed)`` (one uniform per
    character), as ``makemore_sample``'s, so both engines give the same names.
    Returns a list of str (without the final '.').

    >>> import numpy as np
    >>> import tinynet as tn
    >>> from tinynet import nn, recipes
    >>> model = nn.Sequential([nn.Embedding(27, 4, rng=0), nn.Flatten(), nn.Linear(12, 27, rng=0)])
    >>> model[-1].bias[0] = 3.0                     # '.' more likely: short names
    >>> names = recipes.nn_sample(tn, model, 5, block_size=3, seed=1)
    >>> names == recipes.nn_sample(tn, model, 5, block_size=3, seed=1), len(names)
    (True, 5)
    """
    was_training = model.training
    model.eval()
    try:
        return _sample_names(model, tn, n, block_size, seed, itos)
    finally:
        model.train(was_training)


# -------------------------------------------------- notebook 006: makemore's transformer


class GPT(nn.Module):
    """GPT(vocab_size, block_size, n_layer=4, n_head=4, n_embd=64, *, engine="c", dtype=np.float64, rng=None)

    makemore's ``Transformer`` (karpathy/makemore, ``--type transformer``; GPT-2's
    layout) as tinynet.nn layers: ``wte`` Embedding(vocab_size, n_embd), ``wpe``
    Embedding(block_size, n_embd), ``h`` a ModuleList of n_layer pre-LN blocks
    (``nn.TransformerEncoderLayer(n_embd, n_head, 4 * n_embd, activation="gelu_tanh",
    norm_first=True)`` with the causal mask: x + attn(ln_1(x)), x + mlp(ln_2(x)), the
    mlp Linear, NewGELU, Linear), ``ln_f`` LayerNorm(n_embd) and ``lm_head``
    Linear(n_embd, vocab_size, bias=False).  Initialised as makemore's (PyTorch's
    defaults for every layer: embeddings N(0, 1), Linear weights and biases
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)), LayerNorm 1 and 0), from one generator ``rng``.

    ``forward(idx)``: token ids (B, T), T <= block_size -> logits (B, T, vocab_size);
    ``backward(dlogits)`` stores every gradient and returns None.  State-dict keys:
    ``wte.weight``, ``wpe.weight``, ``h.<i>.<TransformerEncoderLayer key>``,
    ``ln_f.weight``, ``ln_f.bias``, ``lm_head.weight``; ``gpt_makemore_state`` renames
    them to makemore's.

    >>> import numpy as np
    >>> model = GPT(27, 16, n_layer=2, n_head=2, n_embd=8, rng=0)
    >>> logits = model(np.zeros((3, 5), dtype=np.int64))
    >>> logits.shape, model.backward(np.ones_like(logits)), sum(p.size for p in model.parameters())
    ((3, 5, 27), None, 2320)
    """

    def __init__(self, vocab_size, block_size, n_layer=4, n_head=4, n_embd=64, *, engine="c", dtype=np.float64,
                 rng=None):
        super().__init__(engine=engine, dtype=dtype)
        g = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        kw = dict(engine=engine, dtype=dtype, rng=g)
        self.block_size = int(block_size)
        self.wte = nn.Embedding(vocab_size, n_embd, **kw)
        self.wpe = nn.Embedding(block_size, n_embd, **kw)
        self.h = nn.ModuleList([nn.TransformerEncoderLayer(n_embd, n_head, 4 * n_embd, activation="gelu_tanh",
                                                           norm_first=True, batch_first=True, **kw)
                                for _ in range(n_layer)])
        self.ln_f = nn.LayerNorm(n_embd, **kw)
        self.lm_head = nn.Linear(n_embd, vocab_size, bias=False, **kw)
        bound = 1 / n_embd ** 0.5
        for block in self.h:  # makemore's c_attn and c_proj are nn.Linear layers: torch's default init
            attn = block.self_attn
            attn.in_proj_weight[...] = g.uniform(-bound, bound, attn.in_proj_weight.shape)
            attn.in_proj_bias[...] = g.uniform(-bound, bound, attn.in_proj_bias.shape)
            attn.out_proj.bias[...] = g.uniform(-bound, bound, attn.out_proj.bias.shape)

    def extra_repr(self):
        return (f"vocab_size={self.wte.num_embeddings}, block_size={self.block_size}, n_layer={len(self.h)}, "
                f"n_head={self.h[0].nhead if len(self.h) else 0}, n_embd={self.wte.embedding_dim}")

    def forward(self, idx):
        """forward(idx): token ids (B, T), T <= block_size -> logits (B, T, vocab_size)."""
        idx = np.asarray(idx)
        if idx.ndim != 2 or idx.shape[1] > self.block_size:
            raise ValueError(f"GPT.forward: idx has shape {idx.shape}, expected (B, T) with T <= {self.block_size}")
        x = self.wte(idx)
        x += self.wpe(np.arange(idx.shape[1]))  # token + position embeddings
        for block in self.h:
            x = block(x, is_causal=True)
        return self.lm_head(self.ln_f(x))

    def backward(self, dlogits):
        """backward(dlogits): dlogits (B, T, vocab_size) -> None; stores every gradient."""
        d = self.ln_f.backward(self.lm_head.backward(dlogits))
        for block in reversed(self.h.layers):
            d = block.backward(d)
        self.wte.backward(d)
        self.wpe.backward(d.sum(axis=0))  # one position embedding is added to every sequence of the batch
        return None


#: Our GPT's state-dict names -> makemore's Transformer's (the part after "h.<i>.").
_MAKEMORE_BLOCK = {"self_attn.in_proj_weight": "attn.c_attn.weight", "self_attn.in_proj_bias": "attn.c_attn.bias",
                   "self_attn.out_proj.weight": "attn.c_proj.weight", "self_attn.out_proj.bias": "attn.c_proj.bias",
                   "linear1.weight": "mlp.c_fc.weight", "linear1.bias": "mlp.c_fc.bias",
                   "linear2.weight": "mlp.c_proj.weight", "linear2.bias": "mlp.c_proj.bias",
                   "norm1.weight": "ln_1.weight", "norm1.bias": "ln_1.bias",
                   "norm2.weight": "ln_2.weight", "norm2.bias": "ln_2.bias"}


def gpt_makemore_name(key):
    """gpt_makemore_name(key)

    The makemore ``Transformer`` parameter name of a ``GPT`` state-dict key: ``wte``,
    ``wpe``, ``h`` and ``ln_f`` sit under ``transformer.``; in a block, ``self_attn``'s
    ``in_proj`` (q, k, v side by side, as makemore's ``c_attn``) and ``out_proj`` are
    ``attn.c_attn`` and ``attn.c_proj``, ``linear1`` / ``linear2`` are ``mlp.c_fc`` /
    ``mlp.c_proj``, ``norm1`` / ``norm2`` are ``ln_1`` / ``ln_2``.  The layouts are
    the same (PyTorch's), so the arrays need no change.

    >>> gpt_makemore_name("h.3.self_attn.in_proj_weight"), gpt_makemore_name("lm_head.weight")
    ('transformer.h.3.attn.c_attn.weight', 'lm_head.weight')
    """
    if key.startswith("lm_head."):
        return key
    if key.startswith("h."):
        _, i, rest = key.split(".", 2)
        return f"transformer.h.{i}.{_MAKEMORE_BLOCK[rest]}"
    return "transformer." + key


def gpt_makemore_state(model):
    """gpt_makemore_state(model): a GPT's state dict under makemore's names (copies), for
    ``torch_transformer.load_state_dict`` after ``torch.from_numpy``."""
    return {gpt_makemore_name(k): v for k, v in model.state_dict().items()}


def gpt_dataset(words, block_size, stoi=None):
    """gpt_dataset(words, block_size, stoi=None)

    makemore's ``CharDataset`` framing, one row per word: x = [0] + the word's ids,
    then 0s; y = the word's ids + [0] (token 0 is <START> in x and <STOP> in y), then
    -1s, which ``cross_entropy_forward(..., ignore_index=-1)`` leaves out of the loss.
    ``block_size`` is makemore's (the longest word + 1).  Returns (X, Y), int64
    (len(words), block_size).

    >>> X, Y = gpt_dataset(["emma"], 6)
    >>> X.tolist(), Y.tolist()
    ([[0, 5, 13, 13, 1, 0]], [[5, 13, 13, 1, 0, -1]])
    """
    X = np.zeros((len(words), block_size), dtype=np.int64)
    Y = np.full((len(words), block_size), -1, dtype=np.int64)
    for i, w in enumerate(words):
        if len(w) + 1 > block_size:
            raise ValueError(f"gpt_dataset: {w!r} needs a block_size of at least {len(w) + 1}, got {block_size}")
        ix = data.encode(w, stoi)
        X[i, 1:1 + len(ix)] = ix
        Y[i, :len(ix) + 1] = ix + [0]
    return X, Y


def gpt_loss(tn, logits, Y):
    """gpt_loss(tn, logits, Y): makemore's loss, ``F.cross_entropy(logits.view(-1, V),
    targets.view(-1), ignore_index=-1)``, on the engine tn.  Returns (loss, dlogits),
    dlogits shaped like logits (B, T, V)."""
    V = logits.shape[-1]
    flat = Y.reshape(-1)
    loss, probs = tn.cross_entropy_forward(logits.reshape(-1, V), flat, ignore_index=-1)
    return loss, tn.cross_entropy_backward(probs, flat, ignore_index=-1).reshape(logits.shape)


def gpt_split_loss(tn, model, X, Y, chunk=1000):
    """gpt_split_loss(tn, model, X, Y, chunk=1000)

    The mean cross-entropy over every counted target (Y != -1) of a whole split, ``chunk``
    words at a time: each word's characters and its <STOP>, the same per-character mean
    as ``nn_split_loss`` on ``data.build_dataset`` of the same words (notebooks 003-005's
    dev loss).  Returns a float.
    """
    total = 0.0
    for i in range(0, X.shape[0], chunk):
        logits = model(X[i:i + chunk])
        loss, _ = tn.cross_entropy_forward(logits.reshape(-1, logits.shape[-1]), Y[i:i + chunk].reshape(-1),
                                           reduction="sum", ignore_index=-1)
        total += loss
    return total / int(np.count_nonzero(Y != -1))


def gpt_sample(tn, model, n, seed=2147483647 + 10, itos=None):
    """gpt_sample(tn, model, n, seed=2147483647 + 10, itos=None)

    n names generated as makemore's ``print_samples`` does: n rows starting from
    <START> (0), block_size - 1 steps, each feeding the whole sequence so far and
    drawing the next token from the softmax of the last position's logits; every row is
    cut at its first 0 (<STOP>).  The draws are inverse-CDF draws from
    ``np.random.default_rng(seed)`` (one uniform per row and step), so both engines
    give the same names.  Returns a list of str.
    """
    rng = np.random.default_rng(seed)
    idx = np.zeros((n, 1), dtype=np.int64)
    for _ in range(model.block_size - 1):
        cdf = np.cumsum(tn.softmax(model(idx)[:, -1, :]), axis=1)
        u = rng.random(n) * cdf[:, -1]
        nxt = np.minimum((cdf <= u[:, None]).sum(axis=1), cdf.shape[1] - 1)
        idx = np.concatenate([idx, nxt[:, None]], axis=1)
    names = []
    for row in idx[:, 1:].tolist():
        names.append(data.decode(row[:row.index(0)] if 0 in row else row, itos))
    return names


def gpt_torch_loss_and_grads(model, X, Y):
    """gpt_torch_loss_and_grads(model, X, Y)

    The check of a ``GPT`` against PyTorch (which must be installed): makemore's
    Transformer forward pass written out with torch's functions (c_attn split into q, k,
    v, scores scaled by 1/sqrt(head size) and ``masked_fill`` -inf above the diagonal,
    softmax, NewGELU's tanh formula, ``F.layer_norm``), in float64 on the model's
    parameters, then makemore's loss, ``F.cross_entropy(..., ignore_index=-1)``, and
    autograd's backward pass.  X (B, T) token ids, Y (B, T) targets (-1: ignored).
    Returns (loss, {name: gradient}) keyed as ``model.named_parameters()``.
    """
    import torch
    F = torch.nn.functional
    P = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in model.named_parameters()}
    (B, T), C = X.shape, model.wte.embedding_dim
    x = P["wte.weight"][torch.from_numpy(X)] + P["wpe.weight"][:T]
    above = torch.tril(torch.ones(T, T)) == 0
    for i, block in enumerate(model.h):
        p = {k[len(f"h.{i}."):]: v for k, v in P.items() if k.startswith(f"h.{i}.")}
        nh, hs = block.nhead, C // block.nhead
        h = F.layer_norm(x, (C,), p["norm1.weight"], p["norm1.bias"], block.norm1.eps)
        q, k, v = F.linear(h, p["self_attn.in_proj_weight"], p["self_attn.in_proj_bias"]).split(C, dim=2)
        q, k, v = (t.view(B, T, nh, hs).transpose(1, 2) for t in (q, k, v))
        att = F.softmax(((q @ k.transpose(-2, -1)) * (1.0 / hs ** 0.5)).masked_fill(above, float("-inf")), dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        x = x + F.linear(y, p["self_attn.out_proj.weight"], p["self_attn.out_proj.bias"])
        h = F.linear(F.layer_norm(x, (C,), p["norm2.weight"], p["norm2.bias"], block.norm2.eps),
                     p["linear1.weight"], p["linear1.bias"])
        h = 0.5 * h * (1.0 + torch.tanh((2.0 / np.pi) ** 0.5 * (h + 0.044715 * torch.pow(h, 3.0))))  # NewGELU
        x = x + F.linear(h, p["linear2.weight"], p["linear2.bias"])
    x = F.layer_norm(x, (C,), P["ln_f.weight"], P["ln_f.bias"], model.ln_f.eps)
    logits = F.linear(x, P["lm_head.weight"])
    loss = F.cross_entropy(logits.view(-1, logits.size(-1)), torch.from_numpy(Y).view(-1), ignore_index=-1)
    loss.backward()
    return loss.item(), {k: t.grad.numpy() for k, t in P.items()}
