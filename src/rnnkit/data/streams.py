"""Language-model streams for truncated BPTT: a corpus as ``batch_size`` parallel token streams.

The encoded corpus (one long 1-D tensor) is cut into ``B`` contiguous pieces laid out as rows of a
``(B, n)`` tensor; windows of ``seq_length`` columns are then taken left to right, each input
paired with its target shifted one token on. Row ``b`` of window ``k + 1`` continues row ``b`` of
window ``k``, so the hidden state carried across windows (detached at each boundary) sees one
continuous text per row::

    stream = TBPTTStream(corpus_ids, batch_size=32, seq_length=35)
    state = None
    for inputs, targets in stream:                  # (B, T), (B, T)
        logits, state = model(inputs, state)        # (B, T, V)
        state = detach_state(state)

For data-parallel training, ``stream.shard(num_replicas, rank)`` keeps rows ``rank,
rank + num_replicas, ...``: every rank reads the same windows' columns of its own rows and
carries its own state for them, and together the ranks cover the single-process stream once.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import torch

from rnnkit.errors import UserError

__all__ = ["TBPTTStream", "batchify", "contiguous_split"]


def batchify(tokens: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Lay a 1-D token tensor ``(T,)`` out as ``(batch_size, T // batch_size)`` rows.

    Row ``b`` holds tokens ``[b * n, (b + 1) * n)``; the ``T % batch_size`` leftover tokens at the
    end are dropped.
    """
    if tokens.dim() != 1:
        raise ValueError(f"expected a 1-D token tensor, got shape {tuple(tokens.shape)}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    n = tokens.numel() // batch_size
    if n < 2:
        raise ValueError(
            f"expected at least {2 * batch_size} tokens for batch_size {batch_size}, "
            f"got {tokens.numel()}"
        )
    return tokens[: n * batch_size].reshape(batch_size, n)  # (B, n)


class TBPTTStream:
    """Consecutive ``(inputs, targets)`` windows over a batchified corpus.

    Args:
        tokens: the corpus, ``(T,)`` (batchified here) or already ``(B, n)``.
        batch_size: parallel streams, when ``tokens`` is 1-D.
        seq_length: time steps per window (the truncation length of BPTT); the last window
            may be shorter.
    """

    def __init__(self, tokens: torch.Tensor, batch_size: int | None = None, *, seq_length: int):
        if seq_length < 1:
            raise ValueError(f"seq_length must be >= 1, got {seq_length}")
        if tokens.dim() == 1:
            if batch_size is None:
                raise ValueError("expected batch_size for a 1-D token tensor, got None")
            tokens = batchify(tokens, batch_size)
        elif tokens.dim() != 2 or (batch_size is not None and tokens.shape[0] != batch_size):
            raise ValueError(
                f"expected tokens (T,) or (batch_size, n), got shape {tuple(tokens.shape)}"
            )
        self.data = tokens  # (B, n)
        self.seq_length = seq_length

    def shard(self, num_replicas: int, rank: int) -> TBPTTStream:
        """The stream of rows ``rank, rank + num_replicas, ...`` (the same windows)."""
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank must be in [0, {num_replicas}), got {rank}")
        if self.batch_size < num_replicas:
            raise UserError(
                f"{self.batch_size} parallel stream(s) cannot be shared by {num_replicas} "
                f"processes; expected batch_size >= {num_replicas} (and a text long enough)"
            )
        return TBPTTStream(self.data[rank::num_replicas], seq_length=self.seq_length)

    @property
    def batch_size(self) -> int:
        return self.data.shape[0]

    def __len__(self) -> int:
        return math.ceil((self.data.shape[1] - 1) / self.seq_length)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = self.data.shape[1]
        for start in range(0, n - 1, self.seq_length):
            length = min(self.seq_length, n - 1 - start)
            inputs = self.data[:, start : start + length]  # (B, T)
            targets = self.data[:, start + 1 : start + 1 + length]  # (B, T)
            yield inputs, targets


def contiguous_split(tokens: torch.Tensor, fractions: Sequence[float]) -> list[torch.Tensor]:
    """Cut a 1-D corpus into consecutive parts, e.g. ``(0.9, 0.1)`` for train/validation.

    The fractions must sum to 1; the last part takes the rounding remainder.
    """
    if tokens.dim() != 1:
        raise ValueError(f"expected a 1-D token tensor, got shape {tuple(tokens.shape)}")
    if any(f <= 0 for f in fractions) or not math.isclose(sum(fractions), 1.0):
        raise ValueError(f"expected positive fractions summing to 1, got {list(fractions)}")
    total, parts, start = tokens.numel(), [], 0
    for i, fraction in enumerate(fractions):
        stop = total if i == len(fractions) - 1 else start + int(total * fraction)
        parts.append(tokens[start:stop])
        start = stop
    return parts
