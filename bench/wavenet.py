"""The WaveNet case: makemore part 5's model (karpathy/nn-zero-to-hero,
makemore_part5_cnn1.ipynb) trained one step at a time, as the lecture trains it.

Embedding(27, 24); three times FlattenConsecutive(2), Linear(., 128, bias=False),
BatchNorm1d(128) over (B, T) with the unbiased variance and running statistics, Tanh;
Linear(128, 27); mean cross-entropy; SGD at lr 0.1; batches of 32 contexts of 8
characters.  The engines, all from the same initial weights (the lecture's init) and on
the same batches:

* tinynet: the model as tinynet.nn layers and an optim.SGD (cases.nn_step), the C engine;
* the NumPy engine: the same model and optimizer with engine="numpy";
* vectorised NumPy: bench/vectorised.py's make_wavenet;
* PyTorch eager: the lecture's own layer classes (below), torch.optim.SGD,
  zero_grad(set_to_none=True), loss.backward().

The guard compares the loss, every gradient, every updated parameter and the running
statistics, in tinynet's layout, under vectorised.WAVENET_KEYS / WAVENET_BUFFERS names.
"""
import numpy as np

import cases as C
import tinynet
import vectorised
from cases import Case, Engine

WAVENET = dict(vocab=27, n_embd=24, hidden=128, block=8, batch=32, lr=0.1, pool=64)
#: The tinynet.nn state-dict key of each parameter and running statistic.
NN_KEYS = dict(zip(vectorised.WAVENET_KEYS + vectorised.WAVENET_BUFFERS, (
    "0.weight", "2.weight", "3.weight", "3.bias", "6.weight", "7.weight", "7.bias", "10.weight", "11.weight",
    "11.bias", "13.weight", "13.bias", "3.running_mean", "3.running_var", "7.running_mean", "7.running_var",
    "11.running_mean", "11.running_var")))


def wavenet_params(rng, dtype=np.float32):
    """The lecture's init, in tinynet's (out, in) layout: Embedding N(0, 1); Linear
    weights N(0, 1 / fan_in), the last one's scaled by 0.1, its bias 0; BatchNorm gamma
    1, beta 0, running mean 0 and variance 1."""
    V, E, H = WAVENET["vocab"], WAVENET["n_embd"], WAVENET["hidden"]
    p = {"C": rng.standard_normal((V, E))}
    for i, fan_in in ((1, 2 * E), (2, 2 * H), (3, 2 * H)):
        p[f"W{i}"] = rng.standard_normal((H, fan_in)) / fan_in**0.5
        p[f"gamma{i}"], p[f"beta{i}"] = np.ones(H), np.zeros(H)
        p[f"running_mean{i}"], p[f"running_var{i}"] = np.zeros(H), np.ones(H)
    p["W4"] = rng.standard_normal((V, H)) / H**0.5 * 0.1
    p["b4"] = np.zeros(V)
    return {k: v.astype(dtype) for k, v in p.items()}


def wavenet_setup():
    """(pool, source): a pool of batches of block-8 contexts, drawn once, as
    cases.makemore_setup draws makemore's."""
    rng = np.random.default_rng(8)
    X, Y, source = C.makemore_data(rng, block=WAVENET["block"])
    pool = C.makemore_batches(X, Y, rng, WAVENET["batch"], WAVENET["pool"])
    return pool, f"contexts of {WAVENET['block']} characters; {source}"


def wavenet_model(params, engine="c"):
    """The WaveNet as tinynet.nn layers holding `params` (Sequential runs each Linear ->
    BatchNorm1d -> Tanh as one fused call)."""
    nn = C.nn
    V, E, H = WAVENET["vocab"], WAVENET["n_embd"], WAVENET["hidden"]
    kw = dict(engine=engine, dtype=params["C"].dtype, rng=0)
    layers = [nn.Embedding(V, E, **kw)]
    for fan_in in (2 * E, 2 * H, 2 * H):
        layers += [nn.FlattenConsecutive(2, engine=engine), nn.Linear(fan_in, H, bias=False, **kw),
                   nn.BatchNorm1d(H, correction=1, channels_last=True, **kw), nn.Tanh(engine=engine)]
    model = nn.Sequential(layers + [nn.Linear(H, V, **kw)])
    return C.load_params(model, {NN_KEYS[k]: v for k, v in params.items()})


def wavenet_canon(live):
    """The guard's view of a step's (loss, grads): live() returns the updated parameters
    and running statistics, all in tinynet's layout and in the order of WAVENET_KEYS
    and WAVENET_BUFFERS."""

    def canon(res):
        loss, grads = res
        params, buffers = live()
        out = {"loss": np.array(loss)}
        out.update({"d" + k: g for k, g in zip(vectorised.WAVENET_KEYS, grads)})
        out.update(zip(vectorised.WAVENET_KEYS, params))
        out.update((k, np.reshape(b, -1)) for k, b in zip(vectorised.WAVENET_BUFFERS, buffers))
        return out

    return canon


def wavenet_nn(E, params, pool, lr, engine):
    """tinynet.nn layers and optim.SGD on `engine` ("c" or "numpy", whose module is E),
    through cases.nn_step, the makemore nn step's."""
    model = wavenet_model(params, engine)
    norms = [layer for layer in model if isinstance(layer, C.nn.BatchNorm1d)]
    live = lambda: (model.parameters(), [b for bn in norms for b in (bn.running_mean, bn.running_var)])
    canon = wavenet_canon(live)
    return C.nn_step(E, model, C.cycle(pool), lr), lambda loss: canon((loss, model.grads()))


def wavenet_vectorised(params, pool, lr):
    step, state, buffers = vectorised.make_wavenet(params, C.cycle(pool), lr)
    return step, wavenet_canon(lambda: (state, buffers))


# --------------------------------------------- PyTorch eager: the lecture's layer classes
# Written as makemore part 5 writes them: weights stored (fan_in, fan_out) and used as
# x @ weight, BatchNorm1d's statistics over dim 0 (2-D input) or (0, 1) (3-D) with
# x.var's default unbiased variance and its running statistics rebound under no_grad,
# FlattenConsecutive by .view and .squeeze(1), the embedding by indexing.  (The lecture's
# parameter-free layers each return [] from parameters(); here they inherit it.)


class NoParameters:
    def parameters(self):
        return []


class Linear:
    def __init__(self, weight, bias=None):
        self.weight, self.bias = weight, bias        # (fan_in, fan_out), (fan_out,) or None

    def __call__(self, x):
        self.out = x @ self.weight
        if self.bias is not None:
            self.out += self.bias
        return self.out

    def parameters(self):
        return [self.weight] + ([] if self.bias is None else [self.bias])


class BatchNorm1d:
    def __init__(self, gamma, beta, running_mean, running_var, eps=1e-5, momentum=0.1):
        self.eps, self.momentum, self.training = eps, momentum, True
        self.gamma, self.beta = gamma, beta
        self.running_mean, self.running_var = running_mean, running_var

    def __call__(self, x):
        if self.training:
            dim = 0 if x.ndim == 2 else (0, 1)
            xmean = x.mean(dim, keepdim=True)
            xvar = x.var(dim, keepdim=True)              # unbiased, as the lecture
        else:
            xmean, xvar = self.running_mean, self.running_var
        xhat = (x - xmean) / C.torch.sqrt(xvar + self.eps)
        self.out = self.gamma * xhat + self.beta
        if self.training:
            with C.torch.no_grad():
                self.running_mean = (1 - self.momentum) * self.running_mean + self.momentum * xmean
                self.running_var = (1 - self.momentum) * self.running_var + self.momentum * xvar
        return self.out

    def parameters(self):
        return [self.gamma, self.beta]


class Tanh(NoParameters):
    def __call__(self, x):
        self.out = C.torch.tanh(x)
        return self.out


class Embedding:
    def __init__(self, weight):
        self.weight = weight

    def __call__(self, IX):
        self.out = self.weight[IX]
        return self.out

    def parameters(self):
        return [self.weight]


class FlattenConsecutive(NoParameters):
    def __init__(self, n):
        self.n = n

    def __call__(self, x):
        B, T, Ch = x.shape
        x = x.view(B, T // self.n, Ch * self.n)
        if x.shape[1] == 1:
            x = x.squeeze(1)
        self.out = x
        return self.out


class Sequential:
    def __init__(self, layers):
        self.layers = layers

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        self.out = x
        return self.out

    def parameters(self):
        return [p for layer in self.layers for p in layer.parameters()]


def lecture_model(params):
    """The lecture's model holding `params` (Linear weights transposed to its (fan_in,
    fan_out) layout)."""
    t = lambda k: C._t(np.ascontiguousarray(params[k].T) if k.startswith("W") else params[k])
    layers = [Embedding(t("C"))]
    for i in (1, 2, 3):
        layers += [FlattenConsecutive(2), Linear(t(f"W{i}")),
                   BatchNorm1d(t(f"gamma{i}"), t(f"beta{i}"), t(f"running_mean{i}"), t(f"running_var{i}")), Tanh()]
    return Sequential(layers + [Linear(t("W4"), t("b4"))])


def wavenet_torch(params, pool, lr):
    """The lecture's training step with torch.optim.SGD: forward, F.cross_entropy,
    zero_grad(set_to_none=True), loss.backward(), step()."""
    torch, F = C.torch, C.F
    model = lecture_model(params)
    parameters = model.parameters()
    for p in parameters:
        p.requires_grad = True
    opt = torch.optim.SGD(parameters, lr=lr)
    batches = C.cycle([(torch.from_numpy(Xb), torch.from_numpy(Yb)) for Xb, Yb in pool])

    def step():
        Xb, Yb = next(batches)
        logits = model(Xb)
        loss = F.cross_entropy(logits, Yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss

    layout = lambda k, a: C._np(a).T.copy() if k.startswith("W") else C._np(a)
    norms = [layer for layer in model.layers if isinstance(layer, BatchNorm1d)]

    def canon(loss):
        keys = vectorised.WAVENET_KEYS
        live = lambda: ([layout(k, p) for k, p in zip(keys, parameters)],
                        [C._np(b) for bn in norms for b in (bn.running_mean, bn.running_var)])
        return wavenet_canon(live)((C._np(loss), [layout(k, p.grad) for k, p in zip(keys, parameters)]))

    return step, canon


# ------------------------------------------------------------------------------- the case


def wavenet_flops():
    """GEMM flops of a step: each layer's forward product, and its dx and dW (the first
    layer's dx feeds the embedding's gradient)."""
    w = WAVENET
    rows, macs, fan_in = w["batch"] * w["block"], 0, w["n_embd"]
    for _ in range(3):
        rows //= 2
        macs += rows * 2 * fan_in * w["hidden"]
        fan_in = w["hidden"]
    macs += w["batch"] * w["hidden"] * w["vocab"]
    return 3 * 2 * macs


def wavenet_cases(have_torch, pool):
    """The WaveNet step (float32), when this tinynet has nn, optim and FlattenConsecutive."""
    if not C.NN_OPTIM:
        return []
    lr = WAVENET["lr"]
    params = wavenet_params(np.random.default_rng(24))
    engines = [Engine(C.TN, lambda: wavenet_nn(tinynet, params, pool, lr, "c")),
               Engine(C.REF, lambda: wavenet_nn(C.ref, params, pool, lr, "numpy")),
               Engine(C.VEC, lambda: wavenet_vectorised(params, pool, lr))]
    if have_torch:
        engines.append(Engine(C.TORCH, lambda: wavenet_torch(params, pool, lr)))

    def oracle():
        step, canon = wavenet_nn(C.ref, params, pool, lr, "numpy")
        return canon(step())

    w = WAVENET
    label = (f"WaveNet step, nn + optim (makemore part 5: block {w['block']}, n_embd {w['n_embd']}, "
             f"hidden {w['hidden']}, batch {w['batch']}, float32)")
    return [Case("wavenet-float32", "wavenet", label, np.float32, wavenet_flops(), engines, oracle)]
