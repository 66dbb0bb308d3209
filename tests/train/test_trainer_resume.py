"""Resume: an interrupted run continued with resume=True equals an uninterrupted one."""

import pytest
import torch
from torch import nn

from rnnkit.errors import UserError
from rnnkit.train import Trainer, load_checkpoint

from .helpers import NoisyObjective, Recorder, make_loader, make_model, quick_config, without_time

CONFIG = quick_config(
    epochs=4, lr=0.02, lr_schedule="step", lr_step_size=1, lr_gamma=0.7, warmup_steps=3
)


def _trainer(seed=0, callbacks=()):
    # the resumed run builds its model from another seed: the checkpoint must override it
    model = make_model(seed)
    return Trainer(model, NoisyObjective(nn.CrossEntropyLoss()), CONFIG, callbacks=callbacks,
                   device="cpu")  # fmt: skip


def _fit(trainer, out_dir, **kwargs):
    return trainer.fit(make_loader(), make_loader(n=24, seed=1), out_dir=out_dir, **kwargs)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    trainer = _trainer()
    history = _fit(trainer, tmp_path_factory.mktemp("full") / "run")
    return without_time(history), trainer.model.state_dict()


@pytest.mark.parametrize("where", [("batch_end", 2, 1), ("epoch_end", 2, 0)])
def test_resume_after_interruption_equals_an_uninterrupted_run(tmp_path, uninterrupted, where):
    expected_rows, expected_state = uninterrupted
    run = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        _fit(_trainer(callbacks=[Recorder(raise_at=where)]), run)
    saved = load_checkpoint(run / "last", training_state=True).training_state
    assert saved["epoch"] == (1 if where[0] == "batch_end" else 2)

    recorder = Recorder()
    trainer = _trainer(seed=123, callbacks=[recorder])
    history = _fit(trainer, run, resume=True)
    assert len(history) == 4
    assert without_time(history) == expected_rows
    for key, value in expected_state.items():
        assert torch.equal(trainer.model.state_dict()[key], value), key
    first_epoch = 2 if where[0] == "batch_end" else 3
    assert [e for name, e in recorder.calls if name == "epoch_start"] == list(range(first_epoch, 5))


def test_interruption_is_logged_with_how_to_resume(tmp_path, caplog):
    with pytest.raises(KeyboardInterrupt):
        _fit(_trainer(callbacks=[Recorder(raise_at=("batch_end", 1, 0))]), tmp_path / "run")
    assert "interrupted in epoch 1" in caplog.text
    assert "holds the end of epoch 0" in caplog.text and "--resume" in caplog.text


def test_resuming_a_finished_run_does_nothing(tmp_path):
    run = tmp_path / "run"
    history = _fit(_trainer(), run)
    again = _trainer(seed=5)
    assert _fit(again, run, resume=True) == history
    assert again.stop_reason == "completed"


def test_fresh_run_refuses_an_existing_run_unless_overwrite(tmp_path):
    run = tmp_path / "run"
    _fit(_trainer(), run)
    with pytest.raises(UserError, match="already holds a training run; .*resume=True"):
        _fit(_trainer(), run)
    assert len(_fit(_trainer(), run, overwrite=True)) == 4


def test_resume_without_a_run_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="nothing to resume: .*last is missing"):
        _fit(_trainer(), tmp_path / "run", resume=True)
    with pytest.raises(UserError, match="resume needs out_dir"):
        _fit(_trainer(), None, resume=True)


def test_resume_with_another_optimizer_is_a_user_error(tmp_path):
    run = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        _fit(_trainer(callbacks=[Recorder(raise_at=("epoch_end", 1, 0))]), run)
    trainer = Trainer(make_model(), NoisyObjective(nn.CrossEntropyLoss()),
                      CONFIG.replace(optimizer="sgd"), device="cpu")  # fmt: skip
    with pytest.raises(UserError, match="cannot resume from .* with optimizer='sgd': the run used"):
        _fit(trainer, run, resume=True)


def test_resume_can_train_longer_and_reports_ignored_settings(tmp_path, caplog):
    run = tmp_path / "run"
    _fit(_trainer(), run)
    trainer = Trainer(make_model(), NoisyObjective(nn.CrossEntropyLoss()),
                      CONFIG.replace(epochs=5, lr=0.5), device="cpu")  # fmt: skip
    history = _fit(trainer, run, resume=True)
    assert len(history) == 5
    assert "these changed settings do not apply: lr 0.5" in caplog.text
    assert history[-1]["lr"] == pytest.approx(0.02 * 0.7**4)


def test_crash_while_saving_keeps_the_previous_epoch_and_resumes(tmp_path, monkeypatch,
                                                                 uninterrupted):  # fmt: skip
    run = tmp_path / "run"
    real_save = torch.save
    saves = []

    def crash_on_third_save(obj, f, *args, **kwargs):  # epoch 0, epoch 1, then epoch 2
        saves.append(f)
        if len(saves) == 3:
            real_save(obj, f, *args, **kwargs)
            raise OSError("disk full")
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", crash_on_third_save)
    with pytest.raises(OSError, match="disk full"):
        _fit(_trainer(), run)
    monkeypatch.setattr(torch, "save", real_save)
    assert load_checkpoint(run / "last", training_state=True).training_state["epoch"] == 1
    assert sorted(p.name for p in run.iterdir() if p.name.startswith(".")) == []
    assert without_time(_fit(_trainer(seed=9), run, resume=True)) == uninterrupted[0]
