"""Data-parallel throughput: 1 process against 2 (gloo, one thread each) for classify and lm.

Trains each task with ``rnnkit train TASK --nproc-per-node N`` for a fixed number of epochs (the
same global batch, so the same steps for 1 and 2 processes), reads the training time the run
reports (``train_time_s``: the epochs, without start-up and data loading), and prints a table of
examples (classify) or tokens (lm) per second and the speed-up; writes
``benchmarks/results/distributed.json``. Measure on an otherwise idle machine: 2 processes on a
2-core machine compete with anything else running.

    RNNKIT_DATA=../shared/data python benchmarks/distributed.py
    python benchmarks/distributed.py --tiny     # a few seconds on synthetic data: a smoke test
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from quality import RESULTS, machine_info

# task -> (data, options, work per step as a function of the options: examples or tokens)
RUNS = {
    "classify": (
        "gop-debate",
        {"epochs": 2, "batch_size": 64, "max_length": 60, "hidden": 128, "embed": 64},
        "examples",
    ),
    "lm": (
        "tinyshakespeare",
        {"epochs": 1, "batch_size": 32, "seq_length": 100, "hidden": 256, "sample_length": 0},
        "tokens",
    ),
}
TINY = {
    "classify": {"epochs": 1, "batch_size": 8, "hidden": 8, "embed": 8, "min_freq": 1},
    "lm": {"epochs": 1, "batch_size": 8, "seq_length": 16, "hidden": 8, "sample_length": 0},
}


def options(settings: dict) -> list[str]:
    """Command-line options for keyword settings."""
    return [item for k, v in settings.items() for item in ("--" + k.replace("_", "-"), str(v))]


def tiny_data(root: Path) -> dict[str, str]:
    """A few hundred synthetic reviews and a short text, for --tiny."""
    rows = ["text,label"] + [f'"{w} film number {i}",{w}' for i in range(200) for w in "ab"]
    (root / "reviews.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (root / "corpus.txt").write_text("the cat sat on the mat.\n" * 300, encoding="utf-8")
    return {"classify": str(root / "reviews.csv"), "lm": str(root / "corpus.txt")}


def train(task: str, data: str, settings: dict, processes: int, out: Path) -> dict:
    """One ``rnnkit train`` run on ``processes`` processes of one thread; its JSON result."""
    command = [sys.executable, "-m", "rnnkit", "train", task, "--data", data,
               *options(settings), "--threads", "1", "--no-progress", "--no-plot",
               "--nproc-per-node", str(processes), "--out", str(out), "--json"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="synthetic data, tiny models")
    parser.add_argument("--only", choices=sorted(RUNS), help="one of the tasks")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        files = tiny_data(Path(tmp)) if args.tiny else {}
        for task, (data, settings, unit) in RUNS.items():
            if args.only and task != args.only:
                continue
            settings = TINY[task] if args.tiny else settings
            data = files.get(task, data)
            for processes in (1, 2):
                result = train(task, data, settings, processes, Path(tmp) / f"{task}-{processes}")
                per_step = settings["batch_size"] * settings.get("seq_length", 1)
                rate = result["steps"] * per_step / result["train_time_s"]
                rows.append({"task": task, "processes": processes, "steps": result["steps"],
                             "train_time_s": result["train_time_s"], "unit": unit,
                             "per_second": rate, "val_loss": result["val_loss"]})  # fmt: skip
    print(f"{'task':<9} {'procs':>5} {'steps':>6} {'time s':>8} {'per second':>14} {'speed-up':>8}")
    for row in rows:
        alone = next(r for r in rows if r["task"] == row["task"] and r["processes"] == 1)
        row["speedup"] = row["per_second"] / alone["per_second"]
        print(f"{row['task']:<9} {row['processes']:>5} {row['steps']:>6} "
              f"{row['train_time_s']:>8.2f} {row['per_second']:>9.0f} {row['unit']:<4} "
              f"{row['speedup']:>7.2f}x")  # fmt: skip
    if args.tiny:
        print("(--tiny: a smoke test, nothing written)")
        return 0
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "distributed.json"
    record = {"date": datetime.date.today().isoformat(), "machine": machine_info(), "runs": rows}
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
