"""Small metrics shared by the tasks, on torch tensors (NumPy arrays and lists are accepted).

``predictions`` may be class indices ``(N,)`` or scores/logits ``(N, C)`` (argmax is taken).
Positions whose target equals ``ignore_index`` (padding) are left out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch

__all__ = [
    "WeightedMeans",
    "accuracy",
    "bits_per_char",
    "confusion_matrix",
    "macro_f1",
    "perplexity",
]

_LN2 = math.log(2.0)


class WeightedMeans:
    """Running weighted means of named values, e.g. per-batch loss and accuracy weighted by size.

    >>> m = WeightedMeans(); m.add({"loss": 1.0}, weight=1); m.add({"loss": 4.0}, weight=2)
    >>> m.means()
    {'loss': 3.0}
    """

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.weights: dict[str, float] = {}

    def add(self, values: Mapping[str, float], weight: float = 1.0) -> None:
        for key, value in values.items():
            self.sums[key] = self.sums.get(key, 0.0) + float(value) * weight
            self.weights[key] = self.weights.get(key, 0.0) + weight

    def means(self) -> dict[str, float]:
        return {k: self.sums[k] / self.weights[k] if self.weights[k] else 0.0 for k in self.sums}


def _labels(predictions: Any, targets: Any, ignore_index: int | None) -> tuple[torch.Tensor, ...]:
    pred = torch.as_tensor(predictions)
    true = torch.as_tensor(targets)
    if pred.ndim == true.ndim + 1:
        pred = pred.argmax(dim=-1)  # (..., C) -> (...)
    if pred.shape != true.shape:
        raise ValueError(
            f"predictions and targets must have the same shape, got {tuple(pred.shape)} "
            f"and {tuple(true.shape)}"
        )
    pred, true = pred.reshape(-1), true.reshape(-1)
    if ignore_index is not None:
        keep = true != ignore_index
        pred, true = pred[keep], true[keep]
    return pred.long(), true.long()


def accuracy(predictions: Any, targets: Any, ignore_index: int | None = None) -> float:
    """The fraction of positions where the predicted class is the target (0.0 when empty)."""
    pred, true = _labels(predictions, targets, ignore_index)
    if true.numel() == 0:
        return 0.0
    return (pred == true).sum().item() / true.numel()


def confusion_matrix(
    predictions: Any, targets: Any, num_classes: int, ignore_index: int | None = None
) -> torch.Tensor:
    """Counts ``(num_classes, num_classes)``: row = true class, column = predicted class."""
    pred, true = _labels(predictions, targets, ignore_index)
    if true.numel() and (
        max(pred.max(), true.max()) >= num_classes or min(pred.min(), true.min()) < 0
    ):
        raise ValueError(f"class indices must lie in [0, {num_classes}), got values outside it")
    flat = true * num_classes + pred
    return torch.bincount(flat, minlength=num_classes * num_classes).reshape(
        num_classes, num_classes
    )


def macro_f1(
    predictions: Any, targets: Any, num_classes: int, ignore_index: int | None = None
) -> float:
    """The unweighted mean of the per-class F1 scores over classes that occur in targets or
    predictions (a class absent from both is left out rather than counted as 0 or 1)."""
    cm = confusion_matrix(predictions, targets, num_classes, ignore_index).double()
    tp = cm.diag()
    predicted = cm.sum(dim=0)  # (C,)
    actual = cm.sum(dim=1)  # (C,)
    present = (predicted + actual) > 0
    if not present.any():
        return 0.0
    f1 = 2 * tp / (predicted + actual).clamp(min=1)  # F1 = 2TP / (2TP + FP + FN)
    return f1[present].mean().item()


def perplexity(nats: float) -> float:
    """``exp(mean cross-entropy in nats)``; inf when that overflows."""
    try:
        return math.exp(nats)
    except OverflowError:
        return math.inf


def bits_per_char(nats: float) -> float:
    """Mean cross-entropy per character in bits: ``nats / ln 2``."""
    return nats / _LN2
