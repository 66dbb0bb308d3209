"""Explicit L1/L2 penalties, activation regularisation (AR/TAR) and gradient clipping (by value
and by global norm).

The penalties cover the *weight matrices* only: parameters with two or more dimensions
(input/recurrent weights, embeddings, output layers), never biases or normalisation gains,
following the convention of weight regularisation in the RNN literature. They are a term of the
loss, ``l1 * sum|w| + l2 * sum w**2``, distinct from an optimizer's ``weight_decay``.

Activation regularisation (Merity et al. 2017, "Revisiting activation regularization for language
RNNs") penalises a recurrent network's outputs ``h`` (N, L, H) rather than its weights:

    AR  = alpha * mean((m ⊙ h)^2)                   (the outputs after dropout m: large ones)
    TAR = beta  * mean((h_t - h_{t-1})^2)           (the outputs before dropout: fast changes)

each mean over every element (batch, steps and units), as the AWD-LSTM computes them.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

__all__ = ["activation_penalty", "clip_gradients", "penalized_parameters", "weight_penalty"]


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


def activation_penalty(
    outputs: torch.Tensor, dropped: torch.Tensor, ar: float, tar: float, time_dim: int = 1
) -> torch.Tensor | None:
    """``ar * mean(dropped**2) + tar * mean((h_t - h_{t-1})**2)`` of ``outputs`` (before dropout)
    and ``dropped`` (after), e.g. (N, L, H) with time along ``time_dim``; None when both weights
    are zero. A single step has no temporal difference: TAR is then zero."""
    terms = []
    if ar:
        terms.append(ar * dropped.float().pow(2).mean())
    if tar and outputs.shape[time_dim] > 1:
        steps = outputs.shape[time_dim]
        change = outputs.narrow(time_dim, 1, steps - 1) - outputs.narrow(time_dim, 0, steps - 1)
        terms.append(tar * change.float().pow(2).mean())  # (N, L-1, H) averaged
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
