"""Recurrent cells and backpropagation through time, by hand, in NumPy only.

The Elman RNN (tanh or relu), the LSTM and the GRU written from their gate equations, with a
hand-derived backward pass, full and truncated BPTT, gradient checking by finite differences,
and the step Jacobians and per-step gradient norms behind the vanishing-gradient problem.
Parameters use torch.nn's names and layout (``weight_ih (G*H, I)``, ``weight_hh (G*H, H)``,
``bias_ih``, ``bias_hh``; gate order i, f, g, o and r, z, n), so weights copy 1:1 to
``rnnkit.nn`` / ``torch.nn`` layers as ``weight_ih_l0`` etc.

This package never imports torch: it is the transparent, independent reference the fast
implementations are tested against.

Example::

    import numpy as np
    from rnnkit.reference import bptt, make_cell, random_problem

    cell = make_cell("lstm")
    p = random_problem(cell, steps=5, rng=np.random.default_rng(0))
    loss, grads = bptt(cell, p.params, p.x, p.targets, p.state0)   # grads["weight_hh"]: (16, 4)
"""

from rnnkit.reference.bptt import STATE_NAMES, Trace, backward, bptt, forward
from rnnkit.reference.cell import CELL_PARAMS, Cell
from rnnkit.reference.diagnostics import last_step_grad_norms, step_jacobian
from rnnkit.reference.gradcheck import check_gradients, numerical_gradients, relative_error
from rnnkit.reference.gru import GRUCell
from rnnkit.reference.loss import HEAD_PARAMS, head_backward, head_forward, init_head
from rnnkit.reference.lstm import LSTMCell
from rnnkit.reference.problem import Problem, random_problem
from rnnkit.reference.registry import CELLS, make_cell
from rnnkit.reference.rnn import ElmanCell

__all__ = [
    "CELLS",
    "CELL_PARAMS",
    "HEAD_PARAMS",
    "STATE_NAMES",
    "Cell",
    "ElmanCell",
    "GRUCell",
    "LSTMCell",
    "Problem",
    "Trace",
    "backward",
    "bptt",
    "check_gradients",
    "forward",
    "head_backward",
    "head_forward",
    "init_head",
    "last_step_grad_norms",
    "make_cell",
    "numerical_gradients",
    "random_problem",
    "relative_error",
    "step_jacobian",
]
