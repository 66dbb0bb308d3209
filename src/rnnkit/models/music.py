"""Polyphonic music as a sequence of 88-key frames: an RNN reads the frames so far and gives each
key of the next frame an independent probability of sounding.

x_0 = 0, x_1..x_T                        binary piano-roll frames (keys 21-108)   (N, T, 88)
h_t = RNN(x_{t-1}, h_{t-1})              stacked RNN/LSTM/GRU over the previous frame (N, T, H)
z_t = W dropout(h_t) + b                 one logit per key                        (N, T, 88)
P(x_t | x_<t) = Π_k σ(z_tk)^x_tk (1 - σ(z_tk))^(1 - x_tk)

The loss is the frame-level negative log-likelihood, ``-log P(x_t | x_<t)`` summed over the 88
keys (binary cross-entropy with logits) and averaged over frames (Boulanger-Lewandowski et al.
2012); see :mod:`rnnkit.tasks.music.objective`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from rnnkit.data.pianoroll import KEYS
from rnnkit.models.recurrent import CELLS, build_recurrent
from rnnkit.nn.init import INIT_NAMES
from rnnkit.settings import Settings

__all__ = ["PianoRollRNN", "PianoRollRNNConfig", "previous_frames"]


@dataclass
class PianoRollRNNConfig(Settings):
    """Everything needed to rebuild a :class:`PianoRollRNN` (saved in config.json).

    Args:
        hidden: hidden units per layer.
        layers: stacked recurrent layers.
        cell: the recurrent cell (tanh RNN, LSTM, GRU).
        dropout: between recurrent layers and before the output layer.
        input_dropout: on the input frames.
        recurrent_dropout: variational dropout on h_{t-1}, one mask per sequence (Gal 2016).
        weight_drop: DropConnect on the recurrent weights W_hh, one mask per batch (Merity
            et al. 2017).
        init: recurrent weight initialisation (orthogonal, xavier_uniform, uniform, ...).
        forget_bias: LSTM forget-gate bias.
    """

    KIND: ClassVar[str] = "model setting"
    CHOICES: ClassVar[dict[str, Any]] = {"cell": CELLS, "init": INIT_NAMES}
    RANGES: ClassVar[dict[str, str]] = {
        "hidden": "[1, inf)",
        "layers": "[1, inf)",
        "dropout": "[0, 1)",
        "input_dropout": "[0, 1)",
        "recurrent_dropout": "[0, 1)",
        "weight_drop": "[0, 1)",
    }

    hidden: int = 128
    layers: int = 1
    cell: str = "lstm"
    dropout: float = 0.3
    input_dropout: float = 0.0
    recurrent_dropout: float = 0.0
    weight_drop: float = 0.0
    init: str | None = "orthogonal"
    forget_bias: float | None = 1.0


def previous_frames(rolls: Tensor) -> Tensor:
    """The model's inputs for ``rolls`` (N, T, 88): each frame's predecessor, a silent frame
    first (x_0 = 0)."""
    silent = rolls.new_zeros(rolls.shape[0], 1, rolls.shape[2])  # (N, 1, 88)
    return torch.cat([silent, rolls[:, :-1]], dim=1)  # (N, T, 88)


class PianoRollRNN(nn.Module):
    """Previous frames → stacked RNN/LSTM/GRU → dropout → linear: next-frame key logits.

    Inputs: ``frames`` (N, T, 88) float, frame t holding x_{t-1} (see :func:`previous_frames`),
    and optionally the recurrent ``state`` to continue from. Padding after a piece's end needs
    no packing: the network reads left to right, so the outputs at real frames never see it
    (the loss masks the padded ones). Output: ``(logits (N, T, 88), state)``.
    """

    def __init__(self, config: PianoRollRNNConfig) -> None:
        super().__init__()
        self.config = c = config
        self.input_dropout = nn.Dropout(c.input_dropout)
        self.rnn = build_recurrent(
            c.cell,
            KEYS,
            c.hidden,
            c.layers,
            dropout=c.dropout,
            init=c.init,
            forget_bias=c.forget_bias if c.cell == "lstm" else None,
            recurrent_dropout=c.recurrent_dropout,
            weight_drop=c.weight_drop,
        )
        self.dropout = nn.Dropout(c.dropout)
        self.head = nn.Linear(c.hidden, KEYS)

    @torch.no_grad()
    def start_from_frequencies(self, frequencies: Tensor) -> None:
        """Set the output bias to each key's log-odds ``log(p_k / (1 - p_k))`` (``frequencies``
        (88,) in (0, 1)), so an untrained network already predicts the keys' training
        frequencies instead of 0.5 for every key (88 ln 2 ≈ 61 nats per frame)."""
        self.head.bias.copy_(torch.logit(frequencies.to(self.head.bias)))  # (88,)

    def forward(self, frames: Tensor, state: Any = None) -> tuple[Tensor, Any]:
        outputs, state = self.rnn(self.input_dropout(frames), state)  # (N, T, H)
        return self.head(self.dropout(outputs)), state  # (N, T, 88)
