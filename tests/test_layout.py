"""The C sources are laid out by layer, and the boundary between the core and Python
holds: a newcomer looking for a layer finds its kernels in csrc/tn_<layer>.c, its entry
points (argument checks, docstrings) in csrc/wrap/<layer>.h, its NumPy twin in
tinynet/reference.py.

* Only csrc/_core.c includes Python.h or the NumPy headers; the core (csrc/tn_*) uses no
  Python API at all.
* Every public function's kernel is defined in its layer's file, and its entry point in
  the wrapper part of the same name.
"""
import pathlib
import re

import tinynet

CSRC = pathlib.Path(__file__).resolve().parents[1] / "csrc"

# public function -> its layer (the file names: csrc/tn_<layer>.c, csrc/wrap/<layer>.h)
LAYER = {
    "linear_forward": "linear", "linear_backward": "linear",
    "tanh_forward": "linear", "tanh_backward": "linear", "sigmoid_forward": "linear",
    "sigmoid_backward": "linear", "relu_forward": "linear", "relu_backward": "linear",
    "softmax": "linear", "cross_entropy_forward": "linear", "cross_entropy_backward": "linear",
    "embedding_forward": "embedding", "embedding_backward": "embedding",
    "batchnorm_forward": "norm", "batchnorm_backward": "norm", "batchnorm_inference": "norm",
    "linear_batchnorm_tanh_forward": "mlp", "linear_batchnorm_tanh_backward": "mlp", "linear_cross_entropy": "mlp",
    "rnn_forward": "rnn", "rnn_backward": "rnn", "rnn_lm_loss": "rnn", "rnn_sample": "rnn",
    "lstm_forward": "lstm", "lstm_backward": "lstm", "gru_forward": "gru", "gru_backward": "gru",
    "sgd_step_": "optim", "adagrad_step_": "optim", "adam_step_": "optim", "clip_": "optim",
}


def _sources():
    return sorted(p for p in CSRC.rglob("*") if p.suffix in (".c", ".h"))


def test_only_the_wrapper_includes_python():
    includes = re.compile(r'^\s*#\s*include\s*[<"](Python\.h|numpy/[^>"]+)[>"]', re.M)
    found = {p.relative_to(CSRC).as_posix() for p in _sources() if includes.search(p.read_text())}
    assert found == {"_core.c"}, f"Python or NumPy headers included outside csrc/_core.c: {sorted(found)}"


def test_the_core_uses_no_python_api():
    api = re.compile(r"\b(Py[A-Z][a-z]+_\w+|Py[A-Z]\w*Object\b|Py_\w+|_Py\w+|NPY_\w+|npy_\w+)")
    for p in _sources():
        if p.name.startswith("tn_") or p.name == "tinynet.h":
            hits = sorted(set(api.findall(p.read_text())))
            assert not hits, f"{p.name} uses the Python / NumPy API: {hits[:5]}"


def test_each_function_lives_in_its_layers_files():
    assert set(LAYER) == set(tinynet.FUNCTIONS), "a public function without a layer in tests/test_layout.py"
    for name, layer in LAYER.items():
        kernel = "tn_" + name.rstrip("_")
        core = (CSRC / f"tn_{layer}.c").read_text()
        assert re.search(rf"\bFN\({re.escape(name.rstrip('_'))}\)\s*\(", core), f"{kernel} is not in tn_{layer}.c"
        wrap = (CSRC / "wrap" / f"{layer}.h").read_text()
        assert re.search(rf"\bpy_{re.escape(name)}\b|ACTIVATION\({name.split('_')[0]}\b", wrap), (
            f"the entry point of {name} is not in wrap/{layer}.h")
