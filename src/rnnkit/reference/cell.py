"""The shape every reference cell shares: two affine maps, then the cell's own gate equations.

Each of the three cells computes, at step t, the input and recurrent affine maps

    a^x_t = W_ih x_t + b_ih            (N, G*H)
    a^h_t = W_hh h_{t-1} + b_hh        (N, G*H)

in torch.nn's layout (G gate blocks stacked along the rows of ``weight_ih (G*H, I)`` and
``weight_hh (G*H, H)``), and then its own elementwise gate equations on (a^x_t, a^h_t, s_{t-1}),
where s is the recurrent state: ``(h,)`` for the Elman RNN and the GRU, ``(h, c)`` for the LSTM.

The backward pass of one step splits the same way. A subclass turns dL/ds_t into the gradients
of the two pre-activations (dL/da^x_t, dL/da^h_t) plus the part of dL/ds_{t-1} that bypasses
W_hh (the GRU's z*h and the LSTM's f*c paths); this base class does the linear algebra:

    dL/dW_ih += (dL/da^x_t)^T x_t          dL/db_ih += sum_n dL/da^x_t
    dL/dW_hh += (dL/da^h_t)^T h_{t-1}      dL/db_hh += sum_n dL/da^h_t
    dL/dx_t   = (dL/da^x_t) W_ih
    dL/dh_{t-1} = (dL/da^h_t) W_hh + (bypass term)

Arrays are NumPy; nothing here (or anywhere in ``rnnkit.reference``) imports torch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["CELL_PARAMS", "Cell", "State", "StepCache", "sigmoid"]

State = tuple[np.ndarray, ...]  # (h,) or (h, c), each (N, H)
Params = Mapping[str, np.ndarray]

# The cell's parameter names, exactly torch.nn's (a layer adds the suffix "_l0").
CELL_PARAMS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


class StepCache:
    """What one step's backward pass needs: its inputs and the cell's own saved activations."""

    __slots__ = ("x", "state_prev", "saved")

    def __init__(self, x: np.ndarray, state_prev: State, saved: Any) -> None:
        self.x = x  # (N, I)
        self.state_prev = state_prev  # s_{t-1}: (h_{t-1},) or (h_{t-1}, c_{t-1}), each (N, H)
        self.saved = saved  # cell-specific activations saved by ``gates_forward``

    @property
    def h_prev(self) -> np.ndarray:
        """h_{t-1}, (N, H)."""
        return self.state_prev[0]


class Cell:
    """Base class of the reference cells; subclasses define the gate equations.

    Class attributes of a subclass:
        name: the cell's name (``"rnn_tanh"``, ``"rnn_relu"``, ``"lstm"``, ``"gru"``).
        num_gates: G, the number of gate blocks stacked in ``weight_ih`` / ``weight_hh``.
        state_size: how many (N, H) arrays make the recurrent state (1, or 2 for the LSTM).
    """

    name: str = ""
    num_gates: int = 1
    state_size: int = 1

    # ------------------------------------------------------------------ the cell's own equations
    def gates_forward(self, ax: np.ndarray, ah: np.ndarray, state: State) -> tuple[State, Any]:
        """Return the new state and the activations the backward pass needs."""
        raise NotImplementedError

    def gates_backward(
        self, saved: Any, state_prev: State, d_state: State
    ) -> tuple[np.ndarray, np.ndarray, State]:
        """Return (dL/da^x, dL/da^h, the part of dL/ds_{t-1} that bypasses W_hh)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ shared machinery
    def param_shapes(self, input_size: int, hidden_size: int) -> dict[str, tuple[int, ...]]:
        """The shapes of ``weight_ih (G*H, I)``, ``weight_hh (G*H, H)``, ``bias_* (G*H,)``."""
        gate_size = self.num_gates * hidden_size
        return {
            "weight_ih": (gate_size, input_size),
            "weight_hh": (gate_size, hidden_size),
            "bias_ih": (gate_size,),
            "bias_hh": (gate_size,),
        }

    def init_params(
        self, input_size: int, hidden_size: int, rng: np.random.Generator
    ) -> dict[str, np.ndarray]:
        """torch.nn's default initialisation: every parameter drawn from U(-1/√H, 1/√H)."""
        bound = 1.0 / np.sqrt(hidden_size)
        return {
            name: rng.uniform(-bound, bound, size=shape)
            for name, shape in self.param_shapes(input_size, hidden_size).items()
        }

    def zero_state(self, batch_size: int, hidden_size: int) -> State:
        """The all-zero initial state torch.nn uses when none is given."""
        return tuple(np.zeros((batch_size, hidden_size)) for _ in range(self.state_size))

    def step(self, params: Params, x: np.ndarray, state: State) -> tuple[State, StepCache]:
        """One step s_{t-1} -> s_t on a batch: x is (N, I), each state array (N, H)."""
        ax = x @ params["weight_ih"].T + params["bias_ih"]  # (N, G*H)
        ah = state[0] @ params["weight_hh"].T + params["bias_hh"]  # (N, G*H)
        new_state, saved = self.gates_forward(ax, ah, state)
        return new_state, StepCache(x, state, saved)

    def state_vjp(
        self, params: Params, cache: StepCache, d_state: State
    ) -> tuple[np.ndarray, np.ndarray, State]:
        """Push dL/ds_t back through one step: (dL/da^x, dL/da^h, dL/ds_{t-1})."""
        d_ax, d_ah, bypass = self.gates_backward(cache.saved, cache.state_prev, d_state)
        dh_prev = d_ah @ params["weight_hh"] + bypass[0]  # (N, H)
        return d_ax, d_ah, (dh_prev, *bypass[1:])

    def step_backward(
        self,
        params: Params,
        cache: StepCache,
        d_state: State,
        grads: dict[str, np.ndarray],
    ) -> tuple[np.ndarray, State]:
        """Backward through one step; adds the parameter gradients into ``grads``.

        Returns (dL/dx_t of shape (N, I), dL/ds_{t-1}).
        """
        d_ax, d_ah, d_prev = self.state_vjp(params, cache, d_state)
        grads["weight_ih"] += d_ax.T @ cache.x  # (G*H, I)
        grads["weight_hh"] += d_ah.T @ cache.h_prev  # (G*H, H)
        grads["bias_ih"] += d_ax.sum(axis=0)  # (G*H,)
        grads["bias_hh"] += d_ah.sum(axis=0)  # (G*H,)
        dx = d_ax @ params["weight_ih"]  # (N, I)
        return dx, d_prev

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def sigmoid(a: np.ndarray) -> np.ndarray:
    """σ(a) = 1 / (1 + e^{-a}), computed without overflow for large |a|."""
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
