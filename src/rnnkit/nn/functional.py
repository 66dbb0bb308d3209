"""The recurrent step equations, as pure functions shared by the cells and the layers.

Every step takes the input projection ``gi = W_ih x_t + b_ih`` already computed (the layers compute
it for all time steps in one matrix product) and the previous state, and returns the new state.
Gate order follows torch.nn: LSTM ``(i, f, g, o)``, GRU ``(r, z, n)``.

Elman RNN::

    h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh),   act = tanh or relu

LSTM (Hochreiter & Schmidhuber 1997, with the forget gate of Gers et al. 2000)::

    i_t = σ(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)
    f_t = σ(W_if x_t + b_if + W_hf h_{t-1} + b_hf)
    g_t = tanh(W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)
    o_t = σ(W_io x_t + b_io + W_ho h_{t-1} + b_ho)
    c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t
    h_t = o_t ⊙ tanh(c_t)                  (times W_hr when proj_size > 0)

GRU (Cho et al. 2014, as in torch.nn)::

    r_t = σ(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)
    z_t = σ(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)
    n_t = tanh(W_in x_t + b_in + r_t ⊙ (W_hn h_{t-1} + b_hn))
    h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}

Options the layers add (off by default):

- layer normalisation (Ba et al. 2016): ``W_ih x`` and ``W_hh h`` are normalised per gate block
  and scaled by learned gains before the biases are added; the LSTM cell state is normalised
  (gain and shift) before its tanh: ``h_t = o_t ⊙ tanh(LN(c_t))``;
- variational recurrent dropout (Gal & Ghahramani 2016): ``h_{t-1}`` is multiplied by a dropout
  mask fixed for the whole sequence before it enters ``W_hh``; the carried state itself
  (``c_{t-1}`` for the LSTM, the ``z_t ⊙ h_{t-1}`` term of the GRU) is not dropped.

``gate_projection`` and the ``*_update`` functions take plain tensors and are
TorchScript-compatible (the cells call them, so ``torch.jit.script(cell)`` works); the
``*_step`` functions wrap them for the layers' engines, which pass a :class:`StepWeights`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "GATES",
    "LN_EPS",
    "StepWeights",
    "block_layer_norm",
    "gate_layer_norm",
    "gate_projection",
    "gru_step",
    "gru_update",
    "input_projection",
    "lstm_step",
    "lstm_update",
    "rnn_step",
    "rnn_update",
    "step",
]

# Number of gate blocks stacked in weight_ih / weight_hh for each mode.
GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}
LN_EPS = 1e-5


@dataclass
class StepWeights:
    """The parameters of one layer in one direction (``None`` where an option is off)."""

    weight_ih: Tensor  # (G*H, H_in)
    weight_hh: Tensor  # (G*H, H_out)
    bias_ih: Tensor | None = None  # (G*H,)
    bias_hh: Tensor | None = None  # (G*H,)
    weight_hr: Tensor | None = None  # (H_proj, H)      LSTM projection
    ln_ih_weight: Tensor | None = None  # (G*H,)         layer-norm gain on W_ih x
    ln_hh_weight: Tensor | None = None  # (G*H,)         layer-norm gain on W_hh h
    ln_cell_weight: Tensor | None = None  # (H,)         LSTM cell-state layer norm
    ln_cell_bias: Tensor | None = None  # (H,)


def gate_layer_norm(x: Tensor, gain: Tensor, num_gates: int) -> Tensor:
    """Normalise each gate block of ``x`` (..., G*H) separately, then scale by ``gain`` (G*H,)."""
    return block_layer_norm(x, gain, num_gates, LN_EPS)


def block_layer_norm(x: Tensor, gain: Tensor, num_gates: int, eps: float) -> Tensor:
    """:func:`gate_layer_norm` with its epsilon given (TorchScript reads no module globals)."""
    blocks = x.unflatten(-1, (num_gates, -1))  # (..., G, H)
    blocks = F.layer_norm(blocks, blocks.shape[-1:], eps=eps)
    return blocks.flatten(-2) * gain  # (..., G*H)


def gate_projection(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    gain: Tensor | None,
    num_gates: int,
    eps: float = LN_EPS,
) -> Tensor:
    """``[LN](W x) + b`` for any leading shape: (..., F) -> (..., G*H); no layer norm when
    ``gain`` is None. TorchScript-compatible, as everything the cells call."""
    if gain is None:
        return F.linear(x, weight, bias)
    projected = block_layer_norm(F.linear(x, weight), gain, num_gates, eps)  # (..., G*H)
    return projected if bias is None else projected + bias


def rnn_update(pre: Tensor, relu: bool) -> Tensor:
    """``h_t = act(pre)`` from the summed pre-activation (N, H), act = tanh or relu."""
    return torch.relu(pre) if relu else torch.tanh(pre)


def lstm_update(
    gates: Tensor,
    c: Tensor,
    ln_cell_weight: Tensor | None = None,
    ln_cell_bias: Tensor | None = None,
    weight_hr: Tensor | None = None,
    eps: float = LN_EPS,
) -> tuple[Tensor, Tensor]:
    """The LSTM state update from the summed gate pre-activations (N, 4H) and c_{t-1} (N, H)
    -> (h_t (N, H_out), c_t (N, H))."""
    i, f, g, o = gates.chunk(4, dim=-1)  # each (N, H)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)  # (N, H)
    c_out = c
    if ln_cell_weight is not None:
        c_out = F.layer_norm(c, c.shape[-1:], ln_cell_weight, ln_cell_bias, eps=eps)
    h = torch.sigmoid(o) * torch.tanh(c_out)  # (N, H)
    if weight_hr is not None:
        h = F.linear(h, weight_hr)  # (N, H_proj)
    return h, c


def gru_update(gi: Tensor, gh: Tensor, h: Tensor) -> Tensor:
    """The GRU state update from ``gi = W_ih x + b_ih`` and ``gh = W_hh h + b_hh`` (N, 3H)."""
    i_r, i_z, i_n = gi.chunk(3, dim=-1)  # each (N, H)
    h_r, h_z, h_n = gh.chunk(3, dim=-1)
    r = torch.sigmoid(i_r + h_r)
    z = torch.sigmoid(i_z + h_z)
    n = torch.tanh(i_n + r * h_n)
    return n + z * (h - n)  # = (1 - z) * n + z * h


def input_projection(x: Tensor, w: StepWeights, num_gates: int) -> Tensor:
    """``gi = [LN](W_ih x) + b_ih`` for any leading shape: (..., H_in) -> (..., G*H)."""
    return gate_projection(x, w.weight_ih, w.bias_ih, w.ln_ih_weight, num_gates, LN_EPS)


def _recurrent_projection(h: Tensor, w: StepWeights, num_gates: int, mask: Tensor | None) -> Tensor:
    """``gh = [LN](W_hh (h ⊙ mask)) + b_hh``: (N, H_out) -> (N, G*H)."""
    if mask is not None:
        h = h * mask  # (N, H_out), variational dropout: same mask at every step
    return gate_projection(h, w.weight_hh, w.bias_hh, w.ln_hh_weight, num_gates, LN_EPS)


def rnn_step(
    gi: Tensor, h: Tensor, w: StepWeights, relu: bool = False, mask: Tensor | None = None
) -> Tensor:
    """One Elman step: ``h_t = act(gi_t + W_hh h_{t-1} + b_hh)``. gi (N, H), h (N, H) -> (N, H)."""
    return rnn_update(gi + _recurrent_projection(h, w, 1, mask), relu)  # (N, H)


def lstm_step(
    gi: Tensor, state: tuple[Tensor, Tensor], w: StepWeights, mask: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """One LSTM step. gi (N, 4H), h (N, H_out), c (N, H) -> (h_t (N, H_out), c_t (N, H))."""
    h, c = state
    gates = gi + _recurrent_projection(h, w, 4, mask)  # (N, 4H)
    return lstm_update(gates, c, w.ln_cell_weight, w.ln_cell_bias, w.weight_hr, LN_EPS)


def gru_step(gi: Tensor, h: Tensor, w: StepWeights, mask: Tensor | None = None) -> Tensor:
    """One GRU step. gi (N, 3H), h (N, H) -> h_t (N, H)."""
    return gru_update(gi, _recurrent_projection(h, w, 3, mask), h)


def step(mode: str, gi: Tensor, state: tuple[Tensor, ...], w: StepWeights, mask=None):
    """Dispatch one step by mode; the state is always a tuple ``(h,)`` or ``(h, c)``."""
    if mode == "LSTM":
        return lstm_step(gi, state, w, mask)
    if mode == "GRU":
        return (gru_step(gi, state[0], w, mask),)
    return (rnn_step(gi, state[0], w, relu=mode == "RNN_RELU", mask=mask),)
