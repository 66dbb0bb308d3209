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

from dataclasses import dataclass
from typing import Any, ClassVar

import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.errors import UserError
from rnnkit.models.recurrent import CELLS, build_recurrent
from rnnkit.nn.init import INIT_NAMES
from rnnkit.settings import Settings

__all__ = ["LanguageModelConfig", "RNNLanguageModel"]


@dataclass
class LanguageModelConfig(Settings):
    """Everything needed to rebuild an :class:`RNNLanguageModel` (saved in config.json).

    The defaults are those of a character model (``rnnkit train lm``'s word level changes a few:
    see ``rnnkit.tasks.lm``).

    Args:
        vocab_size: embedding rows and output classes (from the vocabulary).
        cell: the recurrent cell.
        layers: stacked recurrent layers.
        hidden: units per layer.
        embed: embedding size.
        one_hot: characters as one-hot vectors instead of an embedding.
        tie_weights: share the embedding with the output layer; needs embed = hidden.
        dropout: on embeddings, between layers and before the output.
        recurrent_dropout: variational, on h_{t-1}.
        init: recurrent weight initialisation, e.g. orthogonal (none: torch's uniform).
        forget_bias: LSTM forget-gate bias.
    """

    KIND: ClassVar[str] = "model setting"
    CHOICES: ClassVar[dict[str, Any]] = {"cell": CELLS, "init": INIT_NAMES}
    RANGES: ClassVar[dict[str, str]] = {
        "vocab_size": "[1, inf)",
        "layers": "[1, inf)",
        "hidden": "[1, inf)",
        "embed": "[1, inf)",
        "dropout": "[0, 1)",
        "recurrent_dropout": "[0, 1)",
    }

    vocab_size: int
    cell: str = "lstm"
    layers: int = 2
    hidden: int = 384
    embed: int = 64
    one_hot: bool = False
    tie_weights: bool = False
    dropout: float = 0.2
    recurrent_dropout: float = 0.0
    init: str | None = None
    forget_bias: float | None = 1.0

    def check(self) -> None:
        if self.tie_weights and (self.one_hot or self.embed != self.hidden):
            raise UserError(
                "tie_weights needs an embedding of the hidden size: expected one_hot=False and "
                f"embed == hidden, got one_hot={self.one_hot}, embed={self.embed}, "
                f"hidden={self.hidden}"
            )


class RNNLanguageModel(nn.Module):
    """Embedding (or one-hot) → stacked RNN/LSTM/GRU → linear to the vocabulary.

    Inputs: tokens (N, L) int64, state (the RNN's, e.g. ``(h, c)``) or None for zeros.
    Outputs: logits (N, L, V), the new state — detach it between TBPTT windows.
    """

    def __init__(self, config: LanguageModelConfig) -> None:
        super().__init__()
        c = self.config = config
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
        if c.tie_weights:  # the config checked embed == hidden
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
