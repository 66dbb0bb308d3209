"""One search worker: ask the study for a trial, train it through the task object, tell the
study the result, until the study has its trials (or the time is up).

Workers run in this process (``workers=1``) or in processes of their own (``spawn``ed: forking a
process that has run torch can hang in its thread pools; threads would share torch's global
random state, which every trial seeds, and its thread count). The workers of one search share a
lock and a count of the trials they are running, so between them they start exactly the trials
still missing; workers on other machines only see the storage, so each machine may finish the
trials it has running when the last one needed completes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import torch
from optuna.trial import TrialState
from tqdm.auto import tqdm

from rnnkit.errors import UserError
from rnnkit.search.backends import (
    make_pruner,
    make_sampler,
    make_storage,
    next_grid_point,
    sampler_seed,
)
from rnnkit.search.pruning import PRUNED, TrialReporter
from rnnkit.search.space import read_space
from rnnkit.tasks import task_class

__all__ = ["TrialPlan", "count_finished", "work", "worker_main"]

logger = logging.getLogger(__name__)

QUIET_LOGGERS = ("rnnkit.data", "rnnkit.tasks", "rnnkit.train", "rnnkit.models")
FAILURES_IN_A_ROW = 3  # with no trial finished: the same mistake in every trial, so stop


@dataclass
class TrialPlan:
    """Everything a worker needs (plain values: it is sent to worker processes)."""

    task: str
    data: str | None
    fixed: dict[str, Any]
    space: dict[str, Any]
    sampler: str
    pruner: str
    startup_trials: int
    epochs: int
    storage: str
    study: str
    out: str
    monitor: str
    target: int
    cv: int = 1  # folds each trial trains on (k-fold cross-validation); 1: none
    seed: int | None = None
    deadline: float | None = None  # time.time() after which no trial starts
    threads: int | None = None
    device: str = "auto"
    verbose: int = 1


def count_finished(study: optuna.Study) -> int:
    """Trials that count towards the target: complete, pruned, or failed with an error of their
    own (a diverged run); not those cut short by Ctrl-C or a crash, which run again."""
    return sum(t.state != TrialState.RUNNING for t in _counted(study))


def _counted(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """The finished trials that count (see ``count_finished``) and the running ones."""
    states = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL, TrialState.RUNNING)
    trials = study.get_trials(deepcopy=False, states=states)
    return [t for t in trials if t.state != TrialState.FAIL or "error" in t.user_attrs]


def work(plan: TrialPlan, worker: int, lock: Any, running: Any, progress: bool = False) -> None:
    """Run trials until the study has ``plan.target`` finished ones or the deadline passes;
    ``lock`` and ``running`` (a shared int) are shared by the workers of this machine."""
    if plan.threads is not None:
        torch.set_num_threads(plan.threads)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    task = task_class(plan.task)
    space = read_space(plan.space, task, fixed=plan.fixed)
    study = optuna.load_study(study_name=plan.study, storage=make_storage(plan.storage))
    finished = count_finished(study)
    seed = sampler_seed(plan.seed, finished, worker)
    study.sampler = make_sampler(plan.sampler, space, seed=seed, startup_trials=plan.startup_trials)
    study.pruner = make_pruner(plan.pruner, startup_trials=plan.startup_trials, epochs=plan.epochs)
    bar = tqdm(
        total=plan.target, initial=finished, desc="search", unit="trial",
        disable=None if progress and plan.verbose else True, leave=False,
    )  # fmt: skip
    failures, last_error, started = 0, "", 0  # like Optuna's timeout: one trial at least
    try:
        while True:
            with lock:
                if started and plan.deadline is not None and time.time() >= plan.deadline:
                    logger.info("search: time is up; no new trial starts")
                    return
                if count_finished(study) + running.value >= plan.target:
                    return
                if plan.sampler == "grid":
                    point = next_grid_point(space, [t.params for t in _counted(study)])
                    if point is None:
                        return
                    study.enqueue_trial(point)
                trial = study.ask()
                params = space.suggest(trial)  # here: the next worker sees them
                running.value += 1
                started += 1
            try:
                error = run_trial(plan, task, study, trial, params)
            finally:
                with lock:
                    running.value -= 1
            bar.update(1)
            failures, last_error = (failures + 1, error) if error else (0, "")
            if failures >= FAILURES_IN_A_ROW and not _any_success(study):
                raise UserError(f"{failures} trials failed in a row, the last with: {last_error}")
    finally:
        bar.close()


def run_trial(
    plan: TrialPlan, task: Any, study: optuna.Study, trial: optuna.Trial, params: dict[str, Any]
) -> str | None:
    """Train one trial with ``params`` in ``OUT/trials/NNNN`` (with ``plan.cv`` folds, fold k
    > 0 in ``OUT/trials/NNNN-foldK``) and tell the study how it went: its value is the best
    validation value, or with folds their mean; the pruner watches the first fold. Returns the
    error of a trial that failed with one (a diverged run, settings the task refuses), else
    None."""
    folder = Path(plan.out) / "trials" / f"{trial.number:04d}"
    trial.set_user_attr("run", str(folder.resolve()))
    trial.set_user_attr("host", socket.gethostname())
    trial.set_user_attr("pid", os.getpid())
    start = time.monotonic()
    values, runs, summary = [], [], {}
    for fold in range(plan.cv):
        run = folder if fold == 0 else folder.with_name(f"{folder.name}-fold{fold}")
        runs.append(str(run.resolve()))
        reporter = TrialReporter(trial, plan.monitor, intermediate=fold == 0)
        folds = {"folds": plan.cv, "fold": fold} if plan.cv > 1 else {}
        try:
            model = task(device=plan.device, verbose=max(plan.verbose - 1, 0), **plan.fixed,
                         **params, **folds)  # fmt: skip
            with _quiet_tasks(plan.verbose < 2):
                model.fit(data=plan.data, out=run, callbacks=[reporter])
        except UserError as error:
            return _failed(trial, study, str(error), params, start)
        except BaseException:  # Ctrl-C or a bug: failed, and not counted as finished
            study.tell(trial, state=TrialState.FAIL)
            raise
        summary = model.fit_result or {}
        if fold == 0:
            for key in ("epochs", "best_epoch", "stop_reason", "train_time_s"):
                trial.set_user_attr(key, summary.get(key))
        if str(summary.get("stop_reason")).startswith(PRUNED):
            trial.set_user_attr("time_s", round(time.monotonic() - start, 3))
            study.tell(trial, state=TrialState.PRUNED)
            _log_trial(trial, "pruned", start, plan.monitor, reporter.last, summary, params)
            return None
        if reporter.best is None:
            return _failed(trial, study, f"{plan.monitor} was never a finite number", params, start)
        values.append(reporter.best)
    value = sum(values) / len(values)
    if plan.cv > 1:
        trial.set_user_attr("fold_values", values)
        trial.set_user_attr("fold_runs", runs)
    trial.set_user_attr("time_s", round(time.monotonic() - start, 3))
    study.tell(trial, value)
    _log_trial(trial, "complete", start, plan.monitor, value, summary, params)
    return None


def _failed(
    trial: optuna.Trial, study: optuna.Study, error: str, params: dict[str, Any], start: float
) -> str:
    """Record ``trial`` as failed with ``error`` (its own fault: it counts as finished)."""
    trial.set_user_attr("error", error)
    trial.set_user_attr("time_s", round(time.monotonic() - start, 3))
    study.tell(trial, state=TrialState.FAIL)
    logger.info("trial %d failed: %s | %s", trial.number, error, _shown(params))
    return error


def _log_trial(trial, state: str, start: float, monitor: str, value, summary, params) -> None:
    logger.info(
        "trial %d %s in %.1f s: %s %.4g, epochs: %s | %s", trial.number, state,
        time.monotonic() - start, monitor, value, summary.get("epochs"), _shown(params),
    )  # fmt: skip


def worker_main(plan: TrialPlan, worker: int, lock: Any, running: Any, errors: Any) -> None:
    """The entry point of a worker process: ``work``, with its log lines on stderr, a user
    error sent back to the parent through ``errors`` and Ctrl-C ending it quietly."""
    logging.basicConfig(
        level=logging.INFO if plan.verbose else logging.WARNING,
        format="%(message)s",
        stream=sys.stderr,
    )
    try:
        work(plan, worker, lock, running)
    except UserError as error:
        errors.put(str(error))
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)


@contextlib.contextmanager
def _quiet_tasks(quiet: bool) -> Iterator[None]:
    """The task's own log lines (data read, vocabulary, epochs) at warning level only: a search
    logs one line per trial."""
    if not quiet:
        yield
        return
    loggers = [logging.getLogger(name) for name in QUIET_LOGGERS]
    levels = [one.level for one in loggers]
    for one in loggers:
        one.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for one, level in zip(loggers, levels):
            one.setLevel(level)


def _any_success(study: optuna.Study) -> bool:
    states = (TrialState.COMPLETE, TrialState.PRUNED)
    return bool(study.get_trials(deepcopy=False, states=states))


def _shown(params: dict[str, Any]) -> str:
    shown = (f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())
    return " ".join(shown)
