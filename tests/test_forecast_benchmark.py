"""benchmarks/forecast.py on one airline split: the chosen setting, the defaults rows (the
transform ``auto`` chose; one model and --members 5) and the spread over disjoint seed sets,
written to the JSON."""

import json
import sys
from pathlib import Path

import pytest

sys.path.append(str(Path(__file__).resolve().parents[1] / "benchmarks"))
forecast = pytest.importorskip("forecast")
quality = pytest.importorskip("quality")


@pytest.mark.slow
def test_one_airline_split_with_the_defaults_and_two_seed_sets(data_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(quality, "RESULTS", tmp_path)
    monkeypatch.setattr(forecast, "RESULTS", tmp_path)
    monkeypatch.setattr(sys, "argv", ["forecast.py", "--only", "airline-24", "--seeds", "1",
                                      "--candidates", "1", "--folds", "1", "--repeats", "2",
                                      "--name", "smoke"])  # fmt: skip
    forecast.main()
    (run,) = json.loads((tmp_path / "forecast-smoke.json").read_text())["runs"]
    assert run["name"] == "airline-24" and run["default_transform"] == "log-seasonal-diff"
    defaults = run["test"]["rnn, every setting at its default (transform auto: log-seasonal-diff)"]
    members = run["test"]["rnn, the defaults with --members 5"]
    chosen, alone = run["seed_sets"]["chosen"], run["seed_sets"]["defaults"]
    ensembles = run["seed_sets"]["defaults_members"]
    assert chosen["seeds"] == alone["seeds"] == ensembles["seeds"] == [[0], [1]]
    assert chosen["test"][0] == run["test"]["rnn (x1 seeds)"]  # set 0 is the table's row
    assert alone["test"][0] == defaults and ensembles["test"][0] == members
    assert chosen["test"][1] != chosen["test"][0]  # another seed, another model
    assert members != defaults  # five members forecast otherwise than one
    for summary in (chosen, alone, ensembles):
        for metric in ("mape", "mase"):
            scores = [row[metric] for row in summary["test"]]
            assert summary["min"][metric] == min(scores) <= summary["mean"][metric]
            assert summary["mean"][metric] == pytest.approx(sum(scores) / 2)
            assert summary["mean"][metric] <= summary["max"][metric] == max(scores)
    assert run["test"]["ets"]["mape"] == pytest.approx(6.391, abs=0.01)  # the 6.39%
