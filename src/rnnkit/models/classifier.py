"""Many-to-one: a sequence of tokens in, one label out.

e_t = E[x_t]                                   embedding       (N, L, E)
h_1..h_L = RNN(e_1..e_L)                       stacked (bi)RNN (N, L, D*H)
v = pool(h_1..h_{T_n})                         last/mean/max/attention (N, D*H),
                                               concat [last; max; mean] (N, 3*D*H)
logits = W dropout(v) + b                      (N, C)

``layer_groups()`` lists the parameters bottom to top (embedding, each recurrent layer, the
pooling and output layer): the groups of discriminative learning rates and gradual unfreezing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar

from torch import Tensor, nn
from torch.nn import Parameter
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnkit.models.pooling import CONCAT_POOLINGS, SequencePooling
from rnnkit.models.recurrent import CELLS, build_recurrent
from rnnkit.nn.init import INIT_NAMES
from rnnkit.settings import Settings

__all__ = ["ClassifierConfig", "SequenceClassifier"]

_LAYER_INDEX = re.compile(r"_l(\d+)(?:_reverse)?(?:_|$)")  # weight_hh_l1_reverse -> 1


@dataclass
class ClassifierConfig(Settings):
    """Everything needed to rebuild a :class:`SequenceClassifier` (saved in config.json).

    Args:
        vocab_size: embedding rows (from the vocabulary).
        num_classes: output classes (from the labels).
        embed: embedding size.
        hidden: hidden units per direction.
        layers: stacked recurrent layers.
        cell: the recurrent cell.
        bidirectional: read each text both ways.
        pooling: over time: the last state, the mean, the max, concat (the last state, the max
            and the mean side by side, as ULMFiT), or attention.
        dropout: between recurrent layers and before the output layer.
        embed_dropout: on the embeddings.
        recurrent_dropout: variational, on h_{t-1} (one mask per sequence).
        init: recurrent weight initialisation (orthogonal, xavier_uniform, uniform, ...).
        forget_bias: LSTM forget-gate bias.
        padding_idx: the padding token's index.
    """

    KIND: ClassVar[str] = "model setting"
    CHOICES: ClassVar[dict[str, Any]] = {
        "cell": CELLS,
        "pooling": CONCAT_POOLINGS,
        "init": INIT_NAMES,
    }
    RANGES: ClassVar[dict[str, str]] = {
        "vocab_size": "[1, inf)",
        "num_classes": "[2, inf)",
        "embed": "[1, inf)",
        "hidden": "[1, inf)",
        "layers": "[1, inf)",
        "dropout": "[0, 1)",
        "embed_dropout": "[0, 1)",
        "recurrent_dropout": "[0, 1)",
        "padding_idx": "[0, inf)",
    }

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
        self.head = nn.Linear(self.pool.out_features, c.num_classes)

    def layer_groups(self) -> list[list[Parameter]]:
        """The parameters bottom to top: [embedding], [recurrent layer 0], ..., [recurrent layer
        L-1] (both directions), [pooling and output layer]."""
        layers: list[list[Parameter]] = [[] for _ in range(self.config.layers)]
        for name, parameter in self.rnn.named_parameters():
            match = _LAYER_INDEX.search(name)
            if match is None or int(match.group(1)) >= len(layers):
                raise ValueError(f"cannot tell the layer of recurrent parameter {name!r}")
            layers[int(match.group(1))].append(parameter)
        top = [*self.pool.parameters(), *self.head.parameters()]
        return [list(self.embedding.parameters()), *layers, top]

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
        pooled = self.pool(outputs, lengths, top)  # (N, D*H) or (N, 3*D*H) for concat
        return self.head(self.dropout(pooled))  # (N, C)
