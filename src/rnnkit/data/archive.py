"""A fast streaming reader for the regular files inside a tar archive (plain, gzip, bzip2, xz).

Why not ``tarfile``: reading IMDb's ``aclImdb_v1.tar.gz`` (100,000 members) with
``tarfile.open(path, "r|gz")`` spends most of its time building ``TarInfo`` objects; parsing only
what is needed (name, size, type, checksum) reads the same archive about three times faster, still
in one sequential pass with bounded memory and without unpacking anything to disk. The reader
understands ustar name prefixes, GNU long names (``L``) and POSIX pax headers (``path``, ``size``),
which covers archives written by GNU tar, bsdtar and Python's ``tarfile``.
"""

from __future__ import annotations

import bz2
import lzma
import os
import struct
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

from rnnkit.data.files import check_file
from rnnkit.errors import UserError

__all__ = ["is_archive", "iter_tar_files"]

_BLOCK = 512
_ZERO_BLOCK = bytes(_BLOCK)
_REGULAR = (b"0", b"\0", b"7")  # regular file, old-style regular file, contiguous file
_ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")

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
        if not self._fill(n):
            return False
        self._pos += n
        self.offset += n
        return True


def _chunks(path: Path, chunk_size: int) -> Iterator[bytes]:
    """Decompressed chunks of the file, whatever its compression (judged by magic bytes)."""
    with open(path, "rb") as f:
        head = f.read(6)
        f.seek(0)
        make = next((factory for magic, factory in _COMPRESSIONS if head.startswith(magic)), None)
        if make is None:
            while chunk := f.read(chunk_size):
                yield chunk
            return
        decompressor = make()
        while chunk := f.read(chunk_size):
            yield decompressor.decompress(chunk)  # type: ignore[attr-defined]
            if decompressor.eof:  # type: ignore[attr-defined]
                return
        if hasattr(decompressor, "flush"):
            yield decompressor.flush()
        if not decompressor.eof:  # type: ignore[attr-defined]
            raise _ArchiveError("the compressed stream is truncated")


def _nts(field: bytes) -> str:
    """A NUL-terminated header string."""
    return field.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def _number(field: bytes) -> int:
    """A header number: octal text, or GNU base-256 when the high bit of the first byte is set."""
    if field[0] & 0x80:
        return int.from_bytes(field[1:], "big")
    text = field.split(b"\0", 1)[0].strip()
    return int(text, 8) if text else 0


def _check_header(header: bytes) -> None:
    try:
        stored = _number(header[148:156])
    except ValueError:
        raise _ArchiveError("bad header checksum") from None
    unsigned = 256 + sum(header[:148]) + sum(header[156:])
    if stored != unsigned:
        signed = 256 + sum(struct.unpack_from("148b8x356b", header))
        if stored != signed:
            raise _ArchiveError("bad header checksum")


def _pax_records(data: bytes) -> dict[str, str]:
    """Parse pax extended-header records: ``"<length> <key>=<value>\\n"``."""
    records, pos = {}, 0
    while pos < len(data) and data[pos] != 0:
        space = data.index(b" ", pos)
        length = int(data[pos:space])
        key, _, value = data[space + 1 : pos + length - 1].partition(b"=")
        records[key.decode("utf-8")] = value.decode("utf-8", "surrogateescape")
        pos += length
    return records


def _members(buf: _Buffer) -> Iterator[tuple[str, int, bool]]:
    """Yield ``(name, size, is_regular)`` for each member, leaving its data next in ``buf``."""
    long_name: str | None = None
    pax: dict[str, str] = {}
    while True:
        header = buf.take(_BLOCK)
        if header is None or header == _ZERO_BLOCK:
            return
        _check_header(header)
        kind = header[156:157]
        name = _nts(header[0:100])
        if header[257:262] == b"ustar":
            prefix = _nts(header[345:500])
            if prefix:
                name = f"{prefix}/{name}"
        size = _number(header[124:136])
        padded = -(-size // _BLOCK) * _BLOCK
        if kind in (b"L", b"x", b"g", b"K"):  # metadata for the next member
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
            size = int(pax["size"])
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
    except (_ArchiveError, zlib.error, OSError, EOFError, lzma.LZMAError, ValueError) as error:
        raise UserError(
            f"{path}: expected a tar archive, got a corrupt or truncated one "
            f"({error} near byte {buf.offset} of its contents)"
        ) from None
