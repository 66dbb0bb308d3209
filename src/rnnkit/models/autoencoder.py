"""LSTM autoencoder over windows of a series (Malhotra et al. 2016, "LSTM-based
encoder-decoder for multi-sensor anomaly detection").

The encoder reads the window; its last state starts a decoder that rebuilds the window in
reverse order, each step reading the value it rebuilt before (teacher-forced while training)::

    h_L = Encoder(x_1..x_L)                              (N, H)
    x̂_L = W h_L + b;   s_{L} = h_L
    s_{i} = Decoder(x_{i+1}, s_{i+1}),  x̂_i = W s_i + b  i = L-1 .. 1 (x_{i+1}: true or x̂_{i+1})

trained on normal windows with the mean squared error Σ_i (x_i - x̂_i)^2 / L; a window it cannot
rebuild well is unlike those it was trained on.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnkit.models.recurrent import build_cell, build_recurrent

__all__ = ["LSTMAutoencoder"]


class LSTMAutoencoder(nn.Module):
    """Windows (N, L, k) in, their reconstructions (N, L, k) out (the module docstring)."""

    def __init__(self, input_size: int, hidden: int) -> None:
        super().__init__()
        self.encoder = build_recurrent("lstm", input_size, hidden, init="orthogonal",
                                       forget_bias=1.0)  # fmt: skip
        self.decoder = build_cell("lstm", input_size, hidden, init="orthogonal", forget_bias=1.0)
        self.output = nn.Linear(hidden, input_size)

    def forward(self, windows: Tensor, teacher: bool = False) -> Tensor:
        _, (h, c) = self.encoder(windows)  # (1, N, H) each
        state = (h[-1], c[-1])  # (N, H)
        value = self.output(state[0])  # (N, k): the last value rebuilt first
        rebuilt = [value]
        for i in range(windows.shape[1] - 2, -1, -1):
            previous = windows[:, i + 1] if teacher else value  # (N, k)
            state = self.decoder(previous, state)
            value = self.output(state[0])  # (N, k)
            rebuilt.append(value)
        return torch.stack(rebuilt[::-1], dim=1)  # (N, L, k)
