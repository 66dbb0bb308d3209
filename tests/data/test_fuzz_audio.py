"""Hypothesis fuzzing of the audio loaders (issue 13): whatever the bytes of the WAV files, the
rows of a recordings CSV and the feature settings, reading recordings — ``read_wav`` alone, the
folder / CSV reader and the speech task's feature extraction — ends in the samples and features
or in the documented ``AudioError`` (skipped and counted) and rnnkit's own ``UserError``, never
another exception.

The files are real FSDD recordings ($RNNKIT_DATA; a synthetic tone without it) and their
re-encodings (8/24/32-bit, stereo, 44.1 kHz, one sample, float and A-law headers), mutated (bytes
set, a cut, bytes put in), or random bytes. ``AUDIO_TARGETS`` is shared with
``benchmarks/fuzz.py``, which runs many more examples.
"""

from __future__ import annotations

import functools
import io
import os
import struct
import wave
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from rnnkit.data.audio import AudioError, Recordings, read_recordings, read_wav
from rnnkit.tasks.speech.data import SpeechData, extract_features

from .test_fuzz_loaders import _MUTATIONS, BRIEF, _mutate_bytes, run_case


def _wav(samples: np.ndarray, rate: int, width: int) -> bytes:
    """PCM WAV bytes of ``samples`` (frames, channels) in [-1, 1) at ``width`` bytes a sample."""
    scaled = np.clip(samples, -1, 1 - 1e-9)
    if width == 1:
        raw = (scaled * 128 + 128).astype(np.uint8).tobytes()
    elif width == 3:
        ints = (scaled * (1 << 23)).astype(np.int32).reshape(-1)
        raw = b"".join(struct.pack("<i", int(v))[:3] for v in ints)
    else:
        raw = (scaled * (1 << (8 * width - 1))).astype(f"<i{width}").tobytes()
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(samples.shape[1])
        out.setsampwidth(width)
        out.setframerate(rate)
        out.writeframes(raw)
    return buffer.getvalue()


def _with_format_tag(data: bytes, tag: int) -> bytes:
    """The WAV with its fmt chunk's format tag set (3: IEEE float, 6: A-law), which ``wave``
    does not read."""
    at = data.index(b"fmt ") + 8
    return data[:at] + struct.pack("<H", tag) + data[at + 2 :]


@functools.cache
def _audio_seeds() -> tuple[bytes, ...]:
    """WAV bytes to mutate: two FSDD recordings and re-encodings of the first in the widths,
    channel counts and rates a user's files have."""
    data = os.environ.get("RNNKIT_DATA")
    folder = Path(data) / "fsdd" / "recordings" if data else None
    files = sorted(folder.glob("*.wav"))[:2] if folder and folder.is_dir() else []
    seeds = [path.read_bytes() for path in files]
    if seeds:
        mono = read_wav(seeds[0]).numpy()[:1600, None]  # (T, 1): 0.2 s keeps mutants fast
    else:
        mono = 0.5 * np.sin(np.arange(1600) / 8.0)[:, None].astype(np.float32)
    stereo = np.concatenate([mono, -mono], axis=1)  # (T, 2)
    seeds += [
        _wav(mono, 8000, 1),
        _wav(mono, 8000, 3),
        _wav(mono, 16000, 4),
        _wav(stereo, 8000, 2),
        _wav(mono, 44100, 2),
        _wav(mono[:1], 8000, 2),  # one sample
        _wav(mono[:0], 8000, 2),  # none
        _with_format_tag(_wav(mono, 8000, 4), 3),
        _with_format_tag(_wav(mono, 8000, 1), 6),
    ]
    return tuple(seeds)


@st.composite
def _wav_bytes(draw) -> bytes:
    """Random bytes (sometimes behind a RIFF/WAVE header), or a seed mutated."""
    if draw(st.integers(0, 5)) == 0:
        head = draw(st.sampled_from([b"", b"RIFF\x24\x00\x00\x00WAVEfmt ", b"RIFF"]))
        return head + draw(st.binary(max_size=200))
    seeds = _audio_seeds()
    return _mutate_bytes(seeds[draw(st.integers(0, 10**6)) % len(seeds)], draw(_MUTATIONS))


_SETTINGS = st.fixed_dictionaries({
    "sample_rate": st.sampled_from([8000, 16000, 4000, 1000]),
    "features": st.sampled_from(["mfcc", "logmel"]),
    "n_mels": st.sampled_from([2, 13, 40]),
    "n_mfcc": st.sampled_from([1, 2, 13]),
    "deltas": st.booleans(),
    "frame_ms": st.sampled_from([1.0, 25.0, 400.0]),
    "hop_ms": st.sampled_from([0.5, 10.0, 25.0]),
})  # fmt: skip
_CSV_PATHS = st.sampled_from(["a.wav", "b.wav", "c.wav", "missing.wav", "../a.wav", "sub/",
                              "/etc/passwd", "", " ", "a.wav\x00", "x" * 300])  # fmt: skip


@st.composite
def audio_cases(draw):
    """WAV files, how they are listed (a folder named the FSDD way, or a recordings CSV with
    maybe-broken rows), and feature settings."""
    files = draw(st.lists(_wav_bytes(), min_size=1, max_size=3))
    listing = draw(st.sampled_from(["folder", "csv"]))
    rows = draw(st.lists(st.tuples(_CSV_PATHS, st.sampled_from(["0", "1", "", "nan"])), max_size=4))
    header = draw(st.sampled_from(["path,label", "path,label,speaker", "file,label", ""]))
    return files, listing, rows, header, draw(_SETTINGS)


def read_audio_case(root: Path, case) -> None:
    """Each file alone (an ``AudioError`` with a documented reason, or finite samples near
    [-1, 1]), then the listing through the reader and the speech task's feature extraction."""
    files, listing, rows, header, options = case
    folder = root / "recordings"
    folder.mkdir()
    names = [f"{i % 2}_spk_{i}.wav" for i in range(len(files))]
    for name, data in zip(names, files):
        (folder / name).write_bytes(data)
        try:
            samples = read_wav(folder / name, options["sample_rate"])
        except AudioError as error:
            assert error.reason in ("missing", "not a WAV", "unsupported", "damaged", "empty")
        else:
            assert samples.dim() == 1 and samples.dtype == torch.float32 and len(samples) > 0
            # in [-1, 1), but resampling's low-pass may ring a little past full scale
            assert torch.isfinite(samples).all() and samples.abs().max() <= 1.5
    if listing == "folder":
        source = folder
    else:
        for letter, data in zip("abc", files):
            (root / f"{letter}.wav").write_bytes(data)
        table = [header] + [f"{path},{label}" + (",spk" * header.endswith("speaker"))
                            for path, label in rows]  # fmt: skip
        source = root / "recordings.csv"
        source.write_text("\n".join(table) + "\n", encoding="utf-8")
    recordings = read_recordings(source)
    data = SpeechData(source=str(source), **options)
    data.check()
    split = extract_features(Recordings(recordings.paths, recordings.labels), data, "train")
    for features in split.features:
        assert features.shape[1] == data.feature_size and torch.isfinite(features).all()


# name -> (strategy of examples, the function reading one example in a fresh folder)
AUDIO_TARGETS = {"audio": (audio_cases(), read_audio_case)}


@pytest.mark.parametrize("name", list(AUDIO_TARGETS))
def test_audio_loaders_raise_only_user_errors(name, monkeypatch):
    monkeypatch.setenv("RNNKIT_OFFLINE", "1")
    strategy, target = AUDIO_TARGETS[name]

    @BRIEF
    @given(case=strategy)
    def check(case):
        run_case(target, case)

    check()


def test_every_seed_reads_or_is_refused_for_its_reason(tmp_path):
    """The unmutated seeds: the PCM ones read; the float and A-law ones are "unsupported" and
    the empty one "empty"."""
    reasons = []
    for data in _audio_seeds():
        try:
            read_wav(data, 8000)
        except AudioError as error:
            reasons.append(error.reason)
    assert sorted(reasons) == ["empty", "unsupported", "unsupported"]


def test_a_name_the_file_system_refuses_is_a_missing_file(tmp_path):
    """Found by the fuzzing: a 300-character file name (was an OSError from ``stat``)."""
    for name in ("x" * 300, "a\x00.wav"):
        with pytest.raises(AudioError, match="missing"):
            read_wav(tmp_path / name)
