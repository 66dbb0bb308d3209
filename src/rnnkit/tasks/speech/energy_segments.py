"""Energy-based word segmentation: the baseline a user would build before CTC — cut an utterance
where it is loud, then classify each loud stretch as one word.

Each frame's log energy ``e_t`` (the first MFCC, ``c_0 = Σ_m log E_{t,m} / sqrt(M)``, or the
mean log-mel energy: both measure how loud frame ``t`` is, in log units, for a broadband sound
like speech — a pure sine raises one mel band only) is compared with a threshold set from the
utterance's own levels,

    quiet = P_q(e),   loud = P_l(e),   θ = quiet + threshold · (loud - quiet),

where ``P_q`` is the ``quiet_percentile``-th percentile of the frames' energies (silence or
background) and ``P_l`` the ``loud_percentile``-th (speech), so a gain on the whole utterance
moves ``θ`` with it. Frames with ``e_t > θ`` are speech; silences of fewer than
``min_gap_frames`` frames between speech are bridged (stops and closures inside a word), then
runs of fewer than ``min_speech_frames`` frames are dropped (clicks), and each kept run is
widened by ``pad_frames`` on both sides (quiet onsets and fricatives under ``θ``).
:func:`span_features` cuts a segment's frames out as if it had been recorded alone (MFCC deltas
recomputed inside it), ready for a single-word classifier.

Its limit: words that touch (no silence between them, or less than ``min_gap_frames``) come out
as one segment, so one of them is lost; a word with a long internal pause comes out as two.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch

from rnnkit.data.audio import deltas
from rnnkit.errors import UserError
from rnnkit.tasks.speech.data import SpeechData

__all__ = ["EnergySegmenter", "Span", "frame_log_energy", "span_features"]


class Span(NamedTuple):
    """Frames ``start`` (inclusive) to ``end`` (exclusive) of one segment."""

    start: int
    end: int


def frame_log_energy(features: torch.Tensor, kind: str) -> torch.Tensor:
    """Each frame's log energy ``(T,)`` from its features ``(T, F)``: the first MFCC for
    ``kind`` "mfcc" (with or without deltas after it), the mean log-mel energy for "logmel"."""
    if features.ndim != 2 or features.shape[1] == 0:
        raise UserError(
            f"expected features of shape (frames, features), got {tuple(features.shape)}"
        )
    if kind == "mfcc":
        return features[:, 0].float()  # (T,)
    if kind == "logmel":
        return features.float().mean(dim=1)  # (T,)
    raise UserError(f"unknown feature kind {kind!r}; expected mfcc or logmel")


def span_features(features: torch.Tensor, span: Span, data: SpeechData) -> torch.Tensor:
    """The frames ``(end - start, F)`` of ``span`` as if its stretch had been recorded alone:
    MFCC deltas are recomputed from the span's own coefficients (edges repeated, as for a whole
    recording), so the silence next to a word does not leak into them."""
    frames = features[span.start : span.end]  # (L, F)
    if data.features != "mfcc" or not data.deltas:
        return frames
    static = frames[:, : data.n_mfcc]  # (L, n_mfcc)
    first = deltas(static)  # (L, n_mfcc)
    return torch.cat([static, first, deltas(first)], dim=1)  # (L, 3 n_mfcc)


@dataclass(frozen=True)
class EnergySegmenter:
    """Cuts an utterance into loud stretches (see the module docstring).

    Args:
        threshold: where ``θ`` lies between the quiet and loud levels (0: at quiet, 1: at loud).
        min_gap_frames: silences shorter than this between speech are bridged.
        min_speech_frames: speech runs shorter than this (after bridging) are dropped.
        pad_frames: each kept run is widened by this many frames on both sides.
        quiet_percentile: the percentile of the frame energies taken as the quiet level.
        loud_percentile: the percentile taken as the loud level.
    """

    threshold: float = 0.4
    min_gap_frames: int = 5
    min_speech_frames: int = 8
    pad_frames: int = 2
    quiet_percentile: float = 10.0
    loud_percentile: float = 95.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.threshold <= 1.0:
            raise UserError(f"threshold must be in [0, 1], got {self.threshold}")
        for name in ("min_gap_frames", "min_speech_frames", "pad_frames"):
            if getattr(self, name) < 0:
                raise UserError(f"{name} must be at least 0, got {getattr(self, name)}")
        if not 0.0 <= self.quiet_percentile < self.loud_percentile <= 100.0:
            raise UserError(
                "expected 0 <= quiet_percentile < loud_percentile <= 100, got "
                f"{self.quiet_percentile} and {self.loud_percentile}"
            )

    def level(self, energy: torch.Tensor) -> float:
        """The threshold ``θ`` for one utterance's frame energies ``(T,)``."""
        quantiles = torch.tensor([self.quiet_percentile, self.loud_percentile]) / 100
        quiet, loud = torch.quantile(energy.double(), quantiles.double()).tolist()
        return quiet + self.threshold * (loud - quiet)

    def __call__(self, energy: torch.Tensor) -> list[Span]:
        """The speech spans of one utterance, in order, from its frame energies ``(T,)``
        (:func:`frame_log_energy`); none for an utterance of fewer than two frames or one whose
        energy never varies."""
        if energy.ndim != 1:
            raise UserError(
                f"expected frame energies of shape (frames,), got {tuple(energy.shape)}"
            )
        length = len(energy)
        if length < 2 or bool((energy == energy[0]).all()):
            return []
        loud = (energy.double() > self.level(energy)).tolist()
        runs = _runs(loud)
        bridged: list[Span] = []
        for run in runs:
            if bridged and run.start - bridged[-1].end < self.min_gap_frames:
                bridged[-1] = Span(bridged[-1].start, run.end)
            else:
                bridged.append(run)
        return [
            Span(max(0, s.start - self.pad_frames), min(length, s.end + self.pad_frames))
            for s in bridged
            if s.end - s.start >= self.min_speech_frames
        ]


def _runs(flags: list[bool]) -> list[Span]:
    """The maximal runs of true ``flags``."""
    runs, start = [], None
    for t, flag in enumerate(flags):
        if flag and start is None:
            start = t
        elif not flag and start is not None:
            runs.append(Span(start, t))
            start = None
    if start is not None:
        runs.append(Span(start, len(flags)))
    return runs
