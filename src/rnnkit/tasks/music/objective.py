"""The polyphonic-music objective: the frame-level negative log-likelihood and frame accuracy.

For a frame x_t of 88 binary keys predicted with probabilities p_t = σ(z_t):

    NLL_t = -Σ_k [x_tk log p_tk + (1 - x_tk) log(1 - p_tk)]       (nats, summed over keys)
    NLL   = (1 / Σ_n T_n) Σ_n Σ_{t ≤ T_n} NLL_t                      (mean over every real frame)

the measure of Boulanger-Lewandowski et al. (2012) and Chung et al. (2014); padded frames after
a piece's end are left out. Frame-level accuracy (Bay et al. 2009) counts, over all frames of a
split, the keys predicted on (p > 0.5) that sound (TP), that do not (FP), and the sounding keys
predicted off (FN): ``ACC = TP / (TP + FP + FN)`` (1 when nothing sounds and nothing is
predicted).

Bai et al. (2018)'s code (the TCN paper's Nottingham and MuseData numbers) predicts each piece
from its second frame on, so its NLL leaves out the first frames, which follow silence and cost
the most; ``FrameScores.nll_after_first`` is that measure, for comparison:

    NLL_after_first = Σ_n Σ_{2 ≤ t ≤ T_n} NLL_t / Σ_n (T_n - 1)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from rnnkit.train import Objective

__all__ = ["FrameScores", "MusicObjective", "real_frames"]


@dataclass
class FrameScores:
    """Sums over the frames of a split, for the NLL per frame and the frame accuracy."""

    nll: float = 0.0
    frames: int = 0
    true_positives: int = 0
    false_positives: int = 0
    false_negatives: int = 0
    first_nll: float = 0.0  # of the pieces' first frames, also counted in nll
    first_frames: int = 0

    def add(self, nll: float, predicted: Any, targets: Any) -> None:
        """Count ``frames`` (M, 88) of boolean ``predicted`` and ``targets`` (torch or NumPy)
        whose summed NLL is ``nll``."""
        self.nll += float(nll)
        self.frames += len(targets)
        self.true_positives += int((predicted & targets).sum())
        self.false_positives += int((predicted & ~targets).sum())
        self.false_negatives += int((~predicted & targets).sum())

    def add_first(self, nll: float, count: int) -> None:
        """Note that ``count`` of the frames added are pieces' first frames, of summed NLL
        ``nll``."""
        self.first_nll += float(nll)
        self.first_frames += int(count)

    def nll_after_first(self) -> float | None:
        """The NLL per frame leaving out the pieces' first frames (None: no other frames)."""
        frames = self.frames - self.first_frames
        return (self.nll - self.first_nll) / frames if frames > 0 else None

    def metrics(self) -> dict[str, float]:
        """``{"loss": NLL per frame, "accuracy": TP / (TP + FP + FN)}``."""
        errors = self.true_positives + self.false_positives + self.false_negatives
        return {
            "loss": self.nll / max(self.frames, 1),
            "accuracy": self.true_positives / errors if errors else 1.0,
        }


def real_frames(batch) -> torch.Tensor:
    """The mask (N, T) of a batch's frames inside their pieces (not padding)."""
    steps = torch.arange(batch.targets.shape[1])  # (T,)
    return (steps[None, :] < batch.lengths[:, None]).to(batch.targets.device)  # (N, T)


class MusicObjective(Objective):
    """The NLL per frame (see the module docstring) on
    :class:`~rnnkit.tasks.music.data.PianoRollBatch` es; frame accuracy beside it."""

    def train_loss(self, model, batch):
        logits, _ = model(batch.inputs)  # (N, T, 88)
        mask = real_frames(batch)  # (N, T)
        targets = batch.targets[mask]  # (M, 88)
        summed = F.binary_cross_entropy_with_logits(logits[mask].float(), targets, reduction="sum")
        return summed / len(targets), {"n": len(targets)}

    @torch.no_grad()
    def scores(self, model, batches) -> FrameScores:
        """The sums over all ``batches`` (of whole pieces: frame 0 is each piece's first)."""
        scores = FrameScores()
        for batch in batches:
            logits, _ = model(batch.inputs)  # (N, T, 88)
            first = F.binary_cross_entropy_with_logits(
                logits[:, 0].float(), batch.targets[:, 0], reduction="sum"
            )  # (N, 88) summed
            scores.add_first(first.item(), len(batch.targets))
            mask = real_frames(batch)  # (N, T)
            logits, targets = logits[mask].float(), batch.targets[mask]  # (M, 88)
            nll = F.binary_cross_entropy_with_logits(logits, targets, reduction="sum")
            scores.add(nll.item(), logits > 0, targets > 0.5)
        return scores

    def evaluate(self, model, batches):
        return self.scores(model, batches).metrics()
