"""Reading line-aligned parallel files: a pair of files, a TSV of pairs, a folder of split files.

Each reader returns ``(sources, targets)``: line i of one side translates line i of the other.

* :func:`read_aligned`: two files (``.gz`` decompressed); their line counts must agree (else a
  ``UserError`` names both files and counts);
* :func:`read_pairs_tsv`: a file of ``source<TAB>target`` lines;
* :func:`read_parallel_folder`: a folder of ``<stem>.<language>[.gz]`` files: ``train``,
  ``val``/``valid``/``dev``, ``test``/``test_2016_flickr`` (Multi30k's and Moses' names), as
  ``{split: (sources, targets)}``; the loader of the registered ``multi30k``.

:mod:`rnnkit.data.parallel` chooses among them for ``--data``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from rnnkit.data.files import read_text_file
from rnnkit.errors import UserError

__all__ = [
    "LANGUAGE_CODE",
    "SPLIT_STEMS",
    "Pairs",
    "languages_in",
    "read_aligned",
    "read_pairs_tsv",
    "read_parallel_folder",
]

# split -> file stems tried in order (Multi30k's, Moses' and common names)
SPLIT_STEMS: dict[str, tuple[str, ...]] = {
    "train": ("train",),
    "val": ("val", "valid", "dev"),
    "test": ("test_2016_flickr", "test"),
}
LANGUAGE_CODE = re.compile(r"^[A-Za-z][A-Za-z_-]{0,15}$")

Pairs = tuple[list[str], list[str]]


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
        if LANGUAGE_CODE.match(suffix):
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
