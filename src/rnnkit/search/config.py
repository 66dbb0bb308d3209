"""``SearchConfig``: the settings of a hyperparameter search (not of the trials it trains).

The task's own settings are given beside them and stay fixed for every trial; the settings a
search varies come from the space file (``rnnkit.search.space``). The task's ``seed`` seeds
both every trial's training (the same for all trials, so they differ only in what is searched)
and the sampler.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from rnnkit.settings import Settings

__all__ = ["PRUNERS", "SAMPLERS", "SearchConfig"]

SAMPLERS = ("grid", "random", "tpe", "gp")
PRUNERS = ("none", "median", "hyperband")


@dataclass
class SearchConfig(Settings):
    """How the search samples, prunes, stores and parallelises its trials.

    Args:
        sampler: grid (every combination of the space's values), random, tpe (tree-structured
            Parzen estimators) or gp (a Gaussian process, Matern-5/2 kernel, with log expected
            improvement).
        trials: trials to finish (complete or pruned), counting those already in the study;
            the grid sampler runs at most its grid's size.
        timeout: minutes after which no new trial starts (none: no limit); running trials
            finish, and each worker runs one trial at least.
        pruner: stop a trial whose validation metric lags the others' at the same epoch:
            median, hyperband, or none.
        startup_trials: trials sampled at random (tpe, gp) and never pruned (median) before
            the results steer the search.
        cv: k-fold cross-validation: each trial trains on every one of this many folds of the
            training data (the task's folds and fold settings; the text classifier has them)
            and scores the mean of their best validation values; the pruner watches the
            first fold. 1: the task's one validation split.
        storage: where the study lives, shared by workers, machines and resumed searches:
            sqlite:///FILE.db, an RDB URL (postgresql://..., mysql://...), or an Optuna journal
            file (a path ending in .log or .journal) (default: sqlite:///OUT/study.db).
        study: the study's name in the storage; the same --storage and --study resume it.
        workers: trials run at once on this machine, one process each.
        threads: torch threads in all, split between the workers (default: torch's choice).
        device: auto, cpu, cuda, cuda:N or mps.
        plots: draw the optimisation history, parameter importances and parallel coordinates
            as PNG files (needs matplotlib).
    """

    KIND: ClassVar[str] = "search setting"
    CHOICES: ClassVar[dict[str, Any]] = {"sampler": SAMPLERS, "pruner": PRUNERS}
    RANGES: ClassVar[dict[str, str]] = {
        "trials": "[1, inf)",
        "timeout": "(0, inf)",
        "startup_trials": "[0, inf)",
        "cv": "[1, inf)",
        "workers": "[1, inf)",
        "threads": "[1, inf)",
    }

    sampler: str = "tpe"
    trials: int = 20
    timeout: float | None = None
    pruner: str = "median"
    startup_trials: int = 10
    cv: int = 1
    storage: str | None = None
    study: str = "search"
    workers: int = 1
    threads: int | None = None
    device: str = "auto"
    plots: bool = True
