"""benchmarks/forecast_intervals.py on the random walk, a few origins: both ways of forecasting
past the horizon from the same model, and the sample paths' widths growing as sqrt(h) does."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.append(str(Path(__file__).resolve().parents[1] / "benchmarks"))
intervals = pytest.importorskip("forecast_intervals")
quality = pytest.importorskip("quality")


@pytest.mark.slow
def test_the_random_walk_row(tmp_path, monkeypatch):
    monkeypatch.setattr(quality, "RESULTS", tmp_path)
    argv = ["forecast_intervals.py", "--only", "random walk", "--every", "25", "--epochs", "5",
            "--name", "smoke"]  # fmt: skip
    monkeypatch.setattr(sys, "argv", argv)
    intervals.main()
    (row,) = json.loads((tmp_path / "forecast-intervals-smoke.json").read_text())["runs"]
    assert row["series"] == "random walk" and row["origins"] == 4 and row["horizon"] == 1
    paths, centre = np.array(row["paths"]["width"]), np.array(row["centre fed back"]["width"])
    assert paths[0] == pytest.approx(centre[0])  # the first block: the model's own interval
    assert 3.0 < paths[15] / paths[0] < 5.0  # sqrt(16) = 4
    assert centre[15] / centre[0] < 1.5  # each block as if the fed-back values were known
    assert len(row["paths"]["coverage"]) == len(row["exact width"]) == 16
