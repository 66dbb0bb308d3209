"""Tiny seeded models, data and settings shared by the tests of rnnkit.train."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from rnnkit.train import Callback, SupervisedObjective, TrainConfig, seed_everything
from rnnkit.train.metrics import accuracy

__all__ = [
    "NoisyObjective",
    "Recorder",
    "TinyLSTM",
    "make_loader",
    "make_model",
    "objective",
    "quick_config",
    "without_time",
]


def make_loader(n=48, seq_len=6, features=3, batch_size=12, seed=0, shuffle=True) -> DataLoader:
    """Random sequences with a learnable 3-class label; shuffled by the global torch RNG."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, seq_len, features, generator=g)  # (N, L, H_in)
    y = (x[:, :, 0].sum(1) > 0).long() + (x[:, :, 1].sum(1) > 1).long()  # (N,) in {0, 1, 2}
    return DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=shuffle)


class TinyLSTM(nn.Module):
    """LSTM → dropout → linear on the last step: a many-to-one classifier."""

    def __init__(self, features: int = 3, hidden: int = 8, classes: int = 3, dropout: float = 0.2):
        super().__init__()
        self.lstm = nn.LSTM(features, hidden, batch_first=True)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(hidden, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(x)  # (N, L, H)
        return self.out(self.drop(out[:, -1]))  # (N, C)


def make_model(seed: int = 0, **kwargs: Any) -> TinyLSTM:
    seed_everything(seed)
    return TinyLSTM(**kwargs)


def objective() -> SupervisedObjective:
    return SupervisedObjective(nn.CrossEntropyLoss(), {"accuracy": accuracy})


class NoisyObjective(SupervisedObjective):
    """Adds NumPy and Python-random noise to the inputs: exercises every RNG on resume."""

    def train_loss(self, model, batch):
        x, y = batch
        noise = torch.from_numpy(np.random.normal(0, 0.01, size=tuple(x.shape))).float()
        return super().train_loss(model, (x + noise, y))


def quick_config(**changes: Any) -> TrainConfig:
    settings: dict[str, Any] = {"epochs": 2, "lr": 0.01, "progress": False, "plot": False}
    settings.update(changes)
    return TrainConfig(**settings)


def without_time(rows) -> list[dict]:
    return [{k: v for k, v in row.items() if k != "time_s"} for row in rows]


class Recorder(Callback):
    """Records every hook call as (name, epoch); optionally raises in one of them."""

    def __init__(self, raise_at: tuple[str, int, int] | None = None) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.raise_at = raise_at

    def _maybe_raise(self, hook: str, epoch: int, index: int = 0) -> None:
        if self.raise_at == (hook, epoch, index):
            raise KeyboardInterrupt

    def on_fit_start(self, trainer):
        self.calls.append(("fit_start", None))

    def on_epoch_start(self, trainer, epoch):
        self.calls.append(("epoch_start", epoch))

    def on_batch_end(self, trainer, epoch, batch_index, loss, stats):
        self.calls.append(("batch_end", epoch))
        self._maybe_raise("batch_end", epoch, batch_index)

    def on_evaluate(self, trainer, epoch, metrics):
        self.calls.append(("evaluate", epoch))
        torch.rand(3)  # a sampling callback draws random numbers: must not change training

    def on_epoch_end(self, trainer, epoch, row):
        self.calls.append(("epoch_end", epoch))
        self._maybe_raise("epoch_end", epoch)

    def on_fit_end(self, trainer, history):
        self.calls.append(("fit_end", None))
