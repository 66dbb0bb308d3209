"""Single-step recurrent cells, drop-in for ``torch.nn.RNNCell``, ``LSTMCell`` and ``GRUCell``.

The equations live in :mod:`rnnkit.nn.functional`; a cell holds the parameters of one step with
torch.nn's names and shapes (``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh``), so
``cell.load_state_dict(torch_cell.state_dict())`` works both ways.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnkit.nn.functional import gate_projection, gru_update, lstm_update, rnn_update
from rnnkit.nn.init import check_init, init_recurrent_
from rnnkit.nn.validation import rnn_mode

__all__ = ["GRUCell", "LSTMCell", "RNNCell"]


def check_step_input(input: Tensor, input_size: int) -> None:
    """torch's check of a cell's batched input (N, H_in): RuntimeError as ``torch.nn``."""
    if input.size(1) != input_size:
        raise RuntimeError(
            f"input has inconsistent input_size: got {input.size(1)} expected {input_size}"
        )


def check_step_hidden(input: Tensor, hidden: Tensor, hidden_size: int, index: int) -> None:
    """torch's check of a cell's batched state ``hidden`` (N, H) against the input (N, H_in)."""
    if input.size(0) != hidden.size(0):
        raise RuntimeError(
            f"Input batch size {input.size(0)} doesn't match hidden{index} batch size "
            f"{hidden.size(0)}"
        )
    if hidden.size(1) != hidden_size:
        raise RuntimeError(
            f"hidden{index} has inconsistent hidden_size: got {hidden.size(1)}, "
            f"expected {hidden_size}"
        )


class _CellBase(nn.Module):
    """Parameters, initialisation and repr shared by the three cells.

    Arguments are taken as torch.nn's cells take them: ``hidden_size=0`` and ``input_size=0``
    build empty weights, a negative or non-integer size fails in ``torch.empty`` with torch's
    error. The forward passes are TorchScript-compatible (``torch.jit.script(cell)`` works).
    """

    # Set by each cell: mode ("RNN_TANH", "RNN_RELU", "LSTM", "GRU") and num_gates (1, 4, 3).
    # (No class annotations: TorchScript would read them as the strings of postponed annotations.)

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
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        self.init = check_init(init)
        self.forget_bias = forget_bias
        self.layer_norm = bool(layer_norm)
        if forget_bias is not None and self.mode != "LSTM":
            raise ValueError(f"forget_bias is for LSTM cells only, got it for {self.mode}")
        if forget_bias is not None and not bias:
            raise ValueError("forget_bias needs bias=True")
        factory = {"device": device, "dtype": dtype}
        gate_size = self.num_gates * hidden_size
        self.weight_ih = nn.Parameter(torch.empty((gate_size, input_size), **factory))
        self.weight_hh = nn.Parameter(torch.empty((gate_size, hidden_size), **factory))
        optional = {"bias_ih": (gate_size,), "bias_hh": (gate_size,)} if bias else {}
        if layer_norm:
            optional.update(ln_ih_weight=(gate_size,), ln_hh_weight=(gate_size,))
            if self.mode == "LSTM":
                optional.update(ln_cell_weight=(hidden_size,), ln_cell_bias=(hidden_size,))
        # Absent parameters are registered as None, as torch.nn does for bias_ih / bias_hh:
        # the forward passes read them all, also when scripted.
        names = ["bias_ih", "bias_hh", "ln_ih_weight", "ln_hh_weight"]
        if self.mode == "LSTM":
            names += ["ln_cell_weight", "ln_cell_bias"]
        for name in names:
            shape = optional.get(name)
            param = None if shape is None else nn.Parameter(torch.empty(shape, **factory))
            self.register_parameter(name, param)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init_recurrent_(self, self.hidden_size, self.num_gates, self.init, self.forget_bias)

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            text += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            text += f", nonlinearity={self.nonlinearity}"  # unquoted, as torch.nn prints it
        for option in ("init", "forget_bias"):
            if getattr(self, option) is not None:
                text += f", {option}={getattr(self, option)!r}"
        if self.layer_norm:
            text += ", layer_norm=True"
        return text


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

    num_gates = 1

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
        if input.dim() not in (1, 2):
            raise ValueError(f"RNNCell: Expected input to be 1D or 2D, got {input.dim()}D instead")
        if hx is not None and hx.dim() not in (1, 2):
            raise ValueError(f"RNNCell: Expected hidden to be 1D or 2D, got {hx.dim()}D instead")
        batched = input.dim() == 2
        x = input if batched else input.unsqueeze(0)  # (N, H_in)
        if hx is None:
            h = torch.zeros(x.size(0), self.hidden_size, dtype=x.dtype, device=x.device)
        else:
            h = hx if batched else hx.unsqueeze(0)  # (N, H)
        check_step_input(x, self.weight_ih.size(1))
        check_step_hidden(x, h, self.weight_hh.size(1), 0)
        pre = gate_projection(x, self.weight_ih, self.bias_ih, self.ln_ih_weight, 1)  # (N, H)
        pre = pre + gate_projection(h, self.weight_hh, self.bias_hh, self.ln_hh_weight, 1)
        h = rnn_update(pre, self.nonlinearity == "relu")  # (N, H)
        return h if batched else h.squeeze(0)


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
    num_gates = 4

    def forward(
        self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None
    ) -> tuple[Tensor, Tensor]:
        if input.dim() not in (1, 2):
            raise ValueError(f"LSTMCell: Expected input to be 1D or 2D, got {input.dim()}D instead")
        if hx is not None:
            for index, value in enumerate(hx):
                if value.dim() not in (1, 2):
                    raise ValueError(
                        f"LSTMCell: Expected hx[{index}] to be 1D or 2D, got {value.dim()}D instead"
                    )
        batched = input.dim() == 2
        x = input if batched else input.unsqueeze(0)  # (N, H_in)
        if hx is None:
            h = torch.zeros(x.size(0), self.hidden_size, dtype=x.dtype, device=x.device)
            c = h
        else:
            h, c = hx if batched else (hx[0].unsqueeze(0), hx[1].unsqueeze(0))  # each (N, H)
        check_step_input(x, self.weight_ih.size(1))
        check_step_hidden(x, h, self.weight_hh.size(1), 0)
        check_step_hidden(x, c, self.weight_hh.size(1), 1)
        gates = gate_projection(x, self.weight_ih, self.bias_ih, self.ln_ih_weight, 4)  # (N, 4H)
        gates = gates + gate_projection(h, self.weight_hh, self.bias_hh, self.ln_hh_weight, 4)
        h, c = lstm_update(gates, c, self.ln_cell_weight, self.ln_cell_bias)  # each (N, H)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


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
    num_gates = 3

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        if input.dim() not in (1, 2):
            raise ValueError(f"GRUCell: Expected input to be 1D or 2D, got {input.dim()}D instead")
        if hx is not None and hx.dim() not in (1, 2):
            raise ValueError(f"GRUCell: Expected hidden to be 1D or 2D, got {hx.dim()}D instead")
        batched = input.dim() == 2
        x = input if batched else input.unsqueeze(0)  # (N, H_in)
        if hx is None:
            h = torch.zeros(x.size(0), self.hidden_size, dtype=x.dtype, device=x.device)
        else:
            h = hx if batched else hx.unsqueeze(0)  # (N, H)
        check_step_input(x, self.weight_ih.size(1))
        check_step_hidden(x, h, self.weight_hh.size(1), 0)
        gi = gate_projection(x, self.weight_ih, self.bias_ih, self.ln_ih_weight, 3)  # (N, 3H)
        gh = gate_projection(h, self.weight_hh, self.bias_hh, self.ln_hh_weight, 3)  # (N, 3H)
        h = gru_update(gi, gh, h)  # (N, H)
        return h if batched else h.squeeze(0)
