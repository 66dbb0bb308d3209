"""The captioning objective: cross-entropy of the next word under teacher forcing, plus, with soft
attention, the doubly stochastic regulariser of Xu et al. (2015)

    L = -(1/W) Σ_{m,t} log p(y_mt | I_m, y_m<t)  +  λ (1/M) Σ_m Σ_i (1 - Σ_t α_mti)^2

(W the caption words with ``<eos>``, M the captions, i the image regions, t the caption's real
steps); on evaluation the plain loss, perplexity, and the BLEU-1..4 of greedy captions of the
first validation images; and a callback that shows a few of those captions after each epoch.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F

from rnnkit.settings import Settings
from rnnkit.tasks.caption.data import CaptionSplit, CaptionText
from rnnkit.tasks.caption.decode import Caption, caption_bleu, describe
from rnnkit.train import Callback, Objective
from rnnkit.train.metrics import perplexity

__all__ = ["CaptionLoss", "CaptionObjective", "ShowCaptions"]

logger = logging.getLogger(__name__)


@dataclass
class CaptionLoss(Settings):
    """How a captioning model is trained and selected (saved in config.json).

    Args:
        doubly_stochastic: λ, the weight of the attention regulariser (soft attention only).
        label_smoothing: of the cross-entropy on the caption words.
        bleu_images: validation images captioned (greedy) after each epoch for the validation
            BLEU that selects the best epoch (0: none; select on the loss instead).
        samples: of those, the captions shown after each epoch.
    """

    KIND: ClassVar[str] = "objective setting"
    RANGES: ClassVar[dict[str, str]] = {
        "doubly_stochastic": "[0, inf)",
        "label_smoothing": "[0, 1)",
        "bleu_images": "[0, inf)",
        "samples": "[0, inf)",
    }

    doubly_stochastic: float = 1.0
    label_smoothing: float = 0.0
    bleu_images: int = 250
    samples: int = 3


class CaptionObjective(Objective):
    """See the module docstring. ``text`` and ``val`` (with ``bleu_images``) enable the
    validation BLEU; ``max_length`` bounds the greedy captions."""

    def __init__(
        self,
        *,
        pad_index: int,
        doubly_stochastic: float = 0.0,
        label_smoothing: float = 0.0,
        text: CaptionText | None = None,
        val: CaptionSplit | None = None,
        bleu_images: int = 0,
        max_length: int = 40,
    ) -> None:
        self.pad_index = pad_index
        self.doubly_stochastic = doubly_stochastic
        self.label_smoothing = label_smoothing
        self.text, self.val, self.bleu_images, self.max_length = text, val, bleu_images, max_length
        self.captions: list[Caption] = []  # of the first val images at the last evaluation

    def _loss(self, model, batch, smoothing: float) -> tuple[torch.Tensor, torch.Tensor, int]:
        """(cross-entropy, attention penalty, words) of a batch."""
        out = model(batch.images, batch.captions[:, :-1], batch.owner)  # (M, T, V), (M, T, L)
        gold = batch.captions[:, 1:]  # (M, T)
        real = gold != self.pad_index  # (M, T)
        loss = F.cross_entropy(out.logits.reshape(-1, out.logits.shape[-1]).float(),
                               gold.reshape(-1), ignore_index=self.pad_index,
                               label_smoothing=smoothing)  # fmt: skip
        penalty = loss.new_zeros(())
        if out.attention.shape[-1]:
            looked = (out.attention.float() * real.unsqueeze(-1)).sum(1)  # (M, L) Σ_t α_ti
            penalty = ((1.0 - looked) ** 2).sum(1).mean()
        return loss, penalty, int(real.sum())

    def train_loss(self, model, batch):
        loss, penalty, n = self._loss(model, batch, self.label_smoothing)
        stats = {"n": n}
        if self.doubly_stochastic and penalty.requires_grad:
            stats["attention_penalty"] = float(penalty.detach())
            loss = loss + self.doubly_stochastic * penalty
        return loss, stats

    def evaluate(self, model, batches) -> dict[str, float]:
        total, count = 0.0, 0
        for batch in batches:
            loss, _, n = self._loss(model, batch, 0.0)
            total += float(loss) * n
            count += n
        metrics = {"loss": total / max(count, 1), "perplexity": perplexity(total / max(count, 1))}
        if self.text is not None and self.val is not None and self.bleu_images:
            shown = min(self.bleu_images, len(self.val))
            found = describe(model, self.val.pixels[:shown], self.text, beam=1,
                             max_length=self.max_length)  # fmt: skip
            self.captions = [hypotheses[0] for hypotheses in found]
            scores, _ = caption_bleu([c.text for c in self.captions], self.val.captions[:shown],
                                     lowercase=self.text.lowercase)  # fmt: skip
            metrics.update(scores)
            metrics["bleu"] = scores["bleu4"]
        return metrics


class ShowCaptions(Callback):
    """Logs the greedy captions of the first ``count`` validation images after each epoch."""

    def __init__(self, objective: CaptionObjective, count: int = 3) -> None:
        self.objective, self.count = objective, count

    def on_evaluate(self, trainer, epoch, metrics) -> None:
        o = self.objective
        if o.val is None or not o.captions or not self.count:
            return
        lines = [f"after epoch {epoch} (val BLEU-4 {metrics.get('bleu', math.nan):.2f}, greedy):"]
        shown = list(zip(o.val.paths, o.val.captions, o.captions))[: self.count]
        for path, references, caption in shown:
            lines += [
                f"  | image     {path.name}",
                f"  | reference {references[0]}",
                f"  | caption   {caption.text}  (logprob {caption.log_prob:.2f})",
            ]
        logger.info("\n".join(lines))
