"""``run``: a hyperparameter search over one task's settings, on Optuna.

    import rnnkit.search
    results = rnnkit.search.run(
        task="classify", data="gop-debate", space="space.toml",   # or a dict, as in the file
        sampler="tpe", trials=20, out="runs/search",
        epochs=3, max_length=40,                                  # fixed for every trial
    )
    results["best_params"], results["best_value"], results["trials"]

Each trial is a fit of the task object (``rnnkit.tasks``) with the fixed settings and the
trial's sampled ones, in its own run folder ``OUT/trials/NNNN``; the task's monitored validation
metric (``monitor``, e.g. val_accuracy, and its ``mode``) is reported to the study after every
epoch, where the pruner may stop the trial. The study lives in a storage (default: a SQLite file
``OUT/study.db``): workers of this machine and of others share it, and a search started again
with the same storage and study resumes it, running only the trials still missing.

At the end: ``OUT/best/`` (the best trial's run folder), ``OUT/best.toml`` and ``OUT/best.json``
(its settings, for ``rnnkit train TASK --config``), ``OUT/plots/*.png`` and ``OUT/results.json``
(what ``run`` returns, the ``--json`` of ``rnnkit search``).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import optuna
import torch

from rnnkit.atomic import atomic_write_json
from rnnkit.errors import UserError
from rnnkit.search.backends import default_storage, make_storage
from rnnkit.search.config import SearchConfig
from rnnkit.search.report import draw_plots, keep_best, trial_rows
from rnnkit.search.space import read_space
from rnnkit.search.worker import TrialPlan, count_finished, work, worker_main
from rnnkit.tasks import task_class
from rnnkit.tasks.base import log_to_stderr

__all__ = ["run"]

logger = logging.getLogger(__name__)

POLL_S = 1.0  # how often the parent of worker processes updates its progress bar
RECORD_DEFAULTS = {"cv": 1}  # what a study recorded before the key existed meant


def run(
    task: str,
    *,
    space: str | Path | Mapping[str, Any],
    out: str | Path,
    data: str | None = None,
    verbose: int = 1,
    **options: Any,
) -> dict[str, Any]:
    """Search ``task``'s settings over ``space`` and return the results (see the module
    docstring). ``options`` are the search's settings (``SearchConfig``: sampler, trials,
    timeout, pruner, startup_trials, storage, study, workers, threads, device, plots) and the
    task's settings fixed for every trial (epochs, max_length, ...)."""
    cls = task_class(task)
    if data is None:
        raise UserError(f"expected data (a dataset name or a path) for the {task} trials")
    names = SearchConfig.names()
    config = SearchConfig.from_dict({k: v for k, v in options.items() if k in names})
    fixed = {k: v for k, v in options.items() if k not in names}
    cls(device=config.device, **fixed)  # unknown settings, wrong types: said now
    train = cls.resolve_settings(fixed)["train"]
    parsed = read_space(space, cls, fixed=fixed, sampler=config.sampler)
    if config.cv > 1:
        _check_folds(cls, fixed, parsed.spec(), config.cv)
    target = config.trials
    if config.sampler == "grid" and parsed.grid_size() < target:
        target = parsed.grid_size()
        logger.info("grid: %d combinations, so %d trials", target, target)
    out = Path(out)
    storage = config.storage or default_storage(out)
    _claim_folder(out, storage, config.study)
    direction = "maximize" if train.mode == "max" else "minimize"
    record = {
        "task": task, "data": data, "fixed": fixed, "space": parsed.spec(),
        "sampler": config.sampler, "monitor": train.monitor, "direction": direction,
        "cv": config.cv,
    }  # fmt: skip
    study = _open_study(storage, config.study, record)
    finished = count_finished(study)
    if finished:
        logger.info("resuming study %r: %d of %d trials finished", config.study, finished, target)
    threads = config.threads
    if config.workers > 1:
        threads = max(1, (threads or torch.get_num_threads()) // config.workers)
    plan = TrialPlan(
        task=task, data=data, fixed=fixed, space=parsed.spec(), sampler=config.sampler,
        pruner=config.pruner, startup_trials=config.startup_trials, epochs=train.epochs,
        storage=storage, study=config.study, out=str(out), monitor=train.monitor, target=target,
        cv=config.cv, seed=train.seed, threads=threads, device=config.device, verbose=verbose,
        deadline=None if config.timeout is None else time.time() + 60 * config.timeout,
    )  # fmt: skip
    with log_to_stderr(verbose):
        _run_workers(plan, config.workers, verbose)
        study = optuna.load_study(study_name=config.study, storage=make_storage(storage))
        return _results(study, plan, config, direction, out)


def _check_folds(cls: type, fixed: Mapping[str, Any], space: Mapping[str, Any], cv: int) -> None:
    """Cross-validation needs a task that cuts its validation split into folds, and the folds
    left to the search."""
    names = set(cls.setting_names())
    if not {"folds", "fold"} <= names:
        raise UserError(
            f"cv={cv} trains every trial on {cv} folds of the training data; the "
            f"{cls.NAME} task has no folds setting (the text classifier has); expected cv=1"
        )
    given = sorted({"folds", "fold"} & (set(fixed) | set(space)))
    if given:
        raise UserError(
            f"cv={cv} sets folds and fold for every trial; expected no {' or '.join(given)} "
            "among the fixed or searched settings"
        )


def _claim_folder(out: Path, storage: str, study: str) -> None:
    """``out`` holds the trial folders of one study: ``OUT/search.json`` names it."""
    marker = out / "search.json"
    claim = {"storage": storage, "study": study}
    if marker.exists():
        try:
            held = json.loads(marker.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            held = None
        if held != claim:
            raise UserError(
                f"{out} holds the trials of another search ({marker}: {held}); expected the "
                f"same --storage and --study to resume it, or another --out"
            )
        return
    if out.exists() and not out.is_dir():
        raise UserError(f"{out} is a file; expected a folder for the search")
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(marker, claim)


def _open_study(storage: str, name: str, record: dict[str, Any]) -> optuna.Study:
    """The study ``name`` in ``storage``, created with ``record`` (what it searches) or, when it
    exists, checked to search the same."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        storage=make_storage(storage),
        study_name=name,
        direction=record["direction"],
        load_if_exists=True,
    )
    record = json.loads(json.dumps(record))  # as stored: tuples become lists
    held = study.user_attrs.get("rnnkit")
    if held is None:
        study.set_user_attr("rnnkit", record)
        return study
    for key, value in record.items():
        if held.get(key, RECORD_DEFAULTS.get(key)) != value:  # studies made before a key
            raise UserError(
                f"study {name!r} in {storage} was made with {key} {held.get(key)!r}, got "
                f"{value!r}; expected the same task, data, space, sampler, cv and fixed settings "
                "to resume it, or another --study"
            )
    return study


def _run_workers(plan: TrialPlan, workers: int, verbose: int) -> None:
    """``workers`` workers: this process for one, else processes of their own."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    lock, running = context.Lock(), context.Value("i", 0)
    if workers == 1:
        threads = torch.get_num_threads()
        try:
            work(plan, 0, lock, running, progress=True)
        finally:
            torch.set_num_threads(threads)
        return
    errors = context.Queue()
    processes = [
        context.Process(
            target=worker_main, args=(plan, i, lock, running, errors), name=f"rnnkit-search-{i}"
        )
        for i in range(workers)
    ]
    for process in processes:
        process.start()
    logger.info("search: %d worker processes, %s torch threads each", workers, plan.threads)
    try:
        while any(process.is_alive() for process in processes):
            time.sleep(POLL_S)
    finally:  # on Ctrl-C the workers (same process group) stop on their own
        for process in processes:
            process.join()
    messages = []
    while not errors.empty():
        messages.append(errors.get())
    if messages:
        raise UserError(messages[0])
    failed = [p.exitcode for p in processes if p.exitcode != 0]
    if failed:
        raise UserError(f"{len(failed)} worker process(es) ended with status {failed[0]}")


def _results(
    study: optuna.Study, plan: TrialPlan, config: SearchConfig, direction: str, out: Path
) -> dict[str, Any]:
    rows = trial_rows(study, maximize=direction == "maximize")
    counts = {state: sum(r["state"] == state for r in rows) for state in ("complete", "pruned")}
    failed = [r for r in rows if r["state"] == "fail" and "error" in r]
    if not counts["complete"]:
        first = f"; the first error: {failed[0]['error']}" if failed else ""
        raise UserError(
            f"no trial of study {plan.study!r} completed ({counts['pruned']} pruned, "
            f"{len(failed)} failed){first}"
        )
    best = study.best_trial
    data = f" --data {plan.data}" if plan.data else ""
    comment = (
        f"the best of study {plan.study!r}: trial {best.number}, {plan.monitor} {best.value:.6g}\n"
        f"retrain: rnnkit train {plan.task} --config {out / 'best.toml'}{data} --out DIR"
    )
    results: dict[str, Any] = {
        "out": str(out),
        "task": plan.task,
        "data": plan.data,
        "study": plan.study,
        "storage": plan.storage,
        "sampler": config.sampler,
        "pruner": config.pruner,
        "metric": plan.monitor,
        "direction": direction,
        "n_trials": count_finished(study),
        "n_complete": counts["complete"],
        "n_pruned": counts["pruned"],
        "n_failed": len(failed),
        "best_trial": best.number,
        "best_value": best.value,
        "best_params": dict(best.params),
        **keep_best(study, out, plan.fixed, comment),
        "plots": draw_plots(study, out / "plots", plan.monitor) if config.plots else [],
        "trials": rows,
    }
    atomic_write_json(out / "results.json", results)
    return results
