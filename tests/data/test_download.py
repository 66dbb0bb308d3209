import hashlib
import logging
import shutil

import pytest

from rnnkit.data.download import ChecksumError, DownloadError, download


def sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_download_with_progress_and_checksum(http_server, tiny_archive, tmp_path, capsys):
    root, base, _ = http_server
    shutil.copy(tiny_archive, root / "tiny.tar.gz")
    dest = tmp_path / "out" / "tiny.tar.gz"
    assert download(f"{base}/tiny.tar.gz", dest, sha256=sha(tiny_archive)) == dest
    assert dest.read_bytes() == tiny_archive.read_bytes()
    assert [p.name for p in dest.parent.iterdir()] == ["tiny.tar.gz"]
    err = capsys.readouterr().err
    assert "tiny.tar.gz" in err and "100%" in err  # the tqdm bar went to stderr


def test_checksum_mismatch_leaves_no_file(http_server, tiny_archive, tmp_path):
    root, base, _ = http_server
    shutil.copy(tiny_archive, root / "tiny.tar.gz")
    dest = tmp_path / "out" / "tiny.tar.gz"
    with pytest.raises(ChecksumError, match=f"checksum mismatch.*expected sha256 {'0' * 64}, got"):
        download(f"{base}/tiny.tar.gz", dest, sha256="0" * 64, progress=False)
    assert list(dest.parent.iterdir()) == []


def test_http_404(http_server, tmp_path):
    _, base, _ = http_server
    dest = tmp_path / "out" / "missing.tar.gz"
    with pytest.raises(DownloadError, match=f"could not download {base}/missing.tar.gz: HTTP 404"):
        download(f"{base}/missing.tar.gz", dest, progress=False)
    assert list(dest.parent.iterdir()) == []


def test_connection_refused(refused_url, tmp_path):
    dest = tmp_path / "out" / "file.tar.gz"
    with pytest.raises(DownloadError, match=f"could not download {refused_url}: .*refused"):
        download(refused_url, dest, progress=False, timeout=5)
    assert list(dest.parent.iterdir()) == []


def test_truncated_transfer_leaves_no_file(http_server, tmp_path):
    _, base, _ = http_server
    dest = tmp_path / "out" / "short.bin"
    with pytest.raises(DownloadError, match="could not download"):
        download(f"{base}/short/100000", dest, progress=False)
    assert list(dest.parent.iterdir()) == []


def test_no_checksum_warns(http_server, tmp_path, caplog):
    root, base, _ = http_server
    (root / "a.txt").write_text("hello")
    with caplog.at_level(logging.WARNING):
        download(f"{base}/a.txt", tmp_path / "a.txt", progress=False)
    assert "no checksum known" in caplog.text
    assert (tmp_path / "a.txt").read_text() == "hello"
