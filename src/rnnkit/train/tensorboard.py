"""``TensorBoardLogger``: the history's numbers as TensorBoard scalars, beside history.csv.

Each epoch row's metrics go to ``RUN/tensorboard`` (``train/loss``, ``val/accuracy``, ``lr``...,
at the epoch number) and every training batch's loss to ``batch/loss`` at the global step, so
``tensorboard --logdir runs`` shows every run side by side. Needs the ``tensorboard`` package
(``pip install "rnnkit[tensorboard]"``); the trainer adds this callback for ``log="tensorboard"``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from rnnkit.errors import UserError
from rnnkit.train.callbacks import Callback

__all__ = ["TensorBoardLogger"]

_NOT_LOGGED = {"epoch", "batches", "partial"}


class TensorBoardLogger(Callback):
    """Writes scalars to ``log_dir`` with ``torch.utils.tensorboard.SummaryWriter``."""

    def __init__(self, log_dir: str | Path) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise UserError(
                'log="tensorboard" needs the tensorboard package: expected it installed '
                '(pip install "rnnkit[tensorboard]"), or log="none"'
            ) from None
        self.writer = SummaryWriter(log_dir=str(log_dir))

    def on_batch_end(self, trainer, epoch, batch_index, loss, stats) -> None:
        if math.isfinite(loss):
            self.writer.add_scalar("batch/loss", loss, trainer.global_step)

    def on_epoch_end(self, trainer, epoch: int, row: dict[str, Any]) -> None:
        for key, value in row.items():
            if key in _NOT_LOGGED or not isinstance(value, (int, float)):
                continue
            name = key.replace("_", "/", 1) if key.startswith(("train_", "val_")) else key
            self.writer.add_scalar(name, value, epoch)
        self.writer.flush()

    def on_fit_end(self, trainer, history) -> None:
        self.writer.close()
