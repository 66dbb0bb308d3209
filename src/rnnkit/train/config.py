"""``TrainConfig``: every setting of the training loop, as one plain dataclass.

A config is built in code (``TrainConfig(lr=0.01)``), from a JSON-like dict
(``TrainConfig.from_dict(d)``, used for ``config.json``), from command-line options generated from
its fields, and written back with ``to_dict()``. An unknown key, a value of the wrong type or a
value out of range raises ``UserError`` with "expected X, got Y" wording (see
:mod:`rnnkit.settings`), so a typo never silently trains with a default.

Regularisation has two distinct knobs, on purpose:

* ``weight_decay`` is the optimizer's own decay (added to the gradient of *every* parameter by
  SGD/Adam/..., decoupled from the gradient by AdamW) and is invisible in the reported loss;
* ``l1`` and ``l2`` add the explicit penalty ``l1 * sum|w| + l2 * sum w**2`` over the weight
  matrices (parameters with two or more dimensions: not biases or norm gains) to the training
  loss, as the textbooks and Keras' ``regularizers.L1L2`` define it; the gradient it adds is
  ``l1 * sign(w) + 2 * l2 * w`` whatever the optimizer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from rnnkit.errors import UserError
from rnnkit.settings import Settings, check_setting
from rnnkit.train.monitor import better_direction
from rnnkit.train.optimizers import OPTIMIZERS
from rnnkit.train.schedules import SCHEDULES

__all__ = ["PRECISIONS", "TrainConfig"]

PRECISIONS = ("fp32", "bf16", "auto")
LOGGERS = ("none", "tensorboard")


@dataclass
class TrainConfig(Settings):
    """Settings of ``Trainer``; see the module docstring for L1/L2 versus ``weight_decay``.

    Args:
        epochs: number of passes over the training batches.
        optimizer: the optimizer, by name (``rnnkit.train.optimizers.OPTIMIZERS``).
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
        lr_schedule: the learning-rate schedule, by name (``rnnkit.train.schedules.SCHEDULES``),
            stepped once per epoch.
        lr_step_size: epochs between decays of the "step" schedule.
        lr_gamma: decay factor of "step" (default 0.1), "exponential" (default 0.95) and
            "plateau" (default 0.1); None picks the schedule's default.
        lr_min: the floor of "cosine", "linear" and "plateau".
        lr_patience: epochs without improvement before "plateau" decays the rate.
        lr_decay_per_layer: discriminative learning rates (ULMFiT, 2.6 there): with a model that
            lists its layer groups (the text classifier: embedding, each recurrent layer, the
            output; the captioner: encoder, decoder), group g of G from the bottom learns at
            ``lr / lr_decay_per_layer**(G-1-g)``; 1: one rate for all.
        warmup_steps: ramp the rate linearly from ``lr / warmup_steps`` to the scheduled rate
            over the first optimizer steps (0: off).
        monitor: the history column that selects the best checkpoint and drives early stopping
            and "plateau", e.g. ``val_loss`` or ``val_accuracy``.
        mode: "min" or "max": whether a lower or a higher ``monitor`` is better (when not
            given: the direction of the monitor's metric, min for val_loss, max for
            val_accuracy, else min).
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
        log: where the history also goes: "none" (history.csv and curves.png only) or
            "tensorboard" (scalars in the run folder's tensorboard/; needs tensorboard).
        dist_backend: the process group's backend when torchrun starts several processes
            (``rnnkit.train.distributed``): "auto" (NCCL on CUDA GPUs, gloo on CPUs), "gloo" or
            "nccl".
        dist_timeout_s: how long, in seconds, a process waits for the others to join and in
            each collective before the job ends with an error instead of hanging.
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
    lr_decay_per_layer: float = 1.0
    warmup_steps: int = 0
    monitor: str = "val_loss"
    mode: str | None = None
    patience: int | None = None
    min_delta: float = 0.0
    max_time_minutes: float | None = None
    seed: int | None = 0
    log_every: int = 0
    progress: bool | None = None
    plot: bool = True
    precision: str = "fp32"
    log: str = "none"
    dist_backend: str = "auto"
    dist_timeout_s: float = 300.0

    KIND: ClassVar[str] = "training setting"
    CHOICES: ClassVar[dict[str, Any]] = {
        "optimizer": OPTIMIZERS,
        "lr_schedule": SCHEDULES,
        "mode": ("min", "max"),
        "precision": PRECISIONS,
        "log": LOGGERS,
        "dist_backend": ("auto", "gloo", "nccl"),
    }
    RANGES: ClassVar[dict[str, str]] = {
        "epochs": "[1, inf)",
        "lr": "(0, inf)",
        "weight_decay": "[0, inf)",
        "momentum": "[0, inf)",
        "betas": "[0, 1)",
        "eps": "(0, inf)",
        "clip_norm": "(0, inf)",
        "clip_value": "(0, inf)",
        "max_time_minutes": "(0, inf)",
        "lr_gamma": "(0, inf)",
        "lr_decay_per_layer": "(0, inf)",
        "l1": "[0, inf)",
        "l2": "[0, inf)",
        "lr_min": "[0, inf)",
        "min_delta": "[0, inf)",
        "lr_step_size": "[1, inf)",
        "lr_patience": "[0, inf)",
        "warmup_steps": "[0, inf)",
        "log_every": "[0, inf)",
        "patience": "[1, inf)",
        "seed": "[0, inf)",
        "dist_timeout_s": "(0, inf)",
    }

    def __post_init__(self) -> None:
        if self.mode is None:
            self.mode = better_direction(str(self.monitor)) or "min"
        super().__post_init__()

    def check(self) -> None:
        check_setting(bool(self.monitor), "monitor must name a history column", self.monitor)
        if self.nesterov and (self.optimizer != "sgd" or self.momentum <= 0):
            raise UserError(
                "nesterov needs optimizer='sgd' and momentum > 0, "
                f"got optimizer={self.optimizer!r}, momentum={self.momentum}"
            )
