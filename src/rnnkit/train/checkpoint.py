"""Checkpoints: directories of safetensors, JSON and CSV, written atomically, loaded without
unpickling code.

A checkpoint directory holds

=====================  ===================================================================
``config.json``        the caller's config (task, model and data settings; the trainer adds
                       its ``TrainConfig`` under ``"train"``) plus ``checkpoint_format``,
                       ``rnnkit_version``, ``torch_version`` and the list of ``artifacts``
``model.safetensors``  the model's state dict
``<artifact>.json``    one per caller artifact: vocabulary, label encoder, ... (JSON values)
``metrics.json``       the metrics of these weights (optional)
``history.csv``        the per-epoch history up to these weights (optional)
``curves.png``         the training curves (optional)
``training_state.pt``  resume checkpoints only: optimizer, scheduler, trainer counters,
                       history and RNG states, saved with ``torch.save`` and read back with
                       ``torch.load(weights_only=True)`` (tensors, numbers, strings, lists,
                       dicts and None only)
=====================  ===================================================================

A training run's output folder holds ``best/`` and ``last/`` checkpoints (see ``Trainer``);
``load_checkpoint(run_dir)`` reads ``run_dir/best``.

Tied weights (an LM whose output layer shares the embedding matrix) appear twice in a state
dict with one storage, which safetensors refuses to write. ``save_checkpoint`` writes each
storage once and records the other names in the file's metadata (``rnnkit_aliases``);
``load_checkpoint`` puts the aliases back, so the state dict has the same keys as the model's
and ``model.load_state_dict(..., strict=True)`` works. Tensors that share storage without being
the same view (slices of one buffer) are cloned.

Writes go through ``replace_directory`` (``rnnkit.atomic``): a crash at any moment leaves
the old complete checkpoint or the new complete one.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import safetensors
import safetensors.torch
import torch
from torch import nn

from rnnkit import __version__
from rnnkit.atomic import replace_directory, resolve_directory
from rnnkit.errors import UserError
from rnnkit.train.history import History

__all__ = [
    "BEST",
    "CHECKPOINT_FORMAT",
    "LAST",
    "Checkpoint",
    "json_safe",
    "load_checkpoint",
    "load_model_state",
    "save_checkpoint",
]

CHECKPOINT_FORMAT = 1
BEST, LAST = "best", "last"
CONFIG_FILE = "config.json"
MODEL_FILE = "model.safetensors"
METRICS_FILE = "metrics.json"
HISTORY_FILE = "history.csv"
CURVES_FILE = "curves.png"
STATE_FILE = "training_state.pt"
_RESERVED = {"config", "metrics", "model", "history", "curves", "training_state"}
_ARTIFACT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_SAFE_ARTIFACT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}\Z")  # never "..", "/", "\\"


class Artifacts(dict):
    """A checkpoint's artifacts, name -> JSON value; a missing one is a ``UserError`` naming the
    checkpoint (its ``config.json`` lists the artifacts, and may have been edited)."""

    def __init__(self, values: Mapping[str, Any], where: Path) -> None:
        super().__init__(values)
        self.where = where

    def __missing__(self, name: str) -> Any:
        raise UserError(
            f"{self.where / CONFIG_FILE} lists no {name!r} artifact; expected {name}.json among "
            f"the artifacts of this task's checkpoints (have: {', '.join(self) or 'none'})"
        )


@dataclass
class Checkpoint:
    """What ``load_checkpoint`` returns."""

    path: Path
    config: dict[str, Any]
    state_dict: dict[str, torch.Tensor]
    artifacts: dict[str, Any]
    metrics: dict[str, Any] | None = None
    training_state: dict[str, Any] | None = None


def _json_bytes(obj: Any, what: str) -> bytes:
    try:
        text = json.dumps(obj, indent=2, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"{what} must be JSON-serialisable (finite numbers), got: {error}"
        ) from None
    return (text + "\n").encode("utf-8")


def _for_safetensors(state: Mapping[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Contiguous CPU tensors with every storage written once, and alias → saved name."""
    tensors: dict[str, torch.Tensor] = {}
    aliases: dict[str, str] = {}
    views: dict[tuple, str] = {}
    storages: set[tuple] = set()
    for name, value in state.items():
        if not isinstance(value, torch.Tensor):
            raise ValueError(
                f"state dict entry {name!r} must be a tensor, got {type(value).__name__}"
            )
        t = value.detach()
        ptr = t.untyped_storage().data_ptr() if t.numel() else 0
        if ptr:
            view = (t.device, ptr, t.storage_offset(), tuple(t.shape), t.stride(), t.dtype)
            if view in views:  # the same tensor under a second name: tied weights
                aliases[name] = views[view]
                continue
            views[view] = name
            if (t.device, ptr) in storages:
                t = t.clone()
            storages.add((t.device, ptr))
        tensors[name] = t.contiguous().cpu()
    return tensors, aliases


def save_checkpoint(
    directory: str | Path,
    model: nn.Module | Mapping[str, torch.Tensor],
    config: Mapping[str, Any],
    *,
    artifacts: Mapping[str, Any] | None = None,
    metrics: Mapping[str, Any] | None = None,
    history: History | None = None,
    curves_png: bytes | None = None,
    training_state: Mapping[str, Any] | None = None,
) -> Path:
    """Write a checkpoint directory atomically (the layout is in the module docstring).

    Args:
        directory: the checkpoint folder; replaced as a whole if it exists.
        model: a module (its ``state_dict()`` is saved) or a state dict.
        config: JSON-serialisable settings needed to rebuild the model.
        artifacts: name → JSON value, each written as ``<name>.json``.
        metrics, history, curves_png: optional reports written beside the weights.
        training_state: for resumable checkpoints; must hold only what
            ``torch.load(weights_only=True)`` accepts.
    """
    state = model.state_dict() if isinstance(model, nn.Module) else model
    tensors, aliases = _for_safetensors(state)
    metadata = {
        "format": "pt",
        "rnnkit_keys": json.dumps(list(state)),
        "rnnkit_aliases": json.dumps(aliases),
    }
    artifacts = dict(artifacts or {})
    for name in artifacts:
        if not _ARTIFACT_NAME.match(name) or name in _RESERVED:
            raise ValueError(
                f"artifact names must be file-name safe and not one of {sorted(_RESERVED)}, "
                f"got {name!r}"
            )
    header = {
        "checkpoint_format": CHECKPOINT_FORMAT,
        "rnnkit_version": __version__,
        "torch_version": torch.__version__,
        "artifacts": sorted(artifacts),
    }
    files = {
        CONFIG_FILE: _json_bytes(
            {**header, **{k: v for k, v in config.items() if k not in header}}, "config"
        )
    }
    for name, value in artifacts.items():
        files[f"{name}.json"] = _json_bytes(value, f"artifact {name!r}")
    if metrics is not None:
        files[METRICS_FILE] = _json_bytes(json_safe(metrics), "metrics")
    if history is not None:
        files[HISTORY_FILE] = history.to_csv().encode("utf-8")
    if curves_png is not None:
        files[CURVES_FILE] = curves_png

    def fill(tmp: Path) -> None:
        safetensors.torch.save_file(tensors, tmp / MODEL_FILE, metadata=metadata)
        for name, data in files.items():
            (tmp / name).write_bytes(data)
        if training_state is not None:
            torch.save(dict(training_state), tmp / STATE_FILE)

    return replace_directory(directory, fill)


def json_safe(value: Any) -> Any:
    """``value`` with NaN and infinities (which JSON lacks) replaced by None, recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def _corrupt(path: Path, what: str, error: Exception) -> UserError:
    detail = str(error).split(". ")[0][:200]
    return UserError(
        f"{path} could not be read as {what} ({type(error).__name__}: {detail}); "
        "the file is truncated or corrupt: restore it or train again"
    )


def _read_json(path: Path, what: str, required: bool = True) -> Any:
    if not path.is_file():
        if not required:
            return None
        raise UserError(f"{path} is missing; expected {what} in this checkpoint directory")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise _corrupt(path, f"{what} (JSON)", error) from None


def _read_model(path: Path, map_location: str | torch.device) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise UserError(f"{path} is missing; expected the model weights (safetensors)")
    try:
        with safetensors.safe_open(str(path), framework="pt", device=str(map_location)) as f:
            metadata = f.metadata() or {}
            tensors = {name: f.get_tensor(name) for name in f.keys()}  # noqa: SIM118
        keys = json.loads(metadata.get("rnnkit_keys", "null")) or list(tensors)
        aliases = json.loads(metadata.get("rnnkit_aliases", "{}"))
        return {name: tensors[aliases.get(name, name)] for name in keys}
    except Exception as error:  # safetensors raises its own error types for a bad file
        raise _corrupt(path, "model weights (safetensors)", error) from None


def _read_training_state(path: Path, map_location: str | torch.device) -> dict[str, Any]:
    if not path.is_file():
        raise UserError(
            f"{path} is missing; expected the optimizer and trainer state of a resumable "
            "checkpoint (a run's last/ folder)"
        )
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # a truncated zip, or content that is not weights-only
        raise _corrupt(path, "training state (torch.save, weights only)", error) from None
    if not isinstance(state, dict):
        raise UserError(f"{path} holds a {type(state).__name__}; expected a dict")
    return state


def _resolve(directory: str | Path) -> Path:
    path = Path(directory)
    if not (path / CONFIG_FILE).is_file():
        best = resolve_directory(path / BEST)
        path = best if (best / CONFIG_FILE).is_file() else resolve_directory(path)
    if not path.exists() and Path(directory).name == LAST and Path(directory).parent.is_dir():
        raise UserError(
            f"nothing to resume in {Path(directory).parent}: no epoch finished before it "
            "stopped; train again without resume"
        )
    if not path.exists():
        raise UserError(
            f"checkpoint directory {directory} does not exist; expected a training run's output "
            f"folder or a checkpoint folder holding {CONFIG_FILE} and {MODEL_FILE}"
        )
    if not path.is_dir():
        raise UserError(f"{directory} is a file; expected a checkpoint directory")
    return path


def load_checkpoint(
    directory: str | Path,
    *,
    map_location: str | torch.device = "cpu",
    training_state: bool = False,
) -> Checkpoint:
    """Read a checkpoint directory (or a run folder's ``best/``); never unpickles code.

    Any missing, truncated or corrupt file raises one ``UserError`` naming the file and what
    was expected. ``training_state=True`` also reads ``training_state.pt`` (for resuming).
    """
    path = _resolve(directory)
    config = _read_json(path / CONFIG_FILE, "the checkpoint's settings")
    if not isinstance(config, dict):
        raise UserError(f"{path / CONFIG_FILE} holds a {type(config).__name__}; expected an object")
    version = config.get("checkpoint_format", 0)
    if not isinstance(version, int) or isinstance(version, bool):
        raise UserError(
            f"{path / CONFIG_FILE}: checkpoint_format is {_short(version)}; expected an integer"
        )
    if version > CHECKPOINT_FORMAT:
        raise UserError(
            f"{path} was written by a newer rnnkit (checkpoint format "
            f"{version}); expected format {CHECKPOINT_FORMAT} or older: upgrade rnnkit"
        )
    names = _artifact_names(path, config.get("artifacts", []))
    state_dict = _read_model(path / MODEL_FILE, map_location)
    artifacts = {
        name: _read_json(path / f"{name}.json", f"the {name!r} artifact") for name in names
    }
    metrics = _read_json(path / METRICS_FILE, "metrics", required=False)
    state = _read_training_state(path / STATE_FILE, map_location) if training_state else None
    return Checkpoint(path, config, state_dict, Artifacts(artifacts, path), metrics, state)


def _short(value: Any, limit: int = 40) -> str:
    """A repr of untrusted content cut to ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _artifact_names(path: Path, names: Any) -> list[str]:
    """The ``artifacts`` of ``config.json``: plain file names whose files lie in ``path``.

    A checkpoint is untrusted input: a name such as ``../x`` or ``/etc/x`` would make every loader
    read a file outside the checkpoint folder.
    """
    where = path / CONFIG_FILE
    if not isinstance(names, list):
        raise UserError(
            f"{where}: artifacts is {type(names).__name__} {_short(names)}; expected a list of "
            "artifact names"
        )
    folder = path.resolve()
    for name in names:
        if not isinstance(name, str) or not _SAFE_ARTIFACT_NAME.match(name):
            raise UserError(
                f"{where}: artifacts entry {_short(name)} is not a plain name; expected names of "
                "letters, digits, '_' and '-' naming files in the checkpoint folder"
            )
        if (path / f"{name}.json").resolve().parent != folder:  # a link out of the folder
            raise UserError(
                f"{where}: artifact {name!r} is a link to a file outside {path}; expected the "
                "artifact files inside the checkpoint folder"
            )
    return names


def load_model_state(model: nn.Module, state_dict: Mapping[str, torch.Tensor]) -> None:
    """``model.load_state_dict(state_dict)`` with one clear UserError on a mismatch."""
    model_keys = set(model.state_dict())
    missing = sorted(model_keys - set(state_dict))
    unexpected = sorted(set(state_dict) - model_keys)
    if missing or unexpected:
        raise UserError(
            "the checkpoint does not match the model: "
            f"missing {missing[:5]}{' ...' if len(missing) > 5 else ''}, "
            f"unexpected {unexpected[:5]}{' ...' if len(unexpected) > 5 else ''}; "
            "expected weights written for the same model settings"
        )
    expected = model.state_dict()
    for name, tensor in state_dict.items():
        if tuple(tensor.shape) != tuple(expected[name].shape):
            raise UserError(
                f"the checkpoint's {name} has shape {tuple(tensor.shape)} but the model built "
                f"from its settings, vocabulary and labels expects {tuple(expected[name].shape)}; "
                "expected a checkpoint whose files were written together"
            )
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise UserError(
                f"the checkpoint's {name} holds NaN or infinite values; expected the weights of "
                "a finished epoch (resume or train again)"
            )
    model.load_state_dict(state_dict)
