"""PyTorch interop: state_dict() / load_state_dict() with torch's key names and layouts.

* every tinynet.nn layer loads the state dict of its torch.nn twin (tensors as they come,
  requires_grad and all) and then computes the same outputs, and torch loads tinynet's
  (``torch.from_numpy``) and computes the same outputs -- float64 within 1e-10, float32
  within 1e-5, relative to the output's scale: Linear, Embedding, BatchNorm1d (train
  mode, with the running statistics updated identically, and eval mode), the tanh RNN
  (two biases in, one out), and seed 003's makemore MLP as a Sequential, gradients too;
* state_dict() returns copies; load_state_dict() converts dtypes, copies in place and is
  strict: missing / unexpected keys and wrong shapes are refused with clear errors,
  leaving the layer as it was;
* torch stays optional: tinynet, nn, state dicts and save/load work with torch blocked.

The torch tests skip cleanly when torch is not installed.
"""
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tinynet import nn

from conftest import DTYPES, ENGINES, assert_close

# the interop tolerance, relative to the scale of the expected tensor (conftest.assert_close)
TOL = {np.dtype(np.float64): 1e-10, np.dtype(np.float32): 1e-5}
ENGINE_NAMES = list(ENGINES)


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


def tdtype(torch, dtype):
    return {np.dtype(np.float64): torch.float64, np.dtype(np.float32): torch.float32}[np.dtype(dtype)]


def to_torch(torch, state):
    """tinynet's state dict as torch wants it: the direction every test also checks."""
    return {k: torch.from_numpy(v) for k, v in state.items()}


def close(actual, expected, name):
    if hasattr(expected, "detach"):
        expected = expected.detach().numpy()
    expected = np.asarray(expected)
    assert_close(np.asarray(actual), expected, name, rtol=TOL.get(expected.dtype, 0))


def randomize(torch, module, seed):
    """Non-default values for every parameter and buffer of a torch module (so a key
    that is silently ignored, or two that are swapped, cannot pass)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in list(module.named_parameters()) + list(module.named_buffers()):
            if t.dtype.is_floating_point:
                values = torch.rand(t.shape, generator=g, dtype=t.dtype)
                t.copy_(values + 0.5 if "var" in name else values * 2 - 1)
            else:
                t.fill_(7)
    return module


# ---------------------------------------------------------------- Linear, Embedding


@pytest.mark.parametrize("engine", ENGINE_NAMES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bias", [True, False])
def test_linear_both_directions(torch, engine, dtype, bias):
    dt = tdtype(torch, dtype)
    x = np.random.default_rng(0).standard_normal((7, 5)).astype(dtype)
    # torch -> tinynet, tensors straight from torch (requires_grad=True)
    t_lin = randomize(torch, torch.nn.Linear(5, 3, bias=bias, dtype=dt), 1)
    ours = nn.Linear(5, 3, bias=bias, engine=engine, dtype=dtype)
    ours.load_state_dict(t_lin.state_dict(keep_vars=True))
    close(ours(x), t_lin(torch.from_numpy(x)), "Linear torch->tinynet")
    # tinynet -> torch
    ours = nn.Linear(5, 3, bias=bias, engine=engine, dtype=dtype, rng=2)
    t_lin = torch.nn.Linear(5, 3, bias=bias, dtype=dt)
    assert list(ours.state_dict()) == list(t_lin.state_dict())
    t_lin.load_state_dict(to_torch(torch, ours.state_dict()))
    close(ours(x), t_lin(torch.from_numpy(x)), "Linear tinynet->torch")


@pytest.mark.parametrize("engine", ENGINE_NAMES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_embedding_both_directions(torch, engine, dtype):
    dt = tdtype(torch, dtype)
    idx = np.random.default_rng(0).integers(0, 27, size=(4, 3))
    t_emb = randomize(torch, torch.nn.Embedding(27, 10, dtype=dt), 1)
    ours = nn.Embedding(27, 10, engine=engine, dtype=dtype)
    ours.load_state_dict(t_emb.state_dict())
    close(ours(idx), t_emb(torch.from_numpy(idx)), "Embedding torch->tinynet")
    ours = nn.Embedding(27, 10, engine=engine, dtype=dtype, rng=3)
    t_emb = torch.nn.Embedding(27, 10, dtype=dt)
    t_emb.load_state_dict(to_torch(torch, ours.state_dict()))
    close(ours(idx), t_emb(torch.from_numpy(idx)), "Embedding tinynet->torch")


# ---------------------------------------------------------------------- BatchNorm1d


def bn_pair(torch, direction, dtype, engine, momentum):
    """A torch BatchNorm1d and a tinynet one holding the same state, made in `direction`."""
    dt = tdtype(torch, dtype)
    t_bn = torch.nn.BatchNorm1d(6, momentum=momentum, dtype=dt)
    ours = nn.BatchNorm1d(6, momentum=momentum, engine=engine, dtype=dtype)
    if direction == "torch->tinynet":
        randomize(torch, t_bn, 4)
        ours.load_state_dict(t_bn.state_dict())
    else:
        ours.weight[...] = np.linspace(0.5, 2.0, 6)
        ours.bias[...] = np.linspace(-1.0, 1.0, 6)
        ours.running_mean[...] = np.linspace(-0.3, 0.3, 6)
        ours.running_var[...] = np.linspace(0.7, 1.9, 6)
        ours.num_batches_tracked = 7
        t_bn.load_state_dict(to_torch(torch, ours.state_dict()))
    assert int(t_bn.num_batches_tracked) == ours.num_batches_tracked == 7
    return t_bn, ours


@pytest.mark.parametrize("direction", ["torch->tinynet", "tinynet->torch"])
@pytest.mark.parametrize("engine", ENGINE_NAMES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("momentum", [0.1, None])
def test_batchnorm_train_and_eval(torch, direction, engine, dtype, momentum):
    t_bn, ours = bn_pair(torch, direction, dtype, engine, momentum)
    rng = np.random.default_rng(5)
    for step in range(3):  # train mode: batch statistics, running statistics updated alike
        x = (rng.standard_normal((16, 6)) * 3 + 1).astype(dtype)
        close(ours(x), t_bn(torch.from_numpy(x)), f"train output, step {step}")
        state = ours.state_dict()
        for key, value in t_bn.state_dict().items():
            if key == "num_batches_tracked":
                assert int(value) == int(state[key]) == 8 + step
            else:
                close(state[key], value, f"{key} after step {step}")
    ours.eval()
    t_bn.eval()
    x = rng.standard_normal((5, 6)).astype(dtype)
    close(ours(x), t_bn(torch.from_numpy(x)), "eval output")
    # and back: the running statistics torch accumulated load into tinynet
    again = nn.BatchNorm1d(6, engine=engine, dtype=dtype).eval()
    again.load_state_dict(t_bn.state_dict())
    close(again(x), t_bn(torch.from_numpy(x)), "eval output after a second transfer")


# ----------------------------------------------------------------------------- RNN


@pytest.mark.parametrize("engine", ENGINE_NAMES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_rnn_from_torch(torch, engine, dtype):
    """torch.nn.RNN's two biases add up into b_h; float inputs and token ids (one-hot)."""
    T, B, D, H = 6, 3, 5, 4
    t_rnn = randomize(torch, torch.nn.RNN(D, H, dtype=tdtype(torch, dtype)), 6)  # tanh, 1 layer, time-major
    ours = nn.RNN(D, H, engine=engine, dtype=dtype)
    ours.load_state_dict(t_rnn.state_dict())
    with torch.no_grad():
        assert_close(ours.b_h, (t_rnn.bias_ih_l0 + t_rnn.bias_hh_l0).numpy(), "b_h", rtol=0)
    rng = np.random.default_rng(7)
    x = rng.standard_normal((T, B, D)).astype(dtype)
    h0 = rng.standard_normal((B, H)).astype(dtype)
    t_out, t_hn = t_rnn(torch.from_numpy(x), torch.from_numpy(h0)[None])
    hs = ours(x, h0)
    close(hs, t_out, "hs (float input)")
    close(hs[-1], t_hn[0], "h_n")
    tokens = rng.integers(0, D, size=(T, B))
    onehot = np.eye(D, dtype=dtype)[tokens]
    close(ours(tokens), t_rnn(torch.from_numpy(onehot))[0], "hs (token ids)")


@pytest.mark.parametrize("engine", ENGINE_NAMES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_rnn_to_torch(torch, engine, dtype):
    """b_h goes to bias_ih_l0, with a zero bias_hh_l0; torch then computes tinynet's states."""
    T, B, D, H = 5, 2, 3, 4
    ours = nn.RNN(D, H, engine=engine, dtype=dtype, rng=8)
    state = ours.state_dict()
    assert list(state) == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]
    assert np.array_equal(state["bias_ih_l0"], ours.b_h) and not state["bias_hh_l0"].any()
    t_rnn = torch.nn.RNN(D, H, dtype=tdtype(torch, dtype))
    t_rnn.load_state_dict(to_torch(torch, state))
    x = np.random.default_rng(9).standard_normal((T, B, D)).astype(dtype)
    close(ours(x), t_rnn(torch.from_numpy(x))[0], "hs")
    # round trip through torch: the same b_h
    back = nn.RNN(D, H, engine=engine, dtype=dtype)
    back.load_state_dict(t_rnn.state_dict())
    for (n, p), q in zip(ours.named_parameters(), back.parameters()):
        assert np.array_equal(p, q), n


# ------------------------------------------------------- seed 003's MLP, Sequential


N_EMBD, N_HIDDEN, BLOCK, VOCAB = 10, 64, 3, 27


def makemore_tinynet(engine, dtype, seed=0):
    return nn.Sequential([
        nn.Embedding(VOCAB, N_EMBD, engine=engine, dtype=dtype, rng=seed),
        nn.Flatten(),
        nn.Linear(N_EMBD * BLOCK, N_HIDDEN, engine=engine, dtype=dtype, rng=seed + 1),
        nn.BatchNorm1d(N_HIDDEN, engine=engine, dtype=dtype),
        nn.Tanh(),
        nn.Linear(N_HIDDEN, VOCAB, engine=engine, dtype=dtype, rng=seed + 2),
    ])


def makemore_torch(torch, dtype):
    dt = tdtype(torch, dtype)
    return torch.nn.Sequential(
        torch.nn.Embedding(VOCAB, N_EMBD, dtype=dt), torch.nn.Flatten(),
        torch.nn.Linear(N_EMBD * BLOCK, N_HIDDEN, dtype=dt), torch.nn.BatchNorm1d(N_HIDDEN, dtype=dt),
        torch.nn.Tanh(), torch.nn.Linear(N_HIDDEN, VOCAB, dtype=dt))


@pytest.mark.parametrize("direction", ["torch->tinynet", "tinynet->torch"])
@pytest.mark.parametrize("engine", ENGINE_NAMES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_makemore_mlp_sequential(torch, direction, engine, dtype):
    """Seed 003's net shape: outputs, the loss and every gradient in train mode, the
    running statistics after it, and the outputs in eval mode agree with torch."""
    ours, theirs = makemore_tinynet(engine, dtype), makemore_torch(torch, dtype)
    if direction == "torch->tinynet":
        randomize(torch, theirs, 10)
        ours.load_state_dict(theirs.state_dict())
    else:
        theirs.load_state_dict(to_torch(torch, ours.state_dict()))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    rng = np.random.default_rng(11)
    X, Y = rng.integers(0, VOCAB, size=(32, BLOCK)), rng.integers(0, VOCAB, size=32)

    logits = ours(X)
    t_logits = theirs(torch.from_numpy(X))
    close(logits, t_logits, "logits (train mode)")
    loss, probs = ours.layers[0].tn.cross_entropy_forward(logits, Y)
    t_loss = torch.nn.functional.cross_entropy(t_logits, torch.from_numpy(Y))
    assert_close(loss, t_loss.item(), "loss", rtol=TOL[np.dtype(dtype)])
    ours.backward(ours.layers[0].tn.cross_entropy_backward(probs, Y))
    t_loss.backward()
    t_grads = {n: p.grad for n, p in theirs.named_parameters()}
    our_grads = dict(ours.named_grads())
    assert sorted(our_grads) == sorted(t_grads)
    for name, g in our_grads.items():
        if name == "2.bias":  # right before BatchNorm: exactly 0 in theory, rounding noise in practice
            assert np.abs(g).max() <= TOL[np.dtype(dtype)] * np.abs(our_grads["2.weight"]).max()
            continue
        close(g, t_grads[name], f"d{name}")
    for key, value in theirs.state_dict().items():  # the running statistics after one step
        close(ours.state_dict()[key], value, key)

    ours.eval()
    theirs.eval()
    Xe = rng.integers(0, VOCAB, size=(9, BLOCK))
    close(ours(Xe), theirs(torch.from_numpy(Xe)), "logits (eval mode)")


def test_nested_sequential_keys_match_torch(torch):
    ours = nn.Sequential([nn.Sequential([nn.Linear(2, 3, rng=0), nn.Tanh()]), nn.Linear(3, 1, rng=1)])
    theirs = torch.nn.Sequential(torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Tanh()), torch.nn.Linear(3, 1))
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["0.0.weight", "0.0.bias", "1.weight", "1.bias"]
    theirs.double().load_state_dict(to_torch(torch, ours.state_dict()))
    x = np.random.default_rng(0).standard_normal((4, 2))
    close(ours(x), theirs(torch.from_numpy(x)), "nested Sequential")


def test_float32_torch_into_float64_tinynet(torch):
    """Loading converts to the layer's dtype (exactly, for float32 -> float64)."""
    t_lin = torch.nn.Linear(4, 2)  # torch's default float32
    ours = nn.Linear(4, 2)
    ours.load_state_dict(t_lin.state_dict())
    assert ours.weight.dtype == np.float64
    assert np.array_equal(ours.weight, t_lin.weight.detach().numpy().astype(np.float64))
    ours32 = nn.Linear(4, 2, dtype=np.float32)
    ours32.load_state_dict(ours.state_dict())  # float64 -> float32 rounds
    assert ours32.weight.dtype == np.float32
    assert np.array_equal(ours32.weight, t_lin.weight.detach().numpy())


def test_torch_rnn_with_more_layers_is_refused_with_a_hint(torch):
    ours = nn.RNN(3, 4)
    with pytest.raises(ValueError, match=r"unexpected key\(s\) 'weight_ih_l1'.*one layer"):
        ours.load_state_dict(torch.nn.RNN(3, 4, num_layers=2).state_dict())
    with pytest.raises(ValueError, match="missing key.*'bias_ih_l0', 'bias_hh_l0'"):
        ours.load_state_dict(torch.nn.RNN(3, 4, bias=False).state_dict())


# ------------------------------------------------------------------ no torch needed


ALL_LAYERS = {
    "Linear": lambda dt: nn.Linear(3, 2, dtype=dt, rng=0),
    "Linear(bias=False)": lambda dt: nn.Linear(3, 2, bias=False, dtype=dt, rng=0),
    "Tanh": lambda dt: nn.Tanh(),
    "ReLU": lambda dt: nn.ReLU(),
    "Sigmoid": lambda dt: nn.Sigmoid(),
    "Flatten": lambda dt: nn.Flatten(),
    "Embedding": lambda dt: nn.Embedding(5, 3, dtype=dt, rng=0),
    "BatchNorm1d": lambda dt: nn.BatchNorm1d(3, dtype=dt),
    "RNN": lambda dt: nn.RNN(3, 4, dtype=dt, rng=0),
    "Sequential": lambda dt: nn.Sequential([nn.Linear(3, 4, dtype=dt, rng=0), nn.ReLU(),
                                            nn.Sequential([nn.BatchNorm1d(4, dtype=dt)])]),
}
EXPECTED_KEYS = {
    "Linear": ["weight", "bias"],
    "Linear(bias=False)": ["weight"],
    "Tanh": [], "ReLU": [], "Sigmoid": [], "Flatten": [],
    "Embedding": ["weight"],
    "BatchNorm1d": ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"],
    "RNN": ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"],
    "Sequential": ["0.weight", "0.bias", "2.0.weight", "2.0.bias", "2.0.running_mean", "2.0.running_var",
                   "2.0.num_batches_tracked"],
}


@pytest.mark.parametrize("kind", list(ALL_LAYERS))
@pytest.mark.parametrize("dtype", DTYPES)
def test_state_dict_keys_dtypes_and_copies(kind, dtype):
    layer = ALL_LAYERS[kind](dtype)
    state = layer.state_dict()
    assert list(state) == EXPECTED_KEYS[kind]
    for key, value in state.items():
        assert isinstance(value, np.ndarray), key
        assert value.dtype == (np.int64 if key.endswith("num_batches_tracked") else dtype), key
    before = {k: v.copy() for k, v in state.items()}
    for value in state.values():  # mutating the returned arrays does not touch the layer
        value[...] = 99
    for key, value in layer.state_dict().items():
        assert np.array_equal(value, before[key]), key


@pytest.mark.parametrize("kind", list(ALL_LAYERS))
def test_load_state_dict_copies_in_place(kind):
    src, dst = ALL_LAYERS[kind](np.float64), ALL_LAYERS[kind](np.float64)
    for p in src.parameters():
        p[...] = np.random.default_rng(p.size).standard_normal(p.shape)
    live = dst.parameters()
    state = src.state_dict()
    assert dst.load_state_dict(state) is None
    assert all(a is b for a, b in zip(live, dst.parameters())), "parameters must stay the same arrays"
    for key, value in dst.state_dict().items():
        assert np.array_equal(value, state[key]), key
    for value in state.values():  # loading copies: the state dict is not aliased
        value[...] = 42
    assert not any(np.array_equal(v, state[k]) for k, v in dst.state_dict().items() if v.size and k in state
                   and not k.endswith("num_batches_tracked") and not k.endswith("bias_hh_l0"))


def test_load_state_dict_accepts_lists_and_npz(tmp_path):
    layer = nn.Linear(2, 2)
    layer.load_state_dict({"weight": [[1, 2], [3, 4]], "bias": np.array([0.5, -0.5], dtype=np.float32)})
    assert layer.weight.dtype == np.float64 and layer.weight.tolist() == [[1, 2], [3, 4]]
    np.savez(tmp_path / "w.npz", **layer.state_dict())
    other = nn.Linear(2, 2)
    with np.load(tmp_path / "w.npz") as data:  # an NpzFile is a mapping too
        other.load_state_dict(data)
    assert np.array_equal(other.weight, layer.weight) and np.array_equal(other.bias, layer.bias)


def test_refusals_name_keys_and_shapes_and_change_nothing():
    model = ALL_LAYERS["Sequential"](np.float64)
    good = model.state_dict()
    snapshot = {k: v.copy() for k, v in good.items()}

    def refused(state, exc, pattern):
        with pytest.raises(exc, match=pattern):
            model.load_state_dict(state)
        for key, value in model.state_dict().items():
            assert np.array_equal(value, snapshot[key]), f"{key} changed by a refused load"

    changed = {k: v + 1 for k, v in good.items()}  # would change everything, if it got through
    refused({k: v for k, v in changed.items() if k != "0.bias"}, ValueError, r"missing key\(s\) '0\.bias'")
    refused({**changed, "0.weight_extra": 1.0}, ValueError, r"unexpected key\(s\) '0\.weight_extra'")
    refused({**changed, "2.0.running_var": np.ones(5)}, ValueError,
            r"'2\.0\.running_var' of BatchNorm1d\(4.*has shape \(5,\), expected \(4,\)")
    refused({**changed, "0.weight": np.ones((3, 4))}, ValueError,
            r"'0\.weight' .*has shape \(3, 4\), expected \(4, 3\) \(transposed\?.*W\.T")
    refused({**changed, "0.bias": np.ones(4, dtype=complex)}, TypeError, r"'0\.bias' .*complex128")
    refused({**changed, "2.0.num_batches_tracked": -1}, ValueError, "non-negative integer")
    refused([("0.weight", 1)], TypeError, "expected a dict")


def test_rnn_hint_for_tinynet_names():
    with pytest.raises(ValueError, match="weight_ih_l0 is W_xh"):
        nn.RNN(2, 3).load_state_dict(dict(nn.RNN(2, 3).named_parameters()))


def test_no_torch_needed():
    """tinynet, nn, state dicts and save/load with torch unimportable, and torch is never
    imported by them even where it is installed."""
    code = textwrap.dedent("""
        import io, sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name == "torch" or name.startswith("torch."):
                    raise ModuleNotFoundError("torch is blocked for this test", name=name)
        sys.meta_path.insert(0, Block())
        import numpy as np
        import tinynet
        from tinynet import nn
        model = nn.Sequential([nn.Embedding(27, 10, rng=0), nn.Flatten(), nn.Linear(30, 8, rng=1),
                               nn.BatchNorm1d(8), nn.Tanh(), nn.RNN(8, 4, rng=2)])
        state = model.state_dict()
        model.load_state_dict(state)
        buffer = io.BytesIO()
        tinynet.save(buffer, model)
        again = tinynet.load(io.BytesIO(buffer.getvalue()))
        assert list(again.state_dict()) == list(state)
        assert not any(m == "torch" or m.startswith("torch.") for m in sys.modules), "torch was imported"
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
