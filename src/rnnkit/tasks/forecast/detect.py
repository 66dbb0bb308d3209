"""Anomaly detection in a series: scores per time step, a threshold chosen without labels,
the flagged steps grouped into windows, and metrics against labelled windows (NAB's).

From a trained forecaster's errors (``Forecaster.detect``): a step whose one-step error is far
from the errors of the probationary period (the start of the series, taken to be free of
anomalies: 15% as in NAB) is flagged::

    e_t = (y_t - ŷ_t) / s                               one-step error (s: the scaler's scale)
    z_t = max_j |e_tj - μ_j| / σ_j                      μ, σ: of the probationary errors
    anomaly_t = z_t > θ                                 θ: the largest z of the probationary
                                                        period (or a given threshold)

:class:`AnomalyDetector` needs no trained run: it learns on the probationary period of the
series it scans (15%, at most 750 steps: NAB scores every step after that), and scores every
later step causally (from the values up to it):

* ``prediction``: an LSTM forecasts each value from the ``input_length`` before it; the raw
  score is the error ``r_t = y_t - ŷ_t`` (scaled by the probation's spread; either sign
  surprises);
* ``autoencoder``: an LSTM autoencoder (:mod:`rnnkit.models.autoencoder`) rebuilds the window
  ending at each step; ``r_t`` is its mean squared reconstruction error;
* ``combined``: both models; its score is the mean of their two surprises (below), so a step
  stands out only where the forecast and the reconstruction both fail (-log10 of the geometric
  mean of the two tail probabilities);
* ``zscore`` (a baseline, no model): ``z_t = |y_t - m_t| / s_t``, ``m``, ``s`` the mean and
  spread of the ``history`` values before ``t``; its score is the surprise -log10 2Q(z_t).

The model methods turn ``r`` into an anomaly likelihood (Ahmad et al. 2017, as NAB's HTM
detector)::

    a_t = mean(r_{t-A+1..t})                            short average (A = ``average``)
    L_t = 1 - Q((a_t - μ_t) / σ_t)                      μ, σ: of a over the ``history`` steps
                                                        before t; Q the normal tail
    score_t = -log10(1 - L_t)                           the surprise: 5 at L = 1 - 1e-5
    score_t = (score^prediction_t + score^autoencoder_t) / 2          combined

A value outside the range of every value before it, widened by 5% of its width (``spatial``),
scores at least 10, the top score of NAB's Numenta detector (which flags such values the same
way: a level the series never reached is news whatever a model predicts). Every method then
keeps a step's score only where it beats the ``quiet`` steps before it (one alarm per event:
NAB charges every flagged step outside a window), and a step is flagged when its score reaches
θ, by default chosen without labels from the probationary period (seen as normal): its largest
score (before the spatial rule) after the warm-up, over m steps, raised by log10(M / (m f))
for the M steps scored after it (the largest of M calibrated surprises sits near log10 M; f =
``false_alarms``, 0.1 by default), or a given threshold.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from tqdm.auto import tqdm

from rnnkit.data.resolve import resolve
from rnnkit.errors import UserError
from rnnkit.settings import Settings
from rnnkit.tasks.forecast.report import stamp

__all__ = [
    "DETECTION_METHODS",
    "PROBATION",
    "AnomalyDetector",
    "DetectorSettings",
    "anomaly_likelihood",
    "anomaly_scores",
    "detect_series",
    "detection_metrics",
    "flagged_windows",
    "nab_windows",
    "normal_tail",
    "quieted",
    "rolling_moments",
    "rolling_zscore",
    "series_report",
    "spatial_anomalies",
    "window_labels",
    "windowed_gaussian",
]

logger = logging.getLogger(__name__)

PROBATION = 0.15  # NAB's probationary period: the first 15% of a series ...
PROBATION_CAP = 750  # ... and at most 0.15 × 5000 steps
DETECTION_METHODS = ("prediction", "autoencoder", "combined", "zscore")
LIKELIHOOD_WARMUP = 100  # averages of the raw score seen before the likelihood is trusted
SPATIAL_SCORE = 10.0  # a spatial anomaly's least score: the surprise of L = 1 - 1e-10, the
# most NAB's Numenta detector gives (its score log(1 - L) / log(1e-10) reaches 1 there)


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


@dataclass
class DetectorSettings(Settings):
    """How :class:`AnomalyDetector` scores a series (the module docstring has the equations).

    Args:
        method: prediction (an LSTM's one-step forecast error), autoencoder (an LSTM
            autoencoder's reconstruction error of the window ending at each step), combined
            (both: the mean of their surprises) or zscore
            (the distance from the mean of the values before, in their standard deviations;
            no model).
        probation: the fraction at the start taken to be free of anomalies: the models learn
            on it and the threshold is read from it.
        max_probation: at most this many steps in the probationary period (NAB's 750 =
            0.15 × 5000: NAB scores the steps after it, so a detector learning on more would
            see what it is scored on; 0: no cap).
        input_length: steps the LSTM reads (the window).
        hidden: LSTM units.
        epochs: passes over the probationary windows.
        lr: Adam's learning rate.
        batch_size: windows per step.
        average: steps averaged into the short-term error (A).
        history: past steps whose mean and spread standardise a step (the likelihood's and
            the zscore baseline's window; 8640 as NAB's HTM detector).
        quiet: a step keeps its score only if it beats every score of the ``quiet`` steps
            before it (else 0): one event raises one alarm, not one per step (0: off).
        spatial: a value outside the range of the values before it, widened by this fraction
            of the range's width, scores at least 10 (the top score of NAB's Numenta detector,
            which flags such values the same way, with 0.05; 0: off).
        threshold: flag steps scoring at least this (default: chosen from the probationary
            period, no labels: its largest score raised by log10(M / (m f)), m its steps, M
            the steps scored after it, f = ``false_alarms``).
        false_alarms: the false alarms the default threshold allows over the scored steps
            (on calibrated scores).
        seed: of the weights and the batch order.
    """

    KIND: ClassVar[str] = "detector setting"
    CHOICES: ClassVar[dict[str, Any]] = {"method": DETECTION_METHODS}
    RANGES: ClassVar[dict[str, str]] = {
        "probation": "(0, 1)",
        "max_probation": "[0, inf)",
        "input_length": "[2, inf)",
        "hidden": "[1, inf)",
        "epochs": "[1, inf)",
        "lr": "(0, inf)",
        "batch_size": "[1, inf)",
        "average": "[1, inf)",
        "history": "[2, inf)",
        "quiet": "[0, inf)",
        "spatial": "[0, inf)",
        "false_alarms": "(0, inf)",
    }

    method: str = "prediction"
    probation: float = PROBATION
    max_probation: int = PROBATION_CAP
    input_length: int = 32
    hidden: int = 32
    epochs: int = 20
    lr: float = 3e-3
    batch_size: int = 64
    average: int = 1
    history: int = 8640
    quiet: int = 400
    spatial: float = 0.05
    threshold: float | None = None
    false_alarms: float = 0.1
    seed: int = 0

    def probation_steps(self, n: int) -> int:
        """The steps of a series of ``n`` taken as the probationary period:
        min(⌊probation × n⌋, max_probation) (0: no cap)."""
        steps = math.floor(self.probation * n)
        return min(steps, self.max_probation) if self.max_probation else steps


def normal_tail(z: np.ndarray) -> np.ndarray:
    """Q(z) = P(Z > z) = erfc(z / √2) / 2 for a standard normal Z."""
    z = torch.as_tensor(np.asarray(z, dtype=np.float64))
    return (0.5 * torch.special.erfc(z / math.sqrt(2.0))).numpy()


def rolling_moments(values: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """(mean, standard deviation), each (n,), of ``values[max(0, t - window):t]`` for every t:
    the values strictly before t (NaN at t = 0)."""
    x = np.asarray(values, dtype=np.float64)
    centre = x[0] if len(x) else 0.0  # shifted sums lose less precision
    sums = np.concatenate([[0.0], np.cumsum(x - centre)])  # (n + 1,)
    squares = np.concatenate([[0.0], np.cumsum((x - centre) ** 2)])
    t = np.arange(len(x))
    first = np.maximum(0, t - window)
    count = (t - first).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (sums[t] - sums[first]) / count
        variance = (squares[t] - squares[first]) / count - mean**2
    return mean + centre, np.sqrt(np.maximum(variance, 0.0))


def windowed_gaussian(values: np.ndarray, window: int = 6400, step: int = 100) -> np.ndarray:
    """NAB's windowed Gaussian baseline detector: the score of x_t is 1 - Q(|x_t - μ| / σ),
    μ and σ of the ``window`` values before it, the window moving on ``step`` values at a time
    once full (σ = 0 is taken as 1e-6; the first score is 0)."""
    x = np.asarray(values, dtype=np.float64)
    n = len(x)
    t = np.arange(n)
    ends = np.where(t < window, t, window + ((t - window) // step) * step)
    starts = np.maximum(0, ends - window)
    centre = x[0] if n else 0.0
    sums = np.concatenate([[0.0], np.cumsum(x - centre)])
    squares = np.concatenate([[0.0], np.cumsum((x - centre) ** 2)])
    count = np.maximum(ends - starts, 1).astype(np.float64)
    mean = (sums[ends] - sums[starts]) / count
    std = np.sqrt(np.maximum((squares[ends] - squares[starts]) / count - mean**2, 0.0))
    std = np.where(std < 1e-12 * max(1.0, float(np.abs(x).max(initial=0.0))), 1e-6, std)
    scores = 1.0 - normal_tail(np.abs(x - centre - mean) / std)
    scores[0] = 0.0
    return scores


def rolling_zscore(values: np.ndarray, history: int) -> np.ndarray:
    """|x_t - m_t| / s_t, ``m``, ``s`` the mean and spread of the ``history`` values before
    t (0 where fewer than two came before or the spread is 0)."""
    mean, spread = rolling_moments(values, history)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.abs(np.asarray(values, dtype=np.float64) - mean) / spread
    z[: min(2, len(z))] = 0.0
    return np.where(np.isfinite(z), z, 0.0)


def anomaly_likelihood(
    raw: np.ndarray, average: int, history: int, start: int, two_sided: bool = False
) -> np.ndarray:
    """The surprise -log10(1 - L_t) = -log10 Q((a_t - μ_t) / σ_t) of raw scores ``raw`` (n,):
    ``a`` their mean over the last ``average`` steps, μ and σ of ``a`` over the ``history``
    steps before t, counted from ``start`` (the first step with a raw score); 0 until
    ``LIKELIHOOD_WARMUP`` averages came before. 5 means a tail probability of 1e-5.
    ``two_sided`` (signed errors): -log10 2Q(|z|), a departure either way."""
    r = np.asarray(raw, dtype=np.float64)
    sums = np.concatenate([[0.0], np.cumsum(r)])
    t = np.arange(len(r))
    first = np.maximum(start, t - average + 1)
    short = np.zeros(len(r))
    valid = t >= start
    short[valid] = (sums[t + 1] - sums[first])[valid] / (t + 1 - first)[valid]
    surprise = np.zeros(len(r))
    if len(r) > start:
        mean, spread = rolling_moments(short[start:], history)  # (n - start,) each
        with np.errstate(invalid="ignore", divide="ignore"):
            z = (short[start:] - mean) / np.maximum(spread, 1e-9)
        z = np.where(np.isfinite(z), z, 0.0)
        z = np.abs(z) if two_sided else z
        log_tail = torch.special.log_ndtr(torch.as_tensor(-z)).numpy()  # ln Q(z)
        log_tail += math.log(2.0) if two_sided else 0.0
        surprise[start:] = np.where(np.arange(len(z)) >= LIKELIHOOD_WARMUP,
                                    -log_tail / math.log(10.0), 0.0)  # fmt: skip
    return np.maximum(surprise, 0.0)


def spatial_anomalies(values: np.ndarray, tolerance: float) -> np.ndarray:
    """Steps (n,) whose value lies outside the range of every value before it widened by
    ``tolerance`` of its width, in any column of ``values`` (n,) or (n, k) (NAB's Numenta
    detector's spatial anomaly)::

        hi_t = max(x_{<t}),  lo_t = min(x_{<t}),  d = tolerance (hi_t - lo_t)
        spatial_t = hi_t > lo_t  and  (x_t > hi_t + d  or  x_t < lo_t - d)
    """
    x = np.asarray(values, dtype=np.float64)
    x = x[:, None] if x.ndim == 1 else x  # (n, k)
    if len(x) < 2:
        return np.zeros(len(x), dtype=bool)
    high = np.maximum.accumulate(x, axis=0)[:-1]  # (n - 1, k): of the values before t
    low = np.minimum.accumulate(x, axis=0)[:-1]
    margin = tolerance * (high - low)
    outside = (high > low) & ((x[1:] > high + margin) | (x[1:] < low - margin))  # (n - 1, k)
    return np.r_[False, outside.any(axis=1)]


def quieted(scores: np.ndarray, quiet: int) -> np.ndarray:
    """s'_t = s_t if s_t > max(s_{t-quiet..t-1}) else 0: only a new high within the last
    ``quiet`` steps keeps its score (``quiet`` 0: the scores unchanged)."""
    if quiet == 0 or not len(scores):
        return scores
    padded = torch.nn.functional.pad(torch.as_tensor(scores)[None, None], (quiet, 0),
                                     value=-math.inf)  # (1, 1, n + quiet)  # fmt: skip
    before = torch.nn.functional.max_pool1d(padded, quiet, 1)[0, 0, :-1].numpy()  # (n,)
    return np.where(scores > before, scores, 0.0)


def flagged_windows(
    flags: np.ndarray, scores: np.ndarray, times: Sequence[Any], gap: int = 1
) -> list[dict[str, Any]]:
    """Runs of flagged steps (``gap``: steps apart still in one run) as anomaly windows:
    {start, end, steps, peak (the time of the highest score), score}."""
    rows = np.flatnonzero(flags)
    result: list[dict[str, Any]] = []
    if not len(rows):
        return result
    breaks = np.flatnonzero(np.diff(rows) > gap)
    for run in np.split(rows, breaks + 1):
        peak = run[int(np.argmax(scores[run]))]
        result.append({"start": stamp(times[run[0]]), "end": stamp(times[run[-1]]),
                       "steps": int(len(run)), "peak": stamp(times[peak]),
                       "score": round(float(scores[peak]), 6)})  # fmt: skip
    return result


class AnomalyDetector:
    """Learn a series' normal behaviour on its probationary period, then score every step
    causally and flag those above a threshold chosen without labels (the module docstring).

    Example::

        detector = AnomalyDetector(method="prediction")
        scores = detector.fit_score(values)           # (n,) surprises, >= 0
        flags = scores >= detector.threshold_
    """

    def __init__(self, settings: DetectorSettings | None = None, **options: Any) -> None:
        self.settings = (settings or DetectorSettings()).replace(**options)
        self.raw_: np.ndarray | None = None
        self.threshold_: float | None = None
        self.warmup_: int = 0

    def fit_score(self, values: np.ndarray, progress: bool = False) -> np.ndarray:
        """Scores (n,) of ``values`` (n,) or (n, k): the model learns on the first
        ``probation`` fraction (at most ``max_probation`` steps); ``threshold_`` is set from it
        (or the given threshold)."""
        s = self.settings
        x = np.asarray(values, dtype=np.float64)
        x = x[:, None] if x.ndim == 1 else x  # (n, k)
        n = len(x)
        probation = s.probation_steps(n)
        if not np.isfinite(x).all():
            raise UserError("the series has missing or infinite values; expected numbers")
        if s.method == "zscore":
            if probation < 3:
                raise UserError(f"{n} steps leave {probation} for the probationary period; "
                                "expected at least 3")  # fmt: skip
            raw = np.max([rolling_zscore(x[:, j], s.history) for j in range(x.shape[1])], 0)
            log_tail = torch.special.log_ndtr(torch.as_tensor(-raw)).numpy() + math.log(2.0)
            scores = np.maximum(-log_tail / math.log(10.0), 0.0)  # -log10 2Q(|z|)
            self.raw_, self.warmup_ = raw, min(probation - 1, LIKELIHOOD_WARMUP)
        else:
            needed = s.input_length + LIKELIHOOD_WARMUP + 20
            if probation < needed:
                raise UserError(
                    f"{n} steps leave {probation} for the probationary period; the "
                    f"{s.method} model needs at least {needed} there (input_length "
                    f"{s.input_length} + {LIKELIHOOD_WARMUP + 20}): a longer series, a larger "
                    "probation, or the zscore method"
                )
            mean, spread = x[:probation].mean(0), x[:probation].std(0)  # (k,)
            z = (x - mean) / np.where(spread > 0, spread, 1.0)  # (n, k)
            models = ("prediction", "autoencoder") if s.method == "combined" else (s.method,)
            raws, surprises = [], []
            for model in models:
                raw = self._model_errors(z, probation, progress, model)  # (n, k) or (n, 1)
                two_sided = model == "prediction"  # signed errors
                surprises.append(np.max([anomaly_likelihood(column, s.average, s.history,
                                                            s.input_length, two_sided)
                                         for column in raw.T], 0))  # fmt: skip
                raws.append(raw)
            self.raw_ = np.concatenate(raws, axis=1)  # (n, k), (n, 1) or (n, k + 1)
            self.warmup_ = min(probation, s.input_length + LIKELIHOOD_WARMUP)
            scores = np.mean(surprises, axis=0)  # (n,): combined, the mean of the two
        if s.threshold is not None:
            self.threshold_ = s.threshold
        else:  # the probation's largest surprise, raised to the steps scored after it
            early = quieted(scores, s.quiet)[self.warmup_ : probation]
            later = max(n - probation, 1) / s.false_alarms
            self.threshold_ = float(early.max() + math.log10(max(later / len(early), 1.0)))
        if s.spatial > 0:  # a fixed rule, not a calibrated surprise: not in θ
            outside = spatial_anomalies(x, s.spatial)
            scores = np.where(outside, np.maximum(scores, SPATIAL_SCORE), scores)
        return quieted(scores, s.quiet)

    def _model_errors(
        self, z: np.ndarray, probation: int, progress: bool, method: str
    ) -> np.ndarray:
        """The raw scores of every step from a ``method`` model trained on ``z[:probation]``:
        the signed one-step errors y - ŷ (n, k), or the reconstruction errors (n, 1)."""
        from rnnkit.models.autoencoder import LSTMAutoencoder
        from rnnkit.models.forecaster import ForecasterConfig, RNNForecaster

        s = self.settings
        L, k = s.input_length, z.shape[1]
        torch.manual_seed(s.seed)
        series = torch.as_tensor(z, dtype=torch.float32)  # (n, k)
        predicting = method == "prediction"
        # window ending before t (prediction) or at t (autoencoder), for every scored t
        ends = np.arange(L, len(z)) if predicting else np.arange(L - 1, len(z))
        windows = series.unfold(0, L, 1).transpose(1, 2)  # (n - L + 1, L, k)
        inputs = windows[ends - L] if predicting else windows[ends - L + 1]  # (m, L, k)
        targets = series[ends]  # (m, k)
        if predicting:
            config = ForecasterConfig(input_size=k, num_targets=k, output_steps=1,
                                      hidden=s.hidden, head="point")  # fmt: skip
            model: torch.nn.Module = RNNForecaster(config)
        else:
            model = LSTMAutoencoder(k, s.hidden)
        train = int(np.sum(ends < probation))
        optimizer = torch.optim.Adam(model.parameters(), lr=s.lr)
        generator = torch.Generator().manual_seed(s.seed)
        model.train()
        epochs = tqdm(range(s.epochs), desc=f"{method} detector", disable=not progress,
                      leave=False)  # fmt: skip
        for _ in epochs:
            order = torch.randperm(train, generator=generator)
            for first in range(0, train, s.batch_size):
                batch = order[first : first + s.batch_size]
                if predicting:
                    output = model(inputs[batch])[:, 0, :, 0]  # (b, k)
                    loss = torch.nn.functional.mse_loss(output, targets[batch])
                else:
                    output = model(inputs[batch], teacher=True)  # (b, L, k)
                    loss = torch.nn.functional.mse_loss(output, inputs[batch])
                optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
        model.eval()
        errors = []
        with torch.no_grad():
            for first in range(0, len(inputs), 1024):
                chunk = inputs[first : first + 1024]  # (b, L, k)
                if predicting:
                    output = model(chunk)[:, 0, :, 0]  # (b, k)
                    errors.append(targets[first : first + 1024] - output)  # (b, k)
                else:
                    errors.append((model(chunk) - chunk).pow(2).mean((1, 2))[:, None])  # (b, 1)
        raw = np.zeros((len(z), errors[0].shape[1]))
        raw[ends] = torch.cat(errors).numpy()
        return raw


def detect_series(
    source: str, settings: DetectorSettings | None = None, plot: str | Path | None = None
) -> dict[str, Any]:
    """Scan a series with :class:`AnomalyDetector`: ``source`` is NAB's ``nab/<category>/<name>``
    (its rows as the file has them, scored against its windows with NAB's function), a
    registered dataset or a CSV file (read as ``rnnkit train forecast`` reads it)."""
    from rnnkit.tasks.forecast.data import ForecastData, load_series_source
    from rnnkit.tasks.forecast.detect_plot import save_detection_plot
    from rnnkit.tasks.forecast.nab_score import (
        PROFILES,
        normalized,
        read_nab_series,
        series_score,
        sweep,
        window_rows,
    )

    settings = settings or DetectorSettings()
    labelled = None
    if source.startswith("nab/") and source.count("/") == 2 and not Path(source).is_file():
        _, category, name = source.split("/")
        times, values = read_nab_series(resolve("nab") / "data" / category / f"{name}.csv")
        labelled = nab_windows(source)
        names = ["value"]
    else:
        series = load_series_source(ForecastData(source=source))
        times = list(series.times) if series.times else list(range(len(series)))
        values, names = series.targets, series.target_names
    detector = AnomalyDetector(settings)
    scores = detector.fit_score(values, progress=True)
    threshold = detector.threshold_
    flags = scores >= threshold
    probation = settings.probation_steps(len(scores))
    flags[:probation] = False  # the probationary period is taken as normal
    values_2d = np.asarray(values, dtype=np.float64).reshape(len(scores), -1)  # (n, k)
    result: dict[str, Any] = {
        "data": source,
        "method": settings.method,
        "targets": names,
        "n": len(scores),
        "probation": probation,
        "threshold": threshold,
        "flagged": int(flags.sum()),
        "anomalies": [
            {"time": stamp(times[i]), "score": round(float(scores[i]), 6),
             **{name: {"value": float(values_2d[i, j])} for j, name in enumerate(names)}}
            for i in np.flatnonzero(flags)
        ],
        "anomaly_windows": flagged_windows(flags, scores, times),
    }  # fmt: skip
    if labelled is not None:
        rows = window_rows(times, [(str(a), str(b)) for a, b in labelled], source)
        result.update(detection_metrics(flags, window_labels(times, labelled), len(labelled)))
        result["nab"] = {}
        for profile, cost in PROFILES.items():
            swept = sweep(scores, rows, cost)
            got = series_score(swept, threshold, cost)
            null = -cost.fn * swept.scored_windows
            perfect = cost.tp * len(rows)
            score = normalized(got["score"], null, perfect) if perfect != null else None
            result["nab"][profile] = {"score": score, "raw": got["score"]}
    drawn = plot is not None and save_detection_plot(
        Path(plot), times=times, values=values, scores=scores, flags=flags,
        threshold=threshold, windows=labelled, probation=probation,
        title=f"{source}: {settings.method} detector, {int(flags.sum())} step(s) flagged",
    )  # fmt: skip
    result["plot"] = str(plot) if drawn else None
    result["report"] = series_report(result)
    return result


def series_report(result: dict[str, Any]) -> str:
    """What ``rnnkit detect SERIES`` prints: the anomaly windows and, for NAB's series, the
    scores against its labelled windows."""
    lines = [
        f"{result['data']}: {result['flagged']} of {result['n']} steps flagged in "
        f"{len(result['anomaly_windows'])} window(s) by the {result['method']} detector (score at "
        f"least {result['threshold']:.4g}; learned on the first {result['probation']} steps)"
    ]
    for row in result["anomaly_windows"][:20]:
        lines.append(f"  {row['start']} .. {row['end']}  ({row['steps']} step(s), peak "
                     f"{row['peak']}, score {row['score']:.4g})")  # fmt: skip
    if len(result["anomaly_windows"]) > 20:
        lines.append(f"  ... and {len(result['anomaly_windows']) - 20} more (--json lists all)")
    if "nab" in result:
        nab = ", ".join(
            f"{name} {'-' if v['score'] is None else format(v['score'], '.1f')}"
            for name, v in result["nab"].items()
        )
        lines.append(
            f"labelled windows: {result['windows_detected']} of {result['windows']} detected, "
            f"{result['false_positives']} flagged step(s) outside every window; NAB score of "
            f"this series (null 0, perfect 100): {nab}"
        )
    if result["plot"]:
        lines.append(f"plot: {result['plot']}")
    return "\n".join(lines)
