"""Fixtures for the data tests: never touch the user's cache, never download by accident."""

import functools
import http.server
import io
import socket
import tarfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point ``RNNKIT_CACHE`` at a fresh folder and turn downloads off (tests turn them back on)."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("RNNKIT_CACHE", str(cache))
    monkeypatch.setenv("RNNKIT_OFFLINE", "1")
    return cache


@pytest.fixture
def real_path(data_dir: Path) -> Callable[[str], Path]:
    """``real_path("ptb/ptb.train.txt")``: a path under RNNKIT_DATA, or skip when it is missing."""

    def get(relative: str) -> Path:
        path = data_dir / relative
        if not path.exists():
            pytest.skip(f"{relative} is missing from RNNKIT_DATA={data_dir}")
        return path

    return get


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files from a folder; ``/short/<n>`` promises ``n`` bytes and sends fewer."""

    def log_message(self, format: str, *args: object) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:
        self.server.requests.append(self.path)  # type: ignore[attr-defined]
        if self.path.startswith("/short/"):
            self.send_response(200)
            self.send_header("Content-Length", self.path.rsplit("/", 1)[1])
            self.end_headers()
            self.wfile.write(b"only a few bytes")
            self.close_connection = True
            return
        super().do_GET()


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[tuple[Path, str, list[str]]]:
    """A local HTTP server on 127.0.0.1: ``(folder it serves, base URL, request paths)``."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.requests = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_port}", server.requests  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def refused_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/file.tar.gz"


def make_imdb_archive(path: Path) -> Path:
    """A tiny aclImdb_v1.tar.gz: two train and two test reviews."""
    path.parent.mkdir(parents=True, exist_ok=True)
    reviews = {
        "train/pos/0_9.txt": "good",
        "train/neg/0_2.txt": "bad",
        "test/pos/0_8.txt": "fine",
        "test/neg/0_1.txt": "awful",
    }
    with tarfile.open(path, "w:gz") as tar:
        for name, text in reviews.items():
            info = tarfile.TarInfo(f"aclImdb/{name}")
            info.size = len(text)
            tar.addfile(info, io.BytesIO(text.encode()))
    return path


@pytest.fixture
def tiny_archive(tmp_path: Path) -> Path:
    return make_imdb_archive(tmp_path / "fixture" / "aclImdb_v1.tar.gz")
