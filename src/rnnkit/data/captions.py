"""Captioned images: which image files carry which captions, by split (the pixels are read by
:mod:`rnnkit.data.images`).

Two layouts:

* Flickr8k as released (:func:`read_flickr8k`): ``Flicker8k_Dataset/*.jpg`` (the release's
  spelling; ``Flickr8k_Dataset`` is accepted too) and ``Flickr8k_text/`` with
  ``Flickr8k.token.txt`` (``<image>#<n><TAB><caption>``, five captions an image) and the split
  lists ``Flickr_8k.{train,dev,test}Images.txt`` (6,000 / 1,000 / 1,000 images; "dev" is the
  validation split). A folder holding the two release zips is unpacked beside them first.
* A table of ``image,caption`` rows (:func:`read_caption_table`): a .csv, .tsv or .txt (with a
  header naming the columns; several rows per image), or a folder holding one such file
  (``captions.csv``, ``captions.txt``, ...). Image paths are relative to the table's folder or
  to an ``images``/``Images`` folder beside it. Such data has one split, "train".

Files listed but absent stay in the listing: decoding counts them as missing.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

from rnnkit.data.files import read_text_file
from rnnkit.errors import UserError

__all__ = ["CaptionedImages", "read_caption_table", "read_captions", "read_flickr8k"]

logger = logging.getLogger(__name__)

FLICKR8K_IMAGES = ("Flicker8k_Dataset", "Flickr8k_Dataset")
FLICKR8K_TEXT = "Flickr8k_text"
FLICKR8K_SPLITS = {"train": "trainImages", "val": "devImages", "test": "testImages"}
TABLE_NAMES = ("captions.csv", "captions.tsv", "captions.txt", "results.csv")
IMAGE_FOLDERS = ("images", "Images")


@dataclass
class CaptionedImages:
    """Images and their captions: ``captions[i]`` are the captions of ``paths[i]``."""

    paths: list[Path]
    captions: list[list[str]]

    def __len__(self) -> int:
        return len(self.paths)

    def take(self, indices: list[int]) -> CaptionedImages:
        return CaptionedImages([self.paths[i] for i in indices],
                               [self.captions[i] for i in indices])  # fmt: skip

    @property
    def caption_count(self) -> int:
        return sum(len(c) for c in self.captions)


def _group(rows: list[tuple[Path, str]]) -> CaptionedImages:
    """(image, caption) rows -> one entry per image, in first-seen order."""
    by_image: dict[Path, list[str]] = {}
    for path, caption in rows:
        by_image.setdefault(path, []).append(caption)
    return CaptionedImages(list(by_image), list(by_image.values()))


def _unpack_release_zips(folder: Path) -> None:
    """Unpack ``Flickr8k_Dataset.zip`` / ``Flickr8k_text.zip`` in ``folder`` (a download)."""
    for name, inside in (("Flickr8k_Dataset.zip", FLICKR8K_IMAGES), ("Flickr8k_text.zip", None)):
        archive = folder / name
        done = (
            any((folder / d).is_dir() for d in inside)
            if inside
            else (folder / FLICKR8K_TEXT / "Flickr8k.token.txt").is_file()
            or (folder / "Flickr8k.token.txt").is_file()
        )
        if archive.is_file() and not done:
            logger.info("unpacking %s", archive)
            try:
                with zipfile.ZipFile(archive) as z:
                    root = folder.resolve()
                    for member in z.namelist():  # no member may land outside the folder
                        if not (folder / member).resolve().is_relative_to(root):
                            raise UserError(f"{archive}: member {member!r} points outside")
                    z.extractall(folder)
            except zipfile.BadZipFile as error:
                raise UserError(f"{archive} is not a readable zip ({error}); delete it and "
                                "download it again") from None  # fmt: skip


def read_flickr8k(path: str | os.PathLike[str]) -> dict[str, CaptionedImages]:
    """The Flickr8k release in ``path`` (see the module docstring) as ``{"train", "val",
    "test"}``."""
    folder = Path(path)
    _unpack_release_zips(folder)
    images = next((folder / d for d in FLICKR8K_IMAGES if (folder / d).is_dir()), None)
    text = folder / FLICKR8K_TEXT if (folder / FLICKR8K_TEXT).is_dir() else folder
    token_file = text / "Flickr8k.token.txt"
    if images is None or not token_file.is_file():
        raise UserError(
            f"{folder}: expected the Flickr8k release: a Flicker8k_Dataset/ folder of .jpg files "
            "and Flickr8k_text/Flickr8k.token.txt with the split lists"
        )
    captions: dict[str, list[str]] = {}
    for number, line in enumerate(read_text_file(token_file).splitlines(), 1):
        if not line.strip():
            continue
        key, _, caption = line.partition("\t")
        name = key.split("#", 1)[0].strip()
        if not caption.strip() or not name:
            raise UserError(f"{token_file}, line {number}: expected '<image>#<n><TAB><caption>'")
        captions.setdefault(name, []).append(caption.strip())
    splits = {}
    for split, stem in FLICKR8K_SPLITS.items():
        listing = text / f"Flickr_8k.{stem}.txt"
        if not listing.is_file():
            raise UserError(f"{folder}: missing the split list {listing.name}")
        names = [n.strip() for n in read_text_file(listing).splitlines() if n.strip()]
        without = [n for n in names if n not in captions]
        if without:
            logger.warning("%s: %d image(s) have no caption, e.g. %s; left out", listing.name,
                           len(without), without[0])  # fmt: skip
        names = [n for n in names if n in captions]
        splits[split] = CaptionedImages([images / n for n in names], [captions[n] for n in names])
    return splits


def _table_file(folder: Path) -> Path:
    found = [folder / n for n in TABLE_NAMES if (folder / n).is_file()]
    if not found:
        found = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".csv", ".tsv"))
    if len(found) != 1:
        raise UserError(
            f"{folder}: expected one table of image,caption rows (e.g. captions.csv) beside the "
            f"images, found {len(found) or 'none'}"
            + (f": {', '.join(p.name for p in found)}" if found else "")
        )
    return found[0]


def read_caption_table(
    path: str | os.PathLike[str],
    *,
    image_column: str = "image",
    caption_column: str = "caption",
    encoding: str = "utf-8",
) -> dict[str, CaptionedImages]:
    """``{"train": ...}`` from a table of image,caption rows (a file, or a folder with one)."""
    table = Path(path)
    if table.is_dir():
        table = _table_file(table)
    text = read_text_file(table, encoding=encoding)
    delimiter = "\t" if table.suffix.lower() in (".tsv", ".tab") else ","
    if table.suffix.lower() == ".txt":  # Kaggle's captions.txt is a CSV; a .txt may be either
        header = text.split("\n", 1)[0]
        delimiter = "\t" if header.count("\t") > header.count(",") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header = [h.strip() for h in next(reader, [])]
    missing = [c for c in (image_column, caption_column) if c not in header]
    if missing:  # a header of one column may be any file's first line: not quoted
        got = f"got {header}" if len(header) > 1 else f"found no {delimiter!r}-separated header"
        raise UserError(
            f"{table}: expected the columns {image_column!r} and {caption_column!r} (set "
            f"image_column / caption_column), {got}"
        )
    i, c = header.index(image_column), header.index(caption_column)
    base = table.parent
    roots = [base, *(base / d for d in IMAGE_FOLDERS if (base / d).is_dir())]
    rows = []
    for number, row in enumerate(reader, 2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) <= max(i, c):
            raise UserError(f"{table}, row {number}: expected {len(header)} columns, got "
                            f"{len(row)}")  # fmt: skip
        name, caption = row[i].strip(), row[c].strip()
        if not name or not caption:
            continue
        image = Path(name)
        if not image.is_absolute():
            image = next((r / name for r in roots if _exists(r / name)), base / name)
        rows.append((image, caption))
    if not rows:
        raise UserError(f"{table}: no image,caption rows; expected at least one")
    return {"train": _group(rows)}


def _exists(path: Path) -> bool:
    """Whether ``path`` exists; a name the file system refuses (too long) does not."""
    try:
        return path.exists()
    except OSError:
        return False


def read_captions(path: str | os.PathLike[str], **options) -> dict[str, CaptionedImages]:
    """Flickr8k's layout when ``path`` holds it, else a table of image,caption rows."""
    folder = Path(path)
    if folder.is_dir() and (
        any((folder / d).is_dir() for d in FLICKR8K_IMAGES)
        or (folder / "Flickr8k_Dataset.zip").is_file()
    ):
        return read_flickr8k(folder)
    return read_caption_table(folder, **options)
