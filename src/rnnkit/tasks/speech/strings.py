"""The data of a CTC speech run: utterances with transcripts, either built as digit strings from
single-word recordings (FSDD, a folder, a path,label CSV) or read from a path,transcript CSV.

Digit strings: each split's recordings (cut as :func:`rnnkit.tasks.speech.data.split_recordings`
cuts them — FSDD's official split keeps recordings 0-4 of every speaker and digit for test, and
validation is cut per speaker and digit from the rest) are joined into utterances of
``min_digits``..``max_digits`` recordings of one speaker (the test split's may differ:
``test_min_digits``, ``test_max_digits``), each scaled by a random gain of
±``gain_db`` dB, with random silences of 0..``max_gap_ms`` before, between and after them
(seeded by ``split_seed`` and the split's name). A recording is only ever joined with
recordings of its own split, so no recording is heard in two splits.

Transcripts (a CSV's ``transcript`` column): a string of symbols (``"4071"``: one symbol per
character) or space-separated tokens (``"four oh seven one"``).
"""

from __future__ import annotations

import csv
import logging
import random
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import torch

from rnnkit.data.audio import Recordings, read_wavs
from rnnkit.data.splits import random_split
from rnnkit.errors import UserError
from rnnkit.tasks.speech.data import SpeechData, featurize, load_recordings, split_recordings

__all__ = [
    "Alphabet",
    "SpeechStringData",
    "Utterance",
    "UtteranceSplit",
    "build_strings",
    "extract_utterances",
    "is_transcribed",
    "parse_transcript",
    "read_transcribed",
    "split_utterances",
]

logger = logging.getLogger(__name__)


@dataclass
class SpeechStringData(SpeechData):
    """How a CTC speech run builds or reads its utterances (the other data settings are those of
    ``rnnkit train speech``).

    Args:
        source: fsdd, a folder of single-word WAV files (labels from the file names, see
            --pattern) or a CSV of path,label(,speaker) rows — joined into strings — or a CSV of
            path,transcript(,speaker) rows of whole utterances.
        min_digits: the fewest recordings joined into one string.
        max_digits: the most recordings joined into one string.
        test_min_digits: the fewest recordings joined into one test string (default:
            min_digits).
        test_max_digits: the most recordings joined into one test string (default: max_digits).
        train_strings: strings built from the training recordings.
        eval_strings: strings built from the validation recordings and from the test ones.
        max_gap_ms: the longest random silence before, between and after the joined recordings.
        gain_db: each joined recording is scaled by a random gain within ±this many dB.
    """

    RANGES: ClassVar[dict[str, str]] = {
        **SpeechData.RANGES,
        "min_digits": "[1, inf)",
        "max_digits": "[1, inf)",
        "test_min_digits": "[1, inf)",
        "test_max_digits": "[1, inf)",
        "train_strings": "[1, inf)",
        "eval_strings": "[1, inf)",
        "max_gap_ms": "[0, 5000]",
        "gain_db": "[0, 40]",
    }

    min_digits: int = 2
    max_digits: int = 5
    test_min_digits: int | None = None
    test_max_digits: int | None = None
    train_strings: int = 3000
    eval_strings: int = 500
    max_gap_ms: float = 150.0
    gain_db: float = 3.0

    def check(self) -> None:
        super().check()
        for lowest, highest, prefix in (
            (self.min_digits, self.max_digits, ""),
            (*self.digits("test"), "test_"),
        ):
            if lowest > highest:
                raise UserError(f"{prefix}min_digits must be at most {prefix}max_digits "
                                f"({highest}), got {lowest}")  # fmt: skip

    def digits(self, split: str) -> tuple[int, int]:
        """The fewest and most recordings joined into one string of ``split``."""
        if split == "test":
            return (
                self.min_digits if self.test_min_digits is None else self.test_min_digits,
                self.max_digits if self.test_max_digits is None else self.test_max_digits,
            )
        return self.min_digits, self.max_digits

    @classmethod
    def field_help(cls) -> dict[str, str]:
        return {**SpeechData.field_help(), **super().field_help()}


class Utterance(NamedTuple):
    """One utterance: its recordings, joined in order, each with its gain, the silences
    (milliseconds) before, between and after them, and its transcript's tokens."""

    paths: tuple[Path, ...]
    gains: tuple[float, ...]  # len(paths)
    gaps_ms: tuple[float, ...]  # len(paths) + 1
    tokens: tuple[str, ...]
    speaker: str | None = None


def parse_transcript(text: Any, where: str) -> tuple[str, ...]:
    """A transcript's tokens: split on whitespace when it has any, else one per character; an
    empty one is a ``UserError`` naming ``where`` it came from."""
    if not isinstance(text, str) or not text.strip():
        raise UserError(f"{where}: the transcript is empty; expected a string of symbols "
                        "(4071) or space-separated tokens (four oh seven one)")  # fmt: skip
    text = text.strip()
    return tuple(text.split()) if any(c.isspace() for c in text) else tuple(text)


def read_transcribed(path: Path) -> list[Utterance]:
    """The utterances of a CSV of ``path,transcript(,speaker)`` rows (paths relative to the
    CSV's folder)."""
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        raise UserError(f"{path}: no rows; expected a CSV with the columns path and transcript")
    out = []
    for number, row in enumerate(rows, start=2):
        if not row.get("path"):
            raise UserError(f"{path}, line {number}: no path; expected path,transcript rows")
        tokens = parse_transcript(row.get("transcript"), f"{path}, line {number}")
        out.append(Utterance((path.parent / row["path"],), (1.0,), (0.0, 0.0), tokens,
                             row.get("speaker") or None))  # fmt: skip
    return out


def is_transcribed(source: str) -> bool:
    """Whether ``source`` is a CSV with a transcript column."""
    path = Path(source).expanduser()
    if not (path.is_file() and path.suffix.lower() == ".csv"):
        return False
    with open(path, newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle), [])
    return "transcript" in header


def build_strings(
    recordings: Recordings,
    data: SpeechStringData,
    count: int,
    seed: str,
    digits: tuple[int, int] | None = None,
):
    """``count`` digit strings from ``recordings`` (see the module docstring), seeded by
    ``seed``, each of ``digits`` (fewest, most; default ``data.min_digits``,
    ``data.max_digits``) recordings of one speaker only."""
    fewest, most = digits or (data.min_digits, data.max_digits)
    rng = random.Random(seed)
    speakers = recordings.speakers or [""] * len(recordings)
    by_speaker: dict[str, list[int]] = defaultdict(list)
    for row, speaker in enumerate(speakers):
        by_speaker[speaker].append(row)
    out = []
    for _ in range(count):
        speaker = speakers[rng.randrange(len(recordings))]  # voices as often as they speak
        pool = by_speaker[speaker]
        size = rng.randint(fewest, most)
        rows = rng.sample(pool, size) if size <= len(pool) else rng.choices(pool, k=size)
        gains = tuple(10 ** (rng.uniform(-data.gain_db, data.gain_db) / 20) for _ in rows)
        gaps = tuple(rng.uniform(0.0, data.max_gap_ms) for _ in range(size + 1))
        tokens = tuple(recordings.labels[i] for i in rows)
        out.append(Utterance(tuple(recordings.paths[i] for i in rows), gains, gaps, tokens,
                             speaker or None))  # fmt: skip
    return out


def split_utterances(data: SpeechStringData, source: str | None = None) -> dict[str, list]:
    """``{"train", "val", "test"}`` utterances of ``source`` (default ``data.source``): strings
    built per split from single-word recordings, or a transcribed CSV cut at random
    (``test_fraction``, then ``val_fraction`` of the rest; seeded; ``--split speaker`` holds a
    speaker out)."""
    source = source or data.source
    if source is not None and is_transcribed(source):
        utterances = read_transcribed(Path(source).expanduser())
        everyone = list(range(len(utterances)))
        if data.split == "speaker":
            speakers = sorted({u.speaker for u in utterances if u.speaker})
            if len(speakers) < 2:
                raise UserError(f"--split speaker needs two speakers or more in {source}'s "
                                f"speaker column, got {speakers}")  # fmt: skip
            held_out = data.test_speaker or speakers[0]
            test = [i for i in everyone if utterances[i].speaker == held_out]
            rest = [i for i in everyone if utterances[i].speaker != held_out]
        else:
            keep, test = random_split(len(everyone), data.test_fraction, seed=data.split_seed)
            rest = keep
        keep, val = random_split(len(rest), data.val_fraction, seed=data.split_seed)
        rows = {"train": [rest[i] for i in keep], "val": [rest[i] for i in val], "test": test}
        if data.limit is not None:
            rows = {name: r[: data.limit] for name, r in rows.items()}
        return {name: [utterances[i] for i in r] for name, r in rows.items()}
    recordings = split_recordings(load_recordings(data, source), data)
    counts = {"train": data.train_strings, "val": data.eval_strings, "test": data.eval_strings}
    return {
        name: build_strings(
            recordings[name], data, counts[name], f"{data.split_seed}-{name}", data.digits(name)
        )  # fmt: skip
        if len(recordings[name])
        else []
        for name in counts
    }


@dataclass
class UtteranceSplit:
    """One split's usable utterances: ``features`` (each ``(T, F)``, not yet standardised) and
    their ``utterances``."""

    features: list[torch.Tensor]
    utterances: list[Utterance]

    def __len__(self) -> int:
        return len(self.utterances)


def join(utterance: Utterance, audio: dict[Path, torch.Tensor], rate: int) -> torch.Tensor:
    """The utterance's samples ``(S,)``: silences and gain-scaled recordings, in turn."""
    pieces = [torch.zeros(round(utterance.gaps_ms[0] * rate / 1000))]
    for path, gain, gap in zip(utterance.paths, utterance.gains, utterance.gaps_ms[1:]):
        pieces += [audio[path] * gain, torch.zeros(round(gap * rate / 1000))]
    return torch.cat(pieces)  # (S,)


def extract_utterances(
    utterances: list[Utterance], data: SpeechStringData, name: str
) -> UtteranceSplit:
    """Read each recording once, join and featurise every utterance; utterances with an
    unreadable recording are skipped (one line says how many and why); none left is a
    ``UserError``."""
    paths = sorted({p for u in utterances for p in u.paths})
    read = read_wavs(paths, data.sample_rate)
    audio = {paths[i]: samples for i, samples in zip(read.kept, read.samples)}
    kept = [u for u in utterances if all(p in audio for p in u.paths)]
    logger.info("%s split: %d utterances from %s", name, len(kept), read.summary(len(paths)))
    if not kept:
        reasons = ", ".join(f"{len(f)} {r} (e.g. {f[0]})" for r, f in read.skipped.items())
        raise UserError(f"no usable utterances in the {name} split ({reasons or 'none given'}); "
                        "expected PCM WAV files")  # fmt: skip
    features = [featurize(join(u, audio, data.sample_rate), data) for u in kept]
    return UtteranceSplit(features, kept)


@dataclass
class Alphabet:
    """The transcripts' symbols: symbol ``i`` of ``symbols`` is output ``i + 1`` (0 is the CTC
    blank); ``separator`` joins decoded symbols into text ("" for one-character symbols)."""

    symbols: list[str]
    separator: str = ""

    @classmethod
    def fit(cls, utterances: list[Utterance]) -> Alphabet:
        symbols = sorted({t for u in utterances for t in u.tokens})
        return cls(symbols, "" if all(len(s) == 1 for s in symbols) else " ")

    def encode(self, tokens: tuple[str, ...], where: str) -> list[int]:
        """Output ids (1..S) of ``tokens``; a symbol the alphabet lacks is a ``UserError``."""
        index = {s: i + 1 for i, s in enumerate(self.symbols)}
        unknown = [t for t in tokens if t not in index]
        if unknown:
            raise UserError(
                f"{where}: the transcript has the symbol {unknown[0]!r}, which the model does "
                f"not know; expected only {' '.join(self.symbols)}"
            )
        return [index[t] for t in tokens]

    def decode(self, ids: list[int]) -> str:
        return self.separator.join(self.symbols[i - 1] for i in ids)

    def to_dict(self) -> dict[str, Any]:
        return {"symbols": self.symbols, "separator": self.separator}

    @classmethod
    def from_dict(cls, data: Any) -> Alphabet:
        if not isinstance(data, dict) or not isinstance(data.get("symbols"), list):
            raise UserError("the saved alphabet is damaged; expected {'symbols': [...]}")
        return cls([str(s) for s in data["symbols"]], str(data.get("separator", "")))
