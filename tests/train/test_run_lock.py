"""One writer per run folder: ``Trainer.fit`` holds ``RUN/.lock`` (see rnnkit.train.run_dir)."""

import json
import logging
import os
import socket
import subprocess
import sys

import pytest

from rnnkit.errors import UserError
from rnnkit.train import Callback, Trainer
from rnnkit.train.run_dir import LOCK_FILE, RunDirectory

from .helpers import Recorder, make_loader, make_model, objective, quick_config


def _fit(out_dir, callbacks=(), **fit_kwargs):
    trainer = Trainer(make_model(), objective(), quick_config(epochs=1), callbacks=callbacks,
                      device="cpu")  # fmt: skip
    trainer.fit(make_loader(n=12), make_loader(n=12, seed=1), out_dir=out_dir, **fit_kwargs)
    return trainer


def _write_lock(run, pid, host=None):
    run.mkdir(parents=True, exist_ok=True)
    record = {"pid": pid, "host": host or socket.gethostname(), "started": "2024-01-01T00:00:00"}
    (run / LOCK_FILE).write_text(json.dumps(record))


def test_a_locked_folder_is_refused_and_left_untouched(tmp_path):
    run = tmp_path / "run"
    _fit(run)
    before = sorted(p.name for p in (run / "best").iterdir())
    _write_lock(run, os.getpid())  # a live holder: this very process
    for kwargs in ({"overwrite": True}, {"resume": True}):
        with pytest.raises(UserError) as info:
            _fit(run, **kwargs)
        message = str(info.value)
        assert f"{run} is in use by another training run (pid {os.getpid()} on " in message
        assert "since 2024-01-01T00:00:00); expected a free folder" in message
    assert sorted(p.name for p in (run / "best").iterdir()) == before
    assert (run / LOCK_FILE).is_file()  # the holder's lock is not removed by the refused run
    with pytest.raises(UserError, match="is in use by another training run"):
        RunDirectory(run).check_free()  # the task layer's early check


def test_a_second_fit_during_a_fit_is_refused(tmp_path):
    run = tmp_path / "run"

    class SecondWriter(Callback):
        error = None

        def on_epoch_start(self, trainer, epoch):
            assert (run / LOCK_FILE).is_file()
            try:
                _fit(run, overwrite=True)
            except UserError as error:
                SecondWriter.error = str(error)

    _fit(run, callbacks=[SecondWriter()])
    assert "is in use by another training run" in SecondWriter.error
    assert not (run / LOCK_FILE).exists()
    assert (run / "best" / "config.json").is_file()


def test_a_stale_lock_is_taken_over(tmp_path, caplog):
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # its pid no longer exists
    run = tmp_path / "run"
    _write_lock(run, child.pid)
    RunDirectory(run).check_free()  # stale: not in use
    with caplog.at_level(logging.WARNING, logger="rnnkit.train.run_dir"):
        _fit(run)
    assert "stale lock" in caplog.text and str(child.pid) in caplog.text
    assert not (run / LOCK_FILE).exists()
    assert (run / "best" / "config.json").is_file()
    assert not [p for p in run.iterdir() if p.name.startswith(".lock")]


def test_a_lock_of_another_host_is_respected(tmp_path):
    _write_lock(tmp_path / "run", 1, host="another-host.invalid")
    with pytest.raises(UserError, match=r"pid 1 on another-host\.invalid"):
        _fit(tmp_path / "run")


def test_the_lock_is_released_after_fit_errors_and_interrupts(tmp_path):
    run = tmp_path / "run"
    _fit(run)
    assert not (run / LOCK_FILE).exists()
    with pytest.raises(KeyboardInterrupt):
        _fit(run, callbacks=[Recorder(raise_at=("batch_end", 1, 0))], overwrite=True)
    assert not (run / LOCK_FILE).exists()
    with pytest.raises(UserError, match="already holds a training run"):
        _fit(run)
    assert not (run / LOCK_FILE).exists()
    _fit(run, resume=True)  # the folder is free again
    assert not (run / LOCK_FILE).exists()


def test_resuming_a_missing_folder_creates_nothing(tmp_path):
    with pytest.raises(UserError, match="nothing to resume"):
        _fit(tmp_path / "missing", resume=True)
    assert not (tmp_path / "missing").exists()
