import gzip
import json

import pytest

from rnnkit.data.files import (
    atomic_path,
    atomic_write_text,
    decode_bytes,
    read_json,
    read_text_file,
    sha256_file,
    write_json,
)
from rnnkit.errors import UserError


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path):
    target = tmp_path / "sub" / "out.txt"
    atomic_write_text(target, "one")
    atomic_write_text(target, "two")
    assert target.read_text() == "two"
    assert [p.name for p in target.parent.iterdir()] == ["out.txt"]


def test_atomic_path_failure_keeps_old_file_and_removes_temp(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_decode_error_names_file_line_and_option():
    data = "ok\nstill ok\ncaf\u00e9\n".encode("latin-1")
    with pytest.raises(
        UserError, match=r"f\.csv: cannot decode byte 0xe9 on line 3 as utf-8.*--encoding"
    ):
        decode_bytes(data, "utf-8", "f.csv")
    assert decode_bytes(data, "latin-1", "f.csv").endswith("caf\u00e9\n")


def test_decode_drops_utf8_bom_and_rejects_unknown_encoding():
    assert decode_bytes("\ufeffa,b".encode(), "utf-8", "x") == "a,b"
    with pytest.raises(UserError, match="unknown encoding 'nope'"):
        decode_bytes(b"", "nope", "x")


def test_read_text_file_missing_directory_gzip_and_newlines(tmp_path):
    with pytest.raises(UserError, match="no such file"):
        read_text_file(tmp_path / "missing.txt")
    with pytest.raises(UserError, match="got a directory"):
        read_text_file(tmp_path)
    (tmp_path / "a.txt.gz").write_bytes(gzip.compress(b"x\r\ny\rz\n"))
    assert read_text_file(tmp_path / "a.txt.gz") == "x\ny\nz\n"
    (tmp_path / "bad.gz").write_bytes(b"not gzip")
    with pytest.raises(UserError, match="corrupt"):
        read_text_file(tmp_path / "bad.gz")


def test_json_round_trip_and_invalid_json(tmp_path):
    write_json(tmp_path / "a.json", {"k": ["\u00e9"]})
    assert read_json(tmp_path / "a.json", "thing") == {"k": ["\u00e9"]}
    (tmp_path / "b.json").write_text("{not json")
    with pytest.raises(UserError, match="expected a thing JSON file, got invalid JSON"):
        read_json(tmp_path / "b.json", "thing")
    assert json.loads((tmp_path / "a.json").read_text(encoding="utf-8"))


def test_sha256_file(tmp_path):
    (tmp_path / "f").write_bytes(b"abc")
    assert sha256_file(tmp_path / "f") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )


def test_binary_files_are_refused_even_as_latin_1(tmp_path):
    png = tmp_path / "cat.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)
    with pytest.raises(UserError, match="cat.png looks like a binary file"):
        read_text_file(png, encoding="latin-1")
    utf16 = tmp_path / "text.txt"
    utf16.write_text("a utf-16 text\n", encoding="utf-16")
    assert read_text_file(utf16, encoding="utf-16") == "a utf-16 text\n"


def test_a_decompression_bomb_stops_at_the_limit(tmp_path, monkeypatch):
    from rnnkit.data import files

    bomb = tmp_path / "bomb.txt.gz"
    bomb.write_bytes(gzip.compress(b"a" * 5_000_000))  # 5 MB in about 5 KB
    monkeypatch.setattr(files, "MAX_DECOMPRESSED", 1_000_000)
    with pytest.raises(UserError, match="bomb.txt.gz decompresses to more than 1,000,000 bytes"):
        read_text_file(bomb)
    monkeypatch.setattr(files, "MAX_DECOMPRESSED", 5_000_000)
    assert len(read_text_file(bomb)) == 5_000_000
