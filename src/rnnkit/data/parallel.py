"""Parallel corpora for translation: Multi30k, a folder of split files, a pair of files, a TSV.

:func:`load_parallel` reads ``--data`` for ``rnnkit train translate`` into a
:class:`ParallelCorpus` of ``{split: (sources, targets)}``, line-aligned:

* a registered dataset (``multi30k``), found like every dataset (:mod:`rnnkit.data.resolve`);
* a folder of ``<stem>.<language>[.gz]`` files: ``train``, ``val``/``valid``/``dev``,
  ``test``/``test_2016_flickr`` (Multi30k's and Moses' names);
* a file prefix: ``data/corpus`` with ``--src de --tgt en`` reads ``data/corpus.de`` and
  ``data/corpus.en`` (a pair of line-aligned files);
* a ``.tsv`` file of ``source<TAB>target`` lines.

Line counts of the two sides must agree (else a ``UserError`` names both files and counts). Pairs
with an empty side carry nothing to learn or score: they are dropped and counted
(``ParallelCorpus.dropped``). Without a validation split one is cut from train (seeded).
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rnnkit.data.files import read_text_file
from rnnkit.errors import UserError

__all__ = [
    "SPLIT_STEMS",
    "ParallelCorpus",
    "languages_in",
    "load_parallel",
    "read_aligned",
    "read_pairs_tsv",
    "read_parallel_folder",
]

logger = logging.getLogger(__name__)

# split -> file stems tried in order (Multi30k's, Moses' and common names)
SPLIT_STEMS: dict[str, tuple[str, ...]] = {
    "train": ("train",),
    "val": ("val", "valid", "dev"),
    "test": ("test_2016_flickr", "test"),
}
_LANGUAGE = re.compile(r"^[A-Za-z][A-Za-z_-]{0,15}$")

Pairs = tuple[list[str], list[str]]


@dataclass
class ParallelCorpus:
    """Line-aligned ``{split: (sources, targets)}`` read from ``origin``."""

    origin: str
    src: str
    tgt: str
    splits: dict[str, Pairs]
    dropped: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        sizes = ", ".join(f"{name} {len(pairs[0]):,}" for name, pairs in self.splits.items())
        return f"{self.origin} {self.src}->{self.tgt}: {sizes} pairs"


def _lines(path: Path, encoding: str) -> list[str]:
    lines = read_text_file(path, encoding).split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the final newline ends the last line; it does not start another
    return lines


def read_aligned(src_file: str | os.PathLike[str], tgt_file: str | os.PathLike[str],
                 encoding: str = "utf-8") -> Pairs:  # fmt: skip
    """Two line-aligned files (``.gz`` decompressed): ``(sources, targets)``."""
    sources, targets = _lines(Path(src_file), encoding), _lines(Path(tgt_file), encoding)
    if len(sources) != len(targets):
        raise UserError(
            f"{src_file} has {len(sources):,} lines but {tgt_file} has {len(targets):,}; "
            "expected line-aligned files (line i of one translates line i of the other)"
        )
    return sources, targets


def read_pairs_tsv(path: str | os.PathLike[str], encoding: str = "utf-8") -> Pairs:
    """A file of ``source<TAB>target`` lines (further columns ignored): ``(sources, targets)``."""
    sources, targets = [], []
    for number, line in enumerate(_lines(Path(path), encoding), 1):
        if not line.strip():
            sources.append("")  # an empty line: dropped later with the other empty pairs
            targets.append("")
            continue
        columns = line.split("\t")
        if len(columns) < 2:
            raise UserError(
                f"{path}, line {number}: no tab; expected 'source<TAB>target' on every line"
            )
        sources.append(columns[0])
        targets.append(columns[1])
    return sources, targets


def _split_file(directory: Path, stem: str, language: str) -> Path | None:
    for candidate in (directory / f"{stem}.{language}.gz", directory / f"{stem}.{language}"):
        if candidate.is_file():
            return candidate
    return None


def languages_in(directory: str | os.PathLike[str]) -> list[str]:
    """The language suffixes of the training files in ``directory`` (``train.de.gz`` -> de)."""
    found = set()
    for path in Path(directory).glob("train.*"):
        suffix = path.name[len("train.") :].removesuffix(".gz")
        if _LANGUAGE.match(suffix):
            found.add(suffix)
    return sorted(found)


def read_parallel_folder(
    path: str | os.PathLike[str], source: str = "de", target: str = "en", encoding: str = "utf-8"
) -> dict[str, Pairs]:
    """A folder of ``<stem>.<language>[.gz]`` files: ``{split: (sources, targets)}``.

    ``train`` is required; ``val`` and ``test`` are read when present (see ``SPLIT_STEMS``).
    """
    directory = Path(path).expanduser()
    if not directory.is_dir():
        raise UserError(f"no such directory: {directory} (expected a folder of parallel files)")
    for language in (source, target):
        if _split_file(directory, "train", language) is None:
            available = languages_in(directory)
            raise UserError(
                f"{directory} has no train.{language}[.gz]: no {language!r} side; "
                f"languages there: {', '.join(available) or 'none'}"
            )
    splits: dict[str, Pairs] = {}
    for split, stems in SPLIT_STEMS.items():
        for stem in stems:
            src_file = _split_file(directory, stem, source)
            tgt_file = _split_file(directory, stem, target)
            if src_file and tgt_file:
                splits[split] = read_aligned(src_file, tgt_file, encoding)
                break
    return splits


def _drop_empty(pairs: Pairs) -> tuple[Pairs, int]:
    kept = [(s, t) for s, t in zip(*pairs) if s.strip() and t.strip()]
    return ([s for s, _ in kept], [t for _, t in kept]), len(pairs[0]) - len(kept)


def _cut_validation(train: Pairs, fraction: float, seed: int) -> tuple[Pairs, Pairs]:
    n = len(train[0])
    n_val = max(1, round(n * fraction))
    if n - n_val < 1:
        raise UserError(f"{n} training pair(s) are too few to cut a validation split from")
    order = np.random.default_rng(seed).permutation(n)
    val_index, train_index = sorted(order[:n_val]), sorted(order[n_val:])

    def take(index):
        return [train[0][i] for i in index], [train[1][i] for i in index]

    return take(train_index), take(val_index)


def load_parallel(
    data: str,
    src: str,
    tgt: str,
    *,
    encoding: str = "utf-8",
    val_fraction: float = 0.05,
    seed: int = 0,
) -> ParallelCorpus:
    """Read ``--data`` (a dataset name, folder, file prefix or TSV) as a :class:`ParallelCorpus`.

    Args:
        data: ``multi30k``, a folder, a prefix (``PREFIX.src`` and ``PREFIX.tgt``) or a ``.tsv``.
        src: the source language code (the files' suffix), e.g. ``"de"``.
        tgt: the target language code, e.g. ``"en"``.
        encoding: the files' encoding.
        val_fraction: of train, cut off for validation when the data has no validation split.
        seed: seeds that cut.
    """
    from rnnkit.data.registry import DATASETS
    from rnnkit.data.resolve import resolve

    for code in (src, tgt):
        if not _LANGUAGE.match(code or ""):
            raise UserError(f"invalid language code {code!r}; expected letters such as de or en")
    if src == tgt:
        raise UserError(f"--src and --tgt are both {src!r}; expected two different languages")
    path = Path(data).expanduser()
    if data in DATASETS:
        splits = read_parallel_folder(resolve(data), src, tgt, encoding)
    elif path.is_dir():
        splits = read_parallel_folder(path, src, tgt, encoding)
    elif path.is_file():
        if path.suffix.lower() not in (".tsv", ".txt"):
            raise UserError(
                f"{path}: expected a .tsv file of 'source<TAB>target' lines, a folder, or a "
                f"prefix of two files ({path}.{src} and {path}.{tgt})"
            )
        splits = {"train": read_pairs_tsv(path, encoding)}
    elif any(Path(f"{path}.{src}{gz}").is_file() for gz in ("", ".gz")):
        files = [
            next((f for f in (Path(f"{path}.{code}"), Path(f"{path}.{code}.gz")) if f.is_file()),
                 Path(f"{path}.{code}"))
            for code in (src, tgt)
        ]  # fmt: skip
        splits = {"train": read_aligned(files[0], files[1], encoding)}
    else:
        raise UserError(
            f"{data!r} is neither a known dataset ({', '.join(DATASETS)}), a folder, a .tsv file, "
            f"nor a prefix of two files ({data}.{src} and {data}.{tgt})"
        )
    dropped = {}
    for split in list(splits):
        splits[split], dropped[split] = _drop_empty(splits[split])
        if dropped[split]:
            logger.info("dropped %d %s pair(s) with an empty side", dropped[split], split)
    if not splits["train"][0]:
        raise UserError(f"{data}: no training pairs with text on both sides")
    if "val" not in splits:
        splits["train"], splits["val"] = _cut_validation(splits["train"], val_fraction, seed)
    origin = data if data in DATASETS else str(path)
    return ParallelCorpus(origin, src, tgt, {k: splits[k] for k in SPLIT_STEMS if k in splits},
                          {k: v for k, v in dropped.items() if v})  # fmt: skip
