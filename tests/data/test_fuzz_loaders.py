"""Hypothesis fuzzing of every data loader (issue 13): whatever the bytes, names and options,
reading a CSV/TSV table, a text file, a labelled folder tree, a parallel corpus, an image, a table
or folder of captioned images, or a time-series CSV — through the loader and through the task
that reads it — ends in the data or in rnnkit's own ``UserError`` (an image that cannot be read:
the documented ``ImageError``, skipped and counted by the decoder), never another exception.
Images and series are real ones mutated (Flickr8k JPEGs and their re-encodings in other modes
and formats, the series of ``$RNNKIT_DATA/timeseries``; synthetic stand-ins without it) or
random bytes.

``TARGETS`` (name -> (strategy, target)) is shared with ``benchmarks/fuzz.py``, which runs the
same targets for many more examples. Here each target runs a few examples (``BRIEF``). Tar archives
have their own fuzz tests (``tests/data/test_archive_hostile.py``).
"""

from __future__ import annotations

import functools
import gzip
import io
import os
import shutil
import tempfile
import zipfile
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnnkit.data.captions import CaptionedImages, read_captions
from rnnkit.data.images import ImageError, cached_images, decode_images, read_image
from rnnkit.data.imdb import read_imdb
from rnnkit.data.parallel import load_parallel
from rnnkit.data.resolve import load_dataset
from rnnkit.data.text import read_text_splits
from rnnkit.data.timeseries import DATE_FORMATS, DUPLICATE_POLICIES, MISSING_POLICIES, read_series
from rnnkit.errors import UserError
from rnnkit.tasks.caption.data import CaptionData, decode_split, load_captions
from rnnkit.tasks.classify.data import TextData, load_splits
from rnnkit.tasks.forecast.data import (
    ForecastData,
    Scaler,
    load_series_source,
    make_splits,
    windows,
)
from rnnkit.tasks.lm.data import LMData, read_corpus
from rnnkit.tasks.translate.data import TranslateData
from rnnkit.tasks.translate.data import load_splits as load_pairs

BRIEF = settings(
    max_examples=12,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)

# -- what the files hold ---------------------------------------------------------------------

_WORDS = st.sampled_from(["text", "label", "a", "good", "bad", "nan", "NaN", "None", "", " ",
                          "é", "\x00", "\ufeff", "\r", "\n", '"', "'", ",", "\t", ";", "|",
                          "0", "1", "-1", "1e400", "x" * 300])  # fmt: skip
_FIELD = st.one_of(_WORDS, st.text(max_size=12))
_PRINTABLE = st.one_of(  # no control characters: a line that reads as text
    st.sampled_from(["a good film", "bad", "so so", "nan", "é", '"quoted, with comma"']),
    st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=12),
)
_SEPARATOR = st.sampled_from([",", "\t", ";", "|", " "])
_LINE_END = st.sampled_from(["\n", "\r\n", "\r", ""])


@st.composite
def _table(draw) -> bytes:
    """A table: rows of fields, quoted or not, joined with a separator (or raw bytes)."""
    if draw(st.integers(0, 4)) == 0:
        return draw(st.binary(max_size=400))
    separator, end = draw(_SEPARATOR), draw(_LINE_END)
    rows = draw(st.lists(st.lists(_FIELD, max_size=5), max_size=12))
    quote = draw(st.booleans())
    lines = [separator.join(f'"{f}"' if quote else f for f in row) for row in rows]
    return _encode(draw, end.join(lines) + draw(st.sampled_from(["", end])))


def _encode(draw, text: str) -> bytes:
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "latin-1", "utf-16"]))
    return text.encode(encoding, errors="replace")


@st.composite
def _text(draw) -> bytes:
    if draw(st.integers(0, 3)) == 0:
        return draw(st.binary(max_size=400))
    lines = draw(st.lists(st.one_of(_WORDS, st.text(max_size=40)), max_size=20))
    return _encode(draw, draw(_LINE_END).join(lines))


def _maybe_gzip(draw, data: bytes) -> tuple[bytes, str]:
    """(data, "") or (its gzip, possibly cut or flipped, ".gz")."""
    if draw(st.integers(0, 2)):
        return data, ""
    packed = bytearray(gzip.compress(data, mtime=0))
    if draw(st.booleans()):  # damaged: a byte flipped, or cut short
        if draw(st.booleans()):
            packed[draw(st.integers(0, len(packed) - 1))] ^= 0xFF
        else:
            packed = packed[: draw(st.integers(0, len(packed) - 1))]
    return bytes(packed), ".gz"


_ENCODING = st.sampled_from([None, "utf-8", "latin-1", "cp1252", "utf-16", "ascii"])
_COLUMN = st.one_of(st.none(), _WORDS, st.integers(-2, 5).map(str))


_LABELS = st.sampled_from(["good", "bad", "neutral", "nan", "NaN", "None", "", "1", "0", " "])


@st.composite
def _labelled_table(draw) -> bytes:
    """A table with a text and a label column (and maybe others): one that often loads."""
    separator, end = draw(st.sampled_from([",", "\t"])), draw(_LINE_END.filter(bool))
    header = draw(st.permutations(["text", "label", *draw(st.lists(_PRINTABLE, max_size=1))]))
    rows = [separator.join(header)]
    for _ in range(draw(st.integers(0, 40))):
        fields = {"text": draw(_PRINTABLE), "label": draw(_LABELS)}
        row = [fields.get(name, draw(_FIELD)) for name in header]
        rows.append(separator.join(f'"{f}"' if draw(st.booleans()) else f for f in row))
    return end.join(rows).encode(draw(st.sampled_from(["utf-8", "utf-8-sig", "latin-1"])),
                                 errors="replace") + end.encode()  # fmt: skip


@st.composite
def table_cases(draw):
    data, gz = _maybe_gzip(draw, draw(st.one_of(_table(), _labelled_table())))
    if draw(st.booleans()):  # the defaults: the file and its extension decide
        suffix = ".tsv" if b"\t" in data.split(b"\n")[0] else ".csv"
        return data, suffix + gz, {"min_freq": 1}
    options = {
        "text_column": draw(_COLUMN),
        "label_column": draw(_COLUMN),
        "encoding": draw(_ENCODING),
        "delimiter": draw(st.one_of(st.none(), _SEPARATOR, st.sampled_from(['"', "\n", "ab"]))),
        "limit": draw(st.one_of(st.none(), st.integers(1, 5))),
        "val_fraction": draw(st.sampled_from([0.1, 0.5, 0.9])),
        "min_freq": 1,
    }
    suffix = draw(st.sampled_from([".csv", ".tsv", ".tab"]))
    return data, suffix + gz, options


@st.composite
def text_cases(draw):
    data, gz = _maybe_gzip(draw, draw(_text()))
    options = {
        "encoding": draw(_ENCODING.map(lambda e: e or "utf-8")),
        "level": draw(st.sampled_from(["char", "word"])),
        "val_fraction": draw(st.sampled_from([0.1, 0.5, 0.9])),
        "test_fraction": draw(st.sampled_from([0.0, 0.05])),
    }
    return data, draw(st.sampled_from([".txt", ".md", ""])) + gz, options


_TREE_PATHS = st.sampled_from([
    "aclImdb/train/pos/0_9.txt", "aclImdb/train/neg/1_2.txt", "aclImdb/test/pos/2_8.txt",
    "aclImdb/test/neg/3_1.txt", "aclImdb/train/unsup/4_0.txt", "aclImdb/train/pos/x.txt",
    "aclImdb/train/pos/sub/5_7.txt", "aclImdb/README", "train.txt", "valid.txt", "test.txt",
    "ptb.train.txt", "ptb.valid.txt", "ptb.test.txt", "a.txt", "b.md", "notes",
])  # fmt: skip


@st.composite
def folder_cases(draw):
    """A folder tree: some of the paths an aclImdb tree or a folder of split texts has."""
    files = draw(st.dictionaries(_TREE_PATHS, _text(), max_size=6))
    empty_dirs = draw(st.lists(st.sampled_from(["aclImdb/train/pos", "aclImdb/test", "x"]),
                               max_size=2))  # fmt: skip
    return files, empty_dirs


_PAIR_NAMES = st.sampled_from(["train.de", "train.en", "val.de", "val.en", "test.de", "test.en",
                               "train.de.gz", "val.en.gz", "train.fr", "x.de"])  # fmt: skip


@st.composite
def parallel_cases(draw):
    """A .tsv of pairs, a PREFIX.de / PREFIX.en pair of files, or a folder of split files."""
    kind = draw(st.sampled_from(["tsv", "prefix", "folder", "aligned"]))
    if kind == "tsv":
        files = {"pairs.tsv": draw(_table())}
    elif kind == "prefix":
        files = {"corpus.de": draw(_text()), "corpus.en": draw(_text())}
    elif kind == "aligned":  # line-aligned splits: the corpus often loads
        kind, files = "folder", {}
        for split in draw(st.lists(st.sampled_from(["train", "val", "test"]), min_size=1,
                                   unique=True)):  # fmt: skip
            n = draw(st.integers(0, 25))
            for lang in ("de", "en"):
                lines = draw(st.lists(_PRINTABLE, min_size=n, max_size=n))
                files[f"{split}.{lang}"] = "\n".join(lines).encode("utf-8", "replace")
    else:
        files = {}
        for name in draw(st.lists(_PAIR_NAMES, max_size=5, unique=True)):
            data, gz = _maybe_gzip(draw, draw(_text()))
            files[name.removesuffix(".gz") + gz] = data
    src, tgt = draw(st.sampled_from([("de", "en"), ("de", "en"), ("en", "de"), ("fr", "en"),
                                     ("de", "de")]))  # fmt: skip
    options = {
        "encoding": draw(_ENCODING.map(lambda e: e or "utf-8")),
        "src": src,
        "tgt": tgt,
        "val_fraction": draw(st.sampled_from([0.05, 0.5, 0.95])),
    }
    return kind, files, options


# -- the targets: each reads one example through the loaders and the tasks that use them -------


def _write(root: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def read_table_case(root: Path, case) -> None:
    data, suffix, options = case
    path = root / f"data{suffix}"
    path.write_bytes(data)
    names = ("text_column", "label_column", "encoding", "delimiter")
    loader_options = {k: options[k] for k in names if options.get(k) is not None}
    load_dataset(str(path), **loader_options)  # the loader alone
    load_splits(TextData(source=str(path), **{k: v for k, v in options.items() if v is not None}))


def read_text_case(root: Path, case) -> None:
    data, suffix, options = case
    path = root / f"corpus{suffix}"
    path.write_bytes(data)
    if suffix.removesuffix(".gz") == ".txt":
        load_dataset(str(path), encoding=options["encoding"])
    read_corpus(LMData(source=str(path), **options))


def read_folder_case(root: Path, case) -> None:
    files, empty_dirs = case
    _write(root, files)
    for name in empty_dirs:
        (root / name).mkdir(parents=True, exist_ok=True)
    accepted, refusal = False, None
    for reader in (
        lambda: read_imdb(root, splits=("train", "test", "unsup")),
        lambda: load_dataset(str(root)),
        lambda: read_text_splits(root),
        lambda: read_corpus(LMData(source=str(root), level="word")),
        lambda: load_splits(TextData(source=str(root), min_freq=1)),
    ):
        try:
            reader()
        except UserError as error:
            refusal = error
        else:
            accepted = True
    if not accepted:
        raise refusal  # every reader refused the folder


def read_parallel_case(root: Path, case) -> None:
    kind, files, options = case
    _write(root, files)
    source = {"tsv": root / "pairs.tsv", "prefix": root / "corpus", "folder": root}[kind]
    try:
        load_parallel(str(source), options["src"], options["tgt"], encoding=options["encoding"],
                      val_fraction=options["val_fraction"])  # fmt: skip
    except UserError:
        pass
    load_pairs(TranslateData(source=str(source), min_freq=1, **options))


# -- images, captioned-image tables and time series (the caption and forecast tasks) -----------


@functools.cache
def _image_seeds() -> tuple[tuple[str, bytes], ...]:
    """(suffix, bytes) of real images to mutate: two Flickr8k JPEGs ($RNNKIT_DATA; a synthetic
    picture without it) and their re-encodings in the modes and formats Pillow meets."""
    from PIL import Image

    data = os.environ.get("RNNKIT_DATA")
    folder = Path(data) / "flickr8k" / "Flicker8k_Dataset" if data else None
    jpegs = sorted(folder.glob("*.jpg"))[:2] if folder and folder.is_dir() else []
    seeds = [(".jpg", path.read_bytes()) for path in jpegs]
    if seeds:
        picture = Image.open(io.BytesIO(seeds[0][1])).convert("RGB")
    else:
        ramp = np.arange(48 * 40 * 3, dtype=np.uint8).reshape(40, 48, 3)
        picture = Image.fromarray(ramp)
    picture = picture.resize((40, 28))  # small: mutated copies decode fast

    def encoded(image, fmt: str, **options) -> bytes:
        buffer = io.BytesIO()
        image.save(buffer, fmt, **options)
        return buffer.getvalue()

    palette = picture.convert("P")
    variants = [
        (".png", encoded(picture, "PNG")),
        (".png", encoded(picture.convert("L"), "PNG")),
        (".png", encoded(picture.convert("LA"), "PNG")),
        (".png", encoded(picture.convert("RGBA"), "PNG")),
        (".png", encoded(palette, "PNG")),
        (".png", encoded(palette, "PNG", transparency=0)),
        (".png", encoded(picture.convert("1"), "PNG")),
        (".png", encoded(picture.convert("I;16"), "PNG")),
        (".tif", encoded(picture.convert("I"), "TIFF")),
        (".jpg", encoded(picture.convert("CMYK"), "JPEG")),
        (".jpg", encoded(picture.convert("L"), "JPEG", progressive=True)),
        (".gif", encoded(palette, "GIF")),
        (".bmp", encoded(picture, "BMP")),
        (".tif", encoded(picture.convert("F"), "TIFF")),
        (".webp", encoded(picture.convert("RGBA"), "WEBP")),
        (".png", encoded(picture.resize((3, 1)), "PNG")),  # a strip: one row of pixels
    ]
    return tuple(seeds + variants)


@st.composite
def _image_bytes(draw) -> tuple[bytes, str]:
    """(bytes, suffix): random bytes, or a real image mutated (bytes set, a cut, bytes put in)."""
    if draw(st.integers(0, 5)) == 0:
        return draw(st.binary(max_size=600)), draw(st.sampled_from([".jpg", ".png", ""]))
    return draw(st.integers(0, 10**6)), draw(_MUTATIONS)  # resolved by _mutated_image


_MUTATIONS = st.tuples(
    st.lists(st.tuples(st.integers(0), st.integers(0, 255)), max_size=6),  # (position, byte)
    st.one_of(st.none(), st.integers(0)),  # cut at
    st.one_of(st.none(), st.tuples(st.integers(0), st.binary(min_size=1, max_size=40))),
)


def _mutate_bytes(data: bytes, mutation) -> bytes:
    changes, cut, insert = mutation
    buffer = bytearray(data)
    for position, value in changes:
        buffer[position % len(buffer)] = value
    if insert is not None:
        at = insert[0] % (len(buffer) + 1)
        buffer[at:at] = insert[1]
    if cut is not None:
        buffer = buffer[: cut % (len(buffer) + 1)]
    return bytes(buffer)


def _image_file(case) -> tuple[bytes, str]:
    data, how = case
    if isinstance(data, bytes):
        return data, how
    seeds = _image_seeds()
    suffix, seed = seeds[data % len(seeds)]
    return _mutate_bytes(seed, how), suffix


@st.composite
def image_cases(draw):
    """A few image files (random or mutated), the size to decode them to, and maybe a damaged
    decoding cache met on the second read."""
    files = draw(st.lists(_image_bytes(), min_size=1, max_size=3))
    size = draw(st.sampled_from([16, 17, 32, 64]))
    cache = draw(st.one_of(st.none(), _MUTATIONS))
    return files, size, cache


def read_image_case(root: Path, case) -> None:
    """Each file alone (an ``ImageError`` with a documented reason, or the pixels), all of them
    through the decoder (the unreadable skipped and counted), the cache (a damaged cache file
    decoded again) and the captioning task's split (a ``UserError`` when none is usable)."""
    files, size, cache = case
    paths = []
    for number, file in enumerate(files):
        data, suffix = _image_file(file)
        paths.append(root / f"image{number}{suffix}")
        paths[-1].write_bytes(data)
    for path in paths:
        try:
            pixels = read_image(path, size)
        except ImageError as error:
            assert error.reason in ("missing", "not an image", "damaged"), error
        else:
            assert pixels.shape == (size, size, 3) and pixels.dtype == np.uint8
    decoded = decode_images(paths, size, verbose=0)
    assert len(decoded.kept) + sum(map(len, decoded.skipped.values())) == len(paths)
    assert decoded.pixels.shape == (len(decoded.kept), 3, size, size)
    if cache is not None:
        cached_images(paths, size, root / "cache", verbose=0)
        (written,) = (root / "cache").glob("*.safetensors")
        written.write_bytes(_mutate_bytes(written.read_bytes(), cache))
        again = cached_images(paths, size, root / "cache", verbose=0)
        assert again.kept == decoded.kept and torch.equal(again.pixels, decoded.pixels)
    images = CaptionedImages(paths, [["a dog runs"]] * len(paths))
    decode_split(images, CaptionData(image_size=size, cache=False), "train", verbose=0)


_IMAGE_NAMES = st.one_of(  # mostly files that are there
    *[st.sampled_from(["a.jpg", "b.png", "c.jpg", "images/a.jpg", "Images/c.jpg"])] * 6,
    st.sampled_from(["a.jpg#1", "missing.jpg", "../a.jpg", "/etc/passwd", "x" * 300, "a\x00.jpg",
                     "", " ", "é.jpg", "sub/", "."]),
)  # fmt: skip
_CAPTIONS = st.one_of(_PRINTABLE, st.sampled_from(["A dog runs .", "", " ", "nan", "a\tb"]))
_TINY_PNG = None


def _tiny_png() -> bytes:
    global _TINY_PNG
    if _TINY_PNG is None:
        _TINY_PNG = next(data for suffix, data in _image_seeds() if suffix == ".png")
    return _TINY_PNG


@st.composite
def _caption_table(draw, name: str) -> bytes:
    """A table of image,caption rows (maybe with other columns; separated as its ``name``
    says, mostly), or any table."""
    if draw(st.integers(0, 3)) == 0:
        return draw(_table())
    separator = "\t" if name.endswith((".tsv", ".tab")) else ","
    separator = draw(st.sampled_from([separator] * 4 + [",", "\t", ";"]))
    end = draw(_LINE_END.filter(bool))
    header = draw(st.permutations(["image", "caption", *draw(st.lists(_PRINTABLE, max_size=1))]))
    rows = [separator.join(header)]
    for _ in range(draw(st.integers(0, 16))):
        fields = {"image": draw(_IMAGE_NAMES), "caption": draw(_CAPTIONS)}
        row = [fields.get(name, draw(_FIELD)) for name in header]
        rows.append(separator.join(f'"{f}"' if draw(st.booleans()) else f for f in row))
    text = end.join(rows) + end
    return text.encode("utf-8") if draw(st.booleans()) else _encode(draw, text)


_FLICKR_LINES = st.one_of(
    st.builds(lambda n, k, c: f"{n}#{k}\t{c}", _IMAGE_NAMES, st.integers(0, 5), _CAPTIONS),
    st.sampled_from(["", "a.jpg", "a.jpg#0", "#0\tA dog .", "a.jpg#0\t", "\ta dog"]),
    st.text(max_size=30),
)  # fmt: skip


@st.composite
def caption_cases(draw):
    """A folder of captioned images: a table beside images (or several tables, or none), or
    Flickr8k's layout (token file, split lists, image folder; maybe its zips, damaged)."""
    files = {"a.jpg": _tiny_png(), "b.png": _tiny_png()}
    for name in draw(st.lists(st.sampled_from(["a.jpg", "b.png", "images/a.jpg", "Images/c.jpg",
                                               "Flicker8k_Dataset/a.jpg", "c.jpg"]),
                              max_size=4, unique=True)):  # fmt: skip
        files[name] = _tiny_png() if draw(st.integers(0, 3)) else draw(st.binary(max_size=30))
    kind = draw(st.sampled_from(["table", "table", "folder", "flickr"]))
    if kind == "flickr":
        text = "Flickr8k_text/" if draw(st.booleans()) else ""
        lines = draw(st.lists(_FLICKR_LINES, max_size=8))
        files[f"{text}Flickr8k.token.txt"] = _encode(draw, "\n".join(lines))
        for split in draw(st.lists(st.sampled_from(["train", "dev", "test"]), unique=True)):
            names = draw(st.lists(_IMAGE_NAMES, max_size=4))
            files[f"{text}Flickr_8k.{split}Images.txt"] = _encode(draw, "\n".join(names))
        if draw(st.booleans()):
            files.setdefault("Flicker8k_Dataset/b.jpg", _tiny_png())
        if draw(st.integers(0, 2)) == 0:
            zipped = io.BytesIO()
            with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED) as archive:
                archive.writestr("Flicker8k_Dataset/z.jpg", _tiny_png())
                archive.writestr(
                    draw(st.sampled_from(["Flickr8k.token.txt", "../evil.txt", "/abs.txt"])),
                    "z.jpg#0\tA cat .\n",
                )
            files["Flickr8k_Dataset.zip"] = _mutate_bytes(zipped.getvalue(), draw(_MUTATIONS))
        source = ""
    else:
        name = draw(st.sampled_from(["captions.csv", "captions.tsv", "captions.txt", "results.csv",
                                     "other.csv", "t.tab"]))  # fmt: skip
        files[name] = draw(_caption_table(name))
        if kind == "folder" and not draw(st.integers(0, 3)):
            files["second.csv"] = draw(_caption_table("second.csv"))
        source = "" if kind == "folder" else name
    options = {}
    if draw(st.booleans()):  # else the defaults
        options = {
            "image_column": draw(st.sampled_from(["image", "image", "caption", "", "x"])),
            "caption_column": draw(st.sampled_from(["caption", "caption", "image", "text"])),
            "encoding": draw(_ENCODING.map(lambda e: e or "utf-8")),
        }
    return files, source, options


def read_caption_case(root: Path, case) -> None:
    """The reader, then the captioning task's splits (a validation cut) and the decoded images
    of its training split."""
    files, source, options = case
    _write(root, files)
    path = root / source
    read_captions(path, **options)
    data = CaptionData(source=str(path), cache=False, image_size=16, **options)
    splits = load_captions(data)
    decode_split(splits["train"], data, "train", verbose=0)


_STAMPS = st.sampled_from(["1949-01", "1949-02", "1949-03", "2017-01-03", "1/3/2017", "03-01-00",
                           "2014-04-01 00:00:00", "2014-04-01 00:05:00", "0001", "1", "9999-12",
                           "2020-02-30", "", "NaN", "date", "1949-01-01T00:00:00Z", "20170103",
                           "31.12.1999", "12/31/99", "2000-01-01 00:00:00.5"])  # fmt: skip
_VALUES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**20), 10**20).map(str),
    st.sampled_from(["", "NA", "nan", "?", "-", "1,657,300", "1,2", "inf", "-inf", "1e400",
                     "0", "-1", "abc", '"1"', " 7 "]),
)  # fmt: skip
_STEPS = st.sampled_from([timedelta(days=1), timedelta(minutes=5), timedelta(hours=1),
                          timedelta(days=31), timedelta(days=7), timedelta(seconds=1)])  # fmt: skip
_FORMATS = st.sampled_from(DATE_FORMATS)


@st.composite
def _series_text(draw) -> str:
    """A CSV of a time column and value columns: regular dates (in a common format, with holes,
    repeats and swaps), stamps of every kind, values of every kind."""
    if draw(st.booleans()):
        header, columns = ["Date", "value"], ["value"]
    else:
        columns = draw(st.lists(st.sampled_from(["value", "Passengers", " Volume", "Close", "a",
                                                 "", "Date"]), min_size=1, max_size=3))  # fmt: skip
        header = [draw(st.sampled_from(["Date", "Month", "timestamp", "t", "value"])), *columns]
    n = draw(st.integers(0, 60))
    if draw(st.booleans()):
        fmt, step = draw(_FORMATS), draw(_STEPS)
        start = datetime(draw(st.integers(1, 9998)), draw(st.integers(1, 12)), 1)
        stamps = []
        for i in range(n):
            try:
                stamps.append((start + i * step).strftime(fmt))
            except (OverflowError, ValueError):
                break
        for _ in range(draw(st.integers(0, 3))):  # holes, repeats, swaps
            if len(stamps) > 2:
                i = draw(st.integers(0, len(stamps) - 2))
                action = draw(st.sampled_from(["hole", "repeat", "swap"]))
                if action == "hole":
                    del stamps[i]
                elif action == "repeat":
                    stamps.insert(i, stamps[i])
                else:
                    stamps[i], stamps[i + 1] = stamps[i + 1], stamps[i]
    else:
        stamps = draw(st.lists(_STAMPS, max_size=n, min_size=n))
    numeric = st.one_of(*[st.floats(-1e6, 1e6, allow_nan=False).map(lambda v: f"{v:.3f}")] * 6,
                        _VALUES)  # fmt: skip
    separator = draw(st.sampled_from([",", ",", "\t", ";"]))
    lines = [separator.join(header)]
    for stamp in stamps:
        cells = [stamp, *(draw(numeric) for _ in columns)]
        if not draw(st.integers(0, 20)):  # a short or long row
            cells = cells[: draw(st.integers(1, 6))] + [""] * draw(st.integers(0, 1))
        lines.append(separator.join(f'"{c}"' if draw(st.booleans()) else c for c in cells))
    return draw(_LINE_END.filter(bool)).join(lines) + "\n"


# the real series and the target each is read with
_SERIES_FILES = {"airline-passengers.csv": None, "daily-min-temperatures.csv": None,
                 "sp500.csv": "Close", "Google_Stock_Price_Train.csv": "Open",
                 "Google_Stock_Price_Test.csv": "Volume"}  # fmt: skip
_FEW_MUTATIONS = st.tuples(  # a real series mostly kept: a few bytes set, rarely a cut
    st.lists(st.tuples(st.integers(0), st.integers(0, 255)), max_size=3),
    st.sampled_from([None, None, None, None]) | st.integers(0),
    st.sampled_from([None, None]) | st.tuples(st.integers(0), st.binary(min_size=1, max_size=9)),
)


@functools.cache
def _real_series(index: int) -> bytes | None:
    """The first 300 lines of a real series of $RNNKIT_DATA/timeseries (None without it)."""
    data = os.environ.get("RNNKIT_DATA")
    path = Path(data or "/nonexistent") / "timeseries" / list(_SERIES_FILES)[index]
    if not path.is_file():
        return None
    return b"".join(path.read_bytes().splitlines(keepends=True)[:300])


@st.composite
def series_cases(draw):
    """A series file (random CSV text, random bytes, or a real series mutated: bytes set, lines
    dropped, repeated or swapped, a cut) and the reader's and the forecaster's options."""
    kind = draw(st.sampled_from(["text", "text", "real", "real", "bytes"]))
    if kind == "text":
        data = _encode(draw, draw(_series_text()))
    elif kind == "bytes":
        data = draw(st.binary(max_size=400))
    else:
        lines = draw(st.lists(st.tuples(st.integers(0, 10**6), st.sampled_from(
            ["drop", "repeat", "swap", "blank"])), max_size=4))  # fmt: skip
        data = (draw(st.integers(0, len(_SERIES_FILES) - 1)), lines, draw(_FEW_MUTATIONS))
    if draw(st.booleans()):  # the defaults: the file decides (a real one: its target)
        target = list(_SERIES_FILES.values())[data[0]] if kind == "real" else None
        options = {"target": target, "missing": draw(st.sampled_from(MISSING_POLICIES)),
                   "duplicates": draw(st.sampled_from(["mean", "last", "refuse"]))}  # fmt: skip
    else:
        options = _series_options(draw)
    windows = {
        "input_length": draw(st.integers(1, 6)),
        "horizon": draw(st.integers(1, 3)),
        "transform": draw(st.sampled_from(["none", "log", "diff", "log-diff"])),
        "scale": draw(st.sampled_from(["standard", "minmax", "none"])),
        "test_size": draw(st.one_of(st.none(), st.integers(1, 30))),
    }
    suffix = draw(st.sampled_from([".csv", ".csv", ".tsv", ".txt"]))
    return data, suffix + draw(st.sampled_from(["", "", ".gz"])), options, windows


def _series_options(draw) -> dict:
    """The reader's options, any of them."""
    return {
        "time_column": draw(st.sampled_from([None, None, "Date", "Month", "Temp", "x"])),
        "target": draw(
            st.sampled_from(
                [None, None, "Close", "Passengers", "Temp", "Volume", "Open,High", "value", "Date"]
            )
        ),  # fmt: skip
        "features": draw(st.sampled_from([None, None, "Volume", "Open", "Date", "nope"])),
        "date_format": draw(
            st.one_of(
                st.none(), st.none(), _FORMATS, st.sampled_from(["%Q", "%", "%Y-%m-%d %H", "abc"])
            )
        ),
        "missing": draw(st.sampled_from(MISSING_POLICIES)),
        "duplicates": draw(st.sampled_from(DUPLICATE_POLICIES)),
        "encoding": draw(_ENCODING.map(lambda e: e or "utf-8")),
        "delimiter": draw(st.sampled_from([None, None, ",", "\t", ";"])),
    }


def _series_bytes(data) -> bytes:
    if isinstance(data, bytes):
        return data
    index, line_changes, mutation = data
    lines = (_real_series(index) or b"Date,value\n2000-01-01,1\n").splitlines(keepends=True)
    for pick, action in line_changes:
        i = pick % len(lines)
        if action == "drop":
            del lines[i]
        elif action == "repeat":
            lines.insert(i, lines[i])
        elif action == "swap" and i + 1 < len(lines):
            lines[i], lines[i + 1] = lines[i + 1], lines[i]
        elif action == "blank":
            lines[i] = b"\n"
        if not lines:
            lines = [b"\n"]
    return _mutate_bytes(b"".join(lines), mutation)


def read_series_case(root: Path, case) -> None:
    """The reader, then the forecaster's data pipeline: the splits, the scaler fitted on the
    training part, the transformed targets and the windows."""
    data, suffix, options, cut = case
    raw = _series_bytes(data)
    path = root / f"series{suffix}"
    path.write_bytes(gzip.compress(raw, mtime=0) if suffix.endswith(".gz") else raw)
    given = {k: v for k, v in options.items() if v is not None}
    series = read_series(path, **given)
    assert np.isfinite(series.targets).all() and np.isfinite(series.features).all()
    assert len(series.times or series.targets) == len(series.targets)
    settings = ForecastData(source=str(path), **given, **cut)
    splits = make_splits(load_series_source(settings), settings)
    scaler = Scaler.fit(splits.series, splits.val_start, settings.transform, settings.scale)
    z, covariates = scaler.targets(splits.series.targets), scaler.features(splits.series.features)
    for name in ("train", "val", "test"):
        windows(z, covariates, splits.origins(name, settings.horizon), settings.input_length,
                settings.horizon)  # fmt: skip


# name -> (strategy of examples, the function reading one example in a fresh folder)
TARGETS = {
    "csv/tsv tables": (table_cases(), read_table_case),
    "text files": (text_cases(), read_text_case),
    "labelled and text folders": (folder_cases(), read_folder_case),
    "parallel corpora": (parallel_cases(), read_parallel_case),
    "images": (image_cases(), read_image_case),
    "captioned images": (caption_cases(), read_caption_case),
    "time series": (series_cases(), read_series_case),
}


def run_case(target, case) -> str:
    """Read one example in a fresh temporary folder: "ok" or "user error"; any other exception
    propagates."""
    root = Path(tempfile.mkdtemp(prefix="rnnkit-fuzz-"))
    try:
        target(root, case)
        return "ok"
    except UserError:
        return "user error"
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.parametrize("name", list(TARGETS))
def test_loaders_raise_only_user_errors(name, monkeypatch):
    monkeypatch.setenv("RNNKIT_OFFLINE", "1")
    strategy, target = TARGETS[name]

    @BRIEF
    @given(case=strategy)
    def check(case):
        run_case(target, case)

    check()


def test_what_the_fuzzing_found_is_refused_or_read(tmp_path, caplog):
    """Regressions from the image, caption and series targets: a time of year 1 (was a
    ValueError from ``datetime.timestamp``), an infinite value (was read), times that leave
    billions of steps to fill (was a MemoryError), a file name too long for the file system (was
    an OSError), a cache file with a changed pixel (was trusted)."""
    path = tmp_path / "s.csv"
    path.write_text("Date,value\n0001-01-02,1\n0001-01-01,2\n0001-01-03,3\n", encoding="utf-8")
    assert read_series(path).targets[:, 0].tolist() == [2, 1, 3]
    path.write_text("Date,value\n2000-01-01,1\n2000-01-02,1e400\n", encoding="utf-8")
    with pytest.raises(UserError, match="line 3: column 'value' has '1e400', an infinite value"):
        read_series(path)
    stamps = ["2000-01-01 00:00:00", "2000-01-01 00:00:01", "2000-01-01 00:00:02",
              "2090-01-01 00:00:00"]  # fmt: skip
    path.write_text("Date,value\n" + "".join(f"{s},1\n" for s in stamps), encoding="utf-8")
    with pytest.raises(UserError, match="time steps missing, too many to fill"):
        read_series(path)

    table = tmp_path / "captions.csv"
    table.write_text(f"image,caption\n{'x' * 300}.jpg,a dog\n", encoding="utf-8")
    (found,) = read_captions(table)["train"].paths
    with pytest.raises(ImageError, match="missing"):
        read_image(found, 16)

    picture = tmp_path / "a.png"
    picture.write_bytes(_tiny_png())
    first = cached_images([picture], 16, tmp_path / "cache", verbose=0)
    (cache,) = (tmp_path / "cache").glob("*.safetensors")
    damaged = bytearray(cache.read_bytes())
    damaged[-1] ^= 0xFF  # the last pixel's byte
    cache.write_bytes(bytes(damaged))
    again = cached_images([picture], 16, tmp_path / "cache", verbose=0)
    assert torch.equal(again.pixels, first.pixels) and "ignoring the damaged image" in caplog.text
