"""Recognising speech from audio frames (log-mel or MFCC feature vectors): one class per
recording (:class:`SpeechClassifierModel`, the pooled network of :mod:`rnnkit.models.frames`,
equations there) or, for CTC, a distribution over the symbols and the blank at every frame
(:class:`SpeechCTCModel`, equations in its docstring)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from torch import Tensor, nn

from rnnkit.models.frames import PooledFrameRNN, frame_rnn, read_frames
from rnnkit.models.pooling import POOLINGS
from rnnkit.models.recurrent import CELLS
from rnnkit.nn.init import INIT_NAMES
from rnnkit.settings import Settings

__all__ = ["SpeechCTCConfig", "SpeechCTCModel", "SpeechClassifierConfig", "SpeechClassifierModel"]


@dataclass
class SpeechClassifierConfig(Settings):
    """Everything needed to rebuild a :class:`SpeechClassifierModel` (saved in config.json).

    Args:
        input_size: features per frame (from the features).
        num_classes: output classes (from the labels).
        hidden: hidden units per direction.
        layers: stacked recurrent layers.
        cell: the recurrent cell.
        bidirectional: read each recording both ways.
        pooling: over time: the last state, the mean, the max, or attention.
        dropout: between recurrent layers and before the output layer.
        input_dropout: on the feature frames.
        init: recurrent weight initialisation (orthogonal, xavier_uniform, uniform, ...).
        forget_bias: LSTM forget-gate bias.
    """

    KIND: ClassVar[str] = "model setting"
    CHOICES: ClassVar[dict[str, Any]] = {"cell": CELLS, "pooling": POOLINGS, "init": INIT_NAMES}
    RANGES: ClassVar[dict[str, str]] = {
        "input_size": "[1, inf)",
        "num_classes": "[2, inf)",
        "hidden": "[1, inf)",
        "layers": "[1, inf)",
        "dropout": "[0, 1)",
        "input_dropout": "[0, 1)",
    }

    input_size: int
    num_classes: int
    hidden: int = 128
    layers: int = 2
    cell: str = "gru"
    bidirectional: bool = True
    pooling: str = "mean"
    dropout: float = 0.2
    input_dropout: float = 0.0
    init: str | None = "orthogonal"
    forget_bias: float | None = 1.0


class SpeechClassifierModel(PooledFrameRNN):
    """Feature frames → stacked uni/bidirectional RNN/LSTM/GRU → pooling → dropout → linear.

    Inputs: features (N, T, F) float, zero-padded after each recording's end; lengths (N,)
    int64 frames per recording (on any device). Output: logits (N, num_classes).
    """

    def __init__(self, config: SpeechClassifierConfig) -> None:
        super().__init__(config, config.num_classes, config.input_dropout)


@dataclass
class SpeechCTCConfig(Settings):
    """Everything needed to rebuild a :class:`SpeechCTCModel` (saved in config.json).

    Args:
        input_size: features per frame (from the features).
        num_symbols: transcript symbols, the blank not counted (from the transcripts).
        hidden: hidden units per direction.
        layers: stacked recurrent layers.
        cell: the recurrent cell.
        bidirectional: read each utterance both ways.
        dropout: between recurrent layers and before the output layer.
        input_dropout: on the feature frames.
        init: recurrent weight initialisation (orthogonal, xavier_uniform, uniform, ...).
        forget_bias: LSTM forget-gate bias.
    """

    KIND: ClassVar[str] = "model setting"
    CHOICES: ClassVar[dict[str, Any]] = {"cell": CELLS, "init": INIT_NAMES}
    RANGES: ClassVar[dict[str, str]] = {
        "input_size": "[1, inf)",
        "num_symbols": "[1, inf)",
        "hidden": "[1, inf)",
        "layers": "[1, inf)",
        "dropout": "[0, 1)",
        "input_dropout": "[0, 1)",
    }

    input_size: int
    num_symbols: int
    hidden: int = 128
    layers: int = 2
    cell: str = "gru"
    bidirectional: bool = True
    dropout: float = 0.2
    input_dropout: float = 0.0
    init: str | None = "orthogonal"
    forget_bias: float | None = 1.0


class SpeechCTCModel(nn.Module):
    """Feature frames → stacked uni/bidirectional RNN/LSTM/GRU → dropout → linear → log-softmax
    per frame, over the blank (index 0) and the symbols (1..S); no pooling: CTC aligns.

    x_1..x_T                                   normalised features   (N, T, F)
    h_1..h_T = RNN(x_1..x_T)                   packed by length      (N, T, D*H)
    y_t = log softmax(W dropout(h_t) + b)      per frame             (N, T, S + 1)

    Inputs: features (N, T, F) float, zero-padded after each utterance's end; lengths (N,)
    int64 frames per utterance. Output: log-probabilities (N, T, S + 1); frames past an
    utterance's length are padding.
    """

    def __init__(self, config: SpeechCTCConfig) -> None:
        super().__init__()
        self.config = c = config
        self.input_dropout = nn.Dropout(c.input_dropout)
        self.rnn = frame_rnn(c)
        self.dropout = nn.Dropout(c.dropout)
        self.head = nn.Linear(c.hidden * (2 if c.bidirectional else 1), c.num_symbols + 1)

    def forward(self, features: Tensor, lengths: Tensor) -> Tensor:
        outputs, _ = read_frames(self.rnn, self.input_dropout(features), lengths)  # (N, T, D*H)
        return self.head(self.dropout(outputs)).log_softmax(-1)  # (N, T, S + 1)
