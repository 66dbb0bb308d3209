"""The baselines against hand-computed values, and the statsmodels ones (ets, arima) against
statsmodels called directly at one origin, with no value at or after an origin used."""

import sys
import warnings

import numpy as np
import pytest

from rnnkit.errors import UserError
from rnnkit.tasks.forecast.baselines import (
    BASELINES,
    MissingStatsmodels,
    seasonal_drift,
    window_mean,
)

Y = np.array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 20, 30], dtype=np.float64)[:, None]  # (12, 1)


def seasonal_series(n: int = 96, seed: int = 0) -> np.ndarray:
    """A positive trend with a multiplicative yearly season and noise: (n,)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return (100 + 2 * t) * (1 + 0.2 * np.sin(2 * np.pi * t / 12)) + rng.normal(0, 3, n)


def test_seasonal_drift_and_window_mean_by_hand():
    # origin 8: one season (4) back y[4..7] = 5..8, two seasons back for steps 5-6 (y[4], y[5]);
    # slope (8 - 1) / 7 = 1 over the 4 or 8 steps between: a straight line continues exactly
    assert seasonal_drift(Y, np.array([8]), 6, 4)[0, :, 0].tolist() == [9, 10, 11, 12, 13, 14]
    # origin 11: the mean of y[7..10] = (8 + 9 + 10 + 20) / 4, the same at every step
    assert window_mean(Y, np.array([11, 2]), 2, 4)[:, :, 0].tolist() == [[11.75, 11.75],
                                                                       [1.5, 1.5]]  # fmt: skip


def test_seasonal_period_keeps_a_strong_season_only():
    pytest.importorskip("statsmodels")
    from rnnkit.tasks.forecast.baselines import seasonal_period

    assert seasonal_period(seasonal_series(), 12) == 12
    noise = np.random.default_rng(1).normal(10, 1, 96)
    assert seasonal_period(noise, 12) is None
    assert seasonal_period(seasonal_series(), 1) is None  # no season to look for
    assert seasonal_period(seasonal_series(20), 12) is None  # under two seasons


def test_ets_equals_statsmodels_run_at_a_later_origin_with_the_fitted_parameters():
    pytest.importorskip("statsmodels")
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    from rnnkit.tasks.forecast.baselines import ets, ets_spec

    y = seasonal_series()
    spec = ets_spec(y[:72], 12)  # fitted on the history before the first origin
    assert spec["seasonal"] == "mul" and spec["period"] == 12  # lower AIC than additive
    ours = ets(y[:, None], np.array([72, 84]), 12, 12)[:, :, 0]  # (2, 12)
    p = spec["params"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = ExponentialSmoothing(
            y[:84], trend="add", seasonal="mul", seasonal_periods=12,
            initialization_method="known", initial_level=p["initial_level"],
            initial_trend=p["initial_trend"], initial_seasonal=p["initial_seasons"],
        ).fit(smoothing_level=p["smoothing_level"], smoothing_trend=p["smoothing_trend"],
              smoothing_seasonal=p["smoothing_seasonal"], optimized=False)  # fmt: skip
    np.testing.assert_allclose(ours[1], theirs.forecast(12), rtol=1e-8)


def test_arima_equals_statsmodels_apply_at_an_origin():
    pytest.importorskip("statsmodels")
    from rnnkit.tasks.forecast.baselines import arima, arima_spec

    y = seasonal_series()
    spec = arima_spec(y[:60], 12)
    assert spec["log"] and spec["order"] == (0, 1, 1) and spec["seasonal_order"] == (0, 1, 1, 12)
    ours = arima(y[:, None], np.array([60, 75]), 6, 12)[:, :, 0]  # (2, 6)
    for row, origin in enumerate((60, 75)):
        theirs = np.exp(spec["results"].apply(np.log(y[:origin])).forecast(6))
        np.testing.assert_allclose(ours[row], theirs, rtol=1e-8)


def test_non_seasonal_arima_differences_a_random_walk_and_not_noise():
    pytest.importorskip("statsmodels")
    from rnnkit.tasks.forecast.baselines import arima_spec

    rng = np.random.default_rng(6)
    walk = np.cumsum(rng.normal(0, 1, 300)) - 50  # below 0: no logs (KPSS p-value 0.01)
    spec = arima_spec(walk, 1)
    assert not spec["log"] and spec["order"][1] == 1 and spec["trend"] is None
    spec = arima_spec(rng.normal(5, 1, 150), 1)
    assert spec["order"][1] == 0 and spec["trend"] == "c"


@pytest.mark.parametrize("name", list(BASELINES))
def test_no_baseline_reads_a_value_at_or_after_its_origin(name):
    pytest.importorskip("statsmodels")
    y = seasonal_series()[:, None]  # (96, 1)
    origins = np.array([60, 66, 72])
    before = BASELINES[name](y, origins, 12, 12)
    changed = y.copy()
    changed[66:] *= 3  # the future of the second origin on
    after = BASELINES[name](changed, origins, 12, 12)
    np.testing.assert_array_equal(after[:2], before[:2])  # origins 60 and 66 see the same past
    assert not np.allclose(after[2], before[2])  # the third sees the change: the test can fail


def test_without_statsmodels_ets_and_arima_name_the_extra(monkeypatch):
    from rnnkit.tasks.forecast.baselines import arima, ets

    monkeypatch.setitem(sys.modules, "statsmodels", None)  # import statsmodels -> ImportError
    for baseline in (ets, arima):
        with pytest.raises(MissingStatsmodels, match=r"rnnkit\[timeseries\]") as error:
            baseline(seasonal_series()[:, None], np.array([60]), 2, 12)
        assert isinstance(error.value, UserError) and isinstance(error.value, ImportError)


def test_a_long_history_is_fitted_on_its_last_steps_and_run_from_there(monkeypatch):
    pytest.importorskip("statsmodels")
    from rnnkit.tasks.forecast import baselines

    monkeypatch.setattr(baselines, "MAX_FIT_STEPS", 48)
    y = seasonal_series()
    ours = baselines.arima(y[:, None], np.array([72, 80]), 4, 12)[:, :, 0]  # fitted on y[24:72]
    spec = baselines.arima_spec(y[24:72], 12)
    theirs = np.exp(spec["results"].apply(np.log(y[24:80])).forecast(4))
    np.testing.assert_allclose(ours[1], theirs, rtol=1e-8)
    ets = baselines.ets(y[:, None], np.array([72]), 4, 12)[0, :, 0]
    spec = baselines.ets_spec(y[24:72], 12)
    expected = baselines.holt_winters(y[24:], np.array([48]), 4, spec["params"],
                                      spec["seasonal"], 12)[0]  # fmt: skip
    np.testing.assert_allclose(ets, expected, rtol=1e-10)


def test_ets_keeps_the_better_optimum_of_its_optimisers(data_dir):
    """statsmodels' default optimiser alone can stop in a worse optimum (airline's first 108
    months on an AVX-512 CPU: AIC 455.9 against 449.1); ets keeps the lowest AIC of them all."""
    pytest.importorskip("statsmodels")
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    from rnnkit.tasks.forecast.baselines import ETS_OPTIMISERS, ets_spec
    from rnnkit.tasks.forecast.data import ForecastData, load_series_source

    history = load_series_source(ForecastData(source="airline")).targets[:108, 0]
    spec = ets_spec(history, 12)
    assert spec["seasonal"] == "mul"
    model = ExponentialSmoothing(history, trend="add", seasonal="mul", seasonal_periods=12,
                                 initialization_method="estimated")  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        each = [model.fit(method=method).aic for method in ETS_OPTIMISERS]
    assert spec["aic"] == pytest.approx(min(each)) and len(ETS_OPTIMISERS) > 1


def test_kpss_differences_of_a_constant_a_line_and_a_few_values():
    """KPSS's automatic lags divide by the variance: a constant (or a line once differenced)
    needs no more differences, and fewer than 4 values are not tested."""
    pytest.importorskip("statsmodels")
    from rnnkit.tasks.forecast.baselines import kpss_differences

    assert kpss_differences(np.full(50, 2.0)) == 0
    assert kpss_differences(np.arange(50.0)) == 1
    assert kpss_differences(np.array([1.0, 5.0, 2.0])) == 0
    walk = np.cumsum(np.random.default_rng(0).standard_normal(300))
    assert kpss_differences(walk) == 1
