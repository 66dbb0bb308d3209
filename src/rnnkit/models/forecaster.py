"""Many-to-one forecaster: a window of past values in, the next ``horizon`` values out at once.

x_1..x_L = [z_t ; c_t]                          scaled targets and covariates   (N, L, k + c)
h_1..h_L = RNN(x_1..x_L)                        stacked RNN/LSTM/GRU             (N, L, H)
o = W dropout(h_L) + b                          direct multi-step head           (N, h * k * P)

with P outputs per step and target, by head:

* ``point``: P = 1, the forecast ŷ; trained with the mean squared error (ŷ - y)^2.
* ``gaussian``: P = 2, mean μ and σ = softplus(s) + 1e-4; trained with the Gaussian negative
  log-likelihood ½ log(2π σ^2) + (y - μ)^2 / (2 σ^2); the interval of coverage c is
  μ ± z_{(1+c)/2} σ.
* ``quantile``: P = 3, the quantiles q ∈ {(1-c)/2, ½, (1+c)/2} of coverage c; trained with the
  pinball loss max(q e, (q - 1) e), e = y - ŷ_q; the forecast is the median.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.models.recurrent import CELLS, build_recurrent
from rnnkit.nn.init import INIT_NAMES
from rnnkit.settings import Settings

__all__ = ["HEADS", "ForecasterConfig", "RNNForecaster", "forecast_loss", "interval"]

HEADS = {"point": 1, "gaussian": 2, "quantile": 3}  # head -> outputs per step and target


@dataclass
class ForecasterConfig(Settings):
    """Everything needed to rebuild an :class:`RNNForecaster` (saved in config.json).

    Args:
        input_size: features per time step: targets plus covariates (from the data).
        num_targets: the series forecast (from the data).
        output_steps: the steps forecast at once (the data settings' horizon).
        hidden: hidden units.
        layers: stacked recurrent layers.
        cell: the recurrent cell.
        dropout: between recurrent layers and before the head.
        init: recurrent weight initialisation.
        forget_bias: LSTM forget-gate bias.
        head: point (mean squared error), gaussian (mean and standard deviation, Gaussian
            negative log-likelihood) or quantile (pinball loss on the interval's bounds and
            the median): the last two give forecasts with intervals.
        coverage: the central interval the gaussian and quantile heads forecast (0.8: from
            the 10% to the 90% quantile); a point head gives no interval.
    """

    KIND: ClassVar[str] = "model setting"
    CHOICES: ClassVar[dict[str, Any]] = {"cell": CELLS, "init": INIT_NAMES, "head": tuple(HEADS)}
    RANGES: ClassVar[dict[str, str]] = {
        "input_size": "[1, inf)",
        "num_targets": "[1, inf)",
        "output_steps": "[1, inf)",
        "hidden": "[1, inf)",
        "layers": "[1, inf)",
        "dropout": "[0, 1)",
        "coverage": "(0, 1)",
    }

    input_size: int
    num_targets: int
    output_steps: int
    hidden: int = 64
    layers: int = 1
    cell: str = "lstm"
    dropout: float = 0.0
    init: str | None = "orthogonal"
    forget_bias: float | None = 1.0
    head: str = "gaussian"
    coverage: float = 0.8


class RNNForecaster(nn.Module):
    """RNN over the input window → linear head on the last state (see the module docstring).

    Input: windows (N, L, input_size). Output: (N, output_steps, num_targets, P), P by ``head``.
    """

    def __init__(self, config: ForecasterConfig) -> None:
        super().__init__()
        self.config = c = config
        self.rnn = build_recurrent(
            c.cell, c.input_size, c.hidden, c.layers, dropout=c.dropout, init=c.init,
            forget_bias=c.forget_bias if c.cell == "lstm" else None,
        )  # fmt: skip
        self.dropout = nn.Dropout(c.dropout)
        self.outputs = HEADS[c.head]
        self.head = nn.Linear(c.hidden, c.output_steps * c.num_targets * self.outputs)

    def forward(self, windows: Tensor) -> Tensor:
        out, _ = self.rnn(windows)  # (N, L, H)
        last = self.dropout(out[:, -1])  # (N, H)
        c = self.config
        return self.head(last).view(-1, c.output_steps, c.num_targets, self.outputs)  # (N, h, k, P)

    def quantile_levels(self) -> tuple[float, float, float]:
        """The quantile head's levels: (lower, median, upper)."""
        tail = (1 - self.config.coverage) / 2
        return (tail, 0.5, 1 - tail)


def forecast_loss(output: Tensor, targets: Tensor, head: str, coverage: float) -> Tensor:
    """The training loss of ``output`` (N, h, k, P) against ``targets`` (N, h, k), by ``head``
    (the equations are in the module docstring)."""
    output = output.float()
    if head == "point":
        return F.mse_loss(output[..., 0], targets)
    if head == "gaussian":
        mean, sigma = output[..., 0], F.softplus(output[..., 1]) + 1e-4  # (N, h, k) each
        return F.gaussian_nll_loss(mean, targets, sigma**2, full=True)
    tail = (1 - coverage) / 2
    levels = torch.tensor([tail, 0.5, 1 - tail], device=output.device)  # (3,)
    error = targets.unsqueeze(-1) - output  # (N, h, k, 3)
    return torch.maximum(levels * error, (levels - 1) * error).mean()


def interval(output: Tensor, head: str, coverage: float) -> tuple[Tensor, Tensor, Tensor]:
    """(forecast, lower, upper), each (N, h, k), of ``output`` (N, h, k, P); a point head's
    bounds equal its forecast (it has no interval)."""
    output = output.float()
    if head == "point":
        return output[..., 0], output[..., 0], output[..., 0]
    if head == "gaussian":
        mean, sigma = output[..., 0], F.softplus(output[..., 1]) + 1e-4
        z = math.sqrt(2) * torch.erfinv(torch.tensor((1 + coverage) / 2) * 2 - 1).item()
        return mean, mean - z * sigma, mean + z * sigma
    ordered = output.sort(dim=-1).values  # quantiles must not cross
    return ordered[..., 1], ordered[..., 0], ordered[..., 2]
