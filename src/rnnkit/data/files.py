"""File helpers for the data pipeline: atomic writes, decoding with clear errors, JSON, hashes.

Writes go through :mod:`rnnkit.atomic` (re-exported here for the data modules), so a crash or
an interrupt never leaves a half-written file behind.
Every text file rnnkit reads goes through :func:`decode_bytes`, whose error names the file, the
line and the ``--encoding`` option instead of showing a bare ``UnicodeDecodeError``.
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import io
import json
import os
import zlib
from pathlib import Path
from typing import Any

from rnnkit.atomic import atomic_path, atomic_write_bytes, atomic_write_text
from rnnkit.atomic import atomic_write_json as write_json
from rnnkit.errors import UserError

__all__ = [
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "check_file",
    "decode_bytes",
    "read_bytes",
    "read_json",
    "read_text_file",
    "sha256_file",
    "skipped_summary",
    "write_json",
]


def read_json(path: str | os.PathLike[str], what: str) -> Any:
    """Read a JSON file, raising ``UserError`` naming ``what`` the file should hold on failure."""
    path = check_file(path, what)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UserError(
            f"{path}: expected a {what} JSON file, got invalid JSON ({error})"
        ) from None


def check_file(path: str | os.PathLike[str], what: str = "file") -> Path:
    """Return ``path`` as a ``Path`` if it is an existing file, else raise a clear ``UserError``."""
    path = Path(path).expanduser()
    if not path.exists():
        raise UserError(f"no such file: {path} (expected a {what})")
    if path.is_dir():
        raise UserError(f"expected a {what}, got a directory: {path}")
    return path


MAX_DECOMPRESSED = 1 << 30  # a .gz file may hold at most 1 GiB: a gzip bomb stops here


def read_bytes(path: str | os.PathLike[str], what: str = "file") -> bytes:
    """Read a whole file, decompressing it first when its name ends in ``.gz`` (at most
    ``MAX_DECOMPRESSED`` bytes: a decompression bomb ends in a UserError, not out of memory)."""
    path = check_file(path, what)
    data = path.read_bytes()
    if path.suffix == ".gz":
        try:
            if not data:
                raise EOFError("the file is empty")
            with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
                data = stream.read(MAX_DECOMPRESSED + 1)
        except (OSError, EOFError, zlib.error) as error:  # BadGzipFile is an OSError
            raise UserError(f"{path}: expected a gzip file, got a corrupt one ({error})") from None
        if len(data) > MAX_DECOMPRESSED:
            raise UserError(
                f"{path} decompresses to more than {MAX_DECOMPRESSED:,} bytes; expected a "
                "smaller file (decompress it yourself to read a larger one as plain text)"
            )
    return data


BINARY_PROBE = 8192  # bytes looked at for NULs before decoding


def decode_bytes(data: bytes, encoding: str, source: str | os.PathLike[str]) -> str:
    """Decode ``data`` read from ``source``; undecodable bytes raise a ``UserError``.

    The error names the file, the line number and the ``--encoding`` option. A UTF-8 byte-order
    mark is dropped (spreadsheet programs write one). Binary files (images, archives, models:
    NUL bytes near the start) are refused even by encodings that decode any byte (latin-1).
    """
    try:
        codec = codecs.lookup(encoding).name
    except LookupError:
        raise UserError(
            f"unknown encoding {encoding!r}; expected a Python codec name such as "
            "utf-8, latin-1 or cp1252"
        ) from None
    if codec == "utf-8":
        encoding = "utf-8-sig"
    if not codec.startswith(("utf-16", "utf-32")) and b"\x00" in data[:BINARY_PROBE]:
        raise UserError(
            f"{source} looks like a binary file (it holds NUL bytes, as images, archives and "
            "model weights do); expected a text file"
        )
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        byte = data[error.start]
        raise UserError(
            f"{source}: cannot decode byte 0x{byte:02x} on line {line} as {codec}; "
            "pass the file's encoding with --encoding (for example --encoding latin-1)"
        ) from None


def read_text_file(
    path: str | os.PathLike[str],
    encoding: str = "utf-8",
    *,
    universal_newlines: bool = True,
    what: str = "text file",
) -> str:
    """Read and decode a text file (``.gz`` files are decompressed first).

    Args:
        path: the file.
        encoding: its encoding; undecodable bytes raise a ``UserError`` naming the line.
        universal_newlines: turn ``\\r\\n`` and ``\\r`` line ends into ``\\n``.
        what: what the file should be, for error messages.
    """
    path = Path(path).expanduser()
    text = decode_bytes(read_bytes(path, what), encoding, path)
    if universal_newlines and "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def sha256_file(path: str | os.PathLike[str], chunk_size: int = 1 << 20) -> str:
    """Return the hex SHA-256 digest of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def skipped_summary(read: int, total: int, done: str, skipped: dict[str, list[str]]) -> str:
    """One line for a batch of files: how many of ``total`` were ``done`` ("images decoded")
    and which were skipped, by reason (reason -> the files), with one file named for each."""
    line = f"{read:,} of {total:,} {done}"
    if skipped:
        reasons = ", ".join(
            f"{len(files)} {reason} (e.g. {Path(files[0]).name})"
            for reason, files in sorted(skipped.items())
        )
        line += f"; skipped {reasons}"
    return line
