"""Watch gradients vanish (or explode) through time: the norm of dL_T/dh_t for every step t.

One recurrent layer reads T random inputs x_t ~ N(0, 1) from h_0 = 0; a softmax head scores
only the last step, L_T = CE(W_hy h_T + b_y, k_T). Backpropagation through time gives

    dL_T/dh_t = dL_T/dh_T · J_T J_{T-1} ⋯ J_{t+1},    J_j = ∂s_j/∂s_{j-1}  (the step Jacobian)

so ‖dL_T/dh_t‖ shows how much of the error at step T still reaches step t, i.e. how far back
the network can learn a dependency. For the Elman RNN J_j = diag(tanh'(a_j)) W_hh: when its
norm is below 1 the product shrinks geometrically and the gradient vanishes; far above 1 it
explodes (Bengio, Simard & Frasconi 1994; Pascanu et al. 2013). The LSTM's cell path multiplies
by the forget gate instead, J_j^{c→c} ≈ diag(f_j), and the GRU's by its update gate z_j: gates
near 1 carry the gradient across many steps (Hochreiter & Schmidhuber 1997).

The layer is built by rnnkit.nn with the chosen --init (default: torch.nn's U(-1/√H, 1/√H)) and
its weights copied to the NumPy reference, which computes the gradients by hand. For the LSTM
the forget-gate bias defaults to 1 (Gers et al. 2000; Jozefowicz et al. 2015; Keras'
unit_forget_bias), so f starts near σ(1) ≈ 0.73. With the defaults (T = 100, H = 32, seed 0)
about 1e-27 of the tanh RNN's gradient reaches step 1, 1e-9 of the LSTM's and 1e-21 of the
GRU's; with --forget-bias none (torch's random bias, f ≈ σ(0) = 0.5) the LSTM keeps only
1e-21, and with --forget-bias 3 (f ≈ 0.95) about 1e-2. Try also --init orthogonal, the IRNN
of Le et al. (2015) with --cell rnn --nonlinearity relu --init identity, and an exploding
gradient with --cell rnn --nonlinearity relu --init kaiming --steps 300.

Prints a table (every k-th step; the JSON object has all T norms under "grad_norms", from t = 1
to t = T) and, with --out, draws the norms on a log scale (needs matplotlib: rnnkit[plot]).

Examples:
  rnnkit gradients --cell rnn --steps 100 --out rnn.png
  rnnkit gradients --cell lstm --steps 100 --forget-bias 3 --json
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from rnnkit.errors import UserError
from rnnkit.tasks.gradcheck import LAYERS
from rnnkit.tasks.gradients import gradient_report

__all__ = ["add_arguments", "run"]


def _forget_bias(text: str) -> float | None:
    """``--forget-bias``: a number, or ``none`` for torch's random bias."""
    if text.lower() == "none":
        return None
    try:
        return float(text)
    except ValueError:
        raise UserError(f"--forget-bias must be a number or 'none', got {text!r}") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cell", required=True, choices=sorted(LAYERS), help="the cell")
    parser.add_argument(
        "--nonlinearity", choices=["tanh", "relu"], default="tanh", help="rnn only (default: tanh)"
    )
    parser.add_argument("--steps", type=int, default=100, help="sequence length T (default: 100)")
    parser.add_argument("--hidden", type=int, default=32, help="hidden size H (default: 32)")
    parser.add_argument("--input-size", type=int, default=8, help="input size I (default: 8)")
    parser.add_argument(
        "--init",
        default=None,
        help="rnnkit.nn initialisation scheme: orthogonal, identity, xavier_uniform "
        "(glorot_uniform), xavier_normal (glorot_normal), kaiming (he), lecun, uniform, normal, "
        "zeros (default: torch.nn's U(-1/√H, 1/√H))",
    )
    parser.add_argument(
        "--forget-bias",
        type=str,
        default="1",
        metavar="B",
        help="LSTM forget-gate bias, or 'none' for torch's random bias (default: 1)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--out", metavar="PNG", help="also draw the norms into this PNG file")


def run(args: argparse.Namespace) -> dict[str, Any]:
    sizes = [("--steps", args.steps), ("--hidden", args.hidden), ("--input-size", args.input_size)]
    for option, value in sizes:
        if value < 1:
            raise UserError(f"{option} must be a positive integer, got {value}")
    if args.cell != "rnn" and args.nonlinearity != "tanh":
        raise UserError(f"--nonlinearity is for --cell rnn only, got it with --cell {args.cell}")
    forget_bias = _forget_bias(args.forget_bias) if args.cell == "lstm" else None
    if args.out and not os.path.isdir(os.path.dirname(os.path.abspath(args.out))):
        raise UserError(f"--out must be in an existing directory, got {args.out!r}")
    return gradient_report(
        cell=args.cell,
        nonlinearity=args.nonlinearity,
        steps=args.steps,
        hidden=args.hidden,
        input_size=args.input_size,
        init=args.init,
        forget_bias=forget_bias,
        seed=args.seed,
        plot=args.out,
    )
