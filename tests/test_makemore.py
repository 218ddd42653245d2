"""makemore's MLP with manual backprop (notebook 003; its original, "the seed" below, is
samitha278/multilayer-perceptron-char-lm's mlp_backprop.ipynb) through tinynet.data and
tinynet functions.

names.txt -> split_words(words, 278) -> build_dataset(block_size=3): 182,418 / 22,885 /
22,843 examples.  The network: C (27, 10) embedding -> view (N, 30) -> W1 (30 -> 64) + b1
-> BatchNorm with Bessel's n-1 variance (correction=1), bngain 1, bnbias 0 -> tanh ->
W2 (64 -> 27) + b2 -> mean cross-entropy.  With torch present, the weights and the batch
come from torch.Generator().manual_seed(2147483647) as in the seed (bngain/bnbias came
from torch's unseeded global generator there; SEEDS.md fixes them to 1 and 0), and the
first-batch loss is 3.439766.  The seed stores W1, W2 as (in, out) (x @ W1); tinynet as
(out, in) (x @ W.T), so tinynet's W is the seed's W.T.

b1 sits right before BatchNorm, so its true gradient is exactly zero and every engine
returns rounding noise (~1e-17): it is compared on the scale of dW1 instead of its own.
"""
import random

import numpy as np
import pytest

import tinynet
import tinynet.reference as ref
from tinynet import data, nn, recipes

from conftest import DTYPES, RTOL, assert_close, data_dir

try:
    import torch
except ImportError:  # the torch comparisons skip; the engine comparisons still run
    torch = None

N_EMBD, N_HIDDEN, BLOCK, VOCAB, BATCH = 10, 64, 3, 27, 32
FIRST_LOSS = 3.439766
GRADS = ["C", "W1", "b1", "W2", "b2", "bngain", "bnbias"]


@pytest.fixture(scope="module")
def words():
    """names.txt, found as the names_path fixture finds it (loaded once per module)."""
    path = data_dir() / "names.txt"
    if not path.exists():
        pytest.skip(f"names.txt not found at {path}; set TINYNET_DATA")
    return data.load_names(path)


@pytest.fixture(scope="module")
def splits(words):
    train, dev, test = data.split_words(words, 278)
    return [data.build_dataset(ws, BLOCK) for ws in (train, dev, test)]


def test_names_and_split(words, splits):
    assert len(words) == 32033
    assert words[:3] == ["emma", "olivia", "ava"]
    stoi, itos = data.build_vocab(words)
    assert stoi == {ch: i for i, ch in enumerate(".abcdefghijklmnopqrstuvwxyz")}
    assert [X.shape[0] for X, _ in splits] == [182418, 22885, 22843]
    for X, Y in splits:
        assert X.dtype == Y.dtype == np.int64 and X.shape[1] == BLOCK and Y.shape == X.shape[:1]
        assert X.min() >= 0 and X.max() < VOCAB and Y.min() >= 0 and Y.max() < VOCAB
    # the split is the seed's random.seed(278); random.shuffle(words), and the caller's list is untouched
    state = random.getstate()
    try:
        shuffled = list(words)
        random.seed(278)
        random.shuffle(shuffled)
    finally:
        random.setstate(state)
    train, dev, test = data.split_words(words, 278)
    assert train + dev + test == shuffled
    assert (len(train), len(dev), len(test)) == (25626, 3203, 3204)
    assert words[:3] == ["emma", "olivia", "ava"]
    # the first training examples, spelled out: context -> next character
    X, Y = splits[0]
    first = train[0] + "."
    assert data.decode(Y[:len(first)]) == first
    assert data.decode(X[len(first) - 1]) == ("..." + train[0])[-3:]


@pytest.fixture(scope="module")
def seed_setup(splits):
    """The seed's weights (its (in, out) layout, float64) and first batch."""
    Xtr, Ytr = splits[0]
    if torch is not None:
        g = torch.Generator().manual_seed(2147483647)
        C = torch.randn((VOCAB, N_EMBD), generator=g)
        W1 = torch.randn((N_EMBD * BLOCK, N_HIDDEN), generator=g) * (5 / 3) / ((N_EMBD * BLOCK) ** 0.5)
        b1 = torch.randn(N_HIDDEN, generator=g) * 0.1
        W2 = torch.randn((N_HIDDEN, VOCAB), generator=g) * 0.1
        b2 = torch.randn(VOCAB, generator=g) * 0.1
        ix = torch.randint(0, Xtr.shape[0], (BATCH,), generator=g).numpy()
        params = {k: v.numpy().astype(np.float64) for k, v in dict(C=C, W1=W1, b1=b1, W2=W2, b2=b2).items()}
    else:
        rng = np.random.default_rng(2147483647)
        params = dict(C=rng.standard_normal((VOCAB, N_EMBD)),
                      W1=rng.standard_normal((N_EMBD * BLOCK, N_HIDDEN)) * (5 / 3) / (N_EMBD * BLOCK) ** 0.5,
                      b1=rng.standard_normal(N_HIDDEN) * 0.1,
                      W2=rng.standard_normal((N_HIDDEN, VOCAB)) * 0.1,
                      b2=rng.standard_normal(VOCAB) * 0.1)
        ix = rng.integers(0, Xtr.shape[0], BATCH)
    params["bngain"] = np.ones(N_HIDDEN)
    params["bnbias"] = np.zeros(N_HIDDEN)
    return params, Xtr[ix], Ytr[ix]


def forward_backward(tn, params, Xb, Yb, dtype):
    """The seed's forward and manual backward, one tinynet function per step.
    Returns (loss, intermediates, grads in the seed's layout)."""
    p = {k: v.astype(dtype) for k, v in params.items()}
    W1, W2 = p["W1"].T.copy(), p["W2"].T.copy()        # tinynet layout (out, in)
    n = Xb.shape[0]
    emb = tn.embedding_forward(p["C"], Xb)             # (n, 3, 10)
    embcat = emb.reshape(n, -1)                          # (n, 30)
    hprebn = tn.linear_forward(embcat, W1, p["b1"])     # (n, 64)
    hpreact, mean, invstd = tn.batchnorm_forward(hprebn, p["bngain"], p["bnbias"], 1e-5, 1)
    h = tn.tanh_forward(hpreact)
    logits = tn.linear_forward(h, W2, p["b2"])           # (n, 27)
    loss, probs = tn.cross_entropy_forward(logits, Yb)

    dlogits = tn.cross_entropy_backward(probs, Yb)
    dh, dW2, db2 = tn.linear_backward(dlogits, h, W2)
    dhpreact = tn.tanh_backward(dh, h)
    dhprebn, dbngain, dbnbias = tn.batchnorm_backward(dhpreact, hprebn, p["bngain"], mean, invstd, 1)
    dembcat, dW1, db1 = tn.linear_backward(dhprebn, embcat, W1)
    dC = tn.embedding_backward(dembcat.reshape(emb.shape), Xb, VOCAB)
    inter = dict(emb=emb, hprebn=hprebn, hpreact=hpreact, h=h, logits=logits, probs=probs,
                 dlogits=dlogits, dh=dh, dhpreact=dhpreact, dhprebn=dhprebn, dembcat=dembcat)
    grads = dict(C=dC, W1=dW1.T, b1=db1, W2=dW2.T, b2=db2, bngain=dbngain, bnbias=dbnbias)
    return loss, inter, grads


def assert_grads_close(actual, expected, dtype, what):
    """Every gradient with assert_close, except b1: the pure-noise gradient is judged on
    the scale of dW1 (both sides must be below the dtype's tolerance times max|dW1|)."""
    tol = RTOL[np.dtype(dtype)] * np.max(np.abs(expected["W1"]))
    for name in GRADS:
        if name == "b1":
            assert np.max(np.abs(actual["b1"])) <= tol, f"{what}: db1 is not ~0: {actual['b1']}"
            assert np.max(np.abs(expected["b1"])) <= tol, f"{what}: expected db1 is not ~0"
        else:
            assert_close(actual[name], expected[name], f"{what} d{name}")


def test_first_batch_loss(seed_setup):
    if torch is None:
        pytest.skip("torch is not installed: the seed's weights come from torch.Generator")
    params, Xb, Yb = seed_setup
    loss, _, _ = forward_backward(tinynet, params, Xb, Yb, np.float64)
    assert abs(loss - FIRST_LOSS) <= 0.5e-6, f"first-batch loss {loss:.9f}, SEEDS.md says {FIRST_LOSS}"
    loss32, _, _ = forward_backward(tinynet, params, Xb, Yb, np.float32)
    assert abs(loss32 - loss) <= 1e-5 * loss


@pytest.mark.parametrize("dtype", DTYPES)
def test_c_engine_matches_numpy_engine(seed_setup, dtype):
    params, Xb, Yb = seed_setup
    loss_c, inter_c, grads_c = forward_backward(tinynet, params, Xb, Yb, dtype)
    loss_n, inter_n, grads_n = forward_backward(ref, params, Xb, Yb, dtype)
    assert_close(loss_c, loss_n, "loss", rtol=RTOL[np.dtype(dtype)])
    for name in inter_n:
        assert inter_c[name].dtype == dtype
        assert_close(inter_c[name], inter_n[name], name)
    assert_grads_close(grads_c, grads_n, dtype, "C vs NumPy")
    for name in GRADS:
        assert grads_c[name].shape == params[name].shape and grads_c[name].dtype == dtype


def test_matches_torch_autograd(seed_setup):
    if torch is None:
        pytest.skip("torch is not installed")
    params, Xb, Yb = seed_setup
    tp = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    Xt, Yt = torch.from_numpy(Xb), torch.from_numpy(Yb)
    n = Xb.shape[0]
    # the seed's forward pass, in float64
    embcat = tp["C"][Xt].view(n, -1)
    hprebn = embcat @ tp["W1"] + tp["b1"]
    bnmeani = hprebn.sum(0, keepdim=True) / n
    bndiff = hprebn - bnmeani
    bnvar = (bndiff ** 2).sum(0, keepdim=True) / (n - 1)
    hpreact = tp["bngain"] * bndiff * (bnvar + 1e-5) ** -0.5 + tp["bnbias"]
    h = torch.tanh(hpreact)
    logits = h @ tp["W2"] + tp["b2"]
    loss_t = torch.nn.functional.cross_entropy(logits, Yt)
    loss_t.backward()

    for engine in (tinynet, ref):
        loss, inter, grads = forward_backward(engine, params, Xb, Yb, np.float64)
        assert_close(loss, loss_t.item(), "loss vs torch")
        assert_close(inter["logits"], logits.detach().numpy(), "logits vs torch")
        assert_grads_close(grads, {k: t.grad.numpy() for k, t in tp.items()}, np.float64,
                           f"{engine.__name__} vs torch")


@pytest.mark.parametrize("dtype", DTYPES)
def test_layers_give_the_same_model(seed_setup, dtype):
    """The same network as tinynet.nn layers: identical loss and gradients to the
    function calls (same engine), so notebook 003's model is a few lines."""
    params, Xb, Yb = seed_setup
    model = nn.Sequential([
        nn.Embedding(VOCAB, N_EMBD, dtype=dtype, rng=0),
        nn.Flatten(),
        nn.Linear(N_EMBD * BLOCK, N_HIDDEN, dtype=dtype, rng=0),
        nn.BatchNorm1d(N_HIDDEN, correction=1, dtype=dtype),
        nn.Tanh(),
        nn.Linear(N_HIDDEN, VOCAB, dtype=dtype, rng=0),
    ])
    model[0].weight[...] = params["C"]
    model[2].weight[...], model[2].bias[...] = params["W1"].T, params["b1"]
    model[5].weight[...], model[5].bias[...] = params["W2"].T, params["b2"]
    assert sum(p.size for p in model.parameters()) == 4137
    loss, probs = tinynet.cross_entropy_forward(model(Xb), Yb)
    assert model.backward(tinynet.cross_entropy_backward(probs, Yb)) is None
    g = dict(model.named_grads())
    ours = dict(C=g["0.weight"], W1=g["2.weight"].T, b1=g["2.bias"], W2=g["5.weight"].T, b2=g["5.bias"],
                bngain=g["3.weight"], bnbias=g["3.bias"])
    loss_f, _, grads_f = forward_backward(tinynet, params, Xb, Yb, dtype)
    assert loss == loss_f
    for name in GRADS:
        np.testing.assert_array_equal(ours[name], grads_f[name], err_msg=name)


def test_recipes_give_the_same_start_and_step(splits, seed_setup):
    """tinynet.recipes, which notebook 003 and python -m tinynet use: makemore_init draws
    this file's weights (in tinynet's (out, in) layout) and then its first batch, and
    makemore_forward_backward is this file's forward and backward pass, bit for bit."""
    Xtr, Ytr = splits[0]
    params, Xb, Yb = seed_setup
    P, randint, source = recipes.makemore_init(VOCAB, BLOCK, N_EMBD, N_HIDDEN)
    assert source == ("numpy" if torch is None else "torch")
    layout = {"W1": np.transpose, "W2": np.transpose}
    assert sorted(P) == sorted(params)
    for name in GRADS:
        assert P[name].dtype == np.float64 and P[name].flags.c_contiguous, name
        np.testing.assert_array_equal(P[name], layout.get(name, np.asarray)(params[name]), err_msg=name)
    ix = randint(Xtr.shape[0], BATCH)
    assert ix.dtype == np.int64
    np.testing.assert_array_equal(Xtr[ix], Xb)
    np.testing.assert_array_equal(Ytr[ix], Yb)
    loss, grads = recipes.makemore_forward_backward(tinynet, P, Xb, Yb)
    loss_f, _, grads_f = forward_backward(tinynet, params, Xb, Yb, np.float64)
    assert loss == loss_f
    for name in GRADS:
        np.testing.assert_array_equal(layout.get(name, np.asarray)(grads[name]), grads_f[name], err_msg=name)
