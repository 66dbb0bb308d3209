"""Transfer into a text classifier: pretrained word vectors, a language model's encoder, and
ULMFiT's fine-tuning options (Howard & Ruder 2018).

- ``embeddings``: a word2vec/GloVe/fastText file fills the embedding rows of the run's
  vocabulary (``rnnkit.data.word_vectors``); the coverage is logged.
- ``encoder_from``: a language-model run (``rnnkit train lm``) gives the classifier its
  tokenizer, vocabulary (unknown words map to its ``<unk>``), embedding and recurrent layers,
  copied bit for bit; the classifier's cell, sizes and layers are set from it (unidirectional).
- ``slanted_triangular``, ``gradual_unfreeze`` (with ``TrainConfig.lr_decay_per_layer`` and
  ``pooling="concat"``): the fine-tuning schedule, see ``rnnkit.tasks.classify.finetune``.

Loading the language model reads its run folder with ``load_checkpoint`` (safetensors and JSON;
no code runs).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from rnnkit.data import Vocabulary, tokenizer_from_dict
from rnnkit.data.tokenize import Tokenizer
from rnnkit.errors import UserError
from rnnkit.models import ClassifierConfig, LanguageModelConfig, SequenceClassifier
from rnnkit.tasks.embeddings import WordVectorSettings
from rnnkit.train import load_checkpoint

__all__ = ["EncoderWeights", "TransferSettings", "copy_encoder", "encoder_settings", "read_encoder"]

logger = logging.getLogger(__name__)

# the classifier settings a language model's encoder decides, and what the classifier must have
_FROM_LM = ("cell", "embed", "hidden", "layers")


@dataclass
class TransferSettings(WordVectorSettings):
    """What a classifier starts from (word vectors, see ``WordVectorSettings``, or a language
    model's encoder) and how it is fine-tuned (saved in config.json).

    Args:
        encoder_from: a language-model run folder (rnnkit train lm) whose tokenizer,
            vocabulary, embedding and recurrent layers the classifier starts from; cell, embed,
            hidden and layers come from it, and the classifier is unidirectional.
        gradual_unfreeze: train only the top layer group (the output layer) in the first epoch
            and unfreeze one more group (recurrent layers top down, then the embedding) each
            epoch, as ULMFiT.
        slanted_triangular: ULMFiT's slanted triangular learning rate, changed every step: a
            linear rise to lr over the first cut_frac of all steps, then a linear fall to
            lr / lr_ratio (needs lr_schedule none).
        cut_frac: the fraction of steps the slanted triangular rate rises for.
        lr_ratio: how much smaller the slanted triangular rate is at its ends than at its peak.
    """

    KIND: ClassVar[str] = "transfer setting"
    RANGES: ClassVar[dict[str, str]] = {"cut_frac": "(0, 1)", "lr_ratio": "[1, inf)"}

    encoder_from: str | None = None
    gradual_unfreeze: bool = False
    slanted_triangular: bool = False
    cut_frac: float = 0.1
    lr_ratio: float = 32.0

    def check(self) -> None:
        if self.embeddings is not None and self.encoder_from is not None:
            raise UserError(
                "embeddings and encoder_from both set the embedding layer; expected one of them"
            )


@dataclass
class EncoderWeights:
    """A language model's encoder, read from its run folder."""

    path: str
    config: LanguageModelConfig
    tokenizer: Tokenizer
    vocab: Vocabulary
    state: dict[str, torch.Tensor]  # "embedding.weight" and the "rnn.*" tensors


def read_encoder(run: str) -> EncoderWeights:
    """The tokenizer, vocabulary, settings and encoder weights of the language-model run ``run``
    (its best checkpoint), checked to be usable by a classifier."""
    checkpoint = load_checkpoint(run)
    where = str(checkpoint.path)
    task = checkpoint.config.get("task")
    if task != "lm":
        raise UserError(
            f"{where} is a {task!r} run; expected a language-model run for encoder_from "
            "(rnnkit train lm --out RUN)"
        )
    try:
        config = LanguageModelConfig.from_dict(checkpoint.config.get("model") or {})
    except UserError as error:
        raise UserError(f"{where}/config.json: {error}") from None
    if config.one_hot:
        raise UserError(
            f"{where} reads one-hot characters and has no embedding layer; expected a "
            "language model with an embedding (a word-level one)"
        )
    artifacts = checkpoint.artifacts
    missing = [name for name in ("vocab", "tokenizer") if name not in artifacts]
    if missing:
        raise UserError(f"{where} has no {' or '.join(missing)}.json; expected a complete run")
    vocab = Vocabulary.from_dict(artifacts["vocab"], source=f"{where}/vocab.json")
    if vocab.unk_index is None:
        raise UserError(
            f"the vocabulary of {where} has no unknown token (a character model); expected a "
            "word-level language model, whose <unk> takes the words it never saw"
        )
    state = {
        name: tensor
        for name, tensor in checkpoint.state_dict.items()
        if name == "embedding.weight" or name.startswith("rnn.")
    }
    if "embedding.weight" not in state:
        raise UserError(f"{where}/model.safetensors has no embedding.weight; expected an LM's")
    return EncoderWeights(where, config, tokenizer_from_dict(artifacts["tokenizer"]), vocab, state)


def encoder_settings(
    model: ClassifierConfig, lm: LanguageModelConfig, given: Mapping[str, Any], where: str
) -> ClassifierConfig:
    """The classifier settings with cell, sizes and layers from the language model ``lm`` and
    bidirectional off; a setting the user gave that does not fit is a UserError."""
    wanted = {name: getattr(lm, name) for name in _FROM_LM}
    wanted["bidirectional"] = False
    clash = [
        f"{name}={given[name]!r} (the language model has {value!r})"
        for name, value in wanted.items()
        if name in given and given[name] != value
    ]
    if clash:
        raise UserError(
            f"encoder_from={where} cannot fit {', '.join(clash)}; expected the language model's "
            "settings (leave them unset: they are taken from it)"
        )
    changed = {k: v for k, v in wanted.items() if getattr(model, k) != v}
    if changed:
        logger.info(
            "encoder from %s: %s (set from the language model)",
            where, ", ".join(f"{k} {v}" for k, v in wanted.items()),
        )  # fmt: skip
    return model.replace(**wanted)


def copy_encoder(model: SequenceClassifier, encoder: EncoderWeights) -> None:
    """Copy the language model's embedding and recurrent weights into ``model``, bit for bit."""
    targets = {"embedding.weight": model.embedding.weight}
    targets.update({f"rnn.{name}": tensor for name, tensor in model.rnn.state_dict().items()})
    missing = sorted(set(targets) - set(encoder.state))
    extra = sorted(set(encoder.state) - set(targets))
    if missing or extra:
        raise UserError(
            f"the recurrent layers of {encoder.path} do not fit the classifier: missing "
            f"{missing[:4]}, unexpected {extra[:4]}; expected a language model with the plain "
            "embedding and recurrent layers the classifier builds"
        )
    with torch.no_grad():
        for name, target in targets.items():
            source = encoder.state[name]
            if tuple(source.shape) != tuple(target.shape):
                raise UserError(
                    f"{encoder.path}: {name} has shape {tuple(source.shape)}; expected "
                    f"{tuple(target.shape)} for the classifier"
                )
            target.copy_(source)
