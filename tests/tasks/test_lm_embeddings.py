"""Word vectors into the language model's embedding: --embeddings FILE and --freeze-embeddings."""

import json
import logging

import pytest
import torch
from safetensors.torch import load_file

import rnnkit
from rnnkit.tasks.lm import LanguageModel

from .cli import run

pytestmark = pytest.mark.usefixtures("one_thread")

QUIET = ["--threads", "1", "--no-progress", "--no-plot"]
WORDS = "the cat sat on a mat and dog ran to big red house".split()
TEXT = "\n".join(" ".join(WORDS[(i * 5 + j) % len(WORDS)] for j in range(9)) for i in range(120))


@pytest.fixture
def files(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TEXT, encoding="utf-8")
    vectors = tmp_path / "vectors.txt"  # word2vec text format: a header, then one word a line
    generator = torch.Generator().manual_seed(0)
    table = {word: torch.randn(6, generator=generator) for word in WORDS[:10]}  # 10 of 13 words
    lines = [f"{len(table)} 6"] + [
        word + " " + " ".join(f"{v:.6f}" for v in vector.tolist()) for word, vector in table.items()
    ]
    vectors.write_text("\n".join(lines) + "\n", encoding="utf-8")
    read_back = {w: torch.tensor([float(f"{v:.6f}") for v in t.tolist()]) for w, t in table.items()}
    return corpus, vectors, read_back


def _train(capsys, corpus, out, *options):
    return run(
        capsys, "train", "lm", "--data", str(corpus), "--level", "word", "--min-freq", "1",
        "--layers", "1", "--epochs", "1", "--seq-length", "8", "--batch-size", "4",
        "--sample-length", "0", "--out", str(out), *QUIET, *options,
    )  # fmt: skip


def test_vectors_fill_the_embedding_and_stay_frozen(capsys, caplog, files, tmp_path):
    corpus, vectors, table = files
    out = tmp_path / "lm"
    with caplog.at_level(logging.INFO, logger="rnnkit"):
        code, _, err = _train(
            capsys, corpus, out, "--embeddings", str(vectors), "--freeze-embeddings",
            "--hidden", "8", "--no-tie-weights",
        )  # fmt: skip
    assert code == 0, err
    vocab = json.loads((out / "best" / "vocab.json").read_text())["tokens"]
    specials = [t for t in vocab if t.startswith("<")]
    regular = [t for t in vocab if not t.startswith("<")]
    assert f"embeddings: 10 of {len(regular)} words found" in caplog.text
    config = json.loads((out / "best" / "config.json").read_text())
    assert config["model"]["embed"] == 6  # the file's size
    assert config["vectors"] == {"embeddings": str(vectors), "freeze_embeddings": True}
    weight = load_file(out / "best" / "model.safetensors")["embedding.weight"]  # (V, 6)
    for index, token in enumerate(vocab):
        if token in table:  # frozen: exactly the file's values after training
            assert torch.equal(weight[index], table[token]), token
    assert len(specials) + len(regular) == weight.shape[0]


def test_tied_weights_need_the_vectors_size(capsys, files, tmp_path):
    corpus, vectors, _ = files
    code, _, err = _train(capsys, corpus, tmp_path / "lm", "--embeddings", str(vectors))
    assert code == 2  # word level ties the embedding to the output: hidden 256 is not 6
    assert "dimension 6" in err and "hidden=6" in err and "Traceback" not in err
    code, _, err = _train(
        capsys, corpus, tmp_path / "lm2", "--embeddings", str(vectors), "--hidden", "6"
    )
    assert code == 0, err  # tied at the file's size: the vectors start the output layer too


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--one-hot"], "expected one_hot=False with embeddings"),
        (["--freeze-embeddings"], "not tied to the output layer"),
    ],
)
def test_settings_that_cannot_take_vectors(capsys, files, tmp_path, options, message):
    corpus, vectors, _ = files
    code, _, err = _train(
        capsys, corpus, tmp_path / "lm", "--embeddings", str(vectors), "--hidden", "6", *options
    )
    assert code == 2 and message in err and "Traceback" not in err
    assert not (tmp_path / "lm" / "best").exists()  # said before any training


def test_missing_file_is_said_before_the_data_loads(capsys, files, tmp_path):
    corpus, _, _ = files
    code, _, err = _train(capsys, corpus, tmp_path / "lm", "--embeddings", "nope.txt")
    assert code == 2 and "nope.txt" in err and "Traceback" not in err


def test_python_api_and_an_old_run_without_the_section(files, tmp_path):
    corpus, vectors, table = files
    lm = LanguageModel(
        level="word", min_freq=1, layers=1, hidden=6, embeddings=str(vectors), seq_length=8,
        batch_size=4, sample_length=0, epochs=1, verbose=0, plot=False,
    )  # fmt: skip
    lm.fit(data=str(corpus), out=str(tmp_path / "api"))
    assert lm.model.embedding.weight.shape[1] == 6
    config_path = tmp_path / "api" / "best" / "config.json"
    config = json.loads(config_path.read_text())
    del config["vectors"]  # a run saved before word vectors came to the language model
    config_path.write_text(json.dumps(config))
    loaded = rnnkit.load(str(tmp_path / "api"))
    assert loaded.settings["vectors"].embeddings is None
    assert loaded.generate("the cat", 5, seed=0)["text"]
