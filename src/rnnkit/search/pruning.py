"""``TrialReporter``: the Trainer callback that connects one training run to its Optuna trial."""

from __future__ import annotations

from typing import Any

import optuna

from rnnkit.train import Callback

__all__ = ["PRUNED", "TrialReporter"]

PRUNED = "pruned by the search"  # the start of a pruned fit's stop_reason


class TrialReporter(Callback):
    """Reports the monitored validation metric to ``trial`` after every epoch (Optuna's
    intermediate value at step = epoch) and, when the study's pruner prunes the trial, asks the
    trainer to stop: the run ends cleanly — best epoch saved, run folder unlocked — and its
    ``stop_reason`` starts with ``PRUNED``. After the fit, ``best`` and ``best_epoch`` hold the
    monitored metric's best value (the trial's value) and its epoch, ``last`` the last value
    reported. ``intermediate=False`` (the later folds of a cross-validated trial): nothing is
    reported to the trial and nothing pruned, ``best`` is still kept.
    """

    def __init__(self, trial: optuna.Trial, monitor: str, intermediate: bool = True) -> None:
        self.trial = trial
        self.intermediate = intermediate
        self.monitor = monitor
        self.last: float | None = None  # the last value reported
        self.reported: int | None = None  # and its epoch
        self.best: float | None = None
        self.best_epoch: int | None = None

    def on_evaluate(self, trainer: Any, epoch: int, metrics: dict[str, float]) -> None:
        """A validation metric is reported here, before the epoch's checkpoint is written, so
        a pruned run's saved ``stop_reason`` says so."""
        name = self.monitor.removeprefix("val_")
        if self.monitor.startswith("val_") and name in metrics:
            self.report(trainer, epoch, metrics[name])

    def on_epoch_end(self, trainer: Any, epoch: int, row: dict[str, Any]) -> None:
        if self.reported != epoch:  # a training column such as train_loss
            self.report(trainer, epoch, row[self.monitor])

    def report(self, trainer: Any, epoch: int, value: float) -> None:
        self.last, self.reported = float(value), epoch
        if not self.intermediate:
            return
        self.trial.report(self.last, epoch)
        if epoch < trainer.config.epochs and self.trial.should_prune():  # not a finished run
            trainer.request_stop(f"{PRUNED} after epoch {epoch}")

    def on_fit_end(self, trainer: Any, history: Any) -> None:
        self.best = trainer.monitor.best
        self.best_epoch = trainer.monitor.best_epoch
