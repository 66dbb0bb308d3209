"""The Python API and the command line train the same model: same seed, same validation numbers.

For IMDb sentiment and Tiny Shakespeare, trains once with ``rnnkit train ...`` and once with the
task object's ``fit`` (the same settings, a fixed amount of work of about two minutes each, not a
time budget, so the two runs do the same steps), then prints both runs' validation metrics side by
side and writes ``benchmarks/results/api-vs-cli.json``.

    RNNKIT_DATA=../shared/data python benchmarks/api_vs_cli.py
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import tempfile
import time

import torch
from quality import RESULTS, machine_info, run_json

import rnnkit

# name -> (task class name, data, keyword settings); each about two minutes on a 2-core CPU
RUNS = {
    "imdb": (
        "TextClassifier",
        "imdb",
        {"limit": 5000, "epochs": 2, "max_length": 200},
    ),
    "shakespeare": (
        "LanguageModel",
        "tinyshakespeare",
        {"epochs": 1, "sample_length": 0},
    ),
}


def options(settings: dict) -> list[str]:
    """The command-line options for keyword settings."""
    return [item for k, v in settings.items() for item in ("--" + k.replace("_", "-"), str(v))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--only", choices=sorted(RUNS), help="one of the two runs")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows, started = [], time.time()
    for name, (cls, data, settings) in RUNS.items():
        if args.only and name != args.only:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            task = getattr(rnnkit, cls)
            cli = run_json(["train", task.NAME, "--data", data, *options(settings),
                            "--out", f"{tmp}/cli"])  # fmt: skip
            fitted = task(verbose=0, **settings).fit(data=data, out=f"{tmp}/api")
            api = fitted.fit_result
        metrics = sorted(k for k in cli if k.startswith("val_"))
        same = all(cli[k] == api[k] for k in metrics)
        rows.append({"run": name, "settings": settings, "cli": cli, "api": api, "identical": same})
        print(f"{name}: " + ", ".join(f"{k} cli {cli[k]:.6g} api {api[k]:.6g}" for k in metrics)
              + f" -> {'identical' if same else 'DIFFERENT'}")  # fmt: skip
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "api-vs-cli.json"
    result = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": machine_info(),
        "rows": rows,
        "wall_s": round(time.time() - started, 1),
    }
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"-> {path}")
    return 0 if all(row["identical"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
