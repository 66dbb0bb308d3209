"""Forecasting (issue 15): rnnkit's RNN forecaster beside the baselines, on the issue's splits.

* airline, the last 24 months held out, then the last 36: one forecast of the whole hold-out
  from its start (horizon 24 / 36), MAPE and MASE (scaled by the in-sample seasonal naive
  error, m = 12);
* Melbourne minimum temperatures, 1990 held out: one step ahead (RMSE; beside persistence, the
  7-day mean and last year's value) and 7 steps ahead, walk-forward over every day of 1990;
* S&P 500 closes (2000-2015 for training and validation, 2016 to August 2018 held out) and GOOG
  opens (2012-2016, January 2017 held out), one day ahead: error against the lag-1 naive forecast
  (the random walk), and how often the forecast moves the right way against the share of up
  days.

The RNN is ``rnnkit.Forecaster`` (the Python API). For each series a few settings (transform,
input length, batch size, and for airline a one-step model whose forecasts are fed back as its
next inputs; ``EXPERIMENTS`` below) are tried, each trained on the training part with its best
epoch picked on the validation part (the steps just before the test part); the candidate with
the best validation score is kept, and only it is scored on the test part, once. With ``folds``
> 1 (airline: 3) the validation score is the mean over rolling origins inside the part before
the test part: fold k moves the validation window ``k * fold_step`` steps earlier and trains
the candidate again on the steps before it (a single 24/36-month validation forecast is noisy);
the fold-0 models (the validation window just before the test part) are the ones tested. A
candidate is an ensemble when ``seeds`` > 1 (airline: 4): its forecast is the mean of models
trained with seeds 0, 1, ...; the table also shows seed 0 alone. The baselines (naive, seasonal
naive, drift, seasonal naive + drift, Holt-Winters, (S)ARIMA; ``rnnkit.tasks.forecast.baselines``,
the functions ``rnnkit evaluate`` calls) are scored on the same windows in the same run. When the
forecaster has ``architecture="seq2seq"``, the multi-step series have seq2seq candidates too;
the best of them on validation gets a row of its own. One more row is the forecaster with every
setting at its default (one step ahead, fed back beyond it; ``--transform auto``), seed 0, as
``rnnkit train forecast --data NAME --test-size T --val-size V`` trains it, and the same with
``--members 5`` (a deep ensemble trained as one model): no choice made. With ``repeats`` R > 1
(airline: 5) the chosen setting is trained again with R - 1 more disjoint sets of seeds (4-7,
8-11, ...) and the two defaults rows with seeds 1..R-1, after the choice, and their
test scores are printed and saved as a spread (mean, lowest, highest): how far a test score
moves with the seeds alone. They choose nothing.

    RNNKIT_DATA=../shared/data OMP_NUM_THREADS=1 python benchmarks/forecast.py  # 3 min idle
    RNNKIT_DATA=../shared/data OMP_NUM_THREADS=1 python benchmarks/forecast.py \\
        --only airline-24 --seeds 1 --candidates 1 --name smoke                      # a minute
    RNNKIT_DATA=../shared/data OMP_NUM_THREADS=1 python benchmarks/forecast.py \
        --only airline-24 airline-36 --merge            # the airline rows of forecast-issue15

Prints a table per series and writes ``benchmarks/results/forecast-NAME.json``. Targets (the
issue): airline 24 months MAPE below 6.4% with MASE below 1, 36 months below 4.5%; Melbourne
one step ahead RMSE below 2.45.
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from quality import RESULTS, machine_info, write_result

import rnnkit
from rnnkit.tasks.forecast import baselines
from rnnkit.tasks.forecast.baselines import (
    BASELINES,
    direction_scores,
    forecast_metrics,
    mase_scale,
    seasonal_naive,
    window_mean,
)
from rnnkit.tasks.forecast.data import load_series_source, make_splits
from rnnkit.tasks.forecast.report import METRICS


@dataclass(frozen=True)
class Experiment:
    """One series, split and horizon; the RNN candidates tried on its validation part."""

    data: str
    horizon: int
    test_size: int
    val_size: int
    metric: str  # the one the candidates are selected by (lower is better)
    candidates: tuple[dict[str, Any], ...]
    target: dict[str, float] = field(default_factory=dict)  # metric -> the maximum
    extra: dict[str, tuple[Any, int]] = field(default_factory=dict)  # more baselines: (f, m)
    stock: bool = False
    seeds: int = 1  # models averaged per candidate
    repeats: int = 1  # the chosen setting's test score with this many disjoint sets of seeds
    folds: int = 1  # validation origins the candidates are scored at (rolling, fold_step apart)
    fold_step: int = 0


def seq2seq(settings: dict[str, Any]) -> tuple[dict[str, Any], ...]:
    """``settings`` with the encoder-decoder, when the forecaster has that architecture."""
    if "architecture" not in rnnkit.Forecaster.setting_names():
        return ()
    return ({**settings, "architecture": "seq2seq"},)


# 13 to 72 training windows: small batches, several seeds averaged; one step ahead with each
# forecast fed back as the next input, on log differences or on log seasonal differences (the
# airline model's log y_t - log y_{t-12}), or the direct head on seasonal differences (24 months
# only: a 36-step head leaves the earlier folds one training window or none)
ONE_STEP = {"transform": "log-diff", "input_length": 24, "hidden": 32, "batch_size": 8,
            "horizon": 1}  # fmt: skip
SEASONAL = {**ONE_STEP, "transform": "log-seasonal-diff"}
AIRLINE_36 = (ONE_STEP, SEASONAL, {**SEASONAL, "input_length": 12})
AIRLINE_24 = (*AIRLINE_36, {**SEASONAL, "input_length": 12, "horizon": 24})
MEMBERS = 5  # the defaults' ensemble row: --members 5 (a deep ensemble of 5 forecasters)
DAYS = {"input_length": 60, "hidden": 32, "batch_size": 128, "lr": 0.01}
TEMPERATURE = ({**DAYS, "input_length": 30}, DAYS)
STOCK = ({"transform": "log-diff", "input_length": 20, "hidden": 32, "batch_size": 128},
         {"transform": "log", "input_length": 20, "hidden": 32, "batch_size": 128})  # fmt: skip
DAILY = {"7-day mean": (window_mean, 7), "last year's value": (seasonal_naive, 365)}
EXPERIMENTS = {
    "airline-24": Experiment(
        "airline",
        24,
        24,
        24,
        "mape",
        AIRLINE_24,
        {"mape": 6.4, "mase": 1.0},
        seeds=4,
        folds=3,
        fold_step=12,
        repeats=5,
    ),
    "airline-36": Experiment(
        "airline",
        36,
        36,
        36,
        "mape",
        AIRLINE_36,
        {"mape": 4.5},
        seeds=4,
        folds=3,
        fold_step=6,
        repeats=5,
    ),  # fmt: skip
    "min-temp-1": Experiment("min-temp", 1, 365, 365, "rmse", TEMPERATURE, {"rmse": 2.45}, DAILY),
    "min-temp-7": Experiment("min-temp", 7, 365, 365, "rmse", (DAYS, *seq2seq(DAYS)), {}, DAILY),
    "sp500": Experiment("sp500", 1, 672, 504, "mae", STOCK, stock=True),  # 2016-01-04 on
    "goog": Experiment("goog", 1, 20, 252, "mae", STOCK, stock=True),  # January 2017
}


def fit(
    experiment: Experiment, settings: dict[str, Any], seeds: int, shift: int = 0, first: int = 0
) -> list[rnnkit.Forecaster]:
    """``seeds`` forecasters with ``settings`` (seeds ``first``, ``first`` + 1, ...), trained on
    the training part, their best epoch picked on the validation part; ``shift`` steps more are
    held out after the validation part (an earlier fold: its models never read those steps)."""
    models = []
    for seed in range(first, first + seeds):
        given = {"horizon": experiment.horizon, "test_size": experiment.test_size + shift,
                 "val_size": experiment.val_size, "seed": seed, **settings}  # fmt: skip
        model = rnnkit.Forecaster(verbose=0, **given)
        models.append(model.fit(data=experiment.data))
    return models


def default_forecaster(experiment: Experiment, seed: int, **given) -> rnnkit.Forecaster:
    """The forecaster with every setting at its default but ``given`` and the seed, trained on
    the experiment's split (as ``rnnkit train forecast --data NAME --test-size T --val-size V``)."""
    sizes = {"test_size": experiment.test_size, "val_size": experiment.val_size}
    return rnnkit.Forecaster(verbose=0, seed=seed, **sizes, **given).fit(data=experiment.data)


def ensemble(models: list[rnnkit.Forecaster], values: np.ndarray, origins: np.ndarray, steps):
    """The mean forecast (N, steps, k) of ``models`` from each origin, each from ``values[:t]``
    (beyond a model's horizon its forecasts are fed back as inputs)."""
    out = []
    for t in origins:
        rows = [m.forecast(steps, data=values[:t])["forecast"] for m in models]
        out.append([[[cell["forecast"] for name, cell in row.items() if name != "time"]
                     for row in forecast] for forecast in rows])  # fmt: skip
    return np.asarray(out).mean(axis=1)  # (N, models, h, k) -> (N, h, k)


def split_windows(experiment: Experiment, model: rnnkit.Forecaster, split: str):
    """(values (T, k), origins, actual (N, h, k), MASE scale (k,)) of ``split``, the windows and
    scaling ``evaluate`` uses."""
    cut = make_splits(load_series_source(model.settings["data"].replace(source=experiment.data)),
                      model.settings["data"])  # fmt: skip
    values = cut.series.targets
    origins = cut.origins(split, experiment.horizon)
    actual = values[origins[:, None] + np.arange(experiment.horizon)[None, :]]
    in_sample = cut.test_start if split == "test" else cut.val_start
    return values, origins, actual, mase_scale(values[:in_sample], model.preprocessing.season)


def select(
    experiment: Experiment, candidates, seeds: int, folds: int
) -> tuple[dict[str, tuple], list]:
    """Train every candidate on each fold; keep the one with the best mean validation score
    over the folds. Returns ({"rnn": (its fold-0 models, its settings, its mean score),
    "seq2seq": the same of the best seq2seq candidate}, every candidate's validation scores)."""
    tried, best = [], {}
    for settings in candidates:
        started = time.time()
        per_fold = []
        for fold in range(folds):
            fold_models = fit(experiment, settings, seeds, fold * experiment.fold_step)
            values, origins, actual, scale = split_windows(experiment, fold_models[0], "val")
            forecast = ensemble(fold_models, values, origins, experiment.horizon)
            per_fold.append({"val_start": int(origins[0]), "models": fold_models,
                             **forecast_metrics(actual, forecast, scale)})  # fmt: skip
        models = per_fold[0].pop("models")
        scores = {k: float(np.mean([f[k] for f in per_fold])) for k in METRICS}
        tried.append({"settings": settings, "seeds": seeds, "val": scores,
                      "folds": [{k: v for k, v in f.items() if k != "models"} for f in per_fold],
                      "epochs": [m.fit_result["epochs"] for m in models],
                      "train_s": round(time.time() - started, 1)})  # fmt: skip
        each = ", ".join(f"{f[experiment.metric]:.3f}" for f in per_fold)
        print(f"  val {experiment.metric} {scores[experiment.metric]:.4f} ({each})  {settings} "
              f"x{seeds} seeds, {tried[-1]['train_s']:.0f} s", flush=True)  # fmt: skip
        score = scores[experiment.metric]
        kinds = ("rnn", "seq2seq") if settings.get("architecture") == "seq2seq" else ("rnn",)
        for kind in kinds:
            if kind not in best or score < best[kind][2]:
                best[kind] = (models, settings, score)
    return best, tried


def test_row(experiment: Experiment, models: list[rnnkit.Forecaster]) -> dict[str, Any]:
    """The ensemble's test scores (and directions for a stock)."""
    values, origins, actual, scale = split_windows(experiment, models[0], "test")
    forecast = ensemble(models, values, origins, experiment.horizon)
    row = forecast_metrics(actual, forecast, scale)
    if experiment.stock:
        row.update(direction_scores(actual, forecast, values[origins - 1]))
    return row


class Choices(logging.Handler):
    """Collects what the ets and arima baselines log: the models they chose."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def baseline_rows(experiment: Experiment, model: rnnkit.Forecaster) -> tuple[dict, list[str]]:
    """Every baseline's test scores on the test windows (what ``evaluate`` computes for a model
    of the experiment's horizon), and the models ets and arima chose."""
    values, origins, actual, scale = split_windows(experiment, model, "test")
    season = model.preprocessing.season
    choices = Choices()
    logging.getLogger(baselines.__name__).addHandler(choices)
    logging.getLogger(baselines.__name__).setLevel(logging.INFO)
    rows = {}
    for label, (baseline, m) in {**{k: (f, season) for k, f in BASELINES.items()},
                                 **experiment.extra}.items():  # fmt: skip
        rows[label] = forecast_metrics(actual, baseline(values, origins, experiment.horizon, m),
                                       scale)  # fmt: skip
    logging.getLogger(baselines.__name__).removeHandler(choices)
    return rows, choices.lines


def run(name: str, experiment: Experiment, args: argparse.Namespace) -> dict[str, Any]:
    print(f"{name}: {experiment.data}, horizon {experiment.horizon}, test {experiment.test_size} "
          f"steps, validation {experiment.val_size}", flush=True)  # fmt: skip
    started = time.time()
    candidates = experiment.candidates[: args.candidates or None]
    seeds = args.seeds or experiment.seeds
    folds = args.folds or experiment.folds
    repeats = args.repeats or experiment.repeats
    best, tried = select(experiment, candidates, seeds, folds)
    models, settings, _ = best["rnn"]
    rows = {f"rnn (x{len(models)} seeds)": test_row(experiment, models)}
    if len(models) > 1:
        rows["rnn (seed 0 alone)"] = test_row(experiment, models[:1])
    seq2seq = best.get("seq2seq", (None, None))[1]
    if seq2seq is not None and seq2seq is not settings:  # the best seq2seq, not the best
        rows[f"rnn seq2seq (x{seeds} seeds)"] = test_row(experiment, best["seq2seq"][0])
    variants = {"defaults": {}, "defaults_members": {"members": MEMBERS}}
    by_seed = {variant: [default_forecaster(experiment, seed, **given) for seed in range(repeats)]
               for variant, given in variants.items()}  # fmt: skip
    chose = by_seed["defaults"][0].settings["data"].transform
    labels = {"defaults": f"rnn, every setting at its default (transform auto: {chose})",
              "defaults_members": f"rnn, the defaults with --members {MEMBERS}"}  # fmt: skip
    scored = {variant: [test_row(experiment, [model]) for model in trained]
              for variant, trained in by_seed.items()}  # fmt: skip
    for variant, label in labels.items():
        rows[label] = scored[variant][0]  # seed 0
    spread = {}
    if repeats > 1:  # how much the RNN rows move with the seeds alone
        seed_sets = [rows[f"rnn (x{len(models)} seeds)"]] + [
            test_row(experiment, fit(experiment, settings, seeds, first=r * seeds))
            for r in range(1, repeats)
        ]
        spread = {"chosen": repeat_summary(seed_sets, seeds)}
        for variant, per_seed in scored.items():
            spread[variant] = repeat_summary(per_seed, 1)
    evaluated = None
    if models[0].settings["data"].horizon == experiment.horizon:  # the same windows
        evaluated = models[0].evaluate(split="test")  # seed 0 and the baselines, as the CLI
        evaluated.pop("report")
    baseline_scores, chosen = baseline_rows(experiment, models[0])
    rows.update(baseline_scores)
    ours = rows[f"rnn (x{len(models)} seeds)"]
    others = {k: v for k, v in rows.items() if not k.startswith("rnn")}
    best_baseline = min(others, key=lambda k: others[k][experiment.metric])
    verdict = {
        "vs_naive": ours[experiment.metric] / others["naive"][experiment.metric],
        "beats_naive": ours[experiment.metric] < others["naive"][experiment.metric],
        "best_baseline": best_baseline,
        "beats_best_baseline": ours[experiment.metric] < others[best_baseline][experiment.metric],
        "meets_target": all(
            ours[m] is not None and ours[m] < v for m, v in experiment.target.items()
        )
        if experiment.target
        else None,  # fmt: skip
    }
    if experiment.stock:
        verdict["beats_up_share"] = ours["direction_accuracy"] > max(
            ours["up_share"], 1 - ours["up_share"]
        )
    print(table(experiment, rows, verdict), flush=True)
    for label, summary in spread.items():
        print(f"{label}, {repeats} disjoint seed sets: " + ", ".join(
            f"{m} {summary['mean'][m]:.3f} ({summary['min'][m]:.3f}-{summary['max'][m]:.3f})"
            for m in dict.fromkeys((experiment.metric, "mase"))), flush=True)  # fmt: skip
    return {
        "name": name,
        "data": experiment.data,
        "horizon": experiment.horizon,
        "test_size": experiment.test_size,
        "val_size": experiment.val_size,
        "test_origins": int(len(split_windows(experiment, models[0], "test")[1])),
        "selected_by": f"val {experiment.metric}"
        + (
            f", the mean of {folds} origins {experiment.fold_step} steps apart" if folds > 1 else ""
        ),
        "selected": settings,
        "candidates": tried,
        "seq2seq": seq2seq,
        "default_transform": chose,
        "test": rows,
        "seed_sets": spread,
        "baseline_models": chosen,
        "evaluate": evaluated,
        "target": experiment.target,
        **verdict,
        "wall_s": round(time.time() - started, 1),
    }


def repeat_summary(scores: list[dict[str, float]], seeds: int) -> dict[str, Any]:
    """The test scores of one setting trained with disjoint seed sets (0..s-1, s..2s-1, ...):
    each set's scores, and their mean, lowest and highest per metric."""
    metrics = [m for m in METRICS if all(row.get(m) is not None for row in scores)]
    values = {m: [row[m] for row in scores] for m in metrics}
    return {"seeds": [list(range(r * seeds, (r + 1) * seeds)) for r in range(len(scores))],
            "test": scores,
            "mean": {m: float(np.mean(v)) for m, v in values.items()},
            "min": {m: float(np.min(v)) for m, v in values.items()},
            "max": {m: float(np.max(v)) for m, v in values.items()}}  # fmt: skip


def table(experiment: Experiment, rows: dict[str, dict], verdict: dict) -> str:
    """A Markdown table of the test scores, and what it says."""
    columns = [m for m in METRICS] + (["direction_accuracy"] if experiment.stock else [])
    lines = ["| model | " + " | ".join(c.replace("_", " ") for c in columns) + " |",
             "|---|" + "---:|" * len(columns)]  # fmt: skip
    for label, scores in rows.items():
        cells = [_cell(scores.get(c), c) for c in columns]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    ours = rows[next(iter(rows))]
    metric = experiment.metric.upper()
    said = {True: "beats", False: "does NOT beat"}
    line = (
        f"the RNN {said[verdict['beats_naive']]} the naive forecast ({verdict['vs_naive']:.4f} "
        f"times its {metric}) and {said[verdict['beats_best_baseline']]} the best baseline "
        f"({verdict['best_baseline']}) by {metric}"
    )
    if experiment.target:
        line += f"; target {experiment.target}: {'met' if verdict['meets_target'] else 'NOT met'}"
    lines.append(line)
    if experiment.stock:
        up = ours["up_share"]
        lines.append(
            f"direction right {ours['direction_accuracy']:.1%} of the days; up days "
            f"{up:.1%}: the RNN {'beats' if verdict['beats_up_share'] else 'does NOT beat'} "
            "always saying the majority move"
        )
    return "\n".join(lines)


def _cell(value: float | None, metric: str) -> str:
    if value is None:
        return "-"
    if metric == "direction_accuracy":
        return f"{value:.1%}"
    return f"{value:.2f}%" if metric in ("mape", "smape") else f"{value:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", choices=list(EXPERIMENTS), help="some series only")
    parser.add_argument("--seeds", type=int, help="models averaged per candidate (default: "
                        "the series', 4 for airline, 1 for the others)")  # fmt: skip
    parser.add_argument("--candidates", type=int, help="try only the first N candidates")
    parser.add_argument("--repeats", type=int, help="disjoint seed sets the chosen setting and "
                        "the defaults are trained with, to show how far the test score moves "
                        "with the seeds alone (default: the series', 5 for airline)")  # fmt: skip
    parser.add_argument("--folds", type=int, help="validation origins per candidate (default: "
                        "the series', 3 for airline, 1 for the others)")  # fmt: skip
    parser.add_argument("--merge", action="store_true", help="replace only these series' runs "
                        "in an existing result file, keeping the others")  # fmt: skip
    parser.add_argument("--name", default="issue15", help="result name")
    parser.add_argument("--note", default="", help="a note for the JSON (e.g. the load)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default: 1)")
    args = parser.parse_args()
    args.minutes, args.extra = None, ""  # write_result's budget fields: no time budget here
    torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore")  # statsmodels' convergence notes
    started = datetime.datetime.now(datetime.timezone.utc)
    machine = machine_info()
    runs = [run(name, EXPERIMENTS[name], args) for name in args.only or EXPERIMENTS]
    more: dict[str, Any] = {"note": args.note}
    path = RESULTS / f"forecast-{args.name}.json"
    if args.merge and path.is_file():  # keep the other series' runs, and say where they are from
        earlier = json.loads(path.read_text())
        names = {r["name"] for r in runs}
        kept = [r for r in earlier["runs"] if r["name"] not in names]
        runs = [*kept, *runs]
        runs.sort(key=lambda r: list(EXPERIMENTS).index(r["name"]))
        more["merged"] = {"runs": [r["name"] for r in kept],
                          **{k: earlier[k] for k in ("command", "started", "machine")},
                          "note": earlier.get("note", "")}  # fmt: skip
    write_result("forecast", args, started, machine, runs, **more)


if __name__ == "__main__":
    main()
