"""The Optuna pieces a search is built from: its storage, sampler and pruner, by name."""

from __future__ import annotations

import itertools
import warnings
from pathlib import Path
from typing import Any

import optuna
from optuna.storages import JournalStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend

from rnnkit.errors import UserError
from rnnkit.search.space import SearchSpace

__all__ = [
    "WorkerGridSampler",
    "default_storage",
    "make_pruner",
    "make_sampler",
    "make_storage",
    "next_grid_point",
    "sampler_seed",
]

JOURNAL_SUFFIXES = (".log", ".journal")


def default_storage(out: Path) -> str:
    """The storage of a search given no ``storage``: a SQLite file in its output folder."""
    return f"sqlite:///{(out / 'study.db').resolve()}"


def make_storage(url: str) -> optuna.storages.BaseStorage:
    """An Optuna storage from an RDB URL (``sqlite:///FILE.db``, ``postgresql://...``) or the path
    of a journal file (ending in .log or .journal; for many processes or machines on one shared
    file system)."""
    if "://" in url:
        if url.startswith("sqlite:///"):
            Path(url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
        try:
            return RDBStorage(url)
        except ImportError as error:  # e.g. a postgresql:// URL without its driver
            raise UserError(f"storage {url!r} needs a database driver: {error}") from None
        except Exception as error:  # SQLAlchemy's errors: a bad URL, an unreachable server
            raise UserError(f"cannot open storage {url!r}: {error}") from None
    path = Path(url.removeprefix("journal:"))
    if path.suffix in JOURNAL_SUFFIXES or url.startswith("journal:"):
        path.parent.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return JournalStorage(JournalFileBackend(str(path)))
    raise UserError(
        f"storage {url!r} is neither a database URL nor a journal file; expected "
        "sqlite:///FILE.db, an RDB URL such as postgresql://HOST/DB, or a path ending in .log"
    )


class WorkerGridSampler(optuna.samplers.GridSampler):
    """Optuna's ``GridSampler`` for ask-and-tell workers, which pick each trial's grid point
    themselves (``next_grid_point``: a point is taken once it has a finished or running trial,
    so a trial cut short by Ctrl-C is run again on resuming) and count their trials themselves:
    it does not stop the study when the grid is done, as it would (an error outside
    ``Study.optimize``)."""

    def after_trial(self, study: Any, trial: Any, state: Any, values: Any) -> None:
        pass


def next_grid_point(space: SearchSpace, taken: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The first point of ``space``'s grid (in file order) that no params in ``taken`` hold."""
    grid = space.grid()
    held = {tuple(params.get(name) for name in grid) for params in taken}
    for values in itertools.product(*grid.values()):
        if values not in held:
            return dict(zip(grid, values))
    return None


def sampler_seed(seed: int | None, finished: int, worker: int) -> int | None:
    """A sampler seed from the search's ``seed``, distinct for each worker and each resumption
    (``finished`` trials already in the study), so none of them repeats another's samples."""
    if seed is None:
        return None
    return (seed + 7919 * finished + 104729 * worker) % 2**32


def make_sampler(
    name: str, space: SearchSpace, *, seed: int | None, startup_trials: int
) -> optuna.samplers.BaseSampler:
    """grid, random, tpe (multivariate) or gp (Matern-5/2, log expected improvement)."""
    with warnings.catch_warnings():  # multivariate TPE and the GP sampler are "experimental"
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if name == "grid":
            return WorkerGridSampler(space.grid(), seed=seed)
        if name == "random":
            return optuna.samplers.RandomSampler(seed=seed)
        if name == "tpe":
            return optuna.samplers.TPESampler(
                seed=seed, n_startup_trials=startup_trials, multivariate=True
            )
        if name == "gp":
            return optuna.samplers.GPSampler(seed=seed, n_startup_trials=startup_trials)
    raise UserError(f"unknown sampler {name!r}; expected grid, random, tpe or gp")


def make_pruner(name: str, *, startup_trials: int, epochs: int) -> optuna.pruners.BasePruner:
    """none, median (after ``startup_trials`` trials) or hyperband (1 to ``epochs`` epochs)."""
    if name == "none":
        return optuna.pruners.NopPruner()
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=startup_trials, n_warmup_steps=0)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max(epochs, 1))
    raise UserError(f"unknown pruner {name!r}; expected none, median or hyperband")
