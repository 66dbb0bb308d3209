"""No look-ahead on the stock files (S&P 500, GOOG): nothing computed for time t uses a value
after t. The scaler sees the training part only; a window's inputs (targets and covariates) end
strictly before its first target; a trained forecaster's walk-forward forecasts and the anomaly
detectors' scores up to t are bit-identical when every value after t is changed; training never
reads the test part."""

import csv

import numpy as np
import pytest
import torch

import rnnkit
from rnnkit.tasks.forecast.data import ForecastData, Scaler, load_series_source, windows
from rnnkit.tasks.forecast.detect import AnomalyDetector, rolling_zscore, windowed_gaussian

SP500 = ForecastData(source="sp500", features="Open,Volume", transform="log-diff")
TINY = dict(input_length=10, horizon=2, test_size=200, val_size=200, hidden=8, epochs=1,
            batch_size=64, verbose=0, seed=0)  # fmt: skip


@pytest.fixture(scope="module")
def sp500(data_dir):
    return load_series_source(SP500)


def changed_after(values: np.ndarray, step: int) -> np.ndarray:
    """``values`` with every row from ``step`` on replaced (scaled up, as a crash would not)."""
    out = values.copy()
    out[step:] = out[step:] * 3.0 + 7.0
    return out


def test_scaler_statistics_use_the_training_part_only(sp500):
    train_end = 3000
    scaler = Scaler.fit(sp500, train_end, "log-diff", "standard")
    future = type(sp500)(sp500.times, changed_after(sp500.targets, train_end),
                         changed_after(sp500.features, train_end), sp500.target_names,
                         sp500.feature_names, sp500.frequency)  # fmt: skip
    assert Scaler.fit(future, train_end, "log-diff", "standard") == scaler
    # the last training value does count (the check can fail)
    assert Scaler.fit(future, train_end + 1, "log-diff", "standard") != scaler


def test_windows_end_strictly_before_their_targets(sp500):
    z = np.log(sp500.targets)  # (T, 1)
    covariates = sp500.features / sp500.features.max(0)  # (T, 2)
    origins = np.array([50, 1000, len(z) - 2])
    inputs, targets = windows(z, covariates, origins, 10, 2)
    for i, origin in enumerate(origins):
        expected = np.concatenate([z[origin - 10 : origin], covariates[origin - 10 : origin]], 1)
        np.testing.assert_array_equal(inputs[i].numpy(), expected.astype(np.float32))
        np.testing.assert_array_equal(targets[i].numpy(), z[origin : origin + 2].astype(np.float32))
    # the covariates of the first target's own day (its Open, its Volume) are not inputs
    late = windows(z, changed_after(covariates, 1000), origins[:2], 10, 2)[0]
    assert torch.equal(late, inputs[:2])


def write_csv(path, source, step=None):
    """The S&P 500 file, with every price and volume from row ``step`` on changed."""
    with open(source, newline="") as file:
        rows = list(csv.reader(file))
    if step is not None:
        for row in rows[1 + step :]:
            row[1:] = [f"{float(v) * 3.0 + 7.0:.6f}" for v in row[1:]]
    with open(path, "w", newline="") as file:
        csv.writer(file).writerows(rows)
    return str(path)


@pytest.fixture(scope="module")
def twin_runs(data_dir, tmp_path_factory):
    """The same tiny forecaster trained on the real file and on one whose test part (the last
    200 days) is changed."""
    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("lookahead")
    source = data_dir / "timeseries" / "sp500.csv"
    n = len(load_series_source(SP500))
    options = dict(time_column="Date", target="Close", features="Open,Volume",
                   transform="log-diff", **TINY)  # fmt: skip
    runs = []
    for name, step in (("real", None), ("future", n - 200)):
        data = write_csv(folder / f"{name}.csv", source, step)
        runs.append((rnnkit.Forecaster(**options).fit(data=data, out=folder / name), data))
    return runs, n


def test_training_never_reads_the_test_part(twin_runs):
    (real, _), (future, _) = twin_runs[0]
    assert real.preprocessing.scaler == future.preprocessing.scaler
    a, b = real.model.state_dict(), future.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_walk_forward_forecasts_ignore_every_later_value(twin_runs):
    (model, real_path), _ = twin_runs[0]
    n = twin_runs[1]
    settings = model._model_columns()
    series = load_series_source(settings, real_path)
    step = n - 100
    future = type(series)(series.times, changed_after(series.targets, step),
                          changed_after(series.features, step), series.target_names,
                          series.feature_names, series.frequency)  # fmt: skip
    origins = np.arange(n - 300, n - 1)  # forecasts for 2 days from each origin
    before, _, _ = model._forecast_windows(series, origins)
    after, _, _ = model._forecast_windows(future, origins)
    past = origins <= step  # inputs end at origin - 1 < step: all observed before the change
    np.testing.assert_array_equal(before[past], after[past])
    assert not np.array_equal(before[~past], after[~past])  # the check can fail


@pytest.mark.parametrize("method", ["prediction", "zscore"])
def test_detector_scores_ignore_every_later_value(data_dir, method):
    goog = load_series_source(ForecastData(source="goog"))
    values = goog.targets[:, 0]  # (T,) daily opens, 2012 to January 2017
    step = 900
    options = dict(method=method, input_length=10, hidden=8, epochs=2, history=200)
    scores = AnomalyDetector(**options).fit_score(values)
    later = AnomalyDetector(**options).fit_score(changed_after(values, step))
    np.testing.assert_array_equal(scores[:step], later[:step])
    assert not np.array_equal(scores[step:], later[step:])
    for baseline in (windowed_gaussian, lambda x: rolling_zscore(x, 100)):
        a, b = baseline(values), baseline(changed_after(values, step))
        np.testing.assert_array_equal(a[:step], b[:step])
        assert not np.array_equal(a[step:], b[step:])
