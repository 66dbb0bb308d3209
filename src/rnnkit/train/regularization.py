"""Explicit L1/L2 penalties and gradient clipping (by value and by global norm).

The penalties cover the *weight matrices* only: parameters with two or more dimensions
(input/recurrent weights, embeddings, output layers), never biases or normalisation gains,
following the convention of weight regularisation in the RNN literature. They are a term of the
loss, ``l1 * sum|w| + l2 * sum w**2``, distinct from an optimizer's ``weight_decay``.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

__all__ = ["clip_gradients", "penalized_parameters", "weight_penalty"]


def penalized_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The trainable parameters the L1/L2 penalties apply to: those with ``ndim >= 2``."""
    return [p for p in model.parameters() if p.requires_grad and p.ndim >= 2]


def weight_penalty(params: Iterable[torch.Tensor], l1: float, l2: float) -> torch.Tensor | None:
    """``l1 * sum|w| + l2 * sum w**2`` over ``params``, or None when both weights are zero."""
    if l1 == 0 and l2 == 0:
        return None
    terms = []
    for p in params:
        if l1:
            terms.append(l1 * p.abs().sum())
        if l2:
            terms.append(l2 * p.square().sum())
    if not terms:
        return None
    return torch.stack(terms).sum()


def clip_gradients(
    params: Iterable[torch.Tensor], clip_norm: float | None, clip_value: float | None
) -> float | None:
    """Clamp each gradient to ``±clip_value``, then rescale all to global norm ``<= clip_norm``.

    Returns the global gradient norm measured before norm clipping (after value clipping), or
    None when ``clip_norm`` is None (the norm is then not computed, to save the work).
    """
    grads = [p for p in params if p.grad is not None]
    if clip_value is not None:
        nn.utils.clip_grad_value_(grads, clip_value)
    if clip_norm is None:
        return None
    total = nn.utils.clip_grad_norm_(grads, clip_norm)
    return float(total)
