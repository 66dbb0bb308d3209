"""Many-to-many, synced: predict every next token of a sequence.

    e_t = E[x_t]  (or one_hot(x_t) for character models)    (N, L, E)
    h_t = RNN(e_t, h_{t-1})                                   (N, L, H)
    p(x_{t+1} | x_≤t) = softmax(W dropout(h_t) + b)           (N, L, V)

Dropout follows Zaremba et al. (2014): on the embeddings, between layers and before the output
layer, never on the recurrent connections (``recurrent_dropout`` adds Gal's variational kind).
``tie_weights`` shares the embedding with the output layer (Press & Wolf 2017; Inan et al. 2017);
it needs ``embed == hidden``.

The AWD-LSTM's regularisers (Merity et al. 2017), all off by default:

- ``embed_dropout=p``: whole words dropped. One mask per forward call over the vocabulary,
  ``m_v ~ Bernoulli(1 - p) / (1 - p)``, so ``e_t = m_{x_t} E[x_t]``: a word dropped is dropped
  at every position of the batch (the rows of ``E`` that are zeroed);
- ``locked_dropout``: the dropouts on the embeddings, between layers and before the output draw
  one mask per sequence and feature, the same at every time step (variational dropout);
  ``input_dropout`` and ``output_dropout`` set the first and the last apart from ``dropout``;
- ``weight_drop=p``: DropConnect on each layer's ``W_hh`` (:mod:`rnnkit.nn.layers`);
- activation regularisation (AR, TAR) is a term of the loss, computed from the outputs
  ``forward(..., return_outputs=True)`` gives
  (:func:`rnnkit.train.regularization.activation_penalty`).

``adaptive_softmax=(c1, c2)`` makes the output layer an adaptive softmax (Grave et al. 2017) for
large word vocabularies, whose tokens are numbered by frequency: a head over the c1 most
frequent tokens and one entry per tail cluster, and two tails (tokens c1..c2-1, c2..V-1) behind
projections 4x and 16x narrower than H:

    p(x) = softmax(W_head h)[x]                                    x < c1
    p(x) = softmax(W_head h)[cluster k] · softmax(W_k P_k h)[x]    x in tail k

An exact distribution (perplexities compare with the full softmax's), but training computes a
tail only for the targets in it: for 30,000 words and H = 256, about a fifth of the full
softmax's multiply-adds. ``forward(tokens, targets=...)`` returns the mean cross-entropy that
way; without targets, log-probabilities (N, L, V) stand for the logits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.errors import UserError
from rnnkit.models.recurrent import CELLS, build_recurrent
from rnnkit.nn.engine.stepper import RecurrentStepper, steppable
from rnnkit.nn.init import INIT_NAMES
from rnnkit.settings import Settings

__all__ = [
    "LanguageModelConfig",
    "LanguageModelStepper",
    "RNNLanguageModel",
    "embedding_dropout",
    "locked_dropout",
]

# Layer 0's input projection of every token is precomputed (a table of V x G*H) up to this many
# entries (16 MiB in float32): any character vocabulary, not a word vocabulary of 30,000.
MAX_TABLE_ENTRIES = 1 << 22


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
        input_dropout: on the embeddings (none: dropout).
        output_dropout: on the last layer's outputs, before the output layer (none: dropout).
        locked_dropout: those dropouts use one mask per sequence, the same at every step.
        embed_dropout: whole words: a word's embedding row is zeroed for the whole batch.
        weight_drop: DropConnect on the recurrent weights W_hh, one mask per batch.
        recurrent_dropout: variational, on h_{t-1}.
        init: recurrent weight initialisation, e.g. orthogonal (none: torch's uniform).
        forget_bias: LSTM forget-gate bias.
        adaptive_softmax: two cutoffs c1 < c2 below the vocabulary size: the output layer as
            an adaptive softmax (Grave et al. 2017), the c1 most frequent tokens in its head,
            the rest in two narrower tails: several times faster for large word vocabularies,
            perplexities on the same scale; not with tie_weights (none: a full softmax).
    """

    KIND: ClassVar[str] = "model setting"
    CHOICES: ClassVar[dict[str, Any]] = {"cell": CELLS, "init": INIT_NAMES}
    RANGES: ClassVar[dict[str, str]] = {
        "vocab_size": "[1, inf)",
        "layers": "[1, inf)",
        "hidden": "[1, inf)",
        "embed": "[1, inf)",
        "dropout": "[0, 1)",
        "input_dropout": "[0, 1)",
        "output_dropout": "[0, 1)",
        "embed_dropout": "[0, 1)",
        "weight_drop": "[0, 1)",
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
    input_dropout: float | None = None
    output_dropout: float | None = None
    locked_dropout: bool = False
    embed_dropout: float = 0.0
    weight_drop: float = 0.0
    recurrent_dropout: float = 0.0
    init: str | None = None
    forget_bias: float | None = 1.0
    adaptive_softmax: tuple[int, int] | None = None

    def check(self) -> None:
        if self.adaptive_softmax is not None:
            c1, c2 = self.adaptive_softmax
            if not 0 < c1 < c2:
                raise UserError(
                    f"adaptive_softmax cutoffs must be increasing: expected 0 < c1 < c2, got "
                    f"{c1}, {c2}"
                )
            if self.tie_weights:
                raise UserError(
                    "adaptive_softmax has no output matrix to share with the embedding: expected "
                    "tie_weights=False with adaptive_softmax"
                )
            if self.hidden < 16:
                raise UserError(
                    f"adaptive_softmax's second tail reads hidden / 16 features: expected hidden "
                    f">= 16, got {self.hidden}"
                )
        if self.tie_weights and (self.one_hot or self.embed != self.hidden):
            raise UserError(
                "tie_weights needs an embedding of the hidden size: expected one_hot=False and "
                f"embed == hidden, got one_hot={self.one_hot}, embed={self.embed}, "
                f"hidden={self.hidden}"
            )
        if self.one_hot and self.embed_dropout > 0:
            raise UserError(
                "embed_dropout drops rows of the embedding: expected one_hot=False, got "
                f"one_hot=True with embed_dropout={self.embed_dropout}"
            )

    @property
    def input_rate(self) -> float:
        """The dropout on the embeddings."""
        return self.dropout if self.input_dropout is None else self.input_dropout

    @property
    def output_rate(self) -> float:
        """The dropout before the output layer."""
        return self.dropout if self.output_dropout is None else self.output_dropout


def embedding_dropout(
    tokens: Tensor, vectors: Tensor, vocab_size: int, p: float, training: bool
) -> Tensor:
    """Whole-word dropout of ``vectors`` (N, L, E), the embeddings of ``tokens`` (N, L) from a
    vocabulary of V rows: one mask ``m ~ Bernoulli(1 - p) / (1 - p)`` of V entries per call,
    ``e_t * m[x_t]`` -- the same as zeroing rows of the embedding matrix and scaling the rest,
    without multiplying all V rows."""
    if not training or p == 0:
        return vectors
    keep = 1.0 - p
    mask = vectors.new_empty(vocab_size).bernoulli_(keep) / keep  # (V,)
    return vectors * mask[tokens].unsqueeze(-1)  # (N, L, E)


def locked_dropout(x: Tensor, p: float, training: bool) -> Tensor:
    """Variational dropout of batch-first ``x`` (N, L, F): one mask (N, 1, F) for every step."""
    if not training or p == 0:
        return x
    keep = 1.0 - p
    mask = x.new_empty((x.shape[0], 1, x.shape[2])).bernoulli_(keep) / keep  # (N, 1, F)
    return x * mask  # (N, L, F)


class RNNLanguageModel(nn.Module):
    """Embedding (or one-hot) → stacked RNN/LSTM/GRU → linear to the vocabulary (or an
    adaptive softmax).

    Inputs: tokens (N, L) int64, state (the RNN's, e.g. ``(h, c)``) or None for zeros.
    Outputs: logits (N, L, V), the new state — detach it between TBPTT windows; with
    ``return_outputs=True`` also the last layer's outputs before and after the output dropout,
    each (N, L, H), for activation regularisation.
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
            weight_drop=c.weight_drop,
            locked_dropout=c.locked_dropout,
        )
        self.dropout = nn.Dropout(c.output_rate)  # before the output layer
        self.input_dropout = nn.Dropout(c.input_rate)
        self.head: nn.Linear | None = None  # the full softmax's output layer, or
        self.adaptive: nn.AdaptiveLogSoftmaxWithLoss | None = None
        if c.adaptive_softmax is not None:
            if c.adaptive_softmax[1] >= c.vocab_size:
                raise UserError(
                    f"adaptive_softmax cutoffs {c.adaptive_softmax[0]}, {c.adaptive_softmax[1]} "
                    f"leave the last tail empty: expected both below the vocabulary size "
                    f"{c.vocab_size}"
                )
            self.adaptive = nn.AdaptiveLogSoftmaxWithLoss(
                c.hidden, c.vocab_size, list(c.adaptive_softmax), div_value=4.0
            )
        else:
            self.head = nn.Linear(c.hidden, c.vocab_size)
        if c.tie_weights:  # the config checked embed == hidden
            # U(-0.1, 0.1) as in Zaremba et al. and Press & Wolf: torch's N(0, 1) embedding rows,
            # used as output weights, would start with logits of standard deviation ~sqrt(hidden)
            # and cost Adam thousands of steps to shrink
            nn.init.uniform_(self.embedding.weight, -0.1, 0.1)
            self.head.weight = self.embedding.weight

    @property
    def skips_parameters(self) -> bool:
        """Whether a training step may leave parameters without a gradient: the adaptive
        softmax's tails that no target of the batch falls in (distributed training's DDP needs
        to know)."""
        return self.adaptive is not None

    def _drop(self, x: Tensor, dropout: nn.Dropout) -> Tensor:
        if self.config.locked_dropout:
            return locked_dropout(x, dropout.p, self.training)
        return dropout(x)

    def embed(self, tokens: Tensor) -> Tensor:
        """(N, L) int64 -> (N, L, E) float."""
        if self.embedding is None:
            return F.one_hot(tokens, self.config.vocab_size).to(self.rnn.weight_ih_l0.dtype)
        vectors = self.embedding(tokens)  # (N, L, E)
        c = self.config
        vectors = embedding_dropout(tokens, vectors, c.vocab_size, c.embed_dropout, self.training)
        return self._drop(vectors, self.input_dropout)

    def forward(
        self, tokens: Tensor, state=None, *, targets: Tensor | None = None,
        return_outputs: bool = False,
    ):  # fmt: skip
        """(logits (N, L, V), state), or with ``targets`` (N, L) (the mean cross-entropy of
        the targets, state); ``return_outputs`` appends (outputs, dropped)."""
        outputs, state = self.rnn(self.embed(tokens), state)  # (N, L, H)
        dropped = self._drop(outputs, self.dropout)  # (N, L, H)
        if targets is not None:
            first = self.cross_entropy(dropped, targets)  # ()
        else:
            first = self.scores(dropped)  # (N, L, V)
        if return_outputs:
            return first, state, (outputs, dropped)
        return first, state

    def scores(self, h: Tensor) -> Tensor:
        """The output layer: (..., H) -> logits (..., V); log-probabilities for the adaptive
        softmax (the same distribution under softmax)."""
        if self.adaptive is None:
            return self.head(h)
        flat = self.adaptive.log_prob(h.reshape(-1, h.shape[-1]))  # (M, V)
        return flat.reshape(*h.shape[:-1], -1)

    def cross_entropy(self, h: Tensor, targets: Tensor) -> Tensor:
        """Mean -log p(target | h) of ``h (N, L, H)`` and ``targets (N, L)``; the adaptive
        softmax computes only the targets' clusters."""
        if self.adaptive is None:
            logits = self.head(h)  # (N, L, V)
            return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
        return self.adaptive(h.reshape(-1, h.shape[-1]), targets.reshape(-1)).loss

    def stepper(self, rows: int) -> LanguageModelStepper | None:
        """A :class:`LanguageModelStepper` of this model's current weights for ``rows``
        sequences, or None where it cannot run the model (training mode; under CPU autocast; a
        recurrent configuration or device it does not cover, see ``rnnkit.nn.engine.stepper``)."""
        if self.training or torch.is_autocast_enabled("cpu") or not steppable(self.rnn):
            return None
        if self.adaptive is not None or self.head.weight.dtype != self.rnn.weight_ih_l0.dtype:
            return None
        return LanguageModelStepper(self, rows)


class LanguageModelStepper:
    """What an eval-mode :class:`RNNLanguageModel` computes for one token per sequence, a step at
    a time, fast: the state stays in the stepper's buffers, nothing is allocated per step and
    nothing is recorded for autograd.

        h_t = RNN(e_{x_t}, h_{t-1})  (N, H);   logits_t = W h_t + b  (N, V)

    For a vocabulary of at most ``MAX_TABLE_ENTRIES / (G*H)`` tokens, layer 0's input
    projection ``W_ih e_v + b_ih`` of every token ``v`` is computed once (a table (V, G*H)), so a
    step starts with one row lookup per sequence. The weight matrices are read in place (views);
    the table and the biases are made with the stepper: make a new one after changing the weights.

    Use: ``stepper.load(state)`` (the model's state after the prime, with N rows), then
    ``logits = stepper(tokens)`` once per step: ``tokens`` (N,) int64 -> logits (N, V), a
    buffer overwritten by the next call; ``stepper.state()`` gives the state back.
    """

    def __init__(self, model: RNNLanguageModel, rows: int) -> None:
        with torch.no_grad():
            self.rnn = RecurrentStepper(model.rnn, rows)
            c = model.config
            head = model.head.weight.detach()  # (V, H)
            width = self.rnn.gi[0].shape[1]  # G*H
            if model.embedding is None:
                vectors = torch.eye(c.vocab_size, dtype=head.dtype)  # (V, V): one-hot rows
            else:
                vectors = model.embedding.weight.detach()  # (V, E)
            self.table = None
            if c.vocab_size * width <= MAX_TABLE_ENTRIES:
                self.table = self.rnn.input_table(vectors)  # (V, G*H)
                self.projected = torch.empty(rows, width, dtype=head.dtype)  # (N, G*H)
            else:
                self.vectors = vectors.contiguous()
                self.embedded = torch.empty(rows, vectors.shape[1], dtype=head.dtype)  # (N, E)
            self.head_t = head.t()  # (H, V), a transposed view
            self.head_bias = model.head.bias.detach()  # (V,)
            self.logits = torch.empty(rows, c.vocab_size, dtype=head.dtype)  # (N, V)

    def load(self, state) -> None:
        """Start from the model's ``state``: ``(h, c)`` or ``h``, each (layers, N, H)."""
        self.rnn.load(state if isinstance(state, tuple) else (state,))

    def state(self):
        """The state after the last step, in the model's form (copies)."""
        state = self.rnn.state()
        return state if len(state) > 1 else state[0]

    def __call__(self, tokens: Tensor) -> Tensor:
        """``tokens`` (N,) int64 -> the next token's logits (N, V) (a buffer of the stepper).

        Every tensor here is a copy made without autograd, so nothing is recorded even outside
        ``torch.no_grad()``."""
        if self.table is not None:
            torch.index_select(self.table, 0, tokens, out=self.projected)  # (N, G*H)
            h = self.rnn.step_projected(self.projected)  # (N, H)
        else:
            torch.index_select(self.vectors, 0, tokens, out=self.embedded)  # (N, E)
            h = self.rnn.step(self.embedded)  # (N, H)
        return torch.addmm(self.head_bias, h, self.head_t, out=self.logits)  # (N, V)
