"""Forecasters: a window of past values in, the next ``horizon`` values out, by architecture.

``direct`` (many-to-one with a direct multi-step head, :class:`RNNForecaster`)::

    x_1..x_L = [z_t ; c_t]                      scaled targets and covariates   (N, L, k + c)
    h_1..h_L = RNN(x_1..x_L)                    stacked RNN/LSTM/GRU             (N, L, H)
    o = W dropout(h_L) + b                      every step's outputs at once     (N, h * k * P)

``seq2seq`` (many-to-many encoder-decoder, :class:`Seq2SeqForecaster`): an encoder reads the
window, a decoder with its own weights starts from the encoder's final state and runs one step
per forecast step, reading the previous step's target value::

    s_0 = final state of RNN_enc(x_1..x_L)      (h, and c for an LSTM, per layer)  (layers, N, H)
    u_1 = z_L                                   the last observed target            (N, k)
    d_j, s_j = RNN_dec(u_j, s_{j-1})            j = 1..h                            (N, H)
    o_j = W dropout(d_j) + b                    step j's outputs                    (N, k * P)
    u_{j+1} = y_j  (teacher forcing: the true value, training only)
            | ŷ_j  (its own point forecast of step j: the forecast, mean or median)
            | x̃_j  (a draw of step j's distribution, when ``noise`` is given: a sample path)

In training each step is fed the true value with probability ``teacher_forcing`` (drawn per
window and step, a fixed-rate scheduled sampling), else its own forecast, through which the
gradient flows; at inference (and validation) always its own forecast. The decoder reads no
covariates: they are observed up to the forecast origin only (their future is unknown), so
they reach it through the encoder's state.

Both give P outputs per step and target, by head:

* ``point``: P = 1, the forecast ŷ; trained with the mean squared error (ŷ - y)^2.
* ``gaussian``: P = 2, mean μ and σ = softplus(s) + 1e-4; trained with the Gaussian negative
  log-likelihood ½ log(2π σ^2) + (y - μ)^2 / (2 σ^2); the interval of coverage c is
  μ ± z_{(1+c)/2} σ.
* ``quantile``: P = 3, the quantiles q ∈ {(1-c)/2, ½, (1+c)/2} of coverage c; trained with the
  pinball loss max(q e, (q - 1) e), e = y - ŷ_q; the forecast is the median.

``members`` M > 1 (:class:`EnsembleForecaster`, a deep ensemble) trains M forecasters of the
architecture side by side from different initial weights, each on its own loss (the mean of the
M losses is minimised, so no member's gradient reads another's output), and forecasts with their
combination (:func:`combine_members`): the mean of the point forecasts; for Gaussian heads the
mixture's mean and standard deviation,

    μ = (1/M) Σ μ_m,   σ^2 = (1/M) Σ (σ_m^2 + μ_m^2) - μ^2

(returned as the head's raw outputs, s = softplus^{-1}(σ - 1e-4)); for quantile heads the mean
of each quantile (Vincentization). The members share what the trainer does to the whole model:
the batches and their order, gradient clipping (one norm over all members' gradients) and the
best epoch (picked on the combination's validation loss).

A sample path draws each step from its forecast distribution (:func:`sample`): the two-piece
normal through the interval's bounds l ≤ c ≤ u of coverage c_v,

    x̃ = c + ε (u - c) / z  if ε > 0,  else  c + ε (c - l) / z
    ε ~ N(0, 1),  z = Φ^{-1}((1 + c_v) / 2)

(the gaussian head's own distribution; for the quantile head, a normal on each side of its
median).
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

__all__ = [
    "ARCHITECTURES",
    "HEADS",
    "EnsembleForecaster",
    "ForecasterConfig",
    "RNNForecaster",
    "Seq2SeqForecaster",
    "build_forecaster",
    "combine_members",
    "forecast_loss",
    "interval",
    "point_forecast",
    "sample",
]

HEADS = {"point": 1, "gaussian": 2, "quantile": 3}  # head -> outputs per step and target
SIGMA_FLOOR = 1e-4  # the gaussian head's σ = softplus(s) + SIGMA_FLOOR
ARCHITECTURES = ("direct", "seq2seq")


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
        architecture: direct (many-to-one: one RNN reads the window and a linear head
            forecasts every step at once from its last state) or seq2seq (many-to-many: an
            encoder reads the window, a decoder steps through the horizon, each step reading
            the previous step's value — its own forecast at inference — for long horizons).
        teacher_forcing: seq2seq only: the probability that a decoder step in training reads
            the true previous value rather than the model's own forecast (1: plain teacher
            forcing, one decoder call over the horizon: the fastest; 0: free running, trained as
            it forecasts; between: drawn per window and step, a fixed-rate scheduled sampling).
        members: forecasters trained side by side from different initial weights, each on
            its own loss, forecasting with the mean of their forecasts (Gaussian heads as their
            mixture): a deep ensemble, M times the training time, a steadier forecast on short
            series.
    """

    KIND: ClassVar[str] = "model setting"
    CHOICES: ClassVar[dict[str, Any]] = {
        "cell": CELLS,
        "init": INIT_NAMES,
        "head": tuple(HEADS),
        "architecture": ARCHITECTURES,
    }
    RANGES: ClassVar[dict[str, str]] = {
        "input_size": "[1, inf)",
        "num_targets": "[1, inf)",
        "output_steps": "[1, inf)",
        "hidden": "[1, inf)",
        "layers": "[1, inf)",
        "dropout": "[0, 1)",
        "coverage": "(0, 1)",
        "teacher_forcing": "[0, 1]",
        "members": "[1, inf)",
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
    architecture: str = "direct"
    teacher_forcing: float = 1.0
    members: int = 1


def build_forecaster(config: ForecasterConfig) -> nn.Module:
    """The forecaster of ``config.architecture``; an ensemble of them when ``members`` > 1."""
    if config.members > 1:
        return EnsembleForecaster(config)
    return Seq2SeqForecaster(config) if config.architecture == "seq2seq" else RNNForecaster(config)


class RNNForecaster(nn.Module):
    """RNN over the input window → linear head on the last state (``direct``, see the module
    docstring).

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

    def forward(
        self, windows: Tensor, targets: Tensor | None = None, noise: Tensor | None = None
    ) -> Tensor:
        """``targets`` (N, h, k), given in training, and a sample path's ``noise`` are not
        read: the head forecasts every step from the window alone."""
        out, _ = self.rnn(windows)  # (N, L, H)
        last = self.dropout(out[:, -1])  # (N, H)
        c = self.config
        return self.head(last).view(-1, c.output_steps, c.num_targets, self.outputs)  # (N, h, k, P)

    def quantile_levels(self) -> tuple[float, float, float]:
        """The quantile head's levels: (lower, median, upper)."""
        tail = (1 - self.config.coverage) / 2
        return (tail, 0.5, 1 - tail)


class Seq2SeqForecaster(nn.Module):
    """Encoder over the input window, decoder stepped through the horizon (``seq2seq``, see the
    module docstring).

    Input: windows (N, L, input_size) and, in training, the targets (N, h, num_targets) for
    teacher forcing. Output: (N, output_steps, num_targets, P), P by ``head``.
    """

    def __init__(self, config: ForecasterConfig) -> None:
        super().__init__()
        self.config = c = config
        options = dict(dropout=c.dropout, init=c.init,
                       forget_bias=c.forget_bias if c.cell == "lstm" else None)  # fmt: skip
        self.encoder = build_recurrent(c.cell, c.input_size, c.hidden, c.layers, **options)
        self.decoder = build_recurrent(c.cell, c.num_targets, c.hidden, c.layers, **options)
        self.dropout = nn.Dropout(c.dropout)
        self.outputs = HEADS[c.head]
        self.head = nn.Linear(c.hidden, c.num_targets * self.outputs)

    def encode(self, windows: Tensor) -> Any:
        """The encoder's final state s_0 of ``windows`` (N, L, input_size): (layers, N, H), a
        pair of them for an LSTM."""
        _, state = self.encoder(windows)
        return state

    def decode(self, inputs: Tensor, state: Any) -> tuple[Tensor, Any]:
        """Decoder steps from ``state`` reading ``inputs`` u_j (N, J, k): their outputs o_j
        (N, J, k, P) and the state after the last one."""
        out, state = self.decoder(inputs, state)  # (N, J, H)
        n, steps = inputs.shape[:2]
        output = self.head(self.dropout(out))  # (N, J, k * P)
        return output.view(n, steps, self.config.num_targets, self.outputs), state

    def forward(
        self, windows: Tensor, targets: Tensor | None = None, noise: Tensor | None = None
    ) -> Tensor:
        """The outputs (N, h, k, P) of ``windows`` (N, L, input_size); with ``targets``
        (N, h, k) each step reads the true previous value with probability
        ``teacher_forcing`` (all at once when it is 1), else its own point forecast; with
        ``noise`` ε (N, h, k) it reads its own draw of the previous step (:func:`sample`), a
        sample path whose outputs are each step's distribution given the draws before it."""
        c = self.config
        state = self.encode(windows)
        previous = windows[:, -1:, : c.num_targets]  # (N, 1, k): u_1 = z_L
        rate = c.teacher_forcing if targets is not None else 0.0
        if rate == 1.0:  # every step reads the truth: one decoder call over the horizon
            inputs = torch.cat([previous, targets[:, :-1].to(previous.dtype)], dim=1)  # (N, h, k)
            return self.decode(inputs, state)[0]
        steps = []
        for j in range(c.output_steps):
            output, state = self.decode(previous, state)  # (N, 1, k, P)
            steps.append(output)
            previous = point_forecast(output, c.head)  # (N, 1, k): ŷ_j
            if noise is not None:  # x̃_j: a draw, the path goes on from it
                bounds = interval(output, c.head, c.coverage)  # (N, 1, k) each
                previous = sample(*bounds, noise[:, j : j + 1], c.coverage).to(previous.dtype)
            if rate > 0 and j + 1 < c.output_steps:
                truth = torch.rand(len(windows), 1, 1, device=windows.device) < rate  # (N, 1, 1)
                previous = torch.where(truth, targets[:, j : j + 1].to(previous.dtype), previous)
        return torch.cat(steps, dim=1)  # (N, h, k, P)


class EnsembleForecaster(nn.Module):
    """``members`` forecasters of ``config.architecture`` (see the module docstring).

    Input: as one member. Output: in training mode each member's own outputs (M, N, h, k, P),
    for the objective to train each on its own loss; in eval mode their combination
    (N, h, k, P), as one forecaster's.
    """

    def __init__(self, config: ForecasterConfig) -> None:
        super().__init__()
        self.config = config
        single = config.replace(members=1)
        self.members = nn.ModuleList(build_forecaster(single) for _ in range(config.members))
        self.outputs = HEADS[config.head]

    def forward(
        self, windows: Tensor, targets: Tensor | None = None, noise: Tensor | None = None
    ) -> Tensor:
        outputs = torch.stack([member(windows, targets, noise) for member in self.members])
        return outputs if self.training else combine_members(outputs, self.config.head)


def combine_members(outputs: Tensor, head: str) -> Tensor:
    """The ensemble's raw output (N, h, k, P) of its members' ``outputs`` (M, N, h, k, P), by
    ``head`` (the equations are in the module docstring)."""
    if head == "point":
        return outputs.mean(dim=0)
    if head == "quantile":
        return outputs.sort(dim=-1).values.mean(dim=0)  # each member's quantiles, uncrossed
    mean, sigma = _gaussian(outputs)  # (M, N, h, k) each
    centre = mean.mean(dim=0)  # (N, h, k)
    variance = (sigma**2 + (mean - centre) ** 2).mean(dim=0)  # (N, h, k): the mixture's, as
    # the module's equation without its cancellation
    spread = (variance.sqrt() - SIGMA_FLOOR).clamp_min(1e-6)  # softplus(s) = σ - floor
    raw = spread + torch.log(1 - torch.exp(-spread))  # softplus^{-1}(x) = x + log(1 - e^{-x})
    return torch.stack([centre, raw], dim=-1)  # (N, h, k, 2)


def _gaussian(output: Tensor) -> tuple[Tensor, Tensor]:
    """The gaussian head's mean μ and standard deviation σ = softplus(s) + 1e-4, each
    (..., k), of its raw ``output`` (..., k, 2)."""
    return output[..., 0], F.softplus(output[..., 1]) + SIGMA_FLOOR


def forecast_loss(output: Tensor, targets: Tensor, head: str, coverage: float) -> Tensor:
    """The training loss of ``output`` (N, h, k, P) against ``targets`` (N, h, k), by ``head``
    (the equations are in the module docstring); of an ensemble's members' outputs
    (M, N, h, k, P), the mean of their M losses."""
    output = output.float()
    if output.dim() == 5:  # (M, N, h, k, P): each member on its own loss
        return torch.stack([forecast_loss(o, targets, head, coverage) for o in output]).mean()
    if head == "point":
        return F.mse_loss(output[..., 0], targets)
    if head == "gaussian":
        mean, sigma = _gaussian(output)  # (N, h, k) each
        return F.gaussian_nll_loss(mean, targets, sigma**2, full=True)
    tail = (1 - coverage) / 2
    levels = torch.tensor([tail, 0.5, 1 - tail], device=output.device)  # (3,)
    error = targets.unsqueeze(-1) - output  # (N, h, k, 3)
    return torch.maximum(levels * error, (levels - 1) * error).mean()


def point_forecast(output: Tensor, head: str) -> Tensor:
    """The forecast (N, h, k) of ``output`` (N, h, k, P): the point head's value, the mean, or
    the median of the (sorted) quantiles."""
    if head == "quantile":
        return output.sort(dim=-1).values[..., 1]
    return output[..., 0]


def interval(output: Tensor, head: str, coverage: float) -> tuple[Tensor, Tensor, Tensor]:
    """(forecast, lower, upper), each (N, h, k), of ``output`` (N, h, k, P); a point head's
    bounds equal its forecast (it has no interval)."""
    output = output.float()
    if head == "point":
        return output[..., 0], output[..., 0], output[..., 0]
    if head == "gaussian":
        mean, sigma = _gaussian(output)  # (N, h, k) each
        z = _z(coverage)
        return mean, mean - z * sigma, mean + z * sigma
    ordered = output.sort(dim=-1).values  # quantiles must not cross
    return ordered[..., 1], ordered[..., 0], ordered[..., 2]


def sample(centre: Any, lower: Any, upper: Any, noise: Any, coverage: float) -> Any:
    """A draw x̃ of the two-piece normal through an interval's bounds (the module docstring's
    equation): ``centre``, ``lower``, ``upper`` and the standard normal ``noise`` ε, tensors
    or arrays of one shape."""
    z = _z(coverage)
    above = noise > 0
    return centre + noise / z * (above * (upper - centre) + ~above * (centre - lower))


def _z(coverage: float) -> float:
    """z = Φ^{-1}((1 + coverage) / 2): the central interval of ``coverage`` is μ ± z σ."""
    return math.sqrt(2) * torch.erfinv(torch.tensor((1 + coverage) / 2) * 2 - 1).item()
