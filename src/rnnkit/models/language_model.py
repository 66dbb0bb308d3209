"""Many-to-many, synced: predict every next token of a sequence.

    e_t = E[x_t]  (or one_hot(x_t) for character models)    (N, L, E)
    h_t = RNN(e_t, h_{t-1})                                   (N, L, H)
    p(x_{t+1} | x_≤t) = softmax(W dropout(h_t) + b)           (N, L, V)

Dropout follows Zaremba et al. (2014): on the embeddings, between layers and before the output
layer, never on the recurrent connections (``recurrent_dropout`` adds Gal's variational kind).
``tie_weights`` shares the embedding with the output layer (Press & Wolf 2017; Inan et al. 2017);
it needs ``embed == hidden``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.models.recurrent import build_recurrent

__all__ = ["LanguageModel", "LanguageModelConfig"]


@dataclass
class LanguageModelConfig:
    """Everything needed to rebuild a :class:`LanguageModel` (saved in config.json)."""

    vocab_size: int
    embed: int = 128
    hidden: int = 512
    layers: int = 2
    cell: str = "lstm"
    dropout: float = 0.0
    recurrent_dropout: float = 0.0
    one_hot: bool = False
    tie_weights: bool = False
    init: str | None = None
    forget_bias: float | None = 1.0

    def to_dict(self) -> dict:
        return asdict(self)


class LanguageModel(nn.Module):
    """Embedding (or one-hot) → stacked RNN/LSTM/GRU → linear to the vocabulary.

    Inputs: tokens (N, L) int64, state (the RNN's, e.g. ``(h, c)``) or None for zeros.
    Outputs: logits (N, L, V), the new state — detach it between TBPTT windows.
    """

    def __init__(self, config: LanguageModelConfig) -> None:
        super().__init__()
        c = config
        if c.tie_weights and (c.one_hot or c.embed != c.hidden):
            raise ValueError(
                "tie_weights needs an embedding of the hidden size: expected one_hot=False and "
                f"embed == hidden, got one_hot={c.one_hot}, embed={c.embed}, hidden={c.hidden}"
            )
        self.config = c
        input_size = c.vocab_size if c.one_hot else c.embed
        self.embedding = None if c.one_hot else nn.Embedding(c.vocab_size, c.embed)
        self.rnn = build_recurrent(
            c.cell,
            input_size,
            c.hidden,
            c.layers,
            dropout=c.dropout,
            init=c.init,
            forget_bias=c.forget_bias if c.cell == "lstm" else None,
            recurrent_dropout=c.recurrent_dropout,
        )
        self.dropout = nn.Dropout(c.dropout)
        self.head = nn.Linear(c.hidden, c.vocab_size)
        if c.tie_weights:
            # U(-0.1, 0.1) as in Zaremba et al. and Press & Wolf: torch's N(0, 1) embedding rows,
            # used as output weights, would start with logits of standard deviation ~sqrt(hidden)
            # and cost Adam thousands of steps to shrink
            nn.init.uniform_(self.embedding.weight, -0.1, 0.1)
            self.head.weight = self.embedding.weight

    def embed(self, tokens: Tensor) -> Tensor:
        """(N, L) int64 -> (N, L, E) float."""
        if self.embedding is None:
            return F.one_hot(tokens, self.config.vocab_size).to(self.head.weight.dtype)
        return self.dropout(self.embedding(tokens))

    def forward(self, tokens: Tensor, state=None):
        outputs, state = self.rnn(self.embed(tokens), state)  # (N, L, H)
        return self.head(self.dropout(outputs)), state  # (N, L, V)
