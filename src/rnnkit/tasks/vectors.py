"""Word vectors trained on the user's own text (``rnnkit vectors``), for ``--embeddings``.

The texts are read from a dataset name or a path: labelled text (IMDb, ``imdb-unsup``, GOP
tweets, a CSV/TSV) gives every split but ``test`` (a classifier is scored there), a plain text
file one document a line. They are tokenised as the text classifier tokenises words (lower case,
``<br />`` removed, punctuation split), so that the vectors' words are the classifier's; word2vec
is fitted with gensim (``rnnkit.data.word_vectors``) and written in word2vec text format (or
binary), which ``--embeddings`` reads.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from rnnkit.data import get_tokenizer, load_dataset
from rnnkit.data.files import read_text_file
from rnnkit.data.word_vectors import save_word_vectors, tokenised, train_word_vectors
from rnnkit.errors import UserError

__all__ = ["fit_word_vectors", "vector_texts"]

logger = logging.getLogger(__name__)


def vector_texts(source: str, *, limit: int | None = None) -> list[str]:
    """The documents of ``source`` to train vectors on (never a ``test`` split); ``limit`` keeps
    the first N."""
    path = Path(source)
    if path.is_file() and path.suffix.lower() not in (".csv", ".tsv", ".gz", ".tar"):
        texts = [line for line in read_text_file(path).splitlines() if line.strip()]
    else:
        loaded = load_dataset(source)
        if isinstance(loaded, str):
            texts = [line for line in loaded.splitlines() if line.strip()]
        elif isinstance(loaded, dict) and all(hasattr(v, "texts") for v in loaded.values()):
            texts = [t for name, split in loaded.items() if name != "test" for t in split.texts]
        else:
            raise UserError(
                f"{source!r} is not text to train word vectors on; expected labelled text (imdb, "
                "imdb-unsup, a CSV/TSV) or a text file with one document a line"
            )
    if not texts:
        raise UserError(f"{source!r} holds no text; expected documents to train word vectors on")
    return texts[:limit] if limit is not None else texts


def fit_word_vectors(
    source: str,
    out: str | Path,
    *,
    dim: int = 100,
    window: int = 5,
    min_count: int = 2,
    epochs: int = 5,
    skip_gram: bool = True,
    binary: bool = False,
    limit: int | None = None,
    seed: int = 0,
    workers: int = 1,
) -> dict[str, Any]:
    """Train word2vec on ``source``'s documents and write the vectors to ``out``; returns what
    ``rnnkit vectors --json`` prints (``out``, ``documents``, ``tokens``, ``words``, ``dim``,
    ``train_time_s``)."""
    for name, value in (("dim", dim), ("window", window), ("min_count", min_count),
                        ("epochs", epochs), ("workers", workers)):  # fmt: skip
        if value < 1:
            raise UserError(f"{name} must be >= 1, got {value}")
    texts = vector_texts(source, limit=limit)
    tokenizer = get_tokenizer("word")  # the text classifier's words
    sentences = tokenised(texts, tokenizer)
    tokens = sum(len(s) for s in sentences)
    logger.info("word vectors: %s documents, %s tokens from %s", f"{len(texts):,}",
                f"{tokens:,}", source)  # fmt: skip
    start = time.monotonic()
    vectors = train_word_vectors(
        sentences, dim=dim, window=window, min_count=min_count, epochs=epochs,
        skip_gram=skip_gram, seed=seed, workers=workers,
    )  # fmt: skip
    elapsed = time.monotonic() - start
    path = save_word_vectors(vectors, out, binary=binary)
    return {
        "out": str(path),
        "documents": len(texts),
        "tokens": tokens,
        "words": len(vectors),
        "dim": vectors.vector_size,
        "train_time_s": round(elapsed, 3),
    }
