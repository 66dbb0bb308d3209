"""Single-step recurrent cells, drop-in for ``torch.nn.RNNCell``, ``LSTMCell`` and ``GRUCell``.

The equations live in :mod:`rnnkit.nn.functional`; a cell holds the parameters of one step with
torch.nn's names and shapes (``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh``), so
``cell.load_state_dict(torch_cell.state_dict())`` works both ways.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnkit.nn.functional import GATES, StepWeights, input_projection, step
from rnnkit.nn.init import check_init, init_recurrent_
from rnnkit.nn.validation import check_positive_int, rnn_mode

__all__ = ["GRUCell", "LSTMCell", "RNNCell"]


class _CellBase(nn.Module):
    """Parameters and the forward pass shared by the three cells."""

    mode: str

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device=None,
        dtype=None,
        *,
        init: str | None = None,
        forget_bias: float | None = None,
        layer_norm: bool = False,
    ) -> None:
        super().__init__()
        self.input_size = check_positive_int("input_size", input_size)
        self.hidden_size = check_positive_int("hidden_size", hidden_size)
        self.bias = bool(bias)
        self.init = check_init(init)
        self.forget_bias = forget_bias
        self.layer_norm = bool(layer_norm)
        if forget_bias is not None and self.mode != "LSTM":
            raise ValueError(f"forget_bias is for LSTM cells only, got it for {self.mode}")
        if forget_bias is not None and not bias:
            raise ValueError("forget_bias needs bias=True")
        factory = {"device": device, "dtype": dtype}
        gate_size = GATES[self.mode] * hidden_size
        self.weight_ih = nn.Parameter(torch.empty(gate_size, input_size, **factory))
        self.weight_hh = nn.Parameter(torch.empty(gate_size, hidden_size, **factory))
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(gate_size, **factory))
            self.bias_hh = nn.Parameter(torch.empty(gate_size, **factory))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        if layer_norm:
            self.ln_ih_weight = nn.Parameter(torch.empty(gate_size, **factory))
            self.ln_hh_weight = nn.Parameter(torch.empty(gate_size, **factory))
            if self.mode == "LSTM":
                self.ln_cell_weight = nn.Parameter(torch.empty(hidden_size, **factory))
                self.ln_cell_bias = nn.Parameter(torch.empty(hidden_size, **factory))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init_recurrent_(self, self.hidden_size, GATES[self.mode], self.init, self.forget_bias)

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            text += ", bias=False"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            text += f", nonlinearity={self.nonlinearity!r}"
        for option in ("init", "forget_bias"):
            if getattr(self, option) is not None:
                text += f", {option}={getattr(self, option)!r}"
        if self.layer_norm:
            text += ", layer_norm=True"
        return text

    def _weights(self) -> StepWeights:
        return StepWeights(
            self.weight_ih,
            self.weight_hh,
            self.bias_ih,
            self.bias_hh,
            ln_ih_weight=getattr(self, "ln_ih_weight", None),
            ln_hh_weight=getattr(self, "ln_hh_weight", None),
            ln_cell_weight=getattr(self, "ln_cell_weight", None),
            ln_cell_bias=getattr(self, "ln_cell_bias", None),
        )

    def _step(self, input: Tensor, hx: tuple[Tensor, ...] | None) -> tuple[Tensor, ...]:
        if input.dim() not in (1, 2):
            raise ValueError(
                f"{type(self).__name__}: expected input of 1 (unbatched) or 2 (batched) "
                f"dimensions, got {input.dim()}"
            )
        if input.shape[-1] != self.input_size:
            raise ValueError(
                f"{type(self).__name__}: expected input with {self.input_size} features, "
                f"got {input.shape[-1]}"
            )
        batched = input.dim() == 2
        x = input if batched else input.unsqueeze(0)  # (N, H_in)
        n_states = 2 if self.mode == "LSTM" else 1
        if hx is None:
            zeros = x.new_zeros(x.shape[0], self.hidden_size)  # (N, H)
            hx = (zeros,) * n_states
        else:
            hx = tuple(h if batched else h.unsqueeze(0) for h in hx)
            for h in hx:
                if h.shape != (x.shape[0], self.hidden_size):
                    raise ValueError(
                        f"{type(self).__name__}: expected hidden state of shape "
                        f"{(x.shape[0], self.hidden_size) if batched else (self.hidden_size,)}, "
                        f"got {tuple(h.shape if batched else h.shape[1:])}"
                    )
        weights = self._weights()
        gi = input_projection(x, weights, GATES[self.mode])  # (N, G*H)
        state = step(self.mode, gi, hx, weights)
        return state if batched else tuple(s.squeeze(0) for s in state)


class RNNCell(_CellBase):
    r"""An Elman RNN cell: :math:`h' = \tanh(W_{ih} x + b_{ih} + W_{hh} h + b_{hh})`.

    With ``nonlinearity="relu"`` the tanh is replaced by ReLU.

    Args:
        input_size: features of the input ``x``.
        hidden_size: features of the hidden state ``h``.
        bias: if False, no ``b_ih`` and ``b_hh``. Default: True.
        nonlinearity: ``"tanh"`` or ``"relu"``. Default: ``"tanh"``.
        init: initialisation scheme by name (see :mod:`rnnkit.nn.init`), keyword-only.
        layer_norm: layer-normalise ``W_ih x`` and ``W_hh h``, keyword-only. Default: False.

    Inputs: input, hidden
        - input: (N, H_in) or (H_in)
        - hidden: (N, H) or (H); zeros if not given

    Outputs: h'
        - h': (N, H) or (H)
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        device=None,
        dtype=None,
        **options,
    ) -> None:
        self.mode = rnn_mode(nonlinearity)
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, bias, device, dtype, **options)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        return self._step(input, None if hx is None else (hx,))[0]


class LSTMCell(_CellBase):
    r"""A long short-term memory cell (gate order i, f, g, o as in torch.nn.LSTMCell).

    .. math::
        i = \sigma(W_{ii} x + b_{ii} + W_{hi} h + b_{hi}) \quad
        f = \sigma(W_{if} x + b_{if} + W_{hf} h + b_{hf}) \\
        g = \tanh(W_{ig} x + b_{ig} + W_{hg} h + b_{hg}) \quad
        o = \sigma(W_{io} x + b_{io} + W_{ho} h + b_{ho}) \\
        c' = f \odot c + i \odot g \qquad h' = o \odot \tanh(c')

    Args:
        input_size, hidden_size, bias: as torch.nn.LSTMCell.
        init: initialisation scheme by name, keyword-only.
        forget_bias: initial forget-gate bias (e.g. 1.0), keyword-only.
        layer_norm: layer-normalise the gate pre-activations and the cell state, keyword-only.

    Inputs: input, (h_0, c_0)
        - input: (N, H_in) or (H_in)
        - h_0, c_0: (N, H) or (H) each; zeros if not given

    Outputs: (h_1, c_1), each (N, H) or (H)
    """

    mode = "LSTM"

    def forward(
        self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None
    ) -> tuple[Tensor, Tensor]:
        return self._step(input, hx)


class GRUCell(_CellBase):
    r"""A gated recurrent unit cell (gate order r, z, n as in torch.nn.GRUCell).

    .. math::
        r = \sigma(W_{ir} x + b_{ir} + W_{hr} h + b_{hr}) \quad
        z = \sigma(W_{iz} x + b_{iz} + W_{hz} h + b_{hz}) \\
        n = \tanh(W_{in} x + b_{in} + r \odot (W_{hn} h + b_{hn})) \qquad
        h' = (1 - z) \odot n + z \odot h

    Args:
        input_size, hidden_size, bias: as torch.nn.GRUCell.
        init: initialisation scheme by name, keyword-only.
        layer_norm: layer-normalise the gate pre-activations, keyword-only.

    Inputs: input, hidden: (N, H_in) or (H_in); (N, H) or (H), zeros if not given.

    Outputs: h': (N, H) or (H)
    """

    mode = "GRU"

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        return self._step(input, None if hx is None else (hx,))[0]
