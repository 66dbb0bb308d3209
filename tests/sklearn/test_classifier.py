"""rnnkit.sklearn.RNNClassifier against scikit-learn's estimator contract and its tools.

scikit-learn's ``check_estimator`` runs its data checks only for estimators that take 2-D numeric
arrays; for one that takes raw texts it runs none (``SkipTestWarning``). So the API checks that
need no data run here by name, and the data checks that apply to a text classifier are written
again with texts: fit returns self, unfitted use, pickling, idempotent fit, the input left
unchanged, sample-order and subset invariance, one class, integer labels, bad labels.
Skipped, because they feed a numeric feature matrix: dtypes, sparse input, NaN/inf features,
n_features_in_, 1-D/2-D feature shapes, sample weights (not a parameter), readonly memmaps.
"""

import os
import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import (
    GridSearchCV,
    RandomizedSearchCV,
    StratifiedKFold,
    cross_val_score,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils import estimator_checks as checks

import rnnkit
from rnnkit.sklearn import RNNClassifier

# selected on the validation loss: a validation split of three texts reaches accuracy 1 early
TINY = dict(embed=8, hidden=8, min_freq=1, epochs=8, lr=0.02, batch_size=16, max_length=12,
            patience=None, monitor="val_loss", mode="min")  # fmt: skip
GOOD = ["a great film", "truly great acting", "great fun", "great story and great cast"]
BAD = ["an awful film", "awful acting", "simply awful", "awful plot, awful cast"]


def reviews(n=15, labels=("good", "bad")):
    texts, y = [], []
    for i in range(n):
        texts += [f"{GOOD[i % 4]} number {i}", f"{BAD[i % 4]} number {i}"]
        y += list(labels)
    return texts, np.array(y)


@pytest.fixture(scope="module")
def fitted():
    texts, y = reviews()
    return RNNClassifier(**TINY).fit(texts, y)


# -- scikit-learn's own API checks (those that need no feature matrix) -------------------------

API_CHECKS = [
    "check_estimator_cloneable",
    "check_estimator_tags_renamed",
    "check_valid_tag_types",
    "check_estimator_repr",
    "check_no_attributes_set_in_init",
    "check_do_not_raise_errors_in_init_or_set_params",
    "check_mixin_order",
    "check_parameters_default_constructible",
    "check_get_params_invariance",
    "check_set_params",
]


@pytest.mark.parametrize("name", API_CHECKS)
def test_scikit_learn_api_check(name):
    getattr(checks, name)("RNNClassifier", RNNClassifier())


def test_check_estimator_sees_a_text_estimator():
    with pytest.warns(checks.SkipTestWarning, match="requires input"):
        checks.check_estimator(RNNClassifier())


# -- the contract, with texts -------------------------------------------------------------------


def test_parameters_are_the_task_settings_with_their_defaults():
    params = RNNClassifier().get_params()
    shown = rnnkit.TextClassifier.shown_defaults()
    assert {"hidden", "cell", "epochs", "batch_size", "optimizer", "lr", "init", "dropout"} <= set(
        params
    )
    as_given = {k: tuple(v) if isinstance(v, list) else v for k, v in shown.items()}
    assert all(params[k] == as_given[k] for k in params if k not in ("verbose", "device"))
    assert "text_column" not in params and "plot" not in params
    with pytest.raises(TypeError, match="unexpected keyword argument 'hiden'"):
        RNNClassifier(hiden=3)


def test_fit_predict_score(fitted):
    assert list(fitted.classes_) == ["bad", "good"]
    texts, y = reviews(5)
    assert fitted.score(texts, y) >= 0.9
    probabilities = fitted.predict_proba(texts)
    assert probabilities.shape == (10, 2)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, atol=1e-5)
    assert list(fitted.predict(["great great film", "awful awful"])) == ["good", "bad"]
    assert fitted.fit_result_["best_epoch"] >= 1 and "val_accuracy" in fitted.fit_result_


def test_unfitted_raises_not_fitted_error():
    with pytest.raises(NotFittedError, match="not fitted yet"):
        RNNClassifier().predict(["a text"])


def test_pickle_round_trip_predicts_the_same(fitted):
    texts, _ = reviews(5)
    again = pickle.loads(pickle.dumps(fitted))
    assert "task_" not in fitted.__getstate__() and "task_" in vars(fitted)  # no module pickled
    np.testing.assert_array_equal(again.predict_proba(texts), fitted.predict_proba(texts))
    assert again.get_params() == fitted.get_params()


def test_save_writes_a_run_folder_rnnkit_load_reads(fitted, tmp_path):
    fitted.save(tmp_path / "run")
    loaded = rnnkit.load(tmp_path / "run")
    texts, _ = reviews(3)
    np.testing.assert_array_equal(loaded.predict_proba(texts), fitted.predict_proba(texts))
    with pytest.raises(ValueError, match="exists"):
        fitted.save(tmp_path / "run")


def test_fit_is_idempotent_and_leaves_the_input_unchanged():
    texts, y = reviews(8)
    before = (list(texts), y.copy())
    model = RNNClassifier(**TINY)
    first = model.fit(texts, y).predict_proba(texts)
    second = model.fit(texts, y).predict_proba(texts)
    np.testing.assert_array_equal(first, second)  # seeded: the same fit twice
    assert texts == before[0] and (y == before[1]).all()


def test_sample_order_and_subset_invariance(fitted):
    texts, _ = reviews(6)
    whole = fitted.predict_proba(texts)
    order = np.random.default_rng(0).permutation(len(texts))
    np.testing.assert_allclose(fitted.predict_proba([texts[i] for i in order]), whole[order],
                               atol=1e-6)  # fmt: skip
    one_by_one = np.concatenate([fitted.predict_proba([t]) for t in texts])
    np.testing.assert_allclose(one_by_one, whole, atol=1e-6)  # padding changes nothing


def test_integer_labels_and_numpy_or_column_input():
    texts, y = reviews(labels=(1, 0))
    model = RNNClassifier(**TINY).fit(np.array(texts, dtype=object), y)
    assert model.classes_.tolist() == [0, 1] and model.predict(texts).dtype.kind == "i"
    assert model.score(texts, y) >= 0.9
    column = np.array(texts, dtype=object).reshape(-1, 1)
    assert model.predict(column).tolist() == model.predict(texts).tolist()


@pytest.mark.parametrize(
    "X, y, message",
    [
        (["one text"] * 4, ["a"] * 4, "at least 2 classes"),
        (["t"] * 4, [0.5, 1.5, 0.5, 1.5], "got floats"),
        (["t"] * 4, [["a"]] * 4, "1-D"),
        ("one string", ["a"], "one string"),
        ([1, 2, 3, 4], ["a", "b", "a", "b"], "expected str"),
        (["t", "u"], ["a"], "one label per text"),
    ],
)
def test_bad_data_is_a_value_error(X, y, message):
    with pytest.raises(ValueError, match=message):
        RNNClassifier(**TINY).fit(X, y)


def test_bad_parameters_are_value_errors_at_fit():
    texts, y = reviews(4)
    for params in ({"hidden": 0}, {"cell": "lstmm"}, {"dropout": 1.5}, {"optimizer": "adamx"}):
        model = RNNClassifier(**params)  # stored as given, checked at fit
        with pytest.raises(ValueError, match=next(iter(params))):
            model.fit(texts, y)


# -- scikit-learn's tools -----------------------------------------------------------------------


def test_the_courses_grid_search(data_dir):
    """The course's example: batch sizes and epochs by grid search, on 240 GOP-debate tweets."""
    pandas = pytest.importorskip("pandas")
    tweets = pandas.read_csv(
        os.path.join(data_dir, "gop-debate-sentiment", "Sentiment.csv"), encoding="latin-1"
    ).sample(240, random_state=0)
    model = RNNClassifier(embed=8, hidden=8, max_length=24, val_fraction=0.2)
    param_grid = dict(batch_size=[10, 20, 40], epochs=[1, 2, 3])
    grid = GridSearchCV(estimator=model, param_grid=param_grid, cv=2)
    grid_result = grid.fit(tweets["text"], tweets["sentiment"])
    assert len(grid_result.cv_results_["params"]) == 9
    assert set(grid_result.best_params_) == {"batch_size", "epochs"}
    assert 0 < grid_result.best_score_ <= 1
    assert grid_result.predict(["Great debate tonight!"])[0] in {"Negative", "Neutral", "Positive"}


def test_grid_search_in_two_processes_and_the_other_tools():
    texts, y = reviews(30)
    LONGER = {**TINY, "epochs": 16}  # noqa: N806 (a fold trains on 27 texts)
    folds = StratifiedKFold(2, shuffle=True, random_state=0)
    grid = GridSearchCV(RNNClassifier(**LONGER), {"hidden": [4, 8]}, cv=folds, n_jobs=2)
    assert grid.fit(texts, y).best_score_ >= 0.75  # fitted in worker processes, pickled back
    scores = cross_val_score(RNNClassifier(**LONGER), texts, y, cv=folds, n_jobs=2)
    assert scores.shape == (2,) and scores.min() >= 0.75
    search = RandomizedSearchCV(
        RNNClassifier(**LONGER), {"lr": [0.01, 0.02, 0.05], "cell": ["lstm", "gru"]},
        n_iter=2, cv=folds, random_state=0,
    )  # fmt: skip
    assert search.fit(texts, y).best_params_["cell"] in {"lstm", "gru"}
    lower = FunctionTransformer(lambda X: [t.lower() for t in X])
    pipeline = make_pipeline(lower, RNNClassifier(**LONGER)).fit(texts, y)
    assert list(pipeline.predict(["GREAT GREAT FILM"])) == ["good"]
    assert clone(pipeline).get_params()["rnnclassifier__hidden"] == 8
