"""Pretrained word vectors as a task's starting embedding: ``--embeddings FILE`` and
``--freeze-embeddings``, for the text classifier and the language model.

The file (word2vec/GloVe/fastText text, or word2vec binary; ``rnnkit.data.word_vectors`` reads
it) is checked before the data loads, read for the run's vocabulary only, and copied into the
embedding rows of the words it has (``E[i] = v(word_i)``, the other rows keep their
initialisation); the coverage is logged. The embedding size is the file's unless ``embed`` is
given. On resume nothing is read: the weights come from the checkpoint.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from torch import nn

from rnnkit.data import Vocabulary
from rnnkit.data.word_vectors import (
    VectorCoverage,
    WordVectors,
    fill_embedding,
    read_word_vectors,
    vectors_format,
)
from rnnkit.settings import Settings

__all__ = [
    "WordVectorSettings",
    "check_vectors_file",
    "embed_from_vectors",
    "read_vectors",
    "start_embedding",
]

logger = logging.getLogger(__name__)


@dataclass
class WordVectorSettings(Settings):
    """Pretrained word vectors to start the embedding from (saved in config.json).

    Args:
        embeddings: a word-vector file (word2vec/GloVe/fastText text, or word2vec binary .bin)
            whose vectors fill the embedding rows of the vocabulary's words; embed is taken
            from the file unless given. Needs gensim (pip install 'rnnkit[vectors]').
        freeze_embeddings: keep the embedding layer fixed while training.
    """

    KIND: ClassVar[str] = "word-vector setting"

    embeddings: str | None = None
    freeze_embeddings: bool = False


def check_vectors_file(settings: WordVectorSettings) -> None:
    """A clear error now, before the data loads, for a missing or unreadable vector file."""
    if settings.embeddings is not None:
        vectors_format(settings.embeddings)


def read_vectors(settings: WordVectorSettings, vocab: Vocabulary) -> WordVectors | None:
    """The vectors of ``vocab``'s words from ``settings.embeddings`` (None when unset)."""
    if settings.embeddings is None:
        return None
    return read_word_vectors(settings.embeddings, vocab.itos)


def embed_from_vectors(config: Settings, vectors: Any, given: Mapping[str, Any]) -> Settings:
    """``config`` with ``embed`` set to the vectors' size unless the user gave ``embed``."""
    if vectors is None or "embed" in given or config.embed == vectors.vector_size:
        return config
    logger.info("embedding size %d, from the word vectors", vectors.vector_size)
    return config.replace(embed=vectors.vector_size)


def start_embedding(
    embedding: nn.Embedding, vocab: Vocabulary, vectors: Any, freeze: bool
) -> VectorCoverage | None:
    """Fill ``embedding``'s rows from ``vectors`` (when given; the coverage is logged and
    returned) and freeze it when asked."""
    coverage = None
    if vectors is not None:
        coverage = fill_embedding(embedding.weight, vocab, vectors)
        logger.info("%s", coverage.summary())
    if freeze:
        embedding.weight.requires_grad_(False)
    return coverage
