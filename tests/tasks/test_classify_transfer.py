"""Transfer into the text classifier end to end: a language model's encoder (--encoder-from),
ULMFiT's fine-tuning options, word vectors (--embeddings, rnnkit vectors)."""

import json
import logging
import random

import pytest
import torch
from safetensors.torch import load_file

from rnnkit.cli import main
from rnnkit.tasks.classify import TextClassifier

from .cli import last_json, run

pytestmark = pytest.mark.usefixtures("one_thread")

QUIET = ["--threads", "1", "--no-progress", "--no-plot"]
GOOD, BAD = ["great", "wonderful", "superb"], ["awful", "terrible", "boring"]
FILLER = "the a film movie story acting cast plot was is and very really quite".split()


def _reviews(n, seed):
    """(text, label) pairs whose label is one sentiment word among filler words."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        label = ("bad", "good")[i % 2]
        words = [rng.choice(FILLER) for _ in range(8)]
        words.insert(rng.randrange(9), rng.choice(GOOD if label == "good" else BAD))
        rows.append((" ".join(words), label))
    return rows


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A tiny word-level language model (2 layers) and a classifier fine-tuned from it for two
    epochs with gradual unfreezing, every ULMFiT option on."""
    root = tmp_path_factory.mktemp("transfer")
    corpus = root / "corpus.txt"
    corpus.write_text("\n".join(t for t, _ in _reviews(120, 1)) + "\n", encoding="utf-8")
    reviews = root / "reviews.csv"
    rows = ["text,label", *(f"{t},{label}" for t, label in _reviews(80, 2))]
    reviews.write_text("\n".join(rows) + "\n", encoding="utf-8")
    torch.set_num_threads(1)
    lm = root / "lm"
    code = main(["train", "lm", "--data", str(corpus), "--level", "word", "--hidden", "8",
                 "--layers", "2", "--seq-length", "8", "--sample-length", "0", "--epochs", "1",
                 "--min-freq", "1", "--out", str(lm), *QUIET])  # fmt: skip
    assert code == 0
    clf = root / "clf"
    code = main(["train", "classify", "--data", str(reviews), "--encoder-from", str(lm),
                 "--pooling", "concat", "--lr-decay-per-layer", "2.6", "--slanted-triangular",
                 "--gradual-unfreeze", "--epochs", "2", "--batch-size", "16", "--out", str(clf),
                 *QUIET])  # fmt: skip
    assert code == 0
    return {"lm": lm, "clf": clf, "reviews": reviews, "root": root}


def test_encoder_weights_and_vocabulary_carried_over_bit_for_bit(runs):
    lm = load_file(runs["lm"] / "best" / "model.safetensors")
    last = load_file(runs["clf"] / "last" / "model.safetensors")  # after epoch 2
    # gradual unfreezing: epoch 1 trained the output layer, epoch 2 also recurrent layer 1;
    # the embedding and recurrent layer 0 are still the language model's, bit for bit
    assert torch.equal(last["embedding.weight"], lm["embedding.weight"])
    layer0 = [name for name in lm if name.startswith("rnn.") and name.endswith("_l0")]
    layer1 = [name for name in lm if name.startswith("rnn.") and name.endswith("_l1")]
    assert len(layer0) == len(layer1) == 4
    for name in layer0:
        assert torch.equal(last[name], lm[name]), name
    assert any(not torch.equal(last[name], lm[name]) for name in layer1)
    for name in ("vocab.json", "tokenizer.json"):
        saved = json.loads((runs["clf"] / "best" / name).read_text())
        assert saved == json.loads((runs["lm"] / "best" / name).read_text()), name
    config = json.loads((runs["clf"] / "best" / "config.json").read_text())
    lm_config = json.loads((runs["lm"] / "best" / "config.json").read_text())
    for name in ("cell", "embed", "hidden", "layers"):
        assert config["model"][name] == lm_config["model"][name], name
    assert config["model"]["bidirectional"] is False
    assert config["model"]["pooling"] == "concat"


def test_fine_tuned_classifier_predicts_unknown_words(capsys, runs):
    code, stdout, _ = run(capsys, "predict", str(runs["clf"]), "zzz unseen qqq", "--json")
    assert code == 0
    [row] = last_json(stdout)["predictions"]
    assert row["label"] in ("good", "bad")
    clf = TextClassifier.from_checkpoint(__import__("rnnkit").load(runs["clf"]).checkpoint)
    unk = clf.preprocessing.vocab.unk_index
    assert clf.preprocessing.vocab.encode(["zzz", "great"])[0] == unk


def test_history_shows_the_slanted_triangular_rates(runs):
    lines = (runs["clf"] / "history.csv").read_text().splitlines()
    header = lines[0].split(",")
    rates = [float(line.split(",")[header.index("lr")]) for line in lines[1:]]
    # the top group's rate (--lr; the lower groups' are lr / 2.6**g) at each epoch's start,
    # times the schedule's factor
    assert rates[0] == pytest.approx(2e-3 / 32)
    assert rates[1] > rates[0]


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--hidden", "32"], "cannot fit hidden=32 (the language model has 8)"),
        (["--bidirectional"], "cannot fit bidirectional=True"),
        (["--embeddings", "vectors.txt"], "expected one of them"),
    ],
)
def test_encoder_settings_that_do_not_fit(capsys, runs, option, message):
    code, stdout, stderr = run(
        capsys, "train", "classify", "--data", str(runs["reviews"]), "--encoder-from",
        str(runs["lm"]), *option, "--out", str(runs["root"] / "refused"), *QUIET,
    )  # fmt: skip
    assert code == 2 and not stdout
    assert message in stderr and "Traceback" not in stderr


def test_encoder_from_a_run_that_is_not_a_language_model(capsys, runs):
    code, _, stderr = run(
        capsys, "train", "classify", "--data", str(runs["reviews"]), "--encoder-from",
        str(runs["clf"]), "--out", str(runs["root"] / "refused2"), *QUIET,
    )  # fmt: skip
    assert code == 2 and "is a 'classify' run; expected a language-model run" in stderr


def test_python_api_from_the_language_model(runs):
    texts, labels = zip(*_reviews(40, 3), strict=True)
    clf = TextClassifier(encoder_from=str(runs["lm"]), gradual_unfreeze=True, epochs=1,
                         batch_size=16, verbose=0, plot=False)  # fmt: skip
    clf.fit(list(texts), list(labels))
    assert clf.settings["model"].hidden == 8 and not clf.settings["model"].bidirectional
    assert len(clf.preprocessing.vocab) == len(json.loads(
        (runs["lm"] / "best" / "vocab.json").read_text())["tokens"])  # fmt: skip
    assert clf.predict(["a great film"])[0] in ("good", "bad")


def test_vectors_command_then_frozen_embeddings(capsys, caplog, runs, tmp_path):
    vectors = tmp_path / "vectors.txt"
    code, stdout, _ = run(
        capsys, "vectors", "--data", str(runs["reviews"]), "--out", str(vectors), "--dim", "6",
        "--min-count", "1", "--epochs", "1", "--json",
    )  # fmt: skip
    assert code == 0
    made = last_json(stdout)
    assert made["dim"] == 6 and made["documents"] == 80 and made["words"] > 10
    out = tmp_path / "clf"
    with caplog.at_level(logging.INFO, logger="rnnkit"):
        code, _, _ = run(
            capsys, "train", "classify", "--data", str(runs["reviews"]), "--embeddings",
            str(vectors), "--freeze-embeddings", "--min-freq", "1", "--hidden", "4", "--epochs",
            "1", "--out", str(out), *QUIET,
        )  # fmt: skip
    assert code == 0
    vocab = json.loads((out / "best" / "vocab.json").read_text())["tokens"]
    regular = len(vocab) - 2  # <pad>, <unk>
    assert f"embeddings: {regular} of {regular} words found (100.0%)" in caplog.text
    assert json.loads((out / "best" / "config.json").read_text())["model"]["embed"] == 6
    weight = load_file(out / "best" / "model.safetensors")["embedding.weight"]
    rows = {line.split(" ")[0]: line.split(" ")[1:] for line in vectors.read_text().splitlines()}
    for index, token in enumerate(vocab[2:], start=2):  # frozen: the file's values after training
        expected = torch.tensor([float(v) for v in rows[token]])
        assert torch.equal(weight[index], expected), token


def test_malformed_vectors_file_is_one_line(capsys, runs, tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("great 0.1 0.2\nawful 0.3\n", encoding="utf-8")
    code, stdout, stderr = run(
        capsys, "train", "classify", "--data", str(runs["reviews"]), "--embeddings", str(bad),
        "--out", str(tmp_path / "r"), *QUIET,
    )  # fmt: skip
    assert code == 2 and not stdout
    assert "bad.txt, line 2: 1 values; expected 2" in stderr.strip().splitlines()[-1]


def test_gradual_unfreezing_trains_one_more_group_each_epoch():
    from types import SimpleNamespace

    from rnnkit.models import ClassifierConfig, SequenceClassifier
    from rnnkit.tasks.classify.finetune import GradualUnfreezing

    model = SequenceClassifier(ClassifierConfig(20, 2, embed=4, hidden=4, layers=2))
    model.embedding.weight.requires_grad_(False)  # --freeze-embeddings: never unfrozen
    trainer = SimpleNamespace(model=model)
    callback = GradualUnfreezing()
    callback.on_fit_start(trainer)
    groups = model.layer_groups()  # embedding, layer 0, layer 1, output
    for epoch, trained in [(1, [3]), (2, [2, 3]), (3, [1, 2, 3]), (4, [1, 2, 3]), (9, [1, 2, 3])]:
        callback.on_epoch_start(trainer, epoch)
        states = [{p.requires_grad for p in group} for group in groups]
        assert states == [{g in trained} for g in range(4)], epoch


@pytest.mark.slow
def test_imdb_slices_pretrain_then_fine_tune(capsys, data_dir, tmp_path):
    """The two commands on real IMDb slices: a language model on 300 unlabelled/training
    reviews, then a classifier fine-tuned from it on 200 labelled ones (about 25 s: the archive
    is read twice)."""
    if not (data_dir / "aclImdb_v1.tar.gz").exists():
        pytest.skip("the IMDb archive is not in $RNNKIT_DATA")
    lm, clf = tmp_path / "lm", tmp_path / "clf"
    code, stdout, _ = run(
        capsys, "train", "lm", "--data", "imdb-unsup", "--level", "word", "--max-documents",
        "300", "--max-vocab", "3000", "--hidden", "16", "--layers", "2", "--seq-length", "20",
        "--sample-length", "0", "--epochs", "1", "--out", str(lm), "--json", *QUIET,
    )  # fmt: skip
    assert code == 0 and last_json(stdout)["val_perplexity"] > 1
    code, stdout, _ = run(
        capsys, "train", "classify", "--data", "imdb", "--encoder-from", str(lm), "--limit",
        "200", "--max-length", "80", "--pooling", "concat", "--lr-decay-per-layer", "2.6",
        "--slanted-triangular", "--gradual-unfreeze", "--epochs", "2", "--out", str(clf),
        "--json", *QUIET,
    )  # fmt: skip
    trained = last_json(stdout)
    assert code == 0 and trained["epochs"] == 2 and 0 <= trained["val_accuracy"] <= 1
    vocab = json.loads((clf / "best" / "vocab.json").read_text())
    assert vocab == json.loads((lm / "best" / "vocab.json").read_text())
