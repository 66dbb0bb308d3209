"""The output folder of a training run (``Trainer.fit(..., out_dir=DIR)``, the CLI's ``--out``)::

    DIR/best/          the best weights by ``TrainConfig.monitor``: the checkpoint users load
                       (``load_checkpoint(DIR)`` reads it); written when the monitor improves
    DIR/last/          the end of the latest epoch plus ``training_state.pt``: what resume reads;
                       written at the start of a fresh run (epoch 0) and after every epoch
    DIR/history.csv    the whole run's history, curves and summary (best and last rows, why it
    DIR/curves.png     stopped), rewritten after every epoch; ``best/`` and ``last/`` hold the
    DIR/metrics.json   history up to their own weights

``best/`` and ``last/`` are separate folders so that each is replaced atomically as a whole
(``rnnkit.atomic``): a crash at any moment leaves each one complete, old or new. ``best/``
is written before ``last/``, so ``last/`` never records a best epoch that ``best/`` lacks.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from torch import nn

from rnnkit.atomic import (
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    remove_temporaries,
    resolve_directory,
)
from rnnkit.errors import UserError
from rnnkit.train.checkpoint import (
    BEST,
    LAST,
    Checkpoint,
    json_safe,
    load_checkpoint,
    save_checkpoint,
)
from rnnkit.train.history import History, render_curves

__all__ = ["REPORTS", "RunDirectory"]

logger = logging.getLogger(__name__)

REPORTS = ("history.csv", "curves.png", "metrics.json")  # run-wide, beside best/ and last/


class RunDirectory:
    """Reads and writes the layout above under ``path``."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.best = self.path / BEST
        self.last = self.path / LAST

    def __str__(self) -> str:
        return str(self.path)

    def holds_run(self) -> bool:
        return any(resolve_directory(p).exists() for p in (self.best, self.last))

    def refusal(self) -> str:
        return (
            f"{self.path} already holds a training run; expected a new folder: resume it "
            "(--resume DIR, or fit(..., resume=True)), replace it (--overwrite, overwrite=True), "
            "or choose another output folder"
        )

    def prepare_fresh(self, overwrite: bool) -> None:
        """Refuse a folder that holds a run (unless ``overwrite``: then delete its checkpoints)."""
        if self.holds_run() and not overwrite:
            raise UserError(self.refusal())
        for path in (resolve_directory(p) for p in (self.best, self.last)):
            shutil.rmtree(path, ignore_errors=True)
        for name in REPORTS:
            (self.path / name).unlink(missing_ok=True)

    def load_last(self) -> Checkpoint:
        """The resumable checkpoint, with its training state."""
        if not self.path.is_dir():
            raise UserError(
                f"nothing to resume: {self.last} is missing; expected the folder a run with this "
                "output folder writes when it starts. Train without resume to start afresh"
            )
        return load_checkpoint(self.last, training_state=True)

    def remove_debris(self) -> None:
        """Delete the temporary files and folders of writes killed mid-way (before resuming)."""
        for path in remove_temporaries(self.path):
            logger.info("removed %s, left by an interrupted write", path)

    def save(
        self,
        model: nn.Module,
        config: Mapping[str, Any],
        *,
        history: History,
        metrics: Mapping[str, Any],
        summary: Mapping[str, Any],
        training_state: Mapping[str, Any],
        artifacts: Mapping[str, Any] | None = None,
        improved: bool = False,
        plot: bool = True,
    ) -> None:
        """Write ``best/`` (when ``improved``), then ``last/``, then the run-wide reports."""
        curves = render_curves(history, summary.get("best_epoch")) if plot else None
        common = dict(artifacts=artifacts, history=history, curves_png=curves, metrics=metrics)
        if improved:
            save_checkpoint(self.best, model, config, **common)
        save_checkpoint(self.last, model, config, training_state=training_state, **common)
        history_csv, curves_png, metrics_json = (self.path / name for name in REPORTS)
        atomic_write_text(history_csv, history.to_csv())
        if curves is not None:
            atomic_write_bytes(curves_png, curves)
        atomic_write_json(metrics_json, json_safe(summary))
