"""What a finished search reports: its trials as rows and a table, the best trial's settings
as a config file and its run folder, and plots."""

from __future__ import annotations

import logging
import math
import shutil
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import optuna
from optuna.importance import FanovaImportanceEvaluator

from rnnkit.atomic import atomic_path, replace_directory
from rnnkit.search.settings_file import write_settings_file

__all__ = ["PLOTS", "draw_plots", "keep_best", "search_report", "trial_rows"]

logger = logging.getLogger(__name__)

STATE_ORDER = {"complete": 0, "pruned": 1, "fail": 2, "running": 3, "waiting": 4}
# file name -> the optuna.visualization.matplotlib function drawing it
PLOTS = {
    "history.png": "plot_optimization_history",
    "importances.png": "plot_param_importances",
    "parallel.png": "plot_parallel_coordinate",
}


def trial_rows(study: optuna.Study, maximize: bool) -> list[dict[str, Any]]:
    """One JSON-ready dict per trial, best first: complete trials by value, then pruned ones by
    their last reported value, then failed and running ones."""
    rows = []
    for trial in study.get_trials(deepcopy=False):
        attrs = trial.user_attrs
        value = trial.value
        if value is None and trial.intermediate_values:  # pruned: its last reported value
            value = trial.intermediate_values[max(trial.intermediate_values)]
        rows.append(
            {
                "number": trial.number,
                "state": trial.state.name.lower(),
                "value": value,
                "params": dict(trial.params),
                "epochs": attrs.get("epochs"),
                "best_epoch": attrs.get("best_epoch"),
                "time_s": attrs.get("time_s"),
                "stop_reason": attrs.get("stop_reason"),
                "run": attrs.get("run"),
                **{key: attrs[key] for key in ("fold_values", "fold_runs") if key in attrs},
                **({"error": attrs["error"]} if "error" in attrs else {}),
            }
        )
    sign = -1 if maximize else 1

    def key(row: dict[str, Any]) -> tuple:
        value = row["value"]
        missing = value is None or not math.isfinite(value)
        return STATE_ORDER.get(row["state"], 5), missing, 0 if missing else sign * value

    return sorted(rows, key=key)


def keep_best(
    study: optuna.Study, out: Path, fixed: Mapping[str, Any], comment: str
) -> dict[str, str]:
    """Write the best trial's settings (the fixed ones and its sampled ones) as ``best.toml``
    and ``best.json``, and copy its run folder to ``best/`` when it is on this machine."""
    best = study.best_trial
    settings = {**fixed, **best.params}
    paths = {
        "best_config": str(write_settings_file(out / "best.toml", settings, comment)),
        "best_settings": str(write_settings_file(out / "best.json", settings)),
    }
    run = Path(best.user_attrs.get("run", ""))
    if run.is_dir():
        ignore = shutil.ignore_patterns(".lock")

        def fill(target: Path) -> None:
            shutil.copytree(run, target, ignore=ignore, dirs_exist_ok=True)

        paths["best_run"] = str(replace_directory(out / "best", fill))
    else:
        logger.warning("the best trial's run folder %s is on %s", run, best.user_attrs.get("host"))
        paths["best_run"] = str(run)
    return paths


def draw_plots(study: optuna.Study, folder: Path, metric: str) -> list[str]:
    """The optimisation history, parameter importances and parallel coordinates as PNG files
    in ``folder``; a plot that cannot be drawn (no matplotlib, too few trials) is skipped with
    a log line."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from optuna.visualization import matplotlib as optuna_plots
    except ImportError:
        logger.info("plots skipped: they need matplotlib (pip install matplotlib)")
        return []
    folder.mkdir(parents=True, exist_ok=True)
    drawn = []
    for name, function in PLOTS.items():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "experimental" and layout warnings
                seeded = {"evaluator": FanovaImportanceEvaluator(seed=0)}  # the same plot again
                options = seeded if function == "plot_param_importances" else {}
                axes = getattr(optuna_plots, function)(study, target_name=metric, **options)
                figure = axes.figure if hasattr(axes, "figure") else axes.flat[0].figure
                figure.set_size_inches(8, 5)
                figure.tight_layout()
                with atomic_path(folder / name) as path:
                    figure.savefig(path, format="png", dpi=100)
                plt.close(figure)
        except Exception as error:  # optuna refuses some plots for some studies, by design
            logger.info("plot %s skipped: %s", name, error)
            plt.close("all")
            continue
        drawn.append(str(folder / name))
    return drawn


def search_report(results: Mapping[str, Any], limit: int = 20) -> str:
    """The table of trials (the best ``limit``) and where the results are."""
    metric = results["metric"]
    rows = results["trials"]
    names = list(dict.fromkeys(name for row in rows for name in row["params"]))
    header = ["rank", "trial", "state", metric, "best/epochs", "time_s", *names]
    table = [header]
    for rank, row in enumerate(rows[:limit], 1):
        epochs = f"{row['best_epoch']}/{row['epochs']}" if row["epochs"] is not None else "-"
        time_s = f"{row['time_s']:.1f}" if row["time_s"] is not None else "-"
        table.append(
            [str(rank), str(row["number"]), row["state"], _value(row["value"]), epochs, time_s]
            + [_value(row["params"].get(name, "")) for name in names]
        )
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    text = [
        f"study {results['study']!r} ({results['sampler']} sampler, {results['pruner']} pruner): "
        f"{results['n_trials']} trials finished — {results['n_complete']} complete, "
        f"{results['n_pruned']} pruned, {results['n_failed']} failed; {metric} "
        f"({'higher' if results['direction'] == 'maximize' else 'lower'} is better)",
        *("  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip() for line in table),
    ]
    if len(rows) > limit:
        text.append(f"... {len(rows) - limit} more in {results['out']}/results.json")
    text.append(
        f"best: trial {results['best_trial']}, {metric} {_value(results['best_value'])}; "
        f"run folder {results['best_run']}, settings {results['best_config']}"
    )
    data = f" --data {results['data']}" if results.get("data") else ""
    text.append(
        f"retrain: rnnkit train {results['task']} --config {results['best_config']}{data} --out DIR"
    )
    if results.get("plots"):
        text.append(f"plots: {', '.join(results['plots'])}")
    return "\n".join(text)


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "-" if value is None else str(value)
