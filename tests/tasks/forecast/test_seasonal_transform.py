"""--transform log-seasonal-diff on the airline series (monthly, season 12) through a trained
forecaster: no test value reaches the scaler or the weights, walk-forward forecasts longer than a
season read nothing at or after their origin, and a saved run forecasts the same after loading."""

import numpy as np
import pandas as pd
import pytest
import torch

import rnnkit
from rnnkit.errors import UserError
from rnnkit.tasks.forecast.data import ForecastData, in_memory_series, load_series_source

# horizon 14 > season 12: the last two steps invert from the forecast's own first two
TINY = dict(transform="log-seasonal-diff", input_length=12, horizon=14, test_size=24,
            val_size=20, hidden=8, epochs=2, batch_size=16, verbose=0, seed=0)  # fmt: skip


@pytest.fixture(scope="module")
def airline(data_dir):
    """The monthly series (144,) as a pandas Series: its times give the season, 12."""
    series = load_series_source(ForecastData(source="airline"))
    return pd.Series(series.targets[:, 0], index=pd.DatetimeIndex(series.times))


@pytest.fixture(scope="module")
def twin_runs(airline, tmp_path_factory):
    """The same tiny forecaster on the real series and on one whose test part is changed."""
    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("seasonal")
    changed = airline.copy()
    changed.iloc[-24:] = changed.iloc[-24:] * 3.0 + 7.0
    return [rnnkit.Forecaster(**TINY).fit(series, out=folder / name)
            for name, series in (("real", airline), ("future", changed))]  # fmt: skip


def test_the_season_comes_from_the_monthly_frequency_and_moves_the_first_origin(twin_runs):
    scaler = twin_runs[0].preprocessing.scaler
    assert (scaler.transform, scaler.season, scaler.lag) == ("log-seasonal-diff", 12, 12)


def test_training_never_reads_the_test_part(twin_runs):
    real, future = twin_runs
    assert real.preprocessing.scaler == future.preprocessing.scaler
    a, b = real.model.state_dict(), future.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_walk_forward_forecasts_ignore_every_later_value(twin_runs, airline):
    model = twin_runs[0]
    step = 110
    changed = airline.copy()
    changed.iloc[step:] = changed.iloc[step:] * 3.0 + 7.0
    origins = np.arange(100, 131)  # 14 months from each origin
    series = [in_memory_series(v) for v in (airline, changed)]
    assert series[0].frequency.season == 12
    before, lower, upper = model._forecast_windows(series[0], origins)
    after, _, _ = model._forecast_windows(series[1], origins)
    past = origins <= step  # everything read (inputs and the 12 values inverted from) < step
    np.testing.assert_array_equal(before[past], after[past])
    assert not np.array_equal(before[~past], after[~past])  # the check can fail
    assert np.isfinite(before).all() and (lower <= before).all() and (before <= upper).all()
    assert 100 < before.min() and before.max() < 1000  # passengers, thousands: the scale is right


def test_a_saved_run_forecasts_the_same_and_needs_a_season_of_history(twin_runs, airline):
    model = twin_runs[0]
    loaded = rnnkit.load(model.fit_result["out"])
    assert loaded.preprocessing.scaler == model.preprocessing.scaler
    ours, theirs = (m.forecast(30, data=airline.iloc[:120])["forecast"] for m in (model, loaded))
    assert ours == theirs and len(ours) == 30  # beyond the horizon: fed back
    with pytest.raises(UserError, match="expected at least 24"):
        model.forecast(data=airline.iloc[:23].tolist())
    assert len(model.forecast(data=airline.iloc[:24].tolist())["forecast"]) == 14
    with pytest.raises(UserError, match="needs a season of 2 steps or more"):
        rnnkit.Forecaster(**TINY).fit(airline.to_numpy())  # no times: no season
