"""IMDb sentiment benchmark: train with the defaults, evaluate the test split once, write JSON.

    RNNKIT_DATA=../shared/data python benchmarks/imdb.py [--max-time 30] [-- extra train options]

Runs ``rnnkit train classify --data imdb`` (model selection on the validation split cut from
train), then ``rnnkit evaluate --split test``, and writes benchmarks/results/imdb-<N>cpu.json with
the machine, the settings, the per-epoch history, the training time and the test metrics.
Target (issue #3): test accuracy >= 88.5% with at most 30 minutes of training on a 2-core CPU.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict:
    model = "unknown"
    if Path("/proc/cpuinfo").exists():
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    import torch

    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d"),
    }


def rnnkit(*argv: str) -> dict:
    """Run an rnnkit command with --json and return its JSON result."""
    command = [sys.executable, "-m", "rnnkit", *argv, "--json"]
    print("$", " ".join(command[2:]), file=sys.stderr, flush=True)
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-time", type=float, default=30.0, help="training minutes")
    parser.add_argument("--out", default="runs/bench-imdb", help="run folder")
    parser.add_argument("--tag", default="", help="suffix of the results file name")
    parser.add_argument("extra", nargs="*", help="more `rnnkit train classify` options")
    args = parser.parse_args()
    started = time.monotonic()
    trained = rnnkit(
        "train", "classify", "--data", "imdb", "--out", args.out, "--overwrite",
        "--max-time", str(args.max_time), *args.extra,
    )  # fmt: skip
    test = rnnkit("evaluate", args.out, "--split", "test")
    with open(Path(args.out) / "history.csv", newline="") as f:
        history = list(csv.DictReader(f))
    config = json.loads((Path(args.out) / "best" / "config.json").read_text())
    result = {
        "benchmark": "imdb",
        "machine": machine(),
        "command": f"rnnkit train classify --data imdb --max-time {args.max_time} "
        + " ".join(args.extra),
        "model": config["model"],
        "data": config["data"],
        "train": config["train"],
        "train_time_s": trained["train_time_s"],
        "epochs": trained["epochs"],
        "best_epoch": trained["best_epoch"],
        "val": trained["val"],
        "test": {k: test[k] for k in ("n", "accuracy", "macro_f1", "loss")},
        "history": history,
        "wall_time_s": round(time.monotonic() - started, 1),
        "target": {"test_accuracy": 0.885, "max_train_minutes": 30},
    }
    RESULTS.mkdir(exist_ok=True)
    name = f"imdb-{os.cpu_count()}cpu{'-' + args.tag if args.tag else ''}.json"
    (RESULTS / name).write_text(json.dumps(result, indent=2) + "\n")
    print(f"{'epochs':>8} {'train min':>10} {'val acc':>8} {'test acc':>9} {'test F1':>8}")
    print(
        f"{trained['epochs']:>8} {trained['train_time_s'] / 60:>10.1f} "
        f"{trained['val']['accuracy']:>8.4f} {test['accuracy']:>9.4f} {test['macro_f1']:>8.4f}"
    )
    print(f"wrote {RESULTS / name}")


if __name__ == "__main__":
    main()
