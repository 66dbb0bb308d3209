"""One writer per run folder, with real processes (issue 13, item 3): while a training run holds
its folder, a second ``rnnkit train`` on the same --out (with or without --overwrite) and a
--resume of the run in progress are refused with exit status 2 and the lock message, and the first
run finishes with its model intact."""

import math
import os
import signal
import subprocess
import sys
import time

import pytest

import rnnkit

from .cli import run
from .tiny_runs import QUIET, TINY, real_slices

IN_USE = "is in use by another training run"


def _rnnkit(*argv):
    """``rnnkit ARGV`` started in its own process, one torch thread, output captured."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "rnnkit", *map(str, argv)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip


def _text(path):
    """The file's text; empty while it is missing."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""


@pytest.mark.slow
def test_a_second_writer_is_refused_while_the_first_finishes(capsys, tmp_path, data_dir):
    data = real_slices(data_dir, tmp_path)["lm"]
    out = tmp_path / "run"
    train = ["train", "lm", *data, *TINY["lm"], *QUIET, "--epochs", "2"]
    first = _rnnkit(*train, "--out", out)
    try:
        deadline = time.monotonic() + 120
        while str(first.pid) not in _text(out / ".lock") and first.poll() is None:
            assert time.monotonic() < deadline, "the first run never took its lock"
            time.sleep(0.002)  # until the lock is written, not only created (briefly empty)
        first.send_signal(signal.SIGSTOP)  # hold it inside its run, lock taken, for the checks
        assert first.poll() is None, first.communicate()
        second = _rnnkit(*train, "--out", out)
        _, err = second.communicate(timeout=120)
        assert second.returncode == 2, err
        assert IN_USE in err and str(first.pid) in err and "Traceback" not in err
        assert len(err.strip().splitlines()) == 1, err  # refused before any data was read
        for again in (["--out", out, "--overwrite"], ["--resume", out]):
            code, _, err = run(capsys, *train, *map(str, again))
            assert code == 2 and IN_USE in err and len(err.strip().splitlines()) == 1, err
    finally:
        first.send_signal(signal.SIGCONT)
    _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    assert not (out / ".lock").exists()
    model = rnnkit.load(out)  # weights, vocabulary and config.json fit together
    history = (out / "history.csv").read_text(encoding="utf-8").splitlines()
    assert len(history) == 3  # header + the first run's two epochs, nobody else's
    assert all(math.isfinite(p.sum().item()) for p in model.model.parameters())
