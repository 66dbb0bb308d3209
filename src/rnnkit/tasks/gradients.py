"""Vanishing and exploding gradients: the norm of dL_T/dh_t for every step t.

``gradient_report(cell=...)`` builds one recurrent layer with ``rnnkit.nn``'s initialisation,
copies its weights to the NumPy reference, feeds it T random inputs, scores only the last step
and computes ‖dL_T/dh_t‖ for t = 1..T by hand-written BPTT; ``plot_norms`` draws them on a log
scale. The ``rnnkit gradients`` command (``rnnkit.commands.gradients``) is its front end; its
--help explains what the curves show.
"""

from __future__ import annotations

import logging
import math
import numbers
import os
from typing import Any

import numpy as np

from rnnkit.atomic import atomic_path
from rnnkit.errors import UserError
from rnnkit.reference import last_step_grad_norms, make_cell, random_problem
from rnnkit.tasks.gradcheck import build_layer, check_cell, is_int, layer_params

__all__ = ["gradient_norms", "gradient_report", "plot_norms"]

log = logging.getLogger(__name__)

NUM_CLASSES = 10
TABLE_ROWS = 20  # at most about this many rows in the printed table


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


def _check_plot_path(path: Any) -> None:
    if not isinstance(path, (str, os.PathLike)):
        raise UserError(f"plot: expected None or a PNG file path, got {path!r}")
    if not os.path.isdir(os.path.dirname(os.path.abspath(path))):
        raise UserError(f"plot: expected a path in an existing directory, got {str(path)!r}")


def plot_norms(norms: np.ndarray, path: str, title: str) -> None:
    """Draw ‖dL_T/dh_t‖ against t on a log scale into a PNG file (written atomically)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise UserError("plotting needs matplotlib: install rnnkit[plot]") from None
    _check_plot_path(path)
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


def gradient_report(
    *,
    cell: str,
    nonlinearity: str = "tanh",
    steps: int = 100,
    hidden: int = 32,
    input_size: int = 8,
    init: str | None = None,
    forget_bias: float | None = 1.0,
    seed: int = 0,
    plot: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """‖dL_T/dh_t‖ for t = 1..T of a freshly initialised layer, as a table and a result dict.

    ``cell`` is ``"rnn"``, ``"lstm"`` or ``"gru"``; ``nonlinearity`` (``"tanh"``/``"relu"``) is
    for the rnn cell only; ``init`` names an ``rnnkit.nn`` initialisation scheme (None: torch.nn's
    default); ``forget_bias`` is the LSTM's forget-gate bias (None: torch's random bias; ignored
    for the other cells); ``plot`` is a PNG file to draw the norms into (needs matplotlib).
    Returns ``"grad_norms"`` (T values from t = 1 to T; None where a norm overflowed),
    ``"ratio_first_last"``, ``"decay_per_step"``, the settings, and the table under ``"report"``.
    """
    check_cell(cell, nonlinearity)
    for name, value in (("steps", steps), ("hidden", hidden), ("input_size", input_size)):
        if not is_int(value) or value < 1:
            raise UserError(f"{name}: expected a positive integer, got {value!r}")
    if init is not None and not isinstance(init, str):
        raise UserError(f"init: expected None or the name of a scheme, got {init!r}")
    if cell != "lstm":
        forget_bias = None  # only the LSTM has a forget gate
    elif forget_bias is not None:
        if isinstance(forget_bias, bool) or not isinstance(forget_bias, numbers.Real):
            raise UserError(f"forget_bias: expected a number or None, got {forget_bias!r}")
        forget_bias = float(forget_bias)
    if not is_int(seed):
        raise UserError(f"seed: expected an integer, got {seed!r}")
    if plot is not None:
        _check_plot_path(plot)  # before the work, not after it
        plot = os.fspath(plot)
    norms = gradient_norms(cell, steps, hidden, input_size, nonlinearity, init, forget_bias, seed)
    name = f"rnn ({nonlinearity})" if cell == "rnn" else cell
    settings = f"init={init or 'torch default'}"
    if cell == "lstm":
        settings += f", forget bias {forget_bias if forget_bias is not None else 'torch default'}"
    finite = bool(np.isfinite(norms).all())
    ratio = float(norms[0] / norms[-1]) if finite and norms[-1] > 0 else None
    per_step = ratio ** (1 / (steps - 1)) if ratio and steps > 1 else None
    lines = [f"gradients: {name}, T={steps}, H={hidden}, I={input_size}, {settings}", _table(norms)]
    if ratio is not None:
        change = f" (×{per_step:.3g} per step)" if per_step else ""
        lines.append(f"||dL_T/dh_1|| / ||dL_T/dh_T|| = {ratio:.3e}{change}")
    if not finite:
        log.warning("some gradient norms overflowed: the gradient explodes")
    if plot is not None:
        plot_norms(norms, plot, f"{name}, T={steps}, H={hidden}, {settings}")
        log.info("wrote %s", plot)
    return {
        "cell": cell,
        "nonlinearity": nonlinearity if cell == "rnn" else None,
        "steps": int(steps),
        "hidden": int(hidden),
        "input_size": int(input_size),
        "init": init,
        "forget_bias": forget_bias,
        "seed": int(seed),
        "grad_norms": [float(n) if math.isfinite(n) else None for n in norms],
        "ratio_first_last": ratio,
        "decay_per_step": per_step,
        "plot": plot,
        "report": "\n".join(lines),
    }
