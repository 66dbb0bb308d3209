"""Forecast past the end of a series with a trained forecaster (`rnnkit train forecast`).

By default the forecast starts where the training data ends (its end is saved with the model);
--data gives another series of the same columns (a CSV file or a dataset name) to continue.
Each step comes with its interval (the model's --coverage; none for a point head). Beyond the
model's horizon the forecasts are fed back as inputs (series without covariates only), and the
intervals there are read from 1,000 sample paths fed back the same way, so they widen as the
uncertainty of the earlier steps adds up.

Examples:
  rnnkit forecast runs/airline --steps 24 --plot forecast.png
  rnnkit forecast runs/airline --data latest.csv --json
"""

from __future__ import annotations

import argparse

from rnnkit.errors import UserError
from rnnkit.tasks import load
from rnnkit.tasks.forecast import Forecaster

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", metavar="DIR", help="a forecasting run folder")
    parser.add_argument(
        "--steps",
        "--horizon",
        dest="steps",
        type=int,
        help="time steps to forecast (default: the model's horizon)",
    )
    parser.add_argument(
        "--data",
        metavar="FILE_OR_NAME",
        help="the series to continue (default: the end of the training data)",
    )
    parser.add_argument(
        "--plot", metavar="PNG", help="draw the history, the forecast and its interval into PNG"
    )
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps (default: auto)")


def run(args: argparse.Namespace) -> dict:
    if args.steps is not None and args.steps < 1:
        raise UserError(f"--steps must be at least 1, got {args.steps}")
    task = load(args.checkpoint, device=args.device)
    if not isinstance(task, Forecaster):
        raise UserError(
            f"{args.checkpoint} holds a {task.NAME!r} model; expected a forecasting model "
            "(rnnkit train forecast)"
        )
    return task.forecast(args.steps, data=args.data, plot=args.plot)
