"""``LabeledTexts``: the in-memory form of a text classification split (texts, labels, ids).

Every classification loader (IMDb, CSV/TSV) returns ``dict[str, LabeledTexts]`` keyed by split
name (``"train"``, ``"test"``); a split that a source does not have is simply absent, and the
task cuts it from ``"train"`` (see :mod:`rnnkit.data.splits`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from rnnkit.data.labels import Label, label_sort_key

__all__ = ["LabeledTexts"]


@dataclass
class LabeledTexts:
    """Parallel lists of texts and labels, with optional ids saying where each came from.

    Attributes:
        texts: the raw texts (untokenised).
        labels: one label per text (a string or an integer); ``None`` for unlabelled
            examples such as IMDb's ``unsup`` reviews.
        ids: one id per text (``"train/pos/0_9"``, ``"data.csv:12"``), or empty for none.
        source: where the data was read from, for messages.
    """

    texts: list[str]
    labels: list[Label | None]
    ids: list[str] = field(default_factory=list)
    source: str = ""

    def __post_init__(self) -> None:
        if len(self.texts) != len(self.labels):
            raise ValueError(
                f"expected one label per text, got {len(self.texts)} texts "
                f"and {len(self.labels)} labels"
            )
        if self.ids and len(self.ids) != len(self.texts):
            raise ValueError(
                f"expected one id per text, got {len(self.texts)} texts and {len(self.ids)} ids"
            )

    def __len__(self) -> int:
        return len(self.texts)

    def __iter__(self) -> Iterator[tuple[str, Label | None]]:
        return iter(zip(self.texts, self.labels))

    def subset(self, indices: Iterable[int]) -> LabeledTexts:
        """The examples at ``indices``, in that order."""
        indices = list(indices)
        return LabeledTexts(
            texts=[self.texts[i] for i in indices],
            labels=[self.labels[i] for i in indices],
            ids=[self.ids[i] for i in indices] if self.ids else [],
            source=self.source,
        )

    def class_counts(self) -> dict[Label | None, int]:
        """Examples per label, in the labels' natural order (``None`` last)."""
        counts = Counter(self.labels)
        known = [label for label in counts if label is not None]
        ordered: list[Label | None] = sorted(known, key=label_sort_key(known))
        if None in counts:
            ordered.append(None)
        return {label: counts[label] for label in ordered}
