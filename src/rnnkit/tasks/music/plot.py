"""A piano roll as a picture: keys up, time steps across, the prime (if any) set apart."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from rnnkit.atomic import atomic_path
from rnnkit.data.pianoroll import KEYS, LOWEST_KEY

__all__ = ["save_piano_roll_plot"]

logger = logging.getLogger(__name__)

NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def note_name(midi_note: int) -> str:
    """``60`` -> ``"C4"`` (scientific pitch notation)."""
    return f"{NOTE_NAMES[midi_note % 12]}{midi_note // 12 - 1}"


def save_piano_roll_plot(
    roll: np.ndarray, path: Path, *, title: str, frame_seconds: float, prime_frames: int = 0
) -> bool:
    """Draw the (T, 88) ``roll`` into ``path`` (PNG), the first ``prime_frames`` in grey; the
    key range shown is the one used (with a margin). False if matplotlib is missing."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        logger.warning("matplotlib is not installed: no piano-roll plot (pip install rnnkit[plot])")
        return False
    used = np.flatnonzero(roll.any(axis=0))
    low, high = (max(0, used[0] - 3), min(KEYS - 1, used[-1] + 3)) if len(used) else (0, KEYS - 1)
    shown = roll[:, low : high + 1].T.astype(np.float32)  # (keys, T)
    shown[:, :prime_frames] *= 0.45  # the prime lighter than the generated frames
    figure = Figure(figsize=(min(16, 4 + len(roll) / 25), 4), layout="constrained")
    ax = figure.subplots()
    ax.imshow(shown, aspect="auto", origin="lower", cmap="Greys", vmin=0, vmax=1,
              interpolation="nearest",
              extent=(0, len(roll) * frame_seconds, low - 0.5, high + 0.5))  # fmt: skip
    if prime_frames:
        ax.axvline(prime_frames * frame_seconds, color="tab:red", lw=1, label="end of the prime")
        ax.legend(loc="upper right", fontsize=8)
    ticks = [k for k in range(low, high + 1) if (k + LOWEST_KEY) % 12 == 0]  # the Cs
    ax.set_yticks(ticks, [note_name(k + LOWEST_KEY) for k in ticks])
    ax.set_xlabel(f"seconds ({len(roll)} frames of {frame_seconds:g} s)")
    ax.set_ylabel("key")
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.25)
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=100)
    return True
