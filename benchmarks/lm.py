"""Language-model quality per CPU-minute: Tiny Shakespeare (characters) and Penn Treebank (words).

Each benchmark runs the command a user would (``rnnkit train lm ... --max-time M`` with the
defaults unless ``--extra`` says otherwise), then ``rnnkit evaluate`` on the reported split, and
writes one JSON file to ``benchmarks/results/`` (settings, machine, history, final metrics).

    RNNKIT_DATA=../shared/data python benchmarks/lm.py shakespeare            # 15 min
    RNNKIT_DATA=../shared/data python benchmarks/lm.py ptb                    # 30 min
    python benchmarks/lm.py shakespeare --minutes 60 --name shakespeare-60min
    python benchmarks/lm.py shakespeare --minutes 5 --extra "--hidden 256 --batch-size 64"

Targets (issue "Many-to-many: language models"): Tiny Shakespeare, 90/10 split, validation loss
at most 1.50 nats/char within 15 minutes of training on a 2-core CPU; Penn Treebank test
perplexity at most 125 within 30 minutes.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime
import io
import json
import os
import platform
import re
import shlex
import sys
import time
from pathlib import Path

import torch

from rnnkit.cli import main as rnnkit

RESULTS = Path(__file__).parent / "results"
BENCHMARKS = {
    # name -> (training arguments, split evaluated, metric, target, default minutes)
    "shakespeare": (["--data", "tinyshakespeare"], "val", "loss", 1.50, 15.0),
    "ptb": (["--data", "ptb", "--level", "word"], "test", "perplexity", 125.0, 30.0),
}


def machine_info() -> dict:
    model = platform.processor() or "unknown"
    with contextlib.suppress(OSError):
        text = Path("/proc/cpuinfo").read_text()
        match = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
        model = match.group(1).strip() if match else model
    return {
        "cpu": model,
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "load_average_at_start": os.getloadavg(),
    }


def run_json(argv: list[str]) -> dict:
    """Run an rnnkit command with --json and return its JSON object (its report goes to stderr)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = rnnkit([*argv, "--json"])
    lines = out.getvalue().strip().splitlines()
    if code != 0 or not lines:
        raise SystemExit(f"rnnkit {' '.join(argv)} failed with exit status {code}")
    return json.loads(lines[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("benchmark", choices=sorted(BENCHMARKS))
    parser.add_argument("--minutes", type=float, help="training budget (default: the target's)")
    parser.add_argument("--extra", default="", help="more training options, e.g. '--hidden 256'")
    parser.add_argument("--name", help="result name (default: the benchmark's)")
    parser.add_argument("--runs", default="runs/bench", help="where run folders go")
    parser.add_argument(
        "--threads",
        type=int,
        help="torch CPU threads (default: torch's; on a machine shared with other jobs, 1 is "
        "several times faster than 2: waiting threads spin)",
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    base, split, metric, target, minutes = BENCHMARKS[args.benchmark]
    minutes = args.minutes or minutes
    name = args.name or args.benchmark
    run_dir = Path(args.runs) / name
    train_args = ["train", "lm", *base, "--max-time", str(minutes), "--out", str(run_dir)]
    train_args += ["--overwrite", *shlex.split(args.extra)]
    info = machine_info()
    started = time.time()
    print(f"$ rnnkit {' '.join(train_args)}", file=sys.stderr)
    trained = run_json(train_args)
    evaluated = run_json(["evaluate", str(run_dir), "--split", split])
    with open(run_dir / "history.csv", newline="") as f:
        history = list(csv.DictReader(f))
    value = evaluated[metric]
    result = {
        "benchmark": args.benchmark,
        "name": name,
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "command": "rnnkit " + " ".join(train_args),
        "max_minutes": minutes,
        "machine": {**info, "load_average_at_end": os.getloadavg()},
        "train": trained,
        "evaluate": evaluated,
        "history": history,
        "metric": f"{split}_{metric}",
        "value": value,
        "target": target,
        "meets_target": value <= target,
        "wall_s": round(time.time() - started, 1),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"lm-{name}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"{name}: {split} {metric} {value:.4f} (target <= {target}) after {trained['epochs']} "
        f"epoch(s), {trained['steps']} steps, {trained['train_time_s'] / 60:.1f} min of training"
        f" -> {path}"
    )


if __name__ == "__main__":
    main()
