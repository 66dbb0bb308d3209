"""Pretrained word vectors (word2vec, GloVe, fastText) for an embedding layer, and training them.

The formats users download:

- text with a header line ``count dim`` (word2vec text, fastText ``.vec``), then one
  ``word v_1 ... v_D`` line per word;
- text without a header (GloVe): the same lines, the dimension read from the first;
- word2vec binary (``.bin``): the header line, then per word ``word `` and D float32 values.

A name ending in ``.gz`` is read through gzip. The format is told from the name (``.bin``) and
the file itself: a first line of two integers is a header, and bytes after it that are not UTF-8
text make it binary. Binary files are read with gensim's ``KeyedVectors.load_word2vec_format``;
text is read here, line by line, keeping only the vocabulary's words (a 2-million-word fastText
file need not fit in memory) and checking every line's column count, which gensim does not
always do (a short line in a GloVe file passes it silently).

Filling an embedding matrix ``E`` (V, D) for a vocabulary::

    E[i] = vectors[token_i]            when the file has token_i (else its lowercase form)
    E[i] unchanged                     otherwise (the layer's own initialisation; padding stays 0)

``train_word_vectors`` fits word2vec (skip-gram or CBOW) on the user's own tokenised texts, so
that unlabelled text (e.g. IMDb's 50,000 unlabelled reviews) gives vectors without a download.
"""

from __future__ import annotations

import gzip
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rnnkit.data.vocab import Vocabulary
from rnnkit.errors import UserError

__all__ = [
    "VectorCoverage",
    "WordVectors",
    "fill_embedding",
    "tokenised",
    "read_word_vectors",
    "save_word_vectors",
    "train_word_vectors",
    "vectors_format",
]

logger = logging.getLogger(__name__)

_FORMAT_HELP = (
    "expected word vectors as text ('word v1 ... vD' lines of D numbers, with or without a "
    "'count dim' header line: word2vec, GloVe, fastText .vec) or word2vec binary"
)


def _gensim_keyed_vectors() -> Any:
    """gensim's ``KeyedVectors`` class, or a UserError saying how to install it."""
    try:
        from gensim.models import KeyedVectors
    except ImportError:
        raise UserError(
            "word vectors need gensim; expected it installed: pip install 'rnnkit[vectors]'"
        ) from None
    gensim_logger = logging.getLogger("gensim")
    if gensim_logger.level == logging.NOTSET:  # its progress lines are many; rnnkit says enough
        gensim_logger.setLevel(logging.WARNING)
    return KeyedVectors


def _open(path: Path):
    return gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")


def vectors_format(path: str | Path) -> tuple[bool, bool]:
    """``(binary, has_header)`` of a word-vector file, told from its name (``.bin``) and first
    bytes."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such word-vector file; {_FORMAT_HELP}")
    try:
        with _open(path) as stream:
            first = stream.readline(1 << 16)
            sample = stream.read(4096)
    except (OSError, EOFError) as error:
        raise UserError(f"{path}: cannot read it ({error}); {_FORMAT_HELP}") from None
    if not first.strip():
        raise UserError(f"{path}: the file is empty; {_FORMAT_HELP}")
    fields = first.split()
    has_header = len(fields) == 2 and all(f.isdigit() for f in fields)
    named_binary = ".bin" in path.suffixes[-2:] and path.suffixes[-1] in (".bin", ".gz")
    if named_binary or not has_header:
        return named_binary, has_header
    try:  # a partial character at the end of the sample is not a sign of binary data
        sample.decode("utf-8")
        binary = b"\0" in sample
    except UnicodeDecodeError as error:
        binary = error.start < len(sample) - 4
    return binary, True


class WordVectors:
    """Vectors of some words: ``vector_size``, ``word in vectors``, ``vectors[word]`` (D,)
    float32, and ``count``: how many words the file holds."""

    def __init__(self, vectors: dict[str, np.ndarray], vector_size: int, count: int) -> None:
        self.vectors = vectors
        self.vector_size = vector_size
        self.count = count

    def __contains__(self, word: object) -> bool:
        return word in self.vectors

    def __getitem__(self, word: str) -> np.ndarray:
        return self.vectors[word]

    def __len__(self) -> int:
        return len(self.vectors)


def read_word_vectors(path: str | Path, words: Iterable[str] | None = None) -> WordVectors:
    """The vectors of a word2vec/GloVe/fastText file (text or word2vec binary): all of them, or
    those of ``words`` (and their lowercase forms) only, to save memory.

    Text is read here, line by line: every line must hold a word and D values (D from the
    header, or from the first line); the values of the lines kept must be numbers. Binary
    files are read with gensim. A malformed file is one ``UserError`` naming the file (and the
    line).
    """
    path = Path(path)
    binary, has_header = vectors_format(path)
    wanted = None if words is None else {w for word in words for w in (word, word.lower())}
    if binary:
        vectors = _read_binary(path, wanted)
    else:
        vectors = _read_text(path, has_header, wanted)
    logger.info(
        "word vectors: %s words of dimension %d in %s", f"{vectors.count:,}",
        vectors.vector_size, path,
    )  # fmt: skip
    return vectors


def _read_binary(path: Path, wanted: set[str] | None) -> WordVectors:
    keyed_vectors = _gensim_keyed_vectors()
    try:
        loaded = keyed_vectors.load_word2vec_format(
            str(path), binary=True, unicode_errors="replace"
        )
    except (ValueError, EOFError, IndexError, KeyError, OverflowError, UnicodeError) as error:
        raise UserError(
            f"{path}: not a valid word2vec binary file ({error}); {_FORMAT_HELP}"
        ) from None
    if len(loaded) == 0 or loaded.vector_size == 0:
        raise UserError(f"{path}: holds no vectors; {_FORMAT_HELP}")
    kept = {word: loaded[word] for word in loaded.index_to_key if wanted is None or word in wanted}
    return WordVectors(kept, loaded.vector_size, len(loaded))


def _read_text(path: Path, has_header: bool, wanted: set[str] | None) -> WordVectors:
    vectors: dict[str, np.ndarray] = {}
    dim, count, declared = None, 0, None
    try:
        with _open(path) as stream:
            for number, raw in enumerate(stream, start=1):
                line = raw.decode("utf-8").rstrip()
                if number == 1 and has_header:
                    declared, dim = (int(f) for f in line.split())
                    continue
                if not line:
                    continue
                parts = line.split(" ")
                if dim is None:
                    dim = len(parts) - 1
                    if dim < 1:
                        raise UserError(f"{path}, line {number}: a word with no values; "
                                        f"{_FORMAT_HELP}")  # fmt: skip
                if len(parts) < dim + 1 or (
                    len(parts) > dim + 1 and any(map(_is_number, parts[1:-dim]))
                ):  # more columns are a word with spaces (GloVe has a few), not more numbers
                    raise UserError(
                        f"{path}, line {number}: {len(parts) - 1} values; expected {dim} "
                        f"(every line a word and {dim} numbers)"
                    )
                count += 1
                word = " ".join(parts[:-dim])  # a few GloVe words hold spaces
                if wanted is not None and word not in wanted:
                    continue
                try:
                    vectors[word] = np.array(parts[-dim:], dtype=np.float32)  # (D,)
                except ValueError:
                    bad = next(p for p in parts[-dim:] if not _is_number(p))
                    raise UserError(
                        f"{path}, line {number}: {bad[:20]!r} is not a number; expected "
                        f"{dim} numbers after the word"
                    ) from None
    except UnicodeDecodeError:
        raise UserError(f"{path}, line {number}: not UTF-8 text; {_FORMAT_HELP}") from None
    except (OSError, EOFError) as error:
        raise UserError(f"{path}: cannot read it ({error}); {_FORMAT_HELP}") from None
    if count == 0 or dim is None:
        raise UserError(f"{path}: holds no vectors; {_FORMAT_HELP}")
    if declared is not None and declared != count:
        logger.warning("%s: its header says %d words, it holds %d", path, declared, count)
    return WordVectors(vectors, dim, count)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class VectorCoverage:
    """How many of a vocabulary's regular tokens a vector file has."""

    found: int
    total: int

    @property
    def fraction(self) -> float:
        return self.found / self.total if self.total else 0.0

    def summary(self) -> str:
        return (
            f"embeddings: {self.found:,} of {self.total:,} words found ({100 * self.fraction:.1f}%)"
        )


def fill_embedding(weight: torch.Tensor, vocab: Vocabulary, vectors: Any) -> VectorCoverage:
    """Copy the vector of each of ``vocab``'s regular tokens found in ``vectors`` (exactly, else
    lowercased) into its row of ``weight`` (V, D), in place; the other rows stay as they are.

    ``vectors``: ``WordVectors``, or anything with ``vector_size``, ``in`` and ``[word]`` (gensim
    ``KeyedVectors``).
    """
    rows, dim = weight.shape
    if rows != len(vocab):
        raise ValueError(f"weight has {rows} rows; expected one per token ({len(vocab)})")
    if vectors.vector_size != dim:
        raise UserError(
            f"the word vectors have dimension {vectors.vector_size}; expected the embedding size "
            f"{dim} (set embed={vectors.vector_size}, or leave embed unset: the file's is used)"
        )
    specials = set(vocab.specials)
    found, total = 0, 0
    with torch.no_grad():
        for index, token in enumerate(vocab.itos):
            if token in specials:
                continue
            total += 1
            word = token if token in vectors else token.lower()
            if word in vectors:
                weight[index] = torch.tensor(np.asarray(vectors[word]), dtype=weight.dtype)  # (D,)
                found += 1
    return VectorCoverage(found, total)


def train_word_vectors(
    sentences: Sequence[Sequence[str]],
    *,
    dim: int = 100,
    window: int = 5,
    min_count: int = 2,
    epochs: int = 5,
    skip_gram: bool = True,
    seed: int = 0,
    workers: int = 1,
) -> Any:
    """word2vec (Mikolov et al. 2013) fitted with gensim on tokenised ``sentences``.

    Skip-gram maximises ``Σ_t Σ_{0<|j|≤window} log σ(u_{w_{t+j}}·v_{w_t})`` plus negative
    samples; CBOW predicts ``w_t`` from the mean of its context. Returns ``KeyedVectors``.
    ``workers=1`` with a ``seed`` is reproducible.
    """
    _gensim_keyed_vectors()  # the clear error when gensim is missing
    from gensim.models import Word2Vec

    if not any(len(s) for s in sentences):
        raise UserError("there are no words to train word vectors on; expected some text")
    model = Word2Vec(
        sentences=[list(s) for s in sentences],
        vector_size=dim,
        window=window,
        min_count=min_count,
        sg=int(skip_gram),
        epochs=epochs,
        seed=seed,
        workers=workers,
    )
    if len(model.wv) == 0:
        raise UserError(
            f"no word occurs {min_count} times or more; expected more text or a lower min_count"
        )
    return model.wv


def save_word_vectors(vectors: Any, path: str | Path, *, binary: bool = False) -> Path:
    """Write ``vectors`` (``WordVectors`` or gensim ``KeyedVectors``) in word2vec format (text
    with a header, or binary) to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(vectors, WordVectors):
        keyed = _gensim_keyed_vectors()(vectors.vector_size)
        keyed.add_vectors(list(vectors.vectors), np.stack(list(vectors.vectors.values())))
        vectors = keyed
    vectors.save_word2vec_format(str(path), binary=binary)
    return path


def tokenised(texts: Iterable[str], tokenizer: Any) -> list[list[str]]:
    """Each text's tokens (what ``train_word_vectors`` takes)."""
    return [tokenizer(text) for text in texts]
