"""``Vocabulary``: token <-> index maps with special tokens, built from a corpus, saved as JSON.

Index layout, always: the padding token at 0, then the other special tokens that are enabled
(unknown, begin-of-sequence, end-of-sequence, in that order), then the regular tokens by
decreasing frequency, ties broken by the token itself, so the same corpus always gives the same
vocabulary. ``max_size`` counts every entry, specials included, so it is the number of rows of the
embedding matrix.

Example::

    >>> vocab = Vocabulary.build([["a", "b", "a"], ["c", "a"]], min_freq=1)
    >>> vocab.itos
    ('<pad>', '<unk>', 'a', 'b', 'c')
    >>> vocab.encode(["a", "zzz"])
    [2, 1]
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import torch

from rnnkit.data.files import read_json, write_json
from rnnkit.errors import UserError

__all__ = ["BOS", "EOS", "PAD", "UNK", "Vocabulary"]

PAD = "<pad>"
UNK = "<unk>"
BOS = "<bos>"
EOS = "<eos>"

_FORMAT = "rnnkit.Vocabulary"
_VERSION = 1
_SPECIAL_ROLES = ("pad", "unk", "bos", "eos")


class Vocabulary:
    """A fixed token <-> index map with padding (index 0) and optional unknown/bos/eos tokens.

    Args:
        tokens: the regular tokens in index order (tokens equal to a special are skipped).
        pad: the padding token, always index 0.
        unk: the unknown token (index 1) that unseen tokens map to; ``None`` makes an unseen
            token an error instead.
        bos: the begin-of-sequence token, or ``None`` for none (decoders, seq2seq).
        eos: the end-of-sequence token, or ``None`` for none.
    """

    def __init__(
        self,
        tokens: Iterable[str],
        *,
        pad: str = PAD,
        unk: str | None = UNK,
        bos: str | None = None,
        eos: str | None = None,
    ) -> None:
        if not isinstance(pad, str) or not pad:
            raise ValueError(f"pad must be a non-empty string (index 0 is padding), got {pad!r}")
        roles = {"pad": pad, "unk": unk, "bos": bos, "eos": eos}
        specials = [token for token in roles.values() if token is not None]
        if len(set(specials)) != len(specials):
            raise ValueError(f"special tokens must be distinct, got {roles}")
        itos = list(specials)
        stoi = {token: index for index, token in enumerate(itos)}
        for token in tokens:
            if not isinstance(token, str):
                raise TypeError(f"expected string tokens, got {type(token).__name__} {token!r}")
            if token not in stoi:
                stoi[token] = len(itos)
                itos.append(token)
        self._roles = roles
        self._specials = tuple(specials)
        self._itos = tuple(itos)
        self._stoi = stoi

    # -- building -------------------------------------------------------------------------------

    @classmethod
    def build(
        cls,
        sequences: Iterable[Iterable[str]],
        *,
        max_size: int | None = None,
        min_freq: int = 1,
        **specials: str | None,
    ) -> Vocabulary:
        """Count the tokens of ``sequences`` (e.g. tokenised texts) and build a vocabulary.

        Args:
            sequences: an iterable of token iterables; consumed once.
            max_size: keep at most this many entries in all, special tokens included.
            min_freq: drop tokens seen fewer times than this.
            **specials: ``pad``, ``unk``, ``bos``, ``eos`` as in the constructor.
        """
        counts: Counter[str] = Counter()
        for tokens in sequences:
            counts.update(tokens)
        return cls.from_counts(counts, max_size=max_size, min_freq=min_freq, **specials)

    @classmethod
    def from_counts(
        cls,
        counts: Mapping[str, int],
        *,
        max_size: int | None = None,
        min_freq: int = 1,
        **specials: str | None,
    ) -> Vocabulary:
        """Build from token counts: most frequent first, ties by token; see :meth:`build`."""
        unknown = sorted(set(specials) - set(_SPECIAL_ROLES))
        if unknown:
            raise TypeError(
                f"unexpected special token role(s) {unknown}; expected {_SPECIAL_ROLES}"
            )
        if min_freq < 1:
            raise ValueError(f"min_freq must be >= 1, got {min_freq}")
        special_set = set(cls([], **specials).specials)  # type: ignore[arg-type]
        n_specials = len(special_set)
        if max_size is not None and max_size < n_specials:
            raise ValueError(f"max_size must be >= the {n_specials} special tokens, got {max_size}")
        ranked = sorted(
            (item for item in counts.items() if item[1] >= min_freq and item[0] not in special_set),
            key=lambda item: (-item[1], item[0]),
        )
        if max_size is not None:
            ranked = ranked[: max_size - n_specials]
        return cls((token for token, _ in ranked), **specials)  # type: ignore[arg-type]

    # -- lookups --------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._itos)

    def __contains__(self, token: object) -> bool:
        return token in self._stoi

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Vocabulary):
            return NotImplemented
        return self._itos == other._itos and self._roles == other._roles

    def __repr__(self) -> str:
        specials = ", ".join(f"{k}={v!r}" for k, v in self._roles.items() if v is not None)
        return f"Vocabulary(size={len(self)}, {specials})"

    @property
    def itos(self) -> tuple[str, ...]:
        """Every token, in index order."""
        return self._itos

    @property
    def specials(self) -> tuple[str, ...]:
        """The special tokens, in index order (they occupy the first indices)."""
        return self._specials

    def _role_index(self, role: str) -> int | None:
        token = self._roles[role]
        return None if token is None else self._stoi[token]

    @property
    def pad_index(self) -> int:
        return 0

    @property
    def unk_index(self) -> int | None:
        return self._role_index("unk")

    @property
    def bos_index(self) -> int | None:
        return self._role_index("bos")

    @property
    def eos_index(self) -> int | None:
        return self._role_index("eos")

    def index(self, token: str) -> int:
        """The index of ``token``; unseen tokens give ``unk_index`` (an error without one)."""
        index = self._stoi.get(token, self.unk_index)
        if index is None:
            raise UserError(
                f"token {token!r} is not in the vocabulary, which has no unknown token; "
                f"expected one of its {len(self)} tokens"
            )
        return index

    def encode(self, tokens: Iterable[str], *, bos: bool = False, eos: bool = False) -> list[int]:
        """Map tokens to indices, optionally wrapped in the begin/end-of-sequence tokens."""
        unk = self.unk_index
        if unk is None:
            ids = [self.index(token) for token in tokens]
        else:
            get = self._stoi.get
            ids = [get(token, unk) for token in tokens]
        if bos:
            ids.insert(0, self._require("bos"))
        if eos:
            ids.append(self._require("eos"))
        return ids

    def decode(
        self,
        ids: Iterable[int] | torch.Tensor,
        *,
        skip_specials: bool = True,
        stop_at_eos: bool = True,
    ) -> list[str]:
        """Map indices back to tokens.

        Args:
            ids: indices, e.g. a 1-D tensor ``(L,)`` or a list.
            skip_specials: leave out padding and begin/end-of-sequence tokens (unknown stays).
            stop_at_eos: stop at the first end-of-sequence token.
        """
        if isinstance(ids, torch.Tensor):
            if ids.dim() != 1:
                raise ValueError(f"expected a 1-D tensor of indices, got shape {tuple(ids.shape)}")
            ids = ids.tolist()
        eos = self.eos_index
        skip = {self._stoi[t] for t in self._specials if t != self._roles["unk"]}
        tokens = []
        for i in ids:
            if not 0 <= i < len(self._itos):
                raise ValueError(f"expected token indices in [0, {len(self._itos)}), got {i}")
            if stop_at_eos and i == eos:
                break
            if skip_specials and i in skip:
                continue
            tokens.append(self._itos[i])
        return tokens

    def _require(self, role: str) -> int:
        index = self._role_index(role)
        if index is None:
            raise ValueError(
                f"this vocabulary has no {role} token; build it with {role}='<{role}>'"
            )
        return index

    # -- JSON -----------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description: format tag, special tokens and every token in index order."""
        return {
            "format": _FORMAT,
            "version": _VERSION,
            "specials": dict(self._roles),
            "tokens": list(self._itos),
        }

    @classmethod
    def from_dict(cls, data: Any, source: str = "vocabulary") -> Vocabulary:
        """Rebuild from :meth:`to_dict` output; a malformed description raises ``UserError``."""

        def bad(detail: str) -> UserError:
            return UserError(f"{source}: not a valid rnnkit vocabulary: {detail}")

        if not isinstance(data, dict):
            raise bad(f"expected a JSON object, got {type(data).__name__}")
        if data.get("format") != _FORMAT:
            raise bad(f"expected format {_FORMAT!r}, got {data.get('format')!r}")
        if data.get("version") != _VERSION:
            raise bad(f"expected version {_VERSION}, got {data.get('version')!r}")
        roles, tokens = data.get("specials"), data.get("tokens")
        if not isinstance(roles, dict) or set(roles) != set(_SPECIAL_ROLES):
            raise bad(f"expected 'specials' with keys {list(_SPECIAL_ROLES)}, got {roles!r}")
        if not all(v is None or isinstance(v, str) for v in roles.values()) or not isinstance(
            roles["pad"], str
        ):
            raise bad(f"expected special tokens to be strings (pad required), got {roles!r}")
        if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
            raise bad("expected 'tokens' to be a list of strings")
        if len(set(tokens)) != len(tokens):
            raise bad("expected 'tokens' to be distinct, got duplicates")
        specials = [roles[r] for r in _SPECIAL_ROLES if roles[r] is not None]
        if tokens[: len(specials)] != specials:
            raise bad(f"expected 'tokens' to start with {specials}, got {tokens[: len(specials)]}")
        return cls(tokens[len(specials) :], **roles)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the vocabulary to ``path`` as JSON, atomically."""
        write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Vocabulary:
        """Read a vocabulary written by :meth:`save`; a corrupt file raises ``UserError``."""
        return cls.from_dict(read_json(path, "vocabulary"), source=str(path))
