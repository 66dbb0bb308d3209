"""Crash-safe writes: a file or a whole directory is either the old complete one or the new one.

Every file rnnkit writes (vocabularies, downloads, plots, checkpoints) goes through this module.

Files: ``atomic_path`` yields ``.NAME.tmp-XXXX`` beside the target for any writer (a plot's
``savefig``, a download); on success it is flushed to disk and ``os.replace``d over the target
(atomic on POSIX and Windows), on error deleted. Files and folders get the usual permissions from
the umask. ``atomic_write_bytes``/``_text``/``_json`` are the common cases.

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

import contextlib
import json
import logging
import os
import secrets
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from rnnkit.errors import UserError

__all__ = [
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "fsync_path",
    "remove_temporaries",
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


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success move it to ``path``, on error delete it.

    Whoever writes to the yielded path creates the file, so it gets the umask's permissions; the
    parent folder is created if needed. A target that is a folder, or a place where the file
    cannot be created, is a ``UserError``.
    """
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{path} is a folder; expected the name of a file to write")
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
    try:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise _unwritable(path, error) from None
        try:
            yield tmp
        except OSError as error:
            if error.filename is None or Path(error.filename) != tmp:
                raise  # the writer's own error (a source it reads), not the target's
            raise _unwritable(path, error) from None
        fsync_path(tmp)
        os.replace(tmp, path)
        fsync_path(path.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):  # gone after a successful replace
            tmp.unlink()


def _unwritable(path: Path, error: OSError) -> UserError:
    return UserError(
        f"cannot write {path}: {error.strerror or error}; expected a place where files can be "
        "created"
    )


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` so that a crash leaves the old file or the new one."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> None:
    atomic_write_bytes(path, text.encode(encoding))


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> None:
    """Write ``obj`` as indented UTF-8 JSON."""
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


def remove_temporaries(folder: str | Path) -> list[Path]:
    """Delete the ``.NAME.tmp-XXXX`` files and folders that killed writes left in ``folder``.

    Only for a folder nobody is writing to (one writer per directory); returns what was deleted.
    """
    removed = sorted(Path(folder).glob(".?*.tmp-*"))
    for path in removed:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    return removed


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
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes 0700; a checkpoint is an ordinary folder
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
