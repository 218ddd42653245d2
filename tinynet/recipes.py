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
  ``nn_sample``.

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
