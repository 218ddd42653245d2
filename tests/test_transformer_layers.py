"""The transformer's layers in tinynet.nn: LayerNorm, GELU, MultiheadAttention,
TransformerEncoderLayer and ModuleList, against their torch.nn namesakes.

* against PyTorch (skipped without it), with the same weights moved by state dict, in
  both engines: the forward output, dx and every parameter's gradient (named_grads(),
  under torch's parameter names) against autograd, within 1e-10 in float64 and 1e-4 in
  float32 (relative to the largest expected value);
  - LayerNorm with and without elementwise_affine and bias, on (B, T, C), (T, C), (C,);
  - GELU, "none" and "tanh", any shape;
  - MultiheadAttention on (B, T, E) with batch_first, (T, B, E) without, and (T, E);
    with and without bias; one head, heads of size 1 and 3; its attention weights
    averaged over the heads and per head (average_attn_weights=False); the causal mask
    given as is_causal=True, a boolean mask or a float one (NumPy or torch);
  - TransformerEncoderLayer with norm_first True and False, activation "relu", "gelu"
    and "gelu_tanh" (torch: F.gelu(x, approximate="tanh")), batch_first True and
    False, unbatched, without bias, a layer_norm_eps of the caller's; torch in training
    mode with src_mask the causal mask and is_causal=True (its plain path);
  - a ModuleList of two blocks held by a model of one's own (a GPT's stack and final
    LayerNorm), its keys "blocks.0.self_attn.in_proj_weight" ..., forward, backward
    and one SGD step against torch.optim.SGD;
* state dicts both ways: torch's keys in torch's order, torch's load_state_dict of ours
  (torch.from_numpy) gives the same outputs, ModuleList's keys "0.…", "1.…";
* the initialisation of MultiheadAttention (Xavier-uniform in_proj_weight, zero biases),
  reproducible by seed;
* without torch: every gradient against central differences (tinynet.gradcheck, < 1e-6);
* lists take the layer's dtype (float32) in forward and backward;
* backward twice after one forward gives the same gradients; the attention weights
  returned are the caller's to change; inputs and dout are never modified;
* bad inputs: errors naming the layer, the argument and the shapes -- a wrong last
  axis, a mask that is not the causal one (or none), dropout other than 0 (also given
  positionally, as torch's MultiheadAttention takes it), embed_dim not a multiple of
  num_heads, backward before forward, a dout of the wrong shape, a dtype that is not
  the layer's, cross-attention and padding masks, ModuleList's forward and backward.
"""
import numpy as np
import pytest

from tinynet import gradcheck, nn, optim

from conftest import ENGINES, assert_close

ENGINE_NAMES = list(ENGINES)
TOL = {np.float64: 1e-10, np.float32: 1e-4}
ACTIVATIONS = ["relu", "gelu", "gelu_tanh"]
# (batch_first, shape of x): (B, T, E) with batch_first, (T, B, E) without, (T, E) unbatched
LAYOUTS = [(True, (3, 5, 8)), (False, (5, 3, 8)), (True, (5, 8))]
LAYOUT_IDS = ["(B,T,E)", "(T,B,E)", "(T,E)"]


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


def torch_dtype(torch, dtype):
    return torch.float64 if dtype == np.float64 else torch.float32


def randomize_(torch, module, seed, scale=0.5):
    """Every parameter of a torch module drawn afresh (biases away from 0, norms' weights
    away from 1, so that each one's role and gradient is seen)."""
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.from_numpy(rng.standard_normal(tuple(p.shape)) * scale))
    return module


def seq_len(batch_first, shape):
    return shape[1] if batch_first and len(shape) == 3 else shape[0]


def causal_mask(torch, T, dtype):
    """torch's float causal mask: -inf above the diagonal, 0 elsewhere."""
    return torch.nn.Transformer.generate_square_subsequent_mask(T, dtype=torch_dtype(torch, dtype))


def assert_matches_torch(torch, ours, theirs, x, dy, call_ours, call_theirs, tol):
    """call_ours(x) and its backward(dy) against call_theirs(xt) and autograd: the
    output, dx and each gradient of ours.named_grads() under torch's parameter names;
    x and dy are not modified."""
    x0, dy0 = x.copy(), dy.copy()
    for p in theirs.parameters():
        p.grad = None
    xt = torch.tensor(x, requires_grad=True)
    yt = call_theirs(xt)
    yt.backward(torch.tensor(dy))
    y = call_ours(x)
    assert_close(y, yt.detach().numpy(), "y", rtol=tol)
    assert_close(ours.backward(dy), xt.grad.numpy(), "dx", rtol=tol)
    theirs_params = dict(theirs.named_parameters())
    assert [name for name, _ in ours.named_grads()] == list(theirs_params)
    for name, g in ours.named_grads():
        assert_close(g, theirs_params[name].grad.numpy(), f"d{name}", rtol=tol)
    assert np.array_equal(x, x0) and np.array_equal(dy, dy0), "forward or backward modified its input"


def inputs(shape, dtype, seed=1):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape).astype(dtype), rng.standard_normal(shape).astype(dtype)


# ------------------------------------------------------------------------- LayerNorm


@pytest.mark.parametrize("engine", ENGINE_NAMES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("affine, bias", [(True, True), (True, False), (False, True)],
                         ids=["affine", "no-bias", "no-affine"])
@pytest.mark.parametrize("shape", [(3, 5, 6), (5, 6), (6,)], ids=["(B,T,C)", "(T,C)", "(C,)"])
def test_layernorm_matches_torch(torch, engine, dtype, affine, bias, shape):
    theirs = torch.nn.LayerNorm(6, eps=1e-4, elementwise_affine=affine, bias=bias,
                                dtype=torch_dtype(torch, dtype))
    randomize_(torch, theirs, seed=2)
    ours = nn.LayerNorm(6, eps=1e-4, elementwise_affine=affine, bias=bias, engine=engine, dtype=dtype)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict(theirs.state_dict())
    x, dy = inputs(shape, dtype)
    x = x * 3 + 1
    assert_matches_torch(torch, ours, theirs, x, dy, ours, theirs, TOL[dtype])


def test_layernorm_parameters_and_defaults():
    ln = nn.LayerNorm((4,))
    assert ln.normalized_shape == (4,) and ln.eps == 1e-5
    assert [n for n, _ in ln.named_parameters()] == ["weight", "bias"]
    assert ln.weight.tolist() == [1.0] * 4 and ln.bias.tolist() == [0.0] * 4
    assert [n for n, _ in nn.LayerNorm(4, bias=False).named_parameters()] == ["weight"]
    plain = nn.LayerNorm(4, elementwise_affine=False)
    assert plain.parameters() == [] and plain.state_dict() == {}
    x = np.array([[1.0, 2.0, 3.0, 6.0]])
    y = plain(x)
    assert_close(y, (x - 3) / np.sqrt(3.5 + 1e-5), "y", rtol=1e-12)
    assert plain.backward(np.ones_like(y)).shape == (1, 4) and plain.grads() == []


# ------------------------------------------------------------------------------ GELU


@pytest.mark.parametrize("engine", ENGINE_NAMES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("approximate", ["none", "tanh"])
@pytest.mark.parametrize("shape", [(3, 5, 7), (11,)])
def test_gelu_matches_torch(torch, engine, dtype, approximate, shape):
    theirs = torch.nn.GELU(approximate=approximate)
    ours = nn.GELU(approximate, engine=engine)
    x, dy = inputs(shape, dtype)
    x = x * 4  # the tails too
    assert_matches_torch(torch, ours, theirs, x, dy, ours, theirs, TOL[dtype])
    assert ours(x).dtype == dtype and ours.parameters() == []


def test_gelu_takes_the_layers_dtype():
    assert nn.GELU(dtype=np.float32)([[0.5, 1]]).dtype == np.float32
    with pytest.raises(TypeError, match=r"GELU\(approximate='tanh'\)\.forward: x is float32 but the layer is float64"):
        nn.GELU("tanh", dtype=np.float64)(np.ones(2, dtype=np.float32))


# ------------------------------------------------------------------ MultiheadAttention


def mha_pair(torch, engine, dtype, batch_first=True, bias=True, E=8, H=2, seed=3):
    """(ours, theirs) with theirs's random weights loaded into ours."""
    theirs = torch.nn.MultiheadAttention(E, H, bias=bias, batch_first=batch_first, dtype=torch_dtype(torch, dtype))
    randomize_(torch, theirs, seed)
    ours = nn.MultiheadAttention(E, H, bias=bias, batch_first=batch_first, engine=engine, dtype=dtype, rng=0)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict(theirs.state_dict())
    return ours, theirs


@pytest.mark.parametrize("engine", ENGINE_NAMES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("batch_first, shape", LAYOUTS + [(False, (5, 8))], ids=LAYOUT_IDS + ["(T,E) not batch_first"])
@pytest.mark.parametrize("bias", [True, False])
def test_mha_matches_torch(torch, engine, dtype, batch_first, shape, bias):
    ours, theirs = mha_pair(torch, engine, dtype, batch_first, bias)
    x, dy = inputs(shape, dtype)
    mask = causal_mask(torch, seq_len(batch_first, shape), dtype)
    tol = TOL[dtype]
    xt = torch.tensor(x)
    for average in (True, False):  # the attention weights, averaged and per head
        out_t, w_t = theirs(xt, xt, xt, attn_mask=mask, is_causal=True, average_attn_weights=average)
        out, w = ours(x, attn_mask=mask.numpy(), is_causal=True, average_attn_weights=average)
        assert_close(out, out_t.detach().numpy(), "out", rtol=tol)
        assert_close(w, w_t.detach().numpy(), f"weights (average_attn_weights={average})", rtol=tol)
    assert_matches_torch(torch, ours, theirs, x, dy, lambda a: ours(a, is_causal=True)[0],
                         lambda a: theirs(a, a, a, attn_mask=mask, is_causal=True, need_weights=False)[0], tol)


@pytest.mark.parametrize("engine", ENGINE_NAMES)
@pytest.mark.parametrize("mask", ["is_causal", "bool", "float", "torch bool", "torch float", "x, x, x"])
def test_mha_takes_the_causal_mask_in_each_form(torch, engine, mask):
    ours, theirs = mha_pair(torch, engine, np.float64, seed=4)
    x, dy = inputs((2, 6, 8), np.float64, seed=5)
    t_mask = causal_mask(torch, 6, np.float64)
    forms = {"is_causal": dict(is_causal=True), "bool": dict(attn_mask=np.triu(np.ones((6, 6), bool), 1)),
             "float": dict(attn_mask=t_mask.numpy()), "torch bool": dict(attn_mask=t_mask.isinf()),
             "torch float": dict(attn_mask=t_mask.float()), "x, x, x": dict(is_causal=True)}
    call_ours = ((lambda a: ours(a, a, a, **forms[mask])[0]) if mask == "x, x, x"
                 else (lambda a: ours(a, **forms[mask])[0]))
    assert_matches_torch(torch, ours, theirs, x, dy, call_ours,
                         lambda a: theirs(a, a, a, attn_mask=t_mask, need_weights=False)[0], 1e-10)


@pytest.mark.parametrize("engine", ENGINE_NAMES)
@pytest.mark.parametrize("E, H", [(8, 1), (8, 8), (12, 3)], ids=["one head", "head size 1", "head size 3"])
def test_mha_head_sizes_match_torch(torch, engine, E, H):
    ours, theirs = mha_pair(torch, engine, np.float64, E=E, H=H, seed=22)
    x, dy = inputs((2, 7, E), np.float64, seed=23)
    mask = causal_mask(torch, 7, np.float64)
    xt = torch.from_numpy(x)
    assert_close(ours(x, is_causal=True, average_attn_weights=False)[1],
                 theirs(xt, xt, xt, attn_mask=mask, average_attn_weights=False)[1].detach().numpy(), "weights",
                 rtol=1e-10)
    assert_matches_torch(torch, ours, theirs, x, dy, lambda a: ours(a, is_causal=True)[0],
                         lambda a: theirs(a, a, a, attn_mask=mask, need_weights=False)[0], 1e-10)


@pytest.mark.parametrize("engine", ENGINE_NAMES)
def test_mha_need_weights_false_and_the_weights_returned_are_a_copy(engine):
    mha = nn.MultiheadAttention(8, 4, engine=engine, rng=6)
    mha.in_proj_bias[...] = np.random.default_rng(7).standard_normal(24)
    x, dy = inputs((2, 5, 8), np.float64, seed=8)
    out, w = mha(x, is_causal=True, need_weights=False)
    assert w is None
    dx = mha.backward(dy)
    grads = [g.copy() for g in mha.grads()]
    out2, w = mha(x, is_causal=True, average_attn_weights=False)
    assert np.array_equal(out2, out) and w.shape == (2, 4, 5, 5)
    assert_close(w.sum(axis=-1), np.ones((2, 4, 5)), "rows of weights", rtol=1e-14)
    w[...] = 0.25  # the caller's to change: the next backward does not see it
    assert np.array_equal(mha.backward(dy), dx)
    for name, g, g0 in zip([n for n, _ in mha.named_grads()], mha.grads(), grads):
        assert np.array_equal(g, g0), name


def test_mha_initialisation():
    E = 16
    a = nn.MultiheadAttention(E, 4, rng=9)
    limit = np.sqrt(6 / (E + 3 * E))  # xavier_uniform_ on (3E, E), as torch
    assert a.in_proj_weight.shape == (3 * E, E) and np.abs(a.in_proj_weight).max() <= limit
    assert np.abs(a.in_proj_weight).max() > 0.9 * limit
    assert not a.in_proj_bias.any() and not a.out_proj.bias.any()
    assert np.abs(a.out_proj.weight).max() <= 1 / np.sqrt(E)  # torch's Linear default
    b = nn.MultiheadAttention(E, 4, rng=9)
    assert all(np.array_equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert [n for n, _ in nn.MultiheadAttention(E, 4, bias=False).named_parameters()] == [
        "in_proj_weight", "out_proj.weight"]


# ------------------------------------------------------------- TransformerEncoderLayer


def torch_activation(torch, name):
    gelu_tanh = lambda t: torch.nn.functional.gelu(t, approximate="tanh")  # noqa: E731
    return {"relu": "relu", "gelu": "gelu", "gelu_tanh": gelu_tanh}[name]


def block_pair(torch, engine, dtype, activation="gelu", norm_first=True, batch_first=True, bias=True, seed=10,
               eps=1e-5):
    """(ours, theirs): torch's TransformerEncoderLayer (dropout 0, training mode: its
    plain path) with random weights, loaded into ours."""
    kw = dict(batch_first=batch_first, norm_first=norm_first, bias=bias, layer_norm_eps=eps)
    theirs = torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, activation=torch_activation(torch, activation),
                                              dtype=torch_dtype(torch, dtype), **kw).train()
    randomize_(torch, theirs, seed)
    ours = nn.TransformerEncoderLayer(8, 2, 16, activation=activation, engine=engine, dtype=dtype, rng=0, **kw)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict(theirs.state_dict())
    return ours, theirs


@pytest.mark.parametrize("engine", ENGINE_NAMES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("norm_first", [True, False], ids=["pre-norm", "post-norm"])
@pytest.mark.parametrize("batch_first, shape", LAYOUTS, ids=LAYOUT_IDS)
def test_encoder_layer_matches_torch(torch, engine, dtype, activation, norm_first, batch_first, shape):
    ours, theirs = block_pair(torch, engine, dtype, activation, norm_first, batch_first)
    x, dy = inputs(shape, dtype, seed=11)
    mask = causal_mask(torch, seq_len(batch_first, shape), dtype)
    assert_matches_torch(torch, ours, theirs, x, dy, lambda a: ours(a, src_mask=mask.numpy(), is_causal=True),
                         lambda a: theirs(a, src_mask=mask, is_causal=True), TOL[dtype])


@pytest.mark.parametrize("engine", ENGINE_NAMES)
@pytest.mark.parametrize("norm_first", [True, False], ids=["pre-norm", "post-norm"])
def test_encoder_layer_without_bias_matches_torch(torch, engine, norm_first):
    """bias=False (in the norms too), and a layer_norm_eps of the caller's."""
    ours, theirs = block_pair(torch, engine, np.float64, "relu", norm_first, bias=False, seed=12, eps=0.5)
    assert ours.norm1.eps == ours.norm2.eps == 0.5
    assert len(ours.state_dict()) == 6  # the four weights and the two norms' weights
    x, dy = inputs((2, 7, 8), np.float64, seed=13)
    mask = causal_mask(torch, 7, np.float64)
    assert_matches_torch(torch, ours, theirs, x, dy, lambda a: ours(a, is_causal=True),
                         lambda a: theirs(a, src_mask=mask, is_causal=True), 1e-10)


@pytest.mark.parametrize("engine", ENGINE_NAMES)
def test_encoder_layer_backward_twice_and_defaults(engine):
    block = nn.TransformerEncoderLayer(8, 2, 16, engine=engine, rng=14)
    assert (block.norm_first, block.batch_first, block.activation_name, block.dim_feedforward) == (True, True,
                                                                                                   "relu", 16)
    assert nn.TransformerEncoderLayer(8, 2).dim_feedforward == 2048  # torch's default
    x, dy = inputs((2, 5, 8), np.float64, seed=15)
    block(x, is_causal=True)
    dx = block.backward(dy)
    first = [g.copy() for g in block.grads()]
    assert len(first) == 12 and all(g is not None for g in first)
    assert np.array_equal(block.backward(dy), dx)  # overwritten, not accumulated
    assert all(np.array_equal(g, g0) for g, g0 in zip(block.grads(), first))
    block.zero_grad()
    assert all(g is None for g in block.grads())


@pytest.mark.parametrize("engine", ENGINE_NAMES)
@pytest.mark.parametrize("layer", [
    lambda e: nn.LayerNorm(8, engine=e, dtype=np.float32),
    lambda e: nn.GELU(engine=e, dtype=np.float32),
    lambda e: nn.MultiheadAttention(8, 2, engine=e, dtype=np.float32, rng=24),
    lambda e: nn.MultiheadAttention(8, 2, batch_first=False, engine=e, dtype=np.float32, rng=24),
    lambda e: nn.TransformerEncoderLayer(8, 2, 16, engine=e, dtype=np.float32, rng=24),
    lambda e: nn.TransformerEncoderLayer(8, 2, 16, batch_first=False, engine=e, dtype=np.float32, rng=24),
], ids=["LayerNorm", "GELU", "MultiheadAttention", "MultiheadAttention (T, B, E)", "TransformerEncoderLayer",
        "TransformerEncoderLayer (T, B, E)"])
def test_float32_layers_take_lists(engine, layer):
    """Lists take the layer's dtype, in forward and in backward: the same results as
    float32 arrays."""
    layer = layer(engine)
    kw = {} if isinstance(layer, (nn.LayerNorm, nn.GELU)) else dict(is_causal=True)
    x, dy = inputs((2, 3, 8), np.float32, seed=25)
    first = lambda out: out[0] if isinstance(out, tuple) else out  # noqa: E731
    y, dx = first(layer(x, **kw)), layer.backward(dy)
    y_list = first(layer(x.tolist(), **kw))
    assert y_list.dtype == np.float32 and np.array_equal(y_list, y)
    dx_list = layer.backward(dy.tolist())
    assert dx_list.dtype == np.float32 and np.array_equal(dx_list, dx)


# ------------------------------------------------- gradients by finite differences (no torch)


def gradcheck_layer(layer, x, call, seed=26):
    """tinynet.gradcheck of L = sum(R * call(x)) over every parameter and x."""
    R = np.random.default_rng(seed).standard_normal(np.shape(call(x)))
    saved = {n: p.copy() for n, p in layer.named_parameters()}

    def f(**kw):
        for n, p in layer.named_parameters():
            p[...] = kw[n]
        loss = float(np.sum(R * call(kw["x"])))
        dx = layer.backward(R)
        return loss, dict(layer.named_grads(), x=dx)

    errors = gradcheck(f, dict(saved, x=x))
    for n, p in layer.named_parameters():
        p[...] = saved[n]
    assert set(errors) == set(saved) | {"x"}
    bad = {k: v for k, v in errors.items() if not v < 1e-6}
    assert not bad, f"gradcheck errors above 1e-6: {bad}"


@pytest.mark.parametrize("engine", ENGINE_NAMES)
@pytest.mark.parametrize("make, call", [
    (lambda e, g: nn.LayerNorm(6, engine=e), lambda layer: layer),
    (lambda e, g: nn.LayerNorm(6, elementwise_affine=False, engine=e), lambda layer: layer),
    (lambda e, g: nn.GELU("tanh", engine=e), lambda layer: layer),
    (lambda e, g: nn.MultiheadAttention(6, 3, batch_first=False, engine=e, rng=g),
     lambda layer: lambda x: layer(x, is_causal=True)[0]),
    (lambda e, g: nn.TransformerEncoderLayer(6, 2, 10, activation="gelu", engine=e, rng=g),
     lambda layer: lambda x: layer(x, is_causal=True)),
    (lambda e, g: nn.TransformerEncoderLayer(6, 2, 10, activation="gelu_tanh", norm_first=False, engine=e, rng=g),
     lambda layer: lambda x: layer(x, is_causal=True)),
], ids=["LayerNorm", "LayerNorm no affine", "GELU", "MultiheadAttention", "pre-norm block", "post-norm block"])
def test_gradients_by_finite_differences(engine, make, call):
    g = np.random.default_rng(27)
    layer = make(engine, g)
    for p in layer.parameters():  # biases away from 0, norms' weights away from 1
        p[...] += g.standard_normal(p.shape) * 0.3
    gradcheck_layer(layer, g.standard_normal((2, 4, 6)), call(layer))


# ---------------------------------------------------------------- state dicts both ways


def our_layers(engine, dtype):
    """One of each layer, with parameters drawn away from their initial values."""
    rng = np.random.default_rng(16)
    layers = {
        "LayerNorm": nn.LayerNorm(8, engine=engine, dtype=dtype),
        "LayerNorm no bias": nn.LayerNorm(8, bias=False, engine=engine, dtype=dtype),
        "MultiheadAttention": nn.MultiheadAttention(8, 2, engine=engine, dtype=dtype, rng=rng),
        "TransformerEncoderLayer": nn.TransformerEncoderLayer(8, 2, 16, activation="gelu_tanh", engine=engine,
                                                              dtype=dtype, rng=rng),
        "post-norm TransformerEncoderLayer": nn.TransformerEncoderLayer(8, 2, 16, norm_first=False, engine=engine,
                                                                        dtype=dtype, rng=rng),
    }
    for layer in layers.values():
        for p in layer.parameters():
            p[...] = rng.standard_normal(p.shape) * 0.5
    return layers


def their_layer(torch, name, dtype):
    kw = dict(dtype=torch_dtype(torch, dtype))
    if name.startswith("LayerNorm"):
        return torch.nn.LayerNorm(8, bias=name == "LayerNorm", **kw)
    if name == "MultiheadAttention":
        return torch.nn.MultiheadAttention(8, 2, batch_first=True, **kw)
    post = name.startswith("post")
    return torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True, norm_first=not post,
                                            activation=torch_activation(torch, "relu" if post else "gelu_tanh"), **kw)


def forward_both(torch, name, ours, theirs, x):
    if name.startswith("LayerNorm"):
        return ours(x), theirs(torch.from_numpy(x))
    mask = causal_mask(torch, x.shape[1], x.dtype)
    if name == "MultiheadAttention":
        xt = torch.from_numpy(x)
        return ours(x, is_causal=True)[0], theirs(xt, xt, xt, attn_mask=mask, is_causal=True)[0]
    return ours(x, is_causal=True), theirs.train()(torch.from_numpy(x), src_mask=mask, is_causal=True)


@pytest.mark.parametrize("engine", ENGINE_NAMES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", list(our_layers("c", np.float64)))
def test_torch_loads_our_state_dict(torch, engine, dtype, name):
    ours = our_layers(engine, dtype)[name]
    theirs = their_layer(torch, name, dtype)
    state = ours.state_dict()
    assert list(state) == list(theirs.state_dict())
    assert all(v.dtype == dtype for v in state.values())
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    for k, v in theirs.state_dict().items():
        assert np.array_equal(v.numpy(), state[k]), k
    x = np.random.default_rng(17).standard_normal((2, 5, 8)).astype(dtype)
    with torch.no_grad():
        y, yt = forward_both(torch, name, ours, theirs, x)
    assert_close(y, yt.numpy(), "y", rtol=TOL[dtype])
    # and back: a layer with other weights takes torch's (tensors), bit for bit
    other = our_layers(engine, dtype)[name]
    for p in other.parameters():
        p[...] = 0
    other.load_state_dict(theirs.state_dict())
    assert all(np.array_equal(a, b) for a, b in zip(other.parameters(), ours.parameters()))


# ------------------------------------------------------------------------- ModuleList


class Stack(nn.Module):
    """A GPT's stack of blocks and its final LayerNorm, as a model of one's own holding
    a ModuleList: it runs the blocks in turn, and their backward in reverse."""

    def __init__(self, n_blocks, engine="c", dtype=np.float64, rng=0):
        super().__init__(engine=engine, dtype=dtype)
        g = np.random.default_rng(rng)
        self.blocks = nn.ModuleList([nn.TransformerEncoderLayer(8, 2, 16, activation="gelu", engine=engine,
                                                                dtype=dtype, rng=g) for _ in range(n_blocks)])
        self.ln_f = nn.LayerNorm(8, engine=engine, dtype=dtype)

    def forward(self, x):
        for block in self.blocks:
            x = block(x, is_causal=True)
        return self.ln_f(x)

    def backward(self, dout):
        dout = self.ln_f.backward(dout)
        for block in reversed(self.blocks):
            dout = block.backward(dout)
        return dout


def torch_stack(torch, n_blocks):
    class TorchStack(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = torch.nn.ModuleList([
                torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, activation="gelu", batch_first=True,
                                                 norm_first=True, dtype=torch.float64) for _ in range(n_blocks)])
            self.ln_f = torch.nn.LayerNorm(8, dtype=torch.float64)

        def forward(self, x):
            mask = causal_mask(torch, x.shape[1], np.float64)
            for block in self.blocks:
                x = block(x, src_mask=mask, is_causal=True)
            return self.ln_f(x)

    return TorchStack()


@pytest.mark.parametrize("engine", ENGINE_NAMES)
def test_modulelist_stack_matches_torch(torch, engine):
    theirs = randomize_(torch, torch_stack(torch, 2), seed=18)
    ours = Stack(2, engine)
    keys = list(ours.state_dict())
    assert keys == list(theirs.state_dict()) and len(keys) == 26
    assert keys[0] == "blocks.0.self_attn.in_proj_weight" and keys[12] == "blocks.1.self_attn.in_proj_weight"
    ours.load_state_dict(theirs.state_dict())
    x, dy = inputs((3, 6, 8), np.float64, seed=19)
    assert_matches_torch(torch, ours, theirs, x, dy, ours, theirs, 1e-10)
    # one SGD step of each: the same parameters after it
    optim.SGD(ours, lr=0.1, momentum=0.9).step()
    torch.optim.SGD(theirs.parameters(), lr=0.1, momentum=0.9).step()
    assert_close(ours.state_dict(), {k: v.numpy() for k, v in theirs.state_dict().items()}, "after a step",
                 rtol=1e-10)
    # and torch takes ours back
    fresh = torch_stack(torch, 2)
    fresh.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    with torch.no_grad():
        assert_close(ours(x), fresh(torch.from_numpy(x)).numpy(), "y after the step", rtol=1e-10)


def test_modulelist_is_a_list_of_layers(torch):
    layers = [nn.Linear(3, 4, rng=20), nn.LayerNorm(4), nn.GELU()]
    ml = nn.ModuleList(layers[:2])
    assert ml.append(layers[2]) is ml
    assert len(ml) == 3 and list(ml) == layers and ml[1] is layers[1] and ml[-1] is layers[2]
    assert isinstance(ml[:2], nn.ModuleList) and list(ml[:2]) == layers[:2]
    assert [n for n, _ in ml.named_parameters()] == ["0.weight", "0.bias", "1.weight", "1.bias"]
    f64 = dict(dtype=torch.float64)
    theirs = torch.nn.ModuleList([torch.nn.Linear(3, 4, **f64), torch.nn.LayerNorm(4, **f64), torch.nn.GELU()])
    randomize_(torch, theirs, seed=21)
    assert list(ml.state_dict()) == list(theirs.state_dict())
    ml.load_state_dict(theirs.state_dict())
    assert all(np.array_equal(p, t.detach().numpy()) for p, t in zip(ml.parameters(), theirs.parameters()))
    theirs.load_state_dict({k: torch.from_numpy(v * 2) for k, v in ml.state_dict().items()})
    assert all(np.array_equal(p * 2, t.detach().numpy()) for p, t in zip(ml.parameters(), theirs.parameters()))
    ml.eval()
    assert not any(layer.training for layer in layers)
    ml.train()
    assert all(layer.training for layer in layers)
    x = np.ones((2, 3))
    for layer in ml:
        x = layer(x)
    for layer in reversed(ml):
        x = layer.backward(np.ones_like(x) if x.shape == (2, 4) else x)
    assert all(g is not None for g in ml.grads())
    ml.zero_grad()
    assert all(g is None for g in ml.grads())
    assert repr(nn.ModuleList()) == "ModuleList()" and "(2): GELU" in repr(ml)


# ------------------------------------------------------------------------ bad inputs


def used(layer, x, **kw):
    """The layer after one forward pass (for the backward errors)."""
    layer(x, **kw)
    return layer


X = np.ones((2, 5, 8))
CAUSAL = np.triu(np.ones((5, 5), bool), 1)
MHA = r"MultiheadAttention\(8, 2, bias=True, batch_first=True\)"
BLOCK = r"TransformerEncoderLayer\(8, 2, dim_feedforward=16, activation='relu', norm_first=True\)"


@pytest.mark.parametrize("make, exc, message", [
    (lambda: nn.LayerNorm(8)(np.ones((2, 7))), ValueError,
     r"LayerNorm\(\(8,\).*forward: x has shape \(2, 7\), expected \(\.\.\., 8\)"),
    (lambda: nn.LayerNorm(8, elementwise_affine=False)(np.ones((2, 7))), ValueError,
     r"LayerNorm\(\(8,\).*forward: x has shape \(2, 7\), expected \(\.\.\., 8\)"),
    (lambda: nn.LayerNorm(8)(np.float64(1.0)), ValueError, r"x has shape \(\), expected \(\.\.\., 8\)"),
    (lambda: nn.LayerNorm((2, 8)), ValueError, r"normalized_shape \(2, 8\).*one size"),
    (lambda: nn.LayerNorm(8)(np.ones(8, np.float32)), TypeError, r"LayerNorm.*x is float32 but the layer is float64"),
    (lambda: nn.LayerNorm(8, elementwise_affine=False)(np.ones(8, np.float32)), TypeError, "x is float32"),
    (lambda: nn.GELU("exact"), ValueError, r'approximate must be "none" or "tanh", got .exact.'),
    (lambda: nn.MultiheadAttention(8, 2)(np.ones((2, 5, 7)), is_causal=True), ValueError,
     MHA + r"\.forward: query has shape \(2, 5, 7\), expected \(B, T, E\) or \(T, E\) with E = 8"),
    (lambda: nn.MultiheadAttention(8, 2, batch_first=False)(np.ones(8), is_causal=True), ValueError,
     r"query has shape \(8,\), expected \(T, B, E\) or \(T, E\) with E = 8"),
    (lambda: nn.MultiheadAttention(8, 2)(np.ones((1, 2, 5, 8)), is_causal=True), ValueError,
     r"query has shape \(1, 2, 5, 8\)"),
    (lambda: nn.MultiheadAttention(8, 2)(np.ones((2, 5, 8), np.float32), is_causal=True), TypeError,
     MHA + r"\.forward: query is float32 but the layer is float64"),
    (lambda: nn.MultiheadAttention(8, 2)(X), ValueError, MHA + r"\.forward: .*causal: pass is_causal=True"),
    (lambda: nn.MultiheadAttention(8, 2)(X, attn_mask=CAUSAL.T), ValueError,
     r"attn_mask of shape \(5, 5\) is not the causal mask of T = 5"),
    (lambda: nn.MultiheadAttention(8, 2)(X, attn_mask=np.zeros((5, 5))), ValueError, "attn_mask .* not the causal"),
    (lambda: nn.MultiheadAttention(8, 2)(X, attn_mask=np.where(CAUSAL, -1e9, 0.0)), ValueError,
     "attn_mask .* not the causal"),
    (lambda: nn.MultiheadAttention(8, 2)(X, attn_mask=CAUSAL[:4, :4], is_causal=True), ValueError,
     r"attn_mask of shape \(4, 4\) is not the causal mask of T = 5"),
    (lambda: nn.MultiheadAttention(8, 2)(X, attn_mask=CAUSAL.astype(int)), ValueError, "attn_mask .* not the causal"),
    (lambda: nn.MultiheadAttention(8, 2)(X, X.copy(), X, is_causal=True), ValueError, "self-attention: key and value"),
    (lambda: nn.MultiheadAttention(8, 2)(X, key_padding_mask=np.zeros((2, 5), bool), is_causal=True), ValueError,
     "key_padding_mask is not supported"),
    (lambda: nn.MultiheadAttention(8, 3), ValueError, "embed_dim = 8 is not a multiple of num_heads = 3"),
    (lambda: nn.MultiheadAttention(8, 0), ValueError, "num_heads must be >= 1"),
    (lambda: nn.MultiheadAttention(8, 2, dropout=0.1), ValueError, "dropout must be 0.*got 0.1"),
    (lambda: nn.MultiheadAttention(8, 2, 0.1), TypeError, "bias must be True or False, got 0.1.*dropout"),
    (lambda: nn.MultiheadAttention(8, 2, 0.0), TypeError, "bias must be True or False, got 0.0.*dropout"),
    (lambda: nn.TransformerEncoderLayer(8, 2, 16, 0.1), ValueError,
     r"TransformerEncoderLayer: dropout must be 0 \(tinynet has no dropout\), got 0.1"),
    (lambda: nn.TransformerEncoderLayer(8, 3, 16), ValueError, "d_model = 8 is not a multiple of nhead = 3"),
    (lambda: nn.TransformerEncoderLayer(8, 2, 16, bias=1), TypeError,
     r"TransformerEncoderLayer: bias must be True or False, got 1$"),
    (lambda: nn.TransformerEncoderLayer(8, 2, 16, activation="tanh"), ValueError,
     "activation must be one of 'relu', 'gelu', 'gelu_tanh'; got 'tanh'"),
    (lambda: nn.TransformerEncoderLayer(8, 2, 16)(np.ones((2, 5, 7)), is_causal=True), ValueError,
     BLOCK + r"\.forward: src has shape \(2, 5, 7\), expected \(B, T, E\) or \(T, E\) with E = 8"),
    (lambda: nn.TransformerEncoderLayer(8, 2, 16)(X), ValueError,
     BLOCK + r"\.forward: .*causal: pass is_causal=True or the causal src_mask"),
    (lambda: nn.TransformerEncoderLayer(8, 2, 16)(X, src_mask=np.zeros((5, 5)), is_causal=True), ValueError,
     r"src_mask of shape \(5, 5\) is not the causal mask of T = 5"),
    (lambda: nn.TransformerEncoderLayer(8, 2, 16, batch_first=False)(X, src_mask=CAUSAL), ValueError,
     r"src_mask of shape \(5, 5\) is not the causal mask of T = 2"),
    (lambda: nn.TransformerEncoderLayer(8, 2, 16)(X, src_key_padding_mask=np.zeros((2, 5), bool), is_causal=True),
     ValueError, "src_key_padding_mask is not supported"),
    (lambda: nn.ModuleList([nn.Linear(2, 2), np.ones(2)]), TypeError, "layer 1 is a ndarray, not a tinynet.nn layer"),
    (lambda: nn.ModuleList([nn.Linear(2, 2)])(np.ones(2)), TypeError, "ModuleList has no forward"),
    (lambda: nn.ModuleList([nn.Linear(2, 2)]).backward(np.ones(2)), TypeError, "ModuleList has no backward"),
])
def test_bad_arguments(make, exc, message):
    with pytest.raises(exc, match=message):
        make()


@pytest.mark.parametrize("layer, dout", [
    (nn.LayerNorm(8), X), (nn.GELU(), X), (nn.MultiheadAttention(8, 2), X), (nn.TransformerEncoderLayer(8, 2, 16), X),
], ids=lambda v: type(v).__name__)
def test_backward_before_forward(layer, dout):
    with pytest.raises(ValueError, match=rf"{type(layer).__name__}\(.*\.backward: called before forward"):
        layer.backward(dout)


@pytest.mark.parametrize("layer, dout, message", [
    (used(nn.LayerNorm(8), X), np.ones((2, 5, 7)), r"LayerNorm\(.*dout has shape \(2, 5, 7\), expected \(2, 5, 8\)"),
    (used(nn.GELU(), X), np.ones((5, 2, 8)), r"GELU\(.*dout has shape \(5, 2, 8\), expected \(2, 5, 8\)"),
    (used(nn.MultiheadAttention(8, 2), X, is_causal=True), np.ones((2, 5, 7)),
     MHA + r"\.backward: dout has shape \(2, 5, 7\), expected \(2, 5, 8\)"),
    (used(nn.MultiheadAttention(8, 2, batch_first=False), X, attn_mask=CAUSAL[:2, :2]), np.ones((5, 2, 8)),
     r"batch_first=False\)\.backward: dout has shape \(5, 2, 8\), expected \(2, 5, 8\)"),  # X is (T, B, E) here
    (used(nn.TransformerEncoderLayer(8, 2, 16), X, is_causal=True), np.ones((2, 4, 8)),
     BLOCK + r"\.backward: dout has shape \(2, 4, 8\), expected \(2, 5, 8\)"),
], ids=["LayerNorm", "GELU", "MultiheadAttention", "MultiheadAttention (T, B, E)", "TransformerEncoderLayer"])
def test_backward_wrong_dout_shape(layer, dout, message):
    with pytest.raises(ValueError, match=message):
        layer.backward(dout)
