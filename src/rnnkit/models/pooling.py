"""Pooling a padded sequence of RNN outputs (N, L, F) into one vector per sequence (N, F).

- ``last``: the final hidden state of the top layer; for a bidirectional network the forward
  direction's state after the last valid step concatenated with the backward direction's state
  after the first step (each has read the whole sequence).
- ``mean``: the average over valid steps, ``(1/T_n) Σ_t h_t``.
- ``max``: the element-wise maximum over valid steps.
- ``concat``: ULMFiT's concat pooling (Howard & Ruder 2018), ``[h_last; max_t h_t; mean_t h_t]``
  (N, 3F): the three above side by side.
- ``attention``: a learned weighted sum (Raffel & Ellis 2015; Yang et al. 2016),
  ``e_t = vᵀ tanh(W h_t + b)``, ``α = softmax(e)`` over valid steps, ``Σ_t α_t h_t``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["CONCAT_POOLINGS", "POOLINGS", "SequencePooling", "valid_mask"]

POOLINGS = ("last", "mean", "max", "attention")
# with ULMFiT's concat pooling, whose output is 3F wide: for models whose head reads out_features
CONCAT_POOLINGS = (*POOLINGS, "concat")


def valid_mask(lengths: Tensor, max_length: int) -> Tensor:
    """(N,) lengths -> (N, L) bool, True at valid steps."""
    steps = torch.arange(max_length, device=lengths.device)  # (L,)
    return steps.unsqueeze(0) < lengths.unsqueeze(1)  # (N, L)


class SequencePooling(nn.Module):
    """Pool (N, L, F) outputs with (N,) lengths into (N, F) — (N, 3F) for ``concat``; see the
    module docs for the kinds. ``out_features`` is the pooled size."""

    def __init__(self, kind: str, features: int, attention_size: int = 128) -> None:
        super().__init__()
        if kind not in CONCAT_POOLINGS:
            raise ValueError(f"pooling must be one of {list(CONCAT_POOLINGS)}, got {kind!r}")
        self.kind = kind
        self.features = features
        self.out_features = 3 * features if kind == "concat" else features
        if kind == "attention":
            self.score = nn.Sequential(
                nn.Linear(features, attention_size), nn.Tanh(), nn.Linear(attention_size, 1)
            )
        self.last_weights: Tensor | None = None  # (N, L) attention weights of the last call

    def forward(self, outputs: Tensor, lengths: Tensor, final_hidden: Tensor) -> Tensor:
        """outputs (N, L, F), lengths (N,), final_hidden (D, N, F/D) of the top layer -> (N, F)
        ((N, 3F) for ``concat``)."""
        if self.kind == "last":
            return final_hidden.permute(1, 0, 2).reshape(outputs.shape[0], -1)  # (N, F)
        mask = valid_mask(lengths.to(outputs.device), outputs.shape[1]).unsqueeze(-1)  # (N, L, 1)
        if self.kind in ("mean", "concat"):
            total = (outputs * mask).sum(1)  # (N, F)
            mean = total / lengths.to(outputs.device, outputs.dtype).clamp(min=1).unsqueeze(1)
        if self.kind in ("max", "concat"):
            top = outputs.masked_fill(~mask, float("-inf")).amax(1)  # (N, F)
        if self.kind == "mean":
            return mean
        if self.kind == "max":
            return top
        if self.kind == "concat":
            last = final_hidden.permute(1, 0, 2).reshape(outputs.shape[0], -1)  # (N, F)
            return torch.cat([last, top, mean], dim=-1)  # (N, 3F)
        scores = self.score(outputs).masked_fill(~mask, float("-inf"))  # (N, L, 1)
        weights = torch.softmax(scores, dim=1)  # (N, L, 1)
        self.last_weights = weights.squeeze(-1).detach()
        return (weights * outputs).sum(1)  # (N, F)
