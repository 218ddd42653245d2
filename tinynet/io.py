"""tinynet.io: save a ``tinynet.nn`` model to a plain ``.npz`` file and load it back.

The file is an ordinary NumPy ``.npz`` archive: one array per ``state_dict()`` key
(PyTorch's names, e.g. ``"0.weight"``) plus one string entry, ``"__tinynet__"``, holding
the architecture as JSON -- every layer's type, constructor arguments (dtype and engine
included) and train/eval mode (and its sublayers' modes where they differ from it: a
TransformerEncoderLayer's norm1 ...).  Nothing is pickled, and loading never unpickles
(``np.load(..., allow_pickle=False)``), so a file from someone else cannot run code; it
can be read with NumPy alone (``np.load(path)["0.weight"]``).

    >>> import os, tempfile
    >>> import numpy as np
    >>> import tinynet
    >>> from tinynet import nn
    >>> model = nn.Sequential([nn.Linear(3, 4, rng=0), nn.Tanh(), nn.Linear(4, 2, rng=1)])
    >>> path = os.path.join(tempfile.mkdtemp(), "mlp.npz")
    >>> tinynet.save(path, model)
    >>> again = tinynet.load(path)
    >>> again
    Sequential(
      (0): Linear(in_features=3, out_features=4, bias=True)
      (1): Tanh()
      (2): Linear(in_features=4, out_features=2, bias=True)
    )
    >>> x = np.ones((5, 3))
    >>> bool(np.array_equal(again(x), model(x)))
    True
"""
from __future__ import annotations

import json
import os
from typing import IO, Any, Callable, Dict, List, Union

import numpy as np

import tinynet
from tinynet import nn

__all__ = ["save", "load", "FORMAT", "VERSION"]

#: The "format" field of the metadata: what marks a file as a tinynet save.
FORMAT = "tinynet.nn"
#: The version of the file layout this tinynet writes (and the newest it reads).
VERSION = 1

_META = "__tinynet__"  # the npz entry holding the JSON metadata (never a state-dict key)

PathLike = Union[str, "os.PathLike[str]"]


def _dtype_name(dtype: Any) -> Any:
    return None if dtype is None else np.dtype(dtype).name


# The constructor arguments each layer type is saved with (read back from the layer's
# attributes of the same names, or of the names in _ATTRIBUTES).  load() constructs only
# these types, with only these arguments.
_ARGS: Dict[str, List[str]] = {
    "Linear": ["in_features", "out_features", "bias", "engine", "dtype", "init"],
    "Tanh": ["engine", "dtype"],
    "ReLU": ["engine", "dtype"],
    "Sigmoid": ["engine", "dtype"],
    "Flatten": ["start_dim", "end_dim", "engine", "dtype"],
    "FlattenConsecutive": ["n", "engine", "dtype"],
    "Embedding": ["num_embeddings", "embedding_dim", "engine", "dtype", "init"],
    "BatchNorm1d": ["num_features", "eps", "momentum", "correction", "channels_last", "engine", "dtype"],
    "RNN": ["input_size", "hidden_size", "bptt_steps", "engine", "dtype", "init"],
    "LSTM": ["input_size", "hidden_size", "bias", "engine", "dtype", "init"],
    "GRU": ["input_size", "hidden_size", "bias", "engine", "dtype", "init"],
    "GELU": ["approximate", "engine", "dtype"],
    "LayerNorm": ["normalized_shape", "eps", "elementwise_affine", "bias", "engine", "dtype"],
    "MultiheadAttention": ["embed_dim", "num_heads", "bias", "batch_first", "engine", "dtype"],
    "TransformerEncoderLayer": ["d_model", "nhead", "dim_feedforward", "dropout", "activation", "layer_norm_eps",
                                "batch_first", "norm_first", "bias", "engine", "dtype"],
}
_CLASSES: Dict[str, Callable[..., nn.Module]] = {name: getattr(nn, name) for name in _ARGS}
# The attribute an argument is read from where the names differ.
_ATTRIBUTES: Dict[str, Dict[str, str]] = {"MultiheadAttention": {"bias": "in_proj_bias"},
                                          "TransformerEncoderLayer": {"activation": "activation_name"}}
# Arguments added since the format began: files written before them load with the default.
_LATER: Dict[str, List[str]] = {"BatchNorm1d": ["channels_last"]}
# The arguments that are flags: JSON's true or false, nothing else.
_FLAGS = {"bias", "channels_last", "elementwise_affine", "batch_first", "norm_first"}
# The containers: a list of layers each described on its own ("layers").
_CONTAINERS: Dict[str, Callable[[List[nn.Module]], nn.Module]] = {"Sequential": nn.Sequential,
                                                                   "ModuleList": nn.ModuleList}
_KNOWN = ", ".join([*_ARGS, *_CONTAINERS])


def _sublayers(model: nn.Module, prefix: str = "") -> List[Any]:
    """[(dotted name, layer)]: the layers `model` is made of (a MultiheadAttention's
    out_proj, a TransformerEncoderLayer's norm1 ...), at every depth, parents first."""
    out: List[Any] = []
    for name, layer in model._submodules():
        out += [(prefix + name, layer)] + _sublayers(layer, f"{prefix}{name}.")
    return out


def _check_sublayers(model: nn.Module, args: Dict[str, Any], where: str) -> None:
    """A layer made of sublayers is rebuilt from its arguments: TypeError if its sublayers
    are not those its arguments make (one replaced or changed after construction)."""
    if not model._submodules():
        return
    fresh = _CLASSES[type(model).__name__](**args, rng=0)
    made = {name: _describe(layer, name) for name, layer in fresh._submodules()}
    for name, layer in model._submodules():
        desc = _describe(layer, f"{where}.{name}")
        want = made.get(name)
        if want is None or (desc["type"], desc["args"]) != (want["type"], want["args"]):
            raise TypeError(f"save: {where}.{name} is {layer!r}, not the sublayer {type(model).__name__}"
                            f"(**{args!r}) makes: tinynet.save rebuilds a layer from its constructor arguments, "
                            "so its sublayers must be as constructed")


def _describe(model: nn.Module, where: str) -> Dict[str, Any]:
    """The architecture of `model` as JSON-ready data."""
    kind = type(model).__name__
    if kind in _CONTAINERS and type(model) is _CONTAINERS[kind]:
        layers = getattr(model, "layers")
        return {"type": kind, "training": bool(model.training),
                "layers": [_describe(layer, f"{where}[{i}]") for i, layer in enumerate(layers)]}
    if kind not in _CLASSES or type(model) is not _CLASSES[kind]:
        raise TypeError(f"save: {where} is a {type(model).__module__}.{type(model).__qualname__}; tinynet.save "
                        f"stores the tinynet.nn layers {', '.join(_ARGS)} and the containers "
                        f"{', '.join(_CONTAINERS)}")
    args: Dict[str, Any] = {}
    for name in _ARGS[kind]:
        value = getattr(model, _ATTRIBUTES.get(kind, {}).get(name, name))
        if name == "bias" and not isinstance(value, bool):  # an array (or None): Linear, LayerNorm ...
            value = value is not None
        elif name == "dtype":
            value = _dtype_name(value)
        elif name == "normalized_shape":
            value = list(value)
        args[name] = value
    desc = {"type": kind, "training": bool(model.training), "args": args}
    _check_sublayers(model, args, where)
    # sublayers in another mode than the layer (none, unless set one by one)
    modes = {name: bool(layer.training) for name, layer in _sublayers(model) if layer.training != model.training}
    if modes:
        desc["sublayer_training"] = modes
    return desc


def _set_modes(model: nn.Module, training: bool, modes: Any, where: str) -> None:
    """model.train(training), then the modes of the sublayers listed in `modes`."""
    model.train(training)
    if modes is None:
        return
    sublayers = dict(_sublayers(model))
    if not isinstance(modes, dict) or not all(isinstance(m, bool) for m in modes.values()):
        raise ValueError(f"{where}: sublayer_training must map sublayer names to true or false, got {modes!r}")
    for name, mode in modes.items():
        if name not in sublayers:
            raise ValueError(f"{where}: sublayer_training names {name!r}, which is not a sublayer of {model!r} "
                             f"(its sublayers: {', '.join(sublayers) or 'none'})")
        sublayers[name].training = mode  # this layer only: its own sublayers are listed too


def _build(desc: Any, where: str) -> nn.Module:
    """The model described by `desc` (from _describe), with freshly initialised arrays."""
    if not isinstance(desc, dict) or not isinstance(desc.get("type"), str):
        raise ValueError(f"{where} is not a layer description: {desc!r}")
    kind = desc["type"]
    training = desc.get("training", True)
    if not isinstance(training, bool):
        raise ValueError(f"{where}: training must be true or false, got {training!r}")
    model: nn.Module
    if kind in _CONTAINERS:
        layers = desc.get("layers")
        if not isinstance(layers, list):
            raise ValueError(f"{where}: a {kind} needs a list of layers, got {layers!r}")
        model = _CONTAINERS[kind]([_build(d, f"{where}[{i}]") for i, d in enumerate(layers)])
        model.training = training  # its layers keep their own modes
        return model
    if kind not in _CLASSES:
        raise ValueError(f"{where}: unknown layer type {kind!r} (known: {_KNOWN})")
    args = desc.get("args")
    later = _LATER.get(kind, [])
    if not isinstance(args, dict) or sorted(args) not in (sorted(_ARGS[kind]),
                                                          sorted(set(_ARGS[kind]) - set(later))):
        raise ValueError(f"{where}: {kind} needs the arguments {_ARGS[kind]}, got {args!r}")
    for name in _FLAGS.intersection(args):
        if not isinstance(args[name], bool):  # (a constructor would take any truthy value)
            raise ValueError(f"{where}: {kind}'s {name} must be true or false, got {args[name]!r}")
    try:
        # rng=0: a cheap, deterministic initialisation, overwritten by the saved arrays
        model = _CLASSES[kind](**args, rng=0)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{where}: {kind}(**{args!r}) fails: {e}") from e
    _set_modes(model, training, desc.get("sublayer_training"), where)
    return model


def save(path: PathLike | IO[bytes], model: nn.Module) -> None:
    """save(path, model)

    Write a ``tinynet.nn`` model (any layer, or a Sequential or ModuleList of them,
    nested or not) to an ``.npz`` file at exactly ``path`` (no extension is added;
    ``.npz`` is the natural one), or to a binary file object.  The archive holds one
    array per ``model.state_dict()`` key, with the layer's dtype (float32 or float64;
    an int64 ``num_batches_tracked``), and ``"__tinynet__"``: the architecture as JSON
    (layer types, constructor arguments including dtype and engine, train/eval mode).
    Gradients and forward caches are not saved.  ``tinynet.load`` rebuilds the model;
    ``np.load(path)`` reads the arrays.  Returns None.  A Module subclass of your own
    (tinynet.recipes.GPT too) is refused with a TypeError: it has no description to
    rebuild it from; save its ``state_dict()`` instead.

    >>> import io
    >>> import numpy as np
    >>> import tinynet
    >>> from tinynet import nn
    >>> buffer = io.BytesIO()
    >>> tinynet.save(buffer, nn.Linear(3, 2, dtype=np.float32, rng=0))
    >>> sorted(np.load(io.BytesIO(buffer.getvalue())).files)
    ['__tinynet__', 'bias', 'weight']
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"save: model must be a tinynet.nn layer or Sequential, not {type(model).__name__}")
    meta = {"format": FORMAT, "version": VERSION, "tinynet_version": tinynet.__version__,
            "model": _describe(model, "model")}
    arrays: Dict[str, Any] = model.state_dict()
    arrays[_META] = np.array(json.dumps(meta))  # a unicode string array: no pickle needed
    if hasattr(path, "write"):
        np.savez(path, **arrays)
    else:
        with open(path, "wb") as f:  # exactly this path (np.savez would append ".npz")
            np.savez(f, **arrays)


def load(path: PathLike | IO[bytes]) -> nn.Module:
    """load(path)

    Read a model written by ``tinynet.save`` and return it: the same layer types with
    the same constructor arguments (dtype and engine included), the same train/eval
    modes, and parameters and buffers equal bit for bit, so it computes the same
    outputs.  ``path`` is a file name or a binary file object.

    Nothing is unpickled (``np.load(..., allow_pickle=False)``).  Refused with a
    ValueError that says why: a file that is not an ``.npz`` archive, or not a tinynet
    save (no ``"__tinynet__"`` metadata, another format, a newer version), an unknown
    layer type or invalid constructor arguments, and arrays that do not fit the
    architecture (a missing or unexpected key, a shape or dtype that differs).

    >>> import io
    >>> import numpy as np
    >>> import tinynet
    >>> from tinynet import nn
    >>> buffer = io.BytesIO()
    >>> tinynet.save(buffer, nn.Sequential([nn.Embedding(27, 10, rng=0), nn.Flatten()]))
    >>> model = tinynet.load(io.BytesIO(buffer.getvalue()))
    >>> model(np.array([[1, 2, 3]])).shape
    (1, 30)
    >>> tinynet.load(io.BytesIO(b"not an archive"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: load: <BytesIO> is not a tinynet save: not an .npz archive (...)
    """
    name = f"<{type(path).__name__}>" if hasattr(path, "read") else os.fspath(path)
    who = f"load: {name}"
    try:
        npz = np.load(path, allow_pickle=False)
    except OSError:  # no such file, a directory, no permission: the operating system's own error
        raise
    except Exception as e:  # pickled data, a truncated or foreign file ...
        raise ValueError(f"{who} is not a tinynet save: not an .npz archive ({type(e).__name__}: {e})") from e
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise ValueError(f"{who} is not a tinynet save: it holds a single array, not an .npz archive")
    with npz:
        try:
            arrays = {key: npz[key] for key in npz.files}
        except Exception as e:  # an object array (would need pickle), a corrupt member ...
            raise ValueError(f"{who} is not a tinynet save: an entry cannot be read without pickle "
                             f"({type(e).__name__}: {e})") from e
    if _META not in arrays:
        raise ValueError(f"{who} is an .npz archive but not a tinynet save: it has no {_META!r} entry "
                         "(tinynet.save writes one); its arrays can still be read with np.load")
    meta_array = arrays.pop(_META)
    try:
        if meta_array.dtype.kind != "U" or meta_array.ndim != 0:
            raise ValueError(f"{_META!r} is a {meta_array.dtype} array of shape {meta_array.shape}, not a string")
        meta = json.loads(str(meta_array[()]))
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise ValueError(f"its format is not {FORMAT!r}")
        version = meta.get("version")
        if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= VERSION:
            raise ValueError(f"it has version {version!r}; this tinynet reads versions 1 to {VERSION}")
        model = _build(meta.get("model"), "model")
    except ValueError as e:
        raise ValueError(f"{who} is not a valid tinynet save: {e}") from e
    # strict, as load_state_dict, plus the dtype: a file is loaded exactly or not at all
    expected = model._state()
    for key, array in arrays.items():
        want = expected.get(key)
        if want is not None and array.dtype != want.dtype and not (want.dtype.kind == array.dtype.kind == "i"):
            raise ValueError(f"{who} does not fit its architecture: {key!r} is {array.dtype} but "
                             f"{model._owner(key)!r} is {want.dtype}")
    try:
        model.load_state_dict(arrays)
    except (ValueError, TypeError) as e:
        raise ValueError(f"{who} does not fit its architecture: {e}") from e
    return model
