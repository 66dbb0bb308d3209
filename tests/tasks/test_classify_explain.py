"""``TextClassifier.explain``: each token's contribution by occlusion or gradient x input, on a
tiny classifier trained on texts whose label one word decides ("great": pos, "awful": neg,
neither: neutral, among the same fillers), and ``rnnkit predict --explain``."""

import json
import random

import numpy as np
import pytest
import torch

import rnnkit
from rnnkit.cli import main
from rnnkit.errors import UserError

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models run faster on one thread

FILLERS = ("the", "a", "movie", "film", "plot", "was", "is", "really", "quite", "story",
           "acting", "this")  # fmt: skip


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    """A classifier for which one word decides the label, saved in a run folder."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    rng = random.Random(0)
    texts, labels = [], []
    for i in range(60):
        words = rng.sample(FILLERS, 3)
        if i % 3:  # without the word the text is neutral: the word alone decides
            words.insert(rng.randrange(4), "great" if i % 3 == 1 else "awful")
        texts.append(" ".join(words))
        labels.append(("neutral", "pos", "neg")[i % 3])
    clf = rnnkit.TextClassifier(
        embed=8, hidden=16, dropout=0.0, min_freq=1, batch_size=8, epochs=10, lr=0.05, seed=0,
        monitor="val_loss", mode="min", plot=False, verbose=0,
    )  # fmt: skip
    clf.fit(texts, labels, out=tmp_path_factory.mktemp("explain") / "run")
    torch.set_num_threads(threads)
    return clf


PROBES = ["the movie was great really", "quite awful acting this film", "a great plot",
          "story is awful"]  # fmt: skip


@pytest.mark.parametrize("method", ["occlusion", "gradient"])
def test_the_word_that_decides_the_label_contributes_most(classifier, method):
    rows = classifier.explain(PROBES, method=method)
    for row, decisive in zip(rows, ("great", "awful", "great", "awful")):
        assert row["label"] == ("pos" if decisive == "great" else "neg"), row
        assert len(row["tokens"]) == len(row["contributions"]) == len(row["input"].split())
        top = int(np.argmax(row["contributions"]))
        assert row["tokens"][top] == decisive, row
        if method == "occlusion":  # without the word the label goes, and its probability
            others = [c for i, c in enumerate(row["contributions"]) if i != top]
            assert row["contributions"][top] > 0.5 and max(others) < 0.1, row
        # (a gradient is small where the probability saturates near 1: the order is checked)


def test_a_contribution_is_the_drop_of_the_labels_probability_without_the_token(classifier):
    """c_i = p(label | text) - p(label | text with token i read as <unk>), checked through
    predict_proba with token i replaced by a word the vocabulary lacks (read as <unk>)."""
    text = PROBES[0]
    (row,) = classifier.explain([text])
    column = classifier.classes_.index(row["label"])
    p = classifier.predict_proba([text])[0, column]
    assert row["probabilities"][row["label"]] == pytest.approx(p, abs=1e-6)
    words = text.split()
    for i in range(len(words)):
        occluded = " ".join(words[:i] + ["zzzunseen"] + words[i + 1 :])
        without = classifier.predict_proba([occluded])[0, column]
        assert row["contributions"][i] == pytest.approx(p - without, abs=1e-5)


def test_gradient_times_input_is_the_derivative_along_each_embedding(classifier):
    """c_i = grad_{e_i} p(label | x) . e_i, checked against a central difference of p as the
    embedding e_i is scaled by 1 + eps (d/d eps of p(e_i (1 + eps)) at 0 is that product); the
    weights get no gradient."""
    text = PROBES[1]
    (row,) = classifier.explain([text], method="gradient")
    column = classifier.classes_.index(row["label"])
    model, eps = classifier.model, 1e-3
    for i in range(len(row["tokens"])):
        scaled = []
        for sign in (1, -1):
            scale = torch.ones(1, len(row["tokens"]), 1)  # (1, L, 1)
            scale[0, i] += sign * eps
            handle = model.embedding.register_forward_hook(lambda m, x, out, s=scale: out * s)
            try:
                scaled.append(classifier.predict_proba([text])[0, column])
            finally:
                handle.remove()
        slope = (scaled[0] - scaled[1]) / (2 * eps)
        assert row["contributions"][i] == pytest.approx(slope, abs=2e-3, rel=0.05)
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.parametrize("method", ["occlusion", "gradient"])
def test_explain_is_deterministic_and_the_same_in_any_batch_size(classifier, method):
    first = classifier.explain(PROBES, method=method)
    assert classifier.explain(PROBES, method=method) == first
    for got, want in zip(classifier.explain(PROBES, method=method, batch_size=1), first):
        assert got["label"] == want["label"] and got["tokens"] == want["tokens"]
        assert got["probabilities"] == pytest.approx(want["probabilities"], abs=1e-6)
        np.testing.assert_allclose(got["contributions"], want["contributions"], atol=1e-5)


def test_an_unknown_method_is_refused(classifier):
    with pytest.raises(UserError, match="method must be one of occlusion, gradient"):
        classifier.explain(PROBES, method="lime")


def test_unknown_words_contribute_nothing_and_an_empty_text_reads_as_one_unknown(classifier):
    unknown, empty = classifier.explain(["zzzunseen great", ""])
    assert unknown["contributions"][0] == 0.0 and unknown["contributions"][1] > 0
    assert empty["tokens"] == ["<unk>"] and empty["contributions"] == [0.0]
    assert classifier.explain([]) == []


def test_rnnkit_predict_explain_prints_each_tokens_contribution(classifier, capsys):
    run = str(classifier.run_dir)
    assert main(["--json", "predict", run, "a great plot", "--explain", "--device", "cpu"]) == 0
    (row,) = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["predictions"]
    assert row["tokens"] == ["a", "great", "plot"] and len(row["contributions"]) == 3
    assert main(["predict", run, "a great plot", "--explain", "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    assert "great(+" in printed and printed.startswith("pos\t")
    assert main(["--json", "predict", run, "a great plot", "--explain", "gradient"]) == 0
    (row,) = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["predictions"]
    assert (
        row["contributions"]
        == classifier.explain(["a great plot"], method="gradient")[0]["contributions"]
    )
