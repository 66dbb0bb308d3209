"""Text cleaning and tokenisation: word-, character- and whitespace-level tokenizers by name.

A tokenizer is a small frozen dataclass: call it on a string to get a list of tokens, call
``detokenize`` to join tokens back into text (for generated text), and ``to_dict`` to store it in
a checkpoint's JSON; :func:`tokenizer_from_dict` rebuilds it. ``TOKENIZERS`` is the registry:

=============  ==========================================================================
``word``       cleaned, lower-cased words; punctuation split off as tokens (or dropped)
``char``       one token per character (char-RNN); no cleaning unless asked
``whitespace`` split on whitespace only, for pre-tokenised corpora such as Penn Treebank
``subword``    learned BPE/unigram pieces or words (:mod:`rnnkit.data.subword`), reversible
=============  ==========================================================================

Example::

    >>> tok = get_tokenizer("word")
    >>> tok("A <br />great film, isn't it?")
    ['a', 'great', 'film', ',', "isn't", 'it', '?']
"""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar, Protocol, runtime_checkable

from rnnkit.data.subword import SubwordTokenizer
from rnnkit.errors import UserError

__all__ = [
    "CharTokenizer",
    "TOKENIZERS",
    "Tokenizer",
    "WhitespaceTokenizer",
    "WordTokenizer",
    "clean_text",
    "get_tokenizer",
    "tokenizer_from_dict",
]

# HTML line breaks as IMDb writes them: <br />, <br/>, <br>, <BR />.
_BR = re.compile(r"<br\s*/?\s*>", re.IGNORECASE)
_SPACES = re.compile(r"\s+")
# A word is a run of letters/digits/underscores, with inner apostrophes kept (don't, rock'n'roll);
# every other non-space character is a punctuation token of its own.
_WORD_OR_PUNCT = re.compile(r"\w+(?:['\u2019]\w+)*|[^\w\s]")
_WORD = re.compile(r"\w+(?:['\u2019]\w+)*")

PUNCTUATION_MODES = ("split", "drop", "keep")


def clean_text(text: str, *, lower: bool = True, html: bool = True) -> str:
    """Clean raw text before tokenising.

    Args:
        text: the raw text.
        lower: lower-case it.
        html: turn HTML line breaks (``<br />``) into spaces and unescape entities (``&amp;``).
    """
    if html:
        text = html_lib.unescape(_BR.sub(" ", text))
    if lower:
        text = text.lower()
    return text


@runtime_checkable
class Tokenizer(Protocol):
    """What every tokenizer provides."""

    name: ClassVar[str]

    def __call__(self, text: str) -> list[str]: ...

    def detokenize(self, tokens: Sequence[str]) -> str: ...

    def to_dict(self) -> dict[str, Any]: ...


class _Serializable:
    """``to_dict`` for the tokenizer dataclasses: the registry name plus the options."""

    name: ClassVar[str]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, **asdict(self)}  # type: ignore[call-overload]


@dataclass(frozen=True)
class WordTokenizer(_Serializable):
    """Word-level tokens from cleaned text.

    Args:
        lower: lower-case the text (default True).
        html: replace ``<br />`` line breaks by spaces and unescape HTML entities (default True).
        punctuation: ``"split"`` (default) makes each punctuation character a token,
            ``"drop"`` removes punctuation, ``"keep"`` splits on whitespace only so punctuation
            stays attached to words.
    """

    name: ClassVar[str] = "word"
    lower: bool = True
    html: bool = True
    punctuation: str = "split"

    def __post_init__(self) -> None:
        if self.punctuation not in PUNCTUATION_MODES:
            raise ValueError(
                f"punctuation must be one of {', '.join(PUNCTUATION_MODES)}, "
                f"got {self.punctuation!r}"
            )

    def __call__(self, text: str) -> list[str]:
        text = clean_text(text, lower=self.lower, html=self.html)
        if self.punctuation == "split":
            return _WORD_OR_PUNCT.findall(text)
        if self.punctuation == "drop":
            return _WORD.findall(text)
        return text.split()

    def detokenize(self, tokens: Sequence[str]) -> str:
        return " ".join(tokens)


@dataclass(frozen=True)
class CharTokenizer(_Serializable):
    """One token per character, as in char-RNN.

    Args:
        lower: lower-case the text (default False: keep the corpus as it is).
        html: replace ``<br />`` line breaks by spaces and unescape entities (default False).
    """

    name: ClassVar[str] = "char"
    lower: bool = False
    html: bool = False

    def __call__(self, text: str) -> list[str]:
        return list(clean_text(text, lower=self.lower, html=self.html))

    def detokenize(self, tokens: Sequence[str]) -> str:
        return "".join(tokens)


@dataclass(frozen=True)
class WhitespaceTokenizer(_Serializable):
    """Split on runs of whitespace, nothing else (for pre-tokenised corpora such as PTB).

    Args:
        lower: lower-case the text (default False).
    """

    name: ClassVar[str] = "whitespace"
    lower: bool = False

    def __call__(self, text: str) -> list[str]:
        return (text.lower() if self.lower else text).split()

    def detokenize(self, tokens: Sequence[str]) -> str:
        return " ".join(tokens)


# name -> tokenizer class; add new tokenizers here.
TOKENIZERS: dict[str, type[_Serializable]] = {
    WordTokenizer.name: WordTokenizer,
    CharTokenizer.name: CharTokenizer,
    WhitespaceTokenizer.name: WhitespaceTokenizer,
}


def get_tokenizer(name: str, **options: Any) -> Tokenizer:
    """Build the tokenizer registered as ``name`` with keyword ``options``.

    Raises:
        UserError: for an unknown name or an option the tokenizer does not take.
    """
    if name not in TOKENIZERS:
        raise UserError(f"unknown tokenizer {name!r}; expected one of {', '.join(TOKENIZERS)}")
    cls = TOKENIZERS[name]
    allowed = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise UserError(
            f"unknown option(s) {', '.join(unknown)} for tokenizer {name!r}; "
            f"expected some of {', '.join(allowed) or '(none)'}"
        )
    try:
        return cls(**options)  # type: ignore[return-value]
    except ValueError as error:
        raise UserError(f"tokenizer {name!r}: {error}") from None


def tokenizer_from_dict(config: Mapping[str, Any]) -> Tokenizer:
    """Rebuild a tokenizer from ``Tokenizer.to_dict()`` output (e.g. a checkpoint's JSON)."""
    if not isinstance(config, Mapping) or not isinstance(config.get("name"), str):
        raise UserError(f"expected a tokenizer config with a 'name', got {config!r}")
    options = {k: v for k, v in config.items() if k != "name"}
    if config["name"] == SubwordTokenizer.name:  # learned: its state is the spec, not options
        try:
            return SubwordTokenizer(options.get("kind", ""), options.get("spec") or {})
        except ValueError as error:
            raise UserError(f"subword tokenizer: {error}") from None
    return get_tokenizer(config["name"], **options)
