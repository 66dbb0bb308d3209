"""Many-to-one regression: a sequence of feature vectors in, ``k`` real values out.

x_1..x_T                                       standardised features (N, T, F)
h_1..h_T = RNN(x_1..x_T)                       stacked (bi)RNN, packed by length (N, T, D*H)
v = pool(h_1..h_{T_n})                         last/mean/max/attention (N, D*H)
ŷ = W dropout(v) + b                           standardised targets (N, k)

Trained with the mean squared error ``(1/(N k)) Σ (ŷ - y)^2`` on targets standardised with the
training split's mean and standard deviation (see ``rnnkit.tasks.regress``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from rnnkit.models.frames import PooledFrameRNN
from rnnkit.models.pooling import POOLINGS
from rnnkit.models.recurrent import CELLS
from rnnkit.nn.init import INIT_NAMES
from rnnkit.settings import Settings

__all__ = ["SequenceRegressorConfig", "SequenceRegressorModel"]


@dataclass
class SequenceRegressorConfig(Settings):
    """Everything needed to rebuild a :class:`SequenceRegressorModel` (saved in config.json).

    Args:
        input_size: features per step (from the data).
        num_outputs: values predicted per sequence (from the targets).
        hidden: hidden units per direction.
        layers: stacked recurrent layers.
        cell: the recurrent cell.
        bidirectional: read each sequence both ways.
        pooling: over time: the last state, the mean, the max, or attention.
        dropout: between recurrent layers and before the output layer.
        init: recurrent weight initialisation (orthogonal, xavier_uniform, uniform, ...).
        forget_bias: LSTM forget-gate bias.
    """

    KIND: ClassVar[str] = "model setting"
    CHOICES: ClassVar[dict[str, Any]] = {"cell": CELLS, "pooling": POOLINGS, "init": INIT_NAMES}
    RANGES: ClassVar[dict[str, str]] = {
        "input_size": "[1, inf)",
        "num_outputs": "[1, inf)",
        "hidden": "[1, inf)",
        "layers": "[1, inf)",
        "dropout": "[0, 1)",
    }

    input_size: int
    num_outputs: int
    hidden: int = 32
    layers: int = 1
    cell: str = "gru"
    bidirectional: bool = False
    pooling: str = "last"
    dropout: float = 0.0
    init: str | None = "orthogonal"
    forget_bias: float | None = 1.0


class SequenceRegressorModel(PooledFrameRNN):
    """Sequences → stacked uni/bidirectional RNN/LSTM/GRU → pooling → dropout → linear.

    Inputs: features (N, T, F) float, zero-padded after each sequence's end; lengths (N,)
    int64 steps per sequence. Output: (N, num_outputs), in the standardised target units.
    """

    def __init__(self, config: SequenceRegressorConfig) -> None:
        super().__init__(config, config.num_outputs)
