import pytest

from rnnkit.data.text import read_text, read_text_splits
from rnnkit.errors import UserError


def test_read_text_normalises_newlines(tmp_path):
    (tmp_path / "a.txt").write_bytes(b"First\r\nSecond\n")
    assert read_text(tmp_path / "a.txt") == "First\nSecond\n"
    (tmp_path / "empty.txt").write_bytes(b"")
    with pytest.raises(UserError, match="the file is empty"):
        read_text(tmp_path / "empty.txt")


def test_read_text_splits(tmp_path):
    for split in ("train", "valid", "test"):
        (tmp_path / f"ptb.{split}.txt").write_text(f" {split} words \n")
    assert read_text_splits(tmp_path) == {s: f" {s} words \n" for s in ("train", "valid", "test")}
    with pytest.raises(UserError, match="no such directory"):
        read_text_splits(tmp_path / "nope")
    (tmp_path / "ptb.test.txt").unlink()
    with pytest.raises(UserError, match="no such file"):
        read_text_splits(tmp_path)


def test_real_text_corpora(real_path):
    shakespeare = read_text(real_path("tinyshakespeare/input.txt"))
    assert len(shakespeare) == 1_115_394 and len(set(shakespeare)) == 65
    ptb = read_text_splits(real_path("ptb"))
    assert len(ptb["train"].split("\n")) - 1 == 42_068
    assert len(ptb["train"].split()) == 887_521
