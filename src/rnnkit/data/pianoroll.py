"""Piano rolls: polyphonic music as binary (time steps × 88 keys) arrays, read from the MATLAB
release of the Boulanger-Lewandowski et al. (2012) datasets or from MIDI files, and written back
as MIDI.

A piano roll ``x`` has ``x[t, k] = 1`` when key ``k`` (MIDI note ``LOWEST_KEY + k``, A0 = 21 up
to C8 = 108) sounds at time step ``t``. Sources (:func:`read_piano_rolls`, the dataset
registry's loader):

- a ``.mat`` file holding ``traindata``, ``validdata`` and ``testdata``: 1×n cell arrays of
  (T × 88) binary rolls (Nottingham, MuseData, Piano-midi.de as the TCN repository
  redistributes them), read with ``scipy.io.loadmat`` (no code runs while loading);
- a MIDI file, or a folder of them (``*.mid``, ``*.midi``; with ``train/``, ``valid/`` (or
  ``val/``) and ``test/`` subfolders, as the original MIDI release is laid out, those are the
  splits), read with ``mido`` (the ``music`` extra) and sampled every ``frame_seconds``: a note
  sounding from ``s`` to ``e`` seconds fills frames ``round(s / Δ)`` up to ``round(e / Δ)``
  (at least one frame); drums (channel 10) and notes outside the 88 keys are left out.

:func:`write_midi` turns a roll back into a MIDI file (a key that stays on across frames is one
held note), so ``read_midi(write_midi(x)) == x`` for any roll ending in silence.

Every file that cannot be used (not a .mat or MIDI file, missing splits, another width than 88,
values other than 0/1, no frames) is one :class:`~rnnkit.errors.UserError` naming the file.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rnnkit.atomic import atomic_path
from rnnkit.errors import UserError

__all__ = [
    "KEYS",
    "LOWEST_KEY",
    "MAT_SPLITS",
    "MIDI_SUFFIXES",
    "check_roll",
    "read_mat",
    "read_midi",
    "read_piano_rolls",
    "write_midi",
]

logger = logging.getLogger(__name__)

KEYS = 88  # piano keys: the columns of a roll
LOWEST_KEY = 21  # the MIDI note of column 0 (A0); column 87 is 108 (C8)
MAT_SPLITS = {"train": "traindata", "val": "validdata", "test": "testdata"}  # split -> .mat key
MIDI_SUFFIXES = (".mid", ".midi")
SPLIT_FOLDERS = {"train": ("train",), "val": ("valid", "val"), "test": ("test",)}
DRUM_CHANNEL = 9  # General MIDI's percussion channel (10, counted from 1)
TICKS_PER_BEAT = 480
TICKS_PER_FRAME = 120  # a written file's beat is four frames


def check_roll(roll: Any, where: str) -> np.ndarray:
    """``roll`` as a (T, 88) uint8 array of 0/1, or a ``UserError`` naming ``where`` it is from."""
    array = np.asarray(roll)
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise UserError(f"{where} holds {array.dtype} values; expected a numeric piano roll")
    if array.ndim != 2 or array.shape[1] != KEYS:
        raise UserError(
            f"{where} has shape {array.shape}; expected (time steps, {KEYS}) — one column per "
            f"piano key, MIDI notes {LOWEST_KEY}-{LOWEST_KEY + KEYS - 1}"
        )
    if array.shape[0] == 0:
        raise UserError(f"{where} has no time steps; expected at least one frame")
    if not np.isin(array, (0, 1)).all():
        raise UserError(f"{where} holds values other than 0 and 1; expected a binary piano roll")
    return array.astype(np.uint8)


def read_mat(path: str | Path) -> dict[str, list[np.ndarray]]:
    """``{"train", "val", "test"}`` -> rolls of a ``.mat`` file with ``traindata``,
    ``validdata`` and ``testdata`` cell arrays."""
    try:
        from scipy.io import loadmat
    except ImportError:
        raise UserError("reading .mat files needs scipy; expected it installed: "
                        "pip install 'rnnkit[music]'") from None  # fmt: skip
    path = Path(path)
    try:
        contents = loadmat(str(path))
    except Exception as error:  # scipy raises many kinds for a damaged or foreign file
        raise UserError(
            f"{path}: cannot read it as a MATLAB .mat file ({type(error).__name__}: {error}); "
            "expected a .mat file with traindata, validdata and testdata"
        ) from None
    missing = [key for key in MAT_SPLITS.values() if key not in contents]
    if missing:
        found = sorted(k for k in contents if not k.startswith("__"))
        raise UserError(
            f"{path} has no {', '.join(missing)}; expected traindata, validdata and testdata "
            f"cell arrays of piano rolls (found: {', '.join(found) or 'nothing'})"
        )
    splits = {}
    for split, key in MAT_SPLITS.items():
        cells = contents[key]
        if not isinstance(cells, np.ndarray) or cells.dtype != object:
            raise UserError(f"{path}: {key} is not a cell array; expected a 1×n cell array of "
                            f"(time steps × {KEYS}) piano rolls")  # fmt: skip
        if cells.size == 0:
            raise UserError(f"{path}: {key} is empty; expected at least one piano roll")
        splits[split] = [
            check_roll(roll, f"{path}: {key}{{{i + 1}}}") for i, roll in enumerate(cells.ravel())
        ]
    return splits


def _mido():
    try:
        import mido
    except ImportError:
        raise UserError(
            "reading and writing MIDI files needs mido; expected it installed: "
            "pip install 'rnnkit[music]'"
        ) from None
    return mido


def read_midi(path: str | Path, frame_seconds: float) -> np.ndarray:
    """The (T, 88) piano roll of a MIDI file sampled every ``frame_seconds`` (see the module
    docstring)."""
    mido, path = _mido(), Path(path)
    try:
        midi = mido.MidiFile(str(path))
        messages = list(midi)  # merged tracks, ``time`` = seconds since the previous message
    except Exception as error:  # mido raises many kinds for a damaged or foreign file
        raise UserError(
            f"{path}: cannot read it as a MIDI file ({type(error).__name__}: {error}); "
            "expected a Standard MIDI File (.mid)"
        ) from None
    notes: list[tuple[int, float, float]] = []  # (key, start, end) in seconds
    sounding: dict[tuple[int, int], float] = {}  # (channel, note) -> start
    now, outside = 0.0, 0
    for message in messages:
        now += message.time
        if message.type not in ("note_on", "note_off") or message.channel == DRUM_CHANNEL:
            continue
        key = (message.channel, message.note)
        if key in sounding:  # an end, or a new start of a note still sounding
            notes.append((message.note, sounding.pop(key), now))
        if message.type == "note_on" and message.velocity > 0:
            sounding[key] = now
    notes += [(note, start, now) for (_, note), start in sounding.items()]
    kept = [n for n in notes if LOWEST_KEY <= n[0] < LOWEST_KEY + KEYS]
    outside = len(notes) - len(kept)
    if outside:
        logger.info("%s: %d note(s) outside the piano's 88 keys left out", path, outside)
    if not kept:
        raise UserError(f"{path} holds no piano notes; expected notes {LOWEST_KEY}-"
                        f"{LOWEST_KEY + KEYS - 1} on a channel other than drums")  # fmt: skip
    spans = [
        (note - LOWEST_KEY, round(start / frame_seconds), round(end / frame_seconds))
        for note, start, end in kept
    ]
    roll = np.zeros((max(max(first + 1, last) for _, first, last in spans), KEYS), np.uint8)
    for key, first, last in spans:
        roll[first : max(first + 1, last), key] = 1  # (T, 88)
    return roll


def write_midi(
    roll: np.ndarray, path: str | Path, frame_seconds: float, *, velocity: int = 80
) -> Path:
    """Write a (T, 88) roll as a one-track MIDI file: four frames to a beat, so the tempo is
    ``4 * frame_seconds`` seconds per beat; a key on in consecutive frames is one held note."""
    mido, path = _mido(), Path(path)
    roll = check_roll(roll, "the piano roll to write")
    padded = np.concatenate([np.zeros((1, KEYS), np.uint8), roll, np.zeros((1, KEYS), np.uint8)])
    changes = np.diff(padded.astype(np.int8), axis=0)  # (T + 1, 88): +1 on, -1 off
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("set_tempo", tempo=round(4 * frame_seconds * 1e6), time=0))
    last_tick = 0
    for frame, row in enumerate(changes):
        tick = frame * TICKS_PER_FRAME
        offs = [("note_off", key) for key in np.flatnonzero(row < 0)]
        for kind, key in offs + [("note_on", key) for key in np.flatnonzero(row > 0)]:
            note = int(key) + LOWEST_KEY
            track.append(mido.Message(kind, note=note, velocity=velocity, time=tick - last_tick))
            last_tick = tick
    track.append(mido.MetaMessage("end_of_track", time=0))
    midi = mido.MidiFile(ticks_per_beat=TICKS_PER_BEAT)
    midi.tracks.append(track)
    with atomic_path(path) as tmp:
        midi.save(str(tmp))
    return path


def _midi_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in MIDI_SUFFIXES)


def _read_midis(paths: Sequence[Path], frame_seconds: float, where: Path) -> list[np.ndarray]:
    if not paths:
        raise UserError(f"{where} holds no MIDI files; expected *.mid or *.midi files")
    return [read_midi(p, frame_seconds) for p in paths]


def read_piano_rolls(
    path: str | Path, *, frame_seconds: float = 0.125
) -> dict[str, list[np.ndarray]]:
    """Split -> rolls of a ``.mat`` file, a MIDI file or a folder of MIDI files (see the module
    docstring): ``{"train", "val", "test"}`` where the data has its own splits, else
    ``{"all": [...]}`` for the caller to cut."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"no such file or directory: {path}; expected a .mat file or MIDI files")
    if path.is_dir():
        folders = {
            split: next((path / n for n in names if (path / n).is_dir()), None)
            for split, names in SPLIT_FOLDERS.items()
        }
        if folders["train"] is not None:
            return {
                split: _read_midis(_midi_files(folder), frame_seconds, folder)
                for split, folder in folders.items()
                if folder is not None
            }
        return {"all": _read_midis(_midi_files(path), frame_seconds, path)}
    if path.suffix.lower() in MIDI_SUFFIXES:
        return {"all": [read_midi(path, frame_seconds)]}
    if path.suffix.lower() == ".mat":
        return read_mat(path)
    raise UserError(
        f"{path}: cannot tell what it holds from its name; expected a .mat file (traindata, "
        "validdata, testdata), a .mid file or a folder of them"
    )
