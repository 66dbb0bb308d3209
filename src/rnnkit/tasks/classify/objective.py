"""The classification objective: cross-entropy (optionally class-weighted), accuracy, macro-F1."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from rnnkit.train import Objective
from rnnkit.train.metrics import accuracy, macro_f1

__all__ = ["IMBALANCE", "ClassificationObjective", "balanced_weights", "wants_balance"]

IMBALANCE = 1.5  # balance="auto" weighs classes when the largest is this many times the smallest


def balanced_weights(targets: torch.Tensor, num_classes: int) -> torch.Tensor:
    """w_c = n / (C * n_c): every class weighs as much in the loss as a balanced data set's."""
    counts = torch.bincount(targets, minlength=num_classes).clamp(min=1).float()  # (C,)
    return targets.numel() / (num_classes * counts)


def wants_balance(balance: str, targets: torch.Tensor, num_classes: int) -> bool:
    """Whether ``balance`` ("auto", "balanced", "none") asks for class weights here."""
    if balance != "auto":
        return balance == "balanced"
    counts = torch.bincount(targets, minlength=num_classes)  # (C,)
    return bool(counts.max() > IMBALANCE * counts.min().clamp(min=1))


class ClassificationObjective(Objective):
    """Cross-entropy on the logits of padded batches; accuracy and macro-F1 on evaluation.

    ``weight``: per-class loss weights (C,), e.g. :func:`balanced_weights`; None: all 1.
    """

    def __init__(self, num_classes: int, weight: torch.Tensor | None = None) -> None:
        self.num_classes = num_classes
        self.weight = weight

    def _loss(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        weight = None if self.weight is None else self.weight.to(logits.device)
        return F.cross_entropy(logits.float(), targets, weight=weight)

    def train_loss(self, model, batch):
        logits = model(batch.tokens, batch.lengths)  # (N, C)
        loss = self._loss(logits, batch.targets)
        return loss, {"accuracy": accuracy(logits.detach(), batch.targets), "n": len(batch.targets)}

    @torch.no_grad()
    def predictions(self, model, batches) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Logits (N, C), targets (N,) and example indices (N,) over all ``batches``."""
        logits, targets, indices = [], [], []
        for batch in batches:
            logits.append(model(batch.tokens, batch.lengths).float().cpu())
            targets.append(batch.targets.cpu())
            indices.append(batch.indices.cpu())
        return torch.cat(logits), torch.cat(targets), torch.cat(indices)

    def metrics(self, logits: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
        return {
            "loss": self._loss(logits, targets).item(),
            "accuracy": accuracy(logits, targets),
            "macro_f1": macro_f1(logits, targets, self.num_classes),
        }

    def evaluate(self, model, batches):
        logits, targets, _ = self.predictions(model, batches)
        return self.metrics(logits, targets)
