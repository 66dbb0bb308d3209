"""The LSTM cell in NumPy, forward and backward, in torch.nn.LSTM's layout (gate order i, f, g, o).

Forward (G = 4 gate blocks stacked in ``weight_ih (4H, I)`` and ``weight_hh (4H, H)``):

    i_t = σ(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)        input gate
    f_t = σ(W_if x_t + b_if + W_hf h_{t-1} + b_hf)        forget gate
    g_t = tanh(W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)     candidate cell
    o_t = σ(W_io x_t + b_io + W_ho h_{t-1} + b_ho)        output gate
    c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t
    h_t = o_t ⊙ tanh(c_t)

Backward, given dL/dh_t and dL/dc_t (the state is s_t = (h_t, c_t)):

    dL/do_t  = dL/dh_t ⊙ tanh(c_t)
    δc_t     = dL/dc_t + dL/dh_t ⊙ o_t ⊙ (1 - tanh²(c_t))       total gradient reaching c_t
    dL/di_t  = δc_t ⊙ g_t,   dL/dg_t = δc_t ⊙ i_t,   dL/df_t = δc_t ⊙ c_{t-1}
    dL/dc_{t-1} = δc_t ⊙ f_t                                     the "constant error carousel"
    pre-activations: dL/da_i = dL/di ⊙ i(1-i), dL/da_f = dL/df ⊙ f(1-f),
                     dL/da_g = dL/dg ⊙ (1-g²), dL/da_o = dL/do ⊙ o(1-o)
    dL/dh_{t-1} = [dL/da_i, dL/da_f, dL/da_g, dL/da_o] W_hh

The step Jacobian is over the whole state, ∂s_t/∂s_{t-1} (2H × 2H); its c→c block is
diag(f_t) plus terms through h_{t-1}. Along the cell path the product Π_j diag(f_j) replaces
the Elman RNN's Π_j diag(φ'(a_j)) W_hh: with forget gates near 1 the gradient reaching early
steps is carried almost unchanged (Hochreiter & Schmidhuber 1997; Gers et al. 2000).
"""

from __future__ import annotations

import numpy as np

from rnnkit.reference.cell import Cell, State, sigmoid

__all__ = ["LSTMCell"]


class LSTMCell(Cell):
    """c_t = f ⊙ c_{t-1} + i ⊙ g, h_t = o ⊙ tanh(c_t); gates i, f, g, o as torch.nn.LSTM."""

    name = "lstm"
    num_gates = 4
    state_size = 2

    def gates_forward(self, ax: np.ndarray, ah: np.ndarray, state: State) -> tuple[State, tuple]:
        a_i, a_f, a_g, a_o = np.split(ax + ah, 4, axis=1)  # each (N, H)
        i, f, g, o = sigmoid(a_i), sigmoid(a_f), np.tanh(a_g), sigmoid(a_o)
        c = f * state[1] + i * g  # (N, H)
        tanh_c = np.tanh(c)  # (N, H)
        h = o * tanh_c  # (N, H)
        return (h, c), (i, f, g, o, tanh_c)

    def gates_backward(
        self, saved: tuple, state_prev: State, d_state: State
    ) -> tuple[np.ndarray, np.ndarray, State]:
        i, f, g, o, tanh_c = saved
        dh, dc = d_state
        d_o = dh * tanh_c  # (N, H)
        dc_total = dc + dh * o * (1.0 - tanh_c * tanh_c)  # (N, H)
        d_i = dc_total * g
        d_f = dc_total * state_prev[1]
        d_g = dc_total * i
        d_a = np.concatenate(
            [d_i * i * (1.0 - i), d_f * f * (1.0 - f), d_g * (1.0 - g * g), d_o * o * (1.0 - o)],
            axis=1,
        )  # (N, 4H)
        return d_a, d_a, (np.zeros_like(dh), dc_total * f)
