"""Spoken digits (issue #17): FSDD test accuracy of rnnkit's speech classifier on the official
split and with each of the six speakers held out in turn, each within a training budget on this
CPU, beside the baseline a user would try first — logistic regression on each recording's MFCC
frames pooled to their mean and standard deviation (scikit-learn, the same features and splits).

    RNNKIT_DATA=../shared/data python benchmarks/speech.py                 # 15 minutes a run
    RNNKIT_DATA=../shared/data python benchmarks/speech.py --minutes 0.5 --speakers theo \\
        --extra "--limit 60 --hidden 16" --name smoke                      # a quick check

Targets (the issue): official split >= 98%; the speaker-held-out accuracy reported as the mean
over the six held-out speakers. The best epoch is chosen on the validation cut (taken from the
training speakers); each test split is scored once.
"""

from __future__ import annotations

import argparse
import shlex
import statistics
from pathlib import Path

import numpy as np
import torch
from quality import add_run_options, run_json, start_run, write_result
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from rnnkit.tasks.speech.data import (
    SpeechData,
    extract_features,
    load_recordings,
    split_recordings,
)

SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")


def pooled(features: list[torch.Tensor]) -> np.ndarray:
    """Each recording's frames ``(T, F)`` -> their mean and standard deviation ``(2F,)``."""
    return np.stack([torch.cat([f.mean(0), f.std(0, unbiased=False)]).numpy() for f in features])


def fit_logistic(features: list[torch.Tensor], labels: list[str]):
    """Logistic regression (standardised inputs) on recordings' pooled frames; ``predict`` and
    ``score`` take :func:`pooled` rows."""
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    return model.fit(pooled(features), labels)


def logistic_baseline(split: str, speaker: str | None, extra: list[str]) -> float:
    """Test accuracy of logistic regression on pooled MFCCs, same data settings as the run."""
    options = {"split": split, "test_speaker": speaker}
    if "--limit" in extra:
        options["limit"] = int(extra[extra.index("--limit") + 1])
    data = SpeechData(source="fsdd", **options)
    splits = split_recordings(load_recordings(data), data)
    train = extract_features(splits["train"], data, "train")
    test = extract_features(splits["test"], data, "test")
    model = fit_logistic(train.features, train.labels)
    return float(model.score(pooled(test.features), test.labels))


def benchmark(split: str, speaker: str | None, args: argparse.Namespace) -> dict:
    """Train on ``split`` (``speaker`` held out) within the budget; score its test split."""
    name = "official" if speaker is None else f"speaker-{speaker}"
    out = Path(args.runs) / f"speech-{args.name}-{name}"
    extra = shlex.split(args.extra)
    argv = ["train", "speech", "--data", "fsdd", "--split", split, "--out", str(out),
            "--overwrite", "--no-progress", "--max-time", str(args.minutes), *extra]  # fmt: skip
    if speaker is not None:
        argv += ["--test-speaker", speaker]
    if args.threads:
        argv += ["--threads", str(args.threads)]
    trained = run_json(argv)
    tested = run_json(["evaluate", str(out), "--split", "test"])
    baseline = logistic_baseline(split, speaker, extra)
    row = {"split": name, "train": trained, "test": tested, "logistic_regression": baseline}
    print(
        f"{name:<18} rnnkit {tested['accuracy']:.4f}  logistic regression {baseline:.4f}  "
        f"({trained['epochs']} epochs, {trained['train_time_s'] / 60:.1f} min)",
        flush=True,
    )
    return row


def table(rows: list[dict]) -> str:
    lines = ["| split | rnnkit GRU | logistic regression (pooled MFCC) | epochs | minutes |",
             "|---|---:|---:|---:|---:|"]  # fmt: skip
    for r in rows:
        lines.append(f"| {r['split']} | {r['test']['accuracy']:.4f} | "
                     f"{r['logistic_regression']:.4f} | {r['train']['epochs']} | "
                     f"{r['train']['train_time_s'] / 60:.1f} |")  # fmt: skip
    held = [r for r in rows if r["split"].startswith("speaker-")]
    if held:
        mine = statistics.mean(r["test"]["accuracy"] for r in held)
        base = statistics.mean(r["logistic_regression"] for r in held)
        lines.append(f"| mean of {len(held)} held-out speakers | {mine:.4f} | {base:.4f} | | |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=15.0, help="training budget per run")
    parser.add_argument(
        "--speakers",
        nargs="*",
        choices=SPEAKERS,
        default=list(SPEAKERS),
        help="speakers to hold out in turn (none: the official split only)",
    )
    parser.add_argument("--no-official", action="store_true", help="skip the official split")
    add_run_options(parser, "fsdd", "--hidden 64")
    args = parser.parse_args()
    started, machine = start_run(args)
    plan = [] if args.no_official else [("official", None)]
    plan += [("speaker", s) for s in args.speakers]
    rows = [benchmark(split, speaker, args) for split, speaker in plan]
    print(table(rows))
    write_result("speech", args, started, machine, rows)


if __name__ == "__main__":
    main()
