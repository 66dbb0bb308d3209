"""Hypothesis fuzzing of every data loader (issue 13): whatever the bytes, names and options,
reading a CSV/TSV table, a text file, a labelled folder tree or a parallel corpus — through the
loader and through the task that reads it — ends in the data or in rnnkit's own ``UserError``,
never another exception.

``TARGETS`` (name -> (strategy, target)) is shared with ``benchmarks/fuzz.py``, which runs the
same targets for many more examples. Here each target runs a few examples (``BRIEF``). Tar archives
have their own fuzz tests (``tests/data/test_archive_hostile.py``).
"""

from __future__ import annotations

import gzip
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnnkit.data.imdb import read_imdb
from rnnkit.data.parallel import load_parallel
from rnnkit.data.resolve import load_dataset
from rnnkit.data.text import read_text_splits
from rnnkit.errors import UserError
from rnnkit.tasks.classify.data import TextData, load_splits
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


# name -> (strategy of examples, the function reading one example in a fresh folder)
TARGETS = {
    "csv/tsv tables": (table_cases(), read_table_case),
    "text files": (text_cases(), read_text_case),
    "labelled and text folders": (folder_cases(), read_folder_case),
    "parallel corpora": (parallel_cases(), read_parallel_case),
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
