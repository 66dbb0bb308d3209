"""The spoken-digit objective: cross-entropy over the pooled recording, accuracy and macro-F1."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from rnnkit.train import Objective
from rnnkit.train.metrics import accuracy, macro_f1

__all__ = ["SpeechObjective"]


class SpeechObjective(Objective):
    """``L = -(1/N) Σ_n log softmax(z_n)[y_n]`` on :class:`~rnnkit.data.frame_batches.FrameBatch`
    es; accuracy and macro-F1 when evaluating."""

    def __init__(self, num_classes: int) -> None:
        self.num_classes = num_classes

    def train_loss(self, model, batch):
        logits = model(batch.features, batch.lengths)  # (N, C)
        loss = F.cross_entropy(logits.float(), batch.targets)
        return loss, {"accuracy": accuracy(logits.detach(), batch.targets), "n": len(batch.targets)}

    @torch.no_grad()
    def predictions(self, model, batches) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits (N, C) and targets (N,) over all ``batches``, in order."""
        logits, targets = [], []
        for batch in batches:
            logits.append(model(batch.features, batch.lengths).float().cpu())
            targets.append(batch.targets.cpu())
        return torch.cat(logits), torch.cat(targets)

    def metrics(self, logits: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
        return {
            "loss": F.cross_entropy(logits, targets).item(),
            "accuracy": accuracy(logits, targets),
            "macro_f1": macro_f1(logits, targets, self.num_classes),
        }

    def evaluate(self, model, batches):
        return self.metrics(*self.predictions(model, batches))
