"""A small random sequence-classification problem to run the reference cells on.

Inputs x_t ~ N(0, 1), target classes k_t uniform over C classes, parameters drawn as torch.nn
would draw them (U(-1/√H, 1/√H)), everything float64 so that gradient checks are meaningful.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnkit.reference.bptt import STATE_NAMES
from rnnkit.reference.cell import Cell, State
from rnnkit.reference.loss import init_head

__all__ = ["Problem", "random_problem"]


@dataclass
class Problem:
    """Weights and data for one reference model run.

    Attributes:
        params: the cell's ``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh`` (torch.nn's
            names and shapes) and the head's ``weight_hy`` (C, H), ``bias_y`` (C,).
        x: inputs, (T, N, I).
        targets: target classes, integers (T, N).
        state0: the initial state s_0, ``cell.state_size`` arrays of shape (N, H).
    """

    params: dict[str, np.ndarray]
    x: np.ndarray
    targets: np.ndarray
    state0: State

    def inputs(self) -> dict[str, np.ndarray]:
        """x and the initial state by gradient name: ``{"x": …, "h0": …, ("c0": …)}``."""
        return {"x": self.x, **dict(zip(STATE_NAMES, self.state0))}


def random_problem(
    cell: Cell,
    steps: int,
    batch_size: int = 2,
    input_size: int = 3,
    hidden_size: int = 4,
    num_classes: int = 3,
    rng: np.random.Generator | None = None,
    params: dict[str, np.ndarray] | None = None,
    zero_state: bool = False,
) -> Problem:
    """Draw a problem; ``params`` (cell weights, e.g. copied from a torch layer) replaces the
    drawn cell weights, and ``zero_state`` starts from s_0 = 0 instead of s_0 ~ N(0, 0.5²)."""
    for name, value in [
        ("steps", steps),
        ("batch_size", batch_size),
        ("input_size", input_size),
        ("hidden_size", hidden_size),
        ("num_classes", num_classes),
    ]:
        if value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value}")
    rng = np.random.default_rng() if rng is None else rng
    cell_params = cell.init_params(input_size, hidden_size, rng) if params is None else params
    x = rng.standard_normal((steps, batch_size, input_size))  # (T, N, I)
    targets = rng.integers(0, num_classes, size=(steps, batch_size))  # (T, N)
    if zero_state:
        state0 = cell.zero_state(batch_size, hidden_size)
    else:
        state0 = tuple(
            0.5 * rng.standard_normal((batch_size, hidden_size)) for _ in range(cell.state_size)
        )
    head = init_head(hidden_size, num_classes, rng)
    return Problem({**cell_params, **head}, x, targets, state0)
