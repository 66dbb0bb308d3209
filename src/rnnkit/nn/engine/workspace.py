"""Reusable big buffers for the fused engine.

A training step of a recurrent layer writes hundreds of megabytes of per-step state (gates, cell
states, their gradients). On CPU, freshly allocated blocks that large come straight from the
operating system, and touching their pages for the first time costs more than the arithmetic that
fills them (a 52 MB buffer: ~8 ms to fill when reused, ~30 ms when fresh). The pool below hands
back a buffer of a previous step once nothing else holds it (the autograd graph that saved it has
been freed), so steady-state training touches no new pages.

Buffers are rounded up to size classes so that varying sequence lengths reuse them, and the pool
keeps at most :data:`MAX_BYTES` of idle buffers (least recently used dropped first).
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import torch
from torch import Tensor

__all__ = ["MAX_BYTES", "MIN_BYTES", "clear", "empty"]

MIN_BYTES = 1 << 20  # smaller blocks are cheap to allocate: no pooling
MAX_BYTES = 1 << 30  # idle bytes the pool may keep

_lock = threading.Lock()
_pool: OrderedDict[int, tuple[Tensor, int]] = OrderedDict()  # id -> (flat buffer, bytes)


def _in_use(buffer: Tensor) -> bool:
    """Whether anything besides the pool holds the buffer's storage (a view, a saved tensor)."""
    # The storage object made by untyped_storage() holds one reference, the pool's tensor one.
    return torch._C._storage_Use_Count(buffer.untyped_storage()._cdata) > 2


def _size_class(numel: int) -> int:
    """Round up to 1/8 steps between powers of two (at most 12.5% waste)."""
    step = max(1 << max(numel.bit_length() - 4, 0), 1)
    return -(-numel // step) * step


def empty(shape: tuple[int, ...], dtype: torch.dtype, device: torch.device) -> Tensor:
    """An uninitialised tensor like ``torch.empty``, from the pool when it is big and on CPU."""
    numel = 1
    for size in shape:
        numel *= size
    itemsize = torch.empty((), dtype=dtype).element_size()
    if torch.device(device).type != "cpu" or numel * itemsize < MIN_BYTES or not _USABLE:
        return torch.empty(shape, dtype=dtype, device=device)
    wanted = _size_class(numel)
    with _lock:
        for key, (buffer, _) in _pool.items():
            if buffer.dtype == dtype and buffer.numel() == wanted and not _in_use(buffer):
                _pool.move_to_end(key)
                return buffer[:numel].view(shape)
        buffer = torch.empty(wanted, dtype=dtype)
        _pool[id(buffer)] = (buffer, wanted * itemsize)
        _evict()
    return buffer[:numel].view(shape)


def _evict() -> None:
    """Drop least recently used idle buffers while the idle total exceeds MAX_BYTES."""
    idle = [(key, size) for key, (buffer, size) in _pool.items() if not _in_use(buffer)]
    total = sum(size for _, size in idle)
    for key, size in idle:  # oldest first
        if total <= MAX_BYTES:
            break
        del _pool[key]
        total -= size


def clear() -> None:
    """Forget every pooled buffer (memory is returned once nothing else holds it)."""
    with _lock:
        _pool.clear()


def _usable() -> bool:
    try:
        probe = torch.empty(1)
        return torch._C._storage_Use_Count(probe.untyped_storage()._cdata) == 2
    except (AttributeError, RuntimeError):  # a PyTorch without the private counter
        return False


_USABLE = _usable()
