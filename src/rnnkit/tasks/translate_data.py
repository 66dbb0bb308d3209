"""The data of a translation run: its settings, the learned tokenizers and vocabularies, and the
encoded pairs (source ``x_1..x_S <eos>``, target ``<bos> y_1..y_T <eos>``)."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, fields
from typing import Any

import torch

from rnnkit.data.batching import SequenceDataset
from rnnkit.data.parallel import ParallelCorpus, load_parallel
from rnnkit.data.subword import SUBWORD_KINDS, SubwordTokenizer
from rnnkit.data.vocab import BOS, EOS, Vocabulary
from rnnkit.errors import UserError

__all__ = [
    "Side",
    "TranslateData",
    "build_side",
    "encode_pairs",
    "encode_sources",
    "load_corpus",
]

logger = logging.getLogger(__name__)


@dataclass
class TranslateData:
    """How a translation run reads and tokenizes its data (saved in config.json)."""

    source: str
    src: str = "de"
    tgt: str = "en"
    encoding: str = "utf-8"
    tokens: str = "bpe"
    src_vocab: int = 8000
    tgt_vocab: int = 6000
    min_freq: int = 2
    max_length: int = 100
    val_fraction: float = 0.05
    batch_size: int = 64

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TranslateData:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})

    def check(self) -> None:
        if self.tokens not in SUBWORD_KINDS:
            raise UserError(
                f"--tokens must be one of {', '.join(SUBWORD_KINDS)}, got {self.tokens}"
            )
        for name in ("src_vocab", "tgt_vocab"):
            if getattr(self, name) < 16:
                raise UserError(f"--{name.replace('_', '-')} must be at least 16")
        for name in ("min_freq", "max_length", "batch_size"):
            if getattr(self, name) < 1:
                raise UserError(f"--{name.replace('_', '-')} must be at least 1")
        if not 0 < self.val_fraction < 1:
            raise UserError(f"--val-fraction must be in (0, 1), got {self.val_fraction}")


@dataclass
class Side:
    """One language of a run: its tokenizer and vocabulary."""

    tokenizer: SubwordTokenizer
    vocab: Vocabulary

    def encode(self, texts: list[str]) -> list[list[int]]:
        """Token indices of each text (no ``<bos>``/``<eos>``)."""
        return [self.vocab.encode(pieces) for pieces in self.tokenizer.batch(texts)]

    def decode(self, ids: list[int]) -> str:
        """The detokenized text of ``ids`` (up to ``<eos>``; padding and ``<bos>`` dropped)."""
        return self.tokenizer.detokenize(self.vocab.decode(ids))

    def to_artifacts(self, prefix: str) -> dict[str, Any]:
        return {f"{prefix}_tokenizer": self.tokenizer.to_dict(),
                f"{prefix}_vocab": self.vocab.to_dict()}  # fmt: skip

    @classmethod
    def from_artifacts(cls, artifacts: dict[str, Any], prefix: str) -> Side:
        from rnnkit.data.tokenize import tokenizer_from_dict

        tokenizer = tokenizer_from_dict(artifacts[f"{prefix}_tokenizer"])
        if not isinstance(tokenizer, SubwordTokenizer):
            raise UserError(f"the checkpoint's {prefix} tokenizer is not a learned tokenizer")
        return cls(tokenizer, Vocabulary.from_dict(artifacts[f"{prefix}_vocab"]))


def load_corpus(data: TranslateData, seed: int = 0) -> ParallelCorpus:
    corpus = load_parallel(
        data.source, data.src, data.tgt, encoding=data.encoding,
        val_fraction=data.val_fraction, seed=seed,
    )  # fmt: skip
    logger.info("data: %s", corpus.summary())
    return corpus


def build_side(texts: list[str], data: TranslateData, size: int) -> Side:
    """Learn a tokenizer on ``texts`` (the training side) and its vocabulary."""
    tokenizer = SubwordTokenizer.train(
        texts, kind=data.tokens, vocab_size=size, min_freq=data.min_freq
    )
    vocab = Vocabulary.build(tokenizer.batch(texts), bos=BOS, eos=EOS)
    return Side(tokenizer, vocab)


def encode_sources(side: Side, texts: list[str]) -> list[list[int]]:
    """Source indices with ``<eos>`` appended (an empty text is just ``<eos>``)."""
    eos = side.vocab.eos_index
    return [ids + [eos] for ids in side.encode(texts)]


def encode_pairs(
    src: Side, tgt: Side, pairs: tuple[list[str], list[str]], max_length: int | None, what: str
) -> SequenceDataset:
    """A dataset of (source, ``<bos>`` target ``<eos>``); with ``max_length``, pairs longer than
    that on either side (in tokens) are left out (training only)."""
    sources = encode_sources(src, pairs[0])
    bos, eos = tgt.vocab.bos_index, tgt.vocab.eos_index
    targets = [[bos, *ids, eos] for ids in tgt.encode(pairs[1])]
    if max_length is not None:
        keep = [
            i for i, (s, t) in enumerate(zip(sources, targets))
            if len(s) <= max_length + 1 and len(t) <= max_length + 2
        ]  # fmt: skip
        if len(keep) < len(sources):
            logger.info("left out %d %s pair(s) longer than %d tokens",
                        len(sources) - len(keep), what, max_length)  # fmt: skip
        sources = [sources[i] for i in keep]
        targets = [targets[i] for i in keep]
    if not sources:
        raise UserError(f"no {what} pairs left to train on; expected at least one")
    return SequenceDataset([torch.tensor(s) for s in sources], [torch.tensor(t) for t in targets])
