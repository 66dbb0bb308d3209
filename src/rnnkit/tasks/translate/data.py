"""The data of a translation run: its settings, the sentence pairs (from files or memory), the
learned tokenizer and vocabulary of each language, and the encoded pairs (source
``x_1..x_S <eos>``, target ``<bos> y_1..y_T <eos>``).

Splits: the data's own (Multi30k, a folder of ``train``/``val``/``test`` files); without a
validation split ``val_fraction`` of train is cut off for one (seeded). In-memory pairs have no
test split. A file given for evaluation (a .tsv, a prefix of two files) is scored whole.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from rnnkit.data.batching import SequenceDataset
from rnnkit.data.parallel import ParallelCorpus, load_parallel, parallel_corpus
from rnnkit.data.parallel_files import Pairs
from rnnkit.data.subword import SUBWORD_KINDS, SubwordTokenizer
from rnnkit.data.tokenize import tokenizer_from_dict
from rnnkit.data.vocab import BOS, EOS, Vocabulary
from rnnkit.errors import UserError
from rnnkit.settings import Settings
from rnnkit.tasks.base import text_list

__all__ = [
    "Side",
    "TranslateData",
    "build_side",
    "encode_pairs",
    "encode_sources",
    "evaluation_pairs",
    "in_memory",
    "load_corpus",
    "load_splits",
]

logger = logging.getLogger(__name__)


@dataclass
class TranslateData(Settings):
    """How a translation run reads and tokenizes its data (saved in config.json).

    Args:
        source: multi30k, a folder of <split>.<lang>[.gz] files, a prefix PATH of two
            line-aligned files PATH.<src> and PATH.<tgt>, or a .tsv of 'source<TAB>target' lines.
        src: the source language: the files' suffix (a DataFrame's source column).
        tgt: the target language (a DataFrame's target column).
        encoding: of the text files.
        tokens: the tokenizer learned on each side: bpe (byte-pair subwords), unigram, or word.
        src_vocab: source pieces learned.
        tgt_vocab: target pieces learned.
        min_freq: fewest occurrences of a merge or a word.
        max_length: leave out training pairs longer than this, in tokens.
        val_fraction: of train, cut off for validation when the data has no validation split.
        batch_size: sentence pairs per batch.
    """

    KIND: ClassVar[str] = "data setting"
    CHOICES: ClassVar[dict[str, Any]] = {"tokens": SUBWORD_KINDS}
    RANGES: ClassVar[dict[str, str]] = {
        "src_vocab": "[16, inf)",
        "tgt_vocab": "[16, inf)",
        "min_freq": "[1, inf)",
        "max_length": "[1, inf)",
        "val_fraction": "(0, 1)",
        "batch_size": "[1, inf)",
    }

    source: str | None = None
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
        tokenizer = tokenizer_from_dict(artifacts[f"{prefix}_tokenizer"])
        if not isinstance(tokenizer, SubwordTokenizer):
            raise UserError(f"the checkpoint's {prefix} tokenizer is not a learned tokenizer")
        vocab = Vocabulary.from_dict(artifacts[f"{prefix}_vocab"], f"{prefix}_vocab.json")
        needed = ("unk", "bos", "eos")
        missing = [name for name in needed if getattr(vocab, f"{name}_index") is None]
        if missing:
            raise UserError(
                f"the checkpoint's {prefix}_vocab.json has no {', '.join(missing)} token; expected "
                "the pad, unk, bos and eos tokens a translation vocabulary holds"
            )
        return cls(tokenizer, vocab)


def load_corpus(data: TranslateData, seed: int = 0, *, cut: bool = True) -> ParallelCorpus:
    """The pairs of ``data.source`` by split; ``cut=False``: no validation split cut off."""
    corpus = load_parallel(
        data.source, data.src, data.tgt, encoding=data.encoding,
        val_fraction=data.val_fraction if cut else None, seed=seed,
    )  # fmt: skip
    logger.info("data: %s", corpus.summary())
    return corpus


def in_memory(X: Any, y: Any, data: TranslateData, what: str = "the data") -> Pairs:
    """(sources, targets) given in memory: ``X`` the source sentences and ``y`` the target ones
    (lists, NumPy arrays, pandas Series); or, with ``y`` None, a list of (source, target) tuples
    or a DataFrame with the columns ``data.src`` and ``data.tgt``."""
    if hasattr(X, "columns"):  # a pandas DataFrame
        missing = [c for c in (data.src, data.tgt) if c not in X.columns]
        if y is not None or missing:
            raise UserError(
                f"{what}: expected a DataFrame with the columns {data.src!r} and {data.tgt!r} "
                f"(set src= and tgt=) and no y, got columns {list(X.columns)}"
            )
        X, y = X[data.src], X[data.tgt]
    if y is None:
        rows = X.tolist() if hasattr(X, "tolist") else list(X)
        if not all(isinstance(row, (tuple, list)) and len(row) == 2 for row in rows):
            raise UserError(
                f"{what}: expected (source, target) pairs, or source sentences X and target "
                "sentences y"
            )
        X, y = [s for s, _ in rows], [t for _, t in rows]
    pairs = (text_list(X, "source sentence"), text_list(y, "target sentence"))
    if len(pairs[0]) != len(pairs[1]):
        raise UserError(f"{what}: expected one target per source sentence, got "
                        f"{len(pairs[0])} sources and {len(pairs[1])} targets")  # fmt: skip
    return pairs


def _validation(validation: Any, data: TranslateData) -> Pairs:
    """``validation_data``: a tuple ``(X, y)``, a list of (source, target) pairs, or a
    DataFrame."""
    if isinstance(validation, tuple) and len(validation) == 2:
        return in_memory(*validation, data, "the validation data")
    return in_memory(validation, None, data, "the validation data")


def load_splits(
    data: TranslateData, X: Any = None, y: Any = None, validation: Any = None, seed: int = 0
) -> ParallelCorpus:
    """The pairs by split of ``data.source`` or of in-memory ``X``, ``y``; ``validation`` data
    (in the forms of ``in_memory``) replaces the validation split cut from train."""
    if X is not None:
        splits = {"train": in_memory(X, y, data, "the training data")}
        origin = "in-memory data"
    else:
        corpus = load_corpus(data, seed, cut=validation is None)
        splits, origin = dict(corpus.splits), corpus.origin
    if validation is not None:
        splits["val"] = _validation(validation, data)
    corpus = parallel_corpus(origin, data.src, data.tgt, splits, val_fraction=data.val_fraction,
                             seed=seed)  # fmt: skip
    if X is not None or validation is not None:
        logger.info("data: %s", corpus.summary())
    return corpus


def evaluation_pairs(
    data: TranslateData, source: str | None, split: str, seed: int = 0
) -> tuple[Pairs, str, str]:
    """(pairs, split name, where from) to score: a file given as ``source`` (a .tsv, a prefix of
    two files) whole, as split "all"; ``split`` of a dataset with its own splits, or of the
    training data cut the way training cut it."""
    if source is not None and source != data.source:
        data = data.replace(source=source)
        whole = load_corpus(data, seed, cut=False)
        if list(whole.splits) == ["train"]:  # one file: all of it
            return whole.splits["train"], "all", source
    elif data.source is None:
        raise UserError(
            "the model was trained on in-memory data; expected sentence pairs to evaluate "
            "(evaluate(X, y)) or data='NAME or PATH'"
        )
    corpus = load_corpus(data, seed)
    if split not in corpus.splits:
        raise UserError(
            f"{data.source} has no {split} split; expected one of {', '.join(corpus.splits)}"
        )
    return corpus.splits[split], split, data.source


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
    src: Side, tgt: Side, pairs: Pairs, max_length: int | None, what: str
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
        raise UserError(f"no {what} pairs left; expected at least one")
    return SequenceDataset([torch.tensor(s) for s in sources], [torch.tensor(t) for t in targets])
