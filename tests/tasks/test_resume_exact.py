"""A resumed run is the run never stopped, for every task through its command line (issue 13,
item 2): ``train --epochs 2`` then ``--resume --epochs 4`` gives the bit-identical weights,
history and metrics of ``train --epochs 4``; and a run killed (SIGKILL) in the middle of an epoch
resumes from its last finished epoch to the same end."""

import os
import signal
import subprocess
import sys
import time

import pytest

from rnnkit.cli import main

from .tiny_runs import CORE, QUIET, TINY, real_slices, run_state, train

EPOCHS = ["--patience", "10"]  # early stopping never cuts the four epochs short


@pytest.fixture(scope="module")
def slices(data_dir, tmp_path_factory):
    return real_slices(data_dir, tmp_path_factory.mktemp("slices"))


@pytest.fixture(scope="module")
def straight(slices, tmp_path_factory):
    """task -> a run of four epochs never stopped (made once, on first use)."""
    root, made = tmp_path_factory.mktemp("straight"), {}

    def get(task):
        if task not in made:
            made[task] = root / task
            train(task, slices[task], made[task], "--epochs", "4", *EPOCHS)
        return made[task]

    return get


@pytest.fixture(autouse=True)
def _private_image_cache(tmp_path_factory, monkeypatch):
    """Captioning runs cache their decoded images: in this session's folder."""
    monkeypatch.setenv("RNNKIT_CACHE", str(tmp_path_factory.getbasetemp() / "rnnkit-cache"))


@pytest.mark.slow
@pytest.mark.parametrize("task", [*CORE, "caption", "forecast", "speech", "music"])
def test_resumed_run_equals_the_straight_run(tmp_path, slices, straight, task):
    resumed = tmp_path / "resumed"
    train(task, slices[task], resumed, "--epochs", "2", *EPOCHS)
    assert len(run_state(resumed)["history"]) == 2
    assert main(["train", task, "--resume", str(resumed), "--epochs", "4", "--threads", "1"]) == 0
    expected, got = run_state(straight(task)), run_state(resumed)
    assert len(got["history"]) == 4
    for part in ("history", "metrics", "last", "best"):
        assert got[part] == expected[part], f"{task}: {part} of the resumed run differs"


def _rows(run):
    path = run / "history.csv"
    return max(0, len(path.read_text(encoding="utf-8").splitlines()) - 1) if path.exists() else 0


@pytest.mark.slow
@pytest.mark.parametrize("task", ["lm", "classify", "translate", "speech"])
def test_a_run_killed_mid_epoch_resumes_to_the_same_end(tmp_path, slices, straight, task):
    """SIGKILL right after the first checkpoint (so in the middle of epoch 2): the resumed run
    takes over the dead run's lock and ends with the straight run's weights and history."""
    killed = tmp_path / "killed"
    argv = ["train", task, *slices[task], "--out", str(killed), *TINY[task], *QUIET,
            "--epochs", "4", *EPOCHS]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen([sys.executable, "-m", "rnnkit", *argv], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while _rows(killed) < 1 and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait()
    finished = _rows(killed)
    assert 1 <= finished < 4, f"the kill came after {finished} epochs; expected mid-run"
    assert (killed / ".lock").exists()  # the dead run's lock, stale now
    assert main(["train", task, "--resume", str(killed), "--threads", "1"]) == 0
    expected, got = run_state(straight(task)), run_state(killed)
    for part in ("history", "metrics", "last", "best"):
        assert got[part] == expected[part], f"{part} of the run resumed after a kill differs"
    assert not (killed / ".lock").exists()
