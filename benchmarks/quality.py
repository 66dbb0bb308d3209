"""Task quality per CPU-minute: each benchmark trains the way a user would, then evaluates once.

Each benchmark runs ``rnnkit train TASK ... --max-time M`` with the defaults (unless ``--extra``
says otherwise; model selection uses the validation split cut from train or the data's own),
then ``rnnkit evaluate`` on the reported split, and writes one JSON file to
``benchmarks/results/<task>-<name>.json`` (settings, machine and its load, history, metrics).

    RNNKIT_DATA=../shared/data python benchmarks/quality.py shakespeare       # 15 min
    RNNKIT_DATA=../shared/data python benchmarks/quality.py ptb               # 30 min
    RNNKIT_DATA=../shared/data python benchmarks/quality.py imdb              # 30 min
    RNNKIT_DATA=../shared/data python benchmarks/quality.py multi30k          # 60 min

(``benchmarks/lm.py shakespeare|ptb``, ``benchmarks/imdb.py`` and ``benchmarks/translate.py``
run the same, one task each.)
    python benchmarks/quality.py shakespeare --minutes 60 --name shakespeare-60min
    python benchmarks/quality.py shakespeare --minutes 5 --extra "--hidden 256 --batch-size 64"

Targets (the issues): Tiny Shakespeare, 90/10 split, validation loss at most 1.50 nats/char
within 15 minutes of training on a 2-core CPU; Penn Treebank test perplexity at most 125 within
30 minutes; IMDb test accuracy at least 88.5% within 30 minutes; Multi30k German->English
test2016 BLEU at least 30 (sacrebleu, beam search) within 60 minutes.
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
    # name -> (task, training arguments, split evaluated, metric, target, default minutes);
    # the target is a maximum for losses and perplexities, a minimum for accuracy and BLEU
    "shakespeare": ("lm", ["--data", "tinyshakespeare"], "val", "loss", 1.50, 15.0),
    "ptb": ("lm", ["--data", "ptb", "--level", "word"], "test", "perplexity", 125.0, 30.0),
    "imdb": ("classify", ["--data", "imdb"], "test", "accuracy", 0.885, 30.0),
    "multi30k": (
        "translate",
        ["--data", "multi30k", "--src", "de", "--tgt", "en"],
        "test",
        "bleu",
        30.0,
        60.0,
    ),
}
HIGHER_IS_BETTER = {"accuracy", "bleu"}


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


def add_run_options(parser: argparse.ArgumentParser, name: str, example: str) -> None:
    """The options every task benchmark takes: ``--extra`` training options (``example``),
    ``--name`` of the result (default ``name``), ``--runs`` folder and ``--threads``."""
    parser.add_argument("--extra", default="", help=f"more training options, e.g. '{example}'")
    parser.add_argument("--name", default=name, help="result name")
    parser.add_argument("--runs", default="runs/bench", help="where run folders go")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")


def start_run(args: argparse.Namespace) -> tuple[datetime.datetime, dict]:
    """Apply ``--threads`` and note when and on what the benchmark starts: (start time,
    ``machine_info()``) for ``write_result``."""
    if args.threads:
        torch.set_num_threads(args.threads)
    return datetime.datetime.now(datetime.timezone.utc), machine_info()


def write_result(
    benchmark: str,
    args: argparse.Namespace,
    started: datetime.datetime,
    machine: dict,
    runs: list[dict],
    **more,
) -> Path:
    """Write ``results/BENCHMARK-NAME.json`` in the scheme the task benchmarks share: the command,
    start time, machine (``machine_info()`` taken at the start, plus the load average at the
    end), budget (``args.minutes``, ``args.extra``), the runs and ``more``."""
    result = {
        "benchmark": benchmark,
        "command": shlex.join([Path(sys.executable).name, *sys.argv]),
        "started": started.isoformat(timespec="seconds"),
        "machine": {**machine, "load_average_at_end": os.getloadavg()},
        "minutes": args.minutes,
        "extra": args.extra,
        "runs": runs,
        **more,
    }
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{benchmark}-{args.name}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {path}")
    return path


def run_json(argv: list[str]) -> dict:
    """Run an rnnkit command with --json and return its JSON object (its report goes to stderr)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = rnnkit([*argv, "--json"])
    lines = out.getvalue().strip().splitlines()
    if code != 0 or not lines:
        raise SystemExit(f"rnnkit {' '.join(argv)} failed with exit status {code}")
    return json.loads(lines[-1])


def main(names: tuple[str, ...] | None = None, description: str | None = None) -> None:
    """Run one benchmark among ``names`` (default: all); a single name needs no argument."""
    names = tuple(sorted(BENCHMARKS)) if names is None else names
    parser = argparse.ArgumentParser(description=description or __doc__.split("\n")[0])
    if len(names) == 1:
        parser.add_argument("benchmark", nargs="?", choices=names, default=names[0])
    else:
        parser.add_argument("benchmark", choices=names)
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

    task, base, split, metric, target, minutes = BENCHMARKS[args.benchmark]
    minutes = args.minutes or minutes
    name = args.name or args.benchmark
    run_dir = Path(args.runs) / name
    train_args = ["train", task, *base, "--max-time", str(minutes), "--out", str(run_dir)]
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
        "meets_target": value >= target if metric in HIGHER_IS_BETTER else value <= target,
        "wall_s": round(time.time() - started, 1),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{task}-{name}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    relation = ">=" if metric in HIGHER_IS_BETTER else "<="
    print(
        f"{name}: {split} {metric} {value:.4f} (target {relation} {target}) after "
        f"{trained['epochs']} epoch(s), {trained['train_time_s'] / 60:.1f} min of training"
        f" -> {path}"
    )


if __name__ == "__main__":
    main()
