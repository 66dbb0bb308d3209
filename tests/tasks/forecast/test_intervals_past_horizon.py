"""Forecasts past the horizon are fed back; their intervals come from sample paths, so they
widen as the earlier blocks' uncertainty adds up. A random walk y_t = y_{t-1} + N(0, 1) has
the known answer: the h-step forecast error has standard deviation sqrt(h). A walk-forward
evaluation of more steps than the horizon scores the same fed-back forecasts."""

import numpy as np
import pytest
import torch

import rnnkit
from rnnkit.errors import UserError

HORIZON = 2
WALK = 100 + np.cumsum(np.random.default_rng(0).standard_normal(800))  # (T,)


@pytest.fixture(scope="module")
def walk_model(tmp_path_factory):
    torch.set_num_threads(1)
    walk = WALK
    return rnnkit.Forecaster(
        transform="diff", horizon=HORIZON, input_length=8, hidden=8, epochs=20, seed=0,
        val_size=100, test_size=50, verbose=0,
    ).fit(walk, out=tmp_path_factory.mktemp("run") / "walk")  # fmt: skip


def widths(result):
    cells = [row["value"] for row in result["forecast"]]
    return np.array([cell["upper"] - cell["lower"] for cell in cells])  # (steps,)


def test_the_intervals_widen_as_the_square_root_of_the_steps(walk_model):
    width = widths(walk_model.forecast(steps=16))
    # 80%: 2 x 1.2816 sigma sqrt(h); the model's sigma is learned, the growth is the paths'
    assert 2.0 < width[0] < 3.2
    ratio = width[15] / width[0]  # sqrt(16) = 4; feeding back the centre alone gave ~sqrt(2)
    assert 3.2 < ratio < 4.8, width.round(2)
    assert np.all(np.diff(width[HORIZON:]) > -0.3)  # no collapse at a block's start


def test_the_first_block_is_as_forecast_alone_and_the_paths_repeat(walk_model):
    alone = walk_model.forecast(steps=HORIZON)["forecast"]
    longer = walk_model.forecast(steps=12)["forecast"]
    assert longer[:HORIZON] == alone  # the first block's analytic interval, unchanged
    assert walk_model.forecast(steps=12)["forecast"] == longer  # seeded: the same bounds
    for row in longer:
        assert row["value"]["lower"] <= row["value"]["forecast"] <= row["value"]["upper"]


def test_evaluating_more_steps_than_the_horizon_scores_the_fed_back_forecasts(walk_model):
    scores = walk_model.evaluate(split="test", steps=6, baselines=("naive",))
    assert scores["n"] == 50 - 6 + 1 and scores["horizon"] == 6 and scores["model_horizon"] == 2
    test_start = len(WALK) - 50
    errors = []
    for origin in range(test_start, len(WALK) - 6 + 1):
        rows = walk_model.forecast(steps=6, data=WALK[:origin].tolist())["forecast"]
        errors.append([row["value"]["forecast"] for row in rows] - WALK[origin : origin + 6])
    assert scores["mae"] == pytest.approx(np.abs(errors).mean(), rel=1e-6)
    assert 0.6 < scores["coverage"] < 0.97  # 100 paths an origin, 45 overlapping origins
    by_step = scores["by_step"]  # each step's share: as many errors a step
    assert np.mean(by_step["mae"]) == pytest.approx(scores["mae"])
    assert np.mean(by_step["coverage"]) == pytest.approx(scores["coverage"])
    assert np.mean(by_step["interval_score"]) == pytest.approx(scores["interval_score"])
    assert scores["interval_score"] > scores["interval_width"] > 0  # some values fall outside
    assert by_step["mae"][5] > by_step["mae"][0]  # six steps out is harder than one
    assert "by step, MAE: " in scores["report"] and "by step, coverage: " in scores["report"]
    fewer = walk_model.evaluate(split="test", steps=1, baselines=())
    assert fewer["n"] == 50 and fewer["horizon"] == 1
    with pytest.raises(UserError, match="steps must be at least 1"):
        walk_model.evaluate(steps=0)


def test_the_paths_of_many_origins_are_drawn_a_chunk_at_a_time(walk_model, monkeypatch):
    whole = walk_model.evaluate(split="test", steps=6, baselines=())
    monkeypatch.setattr("rnnkit.tasks.forecast.task.PATHS_AT_ONCE", 250)  # 2 origins a chunk
    chunked = walk_model.evaluate(split="test", steps=6, baselines=())
    assert chunked["mae"] == whole["mae"]  # the centre draws nothing
    assert chunked["by_step"]["coverage"][:HORIZON] == whole["by_step"]["coverage"][:HORIZON]
    assert chunked["interval_width"] == pytest.approx(whole["interval_width"], rel=0.05)
    assert chunked["interval_width"] != whole["interval_width"]  # other draws, as many
