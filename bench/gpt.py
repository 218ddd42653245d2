"""The GPT case: makemore's transformer (karpathy/makemore, makemore.py: 4 layers, 4 heads,
n_embd 64, block 16, vocab 27) trained one step at a time as makemore trains it: batches
of 32 names from its CharDataset, cross-entropy with ignore_index=-1, AdamW at lr 5e-4,
betas (0.9, 0.99), weight decay 0.01.  The engines, all from the same initial weights
(makemore's: torch's default init under torch.manual_seed) and on the same batches:

* tinynet: the model written with tinynet.nn layers (tinynet.recipes.GPT, notebook 006's:
  Embedding wte/wpe, 4 TransformerEncoderLayer(64, 4, 256, activation="gelu_tanh",
  norm_first=True, batch_first=True) with the causal mask, LayerNorm, Linear(64, 27,
  bias=False)), tinynet's cross-entropy, optim.AdamW;
* the NumPy engine: the same model and optimizer with engine="numpy";
* PyTorch eager: makemore's own classes (below), torch.optim.AdamW, makemore's loop
  (zero_grad(set_to_none=True), loss.backward(), step());
* PyTorch compile: the same model through torch.compile (recorded as skipped, with the
  reason, where it does not work or with --no-compile).

Before the guard, `check_same_model` asserts that the tinynet model and makemore's compute
the same loss and gradients in float64 from the same state dict, so the float32 guard
and the timings compare like with like.  The guard compares the loss, every gradient and
every parameter after one AdamW step (where its gradient is not within rounding of
zero: cases.compare's masked_by), under tinynet's state-dict keys.
"""
import math

import numpy as np

import cases as C
import tinynet
from cases import Case, Engine, Skipped

GPT = dict(vocab=27, block=16, n_layer=4, n_head=4, n_embd=64, batch=32, pool=64,
           lr=5e-4, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.01)


def makemore_key(key):
    """makemore's state-dict key of a tinynet GPT key ("h.0.linear1.weight" ->
    "transformer.h.0.mlp.c_fc.weight"): tinynet.recipes.gpt_makemore_name."""
    from tinynet import recipes  # (at call time: older checkouts, which the suite also runs, have none)

    return recipes.gpt_makemore_name(key)


# ------------------------------------------------------------------ data: CharDataset


def gpt_words(rng):
    """(training words, source): makemore's split of names.txt (the last 1000 words of
    a random permutation are its test set), or random lowercase words when
    tinynet.data.load_names() finds none."""
    try:
        words = tinynet.data.load_names()
    except (OSError, ValueError) as exc:
        print(f"[bench] the GPT trains on random words: tinynet.data.load_names() failed: {exc}", file=C.sys.stderr)
        letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
        words = ["".join(rng.choice(letters, size=n)) for n in rng.integers(2, GPT["block"], size=32033)]
        return words, "random words (tinynet.data.load_names() found no names.txt)"
    words = [words[i] for i in rng.permutation(len(words))]
    test = min(1000, len(words) // 10)
    return words[:-test], f"names.txt, makemore's training split: {len(words) - test:,} words"


def gpt_setup():
    """(pool, source): a pool of batches of 32 names, drawn once."""
    rng = np.random.default_rng(16)
    words, source = gpt_words(rng)
    from tinynet import recipes

    X, Y = recipes.gpt_dataset(words, GPT["block"])  # makemore's CharDataset rows
    pool = C.makemore_batches(X, Y, rng, GPT["batch"], GPT["pool"])
    return pool, f"block {GPT['block']}; {source}"


# ------------------------------------------------------------- the model in tinynet.nn


def new_gpt(engine="c", dtype=np.float32):
    """tinynet.recipes.GPT in the bench's configuration (its own initialisation, rng 0)."""
    from tinynet import recipes

    g = GPT
    return recipes.GPT(g["vocab"], g["block"], g["n_layer"], g["n_head"], g["n_embd"], engine=engine, dtype=dtype,
                       rng=0)


def tiny_gpt(params, engine="c"):
    """The GPT holding `params` ({tinynet state-dict key: array}), in their dtype."""
    return C.load_params(new_gpt(engine, next(iter(params.values())).dtype), params)


def gpt_canon(names, live):
    """The guard's view of a step: live() -> (loss, {key: gradient}, {key: parameter})
    under tinynet's keys."""

    def canon(_):
        loss, grads, params = live()
        out = {"loss": np.array(loss, dtype=np.float64)}
        out.update({"d" + k: grads[k] for k in names})
        out.update({k: params[k] for k in names})
        return out

    return canon


def gpt_nn(E, params, pool, engine):
    """tinynet.nn + optim.AdamW on `engine` ("c" or "numpy", whose module is E): the
    model's forward, E's cross-entropy (ignore_index=-1) forward and backward, the
    model's backward, one AdamW step."""
    g = GPT
    model = tiny_gpt(params, engine)
    opt = C.optim.AdamW(model, lr=g["lr"], betas=g["betas"], eps=g["eps"], weight_decay=g["weight_decay"])
    ce_forward, ce_backward = E.cross_entropy_forward, E.cross_entropy_backward
    batches, last = C.cycle(pool), [None]

    def step():
        Xb, Yb = next(batches)
        logits = model(Xb)
        loss, probs = ce_forward(logits.reshape(-1, logits.shape[-1]), Yb.reshape(-1), ignore_index=-1)
        model.backward(ce_backward(probs, Yb.reshape(-1), ignore_index=-1).reshape(logits.shape))
        opt.step()
        last[0] = loss
        return loss

    live = lambda: (last[0], dict(model.named_grads()), dict(model.named_parameters()))
    return step, gpt_canon(list(params), live)


# ---------------------------------------------------------- PyTorch: makemore's classes


def makemore_classes():
    """makemore.py's NewGELU, CausalSelfAttention, Block and Transformer (its config an
    object with n_embd, n_head, n_layer, block_size, vocab_size), as makemore writes them."""
    torch, F = C.torch, C.F
    nn = torch.nn

    class NewGELU(nn.Module):
        def forward(self, x):
            return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))

    class CausalSelfAttention(nn.Module):
        def __init__(self, config):
            super().__init__()
            assert config.n_embd % config.n_head == 0
            self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd)
            self.c_proj = nn.Linear(config.n_embd, config.n_embd)
            self.register_buffer("bias", torch.tril(torch.ones(config.block_size, config.block_size))
                                 .view(1, 1, config.block_size, config.block_size))
            self.n_head, self.n_embd = config.n_head, config.n_embd

        def forward(self, x):
            B, T, C = x.size()
            q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
            k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
            q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
            v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
            att = att.masked_fill(self.bias[:, :, :T, :T] == 0, float("-inf"))
            att = F.softmax(att, dim=-1)
            y = att @ v
            y = y.transpose(1, 2).contiguous().view(B, T, C)
            return self.c_proj(y)

    class Block(nn.Module):
        def __init__(self, config):
            super().__init__()
            self.ln_1 = nn.LayerNorm(config.n_embd)
            self.attn = CausalSelfAttention(config)
            self.ln_2 = nn.LayerNorm(config.n_embd)
            self.mlp = nn.ModuleDict(dict(c_fc=nn.Linear(config.n_embd, 4 * config.n_embd),
                                          c_proj=nn.Linear(4 * config.n_embd, config.n_embd), act=NewGELU()))
            m = self.mlp
            self.mlpf = lambda x: m.c_proj(m.act(m.c_fc(x)))

        def forward(self, x):
            x = x + self.attn(self.ln_1(x))
            return x + self.mlpf(self.ln_2(x))

    return NewGELU, CausalSelfAttention, Block, transformer_class(Block)


def transformer_class(Block):
    torch, F = C.torch, C.F
    nn = torch.nn

    class Transformer(nn.Module):
        def __init__(self, config):
            super().__init__()
            self.block_size = config.block_size
            self.transformer = nn.ModuleDict(dict(
                wte=nn.Embedding(config.vocab_size, config.n_embd), wpe=nn.Embedding(config.block_size, config.n_embd),
                h=nn.ModuleList([Block(config) for _ in range(config.n_layer)]), ln_f=nn.LayerNorm(config.n_embd)))
            self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)

        def forward(self, idx, targets=None):
            b, t = idx.size()
            pos = torch.arange(0, t, dtype=torch.long, device=idx.device).unsqueeze(0)
            x = self.transformer.wte(idx) + self.transformer.wpe(pos)
            for block in self.transformer.h:
                x = block(x)
            logits = self.lm_head(self.transformer.ln_f(x))
            loss = None
            if targets is not None:
                loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)
            return logits, loss

    return Transformer


class ModelConfig:
    """makemore's ModelConfig, with the case's sizes."""

    def __init__(self):
        g = GPT
        self.block_size, self.vocab_size = g["block"], g["vocab"]
        self.n_layer, self.n_head, self.n_embd, self.n_embd2 = g["n_layer"], g["n_head"], g["n_embd"], g["n_embd"]


def makemore_model(params=None, seed=3407):
    """makemore's Transformer: with params ({tinynet key: array}) loaded in their dtype,
    or (params None) torch's default init under torch.manual_seed(seed)."""
    torch = C.torch
    Transformer = makemore_classes()[-1]
    torch.manual_seed(seed)
    model = Transformer(ModelConfig())
    if params is not None:
        model = model.to(C._torch_dtype(next(iter(params.values())).dtype))
        state = model.state_dict()
        state.update({makemore_key(k): torch.from_numpy(np.array(v)) for k, v in params.items()})
        model.load_state_dict(state)
    return model


def gpt_params(dtype=np.float32):
    """makemore's init (torch.manual_seed, torch's default init) as {tinynet key: array};
    without torch, the tinynet GPT's own (torch's default init rules)."""
    names = list(tiny_gpt_names())
    if C.torch is None:
        return {k: v.astype(dtype) for k, v in new_gpt(dtype=dtype).state_dict().items()}
    state = makemore_model().state_dict()
    return {k: state[makemore_key(k)].numpy().astype(dtype) for k in names}


def tiny_gpt_names():
    """The tinynet GPT's state-dict keys, in the order of its parameters."""
    return new_gpt().state_dict().keys()


def torch_gpt(params, pool, compiled=False):
    """makemore's training step on its Transformer holding `params`: forward with the
    targets (its loss), model.zero_grad(set_to_none=True), loss.backward(),
    torch.optim.AdamW's step; through torch.compile(model) with `compiled`."""
    torch, g = C.torch, GPT
    model = makemore_model(params)
    opt = torch.optim.AdamW(model.parameters(), lr=g["lr"], betas=g["betas"], eps=g["eps"],
                            weight_decay=g["weight_decay"])
    tpool = [(torch.from_numpy(Xb), torch.from_numpy(Yb)) for Xb, Yb in pool]
    run = compile_model(model, tpool[0]) if compiled else model
    batches, last = C.cycle(tpool), [None]

    def step():
        Xb, Yb = next(batches)
        logits, loss = run(Xb, Yb)
        model.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        last[0] = loss
        return loss

    def live():
        named = dict(model.named_parameters())
        ps = {k: named[makemore_key(k)] for k in params}
        return (C._np(last[0]), {k: C._np(p.grad) for k, p in ps.items()}, {k: C._np(p) for k, p in ps.items()})

    return step, gpt_canon(list(params), live)


#: The thread count torch.compile's kernels were generated for (they specialise on it).
_COMPILED_AT = [None]


def compile_model(model, batch):
    """torch.compile(model), compiled now by a forward and backward on `batch` (the
    gradients then dropped): Skipped, with the reason, when it does not work here."""
    torch = C.torch
    if NO_COMPILE[0]:
        raise Skipped("--no-compile")
    if _COMPILED_AT[0] != torch.get_num_threads():
        torch._dynamo.reset()      # kernels generated for another thread count
        _COMPILED_AT[0] = torch.get_num_threads()
    try:
        compiled = torch.compile(model)
        compiled(*batch)[1].backward()
    except Exception as exc:  # no C++ compiler, an unsupported Python, ...
        _COMPILED_AT[0] = None
        raise Skipped(f"torch.compile failed: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}") from exc
    model.zero_grad(set_to_none=True)
    return compiled


#: Set by run.py's --no-compile: the compiled peer is skipped.
NO_COMPILE = [False]


def check_same_model(params, batch, tol=1e-10):
    """Assert that the tinynet model and makemore's compute the same loss and gradients
    in float64 from the same state dict, on one batch."""
    p64 = {k: v.astype(np.float64) for k, v in params.items()}
    Xb, Yb = batch
    tiny = tiny_gpt(p64)
    logits = tiny(Xb)
    loss, probs = tinynet.cross_entropy_forward(logits.reshape(-1, logits.shape[-1]), Yb.reshape(-1), ignore_index=-1)
    tiny.backward(tinynet.cross_entropy_backward(probs, Yb.reshape(-1), ignore_index=-1).reshape(logits.shape))
    model = makemore_model(p64)
    _, tloss = model(C.torch.from_numpy(Xb), C.torch.from_numpy(Yb))
    tloss.backward()
    named = dict(model.named_parameters())
    assert abs(loss - tloss.item()) <= tol * abs(loss), f"GPT float64 loss: tinynet {loss!r}, makemore {tloss.item()!r}"
    for k, grad in tiny.named_grads():
        want = named[makemore_key(k)].grad.numpy()
        err = np.max(np.abs(grad - want)) / max(np.max(np.abs(want)), 1e-300)
        assert err <= tol, f"GPT float64 gradient of {k}: tinynet and makemore differ by {err:.1e} (relative)"
    return loss


# ------------------------------------------------------------------------------ the case


def gpt_flops():
    """GEMM flops of a step: per layer the four products (qkv, the attention's output
    projection, the MLP's two) and the attention's two batched products over the
    causal triangle, then the head; each product's forward, dx and dW (3x forward)."""
    g = GPT
    N, E, T = g["batch"] * g["block"], g["n_embd"], g["block"]
    per_layer = 2 * N * E * 12 * E + 4 * g["batch"] * E * T * (T + 1) // 2
    return 3 * (g["n_layer"] * per_layer + 2 * N * E * g["vocab"])


def gpt_cases(have_torch, pool):
    """The GPT training step (float32), when this tinynet has the GPT of notebook 006."""
    try:
        from tinynet.recipes import GPT as _  # noqa: F401
    except ImportError:
        return []
    if not (C.NN_OPTIM and hasattr(C.optim, "AdamW")):
        return []
    params = gpt_params(np.float32)
    engines = [Engine(C.TN, lambda: gpt_nn(tinynet, params, pool, "c")),
               Engine(C.REF, lambda: gpt_nn(C.ref, params, pool, "numpy"))]
    if have_torch:
        engines += [Engine(C.TORCH, lambda: torch_gpt(params, pool)),
                    Engine(C.TORCH_COMPILE, lambda: torch_gpt(params, pool, compiled=True))]

    def oracle():
        if have_torch:
            check_same_model(params, pool[0])
        step, canon = gpt_nn(C.ref, params, pool, "numpy")
        return canon(step())

    g = GPT
    label = (f"GPT step, nn + AdamW (makemore's transformer: {g['n_layer']} layers, {g['n_head']} heads, "
             f"n_embd {g['n_embd']}, block {g['block']}, batch {g['batch']}, float32)")
    return [Case("gpt-float32", "gpt", label, np.float32, gpt_flops(), engines, oracle,
                 masked_by={k: "d" + k for k in params})]
