"""Flag anomalies in a series.

Given a series (NAB's nab/<category>/<name>, a registered dataset or a CSV file), an LSTM
learns the series' first 15%, at most 750 steps (NAB's probationary period, taken to be free
of anomalies) and scores every later step from the values up to it: its one-step forecast error
(--method prediction), its reconstruction error of the window ending there (--method
autoencoder), both (--method combined: the mean of their surprises), or, without a model, the
distance from the mean of the values before (--method zscore). The scores become an anomaly
likelihood (its surprise, -log10 of the tail probability); a value outside the range seen so
far scores at least 10 (--spatial); one alarm is kept per event (--quiet); steps above a
threshold read from the probationary period without labels (or --threshold) are flagged and
printed as anomaly windows. NAB's series are scored against their
labelled windows with NAB's function (standard, reward-low-FP and reward-low-FN profiles).

Given a forecasting run folder (rnnkit train forecast), the steps whose one-step error stands
out from the errors of the probationary period are flagged instead.

Examples:
  rnnkit detect nab/realKnownCause/machine_temperature_system_failure --plot anomalies.png
  rnnkit detect sensor.csv --method autoencoder --json
  rnnkit detect runs/taxi --threshold 5
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rnnkit.commands.options import add_settings_options, given
from rnnkit.errors import UserError
from rnnkit.tasks.forecast.detect import PROBATION, DetectorSettings, detect_series

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "source",
        metavar="RUN_OR_SERIES",
        help="a series (nab/<category>/<name>, a dataset name, a CSV file) or a forecasting "
        "run folder",
    )
    parser.add_argument(
        "--data",
        metavar="FILE_OR_NAME",
        help="with a run folder: the series to scan, with the model's columns (default: the "
        "training data)",
    )
    parser.add_argument("--plot", metavar="PNG", help="draw the series, its scores and flags")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps (default: auto)")
    group = parser.add_argument_group("detector (a series)")
    add_settings_options(group, DetectorSettings, DetectorSettings().to_dict())


def run(args: argparse.Namespace) -> dict:
    options = given(args, [DetectorSettings])
    if Path(args.source).expanduser().is_dir():
        return _run_folder(args, options)
    if args.data is not None:
        raise UserError(
            f"--data goes with a run folder; {args.source!r} is a series: scan it directly"
        )
    return detect_series(args.source, DetectorSettings(**options), plot=args.plot)


def _run_folder(args: argparse.Namespace, options: dict) -> dict:
    from rnnkit.tasks import load
    from rnnkit.tasks.forecast import Forecaster

    task = load(args.source, device=args.device)
    if not isinstance(task, Forecaster):
        raise UserError(
            f"{args.source} holds a {task.NAME!r} model; expected a forecasting model "
            "(rnnkit train forecast)"
        )
    unused = sorted(set(options) - {"probation", "threshold"})
    if unused:
        raise UserError(
            f"--{unused[0].replace('_', '-')} sets the detector of a series; a run folder "
            "detects with its forecaster (only --probation and --threshold apply)"
        )
    return task.detect(
        args.data,
        probation=options.get("probation", PROBATION),
        threshold=options.get("threshold"),
        plot=args.plot,
    )
