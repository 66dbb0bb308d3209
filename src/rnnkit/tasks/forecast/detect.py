"""Anomaly detection from forecast errors, scored against labelled anomaly windows (NAB's).

A forecaster predicts each step from the steps before it; a step whose error is far from the
errors seen in the probationary period (the start of the series, taken to be free of anomalies,
15% as in NAB) is flagged::

    e_t = (y_t - ŷ_t) / s                               one-step error (s: the scaler's scale)
    z_t = max_j |e_tj - μ_j| / σ_j                      μ, σ: of the probationary errors
    anomaly_t = z_t > θ                                 θ: the largest z of the probationary
                                                        period (or a given threshold)

Against labelled windows: point-wise precision and recall of the flags, the share of windows
with at least one flag, and the flags outside every window (false positives). NAB's own scoring
(its reward profiles, normalised to null 0 / perfect 100) is not computed here.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from rnnkit.data.resolve import resolve
from rnnkit.errors import UserError

__all__ = ["PROBATION", "anomaly_scores", "detection_metrics", "nab_windows", "window_labels"]

PROBATION = 0.15  # NAB's probationary period: the first 15% of a series


def anomaly_scores(errors: np.ndarray, probation: int) -> np.ndarray:
    """z (N,) of one-step errors (N, k), standardised by the first ``probation`` errors."""
    if probation < 2:
        raise UserError(
            f"the probationary period has {probation} scored steps; expected at least 2 "
            "(a longer series or a larger probation)"
        )
    early = errors[:probation]  # (P, k)
    mean, spread = early.mean(axis=0), early.std(axis=0)  # (k,)
    spread = np.where(spread > 0, spread, 1e-12)
    return np.max(np.abs(errors - mean) / spread, axis=1)  # (N,)


def nab_windows(source: str) -> list[tuple[datetime, datetime]]:
    """The labelled anomaly windows of NAB's series ``nab/<category>/<name>``."""
    _, category, name = source.split("/")
    path = resolve("nab") / "labels" / "combined_windows.json"
    try:
        labels = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise UserError(f"{path}: cannot read NAB's windows ({error})") from None
    key = f"{category}/{name}.csv"
    if key not in labels:
        raise UserError(f"{path} has no windows for {key}; expected one of NAB's 58 series")
    return [
        (datetime.fromisoformat(start), datetime.fromisoformat(end)) for start, end in labels[key]
    ]


def window_labels(times: Sequence[Any], windows: Sequence[tuple[Any, Any]]) -> np.ndarray:
    """For each time, the index of the window [start, end] holding it, or -1."""
    labels = np.full(len(times), -1)
    for i, (start, end) in enumerate(windows):
        labels[[start <= t <= end for t in times]] = i
    return labels


def detection_metrics(flags: np.ndarray, labels: np.ndarray, n_windows: int) -> dict[str, Any]:
    """Precision, recall and F1 of ``flags`` (N,) against ``labels`` (N,: window index or -1),
    the windows with at least one flag, and the flags outside every window."""
    inside = labels >= 0
    hits = int((flags & inside).sum())
    precision = hits / int(flags.sum()) if flags.any() else None
    recall = hits / int(inside.sum()) if inside.any() else None
    f1 = None
    if precision is not None and recall is not None and precision + recall > 0:
        f1 = 2 * precision * recall / (precision + recall)
    detected = len(set(labels[flags & inside].tolist()))
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "windows": n_windows,
        "windows_detected": detected,
        "false_positives": int((flags & ~inside).sum()),
    }
