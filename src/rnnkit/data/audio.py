"""Audio for the speech task: WAV files read with the standard library's ``wave``, mixed down to
mono, resampled, and turned into log-mel spectrograms or MFCCs with ``torch.stft``.

Reading (:func:`read_wav`): uncompressed PCM WAV of 8 (unsigned), 16, 24 or 32 bits (signed),
any number of channels (averaged to one), scaled to floats in [-1, 1). A file at another sample
rate is resampled (:func:`resample`: a windowed-sinc low-pass below the new Nyquist frequency when
going down, then linear interpolation). A file that is missing, is not a WAV, is a WAV in a form
``wave`` cannot read (IEEE float, WAVE_FORMAT_EXTENSIBLE on Python 3.11), is truncated or holds no
samples raises :class:`AudioError` naming the file and the reason; :func:`read_wavs` skips those
and counts them by reason.

Features (:func:`log_mel`, :func:`mfcc`): the power spectrum of Hann-windowed frames,
``P_t(k) = |Σ_n w(n) x(tH + n) e^{-2πi kn/N}|²``, through a bank of triangular filters equally
spaced on the mel scale (:func:`mel_filterbank`), logged; MFCCs are the orthonormal DCT-II of the
log-mel energies (:func:`dct_matrix`), with first and second differences (:func:`deltas`)
appended. :class:`FeatureScaler` standardises each feature with the mean and standard deviation
of the training frames only.
"""

from __future__ import annotations

import io
import math
import os
import struct  # wave reports some malformed headers as struct.error
import wave
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rnnkit.data.files import skipped_summary
from rnnkit.errors import UserError

__all__ = [
    "AudioError",
    "FeatureScaler",
    "ReadAudio",
    "dct_matrix",
    "deltas",
    "hz_to_mel",
    "log_mel",
    "mel_filterbank",
    "mel_to_hz",
    "mfcc",
    "read_wav",
    "read_wavs",
    "resample",
]

LOG_FLOOR = 1e-10  # log(max(E, floor)): silence gives a finite log energy


class AudioError(Exception):
    """An audio file that cannot be used: ``reason`` is "missing", "not a WAV", "unsupported",
    "damaged" or "empty"."""

    def __init__(self, path: str | os.PathLike[str], reason: str, detail: str = "") -> None:
        super().__init__(f"{path}: {reason}" + (f" ({detail})" if detail else ""))
        self.path, self.reason = str(path), reason


def _pcm_to_float(frames: bytes, width: int, channels: int) -> np.ndarray:
    """Interleaved little-endian PCM bytes -> float32 (samples, channels) in [-1, 1)."""
    if width == 1:  # 8-bit WAV is unsigned, centred on 128
        values = (np.frombuffer(frames, np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 2:
        values = np.frombuffer(frames, "<i2").astype(np.float32) / 32768.0
    elif width == 3:  # 24-bit: three bytes, sign-extended into int32
        raw = np.frombuffer(frames, np.uint8).reshape(-1, 3).astype(np.int32)
        ints = raw[:, 0] | (raw[:, 1] << 8) | (raw[:, 2] << 16)
        ints = np.where(ints >= 1 << 23, ints - (1 << 24), ints)
        values = ints.astype(np.float32) / float(1 << 23)
    else:  # width == 4
        values = (np.frombuffer(frames, "<i4").astype(np.float64) / float(1 << 31)).astype(
            np.float32
        )
    return values.reshape(-1, channels)


def read_wav(path: str | os.PathLike[str] | bytes, sample_rate: int | None = None) -> torch.Tensor:
    """The samples of a PCM WAV file as float32 ``(T,)`` in [-1, 1): channels averaged, resampled
    to ``sample_rate`` (None: the file's own). ``path`` may also be the file's bytes.

    Raises:
        AudioError: missing, not a WAV, an unsupported encoding, truncated, or no samples.
    """
    name = "<bytes>" if isinstance(path, bytes) else path
    try:
        size = len(path) if isinstance(path, bytes) else Path(path).stat().st_size
        is_file = isinstance(path, bytes) or Path(path).is_file()
    except (OSError, ValueError):  # no such file, a name too long, a NUL in it
        size, is_file = 0, False
    if not is_file:
        raise AudioError(name, "missing")
    if size == 0:
        raise AudioError(name, "empty", "0 bytes")
    try:
        source = io.BytesIO(path) if isinstance(path, bytes) else open(path, "rb")
        with source, wave.open(source, "rb") as wav:
            channels, width, rate = wav.getnchannels(), wav.getsampwidth(), wav.getframerate()
            count = wav.getnframes()
            frames = wav.readframes(count)
    except EOFError:
        raise AudioError(name, "damaged", "the file ends inside its header") from None
    except wave.Error as error:
        text = str(error)
        if "RIFF" in text or "WAVE" in text:
            raise AudioError(name, "not a WAV") from None
        raise AudioError(name, "unsupported", f"{text}; expected PCM of 8/16/24/32 bits") from None
    except (OSError, struct.error, RuntimeError, ValueError) as error:  # bad chunk sizes
        raise AudioError(name, "damaged", str(error) or type(error).__name__) from None
    if width not in (1, 2, 3, 4) or channels < 1 or rate < 1:
        raise AudioError(name, "unsupported", f"{width * 8}-bit, {channels} channel(s), {rate} Hz")
    usable = len(frames) // (width * channels) * width * channels
    if usable == 0:
        raise AudioError(name, "empty", "no samples")
    if usable < count * width * channels:
        raise AudioError(
            name, "damaged", f"truncated: {usable // (width * channels)} of {count} samples"
        )
    samples = torch.from_numpy(_pcm_to_float(frames[:usable], width, channels).mean(axis=1))
    if sample_rate is not None and sample_rate != rate:
        samples = resample(samples, rate, sample_rate)
    return samples  # (T,)


def resample(samples: torch.Tensor, rate: int, new_rate: int, taps: int = 32) -> torch.Tensor:
    """``samples (T,)`` at ``rate`` Hz -> ``(round(T * new_rate / rate),)`` at ``new_rate``.

    Going down, a Hann-windowed sinc low-pass with cut-off ``f_c = new_rate / 2`` (``2 * taps + 1``
    coefficients ``h(n) = 2 f_c / rate · sinc(2 f_c n / rate) · w(n)``, normalised to unit gain)
    first removes what would alias; then the new samples are linearly interpolated
    (``torch.nn.functional.interpolate``, ``align_corners=False``).
    """
    if rate == new_rate:
        return samples
    x = samples.float().view(1, 1, -1)  # (1, 1, T)
    if new_rate < rate:
        n = torch.arange(-taps, taps + 1, dtype=torch.float64)  # (2K+1,)
        cutoff = new_rate / rate  # 2 f_c / rate
        h = cutoff * torch.sinc(cutoff * n) * torch.hann_window(2 * taps + 3, periodic=False)[1:-1]
        h = (h / h.sum()).float().view(1, 1, -1)  # (1, 1, 2K+1)
        padded = torch.nn.functional.pad(x, (taps, taps), mode="replicate")  # (1, 1, T + 2K)
        x = torch.nn.functional.conv1d(padded, h)  # (1, 1, T)
    length = max(1, round(samples.shape[0] * new_rate / rate))
    return torch.nn.functional.interpolate(x, size=length, mode="linear").view(-1)  # (T',)


@dataclass
class ReadAudio:
    """Many files read: ``samples`` of the ``kept`` ones (indices into the list asked for), and
    the files skipped, by reason."""

    samples: list[torch.Tensor]
    kept: list[int]
    skipped: dict[str, list[str]] = field(default_factory=dict)

    def summary(self, total: int) -> str:
        """One line: how many were read and which were skipped, by reason."""
        return skipped_summary(len(self.kept), total, "recordings read", self.skipped)


def read_wavs(paths: Sequence[str | os.PathLike[str]], sample_rate: int) -> ReadAudio:
    """:func:`read_wav` of each path; the ones that cannot be read are skipped and listed."""
    samples, kept, skipped = [], [], {}
    for index, path in enumerate(paths):
        try:
            samples.append(read_wav(path, sample_rate))
        except AudioError as error:
            skipped.setdefault(error.reason, []).append(str(path))
            continue
        kept.append(index)
    return ReadAudio(samples, kept, skipped)


# -- features ------------------------------------------------------------------------------------


def hz_to_mel(hz: torch.Tensor | float) -> torch.Tensor:
    """The HTK mel scale: ``m = 2595 log10(1 + f / 700)``."""
    return 2595.0 * torch.log10(1.0 + torch.as_tensor(hz, dtype=torch.float64) / 700.0)


def mel_to_hz(mel: torch.Tensor | float) -> torch.Tensor:
    """The inverse: ``f = 700 (10^(m / 2595) - 1)``."""
    return 700.0 * (10.0 ** (torch.as_tensor(mel, dtype=torch.float64) / 2595.0) - 1.0)


def mel_filterbank(
    n_mels: int, n_fft: int, sample_rate: int, f_min: float = 0.0, f_max: float | None = None
) -> torch.Tensor:
    """Triangular mel filters ``(n_mels, n_fft // 2 + 1)`` over the FFT bins ``f_k = k sr / N``.

    With ``n_mels + 2`` centre frequencies ``c_0..c_{M+1}`` equally spaced in mel between
    ``f_min`` and ``f_max`` (default: ``sr / 2``), filter ``m`` (1-based) is
    ``W_m(f) = max(0, min((f - c_{m-1}) / (c_m - c_{m-1}), (c_{m+1} - f) / (c_{m+1} - c_m)))``:
    1 at its centre, 0 at its neighbours' (HTK's unnormalised triangles).
    """
    f_max = sample_rate / 2 if f_max is None else f_max
    bins = torch.arange(n_fft // 2 + 1, dtype=torch.float64) * sample_rate / n_fft  # (K,)
    mels = torch.linspace(float(hz_to_mel(f_min)), float(hz_to_mel(f_max)), n_mels + 2)
    centres = mel_to_hz(mels)  # (M+2,)
    lower, centre, upper = centres[:-2, None], centres[1:-1, None], centres[2:, None]  # (M, 1)
    rising = (bins - lower) / (centre - lower)  # (M, K)
    falling = (upper - bins) / (upper - centre)  # (M, K)
    return torch.clamp(torch.minimum(rising, falling), min=0.0).float()  # (M, K)


def dct_matrix(n_out: int, n_in: int) -> torch.Tensor:
    """The orthonormal DCT-II ``(n_out, n_in)``: ``C[k, m] = s_k cos(π k (2m + 1) / (2M))`` with
    ``s_0 = sqrt(1/M)``, ``s_k = sqrt(2/M)`` (``scipy.fft.dct(x, type=2, norm="ortho")``)."""
    k = torch.arange(n_out, dtype=torch.float64)[:, None]  # (K, 1)
    m = torch.arange(n_in, dtype=torch.float64)[None, :]  # (1, M)
    basis = torch.cos(math.pi * k * (2 * m + 1) / (2 * n_in))  # (K, M)
    scale = torch.full((n_out, 1), math.sqrt(2.0 / n_in), dtype=torch.float64)
    scale[0] = math.sqrt(1.0 / n_in)
    return (scale * basis).float()


def power_spectrogram(samples: torch.Tensor, n_fft: int, hop: int, win: int) -> torch.Tensor:
    """``|STFT|²`` of ``samples (T,)`` with a periodic Hann window of ``win`` samples (zero-padded
    to ``n_fft``), frames every ``hop`` samples, edges reflected: ``(frames, n_fft // 2 + 1)``."""
    if samples.shape[0] <= n_fft // 2:  # reflect padding needs more samples than half a frame
        samples = torch.nn.functional.pad(samples, (0, n_fft // 2 + 1 - samples.shape[0]))
    spectrum = torch.stft(
        samples.float(), n_fft, hop_length=hop, win_length=win,
        window=torch.hann_window(win), center=True, return_complex=True,
    )  # (K, frames)  # fmt: skip
    return spectrum.abs().pow(2).T  # (frames, K)


def log_mel(
    samples: torch.Tensor, sample_rate: int, *, n_mels: int, n_fft: int, hop: int, win: int
) -> torch.Tensor:
    """``log(max(P W^T, 1e-10))``: log mel energies ``(frames, n_mels)`` of ``samples (T,)``."""
    bank = mel_filterbank(n_mels, n_fft, sample_rate)  # (M, K)
    energies = power_spectrogram(samples, n_fft, hop, win) @ bank.T  # (frames, M)
    return torch.log(energies.clamp(min=LOG_FLOOR))


def deltas(features: torch.Tensor, width: int = 2) -> torch.Tensor:
    """Regression differences over time of ``features (T, F)``, the first and last frames
    repeated at the edges: ``d_t = Σ_{n=1..N} n (c_{t+n} - c_{t-n}) / (2 Σ_{n=1..N} n²)``."""
    padded = torch.cat(
        [features[:1].expand(width, -1), features, features[-1:].expand(width, -1)]
    )  # (T + 2N, F)
    length = features.shape[0]
    total = sum(
        n * (padded[width + n : width + n + length] - padded[width - n : width - n + length])
        for n in range(1, width + 1)
    )
    return total / (2 * sum(n * n for n in range(1, width + 1)))  # (T, F)


def mfcc(
    samples: torch.Tensor, sample_rate: int, *, n_mfcc: int, n_mels: int, n_fft: int, hop: int,
    win: int, with_deltas: bool = True,
) -> torch.Tensor:  # fmt: skip
    """MFCCs ``(frames, n_mfcc)`` — the DCT-II of the log mel energies — and, ``with_deltas``,
    their first and second differences: ``(frames, 3 n_mfcc)``."""
    logs = log_mel(samples, sample_rate, n_mels=n_mels, n_fft=n_fft, hop=hop, win=win)
    coefficients = logs @ dct_matrix(n_mfcc, n_mels).T  # (frames, n_mfcc)
    if not with_deltas:
        return coefficients
    first = deltas(coefficients)  # (frames, n_mfcc)
    return torch.cat([coefficients, first, deltas(first)], dim=1)  # (frames, 3 n_mfcc)


@dataclass
class FeatureScaler:
    """Per-feature standardisation ``(x - mean) / std``, fitted on training frames only.

    ``mean`` and ``std`` are ``(F,)``; a constant feature gets ``std = 1``.
    """

    mean: torch.Tensor
    std: torch.Tensor

    @classmethod
    def fit(cls, features: Iterable[torch.Tensor]) -> FeatureScaler:
        """From every frame of ``features`` (each ``(T, F)``), in float64."""
        frames = torch.cat([f.double() for f in features])  # (ΣT, F)
        if frames.shape[0] == 0:
            raise UserError("no training frames to fit the feature normalisation on")
        std = frames.std(dim=0, unbiased=False)
        return cls(frames.mean(dim=0).float(), torch.where(std > 1e-8, std, 1.0).float())

    def __call__(self, features: torch.Tensor) -> torch.Tensor:
        return (features - self.mean) / self.std  # (T, F)

    def to_dict(self) -> dict[str, Any]:
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, data: Any) -> FeatureScaler:
        try:
            mean = torch.tensor(data["mean"], dtype=torch.float32)
            std = torch.tensor(data["std"], dtype=torch.float32)
        except (KeyError, TypeError, ValueError):
            raise UserError("the saved feature normalisation is damaged; expected "
                            "{'mean': [...], 'std': [...]}") from None  # fmt: skip
        if mean.dim() != 1 or mean.shape != std.shape or not bool((std > 0).all()):
            raise UserError("the saved feature normalisation is damaged; expected two lists of "
                            "the same length with positive standard deviations")  # fmt: skip
        return cls(mean, std)


# -- labelled recordings -------------------------------------------------------------------------

FSDD_PATTERN = r"(?P<label>[^_/]+)_(?P<speaker>[^_/]+)_(?P<index>\d+)\.wav"


@dataclass
class Recordings:
    """Labelled audio files: ``speakers`` and ``indices`` (a recording's number within its
    speaker and label) are None where the source does not say them."""

    paths: list[Path]
    labels: list[str]
    speakers: list[str] | None = None
    indices: list[int] | None = None

    def __len__(self) -> int:
        return len(self.paths)

    def take(self, rows: Sequence[int]) -> Recordings:
        """The recordings at ``rows``, in that order."""
        pick = lambda values: None if values is None else [values[i] for i in rows]  # noqa: E731
        return Recordings(
            [self.paths[i] for i in rows], [self.labels[i] for i in rows],
            pick(self.speakers), pick(self.indices),
        )  # fmt: skip


def _wav_folder(folder: Path) -> Path:
    """The folder holding the WAVs: ``folder``, its ``recordings/``, or the ``recordings/`` of the
    FSDD repository archive (``free-spoken-digit-dataset-*``), unpacked from a tarball in
    ``folder`` the first time."""
    from rnnkit.data.archive import iter_tar_files

    for candidate in (
        folder / "recordings",
        *sorted(folder.glob("free-spoken-digit-dataset*/recordings")),
    ):  # noqa: E501
        if candidate.is_dir():
            return candidate
    for archive in sorted(folder.glob("*.tar.gz")):
        target = folder / "recordings"
        target.mkdir(exist_ok=True)
        wanted = lambda name: "/recordings/" in name and name.endswith(".wav")  # noqa: E731
        for name, content in iter_tar_files(archive, wanted):
            (target / Path(name).name).write_bytes(content)
        return target
    return folder


def read_recordings(
    path: str | os.PathLike[str], *, pattern: str = FSDD_PATTERN, encoding: str = "utf-8"
) -> Recordings:
    """The labelled WAV files of a folder (labels, and speakers and indices where the pattern
    names them, from the file names) or of a CSV (columns ``path`` — relative to the CSV's folder
    — and ``label``, optionally ``speaker``).

    ``pattern`` is a regular expression matched against the whole file name with a ``label``
    group and optional ``speaker`` and ``index`` groups (default: FSDD's
    ``{digit}_{speaker}_{index}.wav``). WAV files whose names do not match are a ``UserError``.
    """
    import csv
    import re

    path = Path(path).expanduser()
    if not path.exists():
        raise UserError(f"no such file or folder: {path}; expected a folder of WAV files or a CSV")
    if path.is_file():
        if path.suffix.lower() != ".csv":
            raise UserError(f"{path}: expected a folder of WAV files or a CSV of path,label rows")
        with open(path, newline="", encoding=encoding) as handle:
            rows = list(csv.DictReader(handle))
        if not rows or not {"path", "label"} <= set(rows[0]):
            got = list(rows[0]) if rows else "no rows"
            raise UserError(
                f"{path}: expected a CSV with the columns path and label (and optionally "
                f"speaker), got {got}"
            )
        speakers = [r["speaker"] for r in rows] if "speaker" in rows[0] else None
        return Recordings([path.parent / r["path"] for r in rows], [r["label"] for r in rows],
                          speakers)  # fmt: skip
    try:
        regex = re.compile(pattern)
    except re.error as error:
        raise UserError(
            f"the file-name pattern {pattern!r} is not a regular expression ({error})"
        ) from None  # noqa: E501
    if "label" not in regex.groupindex:
        raise UserError(f"the file-name pattern {pattern!r} has no (?P<label>...) group")
    folder = _wav_folder(path)
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".wav")
    if not files:
        raise UserError(f"{path} holds no .wav files; expected a folder of WAV recordings")
    matches = [regex.fullmatch(p.name) for p in files]
    unmatched = [p.name for p, m in zip(files, matches) if m is None]
    if unmatched:
        raise UserError(
            f"{len(unmatched)} file name(s) in {folder} do not match the pattern {pattern!r}, "
            f"e.g. {unmatched[0]}; expected names that give the label"
        )
    has = lambda group: group in regex.groupindex  # noqa: E731
    return Recordings(
        files, [m["label"] for m in matches],
        [m["speaker"] for m in matches] if has("speaker") else None,
        [int(m["index"]) for m in matches] if has("index") else None,
    )  # fmt: skip
