"""Checking a resumed run's ``training_state.pt`` before anything uses it.

A checkpoint is untrusted input: ``torch.load(weights_only=True)`` runs no code, but the values it
returns can be anything a weights-only file holds. Each part of the saved state is compared with
what this run's trainer, optimizer and schedule hold fresh — the same keys, kinds of value and
tensor shapes, numbers finite where the fresh ones are — so that a damaged state is one
``UserError`` naming the entry, never a ``TypeError`` (or a wrong-shaped Adam moment) an epoch
later.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any

import torch

from rnnkit.errors import UserError
from rnnkit.train.rng import capture_rng_state, restore_rng_state

__all__ = ["SCALAR_FIELDS", "check_training_state"]

# the per-weight optimizer state entries that are one number; the others have the weight's shape
SCALAR_FIELDS = ("step", "mu_product")


def check_training_state(
    state: Mapping[str, Any],
    *,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    where: str,
) -> None:
    """Raise ``UserError`` (``where``: the file, for the message) unless ``state`` is a training
    state this run can continue from. ``optimizer`` and ``scheduler`` are this run's, fresh."""
    check = _Checker(where)
    epoch = check.count(state, "epoch")
    check.count(state, "global_step")
    world_size = state.get("world_size", 1)
    if not (_is_int(world_size) and world_size >= 1):
        check.fail("world_size", world_size, "the number of processes it was trained on (>= 1)")
    check.number(state, "elapsed_s")
    if state.get("first_loss") is not None:
        check.number(state, "first_loss", negative=True)
    history = state.get("history")
    if not isinstance(history, list) or len(history) != epoch:
        check.fail("history", history, f"a list of {epoch} row(s), one per finished epoch")
    for i, row in enumerate(history):
        if not isinstance(row, dict) or not all(
            isinstance(k, str) and _plain(v) for k, v in row.items()
        ):
            check.fail(f"history[{i}]", row, "a dict of column name -> number or text")
    monitor = state.get("monitor")
    if not isinstance(monitor, dict):
        check.fail("monitor", monitor, "a dict")
    if monitor.get("best") is not None:
        check.number(monitor, "best", "monitor.best", negative=True)
    best_epoch = monitor.get("best_epoch")
    if best_epoch is not None and not (_is_int(best_epoch) and 1 <= best_epoch <= epoch):
        check.fail("monitor.best_epoch", best_epoch, f"an epoch in 1..{epoch} or None")
    check.count(monitor, "bad_epochs", "monitor.bad_epochs")
    _check_rng(check, state.get("rng"))
    if world_size > 1:  # a data-parallel run: each process's generators too
        by_rank = state.get("rng_by_rank")
        if not isinstance(by_rank, list) or len(by_rank) != world_size:
            check.fail("rng_by_rank", by_rank, f"a list of {world_size} generator states")
        for rank_state in by_rank:
            _check_rng(check, rank_state)
    _check_optimizer(check, state.get("optimizer"), optimizer)
    if scheduler is not None:
        check.like("scheduler", state.get("scheduler"), scheduler.state_dict())


class _Checker:
    def __init__(self, where: str) -> None:
        self.where = where

    def fail(self, name: str, value: Any, expected: str) -> None:
        shown = repr(value) if isinstance(value, (bool, int, float, type(None))) else ""
        kind = f"{type(value).__name__} {shown}".strip()
        raise UserError(
            f"{self.where}: the training state's {name} is a {kind}; expected {expected}"
        )

    def count(self, mapping: Any, key: str, name: str | None = None) -> int:
        value = mapping.get(key) if isinstance(mapping, Mapping) else None
        if not (_is_int(value) and value >= 0):
            self.fail(name or key, value, "a whole number >= 0")
        return int(value)

    def number(self, mapping: Mapping, key: str, name: str | None = None, *, negative=False):
        value = mapping.get(key)
        ok = _is_real(value) and math.isfinite(value) and (negative or value >= 0)
        if not ok:
            self.fail(name or key, value, "a finite number" + ("" if negative else " >= 0"))

    def like(self, name: str, saved: Any, fresh: Any) -> None:
        """``saved`` has the structure of ``fresh``: the same keys, lengths, kinds and shapes."""
        if isinstance(fresh, Mapping):
            if not isinstance(saved, Mapping) or set(saved) != set(fresh):
                self.fail(name, saved, f"a dict with the keys {sorted(map(str, fresh))}")
            for key, value in fresh.items():
                self.like(f"{name}.{key}", saved[key], value)
        elif isinstance(fresh, (list, tuple)):
            if not isinstance(saved, (list, tuple)) or len(saved) != len(fresh):
                self.fail(name, saved, f"a list of {len(fresh)}")
            for i, (s, f) in enumerate(zip(saved, fresh, strict=True)):
                self.like(f"{name}[{i}]", s, f)
        elif isinstance(fresh, torch.Tensor):
            if not (isinstance(saved, torch.Tensor) and saved.shape == fresh.shape
                    and saved.dtype == fresh.dtype):  # fmt: skip
                self.fail(name, saved, f"a {fresh.dtype} tensor of shape {tuple(fresh.shape)}")
        elif fresh is None:  # unset now, maybe set in the saved run (a cached Gaussian)
            if saved is not None and not (_is_real(saved) and math.isfinite(saved)):
                self.fail(name, saved, "None or a finite number")
        elif isinstance(fresh, (bool, str)):
            if type(saved) is not type(fresh):
                self.fail(name, saved, f"a {type(fresh).__name__}")
        elif isinstance(fresh, numbers.Integral):
            if not _is_int(saved):
                self.fail(name, saved, "a whole number")
        elif isinstance(fresh, numbers.Real):
            finite = not math.isfinite(fresh) or (_is_real(saved) and math.isfinite(saved))
            if not (_is_real(saved) and finite):
                self.fail(name, saved, "a finite number")


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _plain(value: Any) -> bool:
    return value is None or isinstance(value, (bool, str)) or _is_real(value)


def _check_rng(check: _Checker, saved: Any) -> None:
    """The generators' state has the layout ``capture_rng_state`` writes and can be restored."""
    fresh = capture_rng_state()
    if not isinstance(saved, Mapping) or not isinstance(saved.get("python"), Mapping):
        check.fail("rng", saved, "the random generators' state (python, numpy, torch)")
    check.like("rng", {k: v for k, v in saved.items() if k != "cuda"},
               {k: v for k, v in fresh.items() if k != "cuda"})  # fmt: skip
    try:  # the generators validate the values themselves (the Mersenne Twister's position...)
        restore_rng_state(saved)
    except (ValueError, TypeError, RuntimeError, OverflowError) as error:
        raise UserError(
            f"{check.where}: the training state's random generator state does not restore "
            f"({type(error).__name__}); expected the state a run saved"
        ) from None
    finally:
        restore_rng_state(fresh)


def _check_optimizer(check: _Checker, saved: Any, optimizer: torch.optim.Optimizer) -> None:
    """The optimizer's settings have this optimizer's kinds; its per-weight state, the weights'
    shapes."""
    if not isinstance(saved, Mapping) or not isinstance(saved.get("param_groups"), list):
        check.fail("optimizer", saved, "an optimizer state dict")
    groups = saved["param_groups"]
    if len(groups) != len(optimizer.param_groups):
        check.fail("optimizer.param_groups", groups, f"{len(optimizer.param_groups)} group(s)")
    params = []
    for i, (group, fresh) in enumerate(zip(groups, optimizer.param_groups, strict=True)):
        if not isinstance(group, Mapping) or not isinstance(group.get("params"), list):
            check.fail(f"optimizer.param_groups[{i}]", group, "a parameter group")
        settings = {k: v for k, v in fresh.items() if k != "params"}
        check.like(f"optimizer.param_groups[{i}]",
                   {k: v for k, v in group.items() if k != "params"}, settings)  # fmt: skip
        if len(group["params"]) != len(fresh["params"]):
            check.fail(f"optimizer.param_groups[{i}].params", group["params"],
                       f"{len(fresh['params'])} parameter ids")  # fmt: skip
        params += list(zip(group["params"], fresh["params"], strict=True))
    per_weight = saved.get("state")
    if not isinstance(per_weight, Mapping):
        check.fail("optimizer.state", per_weight, "a dict")
    shapes = {key: param.shape for key, param in params if isinstance(key, (int, str))}
    for key, entry in per_weight.items():
        name = f"optimizer.state[{key!r}]"
        if key not in shapes or not isinstance(entry, Mapping):
            check.fail(name, entry, "the state of one of the model's weights")
        for field, value in entry.items():
            if field in SCALAR_FIELDS:  # a step count, NAdam's momentum product
                ok = _is_real(value) or (isinstance(value, torch.Tensor) and value.numel() == 1)
                expected = "a number"
            else:  # a moment of the weight (None: SGD's unused momentum buffer)
                ok = value is None or (
                    isinstance(value, torch.Tensor)
                    and value.shape == shapes[key]
                    and value.is_floating_point()
                )
                expected = f"a float tensor of shape {tuple(shapes[key])}"
            if not ok:
                check.fail(f"{name}.{field}", value, expected)
