"""benchmarks/generate.py runs end to end on a tiny model and writes its JSON; rnnkit's stepper
and torch.nn.LSTM stepping the same weights write the same text for the same seed."""

import json
import sys
from pathlib import Path

import pytest

sys.path.append(str(Path(__file__).resolve().parents[1] / "benchmarks"))
quality = pytest.importorskip("quality")
generate = pytest.importorskip("generate")


def test_every_contender_gets_a_rate_and_writes_the_same_text(tmp_path, monkeypatch, one_thread):
    monkeypatch.setattr(quality, "RESULTS", tmp_path)
    argv = ["generate.py", "--length", "12", "--samples", "3", "--rounds", "1", "--threads", "1",
            "--extra", "--hidden 16 --embed 8 --layers 2", "--name", "test"]  # fmt: skip
    monkeypatch.setattr(sys, "argv", argv)
    generate.main()
    result = json.loads((tmp_path / "generate-test.json").read_text())
    rows = {row["contender"]: row for row in result["runs"]}
    assert len(rows) == 6 and result["weights"] == "random" and result["model"]["hidden"] == 16
    assert rows["rnnkit, 3 samples"]["samples"] == 3
    for row in rows.values():
        assert row["chars_per_second"] > 0 and row["chars_per_cpu_second"] > 0
        assert row["agree"] == 12, row  # the same characters as rnnkit's, sample for sample
