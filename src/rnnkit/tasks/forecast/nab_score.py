"""The Numenta Anomaly Benchmark's scoring (NAB v1.1, its ``sweeper.py`` and ``run.py
--normalize``), re-implemented on NumPy arrays.

A detector gives every row of a series a score; rows scoring at least the threshold θ are
detections. Rows of the probationary period (the first ``min(⌊0.15 n⌋, 750)``) are not scored.
Each row gets a weight from its place relative to the labelled windows::

    σ̃(p) = 2 / (1 + e^{5p}) - 1   (p < 3),   -1   (p ≥ 3)          the scaled sigmoid

    in window [s, e] (rows):     p = -(e - i + 1) / (e - s + 1),   w_i = A_tp σ̃(p) / σ̃(-1)
    after a window ending at e:  p = |e - i| / (width - 1),        w_i = A_fp σ̃(p)
    before any window:           w_i = -A_fp

A series scores ``Σ_windows max(-A_fn, max_{detections in it} w_i) + Σ_{detections outside}
w_i``: a window counts once, by its earliest detection (the window's start is worth about
A_tp, its end about 0), a missed window costs A_fn, a false positive right after a window costs
little and one far from any window A_fp. The three application profiles (A_tp, A_fp, A_fn) are
standard (1, 0.11, 1), reward_low_FP_rate (1, 0.22, 1) and reward_low_FN_rate (1, 0.11, 2).

Over the corpus the raw scores add up and are normalised so that the null detector (no
detections: ``-A_fn`` per scored window) scores 0 and a perfect one 100::

    S = 100 (raw - null) / (perfect - null),   perfect = A_tp × (windows in the labels)

NAB's leaderboard picks, per detector and profile, the one threshold that maximises the raw
corpus score (its ``optimize`` step: it reads every series' labels).
:func:`leave_one_out_thresholds` picks each series' threshold from the other series only, and a
detector's own label-free threshold can be scored as it is.

Checked against NAB's published scores with its windowed Gaussian detector
(``detect.windowed_gaussian``) over the 58 series: with the scores as NAB's result files hold
them — written by Python 2's ``str``, 12 significant digits (:func:`as_nab_wrote`), which turns
every score above 1 - 5e-13 (z > 7.2) into 1.0 — 39.65 / 20.87 / 47.41 (standard / low FP / low
FN), NAB's table 39.6 / 20.9 / 47.4. At full precision the same detector scores 40.13 / 23.94 /
47.73: the best threshold then separates z = 7.2 from larger deviations.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from rnnkit.errors import UserError

__all__ = [
    "PROFILES",
    "as_nab_wrote",
    "CostMatrix",
    "NabSeries",
    "SeriesSweep",
    "best_threshold",
    "corpus_score",
    "leave_one_out_thresholds",
    "normalized",
    "probationary_length",
    "read_nab_corpus",
    "read_nab_series",
    "scaled_sigmoid",
    "series_score",
    "sweep",
    "threshold_curve",
    "window_rows",
]

PROBATION_FRACTION = 0.15  # NAB's probationary period: 15% of the rows ...
PROBATION_CAP = 750  # ... and at most 0.15 × 5000 rows


@dataclass(frozen=True)
class CostMatrix:
    """An application profile's weights: a detected window's most (tp), a false positive far
    from any window (fp), a missed window (fn)."""

    tp: float
    fp: float
    fn: float


PROFILES: dict[str, CostMatrix] = {  # NAB's config/profiles.json
    "standard": CostMatrix(tp=1.0, fp=0.11, fn=1.0),
    "reward_low_FP_rate": CostMatrix(tp=1.0, fp=0.22, fn=1.0),
    "reward_low_FN_rate": CostMatrix(tp=1.0, fp=0.11, fn=2.0),
}

OUTSIDE, PROBATIONARY = -1, -2  # the window index of a row outside every window, of probation


def as_nab_wrote(scores: np.ndarray) -> np.ndarray:
    """``scores`` rounded to 12 significant digits, as NAB's result files hold a detector's
    scores (Python 2's ``str``): what its published leaderboard was computed from."""
    return np.array([float(f"{value:.12g}") for value in np.asarray(scores, dtype=np.float64)])


def scaled_sigmoid(position: np.ndarray | float) -> np.ndarray:
    """σ̃(p) = 2 / (1 + e^{5p}) - 1, and -1 from p = 3 on (the module docstring)."""
    p = np.asarray(position, dtype=np.float64)
    with np.errstate(over="ignore"):
        value = 2.0 / (1.0 + np.exp(5.0 * p)) - 1.0
    return np.where(p >= 3.0, -1.0, value)


def probationary_length(n: int) -> int:
    """The rows NAB does not score at the start of a series of ``n`` rows."""
    return min(math.floor(PROBATION_FRACTION * n), PROBATION_CAP)


@dataclass
class SeriesSweep:
    """One series under one profile: each row's detector score, its weight ``w_i`` and its
    window (an index, ``OUTSIDE`` or ``PROBATIONARY``), and the windows scored (those with a
    row after the probationary period)."""

    scores: np.ndarray  # (n,)
    weights: np.ndarray  # (n,)
    window: np.ndarray  # (n,) int
    scored_windows: int


def sweep(scores: np.ndarray, windows: list[tuple[int, int]], cost: CostMatrix) -> SeriesSweep:
    """Each row's weight (the module docstring) for ``scores`` (n,) and the labelled
    ``windows`` as inclusive (first row, last row) pairs in time order."""
    n = len(scores)
    rows = np.arange(n)
    weights = np.full(n, -cost.fp)  # before any window
    window = np.full(n, OUTSIDE)
    max_tp = float(scaled_sigmoid(-1.0))
    previous_end, previous_width = None, None
    for k, (start, end) in enumerate(sorted(windows)):
        if not 0 <= start <= end < n:
            raise UserError(f"window rows ({start}, {end}) lie outside the series' {n} rows")
        if previous_end is not None:  # false positives between the last window and this one
            after = rows[previous_end + 1 : start]
            position = np.abs(previous_end - after) / max(previous_width - 1, 1)
            weights[after] = scaled_sigmoid(position) * cost.fp
        width = end - start + 1
        inside = rows[start : end + 1]
        weights[inside] = scaled_sigmoid(-(end - inside + 1) / width) * cost.tp / max_tp
        window[inside] = k
        previous_end, previous_width = end, width
    if previous_end is not None:
        after = rows[previous_end + 1 :]
        weights[after] = scaled_sigmoid(np.abs(previous_end - after) / max(previous_width - 1, 1))
        weights[after] *= cost.fp
    window[: probationary_length(n)] = PROBATIONARY
    scored = len(set(window[window >= 0].tolist()))
    return SeriesSweep(np.asarray(scores, dtype=np.float64), weights, window, scored)


def series_score(swept: SeriesSweep, threshold: float | None, cost: CostMatrix) -> dict:
    """The raw score of one series at ``threshold`` (rows scoring at least it are detections;
    None: no detections), with the windows detected and the false-positive rows."""
    active = swept.window != PROBATIONARY
    active &= swept.scores >= threshold if threshold is not None else False
    outside = active & (swept.window == OUTSIDE)
    score = float(swept.weights[outside].sum())
    detected = 0
    for k in np.unique(swept.window[swept.window >= 0]):
        hits = swept.weights[active & (swept.window == k)]
        best = max(-cost.fn, float(hits.max())) if len(hits) else -cost.fn
        detected += int(len(hits) > 0)
        score += best
    return {
        "score": score,
        "windows": swept.scored_windows,
        "windows_detected": detected,
        "false_positives": int(outside.sum()),
    }


def threshold_curve(sweeps: list[SeriesSweep], cost: CostMatrix) -> tuple[np.ndarray, np.ndarray]:
    """(thresholds, raw scores): the summed raw score of ``sweeps`` at every threshold worth
    trying, from none flagged (threshold +inf) down to the lowest score (all flagged)."""
    scores, weights, keys = [], [], []
    offset = 0
    for swept in sweeps:
        keep = swept.window != PROBATIONARY
        scores.append(swept.scores[keep])
        weights.append(swept.weights[keep])
        keys.append(np.where(swept.window[keep] >= 0, swept.window[keep] + offset, -1))
        offset += int(swept.window.max()) + 1 if (swept.window >= 0).any() else 0
    score, weight, key = (np.concatenate(a) for a in (scores, weights, keys))
    null = -cost.fn * sum(s.scored_windows for s in sweeps)
    order = np.argsort(-score, kind="stable")
    score, weight, key = score[order], weight[order], key[order]
    gain = np.where(key < 0, weight, 0.0)  # a false positive adds its weight
    for k in np.unique(key[key >= 0]):  # a window adds what its best detection so far gains
        at = np.flatnonzero(key == k)
        best = np.maximum.accumulate(np.concatenate([[-cost.fn], weight[at]]))
        gain[at] = np.diff(best)
    totals = null + np.cumsum(gain)
    last = np.flatnonzero(np.append(score[1:] != score[:-1], True))  # each threshold's last row
    return np.append(np.inf, score[last]), np.append(null, totals[last])


def best_threshold(sweeps: list[SeriesSweep], cost: CostMatrix) -> tuple[float | None, float]:
    """(threshold, raw score) maximising the summed raw score (NAB's optimiser; on a tie the
    highest threshold); threshold None: flagging nothing is best."""
    thresholds, totals = threshold_curve(sweeps, cost)
    best = int(np.argmax(totals))
    return (None if np.isinf(thresholds[best]) else float(thresholds[best])), float(totals[best])


def leave_one_out_thresholds(sweeps: list[SeriesSweep], cost: CostMatrix) -> list[float | None]:
    """Each series' threshold chosen on the other series' labels only (NAB's optimiser without
    the series it is applied to)."""
    return [best_threshold(sweeps[:i] + sweeps[i + 1 :], cost)[0] for i in range(len(sweeps))]


def normalized(raw: float, null: float, perfect: float) -> float:
    """S = 100 (raw - null) / (perfect - null): null 0, perfect 100."""
    if perfect == null:
        raise UserError("no labelled window to score: the normalised score is undefined")
    return 100.0 * (raw - null) / (perfect - null)


def corpus_score(
    sweeps: list[SeriesSweep],
    thresholds: list[float | None],
    cost: CostMatrix,
    total_windows: int,
) -> dict:
    """The normalised score of ``sweeps`` each at its threshold; ``total_windows``: the windows
    in the labels of these series (the perfect detector's count, probationary ones included)."""
    rows = [series_score(s, t, cost) for s, t in zip(sweeps, thresholds)]
    raw = sum(r["score"] for r in rows)
    null = -cost.fn * sum(s.scored_windows for s in sweeps)
    return {
        "score": normalized(raw, null, cost.tp * total_windows),
        "raw": raw,
        "null": null,
        "windows_detected": sum(r["windows_detected"] for r in rows),
        "windows": sum(r["windows"] for r in rows),
        "false_positives": sum(r["false_positives"] for r in rows),
        "series": rows,
    }


@dataclass
class NabSeries:
    """One NAB series as its file has it: ``name`` (``<category>/<file>``), its row times and
    values, and its labelled windows as inclusive row pairs."""

    name: str
    times: list[datetime]
    values: np.ndarray  # (n,)
    windows: list[tuple[int, int]]


def read_nab_series(path: Path) -> tuple[list[datetime], np.ndarray]:
    """(times, values) of a NAB file (``timestamp,value``), every row kept as it is (NAB scores
    rows: no resampling, repeated times kept)."""
    try:
        with open(path, encoding="utf-8", newline="") as file:
            rows = list(csv.reader(file))
        times = [datetime.fromisoformat(r[0]) for r in rows[1:]]
        values = np.array([float(r[1]) for r in rows[1:]])
    except (OSError, ValueError, IndexError) as error:
        raise UserError(f"{path}: expected NAB's timestamp,value rows ({error})") from None
    return times, values


def window_rows(times: list[datetime], windows: list[tuple[str, str]], name: str) -> list:
    """NAB's windows (start, end) times as inclusive row pairs: the first row at or after the
    start, the last at or before the end."""
    stamps = np.array(times, dtype="datetime64[us]")
    rows = []
    for start, end in windows:
        first = int(np.searchsorted(stamps, np.datetime64(datetime.fromisoformat(start))))
        last = int(np.searchsorted(stamps, np.datetime64(datetime.fromisoformat(end)), "right"))
        if first >= last:
            raise UserError(f"{name}: the window {start} .. {end} holds no row")
        rows.append((first, last - 1))
    return rows


def read_nab_corpus(root: Path, limit: int | None = None) -> list[NabSeries]:
    """NAB's labelled series under ``root`` (``data/<category>/*.csv`` and
    ``labels/combined_windows.json``) by name; ``limit``: only the first few of those with
    windows (a quick check)."""
    labels_path = Path(root) / "labels" / "combined_windows.json"
    try:
        labels = json.loads(labels_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise UserError(f"{labels_path}: cannot read NAB's windows ({error})") from None
    corpus = []
    names = sorted(labels)
    if limit is not None:
        names = [name for name in names if labels[name]][:limit]
    for name in names:
        times, values = read_nab_series(Path(root) / "data" / name)
        corpus.append(NabSeries(name, times, values, window_rows(times, labels[name], name)))
    return corpus
