"""Learning-rate schedules by name, stepped once per epoch (an explicit registry).

=============  ============================================================================
name           learning rate after epoch ``e`` (``lr`` is ``TrainConfig.lr``)
=============  ============================================================================
none           constant ``lr``
step           ``lr * lr_gamma ** (e // lr_step_size)``  (lr_gamma defaults to 0.1)
exponential    ``lr * lr_gamma ** e``  (lr_gamma defaults to 0.95)
cosine         cosine annealing from ``lr`` to ``lr_min`` over ``epochs``
linear         straight line from ``lr`` to ``lr_min`` over ``epochs``
plateau        times ``lr_gamma`` (default 0.1) when ``monitor`` has not improved for
               ``lr_patience`` epochs, never below ``lr_min``
=============  ============================================================================

A per-step linear warm-up (``warmup_steps``) is applied by the trainer on top of any of these; it
scales the rate only while the optimizer steps, so the schedules above never see it.

Slanted triangular learning rates (Howard & Ruder 2018, eq. 3) change the rate every step ``t``
of ``T`` (all the run's steps), rising for the first ``cut_frac`` of them and then falling::

    cut = floor(T · cut_frac)
    p_t = t / cut                                   if t < cut
          1 - (t - cut) / (cut · (1/cut_frac - 1))  otherwise
    η_t = η_max · (1 + p_t · (ratio - 1)) / ratio

``SlantedTriangularLR`` is a callback that sets each param group's rate before every step from
``trainer.global_step`` (so a resumed run continues on the same curve); ``η_max`` is the group's
``base_lr`` (discriminative rates, see ``rnnkit.train.optimizers``) or ``TrainConfig.lr``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
from torch.optim import lr_scheduler

from rnnkit.errors import UserError
from rnnkit.train.callbacks import Callback

if TYPE_CHECKING:
    from rnnkit.train.config import TrainConfig

__all__ = [
    "SCHEDULES",
    "SlantedTriangularLR",
    "build_scheduler",
    "slanted_triangular",
    "step_scheduler",
]

Scheduler = Any  # an LRScheduler or a ReduceLROnPlateau: both have step/state_dict/load_state_dict


def _none(optimizer: torch.optim.Optimizer, c: TrainConfig) -> Scheduler:
    return None


def _step(optimizer: torch.optim.Optimizer, c: TrainConfig) -> Scheduler:
    gamma = 0.1 if c.lr_gamma is None else c.lr_gamma
    return lr_scheduler.StepLR(optimizer, step_size=c.lr_step_size, gamma=gamma)


def _exponential(optimizer: torch.optim.Optimizer, c: TrainConfig) -> Scheduler:
    return lr_scheduler.ExponentialLR(optimizer, gamma=0.95 if c.lr_gamma is None else c.lr_gamma)


def _cosine(optimizer: torch.optim.Optimizer, c: TrainConfig) -> Scheduler:
    return lr_scheduler.CosineAnnealingLR(optimizer, T_max=c.epochs, eta_min=c.lr_min)


def _linear(optimizer: torch.optim.Optimizer, c: TrainConfig) -> Scheduler:
    if c.lr_min > c.lr:
        raise UserError(f"lr_min must not exceed lr for 'linear', got {c.lr_min} > {c.lr}")
    return lr_scheduler.LinearLR(
        optimizer, start_factor=1.0, end_factor=c.lr_min / c.lr, total_iters=c.epochs
    )


def _plateau(optimizer: torch.optim.Optimizer, c: TrainConfig) -> Scheduler:
    return lr_scheduler.ReduceLROnPlateau(
        optimizer,
        mode=c.mode,
        factor=0.1 if c.lr_gamma is None else c.lr_gamma,
        patience=c.lr_patience,
        threshold=c.min_delta,
        threshold_mode="abs",
        min_lr=c.lr_min,
    )


# name -> builder(optimizer, config) -> scheduler or None
SCHEDULES: dict[str, Callable[[torch.optim.Optimizer, TrainConfig], Scheduler]] = {
    "none": _none,
    "step": _step,
    "exponential": _exponential,
    "cosine": _cosine,
    "linear": _linear,
    "plateau": _plateau,
}


def build_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig) -> Scheduler:
    """The schedule ``config.lr_schedule`` names, or None for "none"."""
    try:
        builder = SCHEDULES[config.lr_schedule]
    except KeyError:
        raise UserError(
            f"unknown lr_schedule {config.lr_schedule!r}; expected one of: {', '.join(SCHEDULES)}"
        ) from None
    return builder(optimizer, config)


def step_scheduler(scheduler: Scheduler, monitored: float) -> None:
    """Advance ``scheduler`` by one epoch; "plateau" also gets the monitored metric."""
    if scheduler is None:
        return
    if isinstance(scheduler, lr_scheduler.ReduceLROnPlateau):
        scheduler.step(monitored)
    else:
        scheduler.step()


def slanted_triangular(step: int, total: int, cut_frac: float = 0.1, ratio: float = 32.0) -> float:
    """The slanted-triangular factor ``η_t / η_max`` at ``step`` of ``total`` (module docstring);
    steps past ``total`` keep the last value."""
    if total < 1 or not 0 < cut_frac < 1 or ratio < 1:
        raise ValueError(
            f"expected total >= 1, 0 < cut_frac < 1 and ratio >= 1, got {total}, {cut_frac}, "
            f"{ratio}"
        )
    t = min(step, total)
    cut = max(1, math.floor(total * cut_frac))
    if t < cut:
        p = t / cut
    else:
        p = max(0.0, 1 - (t - cut) / (cut * (1 / cut_frac - 1)))
    return (1 + p * (ratio - 1)) / ratio


class SlantedTriangularLR(Callback):
    """Set every param group's rate to ``η_max · slanted_triangular(step, total_steps, ...)``
    before each optimizer step (see the module docstring)."""

    def __init__(self, total_steps: int, cut_frac: float = 0.1, ratio: float = 32.0) -> None:
        slanted_triangular(0, total_steps, cut_frac, ratio)  # checks the arguments
        self.total_steps = total_steps
        self.cut_frac = cut_frac
        self.ratio = ratio

    def _apply(self, trainer) -> None:
        factor = slanted_triangular(
            trainer.global_step, self.total_steps, self.cut_frac, self.ratio
        )
        for group in trainer.optimizer.param_groups:
            group["lr"] = group.get("base_lr", trainer.config.lr) * factor

    def on_fit_start(self, trainer) -> None:
        self._apply(trainer)

    def on_batch_end(self, trainer, epoch, batch_index, loss, stats) -> None:
        self._apply(trainer)
