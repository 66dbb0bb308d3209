"""A fast streaming reader for the regular files inside a tar archive (plain, gzip, bzip2, xz).

Why not ``tarfile``: reading IMDb's ``aclImdb_v1.tar.gz`` (100,000 members) with
``tarfile.open(path, "r|gz")`` spends most of its time building ``TarInfo`` objects; parsing only
what is needed (name, size, type, checksum) reads the same archive about three times faster, still
in one sequential pass with bounded memory and without unpacking anything to disk. The reader
understands ustar name prefixes, GNU long names (``L``) and POSIX pax headers (``path``, ``size``),
which covers archives written by GNU tar, bsdtar and Python's ``tarfile``.

It is also stricter than ``tarfile``, which takes a corrupt header after the first member for the
end of the archive: every header field it uses is validated (checksum, octal or base-256 numbers,
pax record lengths and sizes), the compressed stream is read to its end so its checksum is
verified, and anything malformed or truncated raises one ``UserError`` naming the file and the
problem, so a hostile archive cannot make it loop, crash or silently drop members.
"""

from __future__ import annotations

import bz2
import lzma
import os
import struct
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from rnnkit.data.files import check_file
from rnnkit.errors import UserError

__all__ = ["is_archive", "iter_tar_files"]

_BLOCK = 512
_ZERO_BLOCK = bytes(_BLOCK)
_REGULAR = (b"0", b"\0", b"7")  # regular file, old-style regular file, contiguous file
_ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
_MAX_METADATA = 8 << 20  # bytes of a pax header or a GNU long name: real ones are tiny
_DECOMPRESSION_ERRORS = (zlib.error, lzma.LZMAError, OSError, EOFError)  # bz2: OSError, EOFError

# magic bytes -> decompressor factory
_COMPRESSIONS: tuple[tuple[bytes, Callable[[], object]], ...] = (
    (b"\x1f\x8b", lambda: zlib.decompressobj(16 + zlib.MAX_WBITS)),
    (b"BZh", bz2.BZ2Decompressor),
    (b"\xfd7zXZ\x00", lzma.LZMADecompressor),
)


def is_archive(path: str | os.PathLike[str]) -> bool:
    """Whether ``path``'s name ends like a tar archive (``.tar``, ``.tar.gz``, ``.tgz``, ...)."""
    return str(path).lower().endswith(_ARCHIVE_SUFFIXES)


class _ArchiveError(Exception):
    pass


class _Buffer:
    """Decompressed bytes of an archive, consumed from the front."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._data = bytearray()
        self._pos = 0
        self.offset = 0  # position in the decompressed stream, for error messages

    def _fill(self, n: int) -> bool:
        while len(self._data) - self._pos < n:
            chunk = next(self._chunks, None)
            if chunk is None:
                return False
            if self._pos > (1 << 22):  # drop consumed bytes now and then
                del self._data[: self._pos]
                self._pos = 0
            self._data += chunk
        return True

    def take(self, n: int, advance: int | None = None) -> bytes | None:
        """Return the next ``n`` bytes and move ``advance`` (default ``n``) bytes on.

        Returns ``None`` at the very end of the stream; a partial read is an error.
        """
        advance = n if advance is None else advance
        if not self._fill(max(n, advance)):
            if len(self._data) > self._pos:
                raise _ArchiveError("truncated archive")
            return None
        data = bytes(self._data[self._pos : self._pos + n])
        self._pos += advance
        self.offset += advance
        return data

    def skip(self, n: int) -> bool:
        """Move ``n`` bytes on without keeping them; False when the stream ends first."""
        buffered = len(self._data) - self._pos
        if n <= buffered:
            self._pos += n
            self.offset += n
            return True
        self._data.clear()
        self._pos = 0
        self.offset += buffered
        n -= buffered
        while n > 0:  # whole chunks pass by, so a huge member never sits in memory
            chunk = next(self._chunks, None)
            if chunk is None:
                return False
            used = min(n, len(chunk))
            self.offset += used
            n -= used
            if used < len(chunk):
                self._data += chunk[used:]
        return True

    def drain(self) -> None:
        """Read the rest of the stream (which verifies a compressed stream's checksum)."""
        self._data.clear()
        self._pos = 0
        for chunk in self._chunks:
            self.offset += len(chunk)


def _chunks(path: Path, chunk_size: int) -> Iterator[bytes]:
    """Decompressed chunks of the file, whatever its compression (judged by magic bytes).

    Concatenated compressed streams (``pigz``, ``pbzip2``, ``cat a.gz b.gz``) are read one after
    the other; zero bytes may pad the end, anything else there is an error.
    """
    with open(path, "rb") as f:
        head = f.read(6)
        f.seek(0)
        found = [(magic, make) for magic, make in _COMPRESSIONS if head.startswith(magic)]
        if not found:
            while chunk := f.read(chunk_size):
                yield chunk
            return
        magic, make = found[0]
        decompressor: Any = make()
        data = f.read(chunk_size)
        while data:
            yield decompressor.decompress(data)
            if not decompressor.eof:
                data = f.read(chunk_size)
                continue
            data = decompressor.unused_data
            while len(data) < len(magic) and (more := f.read(chunk_size)):
                data += more
            if data.startswith(magic):  # another stream follows
                decompressor = make()
            elif data.strip(b"\0") or f.read(chunk_size).strip(b"\0"):
                raise _ArchiveError("unexpected bytes after the end of the compressed stream")
            else:
                return
        if not decompressor.eof:
            raise _ArchiveError("the compressed stream is truncated")


def _nts(field: bytes) -> str:
    """A NUL-terminated header string."""
    return field.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def _number(field: bytes, what: str) -> int:
    """A header number: octal text, or GNU base-256 when the high bit of the first byte is set."""
    if field[0] == 0xFF:
        raise _ArchiveError(f"negative {what} in a header (base-256)")
    if field[0] & 0x80:
        return int.from_bytes(field[1:], "big")
    text = field.split(b"\0", 1)[0].strip(b" ")
    if text.strip(b"01234567"):
        raise _ArchiveError(f"bad number {text!r} as the {what} in a header")
    return int(text, 8) if text else 0


def _check_header(header: bytes) -> None:
    try:
        stored = _number(header[148:156], "checksum")
    except _ArchiveError:
        raise _ArchiveError("bad header checksum") from None
    unsigned = 256 + sum(header[:148]) + sum(header[156:])
    if stored != unsigned:
        signed = 256 + sum(struct.unpack_from("148b8x356b", header))
        if stored != signed:
            raise _ArchiveError("bad header checksum")


def _pax_records(data: bytes) -> dict[str, str]:
    """Parse pax extended-header records: ``"<length> <key>=<value>\\n"``.

    ``<length>`` counts the whole record, its own digits and the newline included.
    """
    records, pos = {}, 0
    while pos < len(data) and data[pos] != 0:
        space = data.find(b" ", pos, pos + 21)  # at most 20 digits
        digits = data[pos:space] if space > pos else data[pos : pos + 12]
        if space <= pos or not digits.isdigit():
            raise _ArchiveError(
                f"pax record length {digits!r} at byte {pos} of a pax header is not a number"
            )
        length, end = int(digits), pos + int(digits)
        shortest = space - pos + 4  # "<digits> k=\n"
        if length < shortest:
            raise _ArchiveError(
                f"pax record of length {length} at byte {pos} of a pax header is too short "
                f"(at least {shortest})"
            )
        if end > len(data):
            raise _ArchiveError(
                f"pax record of length {length} runs past the end of its pax header "
                f"({len(data)} bytes)"
            )
        if data[end - 1] != 0x0A:
            raise _ArchiveError(
                f"pax record at byte {pos} of a pax header does not end with a newline"
            )
        key, equals, value = data[space + 1 : end - 1].partition(b"=")
        if not equals or not key:
            raise _ArchiveError(f"pax record at byte {pos} of a pax header is not key=value")
        try:
            name = key.decode("utf-8")
        except UnicodeDecodeError:
            raise _ArchiveError(f"pax record key {key!r} is not UTF-8") from None
        records[name] = value.decode("utf-8", "surrogateescape")
        pos = end
    return records


def _pax_size(value: str) -> int:
    if not (value.isascii() and value.isdigit()):
        raise _ArchiveError(f"pax size {value!r} is not a byte count")
    return int(value)


def _members(buf: _Buffer) -> Iterator[tuple[str, int, bool]]:
    """Yield ``(name, size, is_regular)`` for each member, leaving its data next in ``buf``."""
    long_name: str | None = None
    pax: dict[str, str] = {}
    first = True
    while True:
        header = buf.take(_BLOCK)
        if header is None and first:
            raise _ArchiveError("the file is empty")
        if header is None or header == _ZERO_BLOCK:
            return
        first = False
        _check_header(header)
        kind = header[156:157]
        name = _nts(header[0:100])
        if header[257:262] == b"ustar":
            prefix = _nts(header[345:500])
            if prefix:
                name = f"{prefix}/{name}"
        size = _number(header[124:136], "size")
        padded = -(-size // _BLOCK) * _BLOCK
        if kind in (b"L", b"x", b"g", b"K"):  # metadata for the next member
            if size > _MAX_METADATA:
                raise _ArchiveError(
                    f"a {size}-byte extended header (type {kind.decode()}) before {name!r}; "
                    f"those hold names and attributes, at most {_MAX_METADATA} bytes"
                )
            data = buf.take(size, padded)
            if data is None:
                raise _ArchiveError("truncated member data")
            if kind == b"L":
                long_name = _nts(data)
            elif kind == b"x":
                pax = _pax_records(data)
            continue
        name = pax.get("path", long_name if long_name is not None else name)
        if "size" in pax:
            size = _pax_size(pax["size"])
            padded = -(-size // _BLOCK) * _BLOCK
        long_name, pax = None, {}
        yield name, size, kind in _REGULAR
        # the caller took the data (and the padding) if it wanted it


def iter_tar_files(
    path: str | os.PathLike[str],
    accept: Callable[[str], bool] | None = None,
    *,
    chunk_size: int = 1 << 20,
) -> Iterator[tuple[str, bytes]]:
    """Yield ``(member name, content)`` for the regular files of a tar archive, in archive order.

    Args:
        path: a ``.tar``, ``.tar.gz``/``.tgz``, ``.tar.bz2`` or ``.tar.xz`` file (the compression
            is recognised from its first bytes, not from its name).
        accept: read only members whose name makes this return True (others are skipped
            without copying their bytes); all regular files when ``None``.
        chunk_size: bytes read from disk at a time.

    Raises:
        UserError: for a missing file or a corrupt or truncated archive.
    """
    path = check_file(path, "tar archive")
    buf = _Buffer(_chunks(path, chunk_size))
    try:
        members = _members(buf)
        for name, size, regular in members:
            padded = -(-size // _BLOCK) * _BLOCK
            if regular and (accept is None or accept(name)):
                data = buf.take(size, padded)
                if data is None:
                    raise _ArchiveError(f"truncated data of {name}")
                yield name, data
            elif not buf.skip(padded):
                raise _ArchiveError(f"truncated data of {name}")
        buf.drain()
    except (_ArchiveError, *_DECOMPRESSION_ERRORS, ValueError) as error:
        problem = (
            str(error)
            if isinstance(error, _ArchiveError)
            else (f"corrupt compressed data ({type(error).__name__}: {error})")
        )
        raise UserError(
            f"{path} is not a valid tar archive: {problem} near byte {buf.offset} of its "
            "contents; expected a complete, uncorrupted .tar, .tar.gz, .tar.bz2 or .tar.xz "
            "file (download it again)"
        ) from None
