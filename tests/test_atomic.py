import os

import pytest

from rnnkit import atomic
from rnnkit.atomic import atomic_write_bytes, replace_directory, resolve_directory


class Killed(BaseException):
    """Stands for the process dying: nothing after it runs."""


def _fill(text: str):
    def fill(tmp):
        (tmp / "a.txt").write_text(text)
        (tmp / "b.txt").write_text(text)

    return fill


def _debris(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_file_write_failure_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "f.json"
    atomic_write_bytes(target, b"old")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(atomic.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"old"
    assert _debris(tmp_path) == []


def test_directory_failure_while_filling_keeps_the_old_one(tmp_path):
    target = tmp_path / "ckpt"
    replace_directory(target, _fill("old"))

    def fill(tmp):
        (tmp / "a.txt").write_text("new")
        raise Killed

    with pytest.raises(Killed):
        replace_directory(target, fill)
    assert (target / "a.txt").read_text() == "old" and (target / "b.txt").read_text() == "old"
    assert _debris(tmp_path) == []


def test_kill_between_the_two_renames_leaves_a_readable_old_copy(tmp_path, monkeypatch):
    target = tmp_path / "ckpt"
    replace_directory(target, _fill("old"))
    real_rename = os.rename
    calls = []

    def rename_then_die(src, dst):
        calls.append(src)
        if len(calls) == 1:
            return real_rename(src, dst)  # ckpt -> .ckpt.old-*
        raise Killed  # dies before .ckpt.tmp-* -> ckpt, and before any clean-up

    monkeypatch.setattr(atomic.os, "rename", rename_then_die)
    with pytest.raises(Killed):
        replace_directory(target, _fill("new"))
    monkeypatch.setattr(atomic.os, "rename", real_rename)
    assert not target.exists()
    found = resolve_directory(target)
    assert found.name.startswith(".ckpt.old-") and (found / "a.txt").read_text() == "old"
    replace_directory(target, _fill("newer"))  # the next save recovers and cleans up
    assert (target / "a.txt").read_text() == "newer"
    assert _debris(tmp_path) == []


def test_replace_creates_parents_and_swaps(tmp_path):
    target = tmp_path / "run" / "last"
    replace_directory(target, _fill("1"))
    replace_directory(target, _fill("2"))
    assert (target / "b.txt").read_text() == "2"
    assert _debris(target.parent) == []
