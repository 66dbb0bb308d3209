"""Training a language model with truncated BPTT: the objective (state carried across windows),
the TBPTT streams, and the samples printed while training (their settings and callback)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from rnnkit.data.streams import TBPTTStream
from rnnkit.data.tokenize import Tokenizer
from rnnkit.data.vocab import Vocabulary
from rnnkit.decoding import Sampler
from rnnkit.errors import UserError
from rnnkit.settings import Settings
from rnnkit.tasks.lm.generate import NonFiniteLogitsError, generate_text
from rnnkit.train import Callback, Objective, Trainer
from rnnkit.train.metrics import WeightedMeans, bits_per_char, perplexity

__all__ = [
    "LanguageModelObjective",
    "SampleCallback",
    "SampleSettings",
    "detach_state",
    "make_stream",
]

logger = logging.getLogger(__name__)


def detach_state(state: Any) -> Any:
    """The recurrent state cut from its graph: a tensor, or a tuple such as an LSTM's ``(h, c)``."""
    if state is None:
        return None
    if isinstance(state, torch.Tensor):
        return state.detach()
    return tuple(s.detach() for s in state)


def make_stream(ids: torch.Tensor, batch_size: int, seq_length: int, what: str) -> TBPTTStream:
    """A TBPTT stream of ``ids``; fewer streams when the split is short (at least 2 tokens each)."""
    if ids.numel() < 2:
        raise UserError(f"the {what} has {ids.numel()} token(s); expected at least 2")
    return TBPTTStream(ids, min(batch_size, ids.numel() // 2), seq_length=seq_length)


class LanguageModelObjective(Objective):
    """Next-token cross-entropy with the state carried across TBPTT windows (stateful).

    ``start_epoch`` resets the state to zeros before each training pass and each evaluation;
    between windows it is detached, so gradients flow ``seq_length`` steps back at most while the
    forward pass sees the whole stream.
    """

    def __init__(self, level: str = "char") -> None:
        self.level = level
        self.state: Any = None

    def start_epoch(self, model, train: bool) -> None:
        self.state = None

    def _loss(self, model, batch) -> tuple[torch.Tensor, int]:
        inputs, targets = batch  # (B, T), (B, T)
        logits, state = model(inputs, self.state)  # (B, T, V)
        self.state = detach_state(state)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
        return loss, targets.numel()

    def train_loss(self, model, batch):
        loss, n = self._loss(model, batch)
        return loss, {"n": n}

    def evaluate(self, model, batches) -> dict[str, float]:
        means = WeightedMeans()
        for batch in batches:
            loss, n = self._loss(model, batch)
            means.add({"loss": loss.item()}, weight=n)
        values = means.means()
        if "loss" not in values:
            raise UserError("the evaluation split is empty; expected at least one window")
        return self.summarize(values)

    def summarize(self, means: dict[str, float]) -> dict[str, float]:
        out = dict(means)
        out["perplexity"] = perplexity(means["loss"])
        if self.level == "char":
            out["bpc"] = bits_per_char(means["loss"])
        return out


@dataclass
class SampleSettings(Settings):
    """The samples printed while a language model trains (saved in config.json).

    Args:
        sample_length: tokens per sample; 0: none.
        sample_every: also print one every N training batches; 0: only after each evaluation.
        sample_temperature: softmax temperature of the samples.
        sample_prime: the text each sample continues (none: a new paragraph).
    """

    KIND: ClassVar[str] = "sample setting"
    RANGES: ClassVar[dict[str, str]] = {
        "sample_length": "[0, inf)",
        "sample_every": "[0, inf)",
        "sample_temperature": "[0, inf)",
    }

    sample_length: int = 300
    sample_every: int = 200
    sample_temperature: float = 0.8
    sample_prime: str | None = None


class SampleCallback(Callback):
    """Logs a generated sample after each evaluation and every ``sample_every`` batches.

    Sampling uses its own seeded generator and the model in eval mode, so it changes neither the
    random state nor the carried state of training. ``context``: what the model reads before
    the prime (see ``generate_text``).
    """

    def __init__(
        self,
        vocab: Vocabulary,
        tokenizer: Tokenizer,
        level: str,
        settings: SampleSettings,
        *,
        context: list[int] = (),
        seed: int = 0,
    ) -> None:
        self.vocab, self.tokenizer, self.level = vocab, tokenizer, level
        self.settings, self.context = settings, list(context)
        self.sampler = Sampler(
            temperature=settings.sample_temperature, seed=seed, banned=(vocab.pad_index,)
        )

    def _show(self, trainer: Trainer, when: str) -> None:
        if self.settings.sample_length <= 0:
            return
        model = trainer.model
        was_training = model.training
        model.eval()
        try:
            result = generate_text(
                model, self.vocab, self.tokenizer, self.level, self.settings.sample_prime or "",
                self.settings.sample_length, self.sampler, trainer.device, context=self.context,
            )  # fmt: skip
        except NonFiniteLogitsError:
            logger.warning("no sample %s: the model's outputs are NaN or infinite", when)
            return
        finally:
            model.train(was_training)
        body = "\n".join("  | " + line for line in result.text.split("\n"))
        logger.info("sample %s:\n%s", when, body)

    def on_batch_end(self, trainer, epoch, batch_index, loss, stats) -> None:
        every = self.settings.sample_every
        if every and (batch_index + 1) % every == 0:
            self._show(trainer, f"at epoch {epoch}, batch {batch_index + 1} (loss {loss:.3f})")

    def on_evaluate(self, trainer, epoch, metrics) -> None:
        self._show(trainer, f"after epoch {epoch} (val loss {metrics['loss']:.4f})")
