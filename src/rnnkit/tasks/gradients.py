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

import logging
import math
import os
from typing import Any

import numpy as np

from rnnkit.atomic import atomic_path
from rnnkit.errors import UserError
from rnnkit.reference import last_step_grad_norms, make_cell, random_problem
from rnnkit.tasks.gradcheck import LAYERS, build_layer, layer_params

__all__ = ["add_arguments", "gradient_norms", "plot_norms", "run"]

log = logging.getLogger(__name__)

NUM_CLASSES = 10
TABLE_ROWS = 20  # at most about this many rows in the printed table


def _forget_bias(text: str) -> float | None:
    if text.lower() == "none":
        return None
    try:
        return float(text)
    except ValueError:
        raise UserError(f"--forget-bias must be a number or 'none', got {text!r}") from None


def add_arguments(parser) -> None:
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


def gradient_norms(
    cell: str,
    steps: int,
    hidden: int = 32,
    input_size: int = 8,
    nonlinearity: str = "tanh",
    init: str | None = None,
    forget_bias: float | None = None,
    seed: int = 0,
) -> np.ndarray:
    """‖dL_T/dh_t‖ for t = 1..T, shape (T,): rnnkit.nn's initial weights, NumPy's gradients."""
    import torch

    options: dict[str, Any] = {} if init is None else {"init": init}
    if forget_bias is not None:
        options["forget_bias"] = forget_bias
    torch.manual_seed(seed)
    try:
        layer = build_layer(cell, input_size, hidden, nonlinearity, **options)
    except ValueError as error:  # an unknown init name, forget_bias on a GRU, ...
        raise UserError(str(error)) from None
    reference = make_cell(cell, nonlinearity)
    problem = random_problem(
        reference,
        steps,
        batch_size=1,
        input_size=input_size,
        hidden_size=hidden,
        num_classes=NUM_CLASSES,
        rng=np.random.default_rng(seed),
        params=layer_params(layer),
        zero_state=True,
    )
    return last_step_grad_norms(
        reference, problem.params, problem.x, problem.targets, problem.state0
    )


def plot_norms(norms: np.ndarray, path: str, title: str) -> None:
    """Draw ‖dL_T/dh_t‖ against t on a log scale into a PNG file (written atomically)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise UserError("plotting needs matplotlib: install rnnkit[plot]") from None
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise UserError(f"--out must be in an existing directory, got {path!r}")
    fig, ax = plt.subplots(figsize=(7, 4))
    steps = np.arange(1, len(norms) + 1)  # (T,)
    ax.semilogy(steps, np.where(norms > 0, norms, np.nan), marker=".", markersize=3)
    ax.set_xlabel("time step t")
    ax.set_ylabel(r"$\|\partial L_T / \partial h_t\|$")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    try:
        with atomic_path(path) as temp:
            fig.savefig(temp, dpi=120, format="png")
    finally:
        plt.close(fig)


def _table(norms: np.ndarray) -> str:
    steps = len(norms)
    every = max(1, math.ceil(steps / TABLE_ROWS))
    shown = sorted({0, steps - 1, *range(0, steps, every)})
    lines = [f"{'t':>6}  {'||dL_T/dh_t||':>14}  {'/ ||dL_T/dh_T||':>16}"]
    for i in shown:
        lines.append(f"{i + 1:>6}  {norms[i]:>14.3e}  {norms[i] / norms[-1]:>16.3e}")
    return "\n".join(lines)


def run(args) -> dict[str, Any]:
    sizes = [("--steps", args.steps), ("--hidden", args.hidden), ("--input-size", args.input_size)]
    for option, value in sizes:
        if value < 1:
            raise UserError(f"{option} must be a positive integer, got {value}")
    if args.cell != "rnn" and args.nonlinearity != "tanh":
        raise UserError(f"--nonlinearity is for --cell rnn only, got it with --cell {args.cell}")
    forget_bias = _forget_bias(args.forget_bias) if args.cell == "lstm" else None
    norms = gradient_norms(
        args.cell,
        args.steps,
        args.hidden,
        args.input_size,
        args.nonlinearity,
        args.init,
        forget_bias,
        args.seed,
    )
    name = f"rnn ({args.nonlinearity})" if args.cell == "rnn" else args.cell
    settings = f"init={args.init or 'torch default'}"
    if args.cell == "lstm":
        settings += f", forget bias {forget_bias if forget_bias is not None else 'torch default'}"
    finite = bool(np.isfinite(norms).all())
    ratio = float(norms[0] / norms[-1]) if finite and norms[-1] > 0 else None
    per_step = ratio ** (1 / (args.steps - 1)) if ratio and args.steps > 1 else None
    print(f"gradients: {name}, T={args.steps}, H={args.hidden}, I={args.input_size}, {settings}")
    print(_table(norms))  # the command's output, not a log message
    if ratio is not None:
        change = f" (×{per_step:.3g} per step)" if per_step else ""
        print(f"||dL_T/dh_1|| / ||dL_T/dh_T|| = {ratio:.3e}{change}")
    if not finite:
        log.warning("some gradient norms overflowed: the gradient explodes")
    if args.out:
        plot_norms(norms, args.out, f"{name}, T={args.steps}, H={args.hidden}, {settings}")
        log.info("wrote %s", args.out)
    return {
        "cell": args.cell,
        "nonlinearity": args.nonlinearity if args.cell == "rnn" else None,
        "steps": args.steps,
        "hidden": args.hidden,
        "input_size": args.input_size,
        "init": args.init,
        "forget_bias": forget_bias,
        "seed": args.seed,
        "grad_norms": [float(n) if math.isfinite(n) else None for n in norms],
        "ratio_first_last": ratio,
        "decay_per_step": per_step,
        "plot": args.out,
    }
