"""Flag anomalies in a series with a trained forecaster: the steps whose one-step forecast error
stands out from the errors of the series' first 15% (the probationary period, taken to be free
of anomalies). For NAB's series (--data nab/<category>/<name>) the flags are scored against
NAB's labelled windows: precision, recall, windows detected, flags outside every window.

Examples:
  rnnkit train forecast --data nab/realKnownCause/nyc_taxi --input-length 48 --out runs/taxi
  rnnkit detect runs/taxi --plot anomalies.png
  rnnkit detect runs/taxi --threshold 5 --json
"""

from __future__ import annotations

import argparse

from rnnkit.errors import UserError
from rnnkit.tasks import load
from rnnkit.tasks.forecast import Forecaster
from rnnkit.tasks.forecast.detect import PROBATION

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", metavar="DIR", help="a forecasting run folder")
    parser.add_argument(
        "--data",
        metavar="FILE_OR_NAME",
        help="the series to scan, with the model's columns (default: the training data)",
    )
    parser.add_argument(
        "--threshold",
        type=float,
        help="flag errors above this many standard deviations (default: the largest of the "
        "probationary period)",
    )
    parser.add_argument(
        "--probation",
        type=float,
        default=PROBATION,
        help=f"the fraction at the start taken to be free of anomalies (default: {PROBATION})",
    )
    parser.add_argument("--plot", metavar="PNG", help="draw the series, windows and flags")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps (default: auto)")


def run(args: argparse.Namespace) -> dict:
    task = load(args.checkpoint, device=args.device)
    if not isinstance(task, Forecaster):
        raise UserError(
            f"{args.checkpoint} holds a {task.NAME!r} model; expected a forecasting model "
            "(rnnkit train forecast)"
        )
    return task.detect(
        args.data, probation=args.probation, threshold=args.threshold, plot=args.plot
    )
