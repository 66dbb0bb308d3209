"""The RNN forecaster: output shapes per head, the losses' equations, overfitting one batch."""

import math

import numpy as np
import pytest
import torch

from rnnkit.models.forecaster import ForecasterConfig, RNNForecaster, forecast_loss, interval
from rnnkit.tasks.forecast.data import window_origins, windows


@pytest.mark.parametrize("head, outputs", [("point", 1), ("gaussian", 2), ("quantile", 3)])
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_shapes(head, outputs, cell):
    config = ForecasterConfig(input_size=3, num_targets=2, output_steps=4, hidden=8, cell=cell,
                              head=head)  # fmt: skip
    out = RNNForecaster(config)(torch.randn(5, 7, 3))
    assert out.shape == (5, 4, 2, outputs)
    centre, lower, upper = interval(out, head, 0.8)
    assert centre.shape == lower.shape == upper.shape == (5, 4, 2)
    assert (lower <= centre).all() and (centre <= upper).all()


def test_losses_match_their_equations():
    y = torch.tensor([[[1.0]]])  # (1, 1, 1)
    assert forecast_loss(torch.tensor([[[[3.0]]]]), y, "point", 0.8).item() == 4.0
    mean, raw = 2.0, 0.5
    sigma = math.log1p(math.exp(raw)) + 1e-4
    expected = 0.5 * math.log(2 * math.pi * sigma**2) + (1 - mean) ** 2 / (2 * sigma**2)
    got = forecast_loss(torch.tensor([[[[mean, raw]]]]), y, "gaussian", 0.8).item()
    assert got == pytest.approx(expected, rel=1e-5)
    # pinball at q = 0.1, 0.5, 0.9 of forecasts 0, 1, 3 for y = 1: (0.1*1 + 0 + 0.1*2) / 3
    got = forecast_loss(torch.tensor([[[[0.0, 1.0, 3.0]]]]), y, "quantile", 0.8).item()
    assert got == pytest.approx(0.3 / 3)
    _, lower, upper = interval(torch.tensor([[[[0.0, 0.0]]]]), "gaussian", 0.8)
    sigma = math.log(2) + 1e-4  # softplus(0)
    assert upper.item() == pytest.approx(1.2815516 * sigma, rel=1e-5) == -lower.item()


def test_overfits_one_batch_of_a_sine():
    torch.manual_seed(0)
    t = np.arange(120)
    z = np.sin(2 * np.pi * t / 12)[:, None]  # (120, 1)
    origins = window_origins(12, 0, 120, 3, stride=6)
    inputs, targets = windows(z, np.zeros((120, 0)), origins, 12, 3)  # (N, 12, 1), (N, 3, 1)
    model = RNNForecaster(ForecasterConfig(1, 1, 3, hidden=32, head="point"))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(300):
        loss = forecast_loss(model(inputs), targets, "point", 0.8)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 1e-3
