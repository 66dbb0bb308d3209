"""The decoder step that greedy and beam search drive, and its state.

A decoder is a function ``step(tokens (B,), state) -> (log_probs (B, V), state, attention (B, S))``
whose state is a tuple (or NamedTuple) of tensors with the batch first, so hypotheses are
reordered with ``index_select(0, ...)`` on each.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

__all__ = ["StepFn", "select_rows", "state_device"]

StepFn = Callable[[Tensor, Any], tuple[Tensor, Any, Tensor]]


def select_rows(state: Any, index: Tensor) -> Any:
    """``state`` with every tensor's rows (dim 0) taken at ``index``; tuples keep their type."""
    if isinstance(state, Tensor):
        return state.index_select(0, index)
    if isinstance(state, tuple) and hasattr(state, "_fields"):  # NamedTuple
        return type(state)(*(select_rows(s, index) for s in state))
    if isinstance(state, (tuple, list)):
        return type(state)(select_rows(s, index) for s in state)
    return state


def state_device(state: Any) -> torch.device:
    """The device of the first tensor in ``state`` (CPU when it holds none)."""
    tensor = _first_tensor(state)
    return tensor.device if tensor is not None else torch.device("cpu")


def _first_tensor(state: Any) -> Tensor | None:
    if isinstance(state, Tensor):
        return state
    if isinstance(state, (tuple, list)):
        for item in state:
            if (tensor := _first_tensor(item)) is not None:
                return tensor
    return None
