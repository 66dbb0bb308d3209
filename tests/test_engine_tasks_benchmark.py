"""benchmarks/engine_tasks.py runs end to end on tiny task defaults and writes its JSON."""

import json
import math
import sys
from pathlib import Path

import pytest

sys.path.append(str(Path(__file__).resolve().parents[1] / "benchmarks"))
engine_tasks = pytest.importorskip("engine_tasks")


@pytest.fixture
def tiny_defaults(monkeypatch):
    """Shrink the tasks' defaults (which the benchmark reads) to a few-millisecond step."""
    monkeypatch.setattr(
        engine_tasks,
        "CLASSIFY_SETTINGS",
        {"batch_size": 4, "hidden": 8, "max_length": 12, "max_vocab": 50},
    )
    monkeypatch.setattr(
        engine_tasks, "LM_SETTINGS", {"hidden": 8, "batch_size": 2, "seq_length": 5}
    )
    monkeypatch.setattr(
        engine_tasks,
        "MUSIC_SETTINGS",
        {"hidden": 8, "batch_size": 2, "chunk_length": 6, "limit": 5},
    )


def run(tmp_path, *options) -> dict:
    out = tmp_path / "engine.json"
    argv = ["--repeats", "1", "--steps-per-repeat", "2", "--threads", "1", "--out", str(out)]
    assert engine_tasks.main([*argv, *options]) == 0
    return json.loads(out.read_text())


def test_random_data_row_per_task_and_backend(tmp_path, tiny_defaults, one_thread):
    result = run(tmp_path, "--random-data", "--backends", "torch,auto")
    rows = {(row["task"], row["backend"]): row for row in result["rows"]}
    tasks = ("imdb", "shakespeare", "music-lstm", "music-gru")
    assert set(rows) == {(t, b) for t in tasks for b in ("torch", "auto")}
    for row in rows.values():
        assert row["data"] == "random"
        assert row["ms"] > 0 and row["steps_per_s"] > 0 and row["epoch_minutes"] > 0
    assert rows["imdb", "torch"]["ratio"] == 1.0
    assert rows["imdb", "auto"]["epoch_batches"] == 5625  # 22,500 reviews in batches of 4
    assert result["machine"]["torch_threads"] == 1


def test_real_shakespeare(tmp_path, tiny_defaults, one_thread):
    result = run(tmp_path, "--tasks", "shakespeare", "--backends", "fused")
    (row,) = result["rows"]
    assert (row["task"], row["data"], row["engine"]) == ("shakespeare", "real", "fused")
    assert row["batch_size"] == 2 and row["mean_length"] == 5
    assert row["epoch_batches"] == math.ceil((1_003_854 // 2 - 1) / 5)  # 90%, 2 streams


def test_real_music_lstm_and_gru(tmp_path, tiny_defaults, one_thread):
    result = run(tmp_path, "--tasks", "music-lstm,music-gru", "--backends", "auto")
    rows = {row["task"]: row for row in result["rows"]}
    assert set(rows) == {"music-lstm", "music-gru"}
    for row in rows.values():
        assert row["data"] == "real" and row["batch_size"] == 2
        assert 1 < row["mean_length"] <= 6  # chunks of at most 6 frames
    # 5 training pieces (of 40 frames or more) cut into chunks of 6 frames, in batches of 2
    assert rows["music-gru"]["epoch_batches"] == rows["music-lstm"]["epoch_batches"] >= 5 * 7 / 2
    assert rows["music-gru"]["engine"] == "fused"  # the GRU's C time loop (test_gru_sequence)
