"""tinynet.save / tinynet.load: a model as a plain .npz (state-dict arrays plus the
architecture as JSON), read back without pickle.

* round trips of every layer type, nested Sequentials, both dtypes and both engines give
  the same types, constructor arguments, modes, parameters and buffers bit for bit, and
  bit-identical outputs; so do the transformer layers (GELU, LayerNorm,
  MultiheadAttention, TransformerEncoderLayer) in a ModuleList, the modes of their
  sublayers included;
* the layers saved before keep their saved form, and a file written then loads;
* the file is an ordinary .npz that NumPy reads with allow_pickle=False, at exactly the
  given path (or a file object);
* load refuses, with a ValueError that says why, files that are not .npz archives, .npz
  archives that are not tinynet saves, pickled entries (never unpickled), unknown layers,
  bad arguments (naming the layer), other versions, and arrays whose keys, shapes or
  dtypes do not fit; save refuses, with a TypeError, what load could not rebuild (a
  Module subclass of the user's, tinynet.recipes.GPT).
"""
import io
import json
import pathlib

import numpy as np
import pytest

import tinynet
from tinynet import nn

from conftest import DTYPES, ENGINES

ENGINE_NAMES = list(ENGINES)


def every_layer(dtype, engine):
    """One model using every layer type, nested, with non-default arguments."""
    kw = dict(dtype=dtype, engine=engine)
    return nn.Sequential([
        nn.Embedding(27, 6, init="xavier_uniform", rng=0, **kw),
        nn.Flatten(start_dim=1, end_dim=-1, engine=engine),
        nn.Linear(18, 12, bias=False, init="kaiming_normal", rng=1, **kw),
        nn.BatchNorm1d(12, eps=1e-3, momentum=None, correction=1, **kw),
        nn.Tanh(engine=engine, dtype=dtype),
        nn.Sequential([nn.Linear(12, 8, rng=2, **kw), nn.ReLU(engine=engine), nn.Sigmoid(engine=engine)]),
        nn.Linear(8, 5, rng=3, **kw),
    ])


def trained(model, rng):
    """A few SGD steps, so every parameter and running statistic is non-default."""
    for _ in range(3):
        X = rng.integers(0, 27, size=(16, 3))
        out = model(X)
        loss, probs = model.layers[0].tn.cross_entropy_forward(out, rng.integers(0, 5, size=16))
        model.backward(model.layers[0].tn.cross_entropy_backward(probs, rng.integers(0, 5, size=16)))
        for p, g in zip(model.parameters(), model.grads()):
            p -= 0.5 * g
    return model


def roundtrip(model, tmp_path, name="model.npz"):
    path = tmp_path / name
    assert tinynet.save(path, model) is None
    return tinynet.load(path)


ATTRIBUTES = ("init", "bptt_steps", "eps", "momentum", "correction", "start_dim", "end_dim", "channels_last", "n",
              "approximate", "normalized_shape", "elementwise_affine", "embed_dim", "num_heads", "batch_first",
              "d_model", "nhead", "dim_feedforward", "dropout", "activation_name", "layer_norm_eps", "norm_first")


def assert_same_model(a, b):
    assert repr(a) == repr(b)  # the types and constructor arguments
    assert type(a) is type(b) and a.training == b.training
    if isinstance(a, (nn.Sequential, nn.ModuleList)):
        assert len(a.layers) == len(b.layers)
        for x, y in zip(a.layers, b.layers):
            assert_same_model(x, y)
        return
    assert (a.engine, a.dtype) == (b.engine, b.dtype)
    for attr in ATTRIBUTES:
        assert getattr(a, attr, None) == getattr(b, attr, None), attr
    assert [(n, m.training, m.engine, m.dtype) for n, m in a._submodules()] == \
        [(n, m.training, m.engine, m.dtype) for n, m in b._submodules()]
    for (_, x), (_, y) in zip(a._submodules(), b._submodules()):
        assert_same_model(x, y)
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for key in sa:
        assert sa[key].dtype == sb[key].dtype and sa[key].shape == sb[key].shape, key
        assert sa[key].tobytes() == sb[key].tobytes(), f"{key} differs"  # bit for bit


@pytest.mark.parametrize("engine", ENGINE_NAMES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_roundtrip_every_layer_nested(tmp_path, engine, dtype):
    rng = np.random.default_rng(0)
    model = trained(every_layer(dtype, engine), rng)
    model.layers[3].eval()  # mixed modes survive too
    again = roundtrip(model, tmp_path)
    assert_same_model(model, again)
    X = rng.integers(0, 27, size=(10, 3))
    assert model(X).tobytes() == again(X).tobytes()
    model.train()
    again.train()
    assert model(X).tobytes() == again(X).tobytes()  # train mode, and the running stats it updates
    assert_same_model(model, again)


SINGLE = {
    "Linear": lambda kw: nn.Linear(4, 3, rng=0, **kw),
    "Tanh": lambda kw: nn.Tanh(**kw),
    "ReLU": lambda kw: nn.ReLU(**kw),
    "Sigmoid": lambda kw: nn.Sigmoid(**kw),
    "Flatten": lambda kw: nn.Flatten(0, 1, **kw),
    "Embedding": lambda kw: nn.Embedding(9, 4, rng=0, **kw),
    "BatchNorm1d": lambda kw: nn.BatchNorm1d(4, momentum=0.3, **kw),
    "FlattenConsecutive": lambda kw: nn.FlattenConsecutive(2, **kw),
    "BatchNorm1d-channels-last": lambda kw: nn.BatchNorm1d(3, correction=1, channels_last=True, **kw),
    "RNN": lambda kw: nn.RNN(4, 5, bptt_steps=3, init="xavier_uniform", rng=0, **kw),
    "empty Sequential": lambda kw: nn.Sequential([]),
}


@pytest.mark.parametrize("kind", list(SINGLE))
@pytest.mark.parametrize("dtype", DTYPES)
def test_roundtrip_each_layer(tmp_path, kind, dtype):
    model = SINGLE[kind](dict(dtype=dtype, engine="numpy"))
    for p in model.parameters():
        p[...] = np.random.default_rng(p.size).standard_normal(p.shape)
    again = roundtrip(model, tmp_path)
    assert_same_model(model, again)
    sequence = np.linspace(-2, 2, 24).reshape(2, 4, 3)  # (B, T, C)
    x = {"Embedding": np.array([[1, 8]]), "RNN": np.array([[1], [3]]), "FlattenConsecutive": sequence,
         "BatchNorm1d-channels-last": sequence}.get(kind, np.linspace(-2, 2, 8).reshape(2, 4))
    if kind != "empty Sequential":
        x = x if x.dtype.kind == "i" else x.astype(dtype)
        assert model(x).tobytes() == again(x).tobytes()


def test_file_from_before_channels_last_loads_with_the_default(tmp_path):
    """A BatchNorm1d saved before channels_last existed (no such argument in the file)
    loads as BatchNorm1d(..., channels_last=False)."""
    arrays = saved(tmp_path)

    def drop(meta):
        del meta["model"]["layers"][1]["args"]["channels_last"]

    back = tinynet.load(write(tmp_path, with_meta(arrays, drop)))
    assert back.layers[1].channels_last is False
    assert_same_model(back, tinynet.load(write(tmp_path, arrays, "as-saved.npz")))


# ------------------------------------------------------------- transformer layers


def transformer(dtype, engine):
    """A ModuleList of every transformer layer, with non-default arguments, as a GPT holds
    its blocks."""
    kw = dict(dtype=dtype, engine=engine)
    return nn.ModuleList([
        nn.TransformerEncoderLayer(8, 2, 16, activation="gelu_tanh", rng=0, **kw),
        nn.TransformerEncoderLayer(8, 4, 12, dropout=0, activation="gelu", layer_norm_eps=1e-6, batch_first=False,
                                   norm_first=False, bias=False, rng=1, **kw),
        nn.MultiheadAttention(8, 2, bias=False, batch_first=False, rng=2, **kw),
        nn.LayerNorm(8, eps=1e-4, bias=False, **kw),
        nn.Sequential([nn.Linear(8, 6, rng=3, **kw), nn.GELU("tanh", engine=engine), nn.LayerNorm((6,), **kw),
                       nn.GELU(engine=engine, dtype=dtype), nn.LayerNorm(6, elementwise_affine=False, **kw)]),
    ])


def run(blocks, x):
    for layer in blocks:
        if isinstance(layer, nn.TransformerEncoderLayer):
            x = layer(x, is_causal=True)
        elif isinstance(layer, nn.MultiheadAttention):
            x = x + layer(x, is_causal=True)[0]
        else:
            x = layer(x)
    return x


def randomized(model, seed=0):
    """Every parameter drawn at random (none left at its initial ones and zeros)."""
    rng = np.random.default_rng(seed)
    for p in model.parameters():
        p[...] = rng.standard_normal(p.shape)
    return model


@pytest.mark.parametrize("engine", ENGINE_NAMES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_roundtrip_transformer_layers_in_a_module_list(tmp_path, engine, dtype):
    model = randomized(transformer(dtype, engine))
    model[3].eval()
    model[0].norm2.eval()  # a sublayer in another mode than its layer
    model[1].eval()
    model[1].self_attn.train()
    model[1].self_attn.out_proj.eval()  # as its layer's, not as its parent's
    model[4][1].eval()
    again = roundtrip(model, tmp_path)
    assert_same_model(model, again)
    assert again[0].norm2.training is False and again[1].self_attn.training is True
    assert again[1].self_attn.out_proj.training is False and again[0].self_attn.training is True
    x = np.random.default_rng(1).standard_normal((2, 5, 8)).astype(dtype)
    assert run(model, x).tobytes() == run(again, x).tobytes()
    model.eval()
    again.eval()
    assert run(model, x).tobytes() == run(again, x).tobytes()
    assert_same_model(model, again)
    nested = nn.Sequential([nn.ModuleList([model, nn.ModuleList([])]), nn.GELU()])
    assert_same_model(nested, roundtrip(nested, tmp_path, "nested.npz"))


TRANSFORMER_LAYERS = {
    "GELU": lambda kw: nn.GELU(**kw),
    "GELU-tanh": lambda kw: nn.GELU(approximate="tanh", **kw),
    "LayerNorm": lambda kw: nn.LayerNorm(4, eps=1e-3, **kw),
    "LayerNorm-no-bias": lambda kw: nn.LayerNorm([4], bias=False, **kw),
    "LayerNorm-no-affine": lambda kw: nn.LayerNorm(4, elementwise_affine=False, **kw),
    "MultiheadAttention": lambda kw: nn.MultiheadAttention(4, 2, rng=0, **kw),
    "MultiheadAttention-time-major": lambda kw: nn.MultiheadAttention(4, 4, bias=False, batch_first=False, rng=0,
                                                                      **kw),
    "TransformerEncoderLayer": lambda kw: nn.TransformerEncoderLayer(4, 2, 8, rng=0, **kw),
    "TransformerEncoderLayer-post-norm": lambda kw: nn.TransformerEncoderLayer(
        4, 1, 3, activation="gelu", layer_norm_eps=0.01, batch_first=False, norm_first=False, bias=False, rng=0, **kw),
    "empty ModuleList": lambda kw: nn.ModuleList(),
}


@pytest.mark.parametrize("kind", list(TRANSFORMER_LAYERS))
@pytest.mark.parametrize("engine", ENGINE_NAMES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_roundtrip_each_transformer_layer(tmp_path, kind, engine, dtype):
    layer = randomized(TRANSFORMER_LAYERS[kind](dict(dtype=dtype, engine=engine)))
    again = roundtrip(layer, tmp_path)
    assert_same_model(layer, again)
    x = np.linspace(-2, 2, 24, dtype=dtype).reshape(2, 3, 4)
    pair = (layer, again) if isinstance(layer, nn.ModuleList) else ([layer], [again])  # a ModuleList: its layers
    assert run(pair[0], x).tobytes() == run(pair[1], x).tobytes()


def test_transformer_layers_saved_form(tmp_path):
    """The arguments as the constructors take them; a TransformerEncoderLayer's sublayers
    are described by its arguments (their modes only where they differ from its own)."""
    block = nn.TransformerEncoderLayer(4, 2, 8, activation="gelu_tanh", rng=0)
    model = nn.ModuleList([block, nn.LayerNorm(4, dtype=np.float32), nn.GELU("tanh")])
    arrays = saved(tmp_path, model)
    assert sorted(arrays) == sorted(list(model.state_dict()) + ["__tinynet__"])
    described = json.loads(str(arrays["__tinynet__"]))["model"]
    assert described == {"type": "ModuleList", "training": True, "layers": [
        {"type": "TransformerEncoderLayer", "training": True, "args": {
            "d_model": 4, "nhead": 2, "dim_feedforward": 8, "dropout": 0.0, "activation": "gelu_tanh",
            "layer_norm_eps": 1e-5, "batch_first": True, "norm_first": True, "bias": True, "engine": "c",
            "dtype": "float64"}},
        {"type": "LayerNorm", "training": True, "args": {
            "normalized_shape": [4], "eps": 1e-5, "elementwise_affine": True, "bias": True, "engine": "c",
            "dtype": "float32"}},
        {"type": "GELU", "training": True, "args": {"approximate": "tanh", "engine": "c", "dtype": None}}]}
    block.eval()
    block.norm1.train()
    described = json.loads(str(saved(tmp_path, model)["__tinynet__"]))["model"]["layers"][0]
    assert described["training"] is False and described["sublayer_training"] == {"norm1": True}
    assert (block.dropout, block.layer_norm_eps, block.bias) == (0.0, 1e-5, True)  # kept for save


OLD_FILE = {"format": "tinynet.nn", "version": 1, "tinynet_version": "0.1.0", "model": {
    "type": "Sequential", "training": True, "layers": [
        {"type": "Linear", "training": True, "args": {"in_features": 3, "out_features": 4, "bias": False,
                                                      "engine": "numpy", "dtype": "float32", "init": "pytorch"}},
        {"type": "BatchNorm1d", "training": False, "args": {"num_features": 4, "eps": 1e-05, "momentum": None,
                                                            "correction": 0, "engine": "c", "dtype": "float32"}},
        {"type": "Tanh", "training": True, "args": {"engine": "c", "dtype": None}},
        {"type": "LSTM", "training": True, "args": {"input_size": 4, "hidden_size": 2, "bias": True, "engine": "c",
                                                    "dtype": "float64", "init": "xavier_uniform"}}]}}


def test_file_written_before_the_transformer_layers_loads_and_saves_alike(tmp_path):
    """A file as tinynet wrote it before (BatchNorm1d without channels_last, then) loads,
    and saving the model again writes the layers as before."""
    model = nn.Sequential([nn.Linear(3, 4, bias=False, engine="numpy", dtype=np.float32, rng=0),
                           nn.BatchNorm1d(4, momentum=None, dtype=np.float32).eval(),
                           nn.Tanh(), nn.LSTM(4, 2, init="xavier_uniform", rng=0)])
    arrays = {**randomized(model).state_dict(), "__tinynet__": np.array(json.dumps(OLD_FILE))}
    back = tinynet.load(write(tmp_path, arrays, "old.npz"))
    assert_same_model(model, back)
    now = json.loads(str(saved(tmp_path, back)["__tinynet__"]))
    assert now["model"]["layers"][1]["args"].pop("channels_last") is False
    assert now == OLD_FILE


def test_activation_dtype_none_and_fixed(tmp_path):
    for layer in (nn.Tanh(), nn.Tanh(dtype=np.float32)):
        assert roundtrip(layer, tmp_path).dtype == layer.dtype


def test_plain_npz_without_pickle(tmp_path):
    model = every_layer(np.float32, "c")
    path = tmp_path / "plain"  # no extension added
    tinynet.save(path, model)
    assert path.exists() and not (tmp_path / "plain.npz").exists()
    with np.load(path, allow_pickle=False) as data:
        assert sorted(data.files) == sorted(list(model.state_dict()) + ["__tinynet__"])
        assert np.array_equal(data["2.weight"], model.layers[2].weight) and data["2.weight"].dtype == np.float32
        meta = json.loads(str(data["__tinynet__"]))
    assert meta["format"] == "tinynet.nn" and meta["version"] == 1
    assert meta["model"]["type"] == "Sequential"
    assert meta["model"]["layers"][3] == {
        "type": "BatchNorm1d", "training": True,
        "args": {"num_features": 12, "eps": 0.001, "momentum": None, "correction": 1, "channels_last": False, "engine": "c",
                 "dtype": "float32"}}
    # str paths and file objects work too
    tinynet.save(str(tmp_path / "m.npz"), model)
    assert_same_model(model, tinynet.load(str(tmp_path / "m.npz")))
    buffer = io.BytesIO()
    tinynet.save(buffer, model)
    assert_same_model(model, tinynet.load(io.BytesIO(buffer.getvalue())))


# ------------------------------------------------------------------------ refusals


def saved(tmp_path, model=None):
    model = model if model is not None else nn.Sequential([nn.Linear(3, 2, rng=0), nn.BatchNorm1d(2)])
    path = tmp_path / "good.npz"
    tinynet.save(path, model)
    with np.load(path) as data:
        return {k: data[k] for k in data.files}


def write(tmp_path, arrays, name="bad.npz"):
    path = tmp_path / name
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    return path


def with_meta(arrays, edit):
    meta = json.loads(str(arrays["__tinynet__"]))
    edit(meta)
    return {**arrays, "__tinynet__": np.array(json.dumps(meta))}


def test_refuses_files_that_are_not_npz(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(ValueError, match=r"notes\.txt is not a tinynet save: not an \.npz archive"):
        tinynet.load(text)
    npy = tmp_path / "w.npy"
    np.save(npy, np.ones(3))
    with pytest.raises(ValueError, match="holds a single array, not an .npz archive"):
        tinynet.load(npy)
    truncated = tmp_path / "cut.npz"
    truncated.write_bytes(write(tmp_path, saved(tmp_path)).read_bytes()[:60])
    with pytest.raises(ValueError, match="not a tinynet save"):
        tinynet.load(truncated)
    with pytest.raises(FileNotFoundError):
        tinynet.load(tmp_path / "missing.npz")


def test_refuses_npz_that_is_not_a_tinynet_save(tmp_path):
    with pytest.raises(ValueError, match="an .npz archive but not a tinynet save: it has no '__tinynet__' entry"):
        tinynet.load(write(tmp_path, {"weight": np.ones((2, 3))}))
    arrays = saved(tmp_path)
    cases = [
        (with_meta(arrays, lambda m: m.update(format="other")), "format is not 'tinynet.nn'"),
        (with_meta(arrays, lambda m: m.update(version=2)), "version 2; this tinynet reads versions 1 to 1"),
        ({**arrays, "__tinynet__": np.array("{not json")}, "not a valid tinynet save"),
        ({**arrays, "__tinynet__": np.arange(3)}, "not a string"),
        (with_meta(arrays, lambda m: m["model"]["layers"][0].update(type="os.system")),
         r"model\[0\]: unknown layer type 'os.system'"),
        (with_meta(arrays, lambda m: m["model"]["layers"][0]["args"].update(in_features=-3)),
         r"model\[0\]: Linear\(.*\) fails: .*in_features must be >= 0"),
        (with_meta(arrays, lambda m: m["model"]["layers"][0]["args"].update(activation="gelu")),
         r"model\[0\]: Linear needs the arguments"),
        (with_meta(arrays, lambda m: m["model"]["layers"][1]["args"].update(engine="cuda")),
         r"model\[1\]: BatchNorm1d\(.*\) fails"),
        (with_meta(arrays, lambda m: m["model"].update(layers="all")), "needs a list of layers"),
    ]
    for i, (bad, pattern) in enumerate(cases):
        with pytest.raises(ValueError, match=pattern):
            tinynet.load(write(tmp_path, bad, f"bad{i}.npz"))


def test_refuses_bad_transformer_descriptions(tmp_path):
    model = nn.ModuleList([nn.LayerNorm(4), nn.Sequential([nn.GELU()]),
                           nn.TransformerEncoderLayer(4, 2, 8, rng=0), nn.MultiheadAttention(4, 2, rng=0)])
    arrays = saved(tmp_path, model)

    def arg(i, **changes):
        return lambda m: m["model"]["layers"][i]["args"].update(changes)

    def block(**changes):
        return lambda m: m["model"]["layers"][2].update(changes)

    cases = [
        (lambda m: m["model"].update(layers={"0": 1}), r"model: a ModuleList needs a list of layers"),
        (lambda m: m["model"]["layers"][1]["layers"][0]["args"].update(approximate="erf"),
         r"model\[1\]\[0\]: GELU\(.*\) fails: .*approximate must be"),
        (arg(0, normalized_shape=[2, 2]), r"model\[0\]: LayerNorm\(.*\) fails: .*over the last axis only"),
        (arg(0, elementwise_affine="yes"), r"model\[0\]: LayerNorm's elementwise_affine must be true or false"),
        (arg(2, activation="swish"), r"model\[2\]: TransformerEncoderLayer\(.*\) fails: .*activation must be one of"),
        (arg(2, dropout=0.1), r"model\[2\]: TransformerEncoderLayer\(.*\) fails: .*dropout must be 0"),
        (arg(2, nhead=3), r"model\[2\]: TransformerEncoderLayer\(.*\) fails: .*not a multiple of nhead"),
        (arg(2, norm_first=1), r"model\[2\]: TransformerEncoderLayer's norm_first must be true or false, got 1"),
        (lambda m: m["model"]["layers"][2]["args"].pop("layer_norm_eps"),
         r"model\[2\]: TransformerEncoderLayer needs the arguments"),
        (block(sublayer_training={"norm3": False}),
         r"model\[2\]: sublayer_training names 'norm3', which is not a sublayer of TransformerEncoderLayer\(.*\) "
         r"\(its sublayers: self_attn, self_attn.out_proj, linear1"),
        (block(sublayer_training={"norm1": 0}), r"model\[2\]: sublayer_training must map sublayer names to true"),
        (block(sublayer_training=["norm1"]), r"model\[2\]: sublayer_training must map"),
        (arg(3, num_heads=0), r"model\[3\]: MultiheadAttention\(.*\) fails: .*num_heads must be >= 1"),
        (arg(3, bias=False), r"does not fit its architecture: .*unexpected key\(s\) '3\.in_proj_bias'"),
        (arg(3, embed_dim=6, num_heads=3), r"'3\.in_proj_weight' of MultiheadAttention.* has shape \(12, 4\), "
                                           r"expected \(18, 6\)"),
    ]
    for i, (edit, pattern) in enumerate(cases):
        with pytest.raises(ValueError, match=pattern):
            tinynet.load(write(tmp_path, with_meta(arrays, edit), f"bad{i}.npz"))


def test_never_unpickles(tmp_path):
    class Boom:
        def __reduce__(self):
            return (pathlib.Path.touch, (tmp_path / "pwned",))

    arrays = saved(tmp_path)
    path = tmp_path / "pickled.npz"
    with open(path, "wb") as f:
        np.savez(f, **arrays, extra=np.array([Boom()], dtype=object))
    with pytest.raises(ValueError, match="cannot be read without pickle"):
        tinynet.load(path)
    assert not (tmp_path / "pwned").exists()


def test_refuses_arrays_that_do_not_fit(tmp_path):
    arrays = saved(tmp_path)
    cases = [
        ({**arrays, "0.weight": np.ones((2, 4))}, r"does not fit its architecture: .*'0\.weight' of Linear\(in_features=3"
                                                  r".*has shape \(2, 4\), expected \(2, 3\)"),
        ({k: v for k, v in arrays.items() if k != "1.running_var"}, r"missing key\(s\) '1\.running_var'"),
        ({**arrays, "2.weight": np.ones(2)}, r"unexpected key\(s\) '2\.weight'"),
        ({**arrays, "0.bias": arrays["0.bias"].astype(np.float32)}, r"'0\.bias' is float32 but Linear.* is float64"),
    ]
    for i, (bad, pattern) in enumerate(cases):
        with pytest.raises(ValueError, match=pattern):
            tinynet.load(write(tmp_path, bad, f"bad{i}.npz"))


def test_save_refuses_what_it_cannot_rebuild(tmp_path):
    class MyLinear(nn.Linear):
        pass

    with pytest.raises(TypeError, match="must be a tinynet.nn layer or Sequential, not dict"):
        tinynet.save(tmp_path / "x.npz", {"weight": np.ones(2)})
    with pytest.raises(TypeError, match=r"model\[1\] is a .*MyLinear; tinynet.save stores the tinynet.nn layers"):
        tinynet.save(tmp_path / "x.npz", nn.Sequential([nn.Tanh(), MyLinear(2, 2)]))


def test_save_refuses_models_of_ones_own(tmp_path):
    """A Module subclass holding layers (tinynet.recipes.GPT too) is not rebuilt from
    constructor arguments: save refuses it, naming it, and writes nothing."""
    from tinynet.recipes import GPT

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln = nn.LayerNorm(4)
            self.attn = nn.MultiheadAttention(4, 2, rng=0)

    class MyBlock(nn.TransformerEncoderLayer):
        pass

    cases = [
        (nn.ModuleList([nn.LayerNorm(4), Block()]),
         r"model\[1\] is a .*Block; tinynet.save stores the tinynet.nn layers .*TransformerEncoderLayer and the "
         r"containers Sequential, ModuleList"),
        (nn.Sequential([nn.ModuleList([MyBlock(4, 2, rng=0)])]), r"model\[0\]\[0\] is a .*MyBlock; tinynet.save"),
        (GPT(27, 8, n_layer=1, n_head=2, n_embd=4, rng=0), r"model is a tinynet.recipes.GPT; tinynet.save stores"),
    ]
    changed = nn.TransformerEncoderLayer(4, 2, 8, rng=0)
    changed.norm2 = nn.LayerNorm(4, eps=1e-3)  # not what its arguments make: it would load with eps=1e-5
    replaced = nn.TransformerEncoderLayer(4, 2, 8, rng=0)
    replaced.linear1 = MyBlock(4, 2, rng=0)
    cases += [
        (nn.ModuleList([changed]), r"model\[0\]\.norm2 is LayerNorm\(\(4,\), eps=0\.001.*\), not the sublayer "
                                   r"TransformerEncoderLayer\(.*\) makes"),
        (replaced, r"model\.linear1 is a .*MyBlock; tinynet.save stores"),
    ]
    for i, (model, pattern) in enumerate(cases):
        with pytest.raises(TypeError, match=pattern):
            tinynet.save(tmp_path / f"x{i}.npz", model)
        assert not (tmp_path / f"x{i}.npz").exists()
