"""How often the forecast intervals past the horizon hold the truth: sample paths against the
centre fed back alone.

``rnnkit forecast DIR --steps S`` beyond the model's horizon feeds its forecasts back as inputs.
Its intervals there are read from sample paths (each drawing its steps from the forecast
distribution and feeding them back); the way a user would do it by hand, calling the forecaster
again on the history plus the forecast so far, gives each later block an interval as if the fed
back values were known. A seq2seq decoder feeds its previous forecast back within the horizon
too, so its intervals come from sample paths after the first step. For each series the default
forecaster (one step ahead, ``--transform auto``, seed 0; "min-temp seq2seq": the 7-day seq2seq
setting of ``forecast.py``) is trained on the training part, then forecasts ``steps`` from every
origin of the test part both ways, in the same run; the table is the share of the actual values
inside the nominal 80% interval, by step, and the intervals' mean width. The first row is a
Gaussian random walk with unit steps, whose exact 80% width is 2 x 1.2816 sqrt(h).

    python benchmarks/forecast_intervals.py                          # about 5 minutes
    python benchmarks/forecast_intervals.py --only sp500 --every 50 --epochs 1 --name smoke
"""

from __future__ import annotations

import argparse
import datetime
import time
import warnings
from typing import Any

import numpy as np
import torch
from quality import machine_info, write_result

import rnnkit
from rnnkit.tasks.forecast.data import in_memory_series, load_series_source, make_splits

WALK = "random walk"
DAYS = {"test_size": 365, "val_size": 365}
SEQ2SEQ = {
    "architecture": "seq2seq",
    "horizon": 7,
    "input_length": 60,
    "hidden": 32,
    "batch_size": 128,
    "lr": 0.01,
}  # benchmarks/forecast.py's 7-day seq2seq setting
SERIES = {  # row -> (dataset, steps forecast from each origin, the fit's settings)
    WALK: (None, 16, {"transform": "diff", "val_size": 100, "test_size": 100}),
    "sp500": ("sp500", 5, {}),
    "min-temp": ("min-temp", 7, DAYS),
    "min-temp seq2seq": ("min-temp", 7, {**DAYS, **SEQ2SEQ}),
    "airline": ("airline", 12, {"test_size": 24}),
}


def random_walk() -> np.ndarray:
    """800 steps of y_t = y_{t-1} + N(0, 1) from 100 (seeded)."""
    return 100 + np.cumsum(np.random.default_rng(0).standard_normal(800))  # (T,)


def bounds(result: dict[str, Any]) -> np.ndarray:
    """(steps, 3): forecast, lower, upper of a one-target ``forecast`` result."""
    cells = [next(v for k, v in row.items() if k != "time") for row in result["forecast"]]
    return np.array([[c["forecast"], c["lower"], c["upper"]] for c in cells])


def centre_fed_back(model: rnnkit.Forecaster, history: np.ndarray, steps: int) -> np.ndarray:
    """(steps, 3): the model's own forecast and bounds, a horizon at a time, called again on
    the history plus its forecasts so far (each block's interval as if the fed-back values
    were known; within a block, a seq2seq decoder's own per-step bounds, its previous
    forecasts read as if known)."""
    blocks = []
    while sum(map(len, blocks)) < steps:
        known = np.concatenate([history, *[b[:, 0] for b in blocks]])
        series = in_memory_series(known, model.settings["data"])
        own = model._forecast_windows(series, np.array([len(known)]))  # 3 x (1, h, k)
        blocks.append(np.stack([a[0, :, 0] for a in own], axis=1))  # (h, 3)
    return np.concatenate(blocks)[:steps]


def run(name: str, args: argparse.Namespace) -> dict[str, Any]:
    dataset, steps, settings = SERIES[name]
    given = {"epochs": args.epochs} if args.epochs else {}
    model = rnnkit.Forecaster(verbose=0, seed=0, **settings, **given)
    model.fit(random_walk()) if name == WALK else model.fit(data=dataset)
    data = model.settings["data"]
    if name == WALK:
        values, test_start = random_walk(), len(random_walk()) - data.test_size
    else:
        cut = make_splits(load_series_source(data), data)
        values, test_start = cut.series.targets[:, 0], cut.test_start
    origins = np.arange(test_start, len(values) - steps + 1)[:: args.every]
    row: dict[str, Any] = {"series": name, "steps": steps, "horizon": data.horizon,
                           "transform": data.transform, "origins": len(origins)}  # fmt: skip
    for way in ("paths", "centre fed back"):
        start, inside, width = time.perf_counter(), [], []
        for origin in origins:
            history = values[:origin]
            got = (bounds(model.forecast(steps=steps, data=history.tolist()))
                   if way == "paths" else centre_fed_back(model, history, steps))  # fmt: skip
            truth = values[origin : origin + steps]
            inside.append((truth >= got[:, 1]) & (truth <= got[:, 2]))
            width.append(got[:, 2] - got[:, 1])
        row[way] = {"coverage": np.mean(inside, axis=0).round(4).tolist(),
                    "width": np.mean(width, axis=0).round(4).tolist(),
                    "seconds": round(time.perf_counter() - start, 2)}  # fmt: skip
    if name == WALK:
        row["exact width"] = (2 * 1.2816 * np.sqrt(np.arange(1, steps + 1))).round(4).tolist()
    print(table(row), flush=True)
    return row


def table(row: dict[str, Any]) -> str:
    steps = range(row["steps"])
    head = f"\n{row['series']}: {row['origins']} origins, horizon {row['horizon']}, transform "
    lines = [head + f"{row['transform']}; step: " + " ".join(f"{h + 1:>6}" for h in steps)]
    for way in ("paths", "centre fed back"):
        for what, form in (("coverage", "{:6.1%}"), ("width", "{:6.2f}")):
            cells = " ".join(form.format(v) for v in row[way][what])
            lines.append(f"  {way:>15} {what:>8}  {cells}  ({row[way]['seconds']} s)")
    if "exact width" in row:
        lines.append(f"  {'exact':>15} {'width':>8}  " +
                     " ".join(f"{v:6.2f}" for v in row["exact width"]))  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", choices=list(SERIES), help="some series only")
    parser.add_argument("--every", type=int, default=1, help="every N-th test origin only")
    parser.add_argument("--epochs", type=int, help="fewer epochs than the default (smoke)")
    parser.add_argument("--name", default="paths", help="result name")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default: 1)")
    args = parser.parse_args()
    args.minutes, args.extra = None, ""  # write_result's budget fields: no time budget here
    torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore")
    started = datetime.datetime.now(datetime.timezone.utc)
    machine = machine_info()
    runs = [run(name, args) for name in args.only or SERIES]
    write_result("forecast-intervals", args, started, machine, runs)


if __name__ == "__main__":
    main()
