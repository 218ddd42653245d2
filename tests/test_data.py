"""tinynet.data: names.txt lookup and download, vocabulary, dataset, split.

Downloads are served by a local HTTP server (NAMES_URL is pointed at it); the tests
never touch the internet.
"""
import functools
import http.server
import os
import pathlib
import socket
import threading

import numpy as np
import pytest

from tinynet import data


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    """No TINYNET_DATA, an empty cache under tmp_path."""
    monkeypatch.delenv("TINYNET_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path


def write(path, lines):
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))
    return path


@pytest.fixture
def server(tmp_path, names_path):
    """A local HTTP server: /names.txt (the real file), /page.html (GitHub's blob page
    stand-in), /short.txt (100 names).  Yields (base_url, list of requested paths)."""
    root = tmp_path / "www"
    root.mkdir()
    (root / "names.txt").write_bytes(pathlib.Path(names_path).read_bytes())
    (root / "page.html").write_text("<!DOCTYPE html>\n<html><body>names.txt</body></html>\n")
    write(root / "short.txt", ["anna"] * 100)
    requests = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self):
            requests.append(self.path)
            return super().do_GET()

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", requests
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert data.cache_dir() == tmp_path / "x" / "tinynet"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "h"))
    assert data.cache_dir() == tmp_path / "h" / ".cache" / "tinynet"


def test_lookup_order(isolated, monkeypatch):
    given = write(isolated / "given" / "names.txt", ["given"])
    env = write(isolated / "env" / "names.txt", ["env"])
    cached = write(data.cache_dir() / "names.txt", ["cached"])
    monkeypatch.setenv("TINYNET_DATA", str(env.parent))
    monkeypatch.setattr(data, "NAMES_URL", "http://127.0.0.1:9/unused")  # must not be needed
    assert data.load_names(given) == ["given"]
    assert data.load_names(str(given)) == ["given"]
    assert data.load_names(isolated / "missing.txt") == ["env"]  # a missing path falls through
    assert data.load_names() == ["env"]
    env.unlink()
    assert data.load_names() == ["cached"]
    monkeypatch.delenv("TINYNET_DATA")
    assert data.load_names() == ["cached"]
    cached.unlink()
    with pytest.raises(data.DataNotFoundError):
        data.load_names()


def test_html_file_is_rejected(isolated):
    page = write(isolated / "names.txt", ["<!DOCTYPE html>", "<html>", "emma"])
    with pytest.raises(data.NamesFormatError, match=r"line 1 is '<!DOCTYPE html>'.*raw"):
        data.load_names(page)
    assert issubclass(data.NamesFormatError, ValueError)
    with pytest.raises(data.NamesFormatError, match="empty"):
        data.load_names(write(isolated / "empty.txt", []))
    with pytest.raises(data.NamesFormatError, match="line 2"):
        data.load_names(write(isolated / "upper.txt", ["emma", "Olivia"]))


def test_download_once_into_the_cache(isolated, server, names_path, monkeypatch):
    base, requests = server
    monkeypatch.setattr(data, "NAMES_URL", base + "/names.txt")
    words = data.load_names()
    assert len(words) == 32033 and words[:2] == ["emma", "olivia"]
    cached = data.cache_dir() / "names.txt"
    assert cached.read_bytes() == pathlib.Path(names_path).read_bytes()
    assert sorted(os.listdir(cached.parent)) == ["names.txt"]  # no temporary file left behind
    assert data.load_names() == words
    assert requests == ["/names.txt"]  # downloaded once


@pytest.mark.parametrize("page, match", [("/page.html", "line 1 is '<!DOCTYPE html>'"),
                                         ("/short.txt", "100 lines, expected 32033")])
def test_bad_download_is_not_cached(isolated, server, monkeypatch, page, match):
    base, requests = server
    monkeypatch.setattr(data, "NAMES_URL", base + page)
    with pytest.raises(data.NamesFormatError, match=match):
        data.load_names()
    assert requests == [page]
    assert not data.cache_dir().exists() or os.listdir(data.cache_dir()) == []


def test_offline_error_says_where_to_put_the_file(isolated, monkeypatch):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setattr(data, "NAMES_URL", f"http://127.0.0.1:{port}/names.txt")
    with pytest.raises(data.DataNotFoundError) as info:
        data.load_names(isolated / "nope.txt")
    msg = str(info.value)
    assert isinstance(info.value, FileNotFoundError)
    assert str(data.cache_dir() / "names.txt") in msg and "TINYNET_DATA" in msg and "nope.txt" in msg
    assert not (data.cache_dir() / "names.txt").exists()


def test_download_with_unwritable_cache_still_returns_words(isolated, server, monkeypatch):
    base, _ = server
    monkeypatch.setattr(data, "NAMES_URL", base + "/names.txt")
    blocker = isolated / "xdg"
    blocker.write_text("a file where the cache directory should be")
    with pytest.warns(UserWarning, match="could not cache"):
        words = data.load_names()
    assert len(words) == 32033


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
