"""--transform auto (the default): logs, seasonal or first differences chosen from the training
part alone (the tests read nothing after it) by Guerrero's, STL's and KPSS's tests, stated, and
saved as the choice."""

import json
import logging

import numpy as np
import pandas as pd
import pytest
import torch

import rnnkit
from rnnkit.tasks.forecast import auto_transform, task
from rnnkit.tasks.forecast.auto_transform import choose_transform
from rnnkit.tasks.forecast.baselines import MissingStatsmodels

STEPS = np.arange(240)
NOISE = np.random.default_rng(0).standard_normal((240, 1))
# growth with a season whose swing grows with the level (the airline series' shape)
MULTIPLICATIVE = np.exp(0.01 * STEPS[:, None] + 0.2 * np.sin(2 * np.pi * STEPS[:, None] / 12)
                        + 0.02 * NOISE)  # fmt: skip
# a trend and a random walk of constant spread: differences, no logs
ADDITIVE_WALK = 10 + 0.5 * STEPS[:, None] + np.cumsum(NOISE, axis=0)
# compound growth with steps in proportion to the level: logs and first differences
GROWTH = np.exp(0.01 * STEPS[:, None] + np.cumsum(0.03 * NOISE, axis=0))


@pytest.mark.parametrize(
    ("values", "season", "expected"),
    [
        (MULTIPLICATIVE, 12, "log-seasonal-diff"),
        (MULTIPLICATIVE - MULTIPLICATIVE.mean(), 12, "seasonal-diff"),  # values below 0
        (ADDITIVE_WALK, 1, "diff"),
        (GROWTH, 1, "log-diff"),
        (GROWTH, 12, "log-diff"),  # a season looked for, not found
        (NOISE, 1, "none"),
        (np.hstack([NOISE, 1.0 + 0.3 * np.sin(2 * np.pi * STEPS[:, None] / 12)]), 12,
         "seasonal-diff"),  # one seasonal column of two: differenced; one below 0: no logs
        (np.full((100, 1), 5.0), 12, "none"),  # a constant: nothing to test, no error
        (np.arange(1.0, 101.0)[:, None], 1, "diff"),  # a straight line: constant differences
        (np.array([[3.0]]), 12, "none"),  # one value
    ],
)  # fmt: skip
def test_each_shape_of_series_gets_its_transform(values, season, expected):
    assert choose_transform(values, season).transform == expected


def test_the_choice_says_why():
    choice = choose_transform(MULTIPLICATIVE, 12)
    assert "spread grows with their level: logs" in str(choice)
    assert "seasonal strength 0.9" in str(choice) and ">= 0.64 at period 12" in str(choice)
    walk = str(choose_transform(ADDITIVE_WALK, 1))
    assert "does not grow with the level: no logs" in walk and "KPSS rejects" in walk
    assert "no seasonal test at period 400" in str(choose_transform(GROWTH, 400))


def test_without_statsmodels_only_the_log_test_is_made_and_it_says_so(monkeypatch):
    def missing(*args):
        raise MissingStatsmodels("no statsmodels")

    monkeypatch.setattr(auto_transform, "seasonal_strength", missing)
    choice = choose_transform(MULTIPLICATIVE, 12)
    assert choice.transform == "log"
    assert "pip install rnnkit[timeseries]" in str(choice)


@pytest.fixture(scope="module")
def monthly():
    """MULTIPLICATIVE with monthly times: season 12."""
    times = pd.date_range("2000-01-01", periods=len(STEPS), freq="MS")
    return pd.Series(MULTIPLICATIVE[:, 0], index=times, name="sales")


OPTIONS = dict(input_length=12, horizon=3, test_size=36, val_size=36, hidden=8, epochs=2,
               verbose=0, seed=0)  # fmt: skip


def test_a_default_forecaster_resolves_auto_on_the_training_part_and_saves_the_choice(
    monthly, tmp_path, monkeypatch
):
    torch.set_num_threads(1)
    read = []
    tests = auto_transform.choose_transform
    monkeypatch.setattr(task, "choose_transform", lambda h, m: read.append(h) or tests(h, m))
    series = monthly
    model = rnnkit.Forecaster(**OPTIONS).fit(series, out=tmp_path / "run")
    assert len(read) == 1 and np.array_equal(read[0], series.to_numpy()[: 240 - 72, None])
    assert model.settings["data"].transform == "log-seasonal-diff"
    assert model.preprocessing.scaler.transform == "log-seasonal-diff"
    saved = json.loads((tmp_path / "run" / "best" / "config.json").read_text())
    assert saved["data"]["transform"] == "log-seasonal-diff"  # the choice, not "auto"
    loaded = rnnkit.load(tmp_path / "run")
    assert loaded.settings["data"].transform == "log-seasonal-diff"
    assert np.isfinite(loaded.forecast(steps=6)["forecast"][0]["sales"]["forecast"])
    resumed = rnnkit.Forecaster(epochs=3, verbose=0).fit(series, out=tmp_path / "run",
                                                         resume=True)  # fmt: skip
    assert resumed.settings["data"].transform == "log-seasonal-diff"
    assert len(read) == 1  # resumed: the saved choice, no test again


def test_a_transform_given_is_kept(monthly):
    model = rnnkit.Forecaster(transform="log-diff", **OPTIONS).fit(monthly)
    assert model.settings["data"].transform == "log-diff"


def test_the_cli_states_the_choice(monthly, tmp_path, caplog):
    from rnnkit.cli import main

    caplog.set_level(logging.INFO)
    path = tmp_path / "sales.csv"
    monthly.rename_axis("month").to_csv(path)
    code = main(["train", "forecast", "--data", str(path), "--input-length", "12",
                 "--test-size", "36", "--val-size", "36", "--hidden", "8", "--epochs", "1",
                 "--out", str(tmp_path / "cli")])  # fmt: skip
    assert code in (0, None)
    assert "transform auto: log-seasonal-diff (values above 0" in caplog.text


def test_a_series_long_enough_only_without_the_chosen_differences_says_so(monthly):
    from rnnkit.errors import UserError

    short = monthly.iloc[:48]  # train 34 steps: 24 inputs fit, 24 + 12 undefined do not
    with pytest.raises(UserError, match=r"auto chose log-seasonal-diff"):
        rnnkit.Forecaster(verbose=0, epochs=1).fit(short)
    model = rnnkit.Forecaster(verbose=0, epochs=1, transform="log").fit(short)
    assert model.settings["data"].transform == "log"
