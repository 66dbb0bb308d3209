"""Training a language model with truncated BPTT: the objective (state carried across windows,
activation regularisation), the TBPTT streams, and the samples printed while training (their
settings and callback)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from rnnkit.data.streams import TBPTTStream
from rnnkit.data.tokenize import Tokenizer
from rnnkit.data.vocab import Vocabulary
from rnnkit.decoding import Sampler
from rnnkit.errors import UserError
from rnnkit.settings import Settings
from rnnkit.tasks.lm.generate import NonFiniteLogitsError, generate_text
from rnnkit.train import Callback, Objective, Trainer
from rnnkit.train.metrics import WeightedMeans, bits_per_char, perplexity
from rnnkit.train.regularization import activation_penalty

__all__ = [
    "LanguageModelObjective",
    "LMRegularization",
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

    With ``ar`` or ``tar`` the training loss adds activation regularisation of the last layer's
    outputs (:func:`rnnkit.train.regularization.activation_penalty`); the training metrics report
    that term as ``activation`` and ``loss`` (hence perplexity) without it: the cross-entropy.
    """

    def __init__(self, level: str = "char", *, ar: float = 0.0, tar: float = 0.0) -> None:
        self.level = level
        self.ar, self.tar = ar, tar
        self.state: Any = None

    def start_epoch(self, model, train: bool) -> None:
        self.state = None

    def _loss(self, model, batch) -> tuple[torch.Tensor, int]:
        inputs, targets = batch  # (B, T), (B, T)
        loss, state = model(inputs, self.state, targets=targets)  # ()
        self.state = detach_state(state)
        return loss, targets.numel()

    def train_loss(self, model, batch):
        if not (self.ar or self.tar):
            loss, n = self._loss(model, batch)
            return loss, {"n": n}
        inputs, targets = batch  # (B, T), (B, T)
        loss, state, (outputs, dropped) = model(
            inputs, self.state, targets=targets, return_outputs=True
        )  # (), state, (B, T, H) twice
        self.state = detach_state(state)
        penalty = activation_penalty(outputs, dropped, self.ar, self.tar)  # None: one step, TAR
        if penalty is None:
            return loss, {"n": targets.numel(), "activation": 0.0}
        return loss + penalty, {"n": targets.numel(), "activation": penalty.item()}

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
        if "activation" in out:  # the training loss less the activation penalty: cross-entropy
            out["loss"] = means["loss"] - means["activation"]
        out["perplexity"] = perplexity(means["loss"])
        if self.level == "char":
            out["bpc"] = bits_per_char(means["loss"])
        return out


@dataclass
class LMRegularization(Settings):
    """The AWD-LSTM's training terms of a language model that are not the model's (saved in
    config.json; they may change when a run is resumed).

    Args:
        ar: activation regularisation: ar * mean(h^2) of the last layer's dropped outputs.
        tar: temporal activation regularisation: tar * mean((h_t - h_{t-1})^2).
        asgd_patience: optimizer ntasgd: start averaging the weights when validation loss is
            worse than the best before the last this many epochs (NT-ASGD's non-monotone n).
    """

    KIND: ClassVar[str] = "regularization setting"
    RANGES: ClassVar[dict[str, str]] = {
        "ar": "[0, inf)",
        "tar": "[0, inf)",
        "asgd_patience": "[1, inf)",
    }

    ar: float = 0.0
    tar: float = 0.0
    asgd_patience: int = 5


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
