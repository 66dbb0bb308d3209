import gzip

import pytest

from rnnkit.data.text import read_parallel_text, read_text, read_text_splits
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


def test_read_parallel_text(tmp_path):
    (tmp_path / "train.de.gz").write_bytes(gzip.compress(b"Ein Hund.\nZwei Katzen.\n"))
    (tmp_path / "train.en").write_text("A dog.\nTwo cats.\n")
    pairs = read_parallel_text(tmp_path, splits={"train": "train"})
    assert pairs == {"train": (["Ein Hund.", "Zwei Katzen."], ["A dog.", "Two cats."])}
    (tmp_path / "train.en").write_text("A dog.\n")
    with pytest.raises(UserError, match="has 2 lines but train.en has 1"):
        read_parallel_text(tmp_path, splits={"train": "train"})
    with pytest.raises(UserError, match="expected val.de.gz or val.de"):
        read_parallel_text(tmp_path, splits={"valid": "val"})


def test_real_text_corpora(real_path):
    shakespeare = read_text(real_path("tinyshakespeare/input.txt"))
    assert len(shakespeare) == 1_115_394 and len(set(shakespeare)) == 65
    ptb = read_text_splits(real_path("ptb"))
    assert len(ptb["train"].split("\n")) - 1 == 42_068
    assert len(ptb["train"].split()) == 887_521
    multi30k = read_parallel_text(real_path("multi30k"))
    assert {s: len(pair[0]) for s, pair in multi30k.items()} == {
        "train": 29_000, "valid": 1_014, "test": 1_000,
    }  # fmt: skip
