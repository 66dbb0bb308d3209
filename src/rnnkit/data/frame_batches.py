"""Batches of variable-length sequences of feature vectors (audio frames, numeric series):
zero-padded after each sequence's end, with the lengths and one target per sequence, shuffled
per epoch from a seed (``set_epoch``) so a resumed epoch sees the same order."""

from __future__ import annotations

from typing import Any, NamedTuple

import torch

__all__ = ["FrameBatch", "FrameBatches"]


class FrameBatch(NamedTuple):
    """Frames zero-padded after each sequence, frames per sequence, the sequences' targets."""

    features: torch.Tensor  # (N, T, F)
    lengths: torch.Tensor  # (N,) int64, stays on the CPU
    targets: torch.Tensor  # (N,) class indices or (N, k) values


class FrameBatches:
    """Re-iterable batches of a split, shuffled per epoch (``set_epoch``) when ``shuffle``."""

    def __init__(
        self,
        features: list[torch.Tensor],
        targets: list[Any],
        batch_size: int,
        *,
        shuffle: bool = False,
        seed: int = 0,
    ) -> None:
        self.features, self.targets, self.batch_size = features, targets, batch_size
        self.shuffle, self.seed, self.epoch = shuffle, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return -(-len(self.features) // self.batch_size)

    def __iter__(self):
        rows = list(range(len(self.features)))
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed * 100003 + self.epoch)
            rows = torch.randperm(len(rows), generator=generator).tolist()
        for start in range(0, len(rows), self.batch_size):
            yield self.batch(rows[start : start + self.batch_size])

    def frames(self, rows: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """The sequences at ``rows`` zero-padded ``(N, T, F)`` and their lengths ``(N,)``."""
        chunk = [self.features[i] for i in rows]
        padded = torch.nn.utils.rnn.pad_sequence(chunk, batch_first=True)  # (N, T, F)
        return padded, torch.tensor([len(f) for f in chunk])  # (N, T, F), (N,)

    def batch(self, rows: list[int]) -> FrameBatch:
        """The batch of the sequences at ``rows``."""
        return FrameBatch(*self.frames(rows), torch.tensor([self.targets[i] for i in rows]))
