"""The language-model data: corpora, their splits, in-memory text, vocabularies, settings."""

import pytest

from rnnkit.errors import UserError
from rnnkit.tasks.lm.data import (
    LMData,
    build_vocabulary,
    decode_tokens,
    encode_text,
    evaluation_text,
    load_corpus,
    make_tokenizer,
    read_corpus,
)

from .helpers import char_setup


def test_single_file_is_cut_90_10_and_fractions_are_selectable(tmp_path):
    text = "".join(chr(ord("a") + i % 26) for i in range(1000))
    (tmp_path / "t.txt").write_text(text)
    corpus = load_corpus(str(tmp_path / "t.txt"))
    assert not corpus.own_splits
    assert corpus.texts["train"] == text[:900] and corpus.texts["val"] == text[900:]
    corpus = load_corpus(str(tmp_path / "t.txt"), val_fraction=0.2, test_fraction=0.1)
    assert [len(corpus.texts[s]) for s in ("train", "val", "test")] == [700, 200, 100]
    assert "".join(corpus.texts.values()) == text
    with pytest.raises(UserError, match="leave nothing to train on"):
        load_corpus(str(tmp_path / "t.txt"), val_fraction=0.6, test_fraction=0.5)


def test_folder_with_split_files_uses_them(tmp_path):
    for name, words in [("ptb.train.txt", "a b c\n"), ("ptb.valid.txt", "b c\n"),
                        ("ptb.test.txt", "c a\n")]:  # fmt: skip
        (tmp_path / name).write_text(words)
    corpus = load_corpus(str(tmp_path))
    assert corpus.own_splits
    assert corpus.texts == {"train": "a b c\n", "val": "b c\n", "test": "c a\n"}


def test_folder_of_text_files_is_joined_in_name_order(tmp_path):
    (tmp_path / "b.txt").write_text("second" * 20)
    (tmp_path / "a.txt").write_text("first" * 20 + "\n")
    corpus = load_corpus(str(tmp_path))
    assert not corpus.own_splits
    assert "".join(corpus.texts.values()).startswith("firstfirst")


def test_bad_corpora_give_clear_errors(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"fine line\nsecond \xff line\n")
    with pytest.raises(UserError, match=r"bad.txt: cannot decode byte 0xff on line 2"):
        load_corpus(str(bad))
    (tmp_path / "empty.txt").write_text("  \n")
    with pytest.raises(UserError, match="empty"):
        load_corpus(str(tmp_path / "empty.txt"))
    with pytest.raises(UserError, match="neither a known corpus"):
        load_corpus(str(tmp_path / "missing.txt"))
    with pytest.raises(UserError, match="not a language-modelling corpus"):
        load_corpus("imdb")


def test_tinyshakespeare_is_shipped_inside_the_package(monkeypatch):
    import hashlib
    from pathlib import Path

    import rnnkit.data
    from rnnkit.data.registry import DATASETS

    entry = DATASETS["tinyshakespeare"]
    shipped = Path(rnnkit.data.__file__).parent / entry.bundled
    assert hashlib.sha256(shipped.read_bytes()).hexdigest() == entry.files[0].sha256
    monkeypatch.delenv("RNNKIT_DATA", raising=False)
    monkeypatch.setenv("RNNKIT_CACHE", "/nonexistent/cache")
    monkeypatch.setenv("RNNKIT_OFFLINE", "1")
    corpus = load_corpus("tinyshakespeare")
    assert len(corpus.texts["train"]) + len(corpus.texts["val"]) == 1_115_394
    assert corpus.texts["train"].startswith("First Citizen:")


def test_vocabularies_and_encoding(tmp_path):
    corpus, tokenizer, vocab = char_setup("aab\n" * 20 + "z", tmp_path)  # 'z' only in val
    assert "z" in vocab and vocab.unk_index is None
    ids, unknown = encode_text("ab\n", tokenizer, vocab, "char")
    assert decode_tokens(ids.tolist(), vocab, "char") == "ab\n" and unknown == []
    with pytest.raises(UserError, match=r"characters the model never saw: 'Q' \(U\+0051\)"):
        encode_text("aQ", tokenizer, vocab, "char", what="the prime")

    (tmp_path / "w.txt").write_text("the cat sat\nthe dog sat\n" * 10 + "a rare word\n")
    words = load_corpus(str(tmp_path / "w.txt"))
    tok = make_tokenizer("word", str(tmp_path / "w.txt"))
    wv = build_vocabulary(words.texts, tok, "word")
    assert wv.eos_index is not None and wv.unk_index is not None
    ids, unknown = encode_text("the cat flew\nthe", tok, wv, "word")
    assert unknown == ["flew"]
    assert decode_tokens(ids.tolist(), wv, "word") == "the cat <unk>\nthe\n"


def test_in_memory_text_and_documents():
    data = LMData()
    text = "abcdefghij" * 10
    corpus = read_corpus(data, text)
    assert corpus.texts == {"train": text[:90], "val": text[90:]} and not corpus.own_splits
    corpus = read_corpus(data, ["first doc", "second doc"], validation="held out")
    assert corpus.texts == {"train": "first doc\nsecond doc", "val": "held out"}
    with pytest.raises(UserError, match="document 1 is a int; expected str"):
        read_corpus(data, ["fine", 3])
    with pytest.raises(UserError, match="the training text is empty"):
        read_corpus(data, "   ")


def test_evaluation_scores_a_file_whole_and_a_dataset_split(tmp_path):
    (tmp_path / "train.txt").write_text("x" * 100)
    (tmp_path / "other.txt").write_text("y" * 50)
    data = LMData(source=str(tmp_path / "train.txt"))
    assert evaluation_text(data, None, None, "val") == ("x" * 10, "val", data.source)
    text, split, where = evaluation_text(data, None, str(tmp_path / "other.txt"), "val")
    assert (text, split, where) == ("y" * 50, "all", str(tmp_path / "other.txt"))
    assert evaluation_text(data, ["a", "b"], None, "val")[:2] == ("a\nb", "all")
    with pytest.raises(UserError, match="has no test split"):
        evaluation_text(data, None, None, "test")
    with pytest.raises(UserError, match="trained on in-memory text"):
        evaluation_text(LMData(), None, None, "val")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"seq_length": 0}, "seq_length must be at least 1"),
        ({"level": "byte"}, "level must be one of char, word"),
        ({"val_fraction": 0.6, "test_fraction": 0.5}, "leave nothing to train on"),
        ({"max_vocab": 2}, "max_vocab must be at least 4"),
    ],
)
def test_settings_are_checked(values, message):
    with pytest.raises(UserError, match=message):
        LMData(**values)
