"""``LabelEncoder``: class labels (strings or integers) <-> class indices 0..C-1, saved as JSON.

Classes are sorted when fitted: integers numerically, strings alphabetically, except that strings
that all look like integers ("1", "2", "10") sort numerically, so star ratings come out in order.
Example::

    >>> enc = LabelEncoder.fit(["pos", "neg", "pos"])
    >>> enc.classes, enc.encode(["pos", "neg"])
    (('neg', 'pos'), [1, 0])
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import torch

from rnnkit.data.files import read_json, write_json
from rnnkit.errors import UserError

__all__ = [
    "Label",
    "LabelEncoder",
    "check_num_classes",
    "describe_labels",
    "label_sort_key",
    "sorted_labels",
]

Label = str | int

_FORMAT = "rnnkit.LabelEncoder"
_VERSION = 1
_SHOWN = 20  # at most this many known labels are listed in an error message
_REPR_CHARS = 40  # each cut to this many characters


def _normalize(label: Any) -> Label:
    """Return ``label`` as ``str`` or ``int`` (NumPy integers and 0-d tensors become ``int``)."""
    if isinstance(label, torch.Tensor) and label.dim() == 0:
        label = label.item()
    if isinstance(label, str):
        return label
    if isinstance(label, (int, np.integer)) and not isinstance(label, (bool, np.bool_)):
        return int(label)
    raise TypeError(f"expected a str or int label, got {type(label).__name__} {label!r}")


def sorted_labels(labels: Iterable[Any]) -> list[Label]:
    """The distinct labels in their natural order (see the module docstring).

    Raises:
        UserError: when strings and integers are mixed.
    """
    distinct = {_normalize(label) for label in labels}
    kinds = {type(label) for label in distinct}
    if len(kinds) > 1:
        raise UserError(
            f"expected labels that are all strings or all integers, got both: "
            f"{describe_labels(sorted(distinct, key=str))}"
        )
    return sorted(distinct, key=label_sort_key(distinct))


def label_sort_key(labels: Iterable[Label]):
    """A sort key for ``labels``: numeric when they are all integers or integer-like strings."""

    def is_int(label: Label) -> bool:
        if isinstance(label, int):
            return True
        try:
            int(label)
        except ValueError:
            return False
        return True

    if all(is_int(label) for label in labels):
        return lambda label: (int(label), str(label))
    return lambda label: str(label)


def describe_labels(classes: Sequence[Any], limit: int = _SHOWN) -> str:
    """At most ``limit`` labels as short reprs (each cut to 40 characters), for error messages:
    labels come from data files, which may not be what they claim to be."""
    shown = ", ".join(_short_repr(c) for c in classes[:limit])
    more = f", ... ({len(classes) - limit} more)" if len(classes) > limit else ""
    return f"{shown}{more}"


def _short_repr(value: Any, limit: int = _REPR_CHARS) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


class LabelEncoder:
    """Maps a fixed, ordered set of class labels to indices ``0..C-1`` and back.

    Args:
        classes: the labels in index order; distinct, all strings or all integers.
    """

    def __init__(self, classes: Iterable[Any]) -> None:
        classes = tuple(_normalize(c) for c in classes)
        if len(set(classes)) != len(classes):
            raise ValueError(f"expected distinct classes, got {list(classes)}")
        if len({type(c) for c in classes}) > 1:
            raise ValueError(f"expected classes all str or all int, got {list(classes)}")
        self._classes = classes
        self._index = {c: i for i, c in enumerate(classes)}

    @classmethod
    def fit(cls, labels: Iterable[Any]) -> LabelEncoder:
        """The encoder for the distinct labels in ``labels``, in natural order."""
        return cls(sorted_labels(labels))

    @property
    def classes(self) -> tuple[Label, ...]:
        return self._classes

    def __len__(self) -> int:
        return len(self._classes)

    def __contains__(self, label: object) -> bool:
        return label in self._index

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LabelEncoder):
            return NotImplemented
        return self._classes == other._classes

    def __repr__(self) -> str:
        return f"LabelEncoder(classes=[{describe_labels(self._classes)}])"

    def index(self, label: Any) -> int:
        """The index of one label; an unknown label raises ``UserError`` naming the known ones."""
        try:
            return self._index[_normalize(label)]
        except (KeyError, TypeError):
            raise UserError(
                f"unknown label {_short_repr(label)}; expected one of the {len(self)} known "
                f"labels: {describe_labels(self._classes)}"
            ) from None

    def encode(self, labels: Iterable[Any]) -> list[int]:
        """Map labels to class indices."""
        return [self.index(label) for label in labels]

    def decode(self, indices: Iterable[int] | torch.Tensor) -> list[Label]:
        """Map class indices (a list or a 1-D tensor ``(N,)``) back to labels."""
        if isinstance(indices, torch.Tensor):
            indices = indices.reshape(-1).tolist()
        out = []
        for i in indices:
            if not 0 <= i < len(self._classes):
                raise ValueError(f"expected class indices in [0, {len(self._classes)}), got {i}")
            out.append(self._classes[i])
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"format": _FORMAT, "version": _VERSION, "classes": list(self._classes)}

    @classmethod
    def from_dict(cls, data: Any, source: str = "label set") -> LabelEncoder:
        """Rebuild from :meth:`to_dict` output; a malformed description raises ``UserError``."""

        def bad(detail: str) -> UserError:
            return UserError(f"{source}: not a valid rnnkit label set: {detail}")

        if not isinstance(data, dict):
            raise bad(f"expected a JSON object, got {type(data).__name__}")
        if data.get("format") != _FORMAT:
            raise bad(f"expected format {_FORMAT!r}, got {data.get('format')!r}")
        if data.get("version") != _VERSION:
            raise bad(f"expected version {_VERSION}, got {data.get('version')!r}")
        classes = data.get("classes")
        if not isinstance(classes, list):
            raise bad(f"expected 'classes' to be a list, got {type(classes).__name__}")
        try:
            return cls(classes)
        except (TypeError, ValueError) as error:
            raise bad(str(error)) from None

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the classes to ``path`` as JSON, atomically."""
        write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> LabelEncoder:
        """Read a label set written by :meth:`save`; a corrupt file raises ``UserError``."""
        return cls.from_dict(read_json(path, "label set"), source=str(path))


def check_num_classes(
    labels: LabelEncoder | Iterable[Any], minimum: int = 2, *, source: str = "the data"
) -> None:
    """Raise ``UserError`` unless there are at least ``minimum`` distinct classes.

    A classifier cannot learn from one class; the task calls this after loading its data.
    """
    classes = labels.classes if isinstance(labels, LabelEncoder) else sorted_labels(labels)
    if len(classes) < minimum:
        found = describe_labels(list(classes)) if classes else "none"
        raise UserError(
            f"expected at least {minimum} classes in {source}, got {len(classes)} ({found}); "
            "check the label column"
        )
