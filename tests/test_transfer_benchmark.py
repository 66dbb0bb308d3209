"""benchmarks/transfer.py: word-vector members trained on IMDb slices, their mean scored, and
``--add-to`` continuing an earlier run with the next seeds on the same vectors."""

import json
import sys
from pathlib import Path

import pytest

sys.path.append(str(Path(__file__).resolve().parents[1] / "benchmarks"))
transfer = pytest.importorskip("transfer")


def run(monkeypatch, *argv):
    monkeypatch.setattr(sys, "argv", ["transfer.py", "--tiny", "--threads", "1", *argv])
    transfer.main()


@pytest.mark.slow
def test_add_to_trains_the_next_seeds_and_scores_the_mean_of_all(data_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(transfer, "RESULTS", tmp_path / "results")
    runs = ["--rows", "vectors", "--runs", str(tmp_path / "runs")]
    run(monkeypatch, *runs, "--members", "2", "--name", "first")
    run(monkeypatch, *runs, "--members", "1", "--add-to", "first", "--name", "more")
    first, more = (json.loads((tmp_path / "results" / f"{name}.json").read_text())
                   for name in ("first", "more"))  # fmt: skip

    assert more["added_to"] == "first"
    seeds, mean = more["rows"][:3], more["rows"][3]
    assert [row["row"] for row in seeds] == [f"+ word vectors, seed {k}" for k in range(3)]
    for again, earlier in zip(seeds[:2], first["rows"][:2], strict=True):  # scored again
        assert (again["test_accuracy"], again["train"]) == (earlier["test_accuracy"],
                                                            earlier["train"])  # fmt: skip
    assert "--seed 2" in seeds[2]["train"]["command"]
    assert seeds[2]["train"]["out"] == str(tmp_path / "runs" / "vectors-seed2")
    assert mean["row"] == "+ word vectors, mean of 3 seeds"
    assert mean["vectors"] == first["rows"][2]["vectors"]  # the same vectors, not trained again
    assert mean["time_s"] == pytest.approx(
        mean["vectors_s"] + sum(row["train_s"] for row in seeds), abs=0.2
    )


def test_add_to_an_unknown_result_says_what_was_expected(tmp_path, monkeypatch):
    monkeypatch.setattr(transfer, "RESULTS", tmp_path)
    with pytest.raises(SystemExit, match="no result .*missing.json .*--name"):
        transfer.earlier_members("missing")
