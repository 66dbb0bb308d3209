"""Labelled text for classification: load, split, tokenise and encode, reproducibly.

``TextData`` records every choice (source, columns, encoding, tokenizer, vocabulary limits,
truncation, split fractions and seed) so that ``rnnkit evaluate`` rebuilds exactly the splits
the model was trained and selected on. Splits: the data's own test split where it has one
(IMDb), otherwise a stratified ``test_fraction`` cut first; then a stratified ``val_fraction``
of the rest for model selection, or with ``folds`` > 1 one of that many stratified folds.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from rnnkit.data import (
    LabeledTexts,
    LabelEncoder,
    SequenceDataset,
    Vocabulary,
    check_num_classes,
    load_dataset,
    train_val_fold,
    train_val_split,
)
from rnnkit.data.tokenize import Tokenizer
from rnnkit.errors import UserError
from rnnkit.settings import Settings

__all__ = [
    "TextData",
    "encode_texts",
    "fit_vocabulary",
    "evaluation_split",
    "in_memory",
    "load_splits",
]

logger = logging.getLogger(__name__)


@dataclass
class TextData(Settings):
    """How the data of a classification run is read and prepared (saved in config.json).

    Args:
        source: imdb, gop-debate, or a path to an aclImdb tree or tarball, or a CSV/TSV file.
        text_column: the CSV/TSV (or DataFrame) column holding the text (default: text).
        label_column: the CSV/TSV (or DataFrame) column holding the label (default: label).
        encoding: of a CSV/TSV file (default: utf-8; latin-1 for gop-debate).
        delimiter: of a CSV/TSV file (default: from the extension).
        level: tokens: words or characters.
        max_vocab: vocabulary size: the most frequent tokens kept.
        min_freq: the rarest token kept occurs this often in training.
        max_length: truncate texts to this many tokens (none: keep all).
        keep: which part of a long text is kept.
        val_fraction: cut from train (stratified, seeded) to select the best epoch.
        test_fraction: cut first from data without a test split; 0 keeps no test split (all of
            the data trains and validates, e.g. when the test set is kept elsewhere).
        split_seed: seeds the validation and test cuts.
        folds: k-fold cross-validation: above 1, the validation split is one of this many
            stratified folds of the training data, the one fold names (val_fraction unused);
            rnnkit search --cv K trains each trial on every fold.
        fold: which fold validates, 0 to folds - 1.
        limit: use at most N examples of each split (quick runs).
        batch_size: texts per batch.
        balance: class weights in the loss: "none" (plain cross-entropy, the default: it
            maximises accuracy, the metric that selects the best epoch), "balanced" (each
            class weighs n / (classes * n_class), so rare classes count as much as common ones:
            better macro-F1, worse accuracy), or "auto": balanced when the largest class of the
            training split is more than 1.5 times the smallest. GOP tweets (the course's
            training part, 4 epochs): validation accuracy 0.630 with auto, 0.663 with none.
    """

    KIND: ClassVar[str] = "data setting"
    CHOICES: ClassVar[dict[str, Any]] = {
        "level": ("word", "char"),
        "keep": ("start", "end"),
        "balance": ("none", "balanced", "auto"),
    }
    RANGES: ClassVar[dict[str, str]] = {
        "max_vocab": "[2, inf)",
        "min_freq": "[1, inf)",
        "max_length": "[1, inf)",
        "val_fraction": "(0, 1)",
        "test_fraction": "[0, 1)",
        "split_seed": "[0, inf)",
        "folds": "[1, inf)",
        "fold": "[0, inf)",
        "limit": "[1, inf)",
        "batch_size": "[1, inf)",
    }

    source: str | None = None
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
    folds: int = 1
    fold: int = 0
    limit: int | None = None
    batch_size: int = 64
    balance: str = "none"

    def check(self) -> None:
        if self.delimiter is not None and len(self.delimiter) != 1:
            raise UserError(f"delimiter must be one character, got {self.delimiter!r}")
        if self.fold >= self.folds:
            raise UserError(f"fold {self.fold} of {self.folds} folds; expected 0 <= fold < folds")
        if self.val_fraction + self.test_fraction >= 1:
            raise UserError(
                "val_fraction + test_fraction must be below 1, got "
                f"{self.val_fraction} + {self.test_fraction}"
            )

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


def in_memory(X: Any, y: Any, data: TextData, what: str = "the data") -> LabeledTexts:
    """Texts and labels given in memory: lists, NumPy arrays, pandas Series, or a DataFrame
    (its ``text_column`` and ``label_column``, "text" and "label" by default) with ``y`` None."""
    if hasattr(X, "columns"):  # a pandas DataFrame
        text_column, label_column = data.text_column or "text", data.label_column or "label"
        for column in (text_column,) + ((label_column,) if y is None else ()):
            if column not in X.columns:
                raise UserError(
                    f"{what} has no column {column!r}; expected one of {list(X.columns)} "
                    "(set text_column= and label_column=)"
                )
        X, y = X[text_column], (X[label_column] if y is None else y)
    if isinstance(X, str):
        raise UserError(f"{what}: expected a list of texts, got one string")
    texts, labels = _as_list(X), _as_list(y) if y is not None else None
    if labels is None:
        raise UserError(f"{what}: expected labels (y) beside the texts")
    if len(texts) != len(labels):
        raise UserError(f"{what}: expected one label per text, got {len(texts)} texts and "
                        f"{len(labels)} labels")  # fmt: skip
    bad = next((i for i, t in enumerate(texts) if not isinstance(t, str)), None)
    if bad is not None:
        raise UserError(f"{what}: text {bad} is a {type(texts[bad]).__name__}; expected str")
    return LabeledTexts(texts, labels, source="in-memory data")


def _as_list(values: Any) -> list[Any]:
    """A plain list with Python scalars (NumPy and pandas values become str/int/float)."""
    values = values.tolist() if hasattr(values, "tolist") else list(values)
    return [v.item() if hasattr(v, "item") else v for v in values]


def _labelled(data: TextData) -> dict[str, LabeledTexts]:
    if data.source is None:
        raise UserError(
            "the run was trained on in-memory data; expected it again (fit(X, y, ...)) or "
            "data='NAME or PATH'"
        )
    loaded = load_dataset(data.source, **data.loader_options())
    if not isinstance(loaded, dict) or "train" not in loaded:
        raise UserError(
            f"{data.source!r} is not labelled text; expected an IMDb tree/archive or a CSV/TSV "
            "with a text and a label column"
        )
    return loaded


def load_splits(
    data: TextData, X: Any = None, y: Any = None, validation: Any = None
) -> dict[str, LabeledTexts]:
    """``{"train", "val", "test"}`` splits, as ``data`` describes them, of ``data.source`` or of
    in-memory ``X``, ``y`` (with ``validation`` data, or a val split cut from them; no test)."""
    if X is not None:
        train_full = in_memory(X, y, data, "the training data")
        test = LabeledTexts([], [], source="in-memory data")
    else:
        loaded = _labelled(data)
        train_full = loaded["train"]
        if "test" in loaded:
            test = loaded["test"]
        elif data.test_fraction == 0:
            test = LabeledTexts([], [], source=train_full.source)
        else:
            train_full, test = train_val_split(train_full, data.test_fraction, seed=data.split_seed)
    if validation is not None:
        pair = (validation, None) if hasattr(validation, "columns") else tuple(validation)
        train, val = train_full, in_memory(*pair, data, "the validation data")
    elif data.folds > 1:
        train, val = train_val_fold(train_full, data.folds, data.fold, seed=data.split_seed)
    else:
        train, val = train_val_split(train_full, data.val_fraction, seed=data.split_seed)
    splits = {"train": train, "val": val, "test": test}
    splits = {
        name: _limited(split, data.limit, data.split_seed + i)
        for i, (name, split) in enumerate(splits.items())
    }
    where = data.source or "the data"
    check_num_classes(splits["train"].labels, source=f"the training split of {where}")
    for name in ("train", "val"):
        if not len(splits[name]):
            raise UserError(
                f"the {name} split of {where} is empty ({len(train_full)} examples in all, "
                f"val_fraction {data.val_fraction}); expected more data, a larger val_fraction, "
                "or validation data"
            )
    return splits


def evaluation_split(data: TextData, source: str | None, split: str) -> tuple[LabeledTexts, str]:
    """The texts to score and their name: a file given as ``source`` whole; a dataset with its
    own splits (IMDb), or the training data, cut the way training cut it."""
    if source is not None and source != data.source:
        other = data.replace(source=source)
        loaded = _labelled(other)
        if "test" not in loaded:  # one file: all of it
            return loaded["train"], "all"
        return load_splits(other)[split], split
    if data.source is None:
        raise UserError(
            "the model was trained on in-memory data; expected texts and labels to evaluate "
            "(evaluate(X, y)) or data='NAME or PATH'"
        )
    texts = load_splits(data)[split]
    if split == "test" and not len(texts) and data.test_fraction == 0:
        raise UserError(
            f"the run kept no test split of {data.source} (test_fraction 0); expected "
            "--split val or test data (--data PATH)"
        )
    return texts, split


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
    if not encoded:
        raise UserError(f"there are no {what}; expected at least one")
    if not kept:
        raise UserError(f"every one of the {len(encoded)} {what} is empty after tokenisation")
    return SequenceDataset(
        [encoded[i] for i in kept],
        encoder.encode([split.labels[i] for i in kept]),
        max_length=data.max_length,
        keep=data.keep,
    )
