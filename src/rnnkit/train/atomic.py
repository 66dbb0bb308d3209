"""Crash-safe writes: a file or a whole directory is either the old complete one or the new one.

Files: ``atomic_write_bytes`` writes ``.NAME.tmp-XXXX`` beside the target, flushes and fsyncs it,
then ``os.replace``s it over the target (atomic on POSIX and Windows) and fsyncs the folder.

Directories (a checkpoint is several files that must match each other): ``replace_directory``

1. writes every file into a fresh sibling ``.NAME.tmp-XXXX/`` and fsyncs them;
2. renames the current ``NAME/`` (if any) to ``.NAME.old-XXXX/``;
3. renames ``.NAME.tmp-XXXX/`` to ``NAME/`` and fsyncs the parent folder;
4. deletes ``.NAME.old-XXXX/``.

A kill during 1 leaves ``NAME/`` untouched (plus a half-written temp folder, deleted by the next
write); a kill after 3 leaves the new ``NAME/``. A kill between 2 and 3 leaves no ``NAME/`` but a
complete ``.NAME.old-XXXX/``: ``resolve_directory`` (used by every reader) then returns that
folder, and the next ``replace_directory`` renames it back first. So a reader always finds the old
complete checkpoint or the new complete one. One writer per directory is assumed.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = [
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "fsync_path",
    "replace_directory",
    "resolve_directory",
]

logger = logging.getLogger(__name__)


def fsync_path(path: str | Path) -> None:
    """Flush a file or folder to disk (folders only where the OS allows it, i.e. not Windows)."""
    flags = os.O_RDONLY | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError:  # a folder on Windows
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a crash leaves the old file or the new one."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_path(path.parent)


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def _siblings(target: Path, kind: str) -> list[Path]:
    found = target.parent.glob(f".{target.name}.{kind}-*")
    return sorted((p for p in found if p.is_dir()), key=lambda p: p.stat().st_mtime)


def resolve_directory(target: str | Path) -> Path:
    """``target``, or the complete old copy a crash between two renames left beside it."""
    target = Path(target)
    if not target.exists():
        olds = _siblings(target, "old")
        if olds:
            logger.warning(
                "%s is missing; reading the copy an interrupted save left: %s", target, olds[-1]
            )
            return olds[-1]
    return target


def _recover(target: Path) -> None:
    """Finish what a killed ``replace_directory`` left: restore the old copy, delete debris."""
    olds = _siblings(target, "old")
    if not target.exists() and olds:
        os.rename(olds.pop(), target)
    for debris in olds + _siblings(target, "tmp"):
        shutil.rmtree(debris, ignore_errors=True)


def replace_directory(target: str | Path, fill: Callable[[Path], None]) -> Path:
    """Build a new ``target`` folder with ``fill(tmp_dir)`` and swap it in (see module doc)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    _recover(target)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        fill(tmp)
        for path in tmp.iterdir():
            fsync_path(path)
        fsync_path(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if target.exists():
        old = target.parent / f".{target.name}.old-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        os.rename(target, old)
    try:
        os.rename(tmp, target)
    except BaseException:
        if old is not None:
            os.rename(old, target)
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    fsync_path(target.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return target
