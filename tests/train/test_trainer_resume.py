"""Resume: an interrupted run continued with resume=True equals an uninterrupted one."""

import re

import pytest
import torch
from torch import nn

from rnnkit.data import SequenceDataset
from rnnkit.data import make_loader as make_batches
from rnnkit.errors import UserError
from rnnkit.train import SupervisedObjective, Trainer, load_checkpoint, seed_everything

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


class _Bag(nn.Module):
    """Embedding → dropout → mean over positions → linear: a token classifier with dropout."""

    def __init__(self, vocab: int = 20, dim: int = 8, classes: int = 3) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab, dim, padding_idx=0)
        self.drop = nn.Dropout(0.3)
        self.out = nn.Linear(dim, classes)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:  # (N, L) -> (N, C)
        return self.out(self.drop(self.embedding(tokens)).mean(1))


class _PaddedObjective(SupervisedObjective):
    def _batch_stats(self, model, batch):
        return super()._batch_stats(model, (batch.tokens, batch.targets))


def _bucketed_run(out_dir, epochs, resume=False, seed=0):
    g = torch.Generator().manual_seed(3)
    lengths = torch.randint(1, 12, (60,), generator=g)
    sequences = [torch.randint(1, 20, (int(n),), generator=g) for n in lengths]
    labels = [int(s[0]) % 3 for s in sequences]
    train = make_batches(SequenceDataset(sequences[:48], labels[:48]), 8, seed=4, chunk_size=16)
    val = make_batches(SequenceDataset(sequences[48:], labels[48:]), 8, shuffle=False)
    trainer = Trainer(make_bag(seed), _PaddedObjective(nn.CrossEntropyLoss()),
                      quick_config(epochs=epochs, lr=0.05, seed=0), device="cpu")  # fmt: skip
    history = trainer.fit(train, val, out_dir=out_dir, resume=resume)
    return without_time(history), trainer.model.state_dict()


def make_bag(seed):
    seed_everything(seed)
    return _Bag()


def test_resume_with_a_shuffled_bucketed_loader_and_dropout_is_exact(tmp_path):
    """The resumed epochs get the batch order and dropout masks of an uninterrupted run."""
    expected_rows, expected_state = _bucketed_run(tmp_path / "full", 4)
    first_rows, _ = _bucketed_run(tmp_path / "run", 2)
    assert first_rows == expected_rows[:2]
    rows, state = _bucketed_run(tmp_path / "run", 4, resume=True, seed=7)
    assert rows == expected_rows
    for key, value in expected_state.items():
        assert torch.equal(state[key], value), key


def test_resume_of_a_run_killed_before_its_first_checkpoint(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / ".last.tmp-abc").mkdir()  # a checkpoint being written when the run was killed
    message = f"nothing to resume in {run}: no epoch finished before it stopped; train again "
    with pytest.raises(UserError, match=re.escape(message + "without resume")):
        _fit(_trainer(), run, resume=True)
    with pytest.raises(UserError, match=re.escape(message)):
        load_checkpoint(run / "last")  # what the command line's --resume reads first


def test_resume_removes_what_killed_writes_left(tmp_path, uninterrupted):
    run = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        _fit(_trainer(callbacks=[Recorder(raise_at=("epoch_end", 2, 0))]), run)
    debris = [".history.csv.tmp-123-abcd", ".metrics.json.tmp-1-ff", ".curves.png.tmp-9-00"]
    for name in debris:
        (run / name).write_text("half")
    (run / ".last.tmp-x1y2").mkdir()
    (run / ".last.tmp-x1y2" / "model.safetensors").write_bytes(b"half")
    (run / "notes.tmp-keep.txt").write_text("the user's")  # not rnnkit's temporary naming
    history = _fit(_trainer(seed=3), run, resume=True)
    assert without_time(history) == uninterrupted[0]
    assert sorted(p.name for p in run.iterdir()) == [
        "best", "history.csv", "last", "metrics.json", "notes.tmp-keep.txt"
    ]  # fmt: skip
