"""The language-model task's data: its settings, corpora and their splits, tokenisation and the
vocabulary.

Sources (``data=``, ``--data``):

- ``tinyshakespeare``: shipped inside the package (no download); one file, cut into splits;
- ``ptb``: Penn Treebank (Mikolov's version) with its own train/valid/test files, found like every
  registered dataset ($RNNKIT_DATA, the cache, a download);
- ``imdb-unsup``: IMDb's 50,000 unlabelled and 25,000 training reviews (never its test reviews,
  which a classifier fine-tuned from the model is scored on), one review a line (its newlines made
  spaces), the reviews in a fixed shuffled order so that the validation part cut from the end is
  a random sample of them; ``max_documents`` keeps the first N of that order. Words are
  tokenised as the text classifier tokenises them (lower case, ``<br />`` removed), so a
  classifier can start from the model's vocabulary and weights;
- a UTF-8 text file (``.gz`` too): cut into splits, the first 90% train and the last 10%
  validation by default (``val_fraction``, ``test_fraction``);
- a folder: its split files when it has them (names holding ``train``, ``valid``/``val``/``dev``
  and optionally ``test``, as PTB and WikiText do), else every text file in it, in name order,
  joined as one corpus and cut like a single file;
- in memory (``fit(X)``): a string, or a list of documents joined with line ends, cut like a
  single file unless validation text is given.

Levels: ``char`` (one token per character; the vocabulary is every character of the corpus, so
there is no unknown token) and ``word`` (whitespace tokens for PTB, which is already tokenised,
else words and punctuation; each line ends with ``<eos>``, as in Zaremba et al.; the vocabulary
comes from the training split, the rest maps to ``<unk>``).
"""

from __future__ import annotations

import logging
import os
import random
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch

from rnnkit.data.files import read_text_file
from rnnkit.data.imdb import read_imdb
from rnnkit.data.registry import DATASETS
from rnnkit.data.resolve import resolve
from rnnkit.data.tokenize import Tokenizer, get_tokenizer
from rnnkit.data.vocab import EOS, UNK, Vocabulary
from rnnkit.errors import UserError
from rnnkit.settings import Settings
from rnnkit.tasks.base import text_list

__all__ = [
    "IMDB_CORPUS",
    "IN_MEMORY",
    "LEVELS",
    "LM_DATASETS",
    "Corpus",
    "LMData",
    "as_text",
    "build_vocabulary",
    "data_source",
    "decode_tokens",
    "encode_text",
    "evaluation_text",
    "imdb_reviews_text",
    "load_corpus",
    "make_tokenizer",
    "read_corpus",
    "warmup_ids",
]

logger = logging.getLogger(__name__)

LEVELS = ("char", "word")
SPLITS = ("train", "val", "test")
IN_MEMORY = "in-memory text"
IMDB_CORPUS = "imdb-unsup"
LM_DATASETS = ("tinyshakespeare", "ptb", IMDB_CORPUS)
_IMDB_ORDER_SEED = 0  # the fixed shuffle of imdb-unsup's reviews
_SPLIT_PATTERNS = {
    "train": re.compile(r"train", re.I),
    "val": re.compile(r"valid|(^|[._-])val([._-]|$)|(^|[._-])dev([._-]|$)", re.I),
    "test": re.compile(r"test", re.I),
}
_TEXT_SUFFIXES = {".txt", ".text", ".tokens", ".md", ".raw", ".gz", ""}


@dataclass
class LMData(Settings):
    """How a language-model run reads and lays out its data (saved in config.json).

    Args:
        source: tinyshakespeare, ptb, a UTF-8 text file, or a folder of text files.
        level: tokens: characters or words.
        val_fraction: of a single text, the last part, to select the best epoch.
        test_fraction: of a single text, cut after the validation part.
        encoding: of the text files.
        max_vocab: words: the most frequent kept (none: all).
        min_freq: words: the rarest kept occurs this often in training.
        seq_length: BPTT window in steps.
        batch_size: parallel training streams.
        eval_batch_size: parallel validation streams.
        max_documents: imdb-unsup: only the first N reviews of its fixed shuffled order (none:
            all 75,000), for quick runs.
    """

    KIND: ClassVar[str] = "data setting"
    CHOICES: ClassVar[dict[str, Any]] = {"level": LEVELS}
    RANGES: ClassVar[dict[str, str]] = {
        "val_fraction": "(0, 1)",
        "test_fraction": "[0, 1)",
        "max_vocab": "[4, inf)",
        "min_freq": "[1, inf)",
        "seq_length": "[1, inf)",
        "batch_size": "[1, inf)",
        "eval_batch_size": "[1, inf)",
        "max_documents": "[2, inf)",
    }

    source: str | None = None
    level: str = "char"
    val_fraction: float = 0.1
    test_fraction: float = 0.0
    encoding: str = "utf-8"
    max_vocab: int | None = None
    min_freq: int = 1
    seq_length: int = 100
    batch_size: int = 32
    eval_batch_size: int = 16
    max_documents: int | None = None

    def check(self) -> None:
        check_fractions(self.val_fraction, self.test_fraction)
        if self.max_documents is not None and self.source not in (None, IMDB_CORPUS):
            raise UserError(
                f"max_documents counts the reviews of {IMDB_CORPUS}; expected no max_documents "
                f"for the data {self.source!r}"
            )


def check_fractions(val_fraction: float, test_fraction: float) -> None:
    """The fractions cut from a single text leave some of it to train on."""
    if val_fraction + test_fraction >= 1:
        raise UserError(
            f"val_fraction {val_fraction} + test_fraction {test_fraction} leave nothing to "
            "train on; expected a sum below 1"
        )


@dataclass
class Corpus:
    """The text of each split (``train`` and ``val`` always, ``test`` when there is one).

    Attributes:
        texts: split -> text.
        source: what was read, for messages and ``config.json``.
        own_splits: whether the splits are the data's own (PTB's files, validation text given)
            rather than cut from one text.
    """

    texts: dict[str, str]
    source: str
    own_splits: bool

    def summary(self) -> str:
        sizes = ", ".join(f"{k} {len(v):,} chars" for k, v in self.texts.items())
        how = "its own splits" if self.own_splits else "contiguous cuts"
        return f"{self.source}: {sizes} ({how})"


def _cut(text: str, val_fraction: float, test_fraction: float) -> dict[str, str]:
    if val_fraction <= 0:
        raise UserError(f"val_fraction must be > 0 for a single text, got {val_fraction}")
    check_fractions(val_fraction, test_fraction)
    train = 1 - val_fraction - test_fraction
    fractions = [train, val_fraction] + ([test_fraction] if test_fraction > 0 else [])
    # cut the text (not tokens), as contiguous_split cuts tokens: the first 90% and the last 10%
    texts, start = {}, 0
    for i, (split, fraction) in enumerate(zip(SPLITS, fractions)):
        stop = len(text) if i == len(fractions) - 1 else start + int(len(text) * fraction)
        texts[split] = text[start:stop]
        start = stop
    for split, part in texts.items():
        if not part.strip():
            raise UserError(
                f"the {split} split is empty (the text has {len(text)} characters); expected a "
                "longer text or larger fractions"
            )
    return texts


def _split_files(folder: Path) -> dict[str, Path] | None:
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    found: dict[str, Path] = {}
    for split, pattern in _SPLIT_PATTERNS.items():
        matches = [p for p in files if pattern.search(p.name)]
        if len(matches) > 1:
            raise UserError(
                f"{folder}: several {split} files ({', '.join(p.name for p in matches)}); "
                f"expected one file per split"
            )
        if matches:
            found[split] = matches[0]
    if "train" in found and "val" in found:
        return found
    return None


def _read_folder(folder: Path, encoding: str) -> tuple[dict[str, str] | None, str]:
    """(split texts, "") for a folder of split files; (None, joined text) otherwise."""
    splits = _split_files(folder)
    if splits is not None:
        return {s: read_text_file(p, encoding) for s, p in splits.items()}, ""
    files = sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in _TEXT_SUFFIXES
    )
    if not files:
        raise UserError(f"{folder}: no text files found; expected .txt files or split files")
    texts = [read_text_file(p, encoding) for p in files]
    return None, "\n".join(t if t.endswith("\n") else t + "\n" for t in texts)


def imdb_reviews_text(path: Path, max_documents: int | None = None) -> str:
    """IMDb's unlabelled and training reviews at ``path`` as one text, a review a line, in a
    fixed shuffled order (the first ``max_documents`` of it)."""
    loaded = read_imdb(path, splits=DATASETS[IMDB_CORPUS].options["splits"])
    reviews = [text for split in loaded.values() for text in split.texts]
    random.Random(_IMDB_ORDER_SEED).shuffle(reviews)
    if max_documents is not None:
        reviews = reviews[:max_documents]
    return "".join(" ".join(review.split("\n")) + "\n" for review in reviews)


def _read_source(
    data: str, encoding: str, max_documents: int | None = None
) -> tuple[dict[str, str] | None, str]:
    """(the data's own split texts, "") or (None, its one text) for a name or a path."""
    if data in DATASETS:
        if data not in LM_DATASETS:
            raise UserError(
                f"dataset {data!r} is not a language-modelling corpus; expected "
                f"{', '.join(LM_DATASETS)}, a text file or a folder of text files"
            )
        path = resolve(data)
        if data == IMDB_CORPUS:
            return None, imdb_reviews_text(path, max_documents)
    else:
        path = Path(data).expanduser()
        if not path.exists():
            raise UserError(
                f"{data!r} is neither a known corpus ({', '.join(LM_DATASETS)}) nor an existing "
                "file or folder; expected one of those"
            )
    if path.is_dir():
        splits, text = _read_folder(path, encoding)
        if splits is not None:
            for split, part in splits.items():
                if not part.strip():
                    raise UserError(f"{path}: the {split} file is empty; expected text")
            return splits, ""
    else:
        text = read_text_file(path, encoding)
    if not text.strip():
        raise UserError(f"{path}: the text is empty; expected a corpus to learn from")
    return None, text


def load_corpus(
    data: str,
    *,
    val_fraction: float = 0.1,
    test_fraction: float = 0.0,
    encoding: str = "utf-8",
    max_documents: int | None = None,
) -> Corpus:
    """Read ``data`` (a registered name or a path) and cut it into splits (module docstring)."""
    splits, text = _read_source(data, encoding, max_documents)
    if splits is not None:
        return Corpus(splits, data, own_splits=True)
    return Corpus(_cut(text, val_fraction, test_fraction), data, own_splits=False)


def as_text(X: Any, what: str) -> str:
    """In-memory text: a string, or a list of documents joined with line ends."""
    if not isinstance(X, str):
        try:
            X = "\n".join(text_list(X, "document"))
        except UserError as error:
            raise UserError(f"{what}: {error}") from None
    if not X.strip():
        raise UserError(f"{what} is empty; expected a string or a list of documents")
    return X


def read_corpus(data: LMData, X: Any = None, validation: Any = None) -> Corpus:
    """The splits of ``data.source`` or of in-memory text ``X``; with ``validation`` text, all
    of the training text (or the data's own training split) trains and ``validation`` selects."""
    if X is None:
        if data.source is None:
            raise UserError(
                "the run was trained on in-memory text; expected that text again: fit(text, "
                "resume=True, out=...)"
            )
        if validation is None:
            return load_corpus(
                data.source,
                val_fraction=data.val_fraction,
                test_fraction=data.test_fraction,
                encoding=data.encoding,
                max_documents=data.max_documents,
            )
        splits, text = _read_source(data.source, data.encoding, data.max_documents)
        where = data.source
    else:
        splits, text, where = None, as_text(X, "the training text"), IN_MEMORY
    if validation is not None:
        train = splits["train"] if splits is not None else text
        val = as_text(validation, "the validation text")
        return Corpus({"train": train, "val": val}, where, own_splits=True)
    return Corpus(_cut(text, data.val_fraction, data.test_fraction), where, own_splits=False)


def evaluation_text(data: LMData, X: Any, source: str | None, split: str) -> tuple[str, str, str]:
    """(text, split name, where) to score: in-memory ``X`` or a file given as ``source`` whole
    ("all"); a dataset with its own splits (ptb), or the training data, cut as training cut it."""
    if X is not None:
        return as_text(X, "the evaluation text"), "all", IN_MEMORY
    if source is not None and data_source(source) != data.source:
        where = data_source(source)
        splits, text = _read_source(where, data.encoding)
        if splits is None:
            return text, "all", where
        corpus = Corpus(splits, where, own_splits=True)
    elif data.source is None:
        raise UserError(
            "the model was trained on in-memory text; expected text to evaluate "
            "(evaluate(text)) or data='NAME or PATH'"
        )
    else:
        corpus = read_corpus(data)
    if split not in corpus.texts:
        raise UserError(
            f"{corpus.source} has no {split} split: it was cut into {', '.join(corpus.texts)}; "
            "expected one of those (train with test_fraction to keep a test part of a single "
            "text)"
        )
    return corpus.texts[split], split, corpus.source


def make_tokenizer(level: str, data: str | None) -> Tokenizer:
    """The tokenizer of a level: characters as they are; words whitespace-split for PTB."""
    if level not in LEVELS:
        raise UserError(f"level must be one of {', '.join(LEVELS)}, got {level!r}")
    if level == "char":
        return get_tokenizer("char")
    if data is not None and (data == "ptb" or Path(data).name.lower() == "ptb"):
        return get_tokenizer("whitespace")
    if data == IMDB_CORPUS:
        return get_tokenizer("word")  # the text classifier's: lower case, no <br />
    return get_tokenizer("word", lower=False, html=False)


def _tokens(text: str, tokenizer: Tokenizer, level: str) -> list[str]:
    if level == "char":
        return tokenizer(text)
    tokens: list[str] = []
    for line in text.split("\n")[: -1 if text.endswith("\n") else None]:
        tokens.extend(tokenizer(line))
        tokens.append(EOS)
    return tokens


def build_vocabulary(
    texts: Mapping[str, str],
    tokenizer: Tokenizer,
    level: str,
    *,
    max_size: int | None = None,
    min_freq: int = 1,
) -> Vocabulary:
    """The vocabulary of split ``texts``. Characters: every character of every split, no
    unknown token. Words: the training split's words (``max_size``/``min_freq``), with
    ``<unk>`` and ``<eos>``."""
    if level == "char":
        chars = sorted(set("".join(texts.values())))
        counts = Counter(texts["train"])
        # most frequent first, then the rest (characters only in val/test), all kept
        ranked = sorted(chars, key=lambda c: (-counts.get(c, 0), c))
        return Vocabulary(ranked, unk=None)
    counts = Counter(_tokens(texts["train"], tokenizer, level))
    return Vocabulary.from_counts(counts, max_size=max_size, min_freq=min_freq, unk=UNK, eos=EOS)


def encode_text(
    text: str,
    tokenizer: Tokenizer,
    vocab: Vocabulary,
    level: str,
    *,
    what: str = "the text",
    quote: bool = True,
) -> tuple[torch.Tensor, list[str]]:
    """Token ids ``(T,)`` of ``text`` and the distinct unknown tokens (mapped to ``<unk>``).

    Characters outside a character vocabulary raise a ``UserError`` naming them (``quote``, for
    text the user typed) or only where the first one is (a file's text: a data path read from an
    untrusted checkpoint may be any file, and an error message must not show its contents).
    """
    tokens = _tokens(text, tokenizer, level)
    unknown = sorted({t for t in tokens if t not in vocab})
    if vocab.unk_index is None and unknown and not quote:
        unseen = set(unknown)
        first = next((i for i, c in enumerate(text) if c in unseen), 0)
        line, column = text.count("\n", 0, first) + 1, first - text.rfind("\n", 0, first)
        raise UserError(
            f"{what} has {len(unknown)} distinct character(s) the model never saw, the first at "
            f"line {line}, column {column}; expected only characters of its "
            f"{len(vocab) - 1}-character vocabulary (is this the text the model was trained on?)"
        )
    if vocab.unk_index is None and unknown:
        shown = (
            ", ".join(  # a few only: the text may be a file that is not what it claims
                f"{c!r} (U+{ord(c):04X})" if len(c) == 1 else repr(c)[:20] for c in unknown[:5]
            )
            + (f", ... ({len(unknown) - 5} more)" if len(unknown) > 5 else "")
        )
        raise UserError(
            f"{what} has characters the model never saw: {shown}; expected only "
            f"characters of its {len(vocab) - 1}-character vocabulary"
        )
    return torch.tensor(vocab.encode(tokens), dtype=torch.long), unknown


def decode_tokens(ids: list[int], vocab: Vocabulary, level: str) -> str:
    """Text of token ids: characters joined; words joined by spaces, ``<eos>`` as a line end."""
    itos = vocab.itos
    if level == "char":
        return "".join(itos[i] for i in ids if i != vocab.pad_index)
    out: list[str] = []
    for i in ids:
        if i == vocab.pad_index:
            continue
        if i == vocab.eos_index:
            out.append("\n")
        else:
            if out and out[-1] != "\n":
                out.append(" ")
            out.append(itos[i])
    return "".join(out)


def warmup_ids(ids: torch.Tensor, vocab: Vocabulary, level: str, size: int = 200) -> list[int]:
    """The last ``size`` tokens or fewer of ``ids`` (a training split) that end a paragraph (a
    blank line), else a line: the context an unprimed sample starts after (see generate)."""
    line_end = vocab.eos_index if level == "word" else vocab._stoi.get("\n")
    tail = ids[-4 * size :].tolist()
    if line_end is None:
        return tail[-size:]
    ends = [i for i, t in enumerate(tail) if t == line_end]
    paragraphs = [i for i in ends if i > 0 and tail[i - 1] == line_end]
    stop = (paragraphs or ends or [len(tail) - 1])[-1] + 1
    return tail[max(0, stop - size) : stop]


def data_source(data: str) -> str:
    """How ``config.json`` records a data source: a registered name, else an absolute path."""
    return data if data in DATASETS else os.path.abspath(os.path.expanduser(data))
