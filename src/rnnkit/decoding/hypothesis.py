"""One output sequence of a search, with its scores and attention."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

__all__ = ["Hypothesis"]


@dataclass
class Hypothesis:
    """One output sequence: its tokens (without ``bos``/``eos``), scores and attention."""

    tokens: list[int]
    log_prob: float  # log p(y | x), eos included when finished
    score: float  # log_prob / lp(length)
    attention: Tensor  # (T, S) the attention weights of each generated token
    finished: bool = True
