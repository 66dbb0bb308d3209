"""Check hand-written backpropagation through time against finite differences and autograd.

``check_bptt(cell=...)`` builds a small random problem (one recurrent layer, a softmax head at
every step), computes dL/dθ with the NumPy reference's hand-written BPTT, and compares it with
central finite differences and with PyTorch autograd through ``rnnkit.nn`` in float64 (and,
with ``truncate=K``, truncated BPTT(K) with autograd over per-step detached windows). The
``rnnkit gradcheck`` command (``rnnkit.commands.gradcheck``) is its front end; its --help
explains the method. Also here: the torch <-> NumPy weight bridge the reference tests use.
"""

from __future__ import annotations

import logging
import numbers
from typing import Any

import numpy as np

from rnnkit.errors import UserError
from rnnkit.reference import (
    CELL_PARAMS,
    STATE_NAMES,
    Problem,
    bptt,
    make_cell,
    numerical_gradients,
    random_problem,
    relative_error,
)

__all__ = [
    "LAYERS",
    "TOLERANCE",
    "autograd_gradients",
    "build_layer",
    "check_bptt",
    "layer_params",
    "load_params",
]

log = logging.getLogger(__name__)

TOLERANCE = 1e-6
LAYERS = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}  # --cell -> rnnkit.nn layer class
# The small problem's sizes: batch N, input I, hidden H, classes C.
BATCH, INPUT, HIDDEN, CLASSES = 2, 3, 4, 3


# ---------------------------------------------------------------- torch <-> NumPy weight bridge
def build_layer(
    cell: str,
    input_size: int,
    hidden_size: int,
    nonlinearity: str = "tanh",
    layers=None,
    **kw,
):
    """A one-layer RNN/LSTM/GRU from ``layers`` (default ``rnnkit.nn``; ``torch.nn`` works too).

    ``kw`` goes to the layer's constructor (``init=``, ``forget_bias=``, ``dtype=`` …).
    """
    if layers is None:
        import rnnkit.nn as layers

    layer_class = getattr(layers, LAYERS[cell])
    if cell == "rnn":
        kw["nonlinearity"] = nonlinearity
    return layer_class(input_size, hidden_size, **kw)


def layer_params(layer) -> dict[str, np.ndarray]:
    """The layer's ``weight_ih_l0`` … as float64 NumPy arrays under the reference's names."""
    return {
        name: getattr(layer, f"{name}_l0").detach().cpu().double().numpy().copy()
        for name in CELL_PARAMS
    }


def load_params(layer, params: dict[str, np.ndarray]) -> None:
    """Copy the reference's cell weights into the layer's ``weight_ih_l0`` … in place."""
    import torch

    with torch.no_grad():
        for name in CELL_PARAMS:
            target = getattr(layer, f"{name}_l0")
            if target.shape != params[name].shape:
                raise ValueError(
                    f"expected {name} of shape {tuple(target.shape)}, got {params[name].shape}"
                )
            target.copy_(torch.from_numpy(params[name]))


def autograd_gradients(
    cell: str,
    problem: Problem,
    nonlinearity: str = "tanh",
    truncate: int | None = None,
    layers=None,
) -> tuple[float, dict[str, np.ndarray]]:
    """(L, gradients) by PyTorch autograd through ``rnnkit.nn`` with the problem's weights.

    Same keys as ``rnnkit.reference.backward``. With ``truncate=K`` every loss term l_t is
    back-propagated on its own through a re-run of the layer over steps t-K+1..t, started from
    the full forward's state s_{t-K} detached (or from s_0 itself when t ≤ K): BPTT(K).
    ``layers`` is the module providing RNN/LSTM/GRU, as for ``build_layer``.
    """
    import torch
    import torch.nn.functional as F

    steps, _, input_size = problem.x.shape
    hidden = problem.params["weight_hh"].shape[1]
    layer = build_layer(cell, input_size, hidden, nonlinearity, layers, dtype=torch.float64)
    load_params(layer, problem.params)
    head = {
        name: torch.tensor(problem.params[name], requires_grad=True)
        for name in ("weight_hy", "bias_y")
    }
    x = torch.tensor(problem.x, requires_grad=True)  # (T, N, I)
    state0 = tuple(torch.tensor(s, requires_grad=True) for s in problem.state0)  # each (N, H)
    targets = torch.as_tensor(problem.targets)  # (T, N)

    def run_layer(x_part, state):  # -> (outputs (T', N, H), final state as (N, H) tensors)
        hx = tuple(s.unsqueeze(0) for s in state)  # each (1, N, H)
        out, hn = layer(x_part, hx if cell == "lstm" else hx[0])
        return out, tuple(s[0] for s in (hn if cell == "lstm" else (hn,)))

    def loss_of(h, k):  # h: (T', N, H), k: (T', N)
        logits = h @ head["weight_hy"].T + head["bias_y"]  # (T', N, C)
        return F.cross_entropy(logits.flatten(0, 1), k.flatten(), reduction="sum")

    out, _ = run_layer(x, state0)
    loss = loss_of(out, targets)
    if truncate is None or truncate >= steps:
        loss.backward()
    else:
        with torch.no_grad():  # s_0 … s_T of the full forward, one step at a time
            states = [tuple(s.detach() for s in state0)]
            for t in range(steps):
                states.append(run_layer(x[t : t + 1], states[-1])[1])
        for t in range(steps):  # one window, one backward per loss term l_t
            first = max(0, t - truncate + 1)
            start = state0 if first == 0 else states[first]  # s_{t-K}, detached
            window, _ = run_layer(x[first : t + 1], start)  # (t - first + 1, N, H)
            loss_of(window[-1:], targets[t : t + 1]).backward()
    grads = {name: getattr(layer, f"{name}_l0").grad.numpy() for name in CELL_PARAMS}
    grads.update({name: tensor.grad.numpy() for name, tensor in head.items()})
    grads["x"] = x.grad.numpy()
    grads.update({name: s.grad.numpy() for name, s in zip(STATE_NAMES, state0)})
    return float(loss.detach()), grads


# ---------------------------------------------------------------- the check
def _compare(reference: dict[str, np.ndarray], other: dict[str, np.ndarray]) -> dict[str, float]:
    return {name: relative_error(reference[name], other[name]) for name in reference}


def _table(title: str, result: dict[str, Any], shapes: dict[str, tuple]) -> str:
    truncate = result["truncate"]
    columns = ["tensor", "shape", "vs finite diff", "vs autograd"]
    if truncate is not None:
        columns.append(f"BPTT({truncate}) vs autograd")
    rows = [columns]
    for name, errors in result["errors"].items():
        row = [name, str(shapes[name]), f"{errors['numerical']:.1e}", f"{errors['autograd']:.1e}"]
        if truncate is not None:
            row.append(f"{errors['truncated']:.1e}")
        rows.append(row)
    maxima = [result["max_rel_error_numerical"], result["max_rel_error_autograd"]]
    if truncate is not None:
        maxima.append(result["max_rel_error_truncated"])
    rows.append(["max", "", *(f"{m:.1e}" for m in maxima)])
    widths = [max(len(row[i]) for row in rows) for i in range(len(columns))]
    lines = [
        f"gradcheck: {title}, T={result['steps']}, batch {BATCH}, input {INPUT}, "
        f"hidden {HIDDEN}, classes {CLASSES}, float64, seed {result['seed']}",
        "relative error max|a-b| / max(|a|,|b|) of hand-written BPTT against:",
    ]
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    verdict = "ok" if result["ok"] else "FAILED"
    lines.append(f"{verdict}: every error {'<' if result['ok'] else 'not <'} {TOLERANCE:g}")
    return "\n".join(lines)


def is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_cell(cell: Any, nonlinearity: Any) -> None:
    """A UserError unless ``cell`` is one of ``LAYERS`` with a nonlinearity it has."""
    if cell not in LAYERS:
        raise UserError(f"cell: expected one of {', '.join(sorted(LAYERS))}, got {cell!r}")
    if nonlinearity not in ("tanh", "relu"):
        raise UserError(f"nonlinearity: expected 'tanh' or 'relu', got {nonlinearity!r}")
    if cell != "rnn" and nonlinearity != "tanh":
        raise UserError(
            f"nonlinearity: expected 'tanh' (the only choice for cell {cell!r}), "
            f"got {nonlinearity!r}; other nonlinearities are for cell 'rnn'"
        )


def check_bptt(
    *,
    cell: str,
    nonlinearity: str = "tanh",
    steps: int = 5,
    seed: int = 0,
    truncate: int | None = None,
) -> dict[str, Any]:
    """Compare hand-written BPTT with finite differences and autograd on a random problem.

    ``cell`` is ``"rnn"``, ``"lstm"`` or ``"gru"``; ``nonlinearity`` (``"tanh"`` or ``"relu"``)
    is for the rnn cell only; ``steps`` is the sequence length T; ``truncate=K`` also checks
    truncated BPTT(K) against autograd. The problem has batch 2, input 3, hidden 4, 3 classes,
    float64. Returns the relative error of every tensor under ``"errors"`` (keys
    ``"numerical"``, ``"autograd"`` and, with ``truncate``, ``"truncated"``), their maxima,
    ``"ok"`` (every error below ``TOLERANCE``) and the table as text under ``"report"``.
    """
    check_cell(cell, nonlinearity)
    if not is_int(steps) or steps < 1:
        raise UserError(f"steps: expected a positive number of time steps, got {steps!r}")
    if not is_int(seed):
        raise UserError(f"seed: expected an integer, got {seed!r}")
    if truncate is not None and (not is_int(truncate) or truncate < 1):
        raise UserError(f"truncate: expected None or a positive number of steps, got {truncate!r}")
    reference = make_cell(cell, nonlinearity)
    rng = np.random.default_rng(seed)
    problem = random_problem(reference, steps, BATCH, INPUT, HIDDEN, CLASSES, rng=rng)
    data = (problem.params, problem.x, problem.targets, problem.state0)

    loss, hand = bptt(reference, *data)
    log.info("finite differences over %d scalars", sum(g.size for g in hand.values()))
    numeric = numerical_gradients(reference, *data)
    torch_loss, auto = autograd_gradients(cell, problem, nonlinearity)
    numerical, autograd = _compare(hand, numeric), _compare(hand, auto)
    errors = {name: {"numerical": numerical[name], "autograd": autograd[name]} for name in hand}
    maxima = {"numerical": max(numerical.values()), "autograd": max(autograd.values())}
    truncated = None
    if truncate is not None:
        _, hand_k = bptt(reference, *data, truncate=truncate)
        _, auto_k = autograd_gradients(cell, problem, nonlinearity, truncate)
        for name, error in _compare(hand_k, auto_k).items():
            errors[name]["truncated"] = error
        truncated = max(e["truncated"] for e in errors.values())
    checked = [*maxima.values(), relative_error(loss, torch_loss)]
    checked += [] if truncated is None else [truncated]
    result = {
        "cell": cell,
        "nonlinearity": nonlinearity if cell == "rnn" else None,
        "steps": int(steps),
        "seed": int(seed),
        "truncate": None if truncate is None else int(truncate),
        "loss": loss,
        "max_rel_error_numerical": maxima["numerical"],
        "max_rel_error_autograd": maxima["autograd"],
        "max_rel_error_truncated": truncated,
        "tolerance": TOLERANCE,
        "errors": errors,
        "ok": all(error < TOLERANCE for error in checked),  # False on NaN too
    }
    shapes = {name: g.shape for name, g in hand.items()}
    result["report"] = _table(reference.name, result, shapes)
    return result
