"""Initialisation schemes for recurrent layers and cells, chosen by name.

Weights are initialised gate block by gate block (each ``(H, fan_in)`` slice of ``weight_ih`` and
``weight_hh``), so e.g. ``"orthogonal"`` makes every gate's recurrent matrix orthogonal, as in
Saxe et al. (2014) and Keras' ``recurrent_initializer="orthogonal"``.

==================  =====================================  ==============================  =======
scheme              input weights ``W_ih`` (and ``W_hr``)  recurrent weights ``W_hh``      biases
==================  =====================================  ==============================  =======
``None``            torch.nn's default: every parameter U(-1/√H, 1/√H)
``"uniform"``       the same as ``None``, by name
``"orthogonal"``    Glorot uniform                         orthogonal                      0
``"identity"``      N(0, 0.001²)                           identity (Le et al. 2015)       0
``"xavier_uniform"`` Glorot uniform (alias ``glorot_uniform``) the same                    0
``"xavier_normal"`` Glorot normal (alias ``glorot_normal``)  the same                      0
``"kaiming"``       He normal, fan-in (``he``, ``he_normal``)  the same                    0
``"he_uniform"``    He uniform U(±√(6/fan_in))               the same                      0
``"lecun"``         N(0, 1/fan_in) (alias ``lecun_normal``)  the same                      0
``"lecun_uniform"`` U(±√(3/fan_in))                          the same                      0
``"normal"``        N(0, 0.01²) (min-char-rnn's choice)      the same                      0
``"zeros"``         0 (alias ``zero``; every unit identical: shows why symmetry must be broken)
==================  =====================================  ==============================  =======

``forget_bias=b`` (LSTM only) then sets the forget-gate slice of ``bias_ih`` to ``b`` and of
``bias_hh`` to 0, so the gate starts near σ(b) (Gers et al. 2000; Jozefowicz et al. 2015 use 1).
Layer-norm gains start at 1 and shifts at 0 under every scheme.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["INIT_NAMES", "INIT_SCHEMES", "check_init", "init_recurrent_"]

# other names for the schemes (Keras' initializer names among them) -> the scheme
_ALIASES = {
    "glorot_uniform": "xavier_uniform",
    "glorot_normal": "xavier_normal",
    "he": "kaiming",
    "he_normal": "kaiming",
    "lecun_normal": "lecun",
    "zero": "zeros",
}


def _lecun(w: torch.Tensor) -> None:
    nn.init.normal_(w, std=1.0 / math.sqrt(w.shape[1]))


def _lecun_uniform(w: torch.Tensor) -> None:
    bound = math.sqrt(3.0 / w.shape[1])  # the variance of N(0, 1/fan_in)
    nn.init.uniform_(w, -bound, bound)


def _he_uniform(w: torch.Tensor) -> None:
    nn.init.kaiming_uniform_(w, nonlinearity="relu")  # U(±√(6/fan_in))


def _identity(w: torch.Tensor) -> None:
    if w.shape[0] != w.shape[1]:
        raise ValueError(f"init='identity' needs square recurrent blocks, got {tuple(w.shape)}")
    nn.init.eye_(w)


# scheme -> (initialiser for an input block, initialiser for a recurrent block)
INIT_SCHEMES = {
    "orthogonal": (nn.init.xavier_uniform_, nn.init.orthogonal_),
    "identity": (lambda w: nn.init.normal_(w, std=0.001), _identity),
    "xavier_uniform": (nn.init.xavier_uniform_, nn.init.xavier_uniform_),
    "xavier_normal": (nn.init.xavier_normal_, nn.init.xavier_normal_),
    "kaiming": (
        lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu"),
        lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu"),
    ),
    "he_uniform": (_he_uniform, _he_uniform),
    "lecun": (_lecun, _lecun),
    "lecun_uniform": (_lecun_uniform, _lecun_uniform),
    "normal": (lambda w: nn.init.normal_(w, std=0.01), lambda w: nn.init.normal_(w, std=0.01)),
    "zeros": (nn.init.zeros_, nn.init.zeros_),
}
INIT_NAMES = tuple(sorted([*INIT_SCHEMES, *_ALIASES, "uniform"]))  # what init= accepts


def check_init(init: str | None) -> str | None:
    """Return the canonical scheme name, or raise a ValueError listing the known names."""
    if init is None or init == "uniform":
        return None
    if not isinstance(init, str) or _ALIASES.get(init, init) not in INIT_SCHEMES:
        raise ValueError(f"init must be None or one of {list(INIT_NAMES)}, got {init!r}")
    return _ALIASES.get(init, init)


@torch.no_grad()
def init_recurrent_(
    module: nn.Module,
    hidden_size: int,
    num_gates: int,
    init: str | None = None,
    forget_bias: float | None = None,
) -> None:
    """Initialise a recurrent cell or layer's parameters in place by scheme name.

    Parameters are recognised by their torch.nn names: ``weight_ih*``, ``weight_hh*``,
    ``weight_hr*``, ``bias_ih*``, ``bias_hh*``, and rnnkit's layer-norm ``ln_*_weight*`` /
    ``ln_*_bias*``.
    """
    scheme = check_init(init)
    bound = 1.0 / math.sqrt(hidden_size) if hidden_size > 0 else 0.0  # as torch.nn
    for name, param in module.named_parameters(recurse=False):
        if name.startswith("ln_"):
            (nn.init.ones_ if "_weight" in name else nn.init.zeros_)(param)
        elif scheme is None:
            nn.init.uniform_(param, -bound, bound)
        elif name.startswith("bias"):
            nn.init.zeros_(param)
        else:
            input_init, recurrent_init = INIT_SCHEMES[scheme]
            blocks = num_gates if not name.startswith("weight_hr") else 1
            fill = recurrent_init if name.startswith("weight_hh") else input_init
            for block in param.chunk(blocks, dim=0):  # each (H, fan_in)
                fill(block)
    if forget_bias is not None:
        for name, param in module.named_parameters(recurse=False):
            if name.startswith("bias_ih"):
                param[hidden_size : 2 * hidden_size] = forget_bias  # (i, f, g, o): f is 2nd
            elif name.startswith("bias_hh"):
                param[hidden_size : 2 * hidden_size] = 0.0
