"""The forecasting objective: the head's loss on scaled windows (see ``rnnkit.models.forecaster``)
and, on validation, the loss and the mean absolute error of the forecast in scaled units."""

from __future__ import annotations

import torch

from rnnkit.models.forecaster import forecast_loss, interval
from rnnkit.train import Objective
from rnnkit.train.metrics import WeightedMeans

__all__ = ["ForecastObjective"]


class ForecastObjective(Objective):
    """A batch is ``(inputs (N, L, k + c), targets (N, h, k))``. In training the model is also
    given the targets (a seq2seq decoder reads them, teacher forcing); on validation it forecasts
    from the inputs alone, as it will be used."""

    def __init__(self, head: str, coverage: float) -> None:
        self.head = head
        self.coverage = coverage

    def train_loss(self, model, batch):
        inputs, targets = batch
        output = model(inputs, targets)  # (N, h, k, P); targets: seq2seq teacher forcing
        loss = forecast_loss(output, targets, self.head, self.coverage)
        return loss, {"n": len(targets)}

    @torch.no_grad()
    def evaluate(self, model, batches):
        means = WeightedMeans()
        for inputs, targets in batches:
            output = model(inputs)  # (N, h, k, P)
            forecast, _, _ = interval(output, self.head, self.coverage)  # (N, h, k)
            means.add(
                {
                    "loss": forecast_loss(output, targets, self.head, self.coverage).item(),
                    "scaled_mae": (forecast - targets).abs().mean().item(),
                },
                weight=len(targets),
            )
        return means.means()
