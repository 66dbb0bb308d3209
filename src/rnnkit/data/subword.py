"""Learned tokenizers: BPE or unigram subwords, or words, trained on a corpus (Hugging Face
``tokenizers``), saved as JSON and reversible.

Text is NFC-normalised and split on spaces with the ``▁`` marker kept on the piece that starts a
word (SentencePiece's "metaspace"), so ``detokenize`` gives back the text exactly: a translation
is detokenized without rules, and BLEU is computed on the raw text. ``kind``:

===========  ============================================================================
``bpe``      byte-pair merges learned up to ``vocab_size`` pieces (Sennrich et al. 2016)
``unigram``  a unigram language model over pieces (Kudo 2018)
``word``     whole words with punctuation split off; words rarer than ``min_freq`` are unknown
===========  ============================================================================

Example::

    >>> tok = SubwordTokenizer.train(sentences, kind="bpe", vocab_size=8000)
    >>> tok("Ein Mann fährt Fahrrad.")
    ['▁Ein', '▁Mann', '▁fährt', '▁Fahr', 'rad', '.']
    >>> tok.detokenize(tok("Ein Mann fährt Fahrrad."))
    'Ein Mann fährt Fahrrad.'

``tokenizers`` is an optional dependency (``pip install 'rnnkit[translate]'``); it is imported
when a tokenizer is trained or loaded.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

from rnnkit.errors import UserError

__all__ = ["SUBWORD_KINDS", "UNK", "SubwordTokenizer"]

SUBWORD_KINDS = ("bpe", "unigram", "word")
UNK = "<unk>"


def _library():
    try:
        import tokenizers
    except ImportError:
        raise UserError(
            "learned subword tokenizers need the 'tokenizers' package; "
            "install it with: pip install 'rnnkit[translate]'"
        ) from None
    return tokenizers


class SubwordTokenizer:
    """A trained tokenizer: call it on a string for pieces, ``detokenize`` to join them back.

    Build one with :meth:`train`; ``to_dict``/``from_dict`` (or :func:`tokenizer_from_dict`)
    store and rebuild it as JSON.
    """

    name: ClassVar[str] = "subword"

    def __init__(self, kind: str, spec: Mapping[str, Any]) -> None:
        if kind not in SUBWORD_KINDS:
            raise ValueError(f"kind must be one of {', '.join(SUBWORD_KINDS)}, got {kind!r}")
        self.kind = kind
        self.spec = dict(spec)
        try:
            self._tokenizer = _library().Tokenizer.from_str(json.dumps(self.spec))
        except Exception as error:  # the library raises its own exception type
            raise UserError(f"corrupt subword tokenizer specification: {error}") from None

    @classmethod
    def train(
        cls,
        texts: Iterable[str],
        *,
        kind: str = "bpe",
        vocab_size: int = 8000,
        min_freq: int = 2,
    ) -> SubwordTokenizer:
        """Learn a tokenizer from ``texts`` (one sentence each).

        Args:
            kind: ``"bpe"``, ``"unigram"`` or ``"word"``.
            vocab_size: the pieces learned (subwords) or kept at most (words).
            min_freq: the fewest occurrences a merge (BPE) or a word needs.
        """
        if kind not in SUBWORD_KINDS:
            raise UserError(f"unknown tokens kind {kind!r}; expected one of {SUBWORD_KINDS}")
        lib = _library()
        models, trainers = lib.models, lib.trainers
        pre = [lib.pre_tokenizers.Metaspace()]
        if kind == "bpe":
            model = models.BPE(unk_token=UNK)
            trainer = trainers.BpeTrainer(
                vocab_size=vocab_size, min_frequency=min_freq, special_tokens=[UNK],
                show_progress=False,
            )  # fmt: skip
        elif kind == "unigram":
            model = models.Unigram()
            trainer = trainers.UnigramTrainer(
                vocab_size=vocab_size, special_tokens=[UNK], unk_token=UNK, show_progress=False
            )
        else:
            model = models.WordLevel(unk_token=UNK)
            trainer = trainers.WordLevelTrainer(
                vocab_size=vocab_size, min_frequency=min_freq, special_tokens=[UNK],
                show_progress=False,
            )  # fmt: skip
            pre.append(lib.pre_tokenizers.Punctuation())
        tokenizer = lib.Tokenizer(model)
        tokenizer.normalizer = lib.normalizers.NFC()
        tokenizer.pre_tokenizer = lib.pre_tokenizers.Sequence(pre)
        tokenizer.decoder = lib.decoders.Metaspace()
        tokenizer.train_from_iterator(list(texts), trainer)
        return cls(kind, json.loads(tokenizer.to_str()))

    def __call__(self, text: str) -> list[str]:
        return self._tokenizer.encode(text, add_special_tokens=False).tokens

    def batch(self, texts: Sequence[str]) -> list[list[str]]:
        """Tokenize many texts at once (in parallel threads)."""
        encoded = self._tokenizer.encode_batch(list(texts), add_special_tokens=False)
        return [e.tokens for e in encoded]

    def detokenize(self, tokens: Sequence[str]) -> str:
        """The text of ``tokens``: pieces joined, ``▁`` turned back into spaces."""
        return self._tokenizer.decoder.decode(list(tokens)).strip()

    @property
    def pieces(self) -> int:
        """The size of the learned inventory (the model's vocabulary)."""
        return self._tokenizer.get_vocab_size()

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "spec": self.spec}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SubwordTokenizer) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"SubwordTokenizer(kind={self.kind!r}, pieces={self.pieces})"
