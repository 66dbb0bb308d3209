"""The output folder of a training run (``Trainer.fit(..., out_dir=DIR)``, the CLI's ``--out``)::

    DIR/best/          the best weights by ``TrainConfig.monitor``: the checkpoint users load
                       (``load_checkpoint(DIR)`` reads it); written when the monitor improves
    DIR/last/          the end of the latest epoch plus ``training_state.pt``: what resume reads;
                       written at the start of a fresh run (epoch 0) and after every epoch
    DIR/history.csv    the whole run's history, curves and summary (best and last rows, why it
    DIR/curves.png     stopped), rewritten after every epoch (the curves at most every 30 s
    DIR/metrics.json   and at the end); ``best/`` and ``last/`` hold the history up to their
                       own weights (and the curves when drawn at their save)

``best/`` and ``last/`` are separate folders so that each is replaced atomically as a whole
(``rnnkit.atomic``): a crash at any moment leaves each one complete, old or new. ``best/``
is written before ``last/``, so ``last/`` never records a best epoch that ``best/`` lacks.

One writer per run folder: ``Trainer.fit`` holds ``DIR/.lock`` (the owner's pid, host and start
time as JSON, created with ``O_CREAT | O_EXCL``) from before it writes or deletes anything until
it returns or raises. A second run on the folder gets a ``UserError`` naming the owner. A lock
whose pid no longer exists on this host (a killed run) is stale: it is reported in a log line and
taken over. A lock from another host is always respected (its pid cannot be checked from here);
delete ``DIR/.lock`` by hand once that run is gone.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import logging
import os
import shutil
import socket
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from torch import nn

from rnnkit.atomic import (
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    remove_temporaries,
    resolve_directory,
)
from rnnkit.errors import UserError
from rnnkit.train.checkpoint import (
    BEST,
    LAST,
    Checkpoint,
    json_safe,
    load_checkpoint,
    save_checkpoint,
)
from rnnkit.train.history import History, render_curves

__all__ = ["LOCK_FILE", "REPORTS", "RunDirectory"]

logger = logging.getLogger(__name__)

REPORTS = ("history.csv", "curves.png", "metrics.json")  # run-wide, beside best/ and last/
LOCK_FILE = ".lock"
_UNREADABLE_GRACE_S = 10.0  # a lock being written is briefly empty; older unreadable: stale


class RunDirectory:
    """Reads and writes the layout above under ``path``."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.best = self.path / BEST
        self.last = self.path / LAST

    def __str__(self) -> str:
        return str(self.path)

    def holds_run(self) -> bool:
        return any(resolve_directory(p).exists() for p in (self.best, self.last))

    def refusal(self) -> str:
        return (
            f"{self.path} already holds a training run; expected a new folder: resume it "
            "(--resume DIR, or fit(..., resume=True)), replace it (--overwrite, overwrite=True), "
            "or choose another output folder"
        )

    # -- one writer per folder -----------------------------------------------------------------

    @property
    def lock_path(self) -> Path:
        return self.path / LOCK_FILE

    def lock_holder(self) -> dict[str, Any] | None:
        """The live owner of the folder's lock (pid, host, started), or None when it is free or
        its lock is stale."""
        owner = _read_lock(self.lock_path)
        return None if owner is None or _is_stale(owner, self.lock_path) else owner

    def in_use(self, owner: dict[str, Any]) -> str:
        return (
            f"{self.path} is in use by another training run (pid {owner.get('pid', '?')} on "
            f"{owner.get('host', '?')} since {owner.get('started', '?')}); expected a free "
            "folder: wait for it, or choose another"
        )

    def check_free(self) -> None:
        """Raise ``UserError`` when a live run holds the folder's lock (an early check)."""
        owner = self.lock_holder()
        if owner is not None:
            raise UserError(self.in_use(owner))

    def check_writable(self) -> None:
        """Raise ``UserError`` unless the folder exists or can be created and files can be
        written in it (an early check, before any data is read; it leaves nothing behind)."""
        made = [p for p in (self.path, *self.path.parents) if not p.exists()]  # deepest first
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=self.path):
                pass
        except OSError as error:
            raise UserError(
                f"cannot write the run folder {self.path}: {error.strerror or error}; expected "
                "a folder where files can be created"
            ) from None
        finally:
            for folder in made:
                with contextlib.suppress(OSError):
                    folder.rmdir()

    @contextlib.contextmanager
    def locked(self, create: bool = True) -> Iterator[None]:
        """Hold ``DIR/.lock`` for the block; ``create``: make the folder if it is missing (else
        a missing folder is left alone, unlocked: there is nothing in it to protect)."""
        created = not self.path.exists()
        if created and not create:
            yield
            return
        if self.path.exists() and not self.path.is_dir():
            raise UserError(f"{self.path} is a file; expected a folder for the run")
        self.path.mkdir(parents=True, exist_ok=True)
        token = self._acquire()
        try:
            yield
        finally:
            self._release(token)
            if created:
                with contextlib.suppress(OSError):  # only if the run wrote nothing
                    self.path.rmdir()

    def _acquire(self) -> str:
        token = uuid.uuid4().hex
        record = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "token": token,
        }
        data = (json.dumps(record) + "\n").encode("utf-8")
        for _ in range(3):
            try:
                fd = os.open(self.lock_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                owner = _read_lock(self.lock_path)
                if owner is None:  # released meanwhile: try again
                    continue
                if not _is_stale(owner, self.lock_path):
                    raise UserError(self.in_use(owner)) from None
                self._take_over(owner)
                continue
            try:
                os.write(fd, data)
            finally:
                os.close(fd)
            return token
        owner = _read_lock(self.lock_path) or {}
        raise UserError(self.in_use(owner))

    def _take_over(self, stale: dict[str, Any]) -> None:
        """Move a stale lock aside; put it back if another process replaced it meanwhile."""
        aside = self.path / f".lock.stale-{uuid.uuid4().hex[:8]}"
        try:
            os.rename(self.lock_path, aside)
        except FileNotFoundError:
            return
        moved = _read_lock(aside)
        if moved is not None and moved != stale:  # a fresh lock of a faster taker: restore it
            with contextlib.suppress(OSError):
                os.link(aside, self.lock_path)
        else:
            logger.warning(
                "%s had a stale lock of a training run that is gone (pid %s on %s since %s): "
                "taking it over",
                self.path,
                stale.get("pid", "?"),
                stale.get("host", "?"),
                stale.get("started", "?"),
            )
        aside.unlink(missing_ok=True)

    def _release(self, token: str) -> None:
        owner = _read_lock(self.lock_path)
        if owner is not None and owner.get("token") == token:
            self.lock_path.unlink(missing_ok=True)

    def prepare_fresh(self, overwrite: bool) -> None:
        """Refuse a folder that holds a run (unless ``overwrite``: then delete its checkpoints)."""
        if self.holds_run() and not overwrite:
            raise UserError(self.refusal())
        for path in (resolve_directory(p) for p in (self.best, self.last)):
            shutil.rmtree(path, ignore_errors=True)
        for name in REPORTS:
            (self.path / name).unlink(missing_ok=True)

    def load_last(self) -> Checkpoint:
        """The resumable checkpoint, with its training state."""
        if not self.path.is_dir():
            raise UserError(
                f"nothing to resume: {self.last} is missing; expected the folder a run with this "
                "output folder writes when it starts. Train without resume to start afresh"
            )
        return load_checkpoint(self.last, training_state=True)

    def remove_debris(self) -> None:
        """Delete the temporary files and folders of writes killed mid-way (before resuming)."""
        for path in remove_temporaries(self.path):
            logger.info("removed %s, left by an interrupted write", path)

    def save(
        self,
        model: nn.Module,
        config: Mapping[str, Any],
        *,
        history: History,
        metrics: Mapping[str, Any],
        summary: Mapping[str, Any],
        training_state: Mapping[str, Any],
        artifacts: Mapping[str, Any] | None = None,
        improved: bool = False,
        plot: bool = True,
    ) -> None:
        """Write ``best/`` (when ``improved``), then ``last/``, then the run-wide reports."""
        curves = render_curves(history, summary.get("best_epoch")) if plot else None
        common = dict(artifacts=artifacts, history=history, curves_png=curves, metrics=metrics)
        if improved:
            save_checkpoint(self.best, model, config, **common)
        save_checkpoint(self.last, model, config, training_state=training_state, **common)
        history_csv, curves_png, metrics_json = (self.path / name for name in REPORTS)
        atomic_write_text(history_csv, history.to_csv())
        if curves is not None:
            atomic_write_bytes(curves_png, curves)
        atomic_write_json(metrics_json, json_safe(summary))

    def write_curves(self, history: History, best_epoch: int | None) -> None:
        """Redraw the run-wide ``curves.png`` alone (the trainer skips drawing at some saves)."""
        curves = render_curves(history, best_epoch)
        if curves is not None:
            atomic_write_bytes(self.path / REPORTS[1], curves)


def _read_lock(path: Path) -> dict[str, Any] | None:
    """The lock's record; None when there is no lock; ``{}`` when it cannot be read (yet)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError:
        return {}
    try:
        record = json.loads(text)
    except ValueError:
        return {}
    return record if isinstance(record, dict) else {}


def _is_stale(owner: dict[str, Any], path: Path) -> bool:
    """True when the lock's run is gone: its pid no longer exists on this host (or the lock
    could not be read for longer than a write takes)."""
    pid, host = owner.get("pid"), owner.get("host")
    if not isinstance(pid, int) or isinstance(pid, bool) or not isinstance(host, str):
        try:
            return time.time() - path.stat().st_mtime > _UNREADABLE_GRACE_S
        except OSError:
            return True
    if host != socket.gethostname():
        return False
    if pid <= 0:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # PermissionError: it exists under another user
        return False
    return False
