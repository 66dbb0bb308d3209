"""Divergence without a NaN loss stops training cleanly; nothing non-finite is kept as best."""

import json
import logging
import math
import types

import pytest
import torch
from torch import nn

from rnnkit.train import NonFiniteLossError, SupervisedObjective, Trainer
from rnnkit.train.monitor import MetricMonitor

from .helpers import make_loader, make_model, objective, quick_config


def _fit(config, out_dir, obj=None):
    trainer = Trainer(make_model(), obj or objective(), config, device="cpu")
    trainer.fit(make_loader(), make_loader(n=24, seed=1, shuffle=False), out_dir=out_dir)
    return trainer


def _finite_best(run):
    if not (run / "best").exists():
        return True
    metrics = json.loads((run / "best" / "metrics.json").read_text())
    return all(v is not None and math.isfinite(v) for k, v in metrics.items() if "loss" in k)


def test_a_huge_lr_stops_with_a_clear_error(tmp_path):
    run = tmp_path / "run"
    with pytest.raises(NonFiniteLossError) as info:
        _fit(quick_config(epochs=5, lr=1e3, optimizer="sgd"), run)
    message = str(info.value)
    assert "loss became" in message and "training diverged" in message
    assert "1000 times the first batch's loss" in message
    assert "Lower lr (now 1000.0)" in message and str(run / "last") in message
    assert _finite_best(run)


class InfiniteValidation(SupervisedObjective):
    def __init__(self):
        super().__init__(nn.CrossEntropyLoss())
        self.calls = 0

    def evaluate(self, model, batches):
        self.calls += 1
        metrics = super().evaluate(model, batches)
        return {**metrics, "loss": math.inf} if self.calls == 2 else metrics


def test_a_non_finite_validation_loss_stops_and_is_never_best(tmp_path):
    run = tmp_path / "run"
    with pytest.raises(
        NonFiniteLossError, match="validation loss became inf at the end of epoch 2"
    ):
        _fit(quick_config(epochs=3), run, obj=InfiniteValidation())
    assert json.loads((run / "best" / "metrics.json").read_text())["epoch"] == 1
    assert json.loads((run / "metrics.json").read_text())["epochs"] == 1  # epoch 2 not saved


def test_the_monitor_never_keeps_a_non_finite_value():
    for mode, bad in (("min", -math.inf), ("max", math.inf), ("min", math.nan)):
        monitor = MetricMonitor("val_loss", mode)
        assert not monitor.update(bad, 1) and monitor.best is None
        assert monitor.update(1.0, 2) and monitor.best_epoch == 2


def test_the_lm_sample_is_skipped_with_a_warning_on_nan_weights(tmp_path, caplog):
    from rnnkit.models import LanguageModelConfig, RNNLanguageModel
    from rnnkit.tasks.lm.data import build_vocabulary, load_corpus, make_tokenizer
    from rnnkit.tasks.lm.objective import SampleCallback, SampleSettings

    (tmp_path / "corpus.txt").write_text("hello world\n" * 8, encoding="utf-8")
    tokenizer = make_tokenizer("char", str(tmp_path / "corpus.txt"))
    vocab = build_vocabulary(load_corpus(str(tmp_path / "corpus.txt")).texts, tokenizer, "char")
    config = LanguageModelConfig(vocab_size=len(vocab), embed=4, hidden=4, layers=1, dropout=0.0)
    model = RNNLanguageModel(config)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.fill_(math.nan)
    callback = SampleCallback(vocab, tokenizer, "char", SampleSettings(sample_length=5))
    trainer = types.SimpleNamespace(model=model, device=torch.device("cpu"))
    with caplog.at_level(logging.WARNING):
        callback.on_evaluate(trainer, 1, {"loss": 1.0})
    assert "no sample after epoch 1" in caplog.text
    assert "NaN or infinite" in caplog.text
