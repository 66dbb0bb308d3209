"""The language-model task with the AWD-LSTM options and IMDb's unlabelled reviews: the corpus
holds the unlabelled and training reviews but never the test reviews, the options reach the
model and the objective, a run with all of them resumes exactly, and ``rnnkit train lm --data
imdb-unsup`` runs end to end on a slice of the real tarball."""

import json

import pytest
import torch
from safetensors.torch import load_file

import rnnkit
from rnnkit.cli import main
from rnnkit.data.vocab import Vocabulary
from rnnkit.errors import UserError
from rnnkit.tasks.lm.data import LMData, imdb_reviews_text, load_corpus
from rnnkit.tasks.lm.objective import LanguageModelObjective
from rnnkit.train.averaging import NonMonotonicTrigger

pytestmark = pytest.mark.usefixtures("one_thread")

AWD = ["--weight-drop", "0.3", "--embed-dropout", "0.1", "--locked-dropout", "--input-dropout",
       "0.2", "--output-dropout", "0.2", "--ar", "2", "--tar", "1"]  # fmt: skip
TEXT = "the cat sat on the mat . the dog sat on the log .\n" * 40


@pytest.fixture
def fake_imdb(tmp_path, monkeypatch):
    """An aclImdb tree whose test reviews hold a word no other review has."""
    root = tmp_path / "data" / "aclImdb"
    reviews = {
        "train/pos": ["A fine film.<br />Loved it.", "Great acting."],
        "train/neg": ["A dull film.", "Bad\nplot."],
        "train/unsup": [f"Unlabelled review number {i}." for i in range(6)],
        "test/pos": ["secretword good"],
        "test/neg": ["secretword bad"],
    }
    for folder, texts in reviews.items():
        (root / folder).mkdir(parents=True)
        for i, text in enumerate(texts):
            (root / folder / f"{i}_7.txt").write_text(text, encoding="utf-8")
    monkeypatch.setenv("RNNKIT_DATA", str(tmp_path / "data"))
    return root


def test_imdb_unsup_is_unlabelled_and_training_reviews_never_test(fake_imdb):
    text = imdb_reviews_text(fake_imdb)
    lines = text.splitlines()
    assert len(lines) == 10  # 6 unlabelled + 4 training reviews, one a line
    assert "secretword" not in text
    assert "Bad plot." in lines  # a review's own newline made a space
    assert lines != sorted(lines) and lines == imdb_reviews_text(fake_imdb).splitlines()
    assert imdb_reviews_text(fake_imdb, max_documents=3).splitlines() == lines[:3]
    corpus = load_corpus("imdb-unsup", val_fraction=0.2, max_documents=5)
    assert set(corpus.texts) == {"train", "val"} and not corpus.own_splits
    assert (corpus.texts["train"] + corpus.texts["val"]).splitlines() == lines[:5]


def test_imdb_unsup_vocabulary_is_the_classifiers_tokens(fake_imdb, tmp_path):
    lm = rnnkit.LanguageModel(level="word", hidden=8, embed=8, epochs=1, seq_length=4,
                              batch_size=2, sample_length=0, verbose=0)  # fmt: skip
    lm.fit(data="imdb-unsup", out=tmp_path / "run")
    vocab = Vocabulary.from_dict(json.loads((tmp_path / "run/best/vocab.json").read_text()))
    assert "secretword" not in vocab and "<br" not in vocab
    assert "film" in vocab and "Film" not in vocab  # lower case, as the classifier reads text
    tokenizer = json.loads((tmp_path / "run/best/tokenizer.json").read_text())
    assert tokenizer["name"] == "word" and tokenizer["lower"] and tokenizer["html"]


def test_max_documents_is_for_imdb_unsup_only():
    with pytest.raises(UserError, match="max_documents counts the reviews of imdb-unsup"):
        LMData(source="ptb", max_documents=10)


def test_options_reach_the_model_objective_and_callbacks(tmp_path):
    lm = rnnkit.LanguageModel(level="word", hidden=16, embed=16, epochs=1, seq_length=8,
                              batch_size=4, sample_length=0, verbose=0, weight_drop=0.3,
                              embed_dropout=0.1, locked_dropout=True, ar=2.0, tar=1.0,
                              optimizer="ntasgd", lr=1.0, asgd_patience=3)  # fmt: skip
    lm.fit(TEXT, out=tmp_path / "run")
    rnn = lm.model.rnn
    assert (rnn.weight_drop, rnn.locked_dropout) == (0.3, True)
    objective = lm.make_objective(lm.preprocessing)
    assert isinstance(objective, LanguageModelObjective) and (objective.ar, objective.tar) == (2, 1)
    (trigger,) = [c for c in lm.make_callbacks(lm.preprocessing)
                  if isinstance(c, NonMonotonicTrigger)]  # fmt: skip
    assert trigger.patience == 3
    history = (tmp_path / "run/history.csv").read_text().splitlines()
    row = dict(zip(history[0].split(","), map(float, history[1].split(",")), strict=True))
    assert row["train_activation"] > 0  # reported apart from the cross-entropy
    config = json.loads((tmp_path / "run/best/config.json").read_text())
    assert config["regularization"] == {"ar": 2.0, "tar": 1.0, "asgd_patience": 3}
    assert config["model"]["weight_drop"] == 0.3 and config["model"]["locked_dropout"]


@pytest.mark.slow
def test_a_resumed_run_with_every_option_equals_the_straight_run(tmp_path):
    """Resumed while NT-ASGD averages: validation text that the training text does not predict
    (its words in reverse) stops improving, so averaging has started by the end of epoch 6."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "train.txt").write_text(TEXT, encoding="utf-8")
    reverse = " ".join(reversed(TEXT.splitlines()[0].split())) + "\n"
    (folder / "valid.txt").write_text(reverse * 5, encoding="utf-8")
    common = ["train", "lm", "--data", str(folder), "--level", "word", "--hidden", "16",
              "--seq-length", "8", "--batch-size", "4", "--sample-length", "0", "--threads",
              "1", "--optimizer", "ntasgd", "--lr", "10", "--asgd-patience", "1", "--no-plot",
              *AWD]  # fmt: skip
    assert main([*common, "--epochs", "7", "--out", str(tmp_path / "straight")]) == 0
    assert main([*common, "--epochs", "6", "--out", str(tmp_path / "resumed")]) == 0
    state = torch.load(tmp_path / "resumed/last/training_state.pt", weights_only=True)
    assert state["optimizer"]["param_groups"][0]["averaged"] > 0, "averaging is active"
    resume = ["train", "lm", "--resume", str(tmp_path / "resumed"), "--epochs", "7"]
    assert main([*resume, "--threads", "1"]) == 0
    for part in ("last", "best"):
        a = load_file(tmp_path / "straight" / part / "model.safetensors")
        b = load_file(tmp_path / "resumed" / part / "model.safetensors")
        assert a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a), part


@pytest.mark.slow
def test_train_lm_on_imdb_unsup_end_to_end(data_dir, tmp_path, capsys):
    """The real tarball (reading it takes seconds), 80 reviews, every option on."""
    if not (data_dir / "aclImdb_v1.tar.gz").exists():
        pytest.skip("aclImdb_v1.tar.gz is missing from RNNKIT_DATA")
    out = tmp_path / "run"
    argv = ["train", "lm", "--data", "imdb-unsup", "--level", "word", "--max-documents", "80",
            "--hidden", "32", "--layers", "2", "--seq-length", "20", "--batch-size", "16",
            "--epochs", "1", "--optimizer", "ntasgd", "--lr", "5", "--sample-length", "5",
            "--threads", "1", "--no-plot", "--json", "--out", str(out), *AWD]  # fmt: skip
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["val_perplexity"] < 5000
    vocab = json.loads((out / "best" / "vocab.json").read_text())
    assert vocab  # the vocabulary a classifier starts from, in the run folder's format
    config = json.loads((out / "best" / "config.json").read_text())
    assert config["data"]["source"] == "imdb-unsup" and config["data"]["max_documents"] == 80
