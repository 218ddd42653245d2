"""tinynet.data: names.txt (the packaged copy, the lookup order), vocabulary, dataset,
split.  Nothing here touches the network: load_names never downloads."""
import hashlib
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from tinynet import data

# makemore's names.txt, byte for byte (as named in tinynet/names.txt.license)
NAMES_SHA256 = "0a30b5557f192f32ab962680889aac5f6fda0f4cecf40a6d0b5694f58ea8cc4d"
PACKAGED = pathlib.Path(data.__file__).resolve().with_name("names.txt")


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    """No TINYNET_DATA."""
    monkeypatch.delenv("TINYNET_DATA", raising=False)
    return tmp_path


def write(path, lines):
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))
    return path


def test_the_packaged_copy_is_makemores_names_txt(isolated):
    assert hashlib.sha256(PACKAGED.read_bytes()).hexdigest() == NAMES_SHA256
    words = data.load_names()
    assert len(words) == data.NAMES_COUNT == 32033
    assert words[:3] == ["emma", "olivia", "ava"] and words[-3:] == ["zyrie", "zyron", "zzyzx"]
    assert len(set(words)) == 29494  # a name given to girls and to boys is listed twice
    # its source and licence, beside it
    notice = PACKAGED.with_name("names.txt.license").read_text()
    for phrase in ["karpathy/makemore", data.NAMES_URL, "SPDX-License-Identifier: MIT", "MIT License",
                   "Permission is hereby granted", NAMES_SHA256]:
        assert phrase in notice, phrase


def test_lookup_order(isolated, monkeypatch):
    given = write(isolated / "given" / "names.txt", ["given"])
    env = write(isolated / "env" / "names.txt", ["env"])
    monkeypatch.setenv("TINYNET_DATA", str(env.parent))
    assert data.load_names(given) == ["given"]
    assert data.load_names(str(given)) == ["given"]
    assert data.load_names(isolated / "missing.txt") == ["env"]  # a missing path falls through
    assert data.load_names() == ["env"]
    env.unlink()  # a TINYNET_DATA without names.txt falls through to the packaged copy
    assert len(data.load_names()) == 32033
    monkeypatch.delenv("TINYNET_DATA")
    assert data.load_names(isolated / "missing.txt")[:2] == ["emma", "olivia"]


def test_a_missing_packaged_copy_says_where_it_looked(isolated, monkeypatch):
    monkeypatch.setattr(data, "_PACKAGED", isolated / "site-packages" / "tinynet" / "names.txt")
    monkeypatch.setenv("TINYNET_DATA", str(isolated / "env"))
    with pytest.raises(data.DataNotFoundError) as info:
        data.load_names(isolated / "nope.txt")
    msg = str(info.value)
    assert isinstance(info.value, FileNotFoundError)
    for place in [isolated / "nope.txt", isolated / "env" / "names.txt", isolated / "site-packages" / "tinynet"]:
        assert str(place) in msg, (place, msg)
    assert "reinstall" in msg and "TINYNET_DATA" in msg and "load_names(path)" in msg


def test_html_file_is_rejected(isolated, monkeypatch):
    page = write(isolated / "names.txt", ["<!DOCTYPE html>", "<html>", "emma"])
    with pytest.raises(data.NamesFormatError, match=r"line 1 is '<!DOCTYPE html>'.*raw"):
        data.load_names(page)
    assert issubclass(data.NamesFormatError, ValueError)
    with pytest.raises(data.NamesFormatError, match="empty"):
        data.load_names(write(isolated / "empty.txt", []))
    with pytest.raises(data.NamesFormatError, match="line 2"):
        data.load_names(write(isolated / "upper.txt", ["emma", "Olivia"]))
    monkeypatch.setenv("TINYNET_DATA", str(page.parent))  # a bad $TINYNET_DATA/names.txt is an error too
    with pytest.raises(data.NamesFormatError, match=r"\$TINYNET_DATA/names.txt"):
        data.load_names()


def test_load_names_in_a_fresh_process_without_network_or_settings(tmp_path):
    """As a new user: no TINYNET_DATA, an empty home, another working directory, and any
    attempt to open a connection fails."""
    code = (
        "import socket\n"
        "def refuse(*args, **kwargs):\n"
        "    raise OSError('no network in this test')\n"
        "socket.socket.connect = socket.socket.connect_ex = refuse\n"
        "socket.create_connection = socket.getaddrinfo = refuse\n"
        "from tinynet import data\n"
        "words = data.load_names()\n"
        "print(len(words), words[0], words[-1])\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("TINYNET_DATA", "XDG_CACHE_HOME")}
    env["HOME"] = str(tmp_path)
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["32033", "emma", "zzyzx"]
    assert os.listdir(tmp_path) == []  # nothing cached or written


# --------------------------------------------------------------------- vocabulary, dataset


def test_vocab_encode_decode():
    stoi, itos = data.build_vocab(["emma", "zoe"])
    assert stoi == {".": 0, "a": 1, "e": 2, "m": 3, "o": 4, "z": 5}
    assert all(itos[i] == s for s, i in stoi.items())
    assert data.encode("zoe", stoi) == [5, 4, 2]
    assert data.decode(np.array([5, 4, 2, 0]), itos) == "zoe."
    assert data.encode("az") == [1, 26] and data.decode([0, 26]) == ".z"
    with pytest.raises(ValueError, match="'A'"):
        data.encode("Ava")
    with pytest.raises(ValueError, match="27"):
        data.decode([27])
    with pytest.raises(ValueError, match="'.'"):
        data.build_vocab(["a.b"])


def test_build_dataset():
    X, Y = data.build_dataset(["emma", "ava"], block_size=3)
    assert X.dtype == Y.dtype == np.int64
    assert X.tolist() == [[0, 0, 0], [0, 0, 5], [0, 5, 13], [5, 13, 13], [13, 13, 1],
                          [0, 0, 0], [0, 0, 1], [0, 1, 22], [1, 22, 1]]
    assert Y.tolist() == [5, 13, 13, 1, 0, 1, 22, 1, 0]
    X1, Y1 = data.build_dataset(["ab"], block_size=1)
    assert X1.tolist() == [[0], [1], [2]] and Y1.tolist() == [1, 2, 0]
    X0, Y0 = data.build_dataset([], block_size=4)
    assert X0.shape == (0, 4) and Y0.shape == (0,)
    with pytest.raises(ValueError, match="block_size"):
        data.build_dataset(["a"], block_size=0)
    with pytest.raises(ValueError, match="'-'"):
        data.build_dataset(["a-b"])
    with pytest.raises(TypeError):
        data.build_dataset("emma")


def test_split_words():
    words = [f"w{i}" for i in range(100)]
    before = list(words)
    train, dev, test = data.split_words(words)
    assert words == before  # the caller's list is not shuffled
    assert (len(train), len(dev), len(test)) == (80, 10, 10)
    assert sorted(train + dev + test) == sorted(words) and train + dev + test != words
    assert data.split_words(words, seed=278) == (train, dev, test)
    assert data.split_words(words, seed=1) != (train, dev, test)
    a, b, c = data.split_words(words, seed=1, fractions=(0.5, 0.5))
    assert (len(a), len(b), len(c)) == (50, 0, 50)
    with pytest.raises(ValueError, match="fractions"):
        data.split_words(words, fractions=(0.9, 0.8))
