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
from collections.abc import Collection, Mapping
from typing import Any

import torch
from torch.nn.utils.rnn import PackedSequence

from rnnkit.errors import UserError

__all__ = ["CPU_KEYS", "fast_bf16", "move_to_device", "resolve_device"]

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
    return device


def fast_bf16(device: torch.device) -> bool:
    """Whether ``device`` multiplies bfloat16 matrices in hardware (so autocast pays off): CUDA
    GPUs that support it, and CPUs with AVX-512 BF16 or AMX (read from /proc/cpuinfo)."""
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device.type != "cpu":
        return False
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            flags = next((line for line in f if line.startswith("flags")), "").split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


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
