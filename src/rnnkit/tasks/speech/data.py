"""The data of a speech run: its settings, the labelled recordings by split, their features, and
the training and validation batches.

Splits (``split``):

- ``official``: FSDD's own — recordings numbered below ``test_below`` (0-4) of every speaker and
  digit are test, the rest (5-49) train;
- ``speaker``: one speaker (``test_speaker``, default the first in sorted order) is held out for
  test, the others train — the honest measure of how the model hears a new voice;
- ``random``: a ``test_fraction`` cut stratified by label (data whose names give no numbers);
- ``auto``: official where the file names give recording numbers, else random.

The validation split is cut from train, ``val_fraction`` of each (speaker, label) group (seeded),
so every voice and digit is on both sides and no test recording is ever used for selection.

Features are computed once per split (3,000 FSDD recordings: about 2.5 s on one core, so no
cache) and standardised with the training frames' mean and standard deviation
(:class:`rnnkit.data.audio.FeatureScaler`).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch

from rnnkit.data.audio import (
    FSDD_PATTERN,
    AudioError,
    FeatureScaler,
    Recordings,
    log_mel,
    mfcc,
    read_recordings,
    read_wav,
    read_wavs,
)
from rnnkit.data.registry import DATASETS
from rnnkit.data.resolve import load_dataset
from rnnkit.data.splits import stratified_split
from rnnkit.errors import UserError
from rnnkit.settings import Settings

__all__ = [
    "SPEECH_DATASETS",
    "SpeechData",
    "SpeechSplit",
    "extract_features",
    "featurize",
    "file_features",
    "load_recordings",
    "split_recordings",
]

logger = logging.getLogger(__name__)

SPEECH_DATASETS = ("fsdd",)


@dataclass
class SpeechData(Settings):
    """How a speech run reads its recordings and computes their features (saved in config.json).

    Args:
        source: fsdd, a folder of WAV files (labels from the file names, see --pattern), or a
            CSV of path,label(,speaker) rows.
        pattern: a regular expression for the file names of a folder, with a (?P<label>...)
            group and optional (?P<speaker>...) and (?P<index>...) groups (default: FSDD's
            {digit}_{speaker}_{index}.wav).
        split: official (recordings numbered below --test-below are test), speaker (hold out
            --test-speaker), random (a stratified --test-fraction), or auto (official where the
            names give numbers, else random).
        test_speaker: the speaker held out by --split speaker (default: the first in sorted
            order).
        test_below: --split official: recordings numbered below this are test.
        test_fraction: --split random: the share cut for test (stratified by label, seeded).
        val_fraction: of each speaker's and label's training recordings, cut for validation.
        split_seed: seeds the validation and random test cuts.
        limit: use at most N recordings of each split (seeded; quick runs).
        sample_rate: recordings at another rate are resampled to this (Hz).
        features: mfcc (with deltas) or logmel.
        n_mels: mel filters.
        n_mfcc: cepstral coefficients kept (--features mfcc).
        deltas: append first and second differences to the MFCCs.
        frame_ms: analysis window length (Hann), in milliseconds.
        hop_ms: step between frames, in milliseconds.
        batch_size: recordings per batch.
    """

    KIND: ClassVar[str] = "data setting"
    CHOICES: ClassVar[dict[str, Any]] = {
        "split": ("auto", "official", "speaker", "random"),
        "features": ("mfcc", "logmel"),
    }
    RANGES: ClassVar[dict[str, str]] = {
        "test_below": "[1, inf)",
        "test_fraction": "(0, 1)",
        "val_fraction": "(0, 1)",
        "split_seed": "[0, inf)",
        "limit": "[1, inf)",
        "sample_rate": "[1000, 192000]",
        "n_mels": "[2, 256]",
        "n_mfcc": "[1, 256]",
        "frame_ms": "(0, 1000]",
        "hop_ms": "(0, 1000]",
        "batch_size": "[1, inf)",
    }

    source: str | None = None
    pattern: str = FSDD_PATTERN
    split: str = "auto"
    test_speaker: str | None = None
    test_below: int = 5
    test_fraction: float = 0.1
    val_fraction: float = 0.1
    split_seed: int = 0
    limit: int | None = None
    sample_rate: int = 8000
    features: str = "mfcc"
    n_mels: int = 40
    n_mfcc: int = 13
    deltas: bool = True
    frame_ms: float = 25.0
    hop_ms: float = 10.0
    batch_size: int = 32

    def check(self) -> None:
        if self.features == "mfcc" and self.n_mfcc > self.n_mels:
            raise UserError(f"n_mfcc must be at most n_mels ({self.n_mels}), got {self.n_mfcc}")
        if self.hop_ms > self.frame_ms:
            raise UserError(f"hop_ms must be at most frame_ms ({self.frame_ms}), got {self.hop_ms}")

    @property
    def frame(self) -> tuple[int, int, int]:
        """(n_fft, window, hop) in samples: the FFT size is the window rounded up to a power of
        two."""
        window = max(2, round(self.sample_rate * self.frame_ms / 1000))
        hop = max(1, round(self.sample_rate * self.hop_ms / 1000))
        return 1 << (window - 1).bit_length(), window, hop

    @property
    def feature_size(self) -> int:
        """Features per frame."""
        if self.features == "logmel":
            return self.n_mels
        return self.n_mfcc * (3 if self.deltas else 1)


def load_recordings(data: SpeechData, source: str | None = None) -> Recordings:
    """The labelled recordings of ``source`` (default ``data.source``): a registered dataset or a
    folder / CSV."""
    source = source or data.source
    if source is None:
        raise UserError("expected data: --data fsdd, a folder of WAV files, or a CSV")
    if source in DATASETS:
        if source not in SPEECH_DATASETS:
            known = ", ".join(SPEECH_DATASETS)
            raise UserError(
                f"{source!r} is not a speech dataset; expected {known}, a folder of WAV files "
                "or a CSV"
            )
        return load_dataset(source)
    return read_recordings(source, pattern=data.pattern)


def _by_speaker_and_label(recordings: Recordings, rows: list[int]) -> list[str]:
    speakers = recordings.speakers or [""] * len(recordings)
    return [f"{speakers[i]}\t{recordings.labels[i]}" for i in rows]


def split_recordings(recordings: Recordings, data: SpeechData) -> dict[str, Recordings]:
    """``{"train", "val", "test"}`` as ``data.split`` says (see the module docstring)."""
    kind = data.split
    if kind == "auto":
        kind = "official" if recordings.indices is not None else "random"
    everyone = list(range(len(recordings)))
    if kind == "official":
        if recordings.indices is None:
            raise UserError("--split official needs recording numbers in the file names; "
                            "expected a --pattern with an (?P<index>...) group")  # fmt: skip
        test = [i for i in everyone if recordings.indices[i] < data.test_below]
        rest = [i for i in everyone if recordings.indices[i] >= data.test_below]
    elif kind == "speaker":
        if recordings.speakers is None:
            raise UserError("--split speaker needs speakers: expected a --pattern with a "
                            "(?P<speaker>...) group or a CSV with a speaker column")  # fmt: skip
        speakers = sorted(set(recordings.speakers))
        held_out = data.test_speaker or speakers[0]
        if held_out not in speakers:
            raise UserError(f"test_speaker {held_out!r} is not in the data; expected one of "
                            f"{', '.join(speakers)}")  # fmt: skip
        if len(speakers) < 2:
            raise UserError(f"--split speaker needs two speakers or more, got {speakers}")
        logger.info("speaker split: %s held out for test", held_out)
        test = [i for i in everyone if recordings.speakers[i] == held_out]
        rest = [i for i in everyone if recordings.speakers[i] != held_out]
    else:
        keep, cut = stratified_split(recordings.labels, data.test_fraction, seed=data.split_seed)
        test, rest = cut, keep
    if not rest:
        raise UserError(f"the {kind} split leaves no training recordings; expected more data")
    keep, cut = stratified_split(
        _by_speaker_and_label(recordings, rest), data.val_fraction, seed=data.split_seed
    )
    splits = {"train": [rest[i] for i in keep], "val": [rest[i] for i in cut], "test": test}
    if data.limit is not None:
        generator = torch.Generator().manual_seed(data.split_seed)
        for name, rows in splits.items():
            order = torch.randperm(len(rows), generator=generator).tolist()[: data.limit]
            splits[name] = sorted(rows[i] for i in order)
    return {name: recordings.take(rows) for name, rows in splits.items()}


def featurize(samples: torch.Tensor, data: SpeechData) -> torch.Tensor:
    """The frames ``(T, F)`` of one recording's samples ``(S,)``, as ``data`` says."""
    n_fft, window, hop = data.frame
    options = {"n_mels": data.n_mels, "n_fft": n_fft, "hop": hop, "win": window}
    if data.features == "logmel":
        return log_mel(samples, data.sample_rate, **options)
    return mfcc(samples, data.sample_rate, n_mfcc=data.n_mfcc, with_deltas=data.deltas, **options)


def file_features(files: Any, data: SpeechData) -> list[torch.Tensor]:
    """The frames of each WAV file of the list ``files`` (what predict reads); a file that cannot
    be read is a ``UserError`` naming it."""
    if isinstance(files, (str, os.PathLike)):
        raise UserError("expected a list of WAV files, got one (wrap it: [path])")
    features = []
    for path in files:
        try:
            features.append(featurize(read_wav(path, data.sample_rate), data))
        except AudioError as error:
            raise UserError(f"cannot read {error}; expected a PCM WAV file") from None
    return features


@dataclass
class SpeechSplit:
    """One split's usable recordings: ``features`` (each ``(T, F)``, not yet standardised),
    their files and labels."""

    features: list[torch.Tensor]
    paths: list[Path]
    labels: list[str]

    def __len__(self) -> int:
        return len(self.paths)


def extract_features(recordings: Recordings, data: SpeechData, name: str) -> SpeechSplit:
    """Read and featurise a split, with one line saying how many files were skipped and why; a
    split with none left is a ``UserError``."""
    read = read_wavs(recordings.paths, data.sample_rate)
    logger.info("%s split: %s", name, read.summary(len(recordings)))
    if not read.kept:
        reasons = ", ".join(f"{len(f)} {r} (e.g. {f[0]})" for r, f in read.skipped.items())
        raise UserError(f"no usable recordings in the {name} split ({reasons or 'none given'}); "
                        "expected PCM WAV files")  # fmt: skip
    return SpeechSplit(
        [featurize(samples, data) for samples in read.samples],
        [recordings.paths[i] for i in read.kept],
        [recordings.labels[i] for i in read.kept],
    )


def scaled(split: SpeechSplit, scaler: FeatureScaler) -> list[torch.Tensor]:
    """The split's frames standardised with the training statistics."""
    return [scaler(f) for f in split.features]
