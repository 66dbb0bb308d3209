"""Choosing a device, and moving a batch of any shape onto it.

Batches differ by task: ``(tokens, lengths, labels)``, ``{"src": ..., "tgt": ...}``, a
namedtuple or a dataclass. ``move_to_device`` walks tuples, lists, dicts, namedtuples and
dataclasses, moves every tensor it finds and returns everything else unchanged.

Sequence lengths must stay on the CPU: ``pack_padded_sequence`` wants CPU lengths and would
otherwise copy them back (a device synchronisation per batch). So a tensor stored under a dict
key, namedtuple field or dataclass field named in ``keep_on_cpu`` (by default ``CPU_KEYS``:
"lengths", "src_lengths", "tgt_lengths") is left where it is. A positional tuple has no names:
a task whose batch is a plain tuple holding lengths either uses a dict/namedtuple or overrides
``Objective.move_batch`` (the trainer calls the objective's mover when it has one).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Collection, Mapping
from typing import Any

import torch
from torch.nn.utils.rnn import PackedSequence

from rnnkit.errors import UserError
from rnnkit.nn.engine.native import onednn_bfloat16_lstm

__all__ = [
    "CPU_KEYS",
    "bf16_works",
    "fast_bf16",
    "move_to_device",
    "resolve_device",
    "use_bf16",
]

log = logging.getLogger(__name__)

CPU_KEYS: frozenset[str] = frozenset({"lengths", "src_lengths", "tgt_lengths"})


def resolve_device(spec: str | torch.device = "auto") -> torch.device:
    """``"auto"`` picks cuda, then mps, then cpu; an unavailable device raises UserError."""
    if isinstance(spec, torch.device):
        return spec
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(spec)
    except (RuntimeError, TypeError):
        raise UserError(
            f"unknown device {spec!r}; expected auto, cpu, cuda, cuda:N or mps"
        ) from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"device {spec!r} was asked for, but torch sees no CUDA GPU; use cpu")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise UserError(f"device {spec!r} was asked for, but MPS is not available; use cpu")
    if device.type == "cpu" and device.index not in (None, 0):
        raise UserError(f"device {spec!r}: torch has one CPU device; expected cpu")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise UserError(
            f"device {spec!r}: torch sees {torch.cuda.device_count()} CUDA GPU(s); "
            f"expected cuda:0..cuda:{torch.cuda.device_count() - 1}"
        )
    return device


def fast_bf16(device: torch.device) -> bool:
    """Whether ``device`` multiplies bfloat16 matrices in hardware (so autocast pays off): CUDA
    GPUs that support it, and CPUs with AVX-512 BF16 or AMX (read from /proc/cpuinfo, so False
    on other systems) where the products also work (:func:`bf16_works`)."""
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device.type != "cpu":
        return False
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            flags = next((line for line in f if line.startswith("flags")), "").split()
    except OSError:
        return False
    return ("avx512_bf16" in flags or "amx_bf16" in flags) and bf16_works(device)


def bf16_works(device: torch.device | str = "cpu") -> bool:
    """Whether a bfloat16-autocast matrix product, forward and backward, runs on ``device``.

    Tried once per device, not read from CPU flags: without AVX-512 BF16 or AMX, torch's CPU
    products in bf16 may still run (emulated, several times slower than float32; an AVX2 AMD
    EPYC does so) or raise RuntimeError, depending on the op and the build.
    """
    return _bf16_works(str(torch.device(device)))


@functools.cache
def _bf16_works(device: str) -> bool:
    try:
        x = torch.ones(4, 8, device=device, requires_grad=True)
        w = torch.ones(16, 8, device=device, requires_grad=True)
        with torch.autocast(torch.device(device).type, dtype=torch.bfloat16):
            y = torch.nn.functional.linear(x, w)  # (4, 16)
        y.float().sum().backward()
    except RuntimeError:
        return False
    return y.dtype == torch.bfloat16


def use_bf16(precision: str, device: torch.device, model: torch.nn.Module | None = None) -> bool:
    """Whether to train under bfloat16 autocast for ``precision`` ("fp32", "bf16" or "auto").

    "auto" is bf16 only where the device has bf16 hardware (:func:`fast_bf16`). "bf16" raises
    UserError where the device's bf16 products fail, or where ``model`` holds a
    ``torch.nn.LSTM`` that cannot run under CPU autocast (torch sends it to oneDNN's bf16 LSTM,
    which needs AVX-512 or AMX; rnnkit.nn.LSTM runs there); where bf16 runs without bf16
    hardware (emulated, slower than fp32) it logs a warning.
    """
    if precision == "auto":
        return fast_bf16(device)
    if precision != "bf16":
        return False
    cpu = device.type == "cpu"
    if not bf16_works(device):
        needs = "a CPU with AVX-512 BF16 or AMX (or a GPU with bf16)" if cpu else "bf16 support"
        raise UserError(
            f"precision bf16 needs {needs}; this {'CPU' if cpu else device} cannot multiply "
            "bfloat16 matrices: expected precision fp32 or auto, got bf16"
        )
    lstm = model is not None and any(type(m) is torch.nn.LSTM for m in model.modules())
    if cpu and lstm and not onednn_bfloat16_lstm():
        raise UserError(
            "precision bf16: torch.nn.LSTM fails under bfloat16 autocast on this CPU (oneDNN's "
            "bf16 LSTM needs AVX-512 or AMX): expected rnnkit.nn.LSTM (same arguments and "
            "weights) or precision fp32 or auto, got bf16 with torch.nn.LSTM"
        )
    if not fast_bf16(device):
        log.warning(
            "precision bf16 on %s without %s: bf16 matrix products are emulated there, several "
            "times slower than fp32 (precision auto or fp32 is faster)",
            "a CPU" if cpu else device,
            "AVX-512 BF16 or AMX" if cpu else "bf16 hardware",
        )
    return True


def move_to_device(
    obj: Any, device: torch.device | str, keep_on_cpu: Collection[str] = CPU_KEYS
) -> Any:
    """A copy of ``obj`` with its tensors on ``device``; see the module docstring for the rules."""
    device = torch.device(device)
    return _move(obj, device, frozenset(keep_on_cpu))


def _move(obj: Any, device: torch.device, keep: frozenset[str]) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.to(device, non_blocking=device.type == "cuda")
    if isinstance(obj, PackedSequence):  # its own .to keeps batch_sizes on the CPU
        return obj.to(device)
    if isinstance(obj, Mapping):
        moved = {k: v if k in keep else _move(v, device, keep) for k, v in obj.items()}
        if type(obj) is dict:
            return moved
        try:  # keep an OrderedDict or a dict subclass; fall back to a dict
            return type(obj)(moved)  # type: ignore[call-arg]
        except TypeError:
            return moved
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):  # namedtuple
        return type(obj)(
            *(v if f in keep else _move(v, device, keep) for f, v in zip(obj._fields, obj))
        )
    if isinstance(obj, (list, tuple)):
        return type(obj)(_move(v, device, keep) for v in obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        changes = {
            f.name: _move(getattr(obj, f.name), device, keep)
            for f in dataclasses.fields(obj)
            if f.init and f.name not in keep
        }
        return dataclasses.replace(obj, **changes)
    return obj
