"""makemore's transformer (karpathy/makemore, ``--type transformer``) as tinynet.nn layers
(recipes.GPT, notebook 006), against makemore's own classes in PyTorch.

The torch model below is makemore's code path written out again, independently of
tinynet: NewGELU (the tanh formula), CausalSelfAttention (c_attn split into q, k, v, a
``masked_fill`` of -inf above the diagonal, softmax, c_proj), the pre-LN Block (x +
attn(ln_1(x)), x + mlp(ln_2(x))), the Transformer (wte + wpe, the blocks, ln_f, lm_head
without bias) and its loss, ``F.cross_entropy(logits.view(-1, V), targets.view(-1),
ignore_index=-1)``.  With our weights loaded under makemore's names
(recipes.gpt_makemore_state), in float64, on a batch of names framed as makemore's
CharDataset frames them (targets padded with -1):

* the loss and every parameter gradient within 1e-10 (relative to the array's largest
  magnitude), on both engines; recipes.gpt_torch_loss_and_grads (the check notebook 006
  runs) gives the same;
* a few AdamW steps (lr 5e-4, betas (0.9, 0.99), eps 1e-8, weight decay 0.01), as
  makemore's ``torch.optim.AdamW(model.parameters(), ...)``, which decays *every*
  parameter (embeddings, biases and LayerNorm gains too; makemore drops minGPT's
  decay/no-decay groups): tinynet.optim.AdamW over model.parameters() does the same, and
  the losses and parameters after each step agree within 1e-10;
* the C and NumPy engines agree through the model and a few steps of training;
* the parameter count of notebook 006's configuration (4 layers, 4 heads, n_embd 64,
  block size 16): 204,544, of which makemore prints 202,816 (it leaves lm_head out);
* recipes.gpt_dataset, gpt_split_loss and gpt_sample, the framing, evaluation and
  sampling helpers notebook 006 uses.

The torch tests skip without torch.
"""
import math

import numpy as np
import pytest

import tinynet
from tinynet import data, optim, recipes

from conftest import ENGINES, assert_close

VOCAB, BLOCK, N_LAYER, N_HEAD, N_EMBD = 27, 16, 4, 4, 64  # notebook 006's configuration
TOL = 1e-10
WORDS = ["emma", "olivia", "ava", "isabella", "sophia", "charlotte", "mia", "amelia", "harper", "evelyn", "abigail",
         "emily", "elizabeth", "mila", "ella", "avery", "sofia", "camila", "aria", "scarlett", "victoria", "madison",
         "luna", "grace", "chloe", "penelope", "layla", "riley", "zoey", "nora", "lily", "eleanor"]  # names.txt's first


def gpt(engine="c", rng=0):
    return recipes.GPT(VOCAB, BLOCK, N_LAYER, N_HEAD, N_EMBD, engine=engine, rng=rng)


def batch(words=WORDS):
    return recipes.gpt_dataset(words, BLOCK)


def loss_and_backward(tn, model, X, Y):
    loss, dlogits = recipes.gpt_loss(tn, model(X), Y)
    assert model.backward(dlogits) is None  # token ids: no input gradient
    return loss


def test_parameter_count():
    model = gpt()
    per_block = (3 * N_EMBD * N_EMBD + 3 * N_EMBD) + (N_EMBD * N_EMBD + N_EMBD) + 2 * (2 * N_EMBD) \
        + (4 * N_EMBD * N_EMBD + 4 * N_EMBD) + (4 * N_EMBD * N_EMBD + N_EMBD)
    lm_head = N_EMBD * VOCAB
    expected = VOCAB * N_EMBD + BLOCK * N_EMBD + N_LAYER * per_block + 2 * N_EMBD + lm_head
    assert sum(p.size for p in model.parameters()) == expected == 204_544
    assert expected - lm_head == 202_816  # makemore's "number of parameters: 0.20M" leaves lm_head out
    assert len(model.parameters()) == 2 + 12 * N_LAYER + 2 + 1


def test_the_data_is_makemores_framing():
    X, Y = batch(["ava", "isabella"])
    assert X.tolist()[0] == [0, 1, 22, 1] + [0] * 12 and Y.tolist()[0] == [1, 22, 1, 0] + [-1] * 12
    assert X[1, 1:9].tolist() == data.encode("isabella") and Y[1, :9].tolist() == data.encode("isabella") + [0]
    assert np.count_nonzero(Y != -1) == len("ava") + 1 + len("isabella") + 1
    with pytest.raises(ValueError, match="block_size of at least 17"):
        recipes.gpt_dataset(["a" * 16], BLOCK)


# ------------------------------------------------------------- makemore's model in torch


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


def makemore_transformer(torch):
    """makemore's Transformer and its parts, as makemore.py writes them."""
    tnn, F = torch.nn, torch.nn.functional

    class NewGELU(tnn.Module):
        def forward(self, x):
            return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))

    class CausalSelfAttention(tnn.Module):
        def __init__(self):
            super().__init__()
            self.c_attn = tnn.Linear(N_EMBD, 3 * N_EMBD)
            self.c_proj = tnn.Linear(N_EMBD, N_EMBD)
            self.register_buffer("bias", torch.tril(torch.ones(BLOCK, BLOCK)).view(1, 1, BLOCK, BLOCK))

        def forward(self, x):
            B, T, C = x.size()
            q, k, v = self.c_attn(x).split(N_EMBD, dim=2)
            k = k.view(B, T, N_HEAD, C // N_HEAD).transpose(1, 2)
            q = q.view(B, T, N_HEAD, C // N_HEAD).transpose(1, 2)
            v = v.view(B, T, N_HEAD, C // N_HEAD).transpose(1, 2)
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
            att = att.masked_fill(self.bias[:, :, :T, :T] == 0, float("-inf"))
            att = F.softmax(att, dim=-1)
            y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
            return self.c_proj(y)

    class Block(tnn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1 = tnn.LayerNorm(N_EMBD)
            self.attn = CausalSelfAttention()
            self.ln_2 = tnn.LayerNorm(N_EMBD)
            self.mlp = tnn.ModuleDict(dict(c_fc=tnn.Linear(N_EMBD, 4 * N_EMBD), c_proj=tnn.Linear(4 * N_EMBD, N_EMBD),
                                           act=NewGELU()))

        def forward(self, x):
            m = self.mlp
            x = x + self.attn(self.ln_1(x))
            return x + m.c_proj(m.act(m.c_fc(self.ln_2(x))))

    class Transformer(tnn.Module):
        def __init__(self):
            super().__init__()
            self.transformer = tnn.ModuleDict(dict(
                wte=tnn.Embedding(VOCAB, N_EMBD), wpe=tnn.Embedding(BLOCK, N_EMBD),
                h=tnn.ModuleList([Block() for _ in range(N_LAYER)]), ln_f=tnn.LayerNorm(N_EMBD)))
            self.lm_head = tnn.Linear(N_EMBD, VOCAB, bias=False)

        def forward(self, idx, targets):
            t = idx.size(1)
            pos = torch.arange(0, t, dtype=torch.long).unsqueeze(0)
            x = self.transformer.wte(idx) + self.transformer.wpe(pos)
            for block in self.transformer.h:
                x = block(x)
            logits = self.lm_head(self.transformer.ln_f(x))
            return logits, F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)

    return Transformer


def torch_twin(torch, model):
    """makemore's Transformer in float64 holding model's weights (loaded by makemore's
    names); returns (twin, its parameters in model.parameters() order)."""
    twin = makemore_transformer(torch)().double()
    state = {k: torch.from_numpy(v) for k, v in recipes.gpt_makemore_state(model).items()}
    missing, unexpected = twin.load_state_dict(state, strict=False)
    assert unexpected == [] and missing == [f"transformer.h.{i}.attn.bias" for i in range(N_LAYER)]  # the masks
    params = dict(twin.named_parameters())
    assert sorted(params) == sorted(state)
    return twin, [params[recipes.gpt_makemore_name(k)] for k, _ in model.named_parameters()]


def torch_loss(torch, twin, X, Y):
    return twin(torch.from_numpy(X), torch.from_numpy(Y))[1]


@pytest.mark.parametrize("engine", list(ENGINES))
def test_loss_and_every_gradient_are_makemores(torch, engine):
    model = gpt(engine)
    X, Y = batch()
    assert np.count_nonzero(Y == -1) > Y.size // 2  # short names: most targets are padding
    loss = loss_and_backward(ENGINES[engine], model, X, Y)
    twin, theirs = torch_twin(torch, model)
    expected = torch_loss(torch, twin, X, Y)
    expected.backward()
    assert_close(loss, expected.item(), "loss", scalar_rtol=TOL)
    assert abs(loss - math.log(VOCAB)) < 1.5  # not a degenerate case: an untrained model's loss
    for (name, g), t in zip(model.named_grads(), theirs):
        assert_close(g, t.grad.numpy(), name, rtol=TOL)
        assert np.abs(g).max() > 0, name


@pytest.mark.parametrize("engine", list(ENGINES))
def test_the_notebooks_torch_check_is_makemores(torch, engine):
    """recipes.gpt_torch_loss_and_grads (notebook 006's first check) computes what
    makemore's classes compute."""
    model = gpt(engine, rng=1)
    X, Y = batch(WORDS[:7])
    loss, grads = recipes.gpt_torch_loss_and_grads(model, X, Y)
    twin, theirs = torch_twin(torch, model)
    expected = torch_loss(torch, twin, X, Y)
    expected.backward()
    assert_close(loss, expected.item(), "loss", scalar_rtol=1e-13)
    assert sorted(grads) == sorted(n for n, _ in model.named_parameters())
    for (name, _), t in zip(model.named_parameters(), theirs):
        assert_close(grads[name], t.grad.numpy(), name, rtol=1e-12)


@pytest.mark.parametrize("engine", list(ENGINES))
def test_adamw_steps_are_makemores(torch, engine):
    """makemore's optimizer: torch.optim.AdamW(model.parameters(), lr=5e-4, betas=(0.9,
    0.99), eps=1e-8, weight_decay=0.01), every parameter decayed; four steps on four
    batches, the losses and then the parameters within 1e-10."""
    tn = ENGINES[engine]
    model = gpt(engine, rng=2)
    twin, theirs = torch_twin(torch, model)
    hyper = dict(lr=5e-4, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.01)
    opt = optim.AdamW(model, **hyper)
    topt = torch.optim.AdamW(twin.parameters(), **hyper)
    assert len(topt.param_groups) == 1 and topt.param_groups[0]["weight_decay"] == 0.01  # one group: all decayed
    rng = np.random.default_rng(3)
    Xall, Yall = batch()
    for step in range(4):
        ix = rng.integers(0, len(WORDS), 16)
        X, Y = Xall[ix], Yall[ix]
        loss = loss_and_backward(tn, model, X, Y)
        opt.step()
        topt.zero_grad(set_to_none=True)
        expected = torch_loss(torch, twin, X, Y)
        expected.backward()
        topt.step()
        assert_close(loss, expected.item(), f"loss at step {step}", scalar_rtol=TOL)
        for (name, p), t in zip(model.named_parameters(), theirs):
            assert_close(p, t.detach().numpy(), f"{name} after step {step}", rtol=TOL)


# ---------------------------------------------------------------- the engines agree


def test_engines_agree_through_training():
    """The same GPT on the C and the NumPy engine: the logits, every gradient, and the
    parameters after three AdamW steps agree to 1e-12 (relative to each array's size)."""
    models = {e: gpt(e, rng=4) for e in ENGINES}
    opts = {e: optim.AdamW(m, lr=5e-4, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.01) for e, m in models.items()}
    assert opts["numpy"].tn is tinynet.reference and opts["c"].tn is tinynet
    X, Y = batch()
    for step in range(3):
        rows = slice(8 * step, 8 * step + 12)
        losses = {}
        for e, m in models.items():
            losses[e] = loss_and_backward(ENGINES[e], m, X[rows], Y[rows])
            opts[e].step()
        assert_close(losses["c"], losses["numpy"], f"loss at step {step}", scalar_rtol=1e-12)
        for (name, g), (_, gn) in zip(models["c"].named_grads(), models["numpy"].named_grads()):
            assert_close(g, gn, f"{name} gradient at step {step}", rtol=1e-12)
    for (name, p), (_, pn) in zip(models["c"].named_parameters(), models["numpy"].named_parameters()):
        assert_close(p, pn, name, rtol=1e-12)
    assert_close(models["c"](X), models["numpy"](X), "logits", rtol=1e-12)


# -------------------------------------------------------------------- recipes.gpt_*


def test_the_model_is_causal():
    """A position's logits depend on that position and the ones before it only."""
    model = gpt(rng=5)
    X, _ = batch(WORDS[:4])
    logits = model(X)
    changed = X.copy()
    changed[:, 9:] = (changed[:, 9:] + 7) % VOCAB
    after = model(changed)
    assert_close(after[:, :9], logits[:, :9], "logits before the change", rtol=1e-14)
    assert np.abs(after[:, 9:] - logits[:, 9:]).min(axis=-1).max() > 0
    assert model(X[:, :5]).shape == (4, 5, VOCAB)  # shorter sequences, as makemore's generate feeds them
    with pytest.raises(ValueError, match="T <= 16"):
        model(np.zeros((1, BLOCK + 1), dtype=np.int64))


@pytest.mark.parametrize("engine", list(ENGINES))
def test_split_loss_is_the_per_character_mean(engine):
    """gpt_split_loss: the mean over every counted target, whatever the chunk, the same
    as the loss of the batch (mean over its counted targets)."""
    tn = ENGINES[engine]
    model = gpt(engine, rng=6)
    X, Y = batch()
    whole, _ = recipes.gpt_loss(tn, model(X), Y)
    for chunk in (1, 5, 1000):
        assert_close(recipes.gpt_split_loss(tn, model, X, Y, chunk=chunk), whole, f"chunk {chunk}",
                     scalar_rtol=1e-13)
    # by hand: the mean of -log softmax at each word's characters and its <STOP>
    logp = model(X) - np.log(np.exp(model(X)).sum(axis=-1, keepdims=True))
    counted = Y != -1
    by_hand = -logp[counted, Y[counted]].mean()
    assert_close(whole, float(by_hand), "by hand", scalar_rtol=1e-12)


def test_samples_are_the_same_on_both_engines():
    names = {e: recipes.gpt_sample(ENGINES[e], gpt(e, rng=7), 12, seed=3) for e in ENGINES}
    assert names["c"] == names["numpy"] and len(names["c"]) == 12
    assert all(set(n) <= set(data.VOCAB[1:]) and len(n) <= BLOCK - 1 for n in names["c"])
    assert names["c"] != recipes.gpt_sample(tinynet, gpt("c", rng=7), 12, seed=4)
