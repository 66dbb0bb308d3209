"""The tasks: one package per task, each a ``Task`` subclass (``rnnkit.tasks.base``) with its
settings, the steps of the shared fit skeleton, and its verbs (predict, evaluate, generate, ...).

``TASKS`` maps a task name (as in ``rnnkit train NAME`` and a checkpoint's ``config.json``) to
the module and class implementing it. Front ends (the CLI, a server, an estimator, a search)
call these objects; they never re-implement a task. See docs/architecture.md for the contract a
new task implements.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from rnnkit.errors import UserError
from rnnkit.tasks.base import Task
from rnnkit.train import load_checkpoint

__all__ = ["TASKS", "Task", "load", "task_class"]

# task name -> (module, class)
TASKS: dict[str, tuple[str, str]] = {
    "classify": ("rnnkit.tasks.classify", "TextClassifier"),
    "lm": ("rnnkit.tasks.lm", "LanguageModel"),
    "translate": ("rnnkit.tasks.translate", "Translator"),
    "forecast": ("rnnkit.tasks.forecast", "Forecaster"),
    "caption": ("rnnkit.tasks.caption", "ImageCaptioner"),
    "speech": ("rnnkit.tasks.speech", "SpeechClassifier"),
    "speech-ctc": ("rnnkit.tasks.speech", "SpeechRecognizer"),
    "music": ("rnnkit.tasks.music", "MusicModel"),
    "regress": ("rnnkit.tasks.regress", "SequenceRegressor"),
}


def task_class(name: str) -> type[Task]:
    """The class implementing task ``name``."""
    if name not in TASKS:
        raise UserError(f"unknown task {name!r}; expected one of: {', '.join(sorted(TASKS))}")
    module, cls = TASKS[name]
    return getattr(importlib.import_module(module), cls)


def load(directory: str | Path, *, device: str = "auto") -> Task:
    """The trained model in ``directory`` (a run folder or a checkpoint in it) as its task's
    object, model loaded and kept: ``rnnkit.load("runs/imdb").predict(["..."])``."""
    checkpoint = load_checkpoint(directory)
    name = checkpoint.config.get("task")
    if not isinstance(name, str):
        raise UserError(f"{checkpoint.path}/config.json names no task; expected a 'task' key")
    return task_class(name).from_checkpoint(checkpoint, device=device)
