"""Word-vector files (word2vec/GloVe/fastText text, word2vec binary) into an embedding, and
training vectors with gensim."""

import gzip
import sys

import numpy as np
import pytest
import torch

from rnnkit.data import Vocabulary
from rnnkit.data.word_vectors import (
    fill_embedding,
    read_word_vectors,
    save_word_vectors,
    train_word_vectors,
    vectors_format,
)
from rnnkit.errors import UserError

pytest.importorskip("gensim")

ROWS = {"the": [0.5, -1.0, 2.0], "cat": [1.0, 2.0, 3.0], "sat": [-0.25, 0.0, 4.5]}


def _lines(rows=ROWS):
    return [f"{word} {' '.join(str(v) for v in values)}" for word, values in rows.items()]


@pytest.fixture
def vocab():
    # "The" is found through its lowercase form; "dog" is not in the file
    return Vocabulary(["The", "cat", "dog", "sat"])


@pytest.mark.parametrize("header", [True, False], ids=["word2vec-text", "glove"])
def test_text_with_and_without_header(tmp_path, header):
    path = tmp_path / "vectors.txt"
    path.write_text("\n".join((["3 3"] if header else []) + _lines()) + "\n", encoding="utf-8")
    assert vectors_format(path) == (False, header)
    vectors = read_word_vectors(path)
    assert vectors.vector_size == 3 and vectors.count == 3
    np.testing.assert_array_equal(vectors["sat"], np.float32([-0.25, 0.0, 4.5]))


def test_binary_and_gzip(tmp_path):
    text = tmp_path / "vectors.vec"
    text.write_text("\n".join(["3 3", *_lines()]) + "\n", encoding="utf-8")
    binary = save_word_vectors(read_word_vectors(text), tmp_path / "vectors.bin", binary=True)
    assert vectors_format(binary) == (True, True)
    vectors = read_word_vectors(binary)
    np.testing.assert_array_equal(vectors["cat"], np.float32([1, 2, 3]))
    zipped = tmp_path / "glove.txt.gz"
    with gzip.open(zipped, "wt", encoding="utf-8") as stream:
        stream.write("\n".join(_lines()) + "\n")
    assert read_word_vectors(zipped)["the"].tolist() == [0.5, -1.0, 2.0]


def test_coverage_and_rows(tmp_path, vocab):
    path = tmp_path / "glove.txt"
    path.write_text("\n".join(_lines()) + "\n", encoding="utf-8")
    vectors = read_word_vectors(path, vocab.itos)
    weight = torch.zeros(len(vocab), 3)
    coverage = fill_embedding(weight, vocab, vectors)
    assert (coverage.found, coverage.total) == (3, 4)  # The (as "the"), cat, sat; not dog
    assert coverage.summary() == "embeddings: 3 of 4 words found (75.0%)"
    assert weight[vocab.index("The")].tolist() == [0.5, -1.0, 2.0]
    assert weight[vocab.index("dog")].tolist() == [0, 0, 0]  # left as it was
    assert weight[vocab.pad_index].tolist() == [0, 0, 0]


def test_dimension_mismatch_is_a_user_error(tmp_path, vocab):
    path = tmp_path / "glove.txt"
    path.write_text("\n".join(_lines()) + "\n", encoding="utf-8")
    with pytest.raises(UserError, match="dimension 3; expected the embedding size 5"):
        fill_embedding(torch.zeros(len(vocab), 5), vocab, read_word_vectors(path))


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("short.txt", b"the 1 2 3\ncat 1 2\n", "line 2: 2 values; expected 3"),
        ("long.vec", b"2 2\nthe 1 2\ncat 1 2 3\n", "line 3: 3 values; expected 2"),
        ("word.txt", b"the 1 2\ncat 1 x\n", "line 2: 'x' is not a number"),
        ("empty.txt", b"", "the file is empty"),
        ("blank.txt", b"\n\n", "the file is empty"),
        ("header-only.vec", b"0 300\n", "holds no vectors"),
        ("latin1.txt", b"caf\xe9 1 2\n", "not UTF-8 text"),
        ("broken.bin", b"abc def\n\x00\x01\x02\x03", "not a valid word2vec binary file"),
        ("truncated.bin", b"3 4\nthe \x00\x00\x80?", "not a valid word2vec binary file"),
    ],
)
def test_malformed_files_are_one_clear_error(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(UserError, match=message):
        read_word_vectors(path, ["the", "cat"])


def test_missing_file(tmp_path):
    with pytest.raises(UserError, match="no such word-vector file"):
        read_word_vectors(tmp_path / "nope.txt")


def test_train_word_vectors_round_trip(tmp_path):
    sentences = [["good", "film", "great", "acting"], ["bad", "film", "awful", "acting"]] * 20
    vectors = train_word_vectors(sentences, dim=8, min_count=1, epochs=2, seed=1)
    assert vectors.vector_size == 8 and set(vectors.index_to_key) >= {"good", "film", "awful"}
    path = save_word_vectors(vectors, tmp_path / "own.txt")
    again = read_word_vectors(path)
    assert again.count == len(vectors)
    np.testing.assert_allclose(again["film"], vectors["film"], rtol=1e-6)
    with pytest.raises(UserError, match="no words"):
        train_word_vectors([[], []])


def test_missing_gensim_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "gensim.models", None)  # as if not installed
    path = tmp_path / "vectors.bin"
    path.write_bytes(b"1 2\nthe \x00\x00\x80?\x00\x00\x00@\n")
    with pytest.raises(UserError, match=r"pip install 'rnnkit\[vectors\]'"):
        read_word_vectors(path)
    with pytest.raises(UserError, match="need gensim"):
        train_word_vectors([["a", "b"]])
