"""Data-parallel training on several processes and machines, through PyTorch's own engine.

``torchrun`` (``torch.distributed.run``) starts one process per device and tells each, in its
environment, who it is: ``RANK`` (0 .. ``WORLD_SIZE`` - 1, over all machines), ``LOCAL_RANK``
(on this machine), ``WORLD_SIZE`` and the rendezvous ``MASTER_ADDR``:``MASTER_PORT``.
``Trainer.fit`` calls :func:`init_from_env`, which joins the process group (gloo on CPUs, NCCL
on CUDA GPUs) when ``WORLD_SIZE`` > 1, and leaves it when the fit ends; a plain process is a
world of one and nothing here costs anything.

How a step is split, so that training on ``R`` processes computes what one process computes
on the same global batch (up to floating-point summation order):

* every rank sees the same global batches (same seed and epoch); rank ``r`` keeps rows
  ``r, r + R, r + 2R, ...`` of each (:func:`shard_batches`: the length-bucketed sampler and the
  TBPTT streams shard themselves, any other batch is sliced here);
* ``DistributedDataParallel`` averages the gradients over the ranks; each rank's loss is scaled
  by ``R * n_r / n`` first, where ``n_r`` is its batch's weight (examples or tokens, the
  objective's ``"n"``) and ``n = sum_r n_r``, so the average is the global batch's mean
  gradient ``sum_r (n_r / n) * grad_r`` even when the shards differ in size;
* clipping sees the all-reduced gradients (after ``backward``), identical on every rank;
* training metrics are reduced as sums of ``value * n_r`` and of ``n_r``; validation metrics
  (the objective returns means only) as sums of ``value * rows_r`` and of ``rows_r``, the rows
  each rank scored: exact for means over examples and for TBPTT windows, approximate for
  per-token means over sequences of different lengths and for metrics that are not means.

Only rank 0 writes (checkpoints, reports, plots, logs, progress bars); every rank restores the
same state on resume.
"""

from __future__ import annotations

import atexit
import datetime
import logging
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from rnnkit.errors import UserError

__all__ = [
    "BACKENDS",
    "RowCounter",
    "ShardedBatches",
    "World",
    "all_gather_objects",
    "any_rank",
    "barrier",
    "batch_size_of",
    "count_rows",
    "current_world",
    "env_world",
    "init_from_env",
    "is_main",
    "lost_peer",
    "reduce_weighted_means",
    "shard_batches",
    "shard_rows",
    "sum_over_ranks",
    "teardown",
    "unshard_batches",
    "wrap_model",
]

logger = logging.getLogger(__name__)

BACKENDS = ("auto", "gloo", "nccl")


@dataclass(frozen=True)
class World:
    """Who this process is among the processes training together."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1


def env_world() -> World:
    """The world ``torchrun`` describes in the environment (a world of one without it)."""
    try:
        size = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local_rank = int(os.environ.get("LOCAL_RANK", str(rank)))
    except ValueError as error:
        raise UserError(
            f"WORLD_SIZE, RANK and LOCAL_RANK must be integers ({error}); expected the "
            "environment torchrun sets"
        ) from None
    if size < 1 or not 0 <= rank < size:
        raise UserError(f"RANK must be in [0, WORLD_SIZE={size}), got {rank}")
    return World(rank, size, local_rank)


def current_world() -> World:
    """This process's place in the joined process group (a world of one when none)."""
    if not (dist.is_available() and dist.is_initialized()):
        return World()
    return World(dist.get_rank(), dist.get_world_size(), env_world().local_rank)


def is_main() -> bool:
    """True on rank 0 (the one writer) and in a plain single process."""
    return current_world().is_main


def init_from_env(
    device: torch.device, backend: str = "auto", timeout_s: float = 300.0
) -> tuple[World, torch.device, bool]:
    """Join the process group the environment describes: ``(world, device, joined here)``.

    Does nothing in a world of one or when a group is already joined: a process joins once and
    stays joined until it exits, so that a second ``fit`` in the same script reuses the group
    (joining again at the same MASTER_PORT races: a fast rank can reach rank 0's old store while
    it is still closing, and die). ``backend`` "auto" is NCCL for CUDA devices and gloo
    otherwise. On CUDA each process takes the GPU of its ``LOCAL_RANK``. Joining and every later
    collective wait at most ``timeout_s`` seconds, so an unreachable rendezvous, a port in use or
    a missing rank is a ``UserError``, not a hang.
    """
    if dist.is_available() and dist.is_initialized():
        return current_world(), _device_of_rank(device, env_world()), False
    world = env_world()
    if not world.distributed:
        return world, device, False
    if not dist.is_available():
        raise UserError("this torch build has no torch.distributed; expected a build with it")
    if backend not in BACKENDS:
        raise UserError(f"dist_backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend == "auto":
        backend = "nccl" if device.type == "cuda" else "gloo"
    device = _device_of_rank(device, world)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    where = f"{os.environ.get('MASTER_ADDR', '?')}:{os.environ.get('MASTER_PORT', '?')}"
    try:
        dist.init_process_group(
            backend,
            rank=world.rank,
            world_size=world.size,
            timeout=datetime.timedelta(seconds=timeout_s),
        )
    except (RuntimeError, ValueError, OSError) as error:  # DistNetworkError/DistStoreError too
        raise UserError(_rendezvous_failure(error, where, world, timeout_s)) from None
    logger.debug("rank %d of %d joined %s (%s)", world.rank, world.size, where, backend)
    atexit.register(teardown)  # left when the process ends, not after each fit
    return world, device, True


def _device_of_rank(device: torch.device, world: World) -> torch.device:
    if device.type == "cuda" and device.index is None and world.distributed:
        return torch.device("cuda", world.local_rank % max(torch.cuda.device_count(), 1))
    return device


def _rendezvous_failure(error: Exception, where: str, world: World, timeout_s: float) -> str:
    text = " ".join(str(error).split())
    if "in use" in text.lower():
        reason = "its port is in use by another program; choose a free port"
    elif "timed out" in text.lower() or "timeout" in text.lower():
        reason = (
            f"it did not answer, or not all {world.size} processes arrived, within "
            f"{timeout_s:g} s; expected rank 0's host and a free port, the same for every process"
        )
    else:
        reason = "expected the host and port of rank 0, reachable from every machine"
    return (
        f"rank {world.rank} could not join the rendezvous at {where}: {reason} "
        f"({type(error).__name__}: {text[:200]})"
    )


def lost_peer(error: BaseException) -> bool:
    """Whether ``error`` says a collective failed because another process died or hung."""
    if isinstance(error, getattr(dist, "DistError", ())):
        return True
    text = str(error).lower()
    return isinstance(error, RuntimeError) and any(
        word in text for word in ("gloo", "nccl", "connection reset", "connection closed")
    )


def teardown() -> None:
    """Leave the process group (nothing to do without one)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier() -> None:
    """Wait until every rank gets here (nothing to do without a group)."""
    if current_world().distributed:
        dist.barrier()


def wrap_model(model: nn.Module, device: torch.device) -> nn.Module:
    """``model`` in ``DistributedDataParallel`` (which broadcasts rank 0's weights now and
    averages gradients during ``backward``); the model itself in a world of one.

    A model whose ``skips_parameters`` is true (an adaptive softmax leaves out the tails no
    target of a batch falls in) gets ``find_unused_parameters``: DDP then counts those as
    reduced instead of waiting for their gradients."""
    if not current_world().distributed:
        return model
    device_ids = [device.index] if device.type == "cuda" else None
    unused = bool(getattr(model, "skips_parameters", False))
    return nn.parallel.DistributedDataParallel(
        model, device_ids=device_ids, find_unused_parameters=unused
    )


def sum_over_ranks(values: Sequence[float], device: torch.device | None = None) -> list[float]:
    """Element-wise sums of ``values`` over every rank (``values`` unchanged in a world of
    one). Float64, so counts and sums of losses stay exact enough."""
    if not current_world().distributed:
        return [float(v) for v in values]
    on = device if device is not None and dist.get_backend() == "nccl" else torch.device("cpu")
    tensor = torch.tensor(list(values), dtype=torch.float64, device=on)  # (K,)
    dist.all_reduce(tensor)
    return tensor.tolist()


def any_rank(flag: bool, device: torch.device | None = None) -> bool:
    """True when ``flag`` is true on at least one rank (a collective: every rank must ask)."""
    if not current_world().distributed:
        return flag
    return sum_over_ranks([float(flag)], device)[0] > 0


def reduce_weighted_means(
    sums: Mapping[str, float], weights: Mapping[str, float], device: torch.device | None = None
) -> dict[str, float]:
    """Means over every rank from each rank's ``sums`` (of value * weight) and ``weights``.

    Every rank must hold the same names; a name's mean is ``sum_r sums_r / sum_r weights_r``.
    """
    names = sorted(sums)  # the same order on every rank
    totals = sum_over_ranks([sums[k] for k in names] + [weights[k] for k in names], device)
    count = len(names)
    means = {
        name: totals[i] / totals[count + i] if totals[count + i] else 0.0
        for i, name in enumerate(names)
    }
    return {name: means[name] for name in sums}  # in the caller's order


def all_gather_objects(value: Any) -> list[Any]:
    """Every rank's ``value`` (picklable), in rank order; ``[value]`` in a world of one."""
    world = current_world()
    if not world.distributed:
        return [value]
    gathered: list[Any] = [None] * world.size
    dist.all_gather_object(gathered, value)
    return gathered


# -- sharding ---------------------------------------------------------------------------------


def shard_rows(batch: Any, rank: int, size: int) -> Any:
    """Rows ``rank, rank + size, ...`` of every tensor in ``batch`` (tuples, lists, dicts and
    namedtuples are walked; anything else is kept). Rows are the first dimension: batch-first
    tensors, such as ``PaddedBatch``'s tokens, lengths and targets."""
    if isinstance(batch, torch.Tensor):
        if batch.dim() == 0:
            return batch
        if batch.shape[0] < size:
            raise UserError(
                f"a batch of {batch.shape[0]} rows cannot be split over {size} processes; "
                f"expected a batch size of at least {size}"
            )
        return batch[rank::size]
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):  # a namedtuple
        return type(batch)(*(shard_rows(item, rank, size) for item in batch))
    if isinstance(batch, (tuple, list)):
        return type(batch)(shard_rows(item, rank, size) for item in batch)
    if isinstance(batch, Mapping):
        return {key: shard_rows(item, rank, size) for key, item in batch.items()}
    return batch


class ShardedBatches:
    """``batches`` with each batch cut to this rank's rows (:func:`shard_rows`); re-iterable,
    with the length and ``set_epoch`` of what it wraps."""

    def __init__(self, batches: Iterable[Any], rank: int, size: int) -> None:
        self.batches, self.rank, self.size = batches, rank, size

    def __iter__(self) -> Iterator[Any]:
        for batch in self.batches:
            yield shard_rows(batch, self.rank, self.size)

    def __len__(self) -> int:
        return len(self.batches)  # type: ignore[arg-type]

    def set_epoch(self, epoch: int) -> None:
        for owner in (
            self.batches,
            getattr(self.batches, "batch_sampler", None),
            getattr(self.batches, "sampler", None),
        ):
            set_epoch = getattr(owner, "set_epoch", None)
            if callable(set_epoch):
                set_epoch(epoch)
                return


def count_rows(batch: Any) -> int:
    """The rows of ``batch``: the first dimension of the first tensor found in it (0: none)."""
    if isinstance(batch, torch.Tensor):
        return int(batch.shape[0]) if batch.dim() else 1
    items = batch.values() if isinstance(batch, Mapping) else batch
    if isinstance(items, (tuple, list)) or isinstance(batch, Mapping):
        for item in items:
            rows = count_rows(item)
            if rows:
                return rows
    return 0


class RowCounter:
    """``batches``, counting the rows (:func:`count_rows`) of those iterated in ``rows``."""

    def __init__(self, batches: Iterable[Any]) -> None:
        self.batches, self.rows = batches, 0

    def __iter__(self) -> Iterator[Any]:
        for batch in self.batches:
            self.rows += count_rows(batch)
            yield batch

    def __len__(self) -> int:
        return len(self.batches)  # type: ignore[arg-type]


def batch_size_of(batches: Any) -> int | None:
    """The global batch size of a loader with a batch sampler or of a TBPTT stream (None when
    unknown)."""
    for owner in (getattr(batches, "batch_sampler", None), batches):
        size = getattr(owner, "batch_size", None)
        if isinstance(size, int):
            return size
    return None


def shard_batches(batches: Any, world: World) -> Any:
    """This rank's share of ``batches`` (``batches`` itself in a world of one).

    A loader whose batch sampler has ``set_shard`` (``BucketBatchSampler``) is told the shard
    and returned; an object with ``shard(num_replicas, rank)`` (``TBPTTStream``) returns its
    shard; anything else is wrapped in :class:`ShardedBatches`.
    """
    if not world.distributed:
        return batches
    sampler = getattr(batches, "batch_sampler", None)
    if callable(getattr(sampler, "set_shard", None)):
        sampler.set_shard(world.size, world.rank)
        return batches
    if callable(getattr(batches, "shard", None)):
        return batches.shard(world.size, world.rank)
    return ShardedBatches(batches, world.rank, world.size)


def unshard_batches(batches: Any) -> None:
    """Give a loader's sampler back its whole batches (after a fit)."""
    sampler = getattr(batches, "batch_sampler", None)
    if callable(getattr(sampler, "set_shard", None)):
        sampler.set_shard(1, 0)
