"""Recurrent networks over variable-length sequences of feature vectors (audio frames, numeric
series): the stacked (bi)RNN a config describes, read packed by length, and the pooled
many-to-one network the speech classifier and the sequence regressor share.

x_1..x_T                                       standardised features (N, T, F)
h_1..h_T = RNN(dropout_in(x_1..x_T))           stacked (bi)RNN, packed by length (N, T, D*H)
v = pool(h_1..h_{T_n})                         last/mean/max/attention (N, D*H)
z = W dropout(v) + b                           one output per class or value (N, K)
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnkit.models.pooling import SequencePooling
from rnnkit.models.recurrent import build_recurrent

__all__ = ["PooledFrameRNN", "frame_rnn", "read_frames"]


def frame_rnn(c: Any) -> nn.Module:
    """The stacked (bi)RNN over feature frames that a config (``cell``, ``input_size``,
    ``hidden``, ``layers``, ``bidirectional``, ``dropout``, ``init``, ``forget_bias``)
    describes."""
    return build_recurrent(
        c.cell, c.input_size, c.hidden, c.layers, bidirectional=c.bidirectional,
        dropout=c.dropout, init=c.init, forget_bias=c.forget_bias if c.cell == "lstm" else None,
    )  # fmt: skip


def read_frames(rnn: nn.Module, frames: Tensor, lengths: Tensor) -> tuple[Tensor, Any]:
    """``rnn`` over ``frames (N, T, F)`` packed by ``lengths (N,)``: the outputs zero-padded
    ``(N, T, D*H)`` and the final state."""
    packed = pack_padded_sequence(frames, lengths.cpu(), batch_first=True, enforce_sorted=False)
    packed_out, state = rnn(packed)
    outputs, _ = pad_packed_sequence(packed_out, batch_first=True, total_length=frames.shape[1])
    return outputs, state  # (N, T, D*H), h_n or (h_n, c_n)


class PooledFrameRNN(nn.Module):
    """Frames → stacked uni/bidirectional RNN/LSTM/GRU → pooling → dropout → linear (the module
    docstring's equations); ``config`` as :func:`frame_rnn` reads it, plus ``pooling``.

    Inputs: features (N, T, F) float, zero-padded after each sequence's end; lengths (N,)
    int64 frames per sequence (on any device). Output: (N, outputs).
    """

    def __init__(self, config: Any, outputs: int, input_dropout: float = 0.0) -> None:
        super().__init__()
        self.config = c = config
        self.input_dropout = nn.Dropout(input_dropout)
        self.rnn = frame_rnn(c)
        features = c.hidden * (2 if c.bidirectional else 1)
        self.pool = SequencePooling(c.pooling, features)
        self.dropout = nn.Dropout(c.dropout)
        self.head = nn.Linear(features, outputs)

    def forward(self, features: Tensor, lengths: Tensor) -> Tensor:
        outputs, state = read_frames(self.rnn, self.input_dropout(features), lengths)  # (N, T, D*H)
        h_n = state[0] if isinstance(state, tuple) else state  # (layers*D, N, H)
        top = h_n[-(2 if self.config.bidirectional else 1) :]  # (D, N, H)
        pooled = self.pool(outputs, lengths, top)  # (N, D*H)
        return self.head(self.dropout(pooled))  # (N, outputs)
