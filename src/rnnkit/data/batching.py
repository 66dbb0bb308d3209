"""Batches of variable-length token sequences: truncation, padding with lengths, length bucketing.

The pieces plug into ``torch.utils.data.DataLoader``:

* :class:`SequenceDataset` holds encoded sequences (truncated to ``max_length``, keeping the start
  or the end) in one flat tensor, with an optional target per sequence (a class index, a float,
  or a target sequence for seq2seq); an item is an :class:`Example`.
* :class:`PadCollate` pads a list of examples into a :class:`PaddedBatch`: ``tokens (N, L)``
  batch-first, padded with the padding index, and ``lengths (N,)`` on the CPU, ready for
  ``torch.nn.utils.rnn.pack_padded_sequence(tokens_emb, lengths, batch_first=True)``.
* :class:`BucketBatchSampler` groups sequences of similar length so padding stays small: it
  shuffles (seeded, a new order every epoch), sorts within large chunks by length, cuts batches,
  and shuffles the batch order.
* :func:`make_loader` wires the three into a ``DataLoader``.

Example::

    ds = SequenceDataset([vocab.encode(tok(t)) for t in texts], labels, max_length=400)
    for batch in make_loader(ds, batch_size=64, shuffle=True, seed=0):
        logits = model(batch.tokens, batch.lengths)          # (N, C)
        loss = F.cross_entropy(logits, batch.targets)
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np
import torch
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import DataLoader, Dataset, Sampler

from rnnkit.errors import UserError

__all__ = [
    "KEEP_MODES",
    "BucketBatchSampler",
    "Example",
    "PadCollate",
    "PaddedBatch",
    "SequenceDataset",
    "make_loader",
    "pad_sequences",
    "truncate",
]

KEEP_MODES = ("start", "end")


def truncate(ids: Sequence[int], max_length: int | None, keep: str = "start") -> Sequence[int]:
    """Cut ``ids`` to at most ``max_length`` items, keeping its ``"start"`` or its ``"end"``."""
    if keep not in KEEP_MODES:
        raise ValueError(f"keep must be one of {KEEP_MODES}, got {keep!r}")
    if max_length is None or len(ids) <= max_length:
        return ids
    if max_length < 1:
        raise ValueError(f"max_length must be >= 1, got {max_length}")
    return ids[:max_length] if keep == "start" else ids[len(ids) - max_length :]


def pad_sequences(
    sequences: Sequence[torch.Tensor], pad_index: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad 1-D tensors to the longest: ``(padded (N, L) batch-first, lengths (N,) on the CPU)``."""
    if not sequences:
        raise ValueError("expected at least one sequence to pad, got none")
    lengths = torch.tensor([len(s) for s in sequences], dtype=torch.long)  # (N,)
    padded = pad_sequence(list(sequences), batch_first=True, padding_value=pad_index)  # (N, L)
    return padded, lengths


class Example(NamedTuple):
    """One dataset item."""

    tokens: torch.Tensor  # (L,) long
    target: torch.Tensor | None  # () for a class or a value, (L_t,) for a target sequence
    index: int  # position in the dataset


class PaddedBatch(NamedTuple):
    """A padded batch; ``indices`` map its rows back to dataset positions."""

    tokens: torch.Tensor  # (N, L) long, padded with the padding index
    lengths: torch.Tensor  # (N,) long, on the CPU (as pack_padded_sequence wants)
    targets: torch.Tensor | None  # (N,) classes/values, or (N, L_t) padded target sequences
    indices: torch.Tensor  # (N,) long
    target_lengths: torch.Tensor | None = None  # (N,) when targets are sequences

    def to(self, device: torch.device | str, non_blocking: bool = False) -> PaddedBatch:
        """Move tokens and targets to ``device``; lengths and indices stay on the CPU."""

        def move(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t.to(device, non_blocking=non_blocking)

        return self._replace(tokens=move(self.tokens), targets=move(self.targets))


class _Ragged:
    """Variable-length rows stored flat: ``values`` and row ``offsets``."""

    def __init__(self, rows: list[Sequence[Any]]) -> None:
        lengths = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
        self.offsets = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(lengths, out=self.offsets[1:])
        flat = list(itertools.chain.from_iterable(rows))
        values = torch.from_numpy(np.asarray(flat) if flat else np.zeros(0, dtype=np.int64))
        self.values = values.float() if values.is_floating_point() else values.long()  # (sum L,)
        self.lengths = torch.from_numpy(lengths)  # (N,)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.values[self.offsets[i] : self.offsets[i + 1]]


def _as_list(row: Any) -> Sequence[Any]:
    if isinstance(row, (torch.Tensor, np.ndarray)):
        return row.tolist()
    return row


def _is_sequence(target: Any) -> bool:
    if isinstance(target, (torch.Tensor, np.ndarray)):
        return target.ndim >= 1
    return isinstance(target, (list, tuple))


class SequenceDataset(Dataset):
    """Encoded sequences (and optional targets) as a map-style ``Dataset`` of :class:`Example`.

    Args:
        sequences: token index sequences (lists or 1-D tensors); each must be non-empty.
        targets: one per sequence: an int class, a float value, or a sequence (seq2seq);
            ``None`` for no targets.
        max_length: truncate longer sequences to this many tokens (``None``: keep all).
        keep: which part of a long sequence to keep, ``"start"`` or ``"end"`` (reviews often
            conclude with their verdict).
    """

    def __init__(
        self,
        sequences: Iterable[Sequence[int] | torch.Tensor],
        targets: Sequence[Any] | torch.Tensor | np.ndarray | None = None,
        *,
        max_length: int | None = None,
        keep: str = "start",
    ) -> None:
        rows = [truncate(_as_list(s), max_length, keep) for s in sequences]
        self._tokens = _Ragged(rows)
        empty = (self._tokens.lengths == 0).nonzero().flatten()
        if len(empty):
            raise UserError(
                f"{len(empty)} sequence(s) are empty (the first at index {int(empty[0])}); "
                "expected at least one token each: drop empty texts before batching"
            )
        self._targets: torch.Tensor | _Ragged | None = None
        if targets is not None:
            if len(targets) != len(rows):
                raise ValueError(
                    f"expected one target per sequence, got {len(targets)} targets "
                    f"for {len(rows)} sequences"
                )
            if len(rows) and _is_sequence(targets[0]):
                self._targets = _Ragged([_as_list(t) for t in targets])
            else:
                tensor = torch.as_tensor(np.asarray(targets))  # (N,)
                self._targets = tensor.float() if tensor.is_floating_point() else tensor.long()

    def __len__(self) -> int:
        return len(self._tokens.lengths)

    def __getitem__(self, index: int) -> Example:
        if not -len(self) <= index < len(self):
            raise IndexError(f"expected an index in [0, {len(self)}), got {index}")
        index = int(index) % len(self)
        target = None if self._targets is None else self._targets[index]
        return Example(self._tokens[index], target, index)

    @property
    def lengths(self) -> torch.Tensor:
        """Every sequence's length after truncation, ``(N,)`` long."""
        return self._tokens.lengths


class PadCollate:
    """``collate_fn`` turning a list of :class:`Example` into a :class:`PaddedBatch`.

    Args:
        pad_index: the index padding the token sequences (the vocabulary's, 0).
        target_pad_index: the value padding target sequences (default ``pad_index``; use -100
            with ``cross_entropy``'s default ``ignore_index``).
    """

    def __init__(self, pad_index: int = 0, target_pad_index: int | None = None) -> None:
        self.pad_index = pad_index
        self.target_pad_index = pad_index if target_pad_index is None else target_pad_index

    def __call__(self, examples: Sequence[Example]) -> PaddedBatch:
        tokens, lengths = pad_sequences([e.tokens for e in examples], self.pad_index)
        indices = torch.tensor([e.index for e in examples], dtype=torch.long)  # (N,)
        targets = target_lengths = None
        if examples[0].target is not None:
            if examples[0].target.dim() == 0:
                targets = torch.stack([e.target for e in examples])  # (N,)
            else:
                targets, target_lengths = pad_sequences(
                    [e.target for e in examples], self.target_pad_index
                )  # (N, L_t), (N,)
        return PaddedBatch(tokens, lengths, targets, indices, target_lengths)


class BucketBatchSampler(Sampler[list[int]]):
    """Batches of indices whose sequences have similar lengths, for ``DataLoader(batch_sampler=)``.

    Each epoch: shuffle all indices (seeded by ``(seed, epoch)``), cut them into chunks of
    ``chunk_size``, sort each chunk by decreasing length, cut it into batches, then shuffle the
    order of the batches. Without ``shuffle`` the chunks are taken in dataset order and the batch
    order is kept, so evaluation is deterministic (use ``PaddedBatch.indices`` to restore order).
    Every batch is sorted by decreasing length. The epoch advances each time the sampler is
    iterated; :meth:`set_epoch` sets it: ``Trainer`` calls it before every training epoch, so a
    resumed run gets the batch order of an uninterrupted one.

    Data-parallel training (``num_replicas`` > 1, or :meth:`set_shard`): every rank builds the
    same global batches (same seed and epoch) and keeps rows ``rank, rank + num_replicas, ...``
    of each, so the ranks never overlap, every example is seen once per epoch, every rank runs
    the same number of steps (``len``), and the global batch is ``batch_size`` whatever the
    number of processes. A last batch with fewer than ``num_replicas`` sequences joins the one
    before it, so that every rank gets at least one.

    Args:
        lengths: every sequence's length, ``(N,)``.
        batch_size: sequences per batch.
        shuffle: shuffle within and across chunks, and the batch order.
        seed: the base seed.
        chunk_size: sequences sorted together (rounded up to a multiple of ``batch_size``);
            default 100 batches. ``batch_size`` means no bucketing at all.
        drop_last: drop the last, smaller batch.
        num_replicas: number of processes sharing each batch (DDP).
        rank: this process's rank in ``[0, num_replicas)``.
    """

    def __init__(
        self,
        lengths: Sequence[int] | torch.Tensor,
        batch_size: int,
        *,
        shuffle: bool = True,
        seed: int = 0,
        chunk_size: int | None = None,
        drop_last: bool = False,
        num_replicas: int = 1,
        rank: int = 0,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        chunk_size = 100 * batch_size if chunk_size is None else chunk_size
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
        self.lengths = np.asarray(torch.as_tensor(lengths), dtype=np.int64)  # (N,)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.chunk_size = math.ceil(chunk_size / batch_size) * batch_size
        self.drop_last = drop_last
        self.epoch = 0
        self.set_shard(num_replicas, rank)

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch the next iteration uses (its shuffle is seeded by ``(seed, epoch)``)."""
        self.epoch = epoch

    def set_shard(self, num_replicas: int, rank: int) -> None:
        """Keep rank ``rank``'s rows of every batch, of ``num_replicas`` (1, 0: whole batches)."""
        if num_replicas < 1:
            raise ValueError(f"num_replicas must be >= 1, got {num_replicas}")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank must be in [0, {num_replicas}), got {rank}")
        if num_replicas > self.batch_size:
            raise UserError(
                f"a batch of {self.batch_size} cannot be shared by {num_replicas} processes; "
                f"expected batch_size >= {num_replicas} (it is the global batch)"
            )
        if num_replicas > 1 and len(self.lengths) < num_replicas:
            raise UserError(
                f"{len(self.lengths)} sequence(s) cannot be shared by {num_replicas} processes; "
                f"expected at least {num_replicas}"
            )
        self.num_replicas = num_replicas
        self.rank = rank

    def _num_batches(self) -> int:
        full, rest = divmod(len(self.lengths), self.batch_size)
        count = full + (1 if rest and not self.drop_last else 0)
        if count > 1 and not self.drop_last and 0 < rest < self.num_replicas:
            count -= 1  # the small last batch joins the one before it (see the class docstring)
        return count

    def __len__(self) -> int:
        return self._num_batches()

    def batches(self, epoch: int) -> list[list[int]]:
        """The batches of ``epoch`` for this rank (does not advance the epoch)."""
        rng = np.random.default_rng([self.seed, epoch])
        n = len(self.lengths)
        order = rng.permutation(n) if self.shuffle else np.arange(n)
        batches: list[list[int]] = []
        for start in range(0, n, self.chunk_size):
            chunk = order[start : start + self.chunk_size]
            chunk = chunk[np.argsort(-self.lengths[chunk], kind="stable")]  # longest first
            for b in range(0, len(chunk), self.batch_size):
                batch = chunk[b : b + self.batch_size]
                if len(batch) == self.batch_size or not self.drop_last:
                    batches.append(batch.tolist())
        if len(batches) > 1 and len(batches[-1]) < self.num_replicas:
            small = batches.pop()  # the last batch of the last chunk: too small to share
            merged = batches.pop() + small
            batches.append(sorted(merged, key=lambda i: -self.lengths[i]))  # stable: longest first
        if self.shuffle:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        if self.num_replicas > 1:
            batches = [batch[self.rank :: self.num_replicas] for batch in batches]
        return batches

    def __iter__(self) -> Iterator[list[int]]:
        batches = self.batches(self.epoch)
        self.epoch += 1
        return iter(batches)


def make_loader(
    dataset: SequenceDataset,
    batch_size: int,
    *,
    shuffle: bool = True,
    seed: int = 0,
    bucket: bool = True,
    chunk_size: int | None = None,
    drop_last: bool = False,
    pad_index: int = 0,
    target_pad_index: int | None = None,
    num_workers: int = 0,
    pin_memory: bool = False,
) -> DataLoader:
    """A ``DataLoader`` of :class:`PaddedBatch` over ``dataset``, length-bucketed by default.

    ``bucket=False`` keeps batches random (or in dataset order without ``shuffle``); the other
    arguments are those of :class:`BucketBatchSampler`, :class:`PadCollate` and ``DataLoader``.
    """
    sampler = BucketBatchSampler(
        dataset.lengths,
        batch_size,
        shuffle=shuffle,
        seed=seed,
        chunk_size=chunk_size if bucket else batch_size,
        drop_last=drop_last,
    )
    return DataLoader(
        dataset,
        batch_sampler=sampler,
        collate_fn=PadCollate(pad_index, target_pad_index),
        num_workers=num_workers,
        pin_memory=pin_memory,
    )
