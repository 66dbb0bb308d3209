"""``MetricMonitor``: tracks the best value of one history column, for the best checkpoint and
for early stopping. Its state is a small dict, saved in the checkpoint so a resumed run keeps
counting from where it stopped. ``better_direction`` tells which way a known metric improves.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["MetricMonitor", "better_direction"]

# the last word of a history column (val_loss -> loss) that names an error: lower is better
LOWER_IS_BETTER = ("loss", "perplexity", "nll", "bpc", "mae", "rmse", "mape", "smape", "mase",
                   "wer", "cer", "norm")  # fmt: skip
HIGHER_IS_BETTER = ("accuracy", "f1", "bleu", "bleu1", "bleu2", "bleu3", "bleu4", "cider",
                    "meteor", "auc", "r2")  # fmt: skip


def better_direction(column: str) -> str | None:
    """ "min" or "max" for a column whose metric is known (``val_loss``: min, ``val_macro_f1``:
    max); None for others."""
    last = column.rsplit("_", 1)[-1].lower()
    if last in LOWER_IS_BETTER:
        return "min"
    return "max" if last in HIGHER_IS_BETTER else None


class MetricMonitor:
    """Best value of ``name`` under ``mode`` ("min" or "max"), with a ``min_delta`` margin.

    ``update(value, epoch)`` returns True when ``value`` improves on the best by more than
    ``min_delta`` (the first finite value always does; NaN and infinities never do).
    ``should_stop(patience)`` is True once ``patience`` updates in a row brought no improvement.
    """

    def __init__(self, name: str, mode: str = "min", min_delta: float = 0.0) -> None:
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        self.name = name
        self.mode = mode
        self.min_delta = min_delta
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.bad_epochs = 0

    def improves(self, value: float) -> bool:
        if not math.isfinite(value):  # NaN or inf: never the best epoch
            return False
        if self.best is None:
            return True
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def update(self, value: float, epoch: int) -> bool:
        if self.improves(value):
            self.best, self.best_epoch, self.bad_epochs = float(value), epoch, 0
            return True
        self.bad_epochs += 1
        return False

    def should_stop(self, patience: int | None) -> bool:
        return patience is not None and self.bad_epochs >= patience

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_epoch": self.best_epoch, "bad_epochs": self.bad_epochs}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = state["best"]
        self.best_epoch = state["best_epoch"]
        self.bad_epochs = int(state["bad_epochs"])
