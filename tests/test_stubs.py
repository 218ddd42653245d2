"""The type stubs: tinynet/_core.pyi (the compiled module, whose functions are typed once,
by the annotations of the NumPy engine, tinynet/reference/<layer>.py), nn.pyi, data.pyi,
_gradcheck.pyi, and py.typed.

* the stub names exactly the public names of tinynet._core (no mypy needed): its own
  definitions plus every function of FUNCTIONS, annotated in tinynet/reference/ with the
  run-time signatures (compared with inspect.signature);
* the NumPy engine has the same signatures as the C engine;
* pyproject ships py.typed and the .pyi files in the wheel;
* with mypy installed (it is in the ``test`` extra): stubtest checks every stub against
  its module, ``mypy --strict`` passes on the stubs, tinynet/__init__.py and tinynet/io.py
  and on a typed usage file (tests/stubs_usage.py), and reports the mistakes of a
  misusing file -- so the stubs are really what mypy reads.
"""
import ast
import fnmatch
import inspect
import pathlib
import re
import runpy
import sys
import textwrap

import pytest

import tinynet
import tinynet._core as core
import tinynet.reference as ref

PKG = pathlib.Path(tinynet.__file__).resolve().parent
ROOT = PKG.parent
TESTS = pathlib.Path(__file__).resolve().parent
STUBS = ["_core.pyi", "nn/__init__.pyi", "optim.pyi", "_gradcheck.pyi", "data.pyi"]


def stub_defs(name):
    """{public name: ast node} defined at the top level of tinynet/<name>."""
    tree = ast.parse((PKG / name).read_text())
    out = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            out[node.name] = node
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            out[node.target.id] = node
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if alias.asname and alias.asname == alias.name:  # an explicit re-export
                    out[alias.name] = node
    return {k: v for k, v in out.items() if not k.startswith("_")}


def stub_params(node):
    """[(name, default or inspect.Parameter.empty)] of a stub function, defaults evaluated."""
    a = node.args
    positional = a.posonlyargs + a.args
    defaults = [inspect.Parameter.empty] * (len(positional) - len(a.defaults)) + [ast.literal_eval(d) for d in a.defaults]
    out = list(zip([p.arg for p in positional], defaults))
    out += [(p.arg, inspect.Parameter.empty if d is None else ast.literal_eval(d))
            for p, d in zip(a.kwonlyargs, a.kw_defaults)]
    return out


def runtime_params(f):
    return [(p.name, p.default) for p in inspect.signature(f).parameters.values()]


# ----------------------------------------------------------------- without mypy


def reference_def(name):
    """The ast node of a function's NumPy twin, in tinynet/reference/<its layer>.py."""
    path = PKG / "reference" / f"{core._layers[name]}.py"
    tree = ast.parse(path.read_text()) if path.exists() else ast.Module(body=[], type_ignores=[])
    return next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name), None)


def test_core_stub_names_exactly_the_public_names():
    public = {n for n in dir(core) if not n.startswith("_")}
    stub = set(stub_defs("_core.pyi")) | set(tinynet.FUNCTIONS)  # (the functions: from tinynet/reference/)
    assert stub - public == set(), f"in the stub but not in tinynet._core: {sorted(stub - public)}"
    assert public - stub == set(), f"exported by tinynet._core but missing from its stub: {sorted(public - stub)}"
    functions = {n for n in public if callable(getattr(core, n))}
    assert functions == set(tinynet.FUNCTIONS) | {"set_num_threads", "get_num_threads"}


@pytest.mark.parametrize("name", tinynet.FUNCTIONS)
def test_every_function_is_typed_in_reference(name):
    """The NumPy engine's annotations are both engines' stubs: each function of the list
    has its twin in tinynet/reference/<layer>.py, every parameter and the result annotated."""
    node = reference_def(name)
    where = f"tinynet/reference/{core._layers[name]}.py"
    assert node is not None, f"{name}: no NumPy twin in {where} (def {name}(...))"
    a = node.args
    missing = [p.arg for p in a.posonlyargs + a.args + a.kwonlyargs if p.annotation is None]
    assert not missing and node.returns is not None, (
        f"{where}: {name} lacks annotations for {missing or 'its result'}; they are the type stub of both engines")
    assert stub_params(node) == runtime_params(getattr(core, name)), f"{name}: {where} vs the C engine"


@pytest.mark.parametrize("name", ["set_num_threads", "get_num_threads"])
def test_core_stub_signature_is_the_runtime_signature(name):
    node = stub_defs("_core.pyi")[name]
    assert stub_params(node) == runtime_params(getattr(core, name)), name


@pytest.mark.parametrize("name", tinynet.FUNCTIONS)
def test_engines_have_one_signature(name):
    c_sig, numpy_sig = inspect.signature(getattr(core, name)), inspect.signature(getattr(ref, name))
    assert [(p.name, p.default, p.kind) for p in c_sig.parameters.values()] == \
        [(p.name, p.default, p.kind) for p in numpy_sig.parameters.values()], f"{name}: C {c_sig} vs NumPy {numpy_sig}"


def test_nn_stub_names_the_public_classes():
    from tinynet import nn

    assert set(stub_defs("nn/__init__.pyi")) == set(nn.__all__)


def test_optim_stub_names_the_public_classes():
    from tinynet import optim

    assert set(stub_defs("optim.pyi")) == set(optim.__all__)


def test_stubs_and_py_typed_ship_in_the_wheel():
    assert (PKG / "py.typed").exists()
    pyproject = ROOT / "pyproject.toml"
    if not pyproject.exists():
        pytest.skip("not running from a source checkout")
    tomllib = pytest.importorskip("tomllib" if sys.version_info >= (3, 11) else "tomli")
    config = tomllib.loads(pyproject.read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["tinynet"]
    for name in STUBS + ["py.typed"]:
        assert (PKG / name).exists(), name
        assert any(fnmatch.fnmatch(name, p) for p in patterns), f"{name} is not in package-data {patterns}"


def test_usage_file_runs():
    runpy.run_path(str(TESTS / "stubs_usage.py"), run_name="__main__")


# -------------------------------------------------------------------- with mypy


@pytest.fixture(scope="module")
def mypy_config(request, tmp_path_factory):
    """A mypy config that finds this checkout's tinynet (an editable install hides it
    from mypy behind an import hook) and keeps its cache in pytest's cache folder."""
    pytest.importorskip("mypy")
    cache = getattr(request.config, "cache", None)  # absent under -p no:cacheprovider
    cache_dir = cache.mkdir("mypy") if cache is not None else tmp_path_factory.mktemp("mypy_cache")
    lines = ["[mypy]", f"cache_dir = {cache_dir}"]
    if (ROOT / "pyproject.toml").exists():  # a source checkout; else mypy finds the installed package
        lines.append(f"mypy_path = {ROOT}")
    # the NumPy engine's code is not typed: its signatures are (they are the stubs)
    lines += ["[mypy-tinynet.reference,tinynet._checks]", "ignore_errors = True"]
    path = tmp_path_factory.mktemp("mypy") / "mypy.ini"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def run_mypy(config, *args):
    from mypy import api

    stdout, stderr, status = api.run(["--config-file", config, "--no-error-summary", "--show-error-codes", *args])
    return stdout + stderr, status


def test_stubtest_matches_every_stub_to_its_module(mypy_config, capsys):
    from mypy import stubtest

    modules = ["tinynet." + s[:-4].replace("/__init__", "").replace("/", ".") for s in STUBS]
    status = stubtest.test_stubs(stubtest.parse_options([*modules, "--mypy-config-file", mypy_config]))
    out = capsys.readouterr().out
    assert status == 0, out


def test_mypy_strict_on_the_stubs_and_typed_modules(mypy_config):
    files = [str(PKG / s) for s in STUBS] + [str(PKG / "__init__.py"), str(PKG / "io.py")]
    out, status = run_mypy(mypy_config, "--strict", *files)
    assert status == 0, out


def test_mypy_strict_on_a_typed_usage_file(mypy_config):
    out, status = run_mypy(mypy_config, "--strict", str(TESTS / "stubs_usage.py"))
    assert status == 0, out


MISUSE = {
    'tinynet.cross_entropy_forward(np.zeros((1, 2)), [0], reduction="avg")': "arg-type",
    "n: int = tinynet.softmax([1.0, 2.0])": "assignment",
    "tinynet.sgd_step_([1.0], [1.0], 0.1)": "arg-type",
    "r = tinynet.clip_(np.ones(2), -5, 5) + 1": "operator",  # (None + 1: mypy knows clip_ returns None)
    "tinynet.rnn_forward(np.ones((2, 3)), None, np.ones((4, 3)), np.eye(4))": "call-arg",
    'nn.Linear(3, 2, init="he")': "arg-type",
    "nn.Sequential([nn.Tanh()]).state_dict().keys().sort()": "attr-defined",
    "dx, dh0, dW_xh, dW_hh, db_h = tinynet.rnn_backward(1, 2, 3, 4, 5, 6); dx.shape": "union-attr",
    "tinynet.reference.linear_forward(np.ones(3), np.ones((2, 3)), b=1, bias=2)": "call-arg",
    'tinynet.load("m.npz").weight': "attr-defined",
}


def test_mypy_catches_misuse(mypy_config, tmp_path):
    body = "\n".join(MISUSE)
    path = tmp_path / "misuse.py"
    path.write_text("import numpy as np\nimport tinynet\nimport tinynet.reference\nfrom tinynet import nn\n"
                    + textwrap.dedent(body) + "\n")
    out, status = run_mypy(mypy_config, str(path))
    assert status == 1, out
    for lineno, (line, code) in enumerate(MISUSE.items(), start=5):
        # by file name: mypy's cache may replay the errors of an identical earlier file under its old path
        hits = [m for m in out.splitlines() if re.match(rf"(.*[/\\])?misuse\.py:{lineno}: error", m)]
        assert any(f"[{code}]" in m for m in hits), f"line {lineno} ({line}): expected a [{code}] error, got {hits}\n{out}"


def test_data_stub_names_the_public_names():
    from tinynet import data

    assert set(stub_defs("data.pyi")) == set(data.__all__)
