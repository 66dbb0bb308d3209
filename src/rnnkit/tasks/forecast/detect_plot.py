"""Anomaly pictures: the series with its detected steps and labelled windows over the detector's
scores and threshold."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rnnkit.atomic import atomic_path

__all__ = ["save_detection_plot"]

logger = logging.getLogger(__name__)


def save_detection_plot(
    path: Path,
    *,
    times: Sequence[Any],
    values: np.ndarray,
    scores: np.ndarray,
    flags: np.ndarray,
    threshold: float | None,
    title: str,
    windows: Sequence[tuple[Any, Any]] | None = None,
    probation: int = 0,
) -> bool:
    """Two panels into ``path``: ``values`` (n,) or (n, k) against ``times`` with the flagged
    steps (``flags`` (n,)) as points and the labelled ``windows`` shaded, then the ``scores``
    (n,) with the ``threshold`` and the end of the probationary period. False if matplotlib is
    missing."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        logger.warning("matplotlib is not installed: no anomaly plot (pip install rnnkit[plot])")
        return False
    values = np.asarray(values).reshape(len(values), -1)  # (n, k)
    x = list(times)
    figure = Figure(figsize=(10, 5), layout="constrained")
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=(2, 1))
    for ax in (top, bottom):
        for i, (start, end) in enumerate(windows or ()):
            label = "labelled window" if ax is top and i == 0 else None
            ax.axvspan(start, end, color="tab:red", alpha=0.12, lw=0, label=label)
        if probation:
            label = "end of the probationary period" if ax is bottom else None
            ax.axvline(x[min(probation, len(x) - 1)], color="0.5", ls=":", lw=1, label=label)
        ax.grid(alpha=0.3)
    top.plot(x, values, color="0.25", lw=0.8, label="series")
    rows = np.flatnonzero(flags)
    top.plot([x[i] for i in rows], values[rows, 0], "o", color="tab:red", ms=4,
             label=f"detected ({len(rows)})")  # fmt: skip
    top.set_ylabel("value")
    top.legend(loc="upper left", fontsize=8)
    top.set_title(title)
    bottom.plot(x, scores, color="tab:blue", lw=0.8, label="anomaly score")
    if threshold is not None:
        bottom.axhline(threshold, color="tab:red", ls="--", lw=1, label="threshold")
    bottom.set_ylabel("score")
    bottom.legend(loc="upper left", fontsize=8, ncols=3)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=110)
    return True
