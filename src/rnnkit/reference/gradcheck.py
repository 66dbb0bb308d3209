"""Gradient checking: hand-written BPTT against central finite differences.

For every scalar θ_i among the parameters, the inputs x and the initial state s_0,

    dL/dθ_i ≈ (L(θ + ε e_i) - L(θ - ε e_i)) / (2ε)

whose error is O(ε²) from truncation plus O(u·|L|/ε) from rounding (u ≈ 1.1e-16 in float64);
ε ≈ u^(1/3) ≈ 1e-5 balances the two. Everything must be float64.

Two gradients a, b of one tensor are compared by the relative error

    err(a, b) = max_i |a_i - b_i| / max(max_i |a_i|, max_i |b_i|, tiny)

(the largest absolute difference, scaled by the largest entry of either, ``tiny`` = 1e-30 so
two all-zero gradients give 0). Unlike an elementwise relative error it does not blow up on
entries that are zero up to rounding. Hand-written BPTT typically agrees to ~1e-9 with finite
differences and to ~1e-15 with autograd; a wrong term in the backward pass gives ~1e-2 or more.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from rnnkit.reference.bptt import STATE_NAMES, bptt, check_inputs, forward
from rnnkit.reference.cell import Cell, State

__all__ = ["check_gradients", "numerical_gradients", "relative_error"]

TINY = 1e-30


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """max|a - b| / max(max|a|, max|b|, tiny): 0 for equal tensors, about 1 for unrelated ones."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"expected gradients of the same shape, got {a.shape} and {b.shape}")
    scale = max(float(np.abs(a).max(initial=0.0)), float(np.abs(b).max(initial=0.0)), TINY)
    return float(np.abs(a - b).max(initial=0.0)) / scale


def numerical_gradients(
    cell: Cell,
    params: Mapping[str, np.ndarray],
    x: np.ndarray,
    targets: np.ndarray,
    state0: State | None = None,
    eps: float = 1e-5,
) -> dict[str, np.ndarray]:
    """Central finite differences of L = Σ_t l_t with respect to every entry of every tensor.

    Returns the same keys as ``rnnkit.reference.bptt.backward``: each parameter, ``"x"``,
    ``"h0"`` (and ``"c0"``). Costs two forward passes per scalar: keep the problem small.
    """
    state0 = check_inputs(cell, params, x, targets, state0)
    tensors = {name: np.array(value, dtype=np.float64) for name, value in params.items()}
    tensors["x"] = np.array(x, dtype=np.float64)
    tensors.update({name: np.array(s, dtype=np.float64) for name, s in zip(STATE_NAMES, state0)})
    state_names = STATE_NAMES[: cell.state_size]

    def loss() -> float:
        model = {name: tensors[name] for name in params}
        start = tuple(tensors[name] for name in state_names)
        return forward(cell, model, tensors["x"], targets, start).loss

    grads = {}
    for name, tensor in tensors.items():
        grad = np.empty_like(tensor)
        flat, flat_grad = tensor.reshape(-1), grad.reshape(-1)  # views into tensor and grad
        for i in range(flat.size):
            original = flat[i]
            flat[i] = original + eps
            plus = loss()
            flat[i] = original - eps
            minus = loss()
            flat[i] = original
            flat_grad[i] = (plus - minus) / (2.0 * eps)
        grads[name] = grad
    return grads


def check_gradients(
    cell: Cell,
    params: Mapping[str, np.ndarray],
    x: np.ndarray,
    targets: np.ndarray,
    state0: State | None = None,
    eps: float = 1e-5,
) -> dict[str, float]:
    """Relative error (see ``relative_error``) of hand BPTT against finite differences, by name."""
    _, analytic = bptt(cell, params, x, targets, state0)
    numeric = numerical_gradients(cell, params, x, targets, state0, eps)
    return {name: relative_error(analytic[name], numeric[name]) for name in numeric}
