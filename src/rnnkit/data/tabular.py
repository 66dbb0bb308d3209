"""Text classification data from any CSV/TSV file with a text column and a label column.

The delimiter comes from the extension (``.csv`` comma, ``.tsv``/``.tab`` tab) or is sniffed from
the first lines; quoted fields may span lines; CRLF and LF both work; a UTF-8 byte-order mark is
ignored. Every problem a user can fix is a ``UserError`` naming the file (and the line): a missing
or empty file, undecodable bytes (with the ``--encoding`` option to fix it), a column that does not
exist (with the available ones), a row with too few fields, an empty text or label (``on_empty``).
Labels are kept as the stripped strings found in the file.
"""

from __future__ import annotations

import csv
import io
import logging
import os
from pathlib import Path

from rnnkit.data.examples import LabeledTexts
from rnnkit.data.files import decode_bytes, read_bytes
from rnnkit.errors import UserError

__all__ = [
    "EMPTY_POLICIES",
    "detect_delimiter",
    "load_csv_dataset",
    "read_labeled_csv",
    "read_table",
    "read_text_column",
]

logger = logging.getLogger(__name__)

EMPTY_POLICIES = ("skip", "error")
# extension -> delimiter; anything else is sniffed
_DELIMITERS = {".csv": ",", ".tsv": "\t", ".tab": "\t"}
_SNIFFED = ",\t;|"


def detect_delimiter(path: str | os.PathLike[str], text: str) -> str:
    """The delimiter for ``path``: from its extension, else sniffed from the start of ``text``."""
    suffix = Path(path).suffix.lower()
    if suffix in _DELIMITERS:
        return _DELIMITERS[suffix]
    sample = "\n".join(text.splitlines()[:20])
    try:
        return csv.Sniffer().sniff(sample, delimiters=_SNIFFED).delimiter
    except csv.Error:
        raise UserError(
            f"{path}: cannot tell the delimiter of this file; expected a .csv or .tsv file, "
            "or pass the delimiter with --delimiter"
        ) from None


def _column_index(
    column: str | int, header: list[str] | None, width: int, path: Path, option: str
) -> int:
    if isinstance(column, int):
        if not 0 <= column < width:
            raise UserError(
                f"{path}: column index {column} (from {option}) is out of range; "
                f"expected 0..{width - 1}"
            )
        return column
    if header is None:
        raise UserError(
            f"{path}: column {column!r} (from {option}) needs a header row; "
            "pass a column number instead"
        )
    if column in header:
        return header.index(column)
    hint = ""
    if len(header) == 1 and any(d in header[0] for d in _SNIFFED):
        hint = " (is the delimiter right? pass it with --delimiter)"
    raise UserError(
        f"{path}: no column {column!r} (from {option}); available columns: "
        f"{', '.join(repr(h) for h in header)}{hint}"
    )


def read_table(
    path: Path, *, delimiter: str | None = None, encoding: str = "utf-8"
) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """(the first row, [(line number, fields), ...] of the other rows) of a CSV/TSV file; quoted
    fields may span lines (the line number is where a record starts)."""
    if delimiter is not None and (
        not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in '"\r\n'
    ):
        raise UserError(
            f"delimiter must be one character other than a quote or a line end, got {delimiter!r}"
        )
    text = decode_bytes(read_bytes(path, "CSV/TSV file"), encoding, path)
    if not text.strip():
        raise UserError(f"{path}: the file is empty; expected a header row and data rows")
    delimiter = delimiter or detect_delimiter(
        path.with_suffix("") if path.suffix == ".gz" else path, text
    )
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows = []
    try:
        first = next(reader)
        line = reader.line_num
        for row in reader:
            rows.append((line + 1, row))  # the line the record starts on
            line = reader.line_num
    except csv.Error as error:
        raise UserError(f"{path}, line {reader.line_num}: malformed CSV ({error})") from None
    return first, rows


def read_text_column(
    path: str | os.PathLike[str],
    column: str | int,
    *,
    delimiter: str | None = None,
    encoding: str = "utf-8",
) -> tuple[list[str], list[list[str]], list[str]]:
    """(header, rows, texts) of a CSV/TSV file with a header: every row and its ``column``."""
    path = Path(path).expanduser()
    header, rows = read_table(path, delimiter=delimiter, encoding=encoding)
    names = [name.strip() for name in header]
    index = _column_index(column, names, len(header), path, "--text-column")
    kept = [row for _, row in rows if row]
    short = next((line for line, row in rows if row and len(row) <= index), None)
    if short is not None:
        raise UserError(f"{path}, line {short}: expected at least {index + 1} fields")
    if not kept:
        raise UserError(f"{path}: no data rows; expected a header row and at least one row")
    return names, kept, [row[index] for row in kept]


def read_labeled_csv(
    path: str | os.PathLike[str],
    *,
    text_column: str | int = "text",
    label_column: str | int = "label",
    delimiter: str | None = None,
    encoding: str = "utf-8",
    header: bool = True,
    on_empty: str = "skip",
) -> LabeledTexts:
    """Read texts and labels from a CSV/TSV file.

    Args:
        path: the file (``.gz`` compressed files are read too).
        text_column: the text column's name in the header, or its 0-based number.
        label_column: the label column's name in the header, or its 0-based number.
        delimiter: the field delimiter; by default from the extension, else sniffed.
        encoding: the file's encoding (e.g. ``"latin-1"``, ``"cp1252"``).
        header: whether the first row names the columns.
        on_empty: what to do with a row whose text or label is empty or blank:
            ``"skip"`` it (counted in a warning) or raise an ``"error"``.

    Returns:
        ``LabeledTexts`` with ids ``"<file name>:<line>"``.
    """
    if on_empty not in EMPTY_POLICIES:
        raise UserError(f"on_empty must be one of {', '.join(EMPTY_POLICIES)}, got {on_empty!r}")
    path = Path(path).expanduser()
    first, rows = read_table(path, delimiter=delimiter, encoding=encoding)
    names = [name.strip() for name in first] if header else None
    ti = _column_index(text_column, names, len(first), path, "--text-column")
    li = _column_index(label_column, names, len(first), path, "--label-column")
    if not header:
        rows = [(1, first), *rows]

    texts, labels, ids, skipped = [], [], [], 0
    needed = max(ti, li) + 1
    for line, row in rows:
        if not row:  # a blank line
            continue
        if len(row) < needed:
            raise UserError(
                f"{path}, line {line}: expected at least {needed} fields, got {len(row)}"
            )
        row_text, row_label = row[ti], row[li].strip()
        if not row_text.strip() or not row_label:
            if on_empty == "error":
                what = "text" if not row_text.strip() else "label"
                raise UserError(
                    f"{path}, line {line}: empty {what}; expected every row to have one, "
                    "or pass --on-empty skip to drop such rows"
                )
            skipped += 1
            continue
        texts.append(row_text)
        labels.append(row_label)
        ids.append(f"{path.name}:{line}")
    if skipped:
        logger.warning("%s: skipped %d row(s) with an empty text or label", path, skipped)
    if not texts:
        raise UserError(f"{path}: no data rows with a text and a label; expected at least one")
    logger.info("read %s rows from %s", f"{len(texts):,}", path)
    return LabeledTexts(texts, labels, ids, source=str(path))


def load_csv_dataset(path: str | os.PathLike[str], **options) -> dict[str, LabeledTexts]:
    """:func:`read_labeled_csv` as a one-split dataset: ``{"train": LabeledTexts}``.

    A single file has no test split; the task cuts its test and validation splits from it.
    """
    return {"train": read_labeled_csv(path, **options)}
