"""Text corpora: one text file (Tiny Shakespeare), split files (PTB), parallel files (Multi30k).

Line ends are normalised to ``\\n``; ``.gz`` files are decompressed; undecodable bytes raise a
``UserError`` naming the file, the line and the ``--encoding`` option.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from rnnkit.data.files import read_text_file
from rnnkit.errors import UserError

__all__ = [
    "MULTI30K_SPLITS",
    "PTB_FILES",
    "read_parallel_text",
    "read_text",
    "read_text_splits",
]

# split -> file name, for Penn Treebank (Mikolov's version)
PTB_FILES = {"train": "ptb.train.txt", "valid": "ptb.valid.txt", "test": "ptb.test.txt"}
# split -> file stem, for Multi30k task 1 (the files are <stem>.<language>.gz)
MULTI30K_SPLITS = {"train": "train", "valid": "val", "test": "test_2016_flickr"}


def read_text(path: str | os.PathLike[str], encoding: str = "utf-8") -> str:
    """The whole text of one file (e.g. Tiny Shakespeare's ``input.txt``), ``\\n`` line ends."""
    text = read_text_file(path, encoding)
    if not text:
        raise UserError(f"{path}: the file is empty; expected a text corpus")
    return text


def _require_dir(path: Path, what: str) -> Path:
    path = path.expanduser()
    if not path.is_dir():
        raise UserError(f"no such directory: {path} (expected {what})")
    return path


def read_text_splits(
    path: str | os.PathLike[str],
    files: Mapping[str, str] = PTB_FILES,
    encoding: str = "utf-8",
) -> dict[str, str]:
    """Read one text file per split from a folder: ``{split: text}`` (PTB by default)."""
    directory = _require_dir(Path(path), f"a folder with {', '.join(files.values())}")
    return {split: read_text(directory / name, encoding) for split, name in files.items()}


def read_parallel_text(
    path: str | os.PathLike[str],
    source: str = "de",
    target: str = "en",
    splits: Mapping[str, str] = MULTI30K_SPLITS,
    encoding: str = "utf-8",
) -> dict[str, tuple[list[str], list[str]]]:
    """Read sentence-aligned files ``<stem>.<language>[.gz]``: ``{split: (sources, targets)}``.

    Args:
        path: the folder (Multi30k's raw files by default).
        source: the source language suffix, e.g. ``"de"``.
        target: the target language suffix, e.g. ``"en"``.
        splits: split name -> file stem.
        encoding: the files' encoding.
    """
    directory = _require_dir(Path(path), "a folder of parallel text files")
    result = {}
    for split, stem in splits.items():
        sides = []
        for language in (source, target):
            candidates = [directory / f"{stem}.{language}.gz", directory / f"{stem}.{language}"]
            file = next((c for c in candidates if c.exists()), None)
            if file is None:
                raise UserError(
                    f"{directory}: expected {candidates[0].name} or {candidates[1].name}"
                )
            lines = read_text(file, encoding).split("\n")
            if lines and lines[-1] == "":
                lines.pop()
            sides.append(lines)
        if len(sides[0]) != len(sides[1]):
            raise UserError(
                f"{directory}: {stem}.{source} has {len(sides[0])} lines but {stem}.{target} has "
                f"{len(sides[1])}; expected sentence-aligned files"
            )
        result[split] = (sides[0], sides[1])
    return result
