"""Windows, chronological splits, the scaler fitted on the training part, walk-forward origins,
and the baselines and metrics against hand-computed values."""

import numpy as np
import pytest

from rnnkit.data.timeseries import Frequency, TimeSeries
from rnnkit.errors import UserError
from rnnkit.tasks.forecast.baselines import (
    drift,
    forecast_metrics,
    interval_metrics,
    mase_scale,
    naive,
    seasonal_naive,
)
from rnnkit.tasks.forecast.data import (
    TRANSFORMS,
    ForecastData,
    Scaler,
    in_memory_series,
    make_splits,
    window_origins,
    windows,
)


def series_of(values, features=None):
    values = np.asarray(values, dtype=np.float64).reshape(len(values), -1)
    features = np.zeros((len(values), 0)) if features is None else np.asarray(features)
    names = [f"c{i}" for i in range(features.shape[1])]
    return TimeSeries(None, values, features, ["y"], names, Frequency("index", 1, "step", 1))


def test_windows_shapes_and_alignment():
    z = np.arange(20, dtype=np.float64)[:, None]  # (20, 1): z[t] = t
    covariates = 100 + np.arange(20, dtype=np.float64)[:, None]
    origins = window_origins(first=4, start=0, end=20, horizon=3, stride=2)
    assert origins.tolist() == [4, 6, 8, 10, 12, 14, 16]  # the last targets end at 19 (=< 20)
    inputs, targets = windows(z, covariates, origins, input_length=4, horizon=3)
    assert inputs.shape == (7, 4, 2) and targets.shape == (7, 3, 1)
    assert inputs[0, :, 0].tolist() == [0, 1, 2, 3] and inputs[0, :, 1].tolist() == [
        100, 101, 102, 103]  # fmt: skip
    assert targets[0, :, 0].tolist() == [4, 5, 6] and targets[-1, :, 0].tolist() == [16, 17, 18]


def test_splits_are_chronological_and_every_window_stays_in_its_split():
    data = ForecastData(input_length=5, horizon=3, test_size=10, val_size=8)
    cut = make_splits(series_of(np.arange(60.0)), data)
    assert (cut.val_start, cut.test_start) == (42, 50)
    train, val, test = (cut.origins(s, 3) for s in ("train", "val", "test"))
    assert train[0] == 5 and train[-1] + 3 <= 42  # targets end before validation
    assert val[0] == 42 and val[-1] + 3 <= 50
    assert test.tolist() == list(range(50, 58))  # walk-forward: every origin of the test part
    with pytest.raises(UserError, match="too few for a test window"):
        make_splits(series_of(np.arange(60.0)), data.replace(test_size=2))


def test_scaler_fits_the_training_part_only_and_inverts():
    rng = np.random.default_rng(0)
    values = 100 + np.cumsum(rng.random(50))[:, None]  # positive, trending
    for transform in TRANSFORMS:
        scaler = Scaler.fit(series_of(values), 30, transform, "standard", season=4)
        changed = values.copy()
        changed[30:] *= 1000  # the validation and test parts do not move the scaler
        assert Scaler.fit(series_of(changed), 30, transform, "standard", season=4) == scaler
        z = scaler.targets(values)  # (50, 1)
        origins = np.array([10, 20, 40])
        steps = origins[:, None] + np.arange(5)[None, :]  # (3, 5)
        before = scaler.before(values, origins)  # (3, max(lag, 1), 1)
        back = scaler.inverse(z[steps], before)  # (3, 5, 1)
        np.testing.assert_allclose(back, values[steps], rtol=1e-10)
        if scaler.lag <= 1:  # the last value alone, as before seasonal differences
            np.testing.assert_allclose(scaler.inverse(z[steps], values[origins - 1]), back)
        paths = np.stack([values, values * 1.5, values + 7])  # (3, 50, 1): sample paths
        np.testing.assert_array_equal(scaler.targets(paths), [scaler.targets(p) for p in paths])
    train = Scaler.fit(series_of(values), 30, "none", "standard").targets(values[:30])
    assert abs(train.mean()) < 1e-12 and abs(train.std() - 1) < 1e-12
    with pytest.raises(UserError, match="needs positive targets"):
        Scaler.fit(series_of(values - 200), 30, "log", "standard")


def test_interval_bounds_of_differences_add_in_quadrature():
    scaler = Scaler("diff", [0.0], [2.0], [], [])
    centre, spread = np.zeros((1, 3, 1)), np.ones((1, 3, 1))
    upper = scaler.inverse_spread(centre, spread, np.array([[10.0]]))
    np.testing.assert_allclose(upper[0, :, 0], 10 + 2 * np.sqrt([1, 2, 3]))


def test_in_memory_series_from_lists_arrays_and_pandas():
    assert in_memory_series([1, 2, 3]).targets.shape == (3, 1)
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"a": [1.0, 2, 3], "b": [4.0, 5, 6]},
                         index=pd.date_range("2020-01-01", periods=3, freq="D"))  # fmt: skip
    series = in_memory_series(frame)
    assert series.target_names == ["a", "b"] and series.frequency.name == "daily"
    with pytest.raises(UserError, match="missing or infinite"):
        in_memory_series([1, float("nan"), 3])
    dates = ["2020-01-03", "2020-01-01", "2020-01-02"]
    table = pd.DataFrame({"Date": dates, "Sales": [3.0, 1, 2], "Price": [9.0, 7, 8],
                          "Note": ["a", "b", "c"]})  # fmt: skip
    data = ForecastData(time_column="Date", target="Sales", features="Price")
    series = in_memory_series(table, data)
    assert series.targets[:, 0].tolist() == [1, 2, 3] and series.features[:, 0].tolist() == [
        7, 8, 9]  # fmt: skip
    assert series.target_names == ["Sales"] and series.feature_names == ["Price"]
    with pytest.raises(UserError, match="no column 'Units'"):
        in_memory_series(table, data.replace(target="Units"))


Y = np.array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 20, 30], dtype=np.float64)[:, None]  # (12, 1)


def test_baselines_by_hand():
    origins = np.array([8, 9])
    assert naive(Y, origins, 2, 4)[:, :, 0].tolist() == [[8, 8], [9, 9]]
    # one season (4) back: y[8+0-4]=5, y[8+1-4]=6; y[9-4]=6, y[10-4]=7
    assert seasonal_naive(Y, origins, 2, 4)[:, :, 0].tolist() == [[5, 6], [6, 7]]
    # a horizon longer than the season goes back two seasons for the later steps
    assert seasonal_naive(Y, np.array([8]), 3, 2)[0, :, 0].tolist() == [7, 8, 7]
    # drift: last + j * (last - first) / (t - 1): (8 - 1) / 7 = 1 a step
    assert drift(Y, np.array([8]), 2, 4)[0, :, 0].tolist() == [9, 10]


@pytest.mark.parametrize("seasonal", ["mul", "add", None])
def test_holt_winters_forecasts_equal_statsmodels_at_the_fit_end(seasonal):
    pytest.importorskip("statsmodels")
    import warnings

    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    from rnnkit.tasks.forecast.baselines import holt_winters

    rng = np.random.default_rng(0)
    t = np.arange(96)
    y = (100 + 2 * t) * (1 + 0.2 * np.sin(2 * np.pi * t / 12)) + rng.normal(0, 3, 96)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = ExponentialSmoothing(
            y[:80], trend="add", seasonal=seasonal, seasonal_periods=12 if seasonal else None,
            initialization_method="estimated",
        ).fit()  # fmt: skip
    ours = holt_winters(y, np.array([80]), 16, fitted.params, seasonal, 12)
    np.testing.assert_allclose(ours[0], fitted.forecast(16), rtol=1e-9)


def test_ets_baseline_runs_forward_with_the_parameters_fitted_before_the_split():
    pytest.importorskip("statsmodels")
    from rnnkit.tasks.forecast.baselines import ets

    t = np.arange(80.0)
    y = (50 + t + 10 * np.sin(2 * np.pi * t / 4))[:, None]  # linear trend + season 4, no noise
    forecast = ets(y, np.array([60, 70]), 4, 4)  # (2, 4, 1)
    steps = np.array([60, 70])[:, None] + np.arange(4)
    np.testing.assert_allclose(forecast[:, :, 0], y[steps, 0], atol=1.0)


def test_metrics_by_hand():
    actual = np.array([[[10.0], [20.0]]])  # (1, 2, 1)
    predicted = np.array([[[12.0], [17.0]]])
    scores = forecast_metrics(actual, predicted, np.array([2.5]))
    assert scores["mae"] == 2.5 and scores["rmse"] == pytest.approx(np.sqrt((4 + 9) / 2))
    assert scores["mape"] == pytest.approx((0.2 + 0.15) / 2 * 100)
    assert scores["smape"] == pytest.approx((2 * 2 / 22 + 2 * 3 / 37) / 2 * 100)
    assert scores["mase"] == 1.0
    assert forecast_metrics(actual * 0, predicted, np.array([1.0]))["mape"] is None
    # in-sample seasonal naive error: |y_t - y_{t-4}| over 1..10, 20, 30 -> 4,4,4,4,4,4,13,22
    assert mase_scale(Y, 4)[0] == pytest.approx((6 * 4 + 13 + 22) / 8)


def test_interval_metrics_by_hand():
    actual = np.array([[[10.0], [20.0], [15.0]]])  # (1, 3, 1): inside, above, below
    lower, upper = np.array([[[8.0], [16.0], [17.0]]]), np.array([[[12.0], [18.0], [19.0]]])
    held = interval_metrics(actual, lower, upper, 0.8)  # alpha 0.2: each miss counts 2 / 0.2
    assert held["coverage"] == pytest.approx(1 / 3) and held["interval_width"] == 8 / 3
    assert held["interval_score"] == pytest.approx((4 + (2 + 10 * 2) + (2 + 10 * 2)) / 3)


def test_direction_scores_by_hand():
    from rnnkit.tasks.forecast.baselines import direction_scores

    last = np.array([[10.0]])  # (1, 1)
    actual = np.array([[[11.0], [9.0], [10.0], [12.0]]])  # up, down, flat (left out), up
    predicted = np.array([[[10.5], [10.5], [3.0], [9.0]]])  # right, wrong, -, wrong
    scores = direction_scores(actual, predicted, last)
    assert scores == {"direction_accuracy": pytest.approx(1 / 3), "up_share": pytest.approx(2 / 3)}


@pytest.mark.parametrize("transform", ["seasonal-diff", "log-seasonal-diff"])
def test_seasonal_differences_by_hand_and_round_trip(transform):
    """x_t = u_t - u_{t-m} (u = y or log y); undefined for t < m; a forecast longer than a
    season inverts from its own earlier steps; the inversion reads only values before the
    origin."""
    rng = np.random.default_rng(1)
    m = 12
    t = np.arange(96)
    values = ((100 + t) * (1.2 + np.sin(2 * np.pi * t / m)) * rng.uniform(0.95, 1.05, 96))[:, None]
    scaler = Scaler.fit(series_of(values), 72, transform, "none", season=m)
    assert (scaler.lag, scaler.season, scaler.differenced) == (m, m, True)
    u = np.log(values) if transform.startswith("log") else values
    z = scaler.targets(values)  # (96, 1)
    assert np.isnan(z[:m]).all() and not np.isnan(z[m:]).any()
    np.testing.assert_allclose(z[m:], u[m:] - u[:-m], rtol=1e-12)
    origins = np.array([m, 40, 60])
    steps = origins[:, None] + np.arange(30)[None, :]  # (3, 30): 2.5 seasons ahead
    before = scaler.before(values, origins)  # (3, m, 1)
    np.testing.assert_array_equal(before[:, -1], values[origins - 1])
    np.testing.assert_allclose(scaler.inverse(z[steps], before), values[steps], rtol=1e-10)
    # the inversion reads nothing at or after the origin: the same from a changed future
    future = values.copy()
    future[40:] *= 3
    np.testing.assert_array_equal(scaler.before(future, origins[:2]), before[:2])
    # intervals: the half-widths add in quadrature over one season's lags
    width = Scaler("seasonal-diff", [0.0], [1.0], [], [], season=2).inverse_spread(
        np.zeros((1, 5, 1)), np.ones((1, 5, 1)), np.array([[[3.0], [5.0]]])
    )
    np.testing.assert_allclose(width[0, :, 0], [3 + 1, 5 + 1, 3 + 2**0.5, 5 + 2**0.5, 3 + 3**0.5])


def test_seasonal_differences_move_the_first_origin_and_save_their_season():
    data = ForecastData(input_length=5, horizon=3, test_size=10, val_size=8, season=7)
    cut = make_splits(series_of(np.arange(1.0, 61.0)), data.replace(transform="seasonal-diff"))
    assert cut.first == 5 + 7 and cut.origins("train", 3)[0] == 12
    scaler = Scaler.fit(series_of(np.arange(1.0, 61.0)), 42, "log-seasonal-diff", "standard", 7)
    assert Scaler.from_dict(scaler.to_dict()) == scaler
    old = {k: v for k, v in scaler.to_dict().items() if k != "season"}  # saved before seasons
    assert Scaler.from_dict({**old, "transform": "diff"}).lag == 1
    with pytest.raises(ValueError, match="season"):
        Scaler.from_dict({**scaler.to_dict(), "season": 0})
    with pytest.raises(UserError, match="needs more than 7 training steps"):
        Scaler.fit(series_of(np.arange(1.0, 61.0)), 7, "seasonal-diff", "standard", 7)
