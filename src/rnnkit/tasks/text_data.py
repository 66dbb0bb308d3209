"""Labelled text for classification: load, split, tokenise and encode, reproducibly.

``TextData`` records every choice (source, columns, encoding, tokenizer, vocabulary limits,
truncation, split fractions and seed) so that ``rnnkit evaluate`` rebuilds exactly the splits
the model was trained and selected on. Splits: the data's own test split where it has one
(IMDb), otherwise a stratified ``test_fraction`` cut first; then a stratified ``val_fraction``
of the rest for model selection.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, fields

import numpy as np

from rnnkit.data import (
    LabeledTexts,
    LabelEncoder,
    SequenceDataset,
    Vocabulary,
    check_num_classes,
    load_dataset,
    train_val_split,
)
from rnnkit.data.tokenize import Tokenizer
from rnnkit.errors import UserError

__all__ = ["TextData", "encode_texts", "fit_vocabulary", "load_splits"]

logger = logging.getLogger(__name__)


@dataclass
class TextData:
    """How the data of a classification run was read and prepared (saved in config.json)."""

    source: str
    text_column: str | None = None
    label_column: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    level: str = "word"
    max_vocab: int = 30000
    min_freq: int = 2
    max_length: int | None = 400
    keep: str = "start"
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    split_seed: int = 0
    limit: int | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> TextData:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})

    def loader_options(self) -> dict:
        """The options given to the dataset loader (only those set; the registry has defaults)."""
        names = ("text_column", "label_column", "encoding", "delimiter")
        return {name: getattr(self, name) for name in names if getattr(self, name) is not None}


def _limited(split: LabeledTexts, limit: int | None, seed: int) -> LabeledTexts:
    """A seeded random subset of at most ``limit`` examples (all of them without a limit)."""
    if limit is None or len(split) <= limit:
        return split
    order = np.random.default_rng(seed).permutation(len(split))[:limit]
    return split.subset(sorted(order.tolist()))


def load_splits(data: TextData) -> dict[str, LabeledTexts]:
    """``{"train", "val", "test"}`` splits of ``data.source`` as ``TextData`` describes them."""
    loaded = load_dataset(data.source, **data.loader_options())
    if not isinstance(loaded, dict) or "train" not in loaded:
        raise UserError(
            f"{data.source!r} is not labelled text; expected an IMDb tree/archive or a CSV/TSV "
            "with a text and a label column"
        )
    if "test" in loaded:
        train_full, test = loaded["train"], loaded["test"]
    else:
        train_full, test = train_val_split(
            loaded["train"], data.test_fraction, seed=data.split_seed
        )
    train, val = train_val_split(train_full, data.val_fraction, seed=data.split_seed)
    splits = {"train": train, "val": val, "test": test}
    splits = {
        name: _limited(split, data.limit, data.split_seed + i)
        for i, (name, split) in enumerate(splits.items())
    }
    check_num_classes(splits["train"].labels, source=f"the training split of {data.source}")
    return splits


def fit_vocabulary(
    split: LabeledTexts, tokenizer: Tokenizer, data: TextData
) -> tuple[Vocabulary, LabelEncoder]:
    """The vocabulary (within ``data``'s limits) and the label encoder of a training split."""
    tokens = (tokenizer(text) for text in split.texts)
    vocab = Vocabulary.build(tokens, max_size=data.max_vocab, min_freq=data.min_freq)
    return vocab, LabelEncoder.fit(split.labels)


def encode_texts(
    split: LabeledTexts,
    tokenizer: Tokenizer,
    vocab: Vocabulary,
    encoder: LabelEncoder,
    data: TextData,
    *,
    what: str = "texts",
) -> SequenceDataset:
    """Tokenise, encode and truncate a split (dropping texts with no tokens, said once)."""
    encoded = [vocab.encode(tokenizer(text)) for text in split.texts]
    kept = [i for i, ids in enumerate(encoded) if ids]
    if len(kept) < len(encoded):
        logger.warning(
            "skipped %d of %d %s with no tokens", len(encoded) - len(kept), len(encoded), what
        )
    if not kept:
        raise UserError(f"every one of the {len(encoded)} {what} is empty after tokenisation")
    return SequenceDataset(
        [encoded[i] for i in kept],
        encoder.encode([split.labels[i] for i in kept]),
        max_length=data.max_length,
        keep=data.keep,
    )
