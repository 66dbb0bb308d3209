"""Ensemble selection (Caruana et al. 2004) over a search's trials."""

import csv
import sys

import numpy as np
import pytest

import rnnkit.search
from rnnkit.errors import UserError
from rnnkit.search import ensemble_weights

from .conftest import TINY


def one_hot(classes, n_classes=2, confidence=0.9):
    p = np.full((len(classes), n_classes), (1 - confidence) / (n_classes - 1))
    p[np.arange(len(classes)), classes] = confidence
    return p


def test_greedy_selection_picks_models_that_fix_each_others_errors():
    labels = np.array([0, 0, 0, 1, 1, 1])
    right_on_first_half = one_hot([0, 0, 0, 0, 0, 0], confidence=0.6)  # 3 of 6
    right_on_second_half = one_hot([1, 1, 1, 1, 1, 1], confidence=0.6)  # 3 of 6
    sure_and_mostly_right = one_hot([0, 0, 1, 1, 1, 1], confidence=0.99)  # 5 of 6
    weights = ensemble_weights(
        [right_on_first_half, right_on_second_half, sure_and_mostly_right], labels, size=4
    )
    assert weights.sum() == pytest.approx(1.0) and weights.shape == (3,)
    assert weights[2] == max(weights)  # the best single model first
    mixed = np.tensordot(weights, np.stack([right_on_first_half, right_on_second_half,
                                            sure_and_mostly_right]), axes=1)  # fmt: skip
    best_single = (sure_and_mostly_right.argmax(1) == labels).mean()
    assert (mixed.argmax(1) == labels).mean() >= best_single


def test_one_pick_is_the_best_single_model_and_ties_go_to_the_likelier():
    labels = np.array([0, 1])
    unsure, sure = one_hot([0, 1], confidence=0.6), one_hot([0, 1], confidence=0.95)
    np.testing.assert_array_equal(ensemble_weights([unsure, sure], labels, size=1), [0, 1])


@pytest.mark.parametrize(
    ("probabilities", "size", "message"),
    [([np.ones((2, 2)) / 2], 0, "size >= 1"), ([np.ones((3, 2)) / 2], 2, "N = 2 labels")],
)
def test_bad_arguments_are_one_clear_error(probabilities, size, message):
    with pytest.raises(UserError, match=message):
        ensemble_weights(probabilities, np.array([0, 1]), size)


@pytest.mark.slow
def test_an_ensemble_of_a_search_predicts_like_its_weighted_members(tmp_path, tweets):
    space = {"lr": {"low": 1e-3, "high": 5e-2, "log": True}, "cell": ["lstm", "gru"]}
    results = rnnkit.search.run(
        "classify", data=str(tweets), space=space, out=tmp_path / "search", sampler="random",
        trials=3, pruner="none", plots=False, verbose=0, **TINY,
    )  # fmt: skip
    with tweets.open(newline="") as file:
        rows = list(csv.DictReader(file))[300:]  # past TINY's limit: not trained on
    texts, labels = [r["text"] for r in rows], [r["label"] for r in rows]
    ensemble = rnnkit.search.select_ensemble(results, texts, labels, size=5)
    assert ensemble.weights.sum() == pytest.approx(1.0) and len(ensemble.runs) == 3
    assert ensemble.val_accuracy == np.mean(ensemble.predict(texts) == np.array(labels))
    members = np.stack([m.predict_proba(texts[:7]) for m in ensemble.models])  # (M, 7, C)
    np.testing.assert_allclose(
        ensemble.predict_proba(texts[:7]), np.tensordot(ensemble.weights, members, axes=1)
    )
    assert [row["weight"] for row in ensemble.summary()] == sorted(
        (w for w in ensemble.weights if w > 0), reverse=True
    )
    with pytest.raises(UserError, match="not among the classes"):
        rnnkit.search.select_ensemble(results, texts[:1], ["sarcastic"])
    average = rnnkit.search.Ensemble.average(ensemble.runs)  # equal weights, no selection
    np.testing.assert_allclose(average.predict_proba(texts[:7]), members.mean(axis=0), rtol=1e-6)
    with pytest.raises(UserError, match="at least one run folder"):
        rnnkit.search.Ensemble.average([])


@pytest.mark.slow
def test_a_cross_validated_search_is_selected_on_out_of_fold_predictions(tmp_path, tweets):
    from rnnkit.tasks.classify.data import load_splits

    results = rnnkit.search.run(
        "classify", data=str(tweets), space={"lr": [0.05, 0.01]}, out=tmp_path / "cv",
        sampler="grid", pruner="none", plots=False, verbose=0, cv=2, **TINY,
    )  # fmt: skip
    ensemble = rnnkit.search.select_ensemble(results, size=3)
    assert len(ensemble.models) == 2 and ensemble.weights.sum() == pytest.approx(1.0)
    member = ensemble.models[0]  # the best trial, its 2 fold models averaged
    assert member.runs == results["trials"][0]["fold_runs"] and len(member.models) == 2
    # out of fold: fold model k predicts fold k's validation tweets, which it never trained on
    texts, labels, probabilities = [], [], []
    for model in member.models:
        val = load_splits(model.settings["data"])["val"]
        texts += val.texts
        labels += val.labels
        probabilities.append(model.predict_proba(val.texts))
    assert len(set(texts)) > 300  # both folds' tweets, not one fold's
    y = np.array([list(model.classes_).index(label) for label in labels])
    out_of_fold = (np.concatenate(probabilities).argmax(1) == y).mean()
    assert member.val_accuracy == pytest.approx(out_of_fold)
    new = texts[:5]  # a new text: the weighted mean over members of each one's fold mean
    means = np.stack([np.mean([m.predict_proba(new) for m in e.models], axis=0)
                      for e in ensemble.models])  # (M, 5, C) # fmt: skip
    np.testing.assert_allclose(
        ensemble.predict_proba(new), np.tensordot(ensemble.weights, means, axes=1), rtol=1e-6
    )
    plain = rnnkit.search.run(
        "classify", data=str(tweets), space={"lr": [0.05]}, out=tmp_path / "plain",
        sampler="grid", pruner="none", plots=False, verbose=0, **TINY,
    )  # fmt: skip
    with pytest.raises(UserError, match="needs a cross-validated search"):
        rnnkit.search.select_ensemble(plain)


def test_averaging_classifiers_needs_no_optuna_but_the_search_does(monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)  # import optuna now raises ImportError
    assert rnnkit.search.Ensemble.average.__name__ == "average"
    assert callable(rnnkit.search.ensemble_weights)
    with pytest.raises(UserError, match=r"pip install 'rnnkit\[search\]'"):
        rnnkit.search.run  # noqa: B018
