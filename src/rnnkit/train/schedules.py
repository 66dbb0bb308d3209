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
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
from torch.optim import lr_scheduler

from rnnkit.errors import UserError

if TYPE_CHECKING:
    from rnnkit.train.config import TrainConfig

__all__ = ["SCHEDULES", "build_scheduler", "step_scheduler"]

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
