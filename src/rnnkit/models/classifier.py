"""Many-to-one: a sequence of tokens in, one label out.

e_t = E[x_t]                                   embedding       (N, L, E)
h_1..h_L = RNN(e_1..e_L)                       stacked (bi)RNN (N, L, D*H)
v = pool(h_1..h_{T_n})                         last/mean/max/attention (N, D*H)
logits = W dropout(v) + b                      (N, C)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnkit.models.pooling import SequencePooling
from rnnkit.models.recurrent import build_recurrent

__all__ = ["ClassifierConfig", "SequenceClassifier"]


@dataclass
class ClassifierConfig:
    """Everything needed to rebuild a :class:`SequenceClassifier` (saved in config.json)."""

    vocab_size: int
    num_classes: int
    embed: int = 128
    hidden: int = 256
    layers: int = 1
    cell: str = "lstm"
    bidirectional: bool = True
    pooling: str = "max"
    dropout: float = 0.5
    embed_dropout: float = 0.0
    recurrent_dropout: float = 0.0
    init: str | None = "orthogonal"
    forget_bias: float | None = 1.0
    padding_idx: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


class SequenceClassifier(nn.Module):
    """Embedding → stacked uni/bidirectional RNN/LSTM/GRU → pooling → dropout → linear.

    Inputs: tokens (N, L) int64 padded with ``padding_idx``, lengths (N,) int64 (on any device).
    Output: logits (N, num_classes).
    """

    def __init__(self, config: ClassifierConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        self.embedding = nn.Embedding(c.vocab_size, c.embed, padding_idx=c.padding_idx)
        self.embed_dropout = nn.Dropout(c.embed_dropout)
        self.rnn = build_recurrent(
            c.cell,
            c.embed,
            c.hidden,
            c.layers,
            bidirectional=c.bidirectional,
            dropout=c.dropout,
            init=c.init,
            forget_bias=c.forget_bias if c.cell == "lstm" else None,
            recurrent_dropout=c.recurrent_dropout,
        )
        features = c.hidden * (2 if c.bidirectional else 1)
        self.pool = SequencePooling(c.pooling, features)
        self.dropout = nn.Dropout(c.dropout)
        self.head = nn.Linear(features, c.num_classes)

    def forward(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        embedded = self.embed_dropout(self.embedding(tokens))  # (N, L, E)
        packed = pack_padded_sequence(
            embedded, lengths.cpu(), batch_first=True, enforce_sorted=False
        )
        packed_out, state = self.rnn(packed)
        outputs, _ = pad_packed_sequence(
            packed_out, batch_first=True, total_length=tokens.shape[1]
        )  # (N, L, D*H)
        h_n = state[0] if isinstance(state, tuple) else state  # (layers*D, N, H)
        top = h_n[-(2 if self.config.bidirectional else 1) :]  # (D, N, H)
        pooled = self.pool(outputs, lengths, top)  # (N, D*H)
        return self.head(self.dropout(pooled))  # (N, C)
