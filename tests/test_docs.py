"""The documentation cannot rot:

* every public function of tinynet, tinynet.reference and tinynet.io, every tinynet.nn
  class and its state-dict methods has a docstring whose first line is its signature
  (for the C functions: ``inspect.signature`` works, from the ``name(sig)\\n--\\n\\n``
  convention), and an example (``>>>``); the C and NumPy docstrings give shapes and
  dtypes;
* every docstring example runs as a doctest and passes: the C module's and the Python
  modules';
* ``help(tinynet)`` reads as a guide: what it is, the engine swap, the functions by
  group, where the notebooks and the reference are;
* every ```python block of README.md and docs/*.md runs, each on its own (blocks that
  import torch skip without it), and docs/reference.md covers the whole API.
"""
import ast
import doctest
import inspect
import io
import pathlib
import pydoc
import re

import numpy as np
import pytest

import tinynet
import tinynet._core
import tinynet._gradcheck
import tinynet.data
import tinynet.io
import tinynet.optim
import tinynet.recipes
import tinynet.reference as ref
from tinynet import nn

REPO = pathlib.Path(__file__).resolve().parents[1]

# ------------------------------------------------------------- signatures, examples


def public_objects():
    """(qualified name, object) for every documented public callable."""
    out = [(f"tinynet.{n}", getattr(tinynet, n)) for n in tinynet.__all__ if callable(getattr(tinynet, n))]
    out += [(f"tinynet.reference.{n}", getattr(ref, n)) for n in ref.__all__]
    out += [(f"tinynet.io.{n}", getattr(tinynet.io, n)) for n in tinynet.io.__all__ if callable(getattr(tinynet.io, n))]
    out += [(f"tinynet.nn.{n}", getattr(nn, n)) for n in nn.__all__ if inspect.isclass(getattr(nn, n))]
    layer = nn.Linear(1, 1)
    out += [("tinynet.nn.Module.state_dict", layer.state_dict), ("tinynet.nn.Module.load_state_dict", layer.load_state_dict)]
    return out


def doc_of(obj):
    return obj.__doc__ if inspect.isclass(obj) or inspect.isbuiltin(obj) else inspect.getdoc(obj)


def _default(node):
    return eval(compile(ast.Expression(node), "<docstring>", "eval"), {"np": np})


def check_first_line(qualname, obj):
    """The docstring's first line is the signature: as a def, the same parameters
    (names, kinds, defaults; private "_" ones excepted); a usage line such as
    ``Sequential([layer, ...])`` must at least be a valid call of the signature."""
    doc = inspect.getdoc(obj) if not inspect.isclass(obj) else inspect.cleandoc(obj.__doc__ or "")
    assert doc, f"{qualname} has no docstring"
    first = doc.splitlines()[0].strip()
    name = obj.__name__
    assert first.startswith(name + "("), f"{qualname}: the docstring starts with {first!r}, not its signature"
    sig = inspect.signature(obj)
    params = [p for p in sig.parameters.values() if not p.name.startswith("_")]
    try:
        fn = ast.parse(f"def {first}: pass").body[0]
    except SyntaxError:
        call = ast.parse(first, mode="eval").body
        assert isinstance(call, ast.Call), f"{qualname}: {first!r} is neither a signature nor a call"
        sig.bind(*[None] * len(call.args), **{k.arg: None for k in call.keywords})
        return
    a = fn.args
    documented = []
    positional = a.posonlyargs + a.args
    defaults = [inspect.Parameter.empty] * (len(positional) - len(a.defaults)) + list(a.defaults)
    kinds = [inspect.Parameter.POSITIONAL_ONLY] * len(a.posonlyargs) + \
        [inspect.Parameter.POSITIONAL_OR_KEYWORD] * len(a.args)
    documented += list(zip([p.arg for p in positional], kinds, defaults))
    if a.vararg:
        documented.append((a.vararg.arg, inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.empty))
    documented += [(p.arg, inspect.Parameter.KEYWORD_ONLY, d if d is not None else inspect.Parameter.empty)
                   for p, d in zip(a.kwonlyargs, a.kw_defaults)]
    if a.kwarg:
        documented.append((a.kwarg.arg, inspect.Parameter.VAR_KEYWORD, inspect.Parameter.empty))
    documented = [(n, k, d if d is inspect.Parameter.empty else _default(d)) for n, k, d in documented]
    actual = [(p.name, p.kind, p.default) for p in params]
    assert documented == actual, f"{qualname}: docstring says {first!r}, the signature is {sig}"


@pytest.mark.parametrize("qualname, obj", public_objects(), ids=[q for q, _ in public_objects()])
def test_docstring_signature_and_example(qualname, obj):
    if inspect.isbuiltin(obj):  # a C function: the "name(sig)\n--\n\n" convention
        assert obj.__text_signature__, f"{qualname}: no text signature (its docstring must start 'name(sig)\\n--\\n\\n')"
        inspect.signature(obj)
    else:
        check_first_line(qualname, obj)
    assert ">>>" in doc_of(obj), f"{qualname}: the docstring has no example (>>>)"


def test_inspect_signature_of_every_c_function():
    for name in tinynet.FUNCTIONS + ("set_num_threads", "get_num_threads"):
        f = getattr(tinynet._core, name)
        c_params = [(p.name, p.default, p.kind) for p in inspect.signature(f).parameters.values()]
        numpy_params = [(p.name, p.default, p.kind) for p in inspect.signature(getattr(ref, name, f)).parameters.values()]
        assert c_params == numpy_params, name
    assert list(inspect.signature(tinynet.rnn_lm_loss).parameters)[-2:] == ["bptt_steps", "reduction"]


@pytest.mark.parametrize("engine", [tinynet._core, ref], ids=["c", "numpy"])
@pytest.mark.parametrize("name", tinynet.FUNCTIONS)
def test_engine_docstrings_give_shapes_and_dtypes(engine, name):
    doc = getattr(engine, name).__doc__
    assert re.search(r"shape|\([A-Z]", doc), f"{engine.__name__}.{name}: no shapes in the docstring"
    assert re.search(r"dtype|float|integer|int64", doc), f"{engine.__name__}.{name}: no dtypes in the docstring"


# ------------------------------------------------------------------------ doctests

LAYER_MODULES = [getattr(ref, layer) for layer in sorted(set(tinynet._core._layers.values()))]
DOCTEST_MODULES = [tinynet, tinynet._core, *LAYER_MODULES, nn, tinynet.io, tinynet._gradcheck, tinynet.data,
                   tinynet.recipes, tinynet.optim]
# (tinynet.nn's classes are written in its submodules and named tinynet.nn's: find them there without
# the module filter, which would look for their methods in tinynet/nn/__init__.py)
DOCTESTS = [t for m in DOCTEST_MODULES
            for t in doctest.DocTestFinder(exclude_empty=True).find(m, m.__name__, module=False if m is nn else None)
            if t.examples]


def test_doctests_were_found():
    names = {t.name for t in DOCTESTS}
    for name in tinynet.FUNCTIONS:
        twin = f"tinynet.reference.{tinynet._core._layers[name]}.{name}"
        assert f"tinynet._core.{name}" in names and twin in names, name
    assert {"tinynet", "tinynet.nn", "tinynet.io", "tinynet.io.save", "tinynet.io.load",
            "tinynet.nn.Module.state_dict", "tinynet.nn.Module.load_state_dict", "tinynet.recipes"} <= names


@pytest.mark.parametrize("test", DOCTESTS, ids=[t.name for t in DOCTESTS])
def test_doctest(test):
    out = io.StringIO()
    runner = doctest.DocTestRunner(optionflags=0)  # as `python -m doctest` runs them
    threads = tinynet.get_num_threads()
    try:
        result = runner.run(test, out=out.write, clear_globs=True)
    finally:
        tinynet.set_num_threads(threads)
    assert result.failed == 0, out.getvalue()


# ---------------------------------------------------------------- help(tinynet)


def test_help_tinynet_reads_as_a_guide():
    text = pydoc.render_doc(tinynet, renderer=pydoc.plaintext)
    for phrase in ["Two engines, one API", 'tinynet.engine("numpy")', "import tinynet.reference as tn",
                   "The functions", "rnn: the vanilla RNN", "optim: the in-place optimizers",
                   "tinynet.nn", "save(path, model)", "load(path)", "gradcheck(f, inputs)", "tinynet.data",
                   "notebooks/", "docs/reference.md"]:
        assert phrase in text, f"help(tinynet) does not mention {phrase!r}"
    guide = tinynet.__doc__
    for name in tinynet.FUNCTIONS + ("engine", "set_num_threads", "get_num_threads"):
        assert re.search(rf"\b{re.escape(name)}", guide) or name.endswith(("_backward", "_forward")), name
    for prefix in ("linear", "tanh", "sigmoid", "relu", "cross_entropy", "embedding", "batchnorm", "rnn"):
        assert prefix in guide


# ---------------------------------------------------------------- README and docs


def markdown_blocks():
    files = [REPO / "README.md"] + sorted((REPO / "docs").glob("*.md"))
    out = []
    for path in files:
        if not path.exists():
            continue
        text = path.read_text()
        for i, m in enumerate(re.finditer(r"^```python\n(.*?)^```", text, flags=re.S | re.M)):
            line = text[:m.start()].count("\n") + 2
            out.append(pytest.param(path, line, m.group(1), id=f"{path.relative_to(REPO)}:{line}"))
    return out


BLOCKS = markdown_blocks()


def test_readme_and_reference_have_examples():
    if not (REPO / "README.md").exists():
        pytest.skip("not a source checkout")
    ids = [p.id for p in BLOCKS]
    assert sum(i.startswith("README.md") for i in ids) >= 3
    assert sum(i.startswith("docs/reference.md") for i in ids) >= 5


@pytest.mark.parametrize("path, line, code", BLOCKS)
def test_markdown_python_block_runs(path, line, code, tmp_path, monkeypatch):
    if re.search(r"^\s*import torch|^\s*from torch", code, flags=re.M):
        pytest.importorskip("torch")
    monkeypatch.chdir(tmp_path)  # files an example writes land here
    threads = tinynet.get_num_threads()
    try:
        exec(compile(code, f"{path.name}:{line}", "exec"), {"__name__": "__main__"})
    finally:
        tinynet.set_num_threads(threads)


def test_reference_covers_the_api():
    path = REPO / "docs" / "reference.md"
    if not path.exists():
        pytest.skip("not a source checkout")
    text = path.read_text()
    names = list(tinynet.FUNCTIONS) + ["engine", "set_num_threads", "get_num_threads", "gradcheck",
                                       "tinynet.save", "tinynet.load", "state_dict", "load_state_dict"]
    names += [n for n in nn.__all__ if inspect.isclass(getattr(nn, n)) and n != "Module"]
    names += [n for n in tinynet.data.__all__ if callable(getattr(tinynet.data, n)) and not inspect.isclass(getattr(tinynet.data, n))
              and n != "cache_dir"]
    missing = [n for n in names if f"`{n}" not in text and f"{n}(" not in text]
    assert not missing, f"docs/reference.md does not mention {missing}"
    for topic in ["(out, in)", "(in, out)", "bias_ih_l0", "Bessel", "unbiased", "√(mem + eps)",
                  "√mem + eps", "`sum`", "`mean`", "columns", "rows", "min-char-rnn", "makemore", "cs231n"]:
        assert topic in text, topic
    readme = (REPO / "README.md").read_text()
    assert "(docs/reference.md)" in readme, "the README must link docs/reference.md"
