"""The translation objective: label-smoothed cross-entropy with teacher forcing while training;
loss, perplexity and the BLEU of greedy translations on evaluation; and a callback that shows a
few of those translations after each epoch."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F

from rnnkit.errors import UserError
from rnnkit.settings import Settings
from rnnkit.tasks.translate.data import Side
from rnnkit.tasks.translate.decode import BeamTranslator, Translation, corpus_bleu
from rnnkit.train import Callback, Objective
from rnnkit.train.metrics import perplexity

__all__ = ["ShowTranslations", "TranslationLoss", "TranslationObjective"]

logger = logging.getLogger(__name__)


@dataclass
class TranslationLoss(Settings):
    """How the training loss of a translation model is computed (saved in config.json).

    Args:
        label_smoothing: of the cross-entropy on the target tokens.
        teacher_forcing: probability of feeding the reference token rather than the model's
            own prediction at each step while training.
    """

    KIND: ClassVar[str] = "objective setting"
    RANGES: ClassVar[dict[str, str]] = {"label_smoothing": "[0, 1]", "teacher_forcing": "[0, 1]"}

    label_smoothing: float = 0.1
    teacher_forcing: float = 1.0


class TranslationObjective(Objective):
    """Label-smoothed cross-entropy on the target tokens; on evaluation, the plain loss (nats per
    target token), perplexity, and — given the two ``sides`` and validation ``sources`` with
    their ``references`` — the BLEU of greedy translations against the raw references."""

    def __init__(
        self,
        *,
        pad_index: int,
        label_smoothing: float = 0.0,
        teacher_forcing: float = 1.0,
        sides: tuple[Side, Side] | None = None,
        sources: list[str] | None = None,
        references: list[str] | None = None,
    ) -> None:
        self.pad_index = pad_index
        self.label_smoothing = label_smoothing
        self.teacher_forcing = teacher_forcing
        self.sides, self.sources, self.references = sides, sources, references
        self.translations: list[Translation] = []  # of ``sources`` at the last evaluation

    def _loss(self, model, batch, smoothing: float) -> tuple[torch.Tensor, int]:
        targets = batch.targets  # (N, T+1): <bos> y_1 .. y_T <eos>, padded
        logits = model(
            batch.tokens,
            batch.lengths,
            targets[:, :-1],
            teacher_forcing=self.teacher_forcing if model.training else 1.0,
        )  # (N, T, V)
        gold = targets[:, 1:]  # (N, T)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), gold.reshape(-1),
                               ignore_index=self.pad_index, label_smoothing=smoothing)  # fmt: skip
        return loss, int((gold != self.pad_index).sum())

    def train_loss(self, model, batch):
        loss, n = self._loss(model, batch, self.label_smoothing)
        return loss, {"n": n}

    @torch.no_grad()
    def evaluate(self, model, batches) -> dict[str, float]:
        total, count = 0.0, 0
        for batch in batches:
            loss, n = self._loss(model, batch, 0.0)
            total += loss.item() * n
            count += n
        if not count:
            raise UserError("there are no pairs to evaluate; expected at least one")
        metrics = {"loss": total / count, "perplexity": perplexity(total / count)}
        if self.sides is not None and self.sources:
            device = next(model.parameters()).device
            translator = BeamTranslator(model, *self.sides, device)
            self.translations = translator.translate(self.sources, beam=1)
            hypotheses = [t.text for t in self.translations]
            metrics["bleu"], _ = corpus_bleu(hypotheses, self.references)
        return metrics


class ShowTranslations(Callback):
    """Logs the first ``count`` validation translations of each evaluation (the objective's)."""

    def __init__(self, objective: TranslationObjective, count: int = 2) -> None:
        self.objective, self.count = objective, count

    def on_evaluate(self, trainer, epoch, metrics) -> None:
        o = self.objective
        shown = list(zip(o.sources or [], o.references or [], o.translations))[: self.count]
        if not shown:
            return
        lines = [f"after epoch {epoch} (val BLEU {metrics.get('bleu', math.nan):.2f}):"]
        for source, reference, translation in shown:
            lines += [f"  | source     {source}", f"  | reference  {reference}",
                      f"  | translated {translation.text}"]  # fmt: skip
        logger.info("\n".join(lines))
