"""Callbacks: no-op hooks that ``Trainer.fit`` calls at fixed points of the loop.

Subclass ``Callback`` and override the hooks you need. A callback may stop training cleanly with
``trainer.request_stop("reason")`` (checked after each batch and each epoch). The order, per fit:

    on_fit_start
    for each epoch:
        on_epoch_start
        on_batch_end            (after every optimizer step)
        on_train_epoch_end      (after the training pass, before validation)
        on_evaluate             (after validation, e.g. a language model prints a sample)
        on_epoch_end            (after the history row is added and the checkpoints written)
    on_fit_end                  (when fit returns normally; not on an exception)

The trainer restores its own random-number state at the start of each epoch (before
on_epoch_start), so random numbers drawn in on_fit_start, on_evaluate or on_epoch_end (sampling
text, say) change neither training nor its resumption.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rnnkit.train.history import History
    from rnnkit.train.trainer import Trainer

__all__ = ["Callback"]


class Callback:
    """Base class: every hook does nothing."""

    def on_fit_start(self, trainer: Trainer) -> None:
        pass

    def on_epoch_start(self, trainer: Trainer, epoch: int) -> None:
        pass

    def on_batch_end(
        self, trainer: Trainer, epoch: int, batch_index: int, loss: float, stats: dict[str, Any]
    ) -> None:
        pass

    def on_train_epoch_end(self, trainer: Trainer, epoch: int) -> None:
        pass

    def on_evaluate(self, trainer: Trainer, epoch: int, metrics: dict[str, float]) -> None:
        pass

    def on_epoch_end(self, trainer: Trainer, epoch: int, row: dict[str, Any]) -> None:
        pass

    def on_fit_end(self, trainer: Trainer, history: History) -> None:
        pass
