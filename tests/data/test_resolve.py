import hashlib
import shutil
from dataclasses import replace

import pytest

from rnnkit.data.imdb import read_imdb
from rnnkit.data.registry import DATASETS, DatasetEntry, RemoteFile
from rnnkit.data.resolve import cache_dir, load_dataset, resolve
from rnnkit.errors import UserError


@pytest.fixture
def tiny(monkeypatch, http_server, tiny_archive):
    """Register 'tiny', an IMDb-like archive served by the local HTTP server."""
    root, base, requests = http_server
    shutil.copy(tiny_archive, root / "tiny.tar.gz")
    digest = hashlib.sha256(tiny_archive.read_bytes()).hexdigest()
    entry = DatasetEntry(
        name="tiny",
        description="test archive",
        target="tiny.tar.gz",
        files=(RemoteFile("tiny.tar.gz", f"{base}/tiny.tar.gz", digest),),
        alternatives=("aclImdb",),
        loader=read_imdb,
    )
    monkeypatch.setitem(DATASETS, "tiny", entry)
    monkeypatch.delenv("RNNKIT_DATA", raising=False)
    monkeypatch.delenv("RNNKIT_OFFLINE")
    return entry, base, requests


def test_unknown_names(monkeypatch):
    with pytest.raises(UserError, match="'mnist' is neither a known dataset"):
        load_dataset("mnist")
    unread = DatasetEntry(name="unread", description="no task reads it", target="unread")
    monkeypatch.setitem(DATASETS, "unread", unread)
    with pytest.raises(UserError, match="has no loader yet"):
        load_dataset("unread")


def test_cache_dir_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("RNNKIT_CACHE", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c"
    monkeypatch.delenv("RNNKIT_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cache_dir() == tmp_path / ".cache" / "rnnkit"


def test_resolution_order(tiny, tmp_path, monkeypatch, tiny_archive):
    _, _, requests = tiny
    explicit, data, cache = tmp_path / "explicit", tmp_path / "data", cache_dir()
    for folder in (explicit, data, cache):
        folder.mkdir(parents=True)
        (folder / "tiny.tar.gz").write_bytes(b"a local copy is trusted, not checksummed")
    monkeypatch.setenv("RNNKIT_DATA", str(data))
    assert resolve("tiny", explicit / "tiny.tar.gz") == explicit / "tiny.tar.gz"
    assert resolve("tiny", explicit) == explicit / "tiny.tar.gz"  # a folder holding it
    assert resolve("tiny") == data / "tiny.tar.gz"
    (data / "tiny.tar.gz").unlink()
    assert resolve("tiny") == cache / "tiny.tar.gz"
    (data / "aclImdb").mkdir()  # an unpacked tree counts as a local copy too
    assert resolve("tiny") == data / "aclImdb"
    assert requests == []
    with pytest.raises(UserError, match="no such file or directory"):
        resolve("tiny", tmp_path / "nowhere")


def test_download_into_cache_then_reuse(tiny, capsys):
    _, _, requests = tiny
    path = resolve("tiny")
    assert path == cache_dir() / "tiny.tar.gz"
    assert "100%" in capsys.readouterr().err
    assert load_dataset("tiny")["train"].texts == ["bad", "good"]
    assert requests == ["/tiny.tar.gz"]  # the second look found the cached copy


def test_checksum_mismatch_keeps_nothing(tiny, monkeypatch):
    entry, base, _ = tiny
    remote = RemoteFile("tiny.tar.gz", entry.files[0].url, "f" * 64)
    monkeypatch.setitem(DATASETS, "tiny", replace(entry, files=(remote,)))
    with pytest.raises(UserError, match=f"checksum mismatch for {base}/tiny.tar.gz"):
        resolve("tiny")
    assert not cache_dir().exists() or list(cache_dir().iterdir()) == []


@pytest.mark.parametrize("failure", ["404", "refused", "offline"])
def test_offline_message_says_url_and_where_to_put_the_file(
    tiny, monkeypatch, refused_url, tmp_path, failure
):
    entry, base, _ = tiny
    urls = {"404": f"{base}/gone.tar.gz", "refused": refused_url, "offline": entry.files[0].url}
    reasons = {"404": "HTTP 404", "refused": "refused", "offline": "downloads are off"}
    url = urls[failure]
    remote = RemoteFile("tiny.tar.gz", url, entry.files[0].sha256)
    monkeypatch.setitem(DATASETS, "tiny", replace(entry, files=(remote,)))
    monkeypatch.setenv("RNNKIT_DATA", str(tmp_path / "shared"))
    if failure == "offline":
        monkeypatch.setenv("RNNKIT_OFFLINE", "1")
    with pytest.raises(UserError) as error:
        resolve("tiny")
    message = str(error.value)
    assert f"get it from {url}" in message
    assert str(tmp_path / "shared" / "tiny.tar.gz") in message
    assert str(cache_dir() / "tiny.tar.gz") in message
    assert reasons[failure] in message
    assert not cache_dir().exists() or list(cache_dir().iterdir()) == []


def test_mirror_used_when_the_main_url_fails(tiny, monkeypatch, refused_url):
    entry, _, requests = tiny
    remote = RemoteFile("tiny.tar.gz", refused_url, entry.files[0].sha256, (entry.files[0].url,))
    monkeypatch.setitem(DATASETS, "tiny", replace(entry, files=(remote,)))
    assert resolve("tiny").exists() and requests == ["/tiny.tar.gz"]


def test_rnnkit_data_that_is_not_a_folder_is_ignored_with_a_warning(
    tiny, tmp_path, caplog, monkeypatch
):
    monkeypatch.setenv("RNNKIT_DATA", str(tmp_path / "missing"))
    monkeypatch.setenv("RNNKIT_OFFLINE", "1")
    with pytest.raises(UserError, match="downloads are off"):
        resolve("tiny")
    assert "is not a directory; ignoring it" in caplog.text


def test_manual_dataset_message(monkeypatch):
    monkeypatch.delenv("RNNKIT_DATA", raising=False)
    with pytest.raises(UserError, match="cannot be downloaded automatically.*kaggle.com"):
        resolve("gop-debate")


def test_load_dataset_from_paths(tmp_path, tiny_archive):
    (tmp_path / "d.csv").write_text("text,label\nhi,a\nho,b\n")
    assert load_dataset(tmp_path / "d.csv")["train"].labels == ["a", "b"]
    (tmp_path / "d.tsv").write_text("t\tl\nhi\ta\n")
    assert load_dataset(tmp_path / "d.tsv", text_column="t", label_column="l")["train"].texts == [
        "hi"
    ]
    (tmp_path / "corpus.txt").write_text("to be\n")
    assert load_dataset(str(tmp_path / "corpus.txt")) == "to be\n"
    assert load_dataset(tiny_archive)["test"].labels == ["neg", "pos"]
    (tmp_path / "x.bin").write_bytes(b"")
    with pytest.raises(UserError, match="cannot tell how to read this file"):
        load_dataset(tmp_path / "x.bin")
    (tmp_path / "folder").mkdir()
    with pytest.raises(UserError, match="cannot tell what dataset this folder holds"):
        load_dataset(tmp_path / "folder")
    with pytest.raises(UserError, match="unknown dataset"):
        load_dataset("nope", path=tmp_path / "d.csv")


def test_options_override_entry_defaults(tmp_path):
    (tmp_path / "s.csv").write_bytes("text,sentiment\ncaf\u00e9,Positive\n".encode())
    data = load_dataset("gop-debate", path=tmp_path / "s.csv", encoding="utf-8")
    assert data["train"].texts == ["caf\u00e9"]


def test_real_data_is_found_in_rnnkit_data(data_dir):
    for name, entry in DATASETS.items():
        if (data_dir / entry.target).exists():
            assert resolve(name) == data_dir / entry.target
    gop = load_dataset("gop-debate")["train"]
    assert len(gop) == 13_871 and len(gop.class_counts()) == 3
