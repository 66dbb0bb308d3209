"""rnnkit.sklearn.RNNRegressor against scikit-learn's estimator contract and its tools.

``RNNRegressor`` takes 2-D numeric arrays (``(N, T)`` windows of one feature), so
``parametrize_with_checks`` runs all of scikit-learn's checks on it. Expected to fail, because
the columns of a 2-D ``X`` are time steps, not features (``n_features_in_`` counts features per
step, 1 there, and a window of another length is valid input):

- ``check_n_features_in``, ``check_n_features_in_after_fitting``: they want
  ``n_features_in_ == X.shape[1]`` and an error for a ``predict`` input of other width;
- ``check_estimators_empty_data_messages``: an ``(N, 0)`` array is N empty windows, and the
  error says so rather than "0 feature(s)".

Tagged ``poor_score`` (``check_regressors_train`` still checks shapes and errors): its R² 0.5
bar is set on make_regression's i.i.d. columns, one informative of ten, which a recurrent model
reads as a sequence in which it must remember one fixed step.
"""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.estimator_checks import parametrize_with_checks

import rnnkit
import rnnkit.atomic
from rnnkit.sklearn import RNNRegressor

TINY = dict(hidden=4, epochs=1, lr=0.02, batch_size=64)
# a next-value regressor that learns in a second or two on one thread
SMALL = dict(hidden=16, epochs=12, lr=0.02, batch_size=16, patience=None)

EXPECTED_FAILURES = {
    "check_n_features_in": "2-D X: columns are time steps; n_features_in_ counts features (1)",
    "check_n_features_in_after_fitting": "2-D X: columns are time steps; any length is valid",
    "check_estimators_empty_data_messages": "an (N, 0) X is N empty windows, said as such",
}


@pytest.fixture(autouse=True)
def _no_fsync(monkeypatch):
    """Run folders here are temporary: flushing each checkpoint to disk is most of a tiny fit's
    time and proves nothing these tests check."""
    monkeypatch.setattr(rnnkit.atomic, "fsync_path", lambda path: None)


def noisy_sine(n, seed=0, lengths=(5, 30)):
    """``n`` windows of varying length of a noisy sine, each with the value that follows it."""
    rng = np.random.default_rng(seed)
    series = np.sin(0.2 * np.arange(4000)) + 0.05 * rng.standard_normal(4000)
    windows, targets = [], []
    for _ in range(n):
        start, length = rng.integers(0, 3900), rng.integers(*lengths)
        windows.append(series[start : start + length])
        targets.append(series[start + length])
    return windows, np.array(targets)


@pytest.fixture(scope="module")
def fitted():
    windows, targets = noisy_sine(240)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(rnnkit.atomic, "fsync_path", lambda path: None)
        return RNNRegressor(**SMALL).fit(windows, targets)


# -- scikit-learn's checks ------------------------------------------------------------------


@parametrize_with_checks([RNNRegressor(**TINY)], expected_failed_checks=lambda _: EXPECTED_FAILURES)
def test_scikit_learn_check(estimator, check):
    check(estimator)


def test_parameters_are_the_task_settings_with_their_defaults():
    params = RNNRegressor().get_params()
    shown = rnnkit.SequenceRegressor.shown_defaults()
    assert {"hidden", "cell", "pooling", "epochs", "lr", "val_fraction"} <= set(params)
    as_given = {k: tuple(v) if isinstance(v, list) else v for k, v in shown.items()}
    assert all(params[k] == as_given[k] for k in params if k not in ("verbose", "device"))
    assert not {"sequence_column", "target_column", "test_fraction", "plot"} & set(params)


# -- what it learns ---------------------------------------------------------------------------


def test_next_value_of_a_noisy_sine_from_windows_of_varying_length(fitted):
    windows, targets = noisy_sine(100, seed=1)
    r2 = fitted.score(windows, targets)
    assert r2 > 0.8  # the mean of the targets scores 0
    assert fitted.n_features_in_ == 1 and fitted.predict(windows).shape == (100,)
    assert fitted.fit_result_["val_r2"] > 0.8


def test_variable_length_input_needs_no_padding(fitted):
    windows, _ = noisy_sine(12, seed=2, lengths=(5, 40))
    whole = fitted.predict(windows)
    one_by_one = np.concatenate([fitted.predict([w]) for w in windows])
    np.testing.assert_allclose(one_by_one, whole, atol=1e-6)  # padding changes nothing
    texts = [" ".join(str(v) for v in w) for w in windows]  # the text form `rnnkit predict` reads
    np.testing.assert_allclose(fitted.predict(texts), whole, atol=1e-5)
    equal = np.stack([w[:5] for w in windows])  # (N, T) windows of one feature
    np.testing.assert_allclose(fitted.predict(equal), fitted.predict(list(equal)), atol=1e-6)
    np.testing.assert_allclose(fitted.predict(equal[:, :, None]), fitted.predict(equal), atol=1e-6)


def test_several_features_and_several_outputs():
    rng = np.random.default_rng(3)
    X = [rng.standard_normal((rng.integers(3, 9), 2)) for _ in range(160)]  # (T, 2) each
    y = np.array([[x[:, 0].sum(), x[:, 1].mean()] for x in X])  # (N, 2)
    model = RNNRegressor(**{**SMALL, "epochs": 20, "pooling": "mean"}).fit(X, y)
    assert model.n_features_in_ == 2
    assert model.predict(X[:5]).shape == (5, 2)
    assert model.score(X, y) > 0.6
    column = RNNRegressor(**TINY).fit(X, y[:, :1])
    assert column.predict(X[:5]).shape == (5, 1)  # y's shape at fit
    with pytest.raises(ValueError, match="X has 1 features per step, but RNNRegressor expects 2"):
        model.predict([[1.0, 2.0]])


# -- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "X, y, message",
    [
        ([[1.0, 2.0], [[1.0, 2.0], [3.0, 4.0]]], [1.0, 2.0], "sequence 1 has 2 features per step"),
        ([[1.0, np.nan], [1.0, 2.0]], [1.0, 2.0], "sequence 0 contains NaN"),
        ([[1.0, 2.0], [1.0, 2.0]], [np.nan, 2.0], "Input y contains NaN"),
        ([], [], "holds no sequences"),
        ([[1.0, 2.0], []], [1.0, 2.0], "sequence 1 has no steps"),
        ([[1.0], [2.0]], [1.0], "one target per sequence"),
        ([[1.0], [2.0]], ["a", "b"], "expected numbers"),
        ([[1.0], [2.0]], None, "requires y to be passed"),
        ([[1.0], "1 x"], [1.0, 2.0], "not a sequence"),
        ([[1.0], ["1", "x"]], [1.0, 2.0], "sequence 1 is not an array of numbers"),
        (np.array([1.0, 2.0]), [1.0, 2.0], "Reshape your data"),
    ],
)
def test_bad_data_is_a_value_error(X, y, message):
    with pytest.raises(ValueError, match=message):
        RNNRegressor(**TINY).fit(X, y)


def test_bad_parameters_are_value_errors_at_fit():
    windows, targets = noisy_sine(8)
    for params in ({"hidden": 0}, {"cell": "lstmm"}, {"pooling": "median"}, {"lr": -1.0}):
        model = RNNRegressor(**params)  # stored as given, checked at fit
        with pytest.raises(ValueError, match=next(iter(params))):
            model.fit(windows, targets)


# -- save, pickle, scikit-learn's tools --------------------------------------------------------


def test_pickle_round_trip_and_save_predict_the_same(fitted, tmp_path):
    windows, _ = noisy_sine(20, seed=4)
    again = pickle.loads(pickle.dumps(fitted))
    assert "task_" not in fitted.__getstate__()  # no torch module pickled
    np.testing.assert_array_equal(again.predict(windows), fitted.predict(windows))
    assert again.n_features_in_ == 1 and again.get_params() == fitted.get_params()
    fitted.save(tmp_path / "run")
    loaded = rnnkit.load(tmp_path / "run")
    assert isinstance(loaded, rnnkit.SequenceRegressor)
    np.testing.assert_array_equal(loaded.predict(windows), fitted.predict(windows))


@pytest.mark.slow  # two worker processes, each importing torch
def test_grid_search_in_two_processes_pipeline_and_cross_val_score():
    windows, targets = noisy_sine(100)
    folds = KFold(2, shuffle=True, random_state=0)
    grid = {"hidden": [4, 8], "lr": [0.01, 0.03]}
    search = GridSearchCV(RNNRegressor(**{**SMALL, "epochs": 5}), grid, cv=folds, n_jobs=2)
    search.fit(windows, targets)  # fitted in worker processes, pickled back
    assert len(search.cv_results_["params"]) == 4 and set(search.best_params_) == set(grid)
    assert search.best_score_ > 0.5 and search.predict(windows[:3]).shape == (3,)
    double = FunctionTransformer(lambda X: [2 * np.asarray(x) for x in X])
    pipeline = make_pipeline(double, RNNRegressor(**{**SMALL, "epochs": 5}))
    scores = cross_val_score(pipeline, windows, targets, cv=folds)
    assert scores.shape == (2,) and scores.min() > 0.5
    assert clone(pipeline).get_params()["rnnregressor__hidden"] == 16
