"""makemore part 5's WaveNet (notebook 005) as tinynet.nn layers, against the same model
written with PyTorch tensors and differentiated by autograd, in float64.

The model: Embedding(27, 24), then three times FlattenConsecutive(2), Linear(., 128,
bias=False), BatchNorm1d(128) over the (B, T) axes with the unbiased batch variance,
Tanh; then Linear(128, 27) -- 76,579 parameters.  tinynet's BatchNorm1d for that is
``BatchNorm1d(128, correction=1, channels_last=True)``; its running variance is the
unbiased one too.  The PyTorch side below is written independently, as plain tensor
operations (the lecture's x @ W with W (in, out), tinynet's W is its transpose).

Also: recipes.nn_split_loss and recipes.nn_sample, the evaluation and sampling helpers
notebook 005 uses, on a small model (no names.txt needed).
"""
import math

import numpy as np
import pytest

import tinynet
from tinynet import nn, optim, recipes

from conftest import assert_close

try:
    import torch
except ImportError:
    torch = None

VOCAB, BLOCK, N_EMBD, N_HIDDEN, BATCH = 27, 8, 24, 128, 32
PARAMS = 76579


def wavenet(engine, seed=42):
    """Notebook 005's model and initialisation: Linear weights N(0, 1/fan_in), biases 0,
    the last layer's weights scaled by 0.1, the embedding N(0, 1)."""
    g = np.random.default_rng(seed)

    def fuse(fan_in):
        return [nn.FlattenConsecutive(2, engine=engine), nn.Linear(fan_in, N_HIDDEN, bias=False, engine=engine, rng=g),
                nn.BatchNorm1d(N_HIDDEN, correction=1, channels_last=True, engine=engine), nn.Tanh(engine=engine)]

    model = nn.Sequential([nn.Embedding(VOCAB, N_EMBD, engine=engine, rng=g), *fuse(2 * N_EMBD),
                           *fuse(2 * N_HIDDEN), *fuse(2 * N_HIDDEN), nn.Linear(N_HIDDEN, VOCAB, engine=engine, rng=g)])
    for layer in model:
        if isinstance(layer, nn.Linear):
            layer.weight[...] = g.standard_normal(layer.weight.shape) / layer.in_features ** 0.5
            if layer.bias is not None:
                layer.bias[...] = 0.0
    model[-1].weight *= 0.1
    return model


def batch(seed=0, n=BATCH):
    rng = np.random.default_rng(seed)
    return rng.integers(0, VOCAB, (n, BLOCK)), rng.integers(0, VOCAB, n)


def torch_step(state, X, Y, lr=0.1, momentum=0.1, eps=1e-5):
    """One training step of the same network in PyTorch (float64, autograd): returns the
    loss, the gradients and the updated running statistics, keyed like the nn model's
    state dict."""
    p = {k: torch.tensor(v, dtype=torch.float64, requires_grad=k.endswith(("weight", "bias")))
         for k, v in state.items() if not k.endswith("num_batches_tracked")}
    x = p["0.weight"][torch.from_numpy(X)]                  # (B, 8, 24)
    running = {}
    for lin, bn in ((2, 3), (6, 7), (10, 11)):
        B, T, C = x.shape
        x = x.reshape(B, T // 2, C * 2)                      # pairs of neighbours
        if x.shape[1] == 1:
            x = x[:, 0]
        h = x @ p[f"{lin}.weight"].T                          # no bias
        dims = tuple(range(h.ndim - 1))                       # (0, 1) for (B, T, C), 0 for (B, C)
        mean = h.mean(dims, keepdim=True)
        var = h.var(dims, keepdim=True, unbiased=True)
        x = torch.tanh(p[f"{bn}.weight"] * (h - mean) / torch.sqrt(var + eps) + p[f"{bn}.bias"])
        with torch.no_grad():
            running[f"{bn}.running_mean"] = (1 - momentum) * p[f"{bn}.running_mean"] + momentum * mean.flatten()
            running[f"{bn}.running_var"] = (1 - momentum) * p[f"{bn}.running_var"] + momentum * var.flatten()
    logits = x @ p["13.weight"].T + p["13.bias"]
    loss = torch.nn.functional.cross_entropy(logits, torch.from_numpy(Y))
    loss.backward()
    grads = {k: t.grad.numpy() for k, t in p.items() if t.requires_grad}
    return loss.item(), grads, {k: v.numpy() for k, v in running.items()}


def test_the_model_has_the_lectures_size_and_init():
    model = wavenet("c")
    assert sum(p.size for p in model.parameters()) == PARAMS
    shapes = {k: v.shape for k, v in model.named_parameters()}
    assert shapes == {"0.weight": (27, 24), "2.weight": (128, 48), "3.weight": (128,), "3.bias": (128,),
                      "6.weight": (128, 256), "7.weight": (128,), "7.bias": (128,), "10.weight": (128, 256),
                      "11.weight": (128,), "11.bias": (128,), "13.weight": (27, 128), "13.bias": (27,)}
    w = dict(model.named_parameters())
    # N(0, 1/fan_in): the standard deviation times sqrt(fan_in) is about 1 (6144+ draws each)
    for key, fan_in in (("2.weight", 48), ("6.weight", 256), ("10.weight", 256)):
        assert abs(w[key].std() * math.sqrt(fan_in) - 1) < 0.05, key
    assert abs(w["13.weight"].std() * math.sqrt(128) - 0.1) < 0.01  # scaled by 0.1
    assert not w["13.bias"].any()
    x = model(batch()[0])
    assert x.shape == (BATCH, VOCAB)


@pytest.mark.parametrize("engine", ["c", "numpy"])
def test_one_step_matches_torch_autograd(engine):
    """Loss, every parameter's gradient and the running statistics after one training
    step: tinynet's backward by hand vs autograd, float64."""
    if torch is None:
        pytest.skip("torch is not installed")
    tn = tinynet.engine(engine)
    model = wavenet(engine)
    state = model.state_dict()
    X, Y = batch()
    loss, probs = tn.cross_entropy_forward(model(X), Y)
    model.backward(tn.cross_entropy_backward(probs, Y))
    loss_t, grads_t, running_t = torch_step(state, X, Y)
    assert_close(loss, loss_t, "loss", scalar_rtol=1e-13)
    grads = dict(model.named_grads())
    assert sorted(grads) == sorted(grads_t)
    for k in grads:
        assert_close(grads[k], grads_t[k], f"d{k}", rtol=1e-10)
    after = model.state_dict()
    for k in running_t:
        assert_close(after[k], running_t[k], k, rtol=1e-12)
    # measured: the largest gradient difference is ~9e-17 (a few ulps of the gradients)
    assert max(float(np.max(np.abs(grads[k] - grads_t[k]))) for k in grads) < 1e-14


def test_engines_agree_over_training_steps():
    """A few SGD steps (optim.SGD, the notebook's update) on each engine from the same
    start: the same losses and weights to 1e-12, and the same eval-mode logits."""
    models = {e: wavenet(e) for e in ("c", "numpy")}
    opts = {e: optim.SGD(m, lr=0.1, engine=e) for e, m in models.items()}
    for step in range(5):
        X, Y = batch(step)
        losses = {}
        for e, m in models.items():
            tn = tinynet.engine(e)
            losses[e], probs = tn.cross_entropy_forward(m(X), Y)
            m.backward(tn.cross_entropy_backward(probs, Y))
            opts[e].step()
        assert_close(losses["c"], losses["numpy"], f"loss at step {step}", scalar_rtol=1e-12)
    assert_close(models["c"].state_dict(), models["numpy"].state_dict(), "state", rtol=1e-12)
    X, _ = batch(99, n=5)
    for m in models.values():
        m.eval()
    assert_close(models["c"](X), models["numpy"](X), "eval logits", rtol=1e-12)


# ---------------------------------------------------------------- recipes.nn_*


def small_model(engine="c"):
    """Embedding -> Flatten -> Linear -> BatchNorm1d -> Tanh -> Linear on contexts of 3."""
    return nn.Sequential([nn.Embedding(VOCAB, 4, engine=engine, rng=0), nn.Flatten(engine=engine),
                          nn.Linear(12, 16, engine=engine, rng=1), nn.BatchNorm1d(16, engine=engine),
                          nn.Tanh(engine=engine), nn.Linear(16, VOCAB, engine=engine, rng=2)])


def trained_small_model(engine="c"):
    model = small_model(engine)
    tn = tinynet.engine(engine)
    opt = optim.SGD(model, lr=0.5, engine=engine)
    rng = np.random.default_rng(3)
    for _ in range(20):  # a few steps, so that the running statistics are not the initial 0 and 1
        X, Y = rng.integers(0, VOCAB, (32, 3)), rng.integers(0, VOCAB, 32)
        _, probs = tn.cross_entropy_forward(model(X), Y)
        model.backward(tn.cross_entropy_backward(probs, Y))
        opt.step()
    return model


@pytest.mark.parametrize("engine", ["c", "numpy"])
def test_nn_split_loss_is_the_eval_mode_mean_loss(engine):
    tn = tinynet.engine(engine)
    model = trained_small_model(engine)
    state = model.state_dict()
    rng = np.random.default_rng(4)
    X, Y = rng.integers(0, VOCAB, (1001, 3)), rng.integers(0, VOCAB, 1001)
    model.eval()
    expected, _ = tn.cross_entropy_forward(model(X), Y)  # the whole split at once
    model.train()
    for chunk in (1001, 10_000, 100, 7, 1):
        loss = recipes.nn_split_loss(tn, model, X, Y, chunk=chunk)
        assert_close(loss, expected, f"chunk {chunk}", scalar_rtol=1e-13)
    assert model.training and all(layer.training for layer in model)  # the mode is restored
    assert_close(model.state_dict(), state, "state")  # the running statistics are untouched
    model.eval()
    recipes.nn_split_loss(tn, model, X, Y)
    assert not model.training
    # in training mode the batch statistics would give another number: eval mode is used
    model.train()
    train_mode, _ = tn.cross_entropy_forward(model(X), Y)
    assert abs(train_mode - expected) > 1e-3
    with pytest.raises(ValueError, match="chunk"):
        recipes.nn_split_loss(tn, model, X, Y, chunk=0)
    with pytest.raises(ValueError, match="same"):
        recipes.nn_split_loss(tn, model, X, Y[:-1])


@pytest.mark.parametrize("engine", ["c", "numpy"])
def test_nn_sample_is_makemore_sample(engine):
    """The same model as makemore's parameter dict (notebook 003's recipes) and as nn
    layers: the same names from the same seed; the model's mode is restored."""
    tn = tinynet.engine(engine)
    model = trained_small_model(engine)
    P = dict(C=model[0].weight, W1=model[2].weight, b1=model[2].bias, bngain=model[3].weight,
             bnbias=model[3].bias, W2=model[5].weight, b2=model[5].bias)
    bnmean, bnvar = model[3].running_mean.copy(), model[3].running_var.copy()
    names = recipes.nn_sample(tn, model, 30, 3)
    assert names == recipes.makemore_sample(tn, P, bnmean, bnvar, 30, 3)
    assert len(names) == 30 and all(isinstance(n, str) for n in names)
    assert len(set(names)) > 20  # a seeded stream, not one name over and over
    assert model.training
    np.testing.assert_array_equal(model[3].running_mean, bnmean)  # eval mode: no update
    assert names != recipes.nn_sample(tn, model, 30, 3, seed=1)
    X = np.array([[0, 0, 0]])
    assert_close(recipes.makemore_logits(tn, P, X, bnmean, bnvar), model.eval()(X), "logits", rtol=1e-13)
