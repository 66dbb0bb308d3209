"""The Elman RNN cell in NumPy, forward and backward, in torch.nn.RNN's parameter layout.

Forward (one gate block, G = 1):

    a_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh          (N, H)
    h_t = φ(a_t),   φ = tanh  or  φ = relu

Backward, given dL/dh_t:

    dL/da_t     = dL/dh_t ⊙ φ'(a_t),   tanh'(a) = 1 - tanh(a)²,   relu'(a) = [a > 0]
    dL/dh_{t-1} = (dL/da_t) W_hh

so the step Jacobian is

    ∂h_t/∂h_{t-1} = diag(φ'(a_t)) W_hh                    (H, H) per sequence

and, by the chain rule, ∂h_t/∂h_k = Π_{j=k+1}^{t} diag(φ'(a_j)) W_hh. With tanh, |φ'| ≤ 1, so
‖∂h_t/∂h_k‖ ≤ (σ_max(W_hh))^{t-k}: when the largest singular value of W_hh is below 1 the
gradient reaching early steps shrinks geometrically (it vanishes); far above 1 it can explode
(Bengio, Simard & Frasconi 1994; Pascanu, Mikolov & Bengio 2013).
"""

from __future__ import annotations

import numpy as np

from rnnkit.reference.cell import Cell, State

__all__ = ["ElmanCell"]

NONLINEARITIES = ("tanh", "relu")


class ElmanCell(Cell):
    """h_t = φ(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh) with φ = tanh or relu.

    Args:
        nonlinearity: ``"tanh"`` (default) or ``"relu"``, as torch.nn.RNN's argument.
    """

    num_gates = 1
    state_size = 1

    def __init__(self, nonlinearity: str = "tanh") -> None:
        if nonlinearity not in NONLINEARITIES:
            raise ValueError(f"nonlinearity must be one of {NONLINEARITIES}, got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        self.name = f"rnn_{nonlinearity}"

    def gates_forward(
        self, ax: np.ndarray, ah: np.ndarray, state: State
    ) -> tuple[State, np.ndarray]:
        a = ax + ah  # (N, H)
        h = np.tanh(a) if self.nonlinearity == "tanh" else np.maximum(a, 0.0)  # (N, H)
        return (h,), h

    def gates_backward(
        self, saved: np.ndarray, state_prev: State, d_state: State
    ) -> tuple[np.ndarray, np.ndarray, State]:
        h = saved  # (N, H)
        # φ'(a) from the output: tanh' = 1 - h², relu' = [a > 0] = [h > 0]
        slope = 1.0 - h * h if self.nonlinearity == "tanh" else (h > 0.0).astype(h.dtype)
        da = d_state[0] * slope  # (N, H)
        return da, da, (np.zeros_like(state_prev[0]),)

    def __repr__(self) -> str:
        return f"ElmanCell(nonlinearity={self.nonlinearity!r})"
