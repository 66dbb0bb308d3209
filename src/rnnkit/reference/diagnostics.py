"""Looking inside BPTT: the step Jacobian and how the last step's gradient fades over time.

**Step Jacobian.** J_t = ∂s_t/∂s_{t-1}, the derivative of one step's new state with respect to
the previous state (x_t and the weights held fixed). For the Elman RNN J_t = diag(φ'(a_t)) W_hh;
for the GRU J_t = diag(z_t) + (terms through W_hh); for the LSTM the state is s = [h; c] and
J_t is 2H × 2H, its c→c block diag(f_t) + (terms through h_{t-1}).

**Gradient norms over time.** For the last step's loss L_T = l_T alone,

    dL_T/dh_t = ∂l_T/∂s_T · Π_{j=t+1}^{T} J_j     (restricted to the h part of s_t)

so ‖dL_T/dh_t‖ as a function of t shows how much of the error signal at step T reaches step t.
When the Jacobians are contractions (‖J_j‖ < 1) the product, and the gradient, shrinks
geometrically with T - t: the *vanishing gradient*; when they expand it can *explode*
(Bengio, Simard & Frasconi 1994; Pascanu, Mikolov & Bengio 2013). Gated cells keep the
product near 1 along their additive paths (f ⊙ c for the LSTM, z ⊙ h for the GRU).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from rnnkit.reference.bptt import forward
from rnnkit.reference.cell import Cell, State
from rnnkit.reference.loss import head_backward

__all__ = ["last_step_grad_norms", "step_jacobian"]


def step_jacobian(
    cell: Cell, params: Mapping[str, np.ndarray], x_t: np.ndarray, state: State
) -> np.ndarray:
    """J_t = ∂s_t/∂s_{t-1} for every sequence of the batch, shape (N, S*H, S*H).

    ``J[n, a, b] = ∂s_t[n, a] / ∂s_{t-1}[n, b]`` where s is the state flattened as [h] (Elman,
    GRU) or [h; c] (LSTM), S = ``cell.state_size``. Computed exactly, one row at a time, by
    pushing each unit vector back through the step's hand-written backward pass.

    Args:
        x_t: the step's input, (N, I).
        state: s_{t-1}, a tuple of ``cell.state_size`` arrays of shape (N, H).
    """
    _, cache = cell.step(params, x_t, tuple(state))
    batch, hidden = state[0].shape
    size = cell.state_size * hidden
    jacobian = np.empty((batch, size, size))  # (N, S*H, S*H)
    for a in range(size):
        seed = np.zeros((batch, size))  # (N, S*H): the unit vector e_a for every sequence
        seed[:, a] = 1.0
        d_state = tuple(np.split(seed, cell.state_size, axis=1))  # S arrays (N, H)
        _, _, d_prev = cell.state_vjp(params, cache, d_state)
        jacobian[:, a, :] = np.concatenate(d_prev, axis=1)  # row a: e_a^T J_t
    return jacobian


def last_step_grad_norms(
    cell: Cell,
    params: Mapping[str, np.ndarray],
    x: np.ndarray,
    targets: np.ndarray,
    state0: State | None = None,
) -> np.ndarray:
    """‖dL_T/dh_t‖ for t = 1..T, shape (T,), where L_T is the loss at the last step only.

    The norm is the Frobenius norm over the batch and hidden units of the total derivative of
    L_T with respect to h_t (for the LSTM with c_t as a separate variable). Entry T-1 (t = T) is
    the head's direct gradient; each earlier entry is one more step Jacobian back.
    """
    trace = forward(cell, params, x, targets, state0)
    steps = len(trace.caches)
    last_only = np.zeros(steps)  # (T,) step weights w_t: select l_T
    last_only[-1] = 1.0
    dh_direct, _ = head_backward(params, trace.h, trace.probs, targets, last_only)
    d_state = (dh_direct[-1], *(np.zeros_like(s) for s in trace.states[-1][1:]))
    norms = np.empty(steps)  # (T,)
    for j in range(steps - 1, -1, -1):  # state index j + 1 = t
        norms[j] = np.linalg.norm(d_state[0])
        _, _, d_state = cell.state_vjp(params, trace.caches[j], d_state)
    return norms
