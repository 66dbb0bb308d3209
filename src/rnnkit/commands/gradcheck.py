"""Check hand-written backpropagation through time three ways, on a small random problem.

The model: one recurrent layer (an Elman RNN, LSTM or GRU) over T steps, with a softmax
cross-entropy head at every step, y_t = W_hy h_t + b_y, and the loss L = Σ_t l_t. The NumPy
reference in rnnkit.reference computes dL/dθ by hand: one backward sweep, t = T..1,

    dL/ds_t = ∂l_t/∂s_t + dL/ds_{t+1} · ∂s_{t+1}/∂s_t,    dL/dW_hh = Σ_t (dL/da^h_t)^T h_{t-1}

and this command compares those gradients, for every weight, the inputs x and the initial
state, against

  1. central finite differences (L(θ + ε) - L(θ - ε)) / 2ε, ε = 1e-5, which know nothing of the
     derivation, and
  2. PyTorch autograd through rnnkit.nn's layer loaded with the very same weights
     (weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0), run in float64.

The error of each tensor is max|a - b| / max(max|a|, max|b|). Both must stay below 1e-6, or the
command exits with status 1. Typical values: about 1e-9 against finite differences (their own
truncation and rounding error), about 1e-15 against autograd (rounding only).

With --truncate K it also checks truncated BPTT(K) (Williams & Peng): each step's loss l_t sends
its gradient back through the K most recent steps only, and the state entering that window is
a constant. Finite differences cannot see truncation (they differentiate the true loss), so
BPTT(K) is compared with autograd where, for each l_t, the layer is re-run from the state
s_{t-K} detached.

Examples:
  rnnkit gradcheck --cell lstm
  rnnkit gradcheck --cell rnn --nonlinearity relu --steps 20 --truncate 5 --json
"""

from __future__ import annotations

import argparse
from typing import Any

from rnnkit.errors import UserError
from rnnkit.tasks.gradcheck import LAYERS, check_bptt

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cell", required=True, choices=sorted(LAYERS), help="the cell to check")
    parser.add_argument(
        "--nonlinearity",
        choices=["tanh", "relu"],
        default="tanh",
        help="the rnn cell's nonlinearity (default: tanh)",
    )
    parser.add_argument("--steps", type=int, default=5, help="sequence length T (default: 5)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument(
        "--truncate",
        type=int,
        metavar="K",
        help="also check truncated BPTT(K) against autograd with per-step detaching",
    )


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.steps < 1:
        raise UserError(f"--steps must be a positive number of time steps, got {args.steps}")
    if args.truncate is not None and args.truncate < 1:
        raise UserError(f"--truncate must be a positive number of steps, got {args.truncate}")
    if args.cell != "rnn" and args.nonlinearity != "tanh":
        raise UserError(f"--nonlinearity is for --cell rnn only, got it with --cell {args.cell}")
    return check_bptt(
        cell=args.cell,
        nonlinearity=args.nonlinearity,
        steps=args.steps,
        seed=args.seed,
        truncate=args.truncate,
    )
