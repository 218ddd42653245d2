"""tinynet.save / tinynet.load: a model as a plain .npz (state-dict arrays plus the
architecture as JSON), read back without pickle.

* round trips of every layer type, nested Sequentials, both dtypes and both engines give
  the same types, constructor arguments, modes, parameters and buffers bit for bit, and
  bit-identical outputs;
* the file is an ordinary .npz that NumPy reads with allow_pickle=False, at exactly the
  given path (or a file object);
* load refuses, with a ValueError that says why, files that are not .npz archives, .npz
  archives that are not tinynet saves, pickled entries (never unpickled), unknown layers,
  bad arguments, other versions, and arrays whose keys, shapes or dtypes do not fit.
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


def assert_same_model(a, b):
    assert repr(a) == repr(b)  # the types and constructor arguments
    assert type(a) is type(b) and a.training == b.training
    if isinstance(a, nn.Sequential):
        for x, y in zip(a.layers, b.layers):
            assert_same_model(x, y)
        return
    assert (a.engine, a.dtype) == (b.engine, b.dtype)
    for attr in ("init", "bptt_steps", "eps", "momentum", "correction", "start_dim", "end_dim", "channels_last", "n"):
        assert getattr(a, attr, None) == getattr(b, attr, None), attr
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
