"""Hyperparameter search over a task's settings, on Optuna: grid, random, TPE and Gaussian-process
samplers, pruning from the validation metric at every epoch, parallel and resumable studies.

``rnnkit.search.run(task=..., space=..., out=..., **settings)`` is the Python form of
``rnnkit search``; see ``rnnkit.search.study``. ``select_ensemble`` averages the best trials of a
classification search (``rnnkit.search.ensemble``). The names here are imported on first use (the
search needs optuna: ``pip install 'rnnkit[search]'``), so ``rnnkit train --config`` reads a
settings file (``rnnkit.search.settings_file``) and ``Ensemble.average`` averages trained
classifiers without it.
"""

from __future__ import annotations

import importlib
from typing import Any

from rnnkit.errors import UserError

__all__ = [
    "Ensemble",
    "SearchConfig",
    "SearchSpace",
    "ensemble_weights",
    "read_space",
    "run",
    "search_report",
    "select_ensemble",
]

# public name -> the module defining it
_API = {
    "Ensemble": "rnnkit.search.ensemble",
    "ensemble_weights": "rnnkit.search.ensemble",
    "select_ensemble": "rnnkit.search.ensemble",
    "SearchConfig": "rnnkit.search.config",
    "SearchSpace": "rnnkit.search.space",
    "read_space": "rnnkit.search.space",
    "run": "rnnkit.search.study",
    "search_report": "rnnkit.search.report",
}


# modules that run without optuna (a settings file; averaging trained classifiers)
OPTUNA_FREE = ("rnnkit.search.config", "rnnkit.search.ensemble")


def __getattr__(name: str) -> Any:
    if name not in _API:
        raise AttributeError(f"module 'rnnkit.search' has no attribute {name!r}")
    if _API[name] not in OPTUNA_FREE:
        try:
            import optuna  # noqa: F401
        except ImportError:
            raise UserError(
                "the search needs optuna: pip install 'rnnkit[search]' (or pip install optuna)"
            ) from None
    return getattr(importlib.import_module(_API[name]), name)
