"""The Large Movie Review Dataset (IMDb, Maas et al. 2011), read from its tree or its tarball.

Layout: ``aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt`` (12,500 reviews in each) and
``aclImdb/train/unsup/*.txt`` (50,000 unlabelled reviews). :func:`read_imdb` takes the
``aclImdb`` folder, the folder holding it, or ``aclImdb_v1.tar.gz`` itself: the archive is read in
one streaming pass without unpacking (about 1-2 s on a laptop CPU for the 80 MB, 100,000-member
archive). Reviews come back sorted by split, label and numeric id, whichever the source, so runs
are reproducible. Texts are returned raw (with their ``<br />`` line breaks); cleaning is the
tokenizer's job.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Iterable
from pathlib import Path

from rnnkit.data.archive import is_archive, iter_tar_files
from rnnkit.data.examples import LabeledTexts
from rnnkit.errors import UserError

__all__ = ["IMDB_LABELS", "IMDB_SPLITS", "looks_like_imdb", "read_imdb"]

logger = logging.getLogger(__name__)

IMDB_SPLITS = ("train", "test", "unsup")
IMDB_LABELS = ("neg", "pos")
# a review's path inside the tree: <split>/<folder>/<id>_<rating>.txt
_MEMBER = re.compile(r"(?:^|/)(train|test)/(pos|neg|unsup)/(\d+)_(\d+)\.txt$")


def looks_like_imdb(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is an aclImdb tree (or the folder holding one) or a tar archive."""
    path = Path(path)
    if path.is_dir():
        root = path / "aclImdb" if (path / "aclImdb").is_dir() else path
        return (root / "train" / "pos").is_dir() or (root / "test" / "pos").is_dir()
    return is_archive(path)


def _wanted(splits: Iterable[str]) -> set[tuple[str, str]]:
    wanted = set()
    for split in splits:
        if split not in IMDB_SPLITS:
            raise UserError(f"unknown IMDb split {split!r}; expected one of {IMDB_SPLITS}")
        if split == "unsup":
            wanted.add(("train", "unsup"))
        else:
            wanted.update((split, label) for label in IMDB_LABELS)
    return wanted


def _from_archive(path: Path, wanted: set[tuple[str, str]]) -> Iterable[tuple[str, bytes]]:
    def accept(name: str) -> bool:
        match = _MEMBER.search(name)
        return match is not None and (match[1], match[2]) in wanted

    return iter_tar_files(path, accept)


def _from_tree(path: Path, wanted: set[tuple[str, str]]) -> Iterable[tuple[str, bytes]]:
    root = path / "aclImdb" if (path / "aclImdb").is_dir() else path
    for split, folder in sorted(wanted):
        directory = root / split / folder
        if not directory.is_dir():
            raise UserError(f"{path}: no folder {directory}; expected an aclImdb tree")
        for file in directory.iterdir():
            if _MEMBER.search(file.as_posix()):
                yield file.as_posix(), file.read_bytes()


def read_imdb(
    path: str | os.PathLike[str], splits: Iterable[str] = ("train", "test")
) -> dict[str, LabeledTexts]:
    """Read IMDb reviews from an ``aclImdb`` tree or ``aclImdb_v1.tar.gz``.

    Args:
        path: the tarball, the ``aclImdb`` folder, or the folder that holds it.
        splits: any of ``"train"``, ``"test"`` (labels ``"neg"``/``"pos"``) and ``"unsup"``
            (the 50,000 unlabelled training reviews, label ``None``; left out by default).

    Returns:
        ``{split: LabeledTexts}``, ids like ``"train/pos/123_9"`` (id, then the star rating).
    """
    path = Path(path).expanduser()
    splits = list(splits)
    wanted = _wanted(splits)
    if not path.exists():
        raise UserError(f"no such file or directory: {path} (expected aclImdb or its .tar.gz)")
    if not looks_like_imdb(path):
        raise UserError(
            f"{path}: expected the aclImdb folder (train/pos, train/neg, test/...) "
            "or aclImdb_v1.tar.gz"
        )
    start = time.perf_counter()
    source = _from_tree(path, wanted) if path.is_dir() else _from_archive(path, wanted)
    # (split, folder) -> [(id, rating, text)]
    found: dict[tuple[str, str], list[tuple[int, int, str]]] = {key: [] for key in wanted}
    for name, data in source:
        match = _MEMBER.search(name)
        assert match is not None  # both sources only yield matching names
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise UserError(f"{path}: {name} is not UTF-8 text ({error})") from None
        found[(match[1], match[2])].append((int(match[3]), int(match[4]), text))

    result = {}
    for split in splits:
        folders = ("unsup",) if split == "unsup" else IMDB_LABELS
        source_split = "train" if split == "unsup" else split
        texts, labels, ids = [], [], []
        for folder in folders:
            reviews = sorted(found[(source_split, folder)])
            if not reviews:
                raise UserError(
                    f"{path}: found no reviews in aclImdb/{source_split}/{folder}/; "
                    "expected files named <id>_<rating>.txt"
                )
            label = None if folder == "unsup" else folder
            for review_id, rating, text in reviews:
                texts.append(text)
                labels.append(label)
                ids.append(f"{source_split}/{folder}/{review_id}_{rating}")
        result[split] = LabeledTexts(texts, labels, ids, source=str(path))
    logger.info(
        "read IMDb %s from %s in %.1f s",
        ", ".join(f"{s}: {len(d):,}" for s, d in result.items()),
        path,
        time.perf_counter() - start,
    )
    return result
