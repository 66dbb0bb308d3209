"""Attention over a padded sequence of encoder states, with the padding masked out.

For a query q (the decoder state) and keys k_1..k_S (the encoder outputs of one sentence):

    additive (Bahdanau et al. 2015):  score_s = vᵀ tanh(W_q q + W_k k_s)
    dot (Luong et al. 2015):          score_s = qᵀ (W_k k_s)          (W_k maps k to q's size)
    general (Luong et al. 2015):      score_s = qᵀ W_a k_s
    a = softmax(score) over s ≤ S_n  (padded positions get weight exactly 0)
    context = Σ_s a_s k_s

The key-side products do not depend on the query: :meth:`Attention.prepare` computes them once
per source batch, and each decoder step only pays for the query side.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

__all__ = ["ATTENTIONS", "Attention", "PreparedKeys", "padding_mask"]

ATTENTIONS = ("additive", "dot", "general")


def padding_mask(lengths: Tensor, max_length: int) -> Tensor:
    """``(N, S)`` bool, True at real positions ``s < lengths[n]``."""
    positions = torch.arange(max_length, device=lengths.device)  # (S,)
    return positions.unsqueeze(0) < lengths.unsqueeze(1)  # (N, S)


class PreparedKeys(NamedTuple):
    """The encoder outputs and their query-independent projection, for many decoder steps."""

    keys: Tensor  # (N, S, K) the values the context averages
    projected: Tensor  # (N, S, A) additive: W_k k; dot and general: k in the query's space (Q)
    mask: Tensor  # (N, S) bool, True at real positions


class Attention(nn.Module):
    """Scores, masked softmax and context for one decoder step.

    Args:
        kind: ``"additive"``, ``"dot"`` or ``"general"``.
        query_size: the decoder state's size Q.
        key_size: the encoder output's size K (2H for a bidirectional encoder).
        attention_size: A, the hidden size of the additive score (default Q).
    """

    def __init__(
        self, kind: str, query_size: int, key_size: int, attention_size: int | None = None
    ) -> None:
        super().__init__()
        if kind not in ATTENTIONS:
            raise ValueError(f"attention must be one of {', '.join(ATTENTIONS)}, got {kind!r}")
        self.kind = kind
        if kind == "additive":
            size = attention_size or query_size
            self.key_layer = nn.Linear(key_size, size, bias=False)
            self.query_layer = nn.Linear(query_size, size, bias=True)
            self.v = nn.Linear(size, 1, bias=False)
        else:
            # dot needs k in q's space; "general" is qᵀ W_a k = qᵀ (W_a k): the same product,
            # with W_a learned either way. dot projects only when the sizes differ.
            self.key_layer = (
                nn.Identity()
                if kind == "dot" and key_size == query_size
                else nn.Linear(key_size, query_size, bias=False)
            )

    def prepare(self, keys: Tensor, lengths: Tensor) -> PreparedKeys:
        """Project the keys ``(N, S, K)`` once; ``lengths (N,)`` marks the real positions."""
        mask = padding_mask(lengths.to(keys.device), keys.shape[1])  # (N, S)
        return PreparedKeys(keys, self.key_layer(keys), mask)

    def forward(self, query: Tensor, prepared: PreparedKeys) -> tuple[Tensor, Tensor]:
        """``query (N, Q)`` → ``(context (N, K), weights (N, S))``."""
        if self.kind == "additive":
            hidden = torch.tanh(prepared.projected + self.query_layer(query).unsqueeze(1))
            scores = self.v(hidden).squeeze(-1)  # (N, S)
        else:
            scores = torch.bmm(prepared.projected, query.unsqueeze(-1)).squeeze(-1)  # (N, S)
        scores = scores.masked_fill(~prepared.mask, float("-inf"))
        weights = torch.softmax(scores, dim=-1)  # (N, S), 0 at padding
        context = torch.bmm(weights.unsqueeze(1), prepared.keys).squeeze(1)  # (N, K)
        return context, weights
