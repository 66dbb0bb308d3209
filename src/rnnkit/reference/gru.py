"""The GRU cell in NumPy, forward and backward, in torch.nn.GRU's formulation (gate order r, z, n).

Forward (G = 3 gate blocks stacked in ``weight_ih (3H, I)`` and ``weight_hh (3H, H)``):

    r_t = σ(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)               reset gate
    z_t = σ(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)               update gate
    n_t = tanh(W_in x_t + b_in + r_t ⊙ (W_hn h_{t-1} + b_hn))    candidate
    h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}

Note torch's (and cuDNN's) placement of the reset gate: it multiplies W_hn h + b_hn, *after*
the recurrent matrix, unlike Cho et al. (2014) who apply W_hn to r ⊙ h.

Backward, given dL/dh_t, with a^h_n = W_hn h_{t-1} + b_hn:

    dL/dn_t = dL/dh_t ⊙ (1 - z_t),    dL/dz_t = dL/dh_t ⊙ (h_{t-1} - n_t)
    δn = dL/dn_t ⊙ (1 - n_t²),        dL/dr_t = δn ⊙ a^h_n
    input pre-activations:      [δr, δz, δn]          with δr = dL/dr ⊙ r(1-r), δz = dL/dz ⊙ z(1-z)
    recurrent pre-activations:  [δr, δz, δn ⊙ r_t]
    dL/dh_{t-1} = [δr, δz, δn ⊙ r_t] W_hh + dL/dh_t ⊙ z_t

The last term is the GRU's shortcut: the step Jacobian ∂h_t/∂h_{t-1} = diag(z_t) + (terms
through W_hh), so with z near 1 the gradient passes through a step nearly unchanged.
"""

from __future__ import annotations

import numpy as np

from rnnkit.reference.cell import Cell, State, sigmoid

__all__ = ["GRUCell"]


class GRUCell(Cell):
    """h_t = (1 - z) ⊙ n + z ⊙ h_{t-1}; gates r, z, n as torch.nn.GRU."""

    name = "gru"
    num_gates = 3
    state_size = 1

    def gates_forward(self, ax: np.ndarray, ah: np.ndarray, state: State) -> tuple[State, tuple]:
        ax_r, ax_z, ax_n = np.split(ax, 3, axis=1)  # each (N, H)
        ah_r, ah_z, ah_n = np.split(ah, 3, axis=1)  # each (N, H)
        r = sigmoid(ax_r + ah_r)
        z = sigmoid(ax_z + ah_z)
        n = np.tanh(ax_n + r * ah_n)  # (N, H)
        h = (1.0 - z) * n + z * state[0]  # (N, H)
        return (h,), (r, z, n, ah_n)

    def gates_backward(
        self, saved: tuple, state_prev: State, d_state: State
    ) -> tuple[np.ndarray, np.ndarray, State]:
        r, z, n, ah_n = saved
        dh = d_state[0]  # (N, H)
        d_n = dh * (1.0 - z) * (1.0 - n * n)  # δn, (N, H)
        d_z = dh * (state_prev[0] - n) * z * (1.0 - z)  # δz
        d_r = d_n * ah_n * r * (1.0 - r)  # δr
        d_ax = np.concatenate([d_r, d_z, d_n], axis=1)  # (N, 3H)
        d_ah = np.concatenate([d_r, d_z, d_n * r], axis=1)  # (N, 3H)
        return d_ax, d_ah, (dh * z,)
