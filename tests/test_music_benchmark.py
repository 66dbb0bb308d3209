"""benchmarks/music.py: --params picks each cell's width for the parameter count asked for, and
the benchmark runs end to end on a slice of Nottingham and writes its JSON."""

import json
import sys
from pathlib import Path

import pytest

sys.path.append(str(Path(__file__).resolve().parents[1] / "benchmarks"))
music = pytest.importorskip("music")
quality = pytest.importorskip("quality")


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("parameters", [2_000, 20_000])
def test_hidden_for_parameters_is_the_nearest_width(cell, parameters):
    hidden = music.hidden_for_parameters(cell, parameters)
    counts = {h: music.parameter_count(music.PianoRollRNNConfig(cell=cell, hidden=h))
              for h in (hidden - 1, hidden, hidden + 1)}  # fmt: skip
    assert counts[hidden - 1] < counts[hidden] < counts[hidden + 1]
    assert min(counts, key=lambda h: abs(counts[h] - parameters)) == hidden


def test_chung_2014_widths_for_20k_parameters():
    """About 20k parameters: 34 LSTM, 41 GRU and 78 tanh units (one layer, 88 keys in and out;
    Chung et al. 2014 used 36, 46 and 100 with fewer biases)."""
    widths = {cell: music.hidden_for_parameters(cell, 20_000) for cell in music.CELLS}
    assert widths == {"rnn": 78, "lstm": 34, "gru": 41}


@pytest.mark.slow
def test_the_benchmark_runs_on_a_slice(data_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(quality, "RESULTS", tmp_path / "results")
    argv = ["music.py", "--datasets", "nottingham", "--cells", "gru", "--minutes", "0.2",
            "--params", "2000", "--extra", "--limit 6 --epochs 1 --no-plot", "--name", "slice",
            "--runs", str(tmp_path / "runs"), "--threads", "1"]  # fmt: skip
    monkeypatch.setattr(sys, "argv", argv)
    music.main()
    result = json.loads((tmp_path / "results" / "music-slice.json").read_text())
    (row,) = result["runs"]
    assert (row["dataset"], row["cell"], row["layers"]) == ("nottingham", "gru", 1)
    assert row["hidden"] == music.hidden_for_parameters("gru", 2000)
    assert row["parameters"] == music.parameter_count(
        music.PianoRollRNNConfig(cell="gru", hidden=row["hidden"])
    )
    assert row["test"]["pieces"] == 6 and row["test"]["nll"] > 0
    assert 0 < row["test"]["nll_after_first_frame"] < 100
    assert set(row["test"]["baselines"]) == {"frequency", "markov", "repeat"}
