"""Text corpora: one text file (Tiny Shakespeare), split files (PTB); parallel files are in
:mod:`rnnkit.data.parallel_files`.

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
    "PTB_FILES",
    "read_text",
    "read_text_splits",
]

# split -> file name, for Penn Treebank (Mikolov's version)
PTB_FILES = {"train": "ptb.train.txt", "valid": "ptb.valid.txt", "test": "ptb.test.txt"}


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
