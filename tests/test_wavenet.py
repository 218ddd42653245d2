"""makemore part 5's WaveNet on tinynet.nn, against the lecture's own model in PyTorch.

The model (Embedding(27, 24), then three blocks of FlattenConsecutive(2), Linear(., 128,
bias=False), BatchNorm1d(128) over (B, T) with the unbiased variance, Tanh, and
Linear(128, 27)) built with tinynet.nn, and the same model written with the lecture's
classes in torch (autograd; its BatchNorm1d takes the mean and var over (0, 1), var
unbiased; its FlattenConsecutive squeezes the middle axis of 1), with the same weights,
in float64, on a batch (32, 8) of token ids:

* the parameter count, 76,579 as in the lecture;
* the loss and every gradient within 1e-10, the running statistics after the step, and
  the logits in eval mode;
* one SGD step of both (tinynet.optim.SGD, the lecture's p.data += -lr * p.grad), and the
  parameters after it; a few steps of training give the same losses;
* the C and NumPy engines agree through the model (the C engine running each hidden block
  as one fused call);
* tinynet.save / tinynet.load round trip the model bit for bit;
* recipes.nn_split_loss and recipes.nn_sample, the evaluation and sampling helpers
  notebook 005 uses, on a small model.

The torch tests skip without torch.
"""
import numpy as np
import pytest

import tinynet
from tinynet import nn, optim, recipes

from conftest import ENGINES, assert_close

VOCAB, BLOCK, N_EMBD, N_HIDDEN, BATCH = 27, 8, 24, 128, 32
TOL = 1e-10


def wavenet(engine="c", dtype=np.float64, rng=0):
    """The lecture's WaveNet in tinynet.nn (its last layer's weight scaled by 0.1, as the
    lecture does)."""
    g = np.random.default_rng(rng)
    layers = [nn.Embedding(VOCAB, N_EMBD, engine=engine, dtype=dtype, rng=g)]
    fan_in = N_EMBD
    for _ in range(3):
        layers += [nn.FlattenConsecutive(2, engine=engine),
                   nn.Linear(fan_in * 2, N_HIDDEN, bias=False, engine=engine, dtype=dtype, init="kaiming_normal",
                             rng=g),
                   nn.BatchNorm1d(N_HIDDEN, correction=1, channels_last=True, engine=engine, dtype=dtype),
                   nn.Tanh(engine=engine)]
        fan_in = N_HIDDEN
    layers.append(nn.Linear(N_HIDDEN, VOCAB, engine=engine, dtype=dtype, rng=g))
    model = nn.Sequential(layers)
    model.layers[-1].weight *= 0.1
    # gamma and beta away from 1 and 0, so that their gradients and roles are seen
    for layer in model.layers:
        if isinstance(layer, nn.BatchNorm1d):
            layer.weight[...] = 1 + 0.1 * g.standard_normal(N_HIDDEN)
            layer.bias[...] = 0.1 * g.standard_normal(N_HIDDEN)
    return model


def batch(seed=1):
    rng = np.random.default_rng(seed)
    return rng.integers(0, VOCAB, size=(BATCH, BLOCK)), rng.integers(0, VOCAB, size=BATCH)


def loss_and_backward(model, X, Y):
    tn = model.layers[0].tn
    loss, probs = tn.cross_entropy_forward(model(X), Y)
    assert model.backward(tn.cross_entropy_backward(probs, Y)) is None  # token ids: no input gradient
    return loss


def test_parameter_count():
    assert sum(p.size for p in wavenet().parameters()) == 76_579


# ----------------------------------------------------------- the lecture's model in torch


def lecture_classes(torch):
    """makemore part 5's layers, as written in the lecture (float64 here)."""

    class Linear:
        def __init__(self, weight, bias):
            self.weight, self.bias = weight, bias  # weight (fan_in, fan_out), as the lecture's

        def __call__(self, x):
            self.out = x @ self.weight
            if self.bias is not None:
                self.out += self.bias
            return self.out

        def parameters(self):
            return [self.weight] + ([] if self.bias is None else [self.bias])

    class BatchNorm1d:
        def __init__(self, gamma, beta, eps=1e-5, momentum=0.1):
            self.eps, self.momentum, self.training = eps, momentum, True
            self.gamma, self.beta = gamma, beta
            self.running_mean = torch.zeros(gamma.shape[0], dtype=torch.float64)
            self.running_var = torch.ones(gamma.shape[0], dtype=torch.float64)

        def __call__(self, x):
            if self.training:
                dim = 0 if x.ndim == 2 else (0, 1)
                xmean = x.mean(dim, keepdim=True)  # batch mean
                xvar = x.var(dim, keepdim=True)  # batch variance (unbiased)
            else:
                xmean, xvar = self.running_mean, self.running_var
            xhat = (x - xmean) / torch.sqrt(xvar + self.eps)
            self.out = self.gamma * xhat + self.beta
            if self.training:
                with torch.no_grad():
                    self.running_mean = (1 - self.momentum) * self.running_mean + self.momentum * xmean
                    self.running_var = (1 - self.momentum) * self.running_var + self.momentum * xvar
            return self.out

        def parameters(self):
            return [self.gamma, self.beta]

    class Tanh:
        def __call__(self, x):
            self.out = torch.tanh(x)
            return self.out

        def parameters(self):
            return []

    class Embedding:
        def __init__(self, weight):
            self.weight = weight

        def __call__(self, IX):
            self.out = self.weight[IX]
            return self.out

        def parameters(self):
            return [self.weight]

    class FlattenConsecutive:
        def __init__(self, n):
            self.n = n

        def __call__(self, x):
            B, T, C = x.shape
            x = x.view(B, T // self.n, C * self.n)
            if x.shape[1] == 1:
                x = x.squeeze(1)
            self.out = x
            return self.out

        def parameters(self):
            return []

    return Linear, BatchNorm1d, Tanh, Embedding, FlattenConsecutive


def torch_twin(torch, model):
    """The lecture's model with `model`'s weights; returns (layers, parameters in
    model.parameters() order)."""
    Linear, BatchNorm1d, Tanh, Embedding, FlattenConsecutive = lecture_classes(torch)
    leaf = lambda a: torch.tensor(np.array(a), dtype=torch.float64, requires_grad=True)  # noqa: E731
    layers = []
    for layer in model.layers:
        if isinstance(layer, nn.Embedding):
            layers.append(Embedding(leaf(layer.weight)))
        elif isinstance(layer, nn.FlattenConsecutive):
            layers.append(FlattenConsecutive(layer.n))
        elif isinstance(layer, nn.Linear):  # (the lecture keeps W as (fan_in, fan_out))
            layers.append(Linear(leaf(layer.weight.T), None if layer.bias is None else leaf(layer.bias)))
        elif isinstance(layer, nn.BatchNorm1d):
            layers.append(BatchNorm1d(leaf(layer.weight), leaf(layer.bias)))
        else:
            layers.append(Tanh())
    return layers, [p for layer in layers for p in layer.parameters()]


def torch_forward(torch, layers, X, Y=None):
    x = torch.from_numpy(X)
    for layer in layers:
        x = layer(x)
    return x if Y is None else torch.nn.functional.cross_entropy(x, torch.from_numpy(Y))


def as_ours(model, theirs):
    """torch tensors (in the lecture's layout) as arrays in model.parameters() layout."""
    out = []
    for (name, p), t in zip(model.named_parameters(), theirs):
        a = t.detach().numpy()
        out.append(a.T if p.ndim == 2 and name.endswith("weight") and a.shape != p.shape else a)
    return out


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


@pytest.mark.parametrize("engine", list(ENGINES))
@pytest.mark.parametrize("shape", [(32, 4, 16), (32, 16)], ids=["(B, T, C)", "(N, C)"])
def test_batchnorm_is_the_lectures(torch, engine, shape):
    """nn.BatchNorm1d(C, correction=1, channels_last=True) is the lecture's BatchNorm1d:
    over (B, T, C) (statistics over (0, 1), the unbiased variance) and (N, C): outputs, dx,
    the gradients of gamma and beta, and the running statistics (momentum 0.1, from the
    unbiased variance) through several steps; then eval mode's outputs."""
    _, BatchNorm1d, _, _, _ = lecture_classes(torch)
    rng = np.random.default_rng(2)
    C = shape[-1]
    ours = nn.BatchNorm1d(C, correction=1, channels_last=True, engine=engine)
    ours.weight[...], ours.bias[...] = 1 + rng.standard_normal(C) / 4, rng.standard_normal(C) / 4
    theirs = BatchNorm1d(*(torch.tensor(a.copy(), requires_grad=True) for a in (ours.weight, ours.bias)))
    for step in range(4):
        x, dy = rng.standard_normal(shape) * 2 + 1, rng.standard_normal(shape)
        xt = torch.tensor(x, requires_grad=True)
        theirs.gamma.grad = theirs.beta.grad = None
        yt = theirs(xt)
        yt.backward(torch.from_numpy(dy))
        assert_close(ours(x), yt.detach().numpy(), f"y {step}", rtol=TOL)
        assert_close(ours.backward(dy), xt.grad.numpy(), f"dx {step}", rtol=TOL)
        assert_close(ours.grads(), [theirs.gamma.grad.numpy(), theirs.beta.grad.numpy()], f"grads {step}", rtol=TOL)
        assert_close(ours.running_mean, theirs.running_mean.reshape(-1).numpy(), f"running_mean {step}", rtol=TOL)
        assert_close(ours.running_var, theirs.running_var.reshape(-1).numpy(), f"running_var {step}", rtol=TOL)
    ours.eval()
    theirs.training = False
    x = rng.standard_normal(shape)
    with torch.no_grad():
        assert_close(ours(x), theirs(torch.from_numpy(x)).numpy(), "eval y", rtol=TOL)


@pytest.mark.parametrize("engine", list(ENGINES))
def test_loss_and_every_gradient_match_torch(torch, engine):
    model = wavenet(engine)
    layers, params = torch_twin(torch, model)
    X, Y = batch()
    loss = loss_and_backward(model, X, Y)
    theirs = torch_forward(torch, layers, X, Y)
    theirs.backward()
    assert_close(loss, theirs.item(), "loss", rtol=TOL)
    names = [n for n, _ in model.named_parameters()]
    assert len(names) == len(params) == 12  # the embedding, 3 x (W, gamma, beta), the last W and b
    for name, got, want in zip(names, model.grads(), as_ours(model, [p.grad for p in params])):
        assert_close(got, want, f"d{name}", rtol=TOL)
    # the running statistics after one training step; eval mode then uses them
    bns = [(ours, t) for ours, t in zip(model.layers, layers) if isinstance(ours, nn.BatchNorm1d)]
    for i, (ours, t) in enumerate(bns):
        assert_close(ours.running_mean, t.running_mean.reshape(-1).numpy(), f"running_mean {i}", rtol=TOL)
        assert_close(ours.running_var, t.running_var.reshape(-1).numpy(), f"running_var {i}", rtol=TOL)
        assert ours.num_batches_tracked == 1
        t.training = False
    model.eval()
    with torch.no_grad():
        assert_close(model(X), torch_forward(torch, layers, X).numpy(), "eval logits", rtol=TOL)


@pytest.mark.parametrize("engine", list(ENGINES))
def test_sgd_steps_match_torch(torch, engine):
    """One step of tinynet.optim.SGD and the lecture's update, the parameters after it;
    then two more steps give the same losses."""
    model = wavenet(engine, rng=3)
    layers, params = torch_twin(torch, model)
    opt = optim.SGD(model, lr=0.1)
    for step in range(3):
        X, Y = batch(10 + step)
        loss = loss_and_backward(model, X, Y)
        theirs = torch_forward(torch, layers, X, Y)
        for p in params:
            p.grad = None
        theirs.backward()
        assert_close(loss, theirs.item(), f"loss at step {step}", rtol=TOL)
        opt.step()
        with torch.no_grad():
            for p in params:
                p.data += -0.1 * p.grad
        names = [n for n, _ in model.named_parameters()]
        for name, got, want in zip(names, model.parameters(), as_ours(model, params)):
            assert_close(got, want, f"{name} after step {step}", rtol=TOL)


# --------------------------------------------------------------- engines, saving


def test_engines_agree():
    """The C engine (each hidden block fused into one call) and the NumPy engine (the layers
    one by one), through a few SGD steps and in eval mode."""
    models = {name: wavenet(name, rng=4) for name in ENGINES}
    opts = {name: optim.SGD(m, lr=0.1, momentum=0.9) for name, m in models.items()}
    for step in range(3):
        X, Y = batch(20 + step)
        losses = {name: loss_and_backward(m, X, Y) for name, m in models.items()}
        assert_close(losses["c"], losses["numpy"], f"loss {step}", rtol=TOL)
        assert_close(models["c"].grads(), models["numpy"].grads(), f"grads {step}", rtol=1e-9)
        for opt in opts.values():
            opt.step()
    assert models["c"]._fused == [2, 6, 10] and models["numpy"]._fused == [2, 6, 10]
    X, _ = batch(30)
    assert_close(models["c"].eval()(X), models["numpy"].eval()(X), "eval logits", rtol=1e-9)
    assert models["c"]._fused == []


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_save_and_load(tmp_path, dtype):
    model = wavenet(dtype=dtype, rng=5)
    opt = optim.AdamW(model, lr=1e-3)
    for step in range(2):
        loss_and_backward(model, *batch(40 + step))
        opt.step()
    path = tmp_path / "wavenet.npz"
    tinynet.save(path, model)
    back = tinynet.load(path)
    assert [type(a) for a in back.layers] == [type(b) for b in model.layers]
    assert [repr(a) for a in back.layers] == [repr(b) for b in model.layers]
    for (k, a), (k2, b) in zip(back.state_dict().items(), model.state_dict().items()):
        assert k == k2 and a.dtype == b.dtype and np.array_equal(a, b), k
    X, _ = batch(50)
    assert np.array_equal(back.eval()(X), model.eval()(X))
    assert np.array_equal(back.train()(X), model.train()(X))


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
