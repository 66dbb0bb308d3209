"""The models a server holds: each run folder loaded once at start-up under a name."""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rnnkit.errors import UserError
from rnnkit.tasks import Task, load

__all__ = ["NAME_PATTERN", "ServedModel", "describe", "json_ready", "load_models"]

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"  # what a model's name in a URL may be


@dataclass
class ServedModel:
    """One loaded task object and the lock that lets one request at a time use it (a task's
    verbs keep state between steps, e.g. a language model's stepping backend)."""

    name: str
    task: Task
    lock: threading.Lock = field(default_factory=threading.Lock)

    def call(self, verb: str, *args: Any, **kwargs: Any) -> Any:
        """``task.verb(*args, **kwargs)`` under the model's lock (run it off the event loop)."""
        with self.lock:
            return getattr(self.task, verb)(*args, **kwargs)


def load_models(
    directories: Sequence[str | Path], named: Sequence[tuple[str, str | Path]] = (),
    *, device: str = "auto",
) -> dict[str, ServedModel]:  # fmt: skip
    """Name -> loaded model: each of ``directories`` under its run folder's name, and each
    ``(name, directory)`` of ``named`` under that name. A name twice, or one that cannot be
    part of a URL, is a UserError."""
    pairs = [(None, d) for d in directories] + [(n, d) for n, d in named]
    if not pairs:
        raise UserError("no model to serve; expected at least one run folder (rnnkit serve DIR)")
    models: dict[str, ServedModel] = {}
    for name, directory in pairs:
        task = load(directory, device=device)
        if name is None:
            name = task.run_dir.name if task.run_dir is not None else Path(directory).name
        if not re.match(NAME_PATTERN, name):
            raise UserError(
                f"{name!r} cannot name a model in a URL; expected letters, digits, '_', '.' or "
                "'-' (give one with --name NAME=DIR)"
            )
        if name in models:
            raise UserError(
                f"two models are named {name!r}; expected different names (--name NAME=DIR)"
            )
        models[name] = ServedModel(name, task)
    return models


def describe(model: ServedModel) -> dict[str, Any]:
    """What ``GET /v1/models`` says of a model: name, task, settings (without the training
    data's path on this machine) and the metrics saved with it."""
    task = model.task
    settings = {section: values.to_dict() for section, values in task.settings.items()}
    settings.get("data", {}).pop("source", None)
    checkpoint = task.checkpoint
    return json_ready({
        "name": model.name,
        "task": task.NAME,
        "settings": settings,
        "metrics": (checkpoint.metrics if checkpoint is not None else None) or {},
    })  # fmt: skip


def json_ready(value: Any) -> Any:
    """``value`` with every NaN or infinity (a diverged model's numbers) as null: strict JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(item) for item in value]
    return value
