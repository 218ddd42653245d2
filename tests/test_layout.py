"""The house's layout holds, so that a newcomer finds their way and a new function is a
few-file change:

* one list of functions, csrc/wrap/functions.h (tinynet._core.FUNCTIONS and _layers come
  from it); each function has all of its parts -- its kernels in csrc/tn_<layer>.c,
  declared in csrc/tinynet.h, its entry point in csrc/wrap/<layer>.h, its NumPy twin in
  tinynet/reference/<layer>.py -- and a missing one is named;
* each function has its tests, laid out as the code is: its engine comparison and its
  finite-difference check in tests/test_<layer>.py (test_each_function_has_its_tests
  says what counts; NO_GRADIENT lists what has no gradient to check, and why), its spec
  in tests/specs.py's section of its layer, its recorded bits in tests/bits.json -- and
  a missing one is named;
* every exported tn_* symbol of the built extension appears literally in the sources,
  at its declaration and at its definition (grep, ctags and a debugger's symbol agree);
* only the wrapper (csrc/_core.c and its parts in csrc/wrap/) includes Python.h or the
  NumPy headers; the core (csrc/tn_*) uses no Python API; each wrapper part compiles on
  its own;
* no file over 1,200 lines, no function over 80 (the SIMD kernels excepted).
"""
import ast
import functools
import importlib
import inspect
import itertools
import json
import pathlib
import re
import shutil
import subprocess
import sysconfig
import textwrap

import numpy as np
import pytest

import tinynet
import tinynet._core as core
import tinynet.reference as ref

import specs

ROOT = pathlib.Path(__file__).resolve().parents[1]
CSRC = ROOT / "csrc"
if not CSRC.exists():
    pytest.skip("not a source checkout", allow_module_level=True)

FUNCTIONS = core.FUNCTIONS
LAYERS = core._layers


def sources(*patterns):
    return sorted(p for pat in patterns for p in CSRC.glob(pat))


def kernel(name):
    """The kernels' stem: tn_sgd_step for sgd_step_."""
    return "tn_" + name.rstrip("_")


# ------------------------------------------------------------------- one list of functions


def test_the_list_is_the_modules_functions():
    listed = re.findall(r"^TN_FUNCTION\((\w+), (\w+)\)", (CSRC / "wrap" / "functions.h").read_text(), re.M)
    assert tuple(n for n, _ in listed) == FUNCTIONS == tuple(tinynet.FUNCTIONS)
    assert dict(listed) == LAYERS
    assert set(FUNCTIONS) <= set(tinynet.__all__)
    assert list(ref.__all__) == list(FUNCTIONS)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_each_function_has_its_parts(name):
    layer = LAYERS[name]
    k = kernel(name)
    core_file = CSRC / f"tn_{layer}.c"
    assert core_file.exists(), f"{name}: its layer's kernels belong in csrc/tn_{layer}.c"
    assert re.search(rf"TN_NAME\({k}_f32, {k}_f64\)\(", core_file.read_text()), (
        f"{name}: no kernel `TN_NAME({k}_f32, {k}_f64)(...)` defined in csrc/tn_{layer}.c")
    header = (CSRC / "tinynet.h").read_text()
    for s in ("f32", "f64"):
        assert re.search(rf"\b{k}_{s}\(", header), f"{name}: {k}_{s} is not declared in csrc/tinynet.h"
    wrap = CSRC / "wrap" / f"{layer}.h"
    assert wrap.exists() and re.search(rf"\bpy_{name}\(|^ACTIVATION\({name.split('_')[0]},", wrap.read_text(), re.M), (
        f"{name}: no entry point py_{name} in csrc/wrap/{layer}.h")
    twin = getattr(getattr(ref, layer, None), name, None)
    assert callable(twin), f"{name}: no NumPy twin in tinynet/reference/{layer}.py"
    assert getattr(ref, name, None) is twin, f"{name}: tinynet.reference does not export it"
    assert twin.__doc__ and twin.__doc__.lstrip().startswith(f"{name}("), (
        f"{name}: tinynet/reference/{layer}.py's {name} needs a docstring starting with its signature "
        "(both engines show it)")
    assert getattr(core, name).__doc__ == tinynet._c_docstring(twin).split("\n--\n\n", 1)[1], (
        f"{name}: the C engine does not show the NumPy twin's docstring")


# ------------------------------------------------------------------ each function's tests

TESTS = ROOT / "tests"

# The one list of functions with no finite-difference check, and why: they have no
# backward pass of their own whose gradient could be checked.
NO_GRADIENT = {
    "softmax": "no backward function: its gradient is cross_entropy_backward's, checked there",
    "rnn_sample": "sampling: it draws tokens, nothing is differentiated",
    **dict.fromkeys(["sgd_step_", "adagrad_step_", "adam_step_", "clip_"], "an optimizer step or clipping, in place"),
    **dict.fromkeys(["sgd_foreach_", "adam_foreach_", "adagrad_foreach_"],
                    "an optimizer step over a list of tensors, in place: it updates, it is not differentiated"),
}
ENGINE_OF = {id(tinynet): "c", id(core): "c", id(ref): "numpy"}


def _marks(obj):
    marks = getattr(obj, "pytestmark", [])
    return [getattr(m, "mark", m) for m in (marks if isinstance(marks, list) else [marks])]


def _string_params(marks):
    """{argname: values} of the single-argument parametrizations with string values."""
    out = {}
    for m in marks:
        if m.name == "parametrize" and "," not in m.args[0] and all(isinstance(v, str) for v in m.args[1]):
            out[m.args[0].strip()] = list(m.args[1])
    return out


def _fstring(node, params):
    """The strings an f-string can be, its placeholders over the test's string parameters."""
    parts = []
    for v in node.values:
        if isinstance(v, ast.Constant):
            parts.append([v.value])
        elif isinstance(v.value, ast.Name) and v.value.id in params:
            parts.append(params[v.value.id])
        else:
            parts.append([""])
    return ["".join(p) for p in itertools.product(*parts)]


def _engines_in(value):
    """The engines a global is: tinynet (or tinynet._core) and tinynet.reference, as
    themselves or in a dict, list or tuple (conftest.ENGINES)."""
    values = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else [value]
    return {ENGINE_OF[id(v)] for v in values if id(v) in ENGINE_OF}


def _reach(fn, params, seen, words, engines):
    """Add to `words` what fn's code names (identifiers, attributes, words of strings and of
    f-strings; docstrings aside) and to `engines` the engines it refers to; then the same
    for the helpers in tests/ it calls."""
    fn = inspect.unwrap(fn)
    if fn in seen:
        return
    seen.add(fn)
    tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    docs = {id(n.body[0].value) for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
            and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            words.add(node.id)
            value = fn.__globals__.get(node.id)
            engines.update(_engines_in(value))
            if inspect.isfunction(value) and pathlib.Path(inspect.getfile(value)).parent == TESTS:
                _reach(value, {}, seen, words, engines)
        elif isinstance(node, ast.Attribute):
            words.add(node.attr)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            words.update(re.findall(r"\w+", node.value))
        elif isinstance(node, ast.JoinedStr):
            words.update(w for s in _fstring(node, params) for w in re.findall(r"\w+", s))


@functools.lru_cache(maxsize=None)
def layer_tests(layer):
    """(test id, the words its code names, the engines it runs) for each test of
    tests/test_<layer>.py -- functions and the methods of Test* classes, inherited ones
    included -- or None without the file."""
    if not (TESTS / f"test_{layer}.py").exists():
        return None
    module = importlib.import_module(f"test_{layer}")
    tests = []
    for name, obj in vars(module).items():
        if name.startswith("test") and inspect.isfunction(obj):
            tests.append((name, obj, []))
        elif name.startswith("Test") and inspect.isclass(obj):
            tests += [(f"{name}.{m}", getattr(obj, m), _marks(obj)) for m in dir(obj) if m.startswith("test")]
    out = []
    for tid, fn, class_marks in tests:
        words, engines = set(), set()
        _reach(fn, _string_params(_marks(fn) + class_marks), set(), words, engines)
        out.append((tid, words, engines))
    return out


@pytest.mark.parametrize("name", FUNCTIONS)
def test_each_function_has_its_tests(name):
    """In its layer's test file, tests/test_<layer>.py, a test that names the function (its
    code, or the helpers in tests/ it calls; f-strings over the test's own parameters
    count) and runs both engines -- the engine comparison (helpers.check / both, or
    tn.<name> against ref.<name>) -- and one that names it and calls helpers.check_grad --
    the finite-difference check, by convention in the file's TestGradients class (unless
    NO_GRADIENT says why there is none).  Its spec in tests/specs.py's section of its
    layer; its recorded bits in tests/bits.json."""
    layer = LAYERS[name]
    tests = layer_tests(layer)
    assert tests is not None, f"{name}: its layer's tests belong in tests/test_{layer}.py, which does not exist"
    naming = [(tid, engines) for tid, words, engines in tests if name in words]
    assert any(engines >= {"c", "numpy"} for _, engines in naming), (
        f"{name}: no test in tests/test_{layer}.py names it and compares the C engine with the NumPy engine "
        f"(helpers.check({name!r}, ...) does; tests naming it: {[tid for tid, _ in naming]})")
    if name not in NO_GRADIENT:
        assert any("check_grad" in words for _, words, _ in tests if name in words), (
            f"{name}: no finite-difference test in tests/test_{layer}.py names it (a TestGradients test calling "
            f"helpers.check_grad); if it has no gradient to check, say why in test_layout.NO_GRADIENT")
    assert any(s.name == name for s in specs.TABLE), (
        f"{name}: no spec in tests/specs.py's TABLE (the bad-input matrix, properties, threads, leaks and recorded "
        f"bits are generated from it): add its Fn to BY_LAYER[{layer!r}]")
    elsewhere = sorted({k for k, v in specs.BY_LAYER.items() for s in v if s.name == name} - {layer})
    assert not elsewhere, f"{name}: its spec belongs in tests/specs.py's {layer} section, not in {elsewhere}"
    recorded = json.loads((TESTS / "bits.json").read_text())
    assert any(cid.split("-")[0].split("[")[0] == name for cid in recorded), (
        f"{name}: no recorded bits in tests/bits.json: record them with `python tests/test_bits.py --write` "
        "(and say why in the commit)")


# ----------------------------------------------------------- names you can grep


def exported_symbols():
    so = pathlib.Path(core.__file__)
    nm = shutil.which("nm")
    if nm is None:
        pytest.skip("nm is not installed")
    out = subprocess.run([nm, "-D", "--defined-only", str(so)], capture_output=True, text=True, check=True).stdout
    return sorted({f[2] for f in (line.split() for line in out.splitlines())
                   if len(f) == 3 and f[1] in "Ti" and f[2].startswith("tn_")})


def test_every_exported_symbol_is_declared_and_defined_by_its_full_name():
    symbols = exported_symbols()
    assert len(symbols) > 100, symbols
    headers = "\n".join(p.read_text() for p in sources("tinynet.h", "tn_internal.h"))
    bodies = "\n".join(p.read_text() for p in sources("tn_*.c", "tn_*_impl.h"))
    for s in symbols:
        assert re.search(rf"\b{s}\b", headers), f"{s} is not declared by name in csrc/tinynet.h or tn_internal.h"
        defined = (re.search(rf"TN_NAME\((?:{s}, \w+|\w+, {s})\)\(", bodies)  # written once for both dtypes
                   or re.search(rf"^#define [A-Z_0-9]+_NAME(?:_2D)? {s}$", bodies, re.M)  # a SIMD kernel's instance
                   or re.search(rf"^\S[^;\n]*\b{s}\(", bodies, re.M)  # a plain definition
                   or re.search(rf"^DTANH_FN\({s},", bodies, re.M))
        assert defined, f"{s}: no definition that names it in csrc/"


def test_tn_name_pairs_agree():
    """TN_NAME(a_f32, a_f64): the same name for both dtypes."""
    for p in sources("*.c", "*.h"):
        for a, b in re.findall(r"TN_NAME\((\w+), (\w+)\)", p.read_text()):
            if (a, b) == ("f32", "f64"):
                continue  # the macro's own definition
            assert a.endswith("_f32") and b == a[:-4] + "_f64", f"{p.name}: TN_NAME({a}, {b})"


def test_no_definition_hides_behind_fn_or_sf():
    for p in sources("*.c", "*_impl.h", "tn_typed.h"):
        for i, line in enumerate(p.read_text().split("\n"), 1):
            if line and not line[0].isspace() and not line.startswith(("#", "/", " *")):
                assert not re.match(r"[^(]*\b(FN|SF)\(\w+\)\s*\(", line), (
                    f"{p.name}:{i}: define it as TN_NAME(..._f32, ..._f64): {line.strip()}")


def test_ctags_finds_the_kernels(tmp_path):
    ctags = shutil.which("ctags")
    if ctags is None or "Universal Ctags" not in subprocess.run([ctags, "--version"], capture_output=True,
                                                               text=True).stdout:
        pytest.skip("Universal Ctags is not installed")
    tags = tmp_path / "tags"
    subprocess.run([ctags, "-R", "-f", str(tags), "csrc"], cwd=ROOT, check=True, capture_output=True)
    found = {}
    for line in tags.read_text().splitlines():
        f = line.split("\t")
        if len(f) > 2:
            found.setdefault(f[0], set()).add(f[1])
    for s in ("tn_lstm_backward_f32", "tn_lstm_backward_f64", "lstm_cell_f64", "tn_col_sums_f32", "tn_tanh_avx2_f32"):
        assert found.get(s), f"ctags (with .ctags.d/tinynet.ctags) does not tag {s}"
    assert found["tn_lstm_backward_f32"] == {"csrc/tn_lstm.c"}
    assert "FN" not in found or found["FN"] <= {"csrc/tn_template.h", "csrc/tn_gemm_impl.h"}


# ------------------------------------------------------------ the core / wrapper boundary


def test_only_the_wrapper_includes_python():
    includes = re.compile(r'^\s*#\s*include\s*[<"](Python\.h|numpy/[^>"]+)[>"]', re.M)
    found = {p.relative_to(CSRC).as_posix() for p in sources("**/*.c", "**/*.h") if includes.search(p.read_text())}
    assert found == {"wrap/args.h"}, f"Python or NumPy headers included outside the wrapper's wrap/args.h: {found}"
    parts = re.compile(r'^\s*#\s*include\s*"wrap/', re.M)
    users = {p.relative_to(CSRC).as_posix() for p in sources("**/*.c", "**/*.h") if parts.search(p.read_text())}
    assert users == {"_core.c"}, f"only csrc/_core.c includes the wrapper's parts: {users}"


def test_the_core_uses_no_python_api():
    api = re.compile(r"\b(Py[A-Z][a-z]+_\w+|Py[A-Z]\w*Object\b|Py_\w+|_Py\w+|NPY_\w+|npy_\w+)")
    for p in sources("tn_*", "tinynet.h"):
        hits = sorted(set(api.findall(p.read_text())))
        assert not hits, f"{p.name} uses the Python / NumPy API: {hits[:5]}"


@pytest.mark.parametrize("part", sorted(p.name for p in (CSRC / "wrap").glob("*.h") if p.name != "functions.h"))
def test_each_wrapper_part_compiles_on_its_own(part):
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        pytest.skip("no C compiler")
    cmd = [cc, "-std=c11", "-fsyntax-only", "-Wall", "-Wextra", "-Werror", "-Wno-unused-function",
           "-I", str(CSRC), "-I", np.get_include(), "-I", sysconfig.get_paths()["include"], "-x", "c",
           str(CSRC / "wrap" / part)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, f"wrap/{part} does not compile on its own:\n{r.stderr[:2000]}"


# ------------------------------------------------------------------------- sizes

# Kernels whose length is their unrolled or per-instruction-set body, and the fused tiny
# rnn_lm_loss, which must stay one function to keep its arithmetic in the general
# kernel's order.
SIMD_KERNELS = {"tn_micro_impl.h", "tn_tanh_impl.h", "tn_math.c", "tn_gemm.c", "tn_rnn_small_impl.h"}
MAX_FILE, MAX_FUNCTION = 1200, 80
CHECKED = ["csrc", "tinynet", "bench", "notebooks", "tests"]


def c_functions(path):
    """(first line, length, head) of each function defined at the top level."""
    lines = path.read_text().split("\n")
    i = 0
    while i < len(lines):
        head = lines[i]
        if head[:1].isalpha() and "(" in head and not head.rstrip().endswith((";", "\\")) and \
                not head.startswith(("typedef", "#")):
            j = i
            while j < len(lines) and not lines[j].startswith("{") and not lines[j].rstrip().endswith(";"):
                j += 1
            if j < len(lines) and lines[j].startswith("{"):
                k = j + 1
                while k < len(lines) and not lines[k].startswith("}"):
                    k += 1
                yield i + 1, k - i + 1, head.strip()
                i = k
        i += 1


def python_functions(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node.lineno, node.end_lineno - node.lineno + 1, node.name


def test_no_file_is_too_long():
    for folder in CHECKED:
        for p in sorted((ROOT / folder).rglob("*")):
            if p.suffix in (".c", ".h", ".py", ".ipynb", ".pyi") and ".venv" not in p.parts:
                n = p.read_text().count("\n")
                assert n <= MAX_FILE, f"{p.relative_to(ROOT)} has {n} lines (at most {MAX_FILE})"


def test_no_function_is_too_long():
    long = []
    for folder in CHECKED:
        for p in sorted((ROOT / folder).rglob("*")):
            if p.suffix in (".c", ".h") and p.name not in SIMD_KERNELS:
                long += [(p, line, n, head) for line, n, head in c_functions(p) if n > MAX_FUNCTION]
            elif p.suffix == ".py" and ".venv" not in p.parts:
                long += [(p, line, n, head) for line, n, head in python_functions(p) if n > MAX_FUNCTION]
    assert not long, "\n".join(f"{p.relative_to(ROOT)}:{line}: {n} lines: {head}" for p, line, n, head in long)



# ------------------------------------------------------------------------ history

# The last commit before the convention below was adopted.
CONVENTION_FROM = "ac92bee"


def test_commit_messages_have_a_short_subject_and_a_blank_line():
    """A subject of at most 72 characters, then a blank line, then the body: what
    `git log --oneline`, `git shortlog` and review tools assume."""
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    known = subprocess.run([git, "cat-file", "-e", CONVENTION_FROM + "^{commit}"], cwd=ROOT, capture_output=True)
    if known.returncode != 0:
        pytest.skip("a shallow clone: the history is not here")
    log = subprocess.run([git, "log", "--format=%h%x00%B%x01", f"{CONVENTION_FROM}..HEAD"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    bad = []
    for entry in filter(str.strip, log.split("\x01")):
        sha, _, message = entry.strip("\n").partition("\x00")
        lines = message.split("\n")
        if len(lines[0]) > 72 or (len(lines) > 1 and lines[1].strip()):
            bad.append(f"{sha}: {lines[0][:80]!r}")
    assert not bad, "commit messages need a subject of at most 72 characters and a blank line:\n" + "\n".join(bad)
