import logging
import math

import pytest
import torch
from torch import nn

from rnnkit import nn as rnn
from rnnkit.errors import UserError
from rnnkit.nn.engine.native import onednn_bfloat16_lstm
from rnnkit.train import (
    History,
    NonFiniteLossError,
    Objective,
    SupervisedObjective,
    Trainer,
    load_checkpoint,
)
from rnnkit.train import device as device_module

from .helpers import Recorder, make_loader, make_model, objective, quick_config, without_time


def _fit(config, out_dir=None, callbacks=(), obj=None, val=True, seed=0, **fit_kwargs):
    model = make_model(seed)
    trainer = Trainer(model, obj or objective(), config, callbacks=callbacks, device="cpu")
    val_batches = make_loader(n=24, seed=1, shuffle=False) if val else None
    history = trainer.fit(make_loader(), val_batches, out_dir=out_dir, **fit_kwargs)
    return trainer, history


def test_curves_are_drawn_at_most_every_30_seconds_and_at_the_end(tmp_path, monkeypatch):
    """Drawing curves.png costs about a second, more than a small model's epoch."""
    from rnnkit.train import Callback, run_dir

    drawn = []
    real = run_dir.render_curves
    monkeypatch.setattr(run_dir, "render_curves", lambda h, b: drawn.append(len(h)) or real(h, b))
    _fit(quick_config(epochs=5, plot=True), out_dir=tmp_path / "run")
    assert drawn == [5]  # 5 quick epochs in under 30 seconds: drawn once, at the end

    class StopAtThree(Callback):
        def on_epoch_end(self, trainer, epoch, row):
            if epoch == 3:
                trainer.request_stop("enough")

    drawn.clear()
    _fit(quick_config(epochs=5, plot=True), out_dir=tmp_path / "stopped",
         callbacks=[StopAtThree()])  # fmt: skip
    assert drawn == [3]  # epoch 3's save skipped it (no stop yet); the end of fit drew it
    assert (tmp_path / "stopped" / "curves.png").read_bytes().startswith(b"\x89PNG")


def test_overfits_one_batch():
    x = torch.randn(8, 5, 3)
    y = torch.arange(8) % 3
    config = quick_config(epochs=150, lr=0.05, monitor="train_loss")
    trainer = Trainer(make_model(dropout=0.0), objective(), config, device="cpu")
    history = trainer.fit([(x, y)])
    assert history[-1]["train_loss"] < 0.05
    assert history[-1]["train_accuracy"] == 1.0
    assert trainer.stop_reason == "completed" and trainer.global_step == 150


def test_history_columns_and_files(tmp_path):
    trainer, history = _fit(quick_config(plot=True), out_dir=tmp_path / "run")
    assert history.columns == [
        "epoch", "train_loss", "train_accuracy", "train_grad_norm",
        "val_loss", "val_accuracy", "lr", "time_s", "batches", "partial",
    ]  # fmt: skip
    assert [row["batches"] for row in history] == [4, 4]
    assert [row["partial"] for row in history] == [0, 0]
    run = tmp_path / "run"
    for folder in (run, run / "best", run / "last"):
        assert (folder / "history.csv").is_file()
        assert (folder / "curves.png").read_bytes().startswith(b"\x89PNG")
        assert (folder / "metrics.json").is_file()
    assert without_time(History.from_csv(run / "history.csv")) == without_time(history)
    best = load_checkpoint(run)
    assert best.path == run / "best" and best.metrics["epoch"] == trainer.monitor.best_epoch
    assert best.config["train"]["epochs"] == 2


def test_same_seed_same_history_different_seed_differs():
    config = quick_config(epochs=3)
    first = without_time(_fit(config, obj=_noisy())[1])
    second = without_time(_fit(config, obj=_noisy())[1])
    assert first == second
    other = without_time(_fit(config.replace(seed=1), obj=_noisy())[1])
    assert other != first


def _noisy():
    from .helpers import NoisyObjective

    return NoisyObjective(nn.CrossEntropyLoss())


def test_callback_order_and_start_epoch_calls():
    class Tracking(SupervisedObjective):
        def __init__(self):
            super().__init__(nn.CrossEntropyLoss())
            self.starts = []

        def start_epoch(self, model, train):
            self.starts.append((train, model.training))

    recorder = Recorder()
    obj = Tracking()
    _fit(quick_config(epochs=2), callbacks=[recorder], obj=obj)
    names = [name for name, _ in recorder.calls if name != "batch_end"]
    assert names == ["fit_start"] + ["epoch_start", "evaluate", "epoch_end"] * 2 + ["fit_end"]
    assert sum(name == "batch_end" for name, _ in recorder.calls) == 8
    assert obj.starts == [(True, True), (False, False)] * 2


class Worsening(SupervisedObjective):
    """Validation loss that rises every epoch after the first."""

    def __init__(self):
        super().__init__(nn.CrossEntropyLoss())
        self.calls = 0

    def evaluate(self, model, batches):
        self.calls += 1
        return {"loss": float(self.calls), "accuracy": 1.0 / self.calls}


def test_early_stopping(tmp_path):
    trainer, history = _fit(
        quick_config(epochs=20, patience=2), out_dir=tmp_path / "run", obj=Worsening()
    )
    assert len(history) == 3 and trainer.stop_reason == "early stopping"
    assert trainer.monitor.best_epoch == 1
    assert load_checkpoint(tmp_path / "run").metrics["epoch"] == 1
    assert load_checkpoint(tmp_path / "run" / "last").metrics["epoch"] == 3


def test_monitor_max_picks_the_highest():
    config = quick_config(epochs=3, monitor="val_accuracy", mode="max", patience=1)
    trainer, history = _fit(config, obj=Worsening())
    assert trainer.monitor.best == 1.0 and len(history) == 2


def test_time_budget_stops_after_the_current_batch(tmp_path):
    trainer, history = _fit(quick_config(epochs=5, max_time_minutes=1e-9), out_dir=tmp_path / "r")
    assert trainer.stop_reason == "time budget"
    assert len(history) == 1 and history[0]["batches"] == 1 and "val_loss" in history[0]
    assert history[0]["partial"] == 1  # marked in history.csv and drawn hollow in curves.png
    assert History.from_csv(tmp_path / "r" / "history.csv")[0]["partial"] == 1
    assert (
        load_checkpoint(tmp_path / "r" / "last", training_state=True).training_state["epoch"] == 1
    )


class ExplodesAt(SupervisedObjective):
    """Returns a NaN loss at the given (epoch, batch)."""

    def __init__(self, epoch, batch):
        super().__init__(nn.CrossEntropyLoss())
        self.at, self.epoch, self.batch = (epoch, batch), 0, 0

    def start_epoch(self, model, train):
        if train:
            self.epoch, self.batch = self.epoch + 1, 0

    def train_loss(self, model, batch):
        self.batch += 1
        loss, stats = super().train_loss(model, batch)
        return (loss * math.nan if (self.epoch, self.batch) == self.at else loss), stats


def test_nan_loss_stops_with_a_clear_error_and_keeps_the_last_checkpoint(tmp_path):
    snapshots = {}

    class Snapshot(Recorder):
        def on_epoch_end(self, trainer, epoch, row):
            snapshots[epoch] = {k: v.clone() for k, v in trainer.model.state_dict().items()}

    with pytest.raises(NonFiniteLossError) as caught:
        _fit(quick_config(epochs=3), out_dir=tmp_path / "run", obj=ExplodesAt(2, 2),
             callbacks=[Snapshot()])  # fmt: skip
    message = str(caught.value)
    assert isinstance(caught.value, UserError)
    assert "training loss became nan at epoch 2, step 6" in message
    assert "end of epoch 1" in message and str(tmp_path / "run" / "last") in message
    last = load_checkpoint(tmp_path / "run" / "last", training_state=True)
    assert last.training_state["epoch"] == 1
    for key, value in snapshots[1].items():
        assert torch.equal(last.state_dict[key], value)


def test_settings_errors():
    with pytest.raises(UserError, match="monitor='val_loss' needs validation batches"):
        _fit(quick_config(), val=False)
    with pytest.raises(UserError, match="monitor='val_f1' is not a history column"):
        _fit(quick_config(monitor="val_f1"))
    with pytest.raises(UserError, match="the training batches are empty"):
        Trainer(make_model(), objective(), quick_config(monitor="train_loss"), device="cpu").fit([])


def test_warmup_scales_the_first_steps():
    torch.manual_seed(0)
    model = nn.Linear(3, 1, bias=False)
    batch = (torch.randn(4, 3), torch.randn(4, 1))
    config = quick_config(optimizer="sgd", lr=0.1, clip_norm=None, warmup_steps=4)
    trainer = Trainer(model, SupervisedObjective(nn.MSELoss()), config, device="cpu")
    trainer.setup()
    before = model.weight.detach().clone()
    trainer.train_step(batch)
    torch.testing.assert_close(model.weight.detach(), before - 0.1 * 0.25 * model.weight.grad)
    assert trainer.optimizer.param_groups[0]["lr"] == 0.1


def test_lr_schedule_is_recorded():
    _, history = _fit(quick_config(epochs=3, lr=0.1, lr_schedule="step", lr_step_size=1,
                                   lr_gamma=0.5))  # fmt: skip
    assert history.column("lr") == pytest.approx([0.1, 0.05, 0.025])


def test_log_every(caplog):
    with caplog.at_level(logging.INFO, logger="rnnkit.train.trainer"):
        _fit(quick_config(epochs=1, log_every=2))
    assert "epoch 1 batch 2: loss" in caplog.text and "epoch 1 batch 4: loss" in caplog.text
    assert "epoch 1/1  train_loss" in caplog.text


def test_request_stop_from_a_callback():
    class StopEarly(Recorder):
        def on_batch_end(self, trainer, epoch, batch_index, loss, stats):
            if epoch == 2 and batch_index == 1:
                trainer.request_stop("enough")

    trainer, history = _fit(quick_config(epochs=5), callbacks=[StopEarly()])
    assert trainer.stop_reason == "enough"
    assert [row["batches"] for row in history] == [4, 2]


class CarryState(Objective):
    """Truncated BPTT: the LSTM state goes from batch to batch, detached between them."""

    def __init__(self):
        self.state = None
        self.resets = 0

    def start_epoch(self, model, train):
        self.state, self.resets = None, self.resets + 1

    def _step(self, model, batch):
        x, y = batch["x"], batch["y"]
        out, state = model.lstm(x, self.state)  # (N, L, H)
        self.state = tuple(s.detach() for s in state)
        logits = model.out(out)  # (N, L, C)
        return nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten())

    def train_loss(self, model, batch):
        return self._step(model, batch), {"n": batch["y"].numel()}

    def evaluate(self, model, batches):
        losses = [self._step(model, b).item() for b in batches]
        return {"loss": sum(losses) / len(losses)}


def test_stateful_objective_with_carried_state():
    torch.manual_seed(0)
    stream = torch.randn(4, 30, 3)  # (N, T, H_in): 4 parallel streams
    targets = (stream[..., 0] > 0).long()  # (N, T)
    chunks = [{"x": stream[:, t : t + 5], "y": targets[:, t : t + 5]} for t in range(0, 30, 5)]
    obj = CarryState()
    trainer = Trainer(make_model(hidden=6), obj, quick_config(epochs=3, lr=0.02), device="cpu")
    history = trainer.fit(chunks, chunks)
    assert obj.resets == 6  # before each training epoch and each evaluation
    assert history[-1]["train_loss"] < history[0]["train_loss"]


def test_progress_bars_on_stderr(capsys):
    _fit(quick_config(epochs=1, progress=True))
    err = capsys.readouterr().err
    assert "epoch 1/1" in err and "validate 1" in err


def test_resume_after_a_time_budget_stop_goes_on_with_the_next_epoch(tmp_path):
    run = tmp_path / "run"
    trainer, history = _fit(quick_config(epochs=3, max_time_minutes=1e-9), out_dir=run)
    assert len(history) == 1
    trainer, history = _fit(quick_config(epochs=3), out_dir=run, resume=True)
    assert [row["batches"] for row in history] == [1, 4, 4]
    assert trainer.stop_reason == "completed"


def test_overwrite_clears_the_old_reports(tmp_path):
    run = tmp_path / "run"
    _fit(quick_config(epochs=1, plot=True), out_dir=run)
    assert (run / "curves.png").exists()
    _fit(quick_config(epochs=1, plot=False), out_dir=run, overwrite=True)
    assert not (run / "curves.png").exists()


TORCH_LSTM_BF16 = pytest.mark.skipif(
    not onednn_bfloat16_lstm(),
    reason="torch.nn.LSTM fails under CPU bf16 autocast here (oneDNN's bf16 LSTM needs AVX-512)",
)


@pytest.mark.bf16
@pytest.mark.parametrize("layer", ["rnnkit.nn", pytest.param("torch.nn", marks=TORCH_LSTM_BF16)])
def test_bf16_precision_runs_forward_passes_under_autocast(layer):
    seen = []

    class Spy(SupervisedObjective):
        def train_loss(self, model, batch):
            seen.append(torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu"))
            return super().train_loss(model, batch)

    x = torch.randn(8, 5, 3)
    y = torch.arange(8) % 3
    config = quick_config(epochs=100, lr=0.05, monitor="train_loss", precision="bf16")
    model = make_model(dropout=0.0)
    if layer == "rnnkit.nn":  # the same weights in rnnkit's drop-in
        weights = model.lstm.state_dict()
        model.lstm = rnn.LSTM(3, 8, batch_first=True)
        model.lstm.load_state_dict(weights)
    trainer = Trainer(model, Spy(nn.CrossEntropyLoss()), config, device="cpu")
    history = trainer.fit([(x, y)])
    assert seen[0] == torch.bfloat16
    assert history[-1]["train_loss"] < 0.1  # learns in bf16
    assert all(p.dtype == torch.float32 for p in model.parameters())  # weights stay fp32
    with pytest.raises(UserError, match="precision"):
        quick_config(precision="fp16")


def test_bf16_precision_is_a_user_error_where_bf16_cannot_run(monkeypatch):
    """Checked when the trainer is made, before any data; forced here, so every machine checks
    it (an AVX2 CPU raises the second error for real)."""
    config = quick_config(precision="bf16")
    monkeypatch.setattr(device_module, "onednn_bfloat16_lstm", lambda: False)
    with pytest.raises(UserError, match=r"torch.nn.LSTM fails .* expected rnnkit.nn.LSTM"):
        Trainer(make_model(), objective(), config, device="cpu")
    monkeypatch.setattr(device_module, "bf16_works", lambda device: False)
    with pytest.raises(UserError, match="expected precision fp32 or auto, got bf16"):
        Trainer(make_model(), objective(), config, device="cpu")
    for precision in ("fp32", "auto"):  # auto: bf16 only on bf16 hardware, which works
        config = quick_config(precision=precision)
        assert not Trainer(make_model(), objective(), config, device="cpu").bf16


def test_tensorboard_log_writes_scalars_beside_the_history(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    _fit(quick_config(log="tensorboard"), out_dir=tmp_path / "run")
    events = EventAccumulator(str(tmp_path / "run" / "tensorboard"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"train/loss", "val/loss", "val/accuracy", "lr", "batch/loss"} <= tags
    assert [e.step for e in events.Scalars("val/loss")] == [1, 2]
    with pytest.raises(UserError, match="expected an out_dir"):
        _fit(quick_config(log="tensorboard"))
