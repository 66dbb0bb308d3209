"""benchmarks/layers.py runs end to end on a tiny shape and its JSON makes the README's table."""

import json
import sys
from pathlib import Path

import pytest
import torch

from rnnkit.train.device import fast_bf16

sys.path.append(str(Path(__file__).resolve().parents[1] / "benchmarks"))
layers = pytest.importorskip("layers")


def test_tiny_run_writes_rows_and_markdown_summary(tmp_path, one_thread, monkeypatch):
    monkeypatch.setattr(layers, "gemm_peak", lambda: {"onednn": 100.0})  # skip the 2048^3 runs
    out = tmp_path / "layers.json"
    argv = ["--shapes", "2,5,3,4", "--modes", "LSTM,GRU", "--repeats", "1", "--out", str(out)]
    assert layers.main(argv) == 0
    result = json.loads(out.read_text())
    keys = {(r["mode"], r["task"], r["dtype"], r["engine"].split("=")[0]) for r in result["rows"]}
    bf16 = fast_bf16(torch.device("cpu"))  # bf16 rows need bf16 hardware, else noted as absent
    assert ("bf16_unavailable" in result) is not bf16
    for mode in ("LSTM", "GRU"):
        for task in ("train", "infer"):
            for dtype in ("fp32", "bf16-autocast"):
                for engine in ("torch.nn", "rnnkit auto"):
                    assert ((mode, task, dtype, engine) in keys) is (dtype == "fp32" or bf16)
    assert all(r["ms"] > 0 for r in result["rows"])
    table = layers.markdown(result)
    assert table.count("\n| LSTM | 2, 5, 3, 4 |") == 1 and "| GRU | 2, 5, 3, 4 |" in table
    assert "`layer_norm=True`" in table and "`recurrent_dropout=0.25`" in table
    assert ("bf16 autocast: no bf16 hardware" in table) is not bf16
