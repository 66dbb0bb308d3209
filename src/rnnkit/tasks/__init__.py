"""End-to-end jobs: each task binds data, model, loss, metrics, defaults and prediction output.

``TASKS`` maps a task name (as in ``rnnkit train NAME`` and a checkpoint's ``config.json``) to
the module implementing it. A task module provides:

- ``DESCRIPTION``: the ``rnnkit train NAME --help`` text;
- ``add_train_arguments(parser)`` and ``train(args) -> dict``;
- ``evaluate(checkpoint_dir, args) -> dict`` and ``predict(checkpoint_dir, texts, args) -> dict``.

Front ends (the CLI, a server, an estimator) call these; they never re-implement a task.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

from rnnkit.errors import UserError

__all__ = ["TASKS", "load_task", "task_of_checkpoint"]

TASKS: dict[str, str] = {
    "classify": "rnnkit.tasks.classify",
    "lm": "rnnkit.tasks.language_model",
    "translate": "rnnkit.tasks.translate",
}


def load_task(name: str) -> ModuleType:
    """The module implementing task ``name``."""
    if name not in TASKS:
        raise UserError(f"unknown task {name!r}; expected one of: {', '.join(sorted(TASKS))}")
    return importlib.import_module(TASKS[name])


def task_of_checkpoint(directory: str | Path) -> tuple[ModuleType, object]:
    """Load the checkpoint in ``directory`` and return (its task's module, the checkpoint)."""
    from rnnkit.train import load_checkpoint

    checkpoint = load_checkpoint(directory)
    name = checkpoint.config.get("task")
    if name is None:
        raise UserError(f"{checkpoint.path}/config.json names no task; expected a 'task' key")
    return load_task(name), checkpoint
