"""``History``: one row per epoch, written as ``history.csv`` and drawn as ``curves.png``.

A row holds ``epoch``, ``train_loss`` and the other ``train_<metric>`` columns, ``val_loss`` and
the ``val_<metric>`` columns, ``lr`` (the scheduled rate at the start of the epoch; with
discriminative rates per layer, the top group's, which is ``--lr`` scheduled), ``time_s`` (train
plus validation time), ``batches`` (optimizer steps in the epoch) and ``partial`` (1 when a time
budget or a stop request ended the epoch before the end of its data, else 0).

``curves.png`` draws partial epochs as hollow markers and marks the kept (best) epoch.

The plot is drawn with matplotlib's object API (``Figure`` and its Agg canvas) imported lazily,
so it neither slows the import of rnnkit nor switches the backend of a user's notebook; without
matplotlib the plot is skipped with a log message.
"""

from __future__ import annotations

import csv
import io
import logging
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

__all__ = ["History", "render_curves"]

logger = logging.getLogger(__name__)

_NOT_PLOTTED = {"epoch", "lr", "time_s", "batches", "partial"}


class History:
    """An ordered list of per-epoch rows (dicts of column name → number)."""

    def __init__(self, rows: Iterable[Mapping[str, Any]] = ()) -> None:
        self.rows: list[dict[str, Any]] = [dict(row) for row in rows]

    def append(self, row: Mapping[str, Any]) -> None:
        self.rows.append(dict(row))

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.rows[index]

    def __iter__(self):
        return iter(self.rows)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, History) and self.rows == other.rows

    def __repr__(self) -> str:
        return f"History({len(self.rows)} epochs, columns={self.columns})"

    @property
    def columns(self) -> list[str]:
        """Every column in order of first appearance."""
        seen: dict[str, None] = {}
        for row in self.rows:
            seen.update(dict.fromkeys(row))
        return list(seen)

    def column(self, name: str) -> list[Any]:
        """The values of one column, None where a row lacks it."""
        return [row.get(name) for row in self.rows]

    def to_csv(self) -> str:
        """The CSV text: a header line, then one line per epoch (missing values left empty)."""
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=self.columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows)
        return out.getvalue()

    @classmethod
    def from_csv(cls, path: str | Path) -> History:
        """Read a ``history.csv``; numbers come back as int or float."""
        with open(path, newline="", encoding="utf-8") as f:
            return cls(
                {k: _number(v) for k, v in row.items() if v != ""} for row in csv.DictReader(f)
            )


def _number(text: str) -> Any:
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


def _panels(columns: list[str]) -> list[tuple[str, list[str]]]:
    """Group columns by metric: ``loss`` → [train_loss, val_loss], then the other metrics."""
    panels: dict[str, list[str]] = {}
    for column in columns:
        if column in _NOT_PLOTTED:
            continue
        metric = column.split("_", 1)[1] if column.startswith(("train_", "val_")) else column
        panels.setdefault(metric, []).append(column)
    return list(panels.items())


def render_curves(history: History, best_epoch: int | None = None) -> bytes | None:
    """``curves.png`` as bytes: one panel per metric, train and validation per epoch; partial
    epochs hollow, ``best_epoch`` (the kept one) marked with a dashed line.

    Returns None (and logs why) when matplotlib is not installed or there is nothing to draw.
    """
    if not history.rows:
        return None
    try:
        from matplotlib.figure import Figure
    except ImportError:
        logger.info("matplotlib is not installed: skipping curves.png (pip install 'rnnkit[plot]')")
        return None
    panels = _panels(history.columns)
    if not panels:
        return None
    epochs = history.column("epoch")
    partial = {e for e, p in zip(epochs, history.column("partial"), strict=True) if p}
    few = len(epochs) <= 3  # big markers and integer ticks, so one or two epochs read clearly
    fig = Figure(figsize=(5 * len(panels), 3.8), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (metric, columns) in zip(axes, panels, strict=True):
        for column in columns:
            points = [
                (e, v)
                for e, v in zip(epochs, history.column(column), strict=True)
                if isinstance(v, (int, float)) and math.isfinite(v)
            ]
            if points:
                xs, ys = zip(*points, strict=True)
                (line,) = ax.plot(xs, ys, marker="o", markersize=7 if few else 3, label=column)
                cut = [(x, y) for x, y in points if x in partial]
                if cut:
                    ax.plot(*zip(*cut, strict=True), "o", markersize=9 if few else 6,
                            markerfacecolor="white", color=line.get_color())  # fmt: skip
        if best_epoch:
            ax.axvline(best_epoch, color="gray", linestyle="--", linewidth=1, label="kept epoch")
        if partial:
            ax.plot([], [], "o", color="gray", markerfacecolor="white", label="partial epoch")
        if few:
            ax.set_xticks(epochs)
            ax.set_xlim(min(epochs) - 0.5, max(epochs) + 0.5)
        ax.set_title(metric)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()
