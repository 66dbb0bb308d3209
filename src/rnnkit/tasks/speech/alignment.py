"""Which frames emitted which symbol: the CTC alignment of a recognised utterance, and its plot
(the spectrogram with each symbol's frames marked, over the per-frame posteriors).

The alignment is the most probable path ``π*_t = argmax_k y_t(k)`` of the network's per-frame
distributions ``y_t`` over the S symbols and the blank (index 0). A run of equal non-blank
frames ``π*_a = … = π*_b = k`` is one emission of symbol ``k`` over frames ``a..b``; the path's
emissions in order are the greedy transcript ``B(π*)`` (blanks dropped, repeats merged unless a
blank separates them). Each segment also carries its peak posterior ``max_{a≤t≤b} y_t(k)``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from rnnkit.atomic import atomic_path

__all__ = ["Segment", "ctc_segments", "draw_alignment"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Segment:
    """One emission of the most probable path: ``symbol`` over frames ``start..end``
    (inclusive) with its peak posterior ``prob``."""

    symbol: str
    start: int
    end: int
    prob: float

    def to_dict(self, frame_seconds: float) -> dict:
        """The segment in seconds (frame ``t`` starts at ``t * frame_seconds``)."""
        return {
            "symbol": self.symbol,
            "start_s": round(self.start * frame_seconds, 4),
            "end_s": round((self.end + 1) * frame_seconds, 4),
            "prob": round(self.prob, 4),
        }


def ctc_segments(log_probs: torch.Tensor, symbols: Sequence[str]) -> list[Segment]:
    """The emissions of the most probable path of ``log_probs`` (T, S + 1) (column 0 the blank,
    column ``i + 1`` symbol ``symbols[i]``), in time order."""
    probs = log_probs.float().exp()  # (T, S + 1)
    best = probs.argmax(dim=1).tolist()  # (T,) the path π*
    segments: list[Segment] = []
    start = 0
    for t in range(1, len(best) + 1):
        if t < len(best) and best[t] == best[start]:
            continue
        k = best[start]
        if k != 0:
            peak = float(probs[start:t, k].max())
            segments.append(Segment(symbols[k - 1], start, t - 1, peak))
        start = t
    return segments


def draw_alignment(
    path: str | Path,
    features: torch.Tensor,
    log_probs: torch.Tensor,
    symbols: Sequence[str],
    frame_seconds: float,
    title: str,
) -> bool:
    """Draw ``features`` (T, F), the network's standardised input frames, as an image (clipped
    to ±3 standard deviations) with each emission's frames shaded and labelled, above each
    symbol's and the blank's posterior per frame, into the PNG ``path``. False (and a warning)
    when matplotlib is missing."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        logger.warning("matplotlib is not installed: no alignment plot (pip install rnnkit[plot])")
        return False
    frames = features.shape[0]
    seconds = frames * frame_seconds
    probs = log_probs.float().exp().numpy()  # (T, S + 1)
    figure = Figure(figsize=(9, 5.5), layout="constrained")
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    top.imshow(features.T.clamp(-3, 3).numpy(), origin="lower", aspect="auto", cmap="magma",
               extent=(0.0, seconds, 0, features.shape[1]))  # fmt: skip  # (F, T)
    top.set_ylabel("feature (standardised)")
    top.set_title(title)
    for segment in ctc_segments(log_probs, symbols):
        start, end = segment.start * frame_seconds, (segment.end + 1) * frame_seconds
        top.axvspan(start, end, color="cyan", alpha=0.25)
        top.text((start + end) / 2, features.shape[1] * 0.92, segment.symbol, color="white",
                 ha="center", va="top", fontsize=13, fontweight="bold")  # fmt: skip
    times = (np.arange(frames) + 0.5) * frame_seconds  # (T,) frame centres
    bottom.plot(times, probs[:, 0], color="0.6", lw=1, ls="--", label="blank")
    colors = [f"C{i % 10}" for i in range(len(symbols))]
    for i, (symbol, color) in enumerate(zip(symbols, colors)):
        if probs[:, i + 1].max() >= 0.05:  # symbols the network never considers stay out
            bottom.plot(times, probs[:, i + 1], color=color, lw=1.4, label=symbol)
    bottom.set_ylim(0, 1.02)
    bottom.set_xlim(0, seconds)
    bottom.set_xlabel("time (s)")
    bottom.set_ylabel("posterior")
    bottom.legend(loc="upper right", fontsize=8, ncol=6)
    bottom.grid(alpha=0.3)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=100)
    return True
