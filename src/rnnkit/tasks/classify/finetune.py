"""ULMFiT's fine-tuning schedule for a classifier (Howard & Ruder 2018) as training callbacks.

- Gradual unfreezing: with G layer groups (``model.layer_groups()``, bottom to top), epoch e
  trains the top ``min(e, G)`` groups and freezes the rest (``requires_grad=False``: no
  gradient, so the optimizer skips them). Parameters frozen before training (a frozen
  embedding) stay frozen.
- Slanted triangular learning rates: ``rnnkit.train.schedules.SlantedTriangularLR`` over all the
  run's steps.
- Discriminative learning rates come from the optimizer (``TrainConfig.lr_decay_per_layer``).
"""

from __future__ import annotations

import logging
from typing import Any

from rnnkit.errors import UserError
from rnnkit.tasks.classify.transfer import TransferSettings
from rnnkit.train import Callback, TrainConfig
from rnnkit.train.schedules import SlantedTriangularLR

__all__ = ["GradualUnfreezing", "fine_tuning_callbacks"]

logger = logging.getLogger(__name__)


class GradualUnfreezing(Callback):
    """Before epoch e, train only the top ``min(e, G)`` of the model's G layer groups."""

    def __init__(self) -> None:
        self.kept_frozen: set[int] = set()  # ids of parameters frozen before training

    def on_fit_start(self, trainer: Any) -> None:
        self.kept_frozen = {id(p) for p in trainer.model.parameters() if not p.requires_grad}

    def on_epoch_start(self, trainer: Any, epoch: int) -> None:
        groups = getattr(trainer.model, "module", trainer.model).layer_groups()  # DDP: .module
        trained = min(epoch, len(groups))
        for index, group in enumerate(groups):
            train = index >= len(groups) - trained
            for parameter in group:
                parameter.requires_grad_(train and id(parameter) not in self.kept_frozen)
        logger.info("gradual unfreezing: epoch %d trains the top %d of %d layer groups",
                    epoch, trained, len(groups))  # fmt: skip


def fine_tuning_callbacks(
    transfer: TransferSettings, train: TrainConfig, steps_per_epoch: int
) -> list[Callback]:
    """The callbacks ``transfer`` asks for, over ``train.epochs`` epochs of ``steps_per_epoch``."""
    callbacks: list[Callback] = []
    if transfer.gradual_unfreeze:
        callbacks.append(GradualUnfreezing())
    if transfer.slanted_triangular:
        if train.lr_schedule != "none":
            raise UserError(
                f"slanted_triangular sets the rate every step; expected lr_schedule none, got "
                f"{train.lr_schedule!r}"
            )
        total = max(1, train.epochs * steps_per_epoch)
        callbacks.append(SlantedTriangularLR(total, transfer.cut_frac, transfer.lr_ratio))
    return callbacks
