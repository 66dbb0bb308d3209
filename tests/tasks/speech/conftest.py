"""Fixtures of the speech tests: one torch thread, WAV writers, and slices of the real Free Spoken
Digit Dataset (``$RNNKIT_DATA/fsdd/recordings``)."""

import shutil
import wave

import numpy as np
import pytest


@pytest.fixture(autouse=True)
def _every_test_on_one_thread(one_thread):
    """Tiny models train faster on one thread (the fixture is in tests/conftest.py)."""


def write_wav(path, samples, *, rate=8000, width=2, channels=1):
    """Write float ``samples`` (frames, channels) or (frames,) in [-1, 1) as PCM of ``width``
    bytes; returns the integer values written (frames, channels)."""
    samples = np.asarray(samples, dtype=np.float64).reshape(len(samples), channels)
    assert samples.shape[1] == channels
    scale = float(1 << (8 * width - 1))
    ints = np.clip(np.round(samples * scale), -scale, scale - 1).astype(np.int64)
    if width == 1:
        raw = (ints + 128).astype(np.uint8).tobytes()
    elif width == 3:
        unsigned = ints.reshape(-1) & 0xFFFFFF
        raw = np.stack([(unsigned >> s) & 0xFF for s in (0, 8, 16)], 1).astype(np.uint8).tobytes()
    else:
        raw = ints.astype(f"<i{width}").tobytes()
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(width)
        out.setframerate(rate)
        out.writeframes(raw)
    return ints


@pytest.fixture(scope="session")
def fsdd(data_dir):
    """The real recordings folder (skips without $RNNKIT_DATA)."""
    folder = data_dir / "fsdd" / "recordings"
    if not folder.is_dir():
        pytest.skip(f"{folder} is missing")
    return folder


def copy_fsdd(fsdd, root, digits, speakers, indices):
    """A folder holding the real recordings ``{digit}_{speaker}_{index}.wav`` asked for."""
    root.mkdir(parents=True, exist_ok=True)
    for digit in digits:
        for speaker in speakers:
            for index in indices:
                name = f"{digit}_{speaker}_{index}.wav"
                shutil.copy(fsdd / name, root / name)
    return root
