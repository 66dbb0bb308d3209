"""The driver loop shared by every cell: forward through time, then backpropagation through time.

The model is a single-layer recurrent cell with a softmax cross-entropy head at every step:

    s_t = cell(x_t, s_{t-1}),  t = 1..T     (s = h, or (h, c) for the LSTM; s_0 given)
    y_t = W_hy h_t + b_y,   l_t = CE(softmax(y_t), k_t),   L = Σ_{t=1}^{T} l_t

**Full BPTT.** h_t reaches the loss directly through l_t and indirectly through s_{t+1}, so

    dL/ds_t = ∂l_t/∂s_t + (dL/ds_{t+1}) ∂s_{t+1}/∂s_t          (one backward sweep, t = T..1)

and, unrolled, the gradient that l_t sends to an earlier state s_k is a product of step
Jacobians:

    ∂l_t/∂s_k = ∂l_t/∂s_t · ∂s_t/∂s_k,    ∂s_t/∂s_k = Π_{j=k+1}^{t} ∂s_j/∂s_{j-1}   (k < t)

The weights are shared across steps, so their gradient is a sum over steps of each step's
local contribution, e.g.

    dL/dW_hh = Σ_{t=1}^{T} Σ_{k=1}^{t} ∂l_t/∂s_k · ∂⁺s_k/∂W_hh

where ∂⁺s_k/∂W_hh is the immediate derivative of step k (s_{k-1} held fixed). The sweep computes
this with one accumulation per step: dW_hh += (dL/da^h_k)^T h_{k-1}.

**Truncated BPTT(k)** (Williams & Peng 1990, "BPTT(h)"): the gradient of each step's loss l_t
is propagated back through at most the k most recent steps t, t-1, …, t-k+1, i.e. it reaches
the states h_t, …, h_{t-k+1} and the inputs x_t, …, x_{t-k+1}, and the state s_{t-k} that enters
that window is treated as a constant (in autograd terms: detached). Precisely,

    dL/dθ ≈ Σ_{t=1}^{T} Σ_{j=max(1, t-k+1)}^{t} ∂l_t/∂s_j · ∂⁺s_j/∂θ

and the initial state s_0 receives ∂l_t/∂s_0 only from the losses whose window starts at step 1
(t ≤ k). BPTT(1) keeps only each step's immediate contribution; BPTT(k) with k ≥ T is full BPTT.
The cost is O(T·k) step-backward passes (one window per loss term), against O(T) for full BPTT.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from rnnkit.reference.cell import CELL_PARAMS, Cell, State, StepCache
from rnnkit.reference.loss import head_backward, head_forward

__all__ = ["STATE_NAMES", "Trace", "backward", "bptt", "check_inputs", "forward"]

# Names of the gradients with respect to the initial state arrays, in state order.
STATE_NAMES = ("h0", "c0")


@dataclass
class Trace:
    """What the forward pass records for the backward pass.

    Attributes:
        states: s_0, …, s_T (T + 1 tuples of (N, H) arrays).
        caches: one ``StepCache`` per step, for the backward pass.
        h: the hidden states h_1..h_T, (T, N, H).
        probs: the softmax probabilities p_t, (T, N, C).
        step_losses: l_1..l_T, (T,).
    """

    states: list[State]
    caches: list[StepCache]
    h: np.ndarray
    probs: np.ndarray
    step_losses: np.ndarray

    @property
    def loss(self) -> float:
        """L = Σ_t l_t."""
        return float(self.step_losses.sum())


def check_inputs(
    cell: Cell, params: Mapping[str, np.ndarray], x: np.ndarray, targets: np.ndarray, state0
) -> State:
    """Check shapes ("expected X, got Y") and return the initial state (zeros when None)."""
    if x.ndim != 3:
        raise ValueError(f"expected x of shape (T, N, I), got shape {x.shape}")
    steps, batch, _ = x.shape
    if steps < 1:
        raise ValueError(f"expected at least one time step, got x of shape {x.shape}")
    if targets.shape != (steps, batch):
        raise ValueError(f"expected targets of shape {(steps, batch)}, got {targets.shape}")
    hidden = params["weight_hh"].shape[1]
    if params["weight_hh"].shape[0] != cell.num_gates * hidden:
        raise ValueError(
            f"expected weight_hh of shape ({cell.num_gates * hidden}, {hidden}) for {cell.name}, "
            f"got {params['weight_hh'].shape}"
        )
    if state0 is None:
        return cell.zero_state(batch, hidden)
    state0 = tuple(state0)
    shapes = [s.shape for s in state0]
    if shapes != [(batch, hidden)] * cell.state_size:
        raise ValueError(
            f"expected {cell.state_size} initial state array(s) of shape {(batch, hidden)}, "
            f"got {shapes}"
        )
    return state0


def forward(
    cell: Cell,
    params: Mapping[str, np.ndarray],
    x: np.ndarray,
    targets: np.ndarray,
    state0: State | None = None,
) -> Trace:
    """Run the cell over x (T, N, I) from s_0 and apply the head at every step."""
    state = check_inputs(cell, params, x, targets, state0)
    states, caches = [state], []
    for x_t in x:  # x_t: (N, I)
        state, cache = cell.step(params, x_t, state)
        states.append(state)
        caches.append(cache)
    h = np.stack([s[0] for s in states[1:]])  # (T, N, H)
    probs, step_losses = head_forward(params, h, targets)
    return Trace(states, caches, h, probs, step_losses)


def _sweep(
    cell: Cell,
    params: Mapping[str, np.ndarray],
    caches: list[StepCache],
    d_state: State,
    steps: range,
    grads: dict[str, np.ndarray],
    inject: np.ndarray | None = None,
) -> State:
    """Backward through ``steps`` (descending); return dL/ds before the earliest one.

    ``d_state`` is dL/ds after the latest step; ``inject[j]`` (N, H), when given, is the direct
    gradient ∂l_j/∂h_j added on the way. Parameter and input gradients accumulate into ``grads``.
    """
    for j in steps:
        if inject is not None:
            d_state = (d_state[0] + inject[j], *d_state[1:])
        dx, d_state = cell.step_backward(params, caches[j], d_state, grads)
        grads["x"][j] += dx  # (N, I)
    return d_state


def backward(
    cell: Cell,
    params: Mapping[str, np.ndarray],
    trace: Trace,
    targets: np.ndarray,
    truncate: int | None = None,
    step_weights: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Hand-written BPTT: the gradient of L = Σ_t w_t l_t with respect to everything.

    Args:
        truncate: k for truncated BPTT(k) (see the module docstring); None is full BPTT.
        step_weights: w_t (T,), None for all ones.

    Returns:
        A dict with one gradient per entry of ``params`` (same names and shapes), plus ``"x"``
        (T, N, I) and ``"h0"`` (and ``"c0"`` for the LSTM), each (N, H).
    """
    if truncate is not None and truncate < 1:
        raise ValueError(f"truncate must be a positive number of steps or None, got {truncate}")
    steps = len(trace.caches)
    dh_direct, head_grads = head_backward(params, trace.h, trace.probs, targets, step_weights)
    grads = {name: np.zeros_like(params[name]) for name in CELL_PARAMS}
    grads.update(head_grads)
    grads["x"] = np.zeros((steps, *trace.caches[0].x.shape))  # (T, N, I)
    zero = tuple(np.zeros_like(s) for s in trace.states[0])
    if truncate is None or truncate >= steps:
        d_state0 = _sweep(
            cell, params, trace.caches, zero, range(steps - 1, -1, -1), grads, dh_direct
        )
    else:
        d_state0 = zero
        for t in range(steps):  # one window per loss term l_t (0-based t)
            first = max(0, t - truncate + 1)
            d_state = (dh_direct[t], *zero[1:])
            d_state = _sweep(cell, params, trace.caches, d_state, range(t, first - 1, -1), grads)
            if first == 0:  # the window reaches s_0
                d_state0 = tuple(a + b for a, b in zip(d_state0, d_state))
    for name, d in zip(STATE_NAMES, d_state0):
        grads[name] = d
    return grads


def bptt(
    cell: Cell,
    params: Mapping[str, np.ndarray],
    x: np.ndarray,
    targets: np.ndarray,
    state0: State | None = None,
    truncate: int | None = None,
) -> tuple[float, dict[str, np.ndarray]]:
    """Forward and backward in one call: return (L, gradients); see ``backward``."""
    trace = forward(cell, params, x, targets, state0)
    return trace.loss, backward(cell, params, trace, targets, truncate=truncate)
