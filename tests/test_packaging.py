"""What a user installs: the version, the package metadata, and the files in the sdist and
the wheel (names.txt and its licence, the .pyi stubs, py.typed, the C sources).

The sdist is built from this checkout and the wheel from that sdist, both offline
(``--no-isolation`` / ``--no-build-isolation``: the setuptools and NumPy of this
environment, from the ``test`` extra).  The wheel build compiles the C core (40-80 s), so
that test is marked slow; with TINYNET_WHEEL=/path/to/tinynet-*.whl it checks that wheel
instead and is not slow (.ci/compat passes each wheel it builds).  The sdist and wheel tests need a source
checkout and skip in an installed copy of the tests.
"""
import email
import importlib.metadata
import os
import pathlib
import re
import subprocess
import sys
import tarfile
import zipfile

import pytest

import tinynet

PKG = pathlib.Path(tinynet.__file__).resolve().parent
ROOT = PKG.parent
SOURCE_CHECKOUT = (ROOT / "pyproject.toml").is_file() and (ROOT / "setup.py").is_file()
PYTHONS = ["3.9", "3.10", "3.11", "3.12", "3.13"]  # the versions .ci/compat tests


def metadata():
    return importlib.metadata.metadata("tinynet")


def test_version_is_the_installed_metadata_version():
    from tinynet import _version

    assert tinynet.__version__ == importlib.metadata.version("tinynet") == _version.__version__
    assert re.fullmatch(r"\d+\.\d+\.\d+", tinynet.__version__), tinynet.__version__


def test_version_is_written_once():
    if not SOURCE_CHECKOUT:
        pytest.skip("not a source checkout")
    tomllib = pytest.importorskip("tomllib" if sys.version_info >= (3, 11) else "tomli")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in config["project"] and "version" in config["project"]["dynamic"]
    assert config["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "tinynet._version.__version__"}
    assert '__version__ = "' not in (PKG / "__init__.py").read_text()


def test_installed_metadata():
    md = metadata()
    assert md["Name"] == "tinynet"
    assert md["License-Expression"] == "MIT"
    assert md["License"] is None  # the SPDX expression only, not the deprecated table form
    assert sorted(md.get_all("License-File")) == ["LICENSE", "tinynet/names.txt.license"]
    assert md["Requires-Python"] == ">=3.9"
    assert md.get_all("Requires-Dist")[0] == "numpy>=1.24"
    versions = [c.rsplit(" :: ", 1)[1] for c in md.get_all("Classifier")
                if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)]
    assert versions == PYTHONS
    assert "Typing :: Typed" in md.get_all("Classifier")
    assert not any(c.startswith("License ::") for c in md.get_all("Classifier"))  # PEP 639: the expression alone


# ------------------------------------------------------------------ sdist and wheel


def run(*args, cwd=None):
    out = subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, f"{' '.join(args)} failed:\n{out.stdout[-4000:]}\n{out.stderr[-4000:]}"
    return out.stdout + out.stderr


def source_files():
    """The files of this checkout that make the package: git's (tracked, or new and not
    ignored) where possible."""
    try:
        listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "tinynet", "csrc"], cwd=ROOT, capture_output=True, text=True,
                                check=True, timeout=60).stdout.split()
    except (OSError, subprocess.SubprocessError):
        listed = []
    if not listed:  # not a git checkout: what is on disk, less builds
        listed = [str(p.relative_to(ROOT)) for d in ("tinynet", "csrc") for p in (ROOT / d).rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".so", ".pyc", ".o")]
    return sorted(listed)


@pytest.fixture(scope="module")
def sdist(tmp_path_factory):
    if not SOURCE_CHECKOUT:
        pytest.skip("not a source checkout")
    pytest.importorskip("build")
    out = tmp_path_factory.mktemp("sdist")
    log = run("-m", "build", "--sdist", "--no-isolation", "--outdir", str(out), str(ROOT))
    assert "deprecat" not in log.lower(), log  # e.g. setuptools' warning for the old licence table
    (path,) = out.glob("tinynet-*.tar.gz")
    return path


def test_sdist_has_every_source_file_and_the_data(sdist):
    with tarfile.open(sdist) as tar:
        top = f"tinynet-{tinynet.__version__}/"
        names = {n[len(top):] for n in tar.getnames() if n.startswith(top)}
        assert tar.extractfile(top + "tinynet/names.txt").read() == (PKG / "names.txt").read_bytes()
    missing = [f for f in source_files() + ["LICENSE", "README.md", "pyproject.toml", "setup.py"] if f not in names]
    assert not missing, f"missing from {sdist.name}: {missing}"
    for f in ["tinynet/names.txt", "tinynet/names.txt.license", "tinynet/py.typed", "tinynet/_version.py",
              "csrc/wrap/args.h", "PKG-INFO"]:
        assert f in names, f


@pytest.fixture(scope="module")
def wheel(request, tmp_path_factory):
    given = os.environ.get("TINYNET_WHEEL")
    if given:
        return pathlib.Path(given)
    pytest.importorskip("setuptools")
    sdist = request.getfixturevalue("sdist")
    out = tmp_path_factory.mktemp("wheel")
    # pip wheel from the sdist, as a user without a binary wheel would; offline
    run("-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q", "-w", str(out), str(sdist))
    (path,) = out.glob("tinynet-*.whl")
    return path


def slow_unless_given(test):
    """Building the wheel compiles the C core: slow, unless TINYNET_WHEEL names one built."""
    return test if os.environ.get("TINYNET_WHEEL") else pytest.mark.slow(test)


@slow_unless_given
def test_wheel_ships_names_txt_the_stubs_and_py_typed(wheel):
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        packaged = zf.read("tinynet/names.txt")
        info = f"tinynet-{tinynet.__version__}.dist-info/"
        md = email.message_from_bytes(zf.read(info + "METADATA"))
        notice = zf.read("tinynet/names.txt.license").decode()
    files = sorted(n for n in names if n.startswith("tinynet/"))
    assert len(packaged.splitlines()) == 32033 and packaged.startswith(b"emma\nolivia\nava\n")
    assert "SPDX-License-Identifier: MIT" in notice and "karpathy/makemore" in notice
    # the stubs (the NumPy engine, tinynet/reference/, is its own: its annotations)
    stubs = {f"tinynet/{m}.pyi" for m in ["_core", "nn/__init__", "data", "optim", "_gradcheck"]}
    stubs |= {"tinynet/reference/__init__.py", "tinynet/reference/linear.py", "tinynet/reference/attention.py"}
    assert stubs | {"tinynet/py.typed"} <= names, sorted(stubs - names)
    assert [f for f in files if re.fullmatch(r"tinynet/_core\..*(so|pyd)", f)], files  # the compiled C core
    assert {info + "licenses/LICENSE", info + "licenses/tinynet/names.txt.license"} <= names
    assert md["Version"] == tinynet.__version__ and md["License-Expression"] == "MIT"
    assert not [n for n in names if n.startswith(("tests/", "csrc/")) or "__pycache__" in n]
    if SOURCE_CHECKOUT:  # exactly the package's files: every module, stub and data file, nothing else
        expected = {f for f in source_files() if f.startswith("tinynet/")}
        assert {f for f in files if not re.fullmatch(r"tinynet/_core\..*(so|pyd)", f)} == expected
        assert packaged == (PKG / "names.txt").read_bytes()
