"""``TrainConfig``: every setting of the training loop, as one plain dataclass.

A config is built in code (``TrainConfig(lr=0.01)``), from a JSON-like dict
(``TrainConfig.from_dict(d)``, used for command-line overrides and for ``config.json``), and
written back with ``to_dict()``. An unknown key, a value of the wrong type or a value out of range
raises ``UserError`` with "expected X, got Y" wording, so a typo never silently trains with a
default.

Regularisation has two distinct knobs, on purpose:

* ``weight_decay`` is the optimizer's own decay (added to the gradient of *every* parameter by
  SGD/Adam/..., decoupled from the gradient by AdamW) and is invisible in the reported loss;
* ``l1`` and ``l2`` add the explicit penalty ``l1 * sum|w| + l2 * sum w**2`` over the weight
  matrices (parameters with two or more dimensions: not biases or norm gains) to the training
  loss, as the textbooks and Keras' ``regularizers.L1L2`` define it; the gradient it adds is
  ``l1 * sign(w) + 2 * l2 * w`` whatever the optimizer.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rnnkit.errors import UserError
from rnnkit.train.optimizers import OPTIMIZERS
from rnnkit.train.schedules import SCHEDULES

__all__ = ["PRECISIONS", "TrainConfig"]

PRECISIONS = ("fp32", "bf16", "auto")


@dataclass
class TrainConfig:
    """Settings of ``Trainer``; see the module docstring for L1/L2 versus ``weight_decay``.

    Args:
        epochs: number of passes over the training batches.
        optimizer: a name in ``rnnkit.train.optimizers.OPTIMIZERS`` (sgd, rmsprop, adagrad,
            adadelta, adam, adamax, nadam, adamw).
        lr: learning rate.
        weight_decay: the optimizer's weight decay.
        momentum: momentum of sgd and rmsprop.
        nesterov: Nesterov momentum (sgd only, needs ``momentum > 0``).
        betas: (beta1, beta2) of the Adam family.
        eps: the epsilon of the adaptive optimizers.
        clip_norm: rescale the gradients so that their global L2 norm is at most this (None: off).
            Five is the char-RNN literature's default.
        clip_value: clamp every gradient element to ``[-clip_value, clip_value]`` (None: off);
            applied before ``clip_norm`` when both are set.
        l1, l2: explicit penalty weights on the weight matrices (see the module docstring).
        lr_schedule: a name in ``rnnkit.train.schedules.SCHEDULES`` (none, step, exponential,
            cosine, linear, plateau); stepped once per epoch.
        lr_step_size: epochs between decays of the "step" schedule.
        lr_gamma: decay factor of "step" (default 0.1), "exponential" (default 0.95) and
            "plateau" (default 0.1); None picks the schedule's default.
        lr_min: the floor of "cosine", "linear" and "plateau".
        lr_patience: epochs without improvement before "plateau" decays the rate.
        warmup_steps: ramp the rate linearly from ``lr / warmup_steps`` to the scheduled rate
            over the first optimizer steps (0: off).
        monitor: the history column that selects the best checkpoint and drives early stopping
            and "plateau", e.g. ``val_loss`` or ``val_accuracy``.
        mode: "min" or "max": whether a lower or a higher ``monitor`` is better.
        patience: stop after this many epochs without improvement of ``monitor`` (None: never).
        min_delta: the smallest change of ``monitor`` that counts as an improvement.
        max_time_minutes: wall-clock budget of one ``fit`` call; when spent, training stops after
            the current batch, evaluates and saves (None: no budget).
        seed: seeds Python, NumPy and torch at the start of a fresh run (None: leave them as is).
        log_every: log the running loss every this many batches (0: only once per epoch).
        progress: tqdm progress bars on stderr; None shows them only when stderr is a terminal.
        plot: draw ``curves.png`` (needs matplotlib).
        precision: "fp32", or "bf16" to run forward passes and losses under
            ``torch.autocast`` with bfloat16 (weights, gradients and optimizer stay fp32): on CPUs
            with AVX-512 bf16 or AMX, and recent GPUs, the matrix products run about twice as fast;
            "auto" is bf16 where the device has such hardware, fp32 elsewhere.
    """

    epochs: int = 10
    optimizer: str = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    momentum: float = 0.0
    nesterov: bool = False
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    clip_norm: float | None = 5.0
    clip_value: float | None = None
    l1: float = 0.0
    l2: float = 0.0
    lr_schedule: str = "none"
    lr_step_size: int = 10
    lr_gamma: float | None = None
    lr_min: float = 0.0
    lr_patience: int = 2
    warmup_steps: int = 0
    monitor: str = "val_loss"
    mode: str = "min"
    patience: int | None = None
    min_delta: float = 0.0
    max_time_minutes: float | None = None
    seed: int | None = 0
    log_every: int = 0
    progress: bool | None = None
    plot: bool = True
    precision: str = "fp32"

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for field in dataclasses.fields(self):
            value = _coerce(field.name, getattr(self, field.name), hints[field.name])
            setattr(self, field.name, value)
        self._check_values()

    def _check_values(self) -> None:
        _check(self.epochs >= 1, "epochs must be at least 1", self.epochs)
        _check(self.lr > 0, "lr must be positive", self.lr)
        _check(self.weight_decay >= 0, "weight_decay must be >= 0", self.weight_decay)
        _check(self.momentum >= 0, "momentum must be >= 0", self.momentum)
        _check(all(0 <= b < 1 for b in self.betas), "betas must lie in [0, 1)", self.betas)
        _check(self.eps > 0, "eps must be positive", self.eps)
        for name in ("clip_norm", "clip_value", "max_time_minutes", "lr_gamma"):
            value = getattr(self, name)
            _check(value is None or value > 0, f"{name} must be positive or null", value)
        for name in ("l1", "l2", "lr_min", "min_delta"):
            _check(getattr(self, name) >= 0, f"{name} must be >= 0", getattr(self, name))
        _check(self.lr_step_size >= 1, "lr_step_size must be at least 1", self.lr_step_size)
        _check(self.lr_patience >= 0, "lr_patience must be >= 0", self.lr_patience)
        _check(self.warmup_steps >= 0, "warmup_steps must be >= 0", self.warmup_steps)
        _check(self.log_every >= 0, "log_every must be >= 0", self.log_every)
        _check(
            self.patience is None or self.patience >= 1,
            "patience must be at least 1 or null",
            self.patience,
        )
        _check_choice("optimizer", self.optimizer, OPTIMIZERS)
        _check_choice("lr_schedule", self.lr_schedule, SCHEDULES)
        _check_choice("mode", self.mode, ("min", "max"))
        _check_choice("precision", self.precision, PRECISIONS)
        _check(bool(self.monitor), "monitor must name a history column", self.monitor)
        if self.nesterov and (self.optimizer != "sgd" or self.momentum <= 0):
            raise UserError(
                "nesterov needs optimizer='sgd' and momentum > 0, "
                f"got optimizer={self.optimizer!r}, momentum={self.momentum}"
            )

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> TrainConfig:
        """Build a config from a JSON-like dict; unknown keys and wrong types raise UserError."""
        if not isinstance(values, Mapping):
            raise UserError(f"training settings must be a mapping, got {type(values).__name__}")
        known = [field.name for field in dataclasses.fields(cls)]
        unknown = [key for key in values if key not in known]
        if unknown:
            key = unknown[0]
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise UserError(
                f"unknown training setting {key!r}{hint}; expected one of: {', '.join(known)}"
            )
        return cls(**dict(values))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (tuples become lists) that ``from_dict`` reads back."""
        out = dataclasses.asdict(self)
        out["betas"] = list(self.betas)
        return out

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with some settings changed, checked like a new config."""
        return TrainConfig.from_dict({**self.to_dict(), **changes})


def _check(ok: bool, message: str, value: Any) -> None:
    if not ok:
        raise UserError(f"{message}, got {value!r}")


def _check_choice(name: str, value: str, choices: Any) -> None:
    if value not in choices:
        raise UserError(f"{name} must be one of {', '.join(choices)}; got {value!r}")


def _type_name(annotation: Any) -> str:
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "").replace("NoneType", "None")


def _coerce(name: str, value: Any, annotation: Any) -> Any:
    """Check ``value`` against a field annotation; ints are accepted (and converted) for floats.

    Handles the annotations TrainConfig uses: bool, int, float, str, ``X | None`` and
    ``tuple[float, float]``. A bool is never accepted as a number.
    """
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(annotation)
        if value is None and type(None) in args:
            return None
        inner = [arg for arg in args if arg is not type(None)]
        if len(inner) == 1:
            try:
                return _coerce(name, value, inner[0])
            except UserError:
                pass
        raise _type_error(name, annotation, value)
    if origin is tuple:
        args = typing.get_args(annotation)
        if not isinstance(value, (list, tuple)) or len(value) != len(args):
            raise _type_error(name, annotation, value)
        return tuple(_coerce(name, item, arg) for item, arg in zip(value, args, strict=True))
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _type_error(name, annotation, value)
        return float(value)
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _type_error(name, annotation, value)
        return value
    if annotation in (bool, str):
        if not isinstance(value, annotation):
            raise _type_error(name, annotation, value)
        return value
    raise TypeError(f"TrainConfig field {name!r} has an unsupported annotation {annotation!r}")


def _type_error(name: str, annotation: Any, value: Any) -> UserError:
    return UserError(
        f"training setting {name!r} expected {_type_name(annotation)}, "
        f"got {type(value).__name__} {value!r}"
    )
