r"""Multi-layer recurrent networks, drop-in for torch.nn's ``RNN``, ``LSTM`` and ``GRU``.

Same constructor arguments, parameter names (``weight_ih_l{k}[_reverse]``, ``weight_hh_l{k}``,
``bias_ih_l{k}``, ``bias_hh_l{k}``, ``weight_hr_l{k}``), shapes and gate order, same forward
signature and return values (PackedSequence in and out, unbatched input, given initial states), so
``ours.load_state_dict(torch_module.state_dict())`` and the reverse both work.

Options torch.nn lacks are keyword-only and off by default:

- ``init``: initialisation scheme by name (:mod:`rnnkit.nn.init`); ``forget_bias`` for the LSTM;
- ``recurrent_dropout=p``: variational dropout on ``h_{t-1}`` before ``W_hh``, one mask per
  sequence and layer-direction, sampled anew at each forward pass in training mode;
- ``layer_norm=True``: layer normalisation of the gate pre-activations (and the LSTM cell state);
  adds ``ln_*`` parameters;
- ``residual=True``: each layer after the first adds its input to its output,
  ``x^{(k+1)} = RNN_k(x^{(k)}) + x^{(k)}`` (before the dropout between layers);
- ``weight_drop=p``: DropConnect on the recurrent weights (Wan et al. 2013; the AWD-LSTM of
  Merity et al. 2017): in training mode each forward call draws one mask ``M`` per
  layer-direction, of ``W_hh``'s shape, with entries ``Bernoulli(1 - p) / (1 - p)``, and the
  layer runs with ``W_hh ⊙ M`` at every time step of every sequence of the batch:

  .. math::
      \tilde W_{hh} = W_{hh} \odot M, \quad M_{jk} \sim \mathrm{Bernoulli}(1 - p) / (1 - p),
      \qquad h_t = f(x_t, h_{t-1}; W_{ih}, \tilde W_{hh})

  The product is taken once per call, before the engine runs (the fused engine keeps its
  speed), and gradients reach ``W_hh`` through it (``dL/dW_hh = M ⊙ dL/d\tilde W_hh``); in eval
  mode ``W_hh`` is used as it is;
- ``locked_dropout=True``: the ``dropout`` between layers draws one mask per sequence and
  feature, the same at every time step (variational dropout, Gal & Ghahramani 2016; the
  AWD-LSTM's "locked" dropout), instead of a new mask per element;
- ``backend``: the engine that runs the layers (:mod:`rnnkit.nn.engine`): ``"auto"`` (default,
  the fastest for the configuration), ``"loop"`` (the time loop over the step equations),
  ``"fused"`` (hand-written BPTT with fused kernels, every option) or ``"torch"`` (torch's own
  cuDNN/oneDNN kernels, for configurations without the options above).
"""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from rnnkit.nn.engine import (
    DIRECTION_ENGINES,
    capture,
    check_backend,
    choose_backend,
    match_torch_dtypes,
    native,
)
from rnnkit.nn.functional import GATES, StepWeights
from rnnkit.nn.init import check_init, init_recurrent_
from rnnkit.nn.validation import check_layer_arguments, check_probability, rnn_mode

__all__ = ["GRU", "LSTM", "RNN", "RNNBase"]

State = tuple[Tensor, ...]


class RNNBase(nn.Module):
    """Parameters, argument checks, packing and layer stacking shared by RNN, LSTM and GRU."""

    def __init__(
        self,
        mode: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device=None,
        dtype=None,
        *,
        init: str | None = None,
        forget_bias: float | None = None,
        recurrent_dropout: float = 0.0,
        layer_norm: bool = False,
        residual: bool = False,
        weight_drop: float = 0.0,
        locked_dropout: bool = False,
        backend: str = "auto",
    ) -> None:
        super().__init__()
        check_layer_arguments(
            input_size, hidden_size, num_layers, bias, batch_first, dropout, proj_size
        )
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bool(bidirectional)
        self.proj_size = proj_size
        self.init = check_init(init)
        self.forget_bias = forget_bias
        self.recurrent_dropout = check_probability("recurrent_dropout", recurrent_dropout)
        self.layer_norm = bool(layer_norm)
        self.residual = bool(residual)
        self.weight_drop = check_probability("weight_drop", weight_drop)
        self.locked_dropout = bool(locked_dropout)
        self.backend = backend
        self._check_options()
        self._build_parameters(device, dtype)
        self.reset_parameters()

    # -- construction ---------------------------------------------------------------------------

    def _check_options(self) -> None:
        self.backend = check_backend(self.backend, self)
        lacking = [
            f"{name}={getattr(self, name)!r}"
            for name, default in (("weight_drop", 0.0), ("locked_dropout", False))
            if getattr(self, name) != default
        ]
        if self.backend == "torch" and lacking:
            raise ValueError(
                "backend='torch' runs torch's own RNN kernels, which lack "
                f"{', '.join(lacking)}; expected backend 'auto', 'fused' or 'loop' for this "
                "configuration"
            )
        if self.proj_size and self.mode != "LSTM":
            raise ValueError(f"proj_size is for LSTM only, got proj_size={self.proj_size}")
        if self.forget_bias is not None and self.mode != "LSTM":
            raise ValueError(f"forget_bias is for LSTM only, got it for {self.mode}")
        if self.forget_bias is not None and not self.bias:
            raise ValueError("forget_bias needs bias=True")
        if self.dropout > 0 and self.num_layers == 1:
            warnings.warn(
                "dropout acts between recurrent layers, so non-zero dropout expects "
                f"num_layers greater than 1, but got dropout={self.dropout} and num_layers=1",
                stacklevel=3,
            )

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def output_size(self) -> int:
        """Features of each direction's output and hidden state (proj_size if set)."""
        return self.proj_size or self.hidden_size

    def _layer_input_size(self, layer: int) -> int:
        return self.input_size if layer == 0 else self.output_size * self.num_directions

    def _build_parameters(self, device, dtype) -> None:
        factory = {"device": device, "dtype": dtype}
        gate_size = GATES[self.mode] * self.hidden_size
        self._flat_weights_names: list[str] = []
        for layer in range(self.num_layers):
            for direction in range(self.num_directions):
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                shapes = {
                    "weight_ih": (gate_size, self._layer_input_size(layer)),
                    "weight_hh": (gate_size, self.output_size),
                }
                if self.bias:
                    shapes.update(bias_ih=(gate_size,), bias_hh=(gate_size,))
                if self.proj_size:
                    shapes["weight_hr"] = (self.proj_size, self.hidden_size)
                if self.layer_norm:
                    shapes.update(ln_ih_weight=(gate_size,), ln_hh_weight=(gate_size,))
                    if self.mode == "LSTM":
                        shapes.update(
                            ln_cell_weight=(self.hidden_size,), ln_cell_bias=(self.hidden_size,)
                        )
                for name, shape in shapes.items():
                    self.register_parameter(
                        name + suffix, nn.Parameter(torch.empty(shape, **factory))
                    )
                    self._flat_weights_names.append(name + suffix)

    def reset_parameters(self) -> None:
        init_recurrent_(self, self.hidden_size, GATES[self.mode], self.init, self.forget_bias)

    def flatten_parameters(self) -> None:
        """Accepted for drop-in compatibility with torch.nn; rnnkit needs no flat weight buffer."""

    @property
    def _flat_weights(self) -> list[Tensor]:
        """torch.nn's list of the current weight tensors (after ``weight_norm`` one of them is a
        plain tensor computed from its parameters), read by code written for torch.nn."""
        return [getattr(self, name) for name in self._flat_weights_names]

    @property
    def all_weights(self) -> list[list[nn.Parameter]]:
        """The parameters grouped per layer and direction, as torch.nn's ``all_weights``."""
        per_direction = len(self._flat_weights_names) // (self.num_layers * self.num_directions)
        params = [getattr(self, name) for name in self._flat_weights_names]
        return [params[i : i + per_direction] for i in range(0, len(params), per_direction)]

    def _weights(
        self, layer: int, direction: int, weight_mask: Tensor | None = None
    ) -> StepWeights:
        """One layer-direction's parameters; ``weight_hh`` times ``weight_mask`` when given."""
        suffix = f"_l{layer}" + ("_reverse" if direction else "")
        fields = StepWeights.__dataclass_fields__
        weights = StepWeights(**{name: getattr(self, name + suffix, None) for name in fields})
        if weight_mask is not None:
            weights.weight_hh = weights.weight_hh * weight_mask  # (G*H, H_out), once per call
        return weights

    def extra_repr(self) -> str:
        """torch.nn's repr (which shows no nonlinearity), then rnnkit's options not at default."""
        text = f"{self.input_size}, {self.hidden_size}"
        defaults = {  # in torch.nn's order
            "proj_size": 0,
            "num_layers": 1,
            "bias": True,
            "batch_first": False,
            "dropout": 0.0,
            "bidirectional": False,
            "init": None,
            "forget_bias": None,
            "recurrent_dropout": 0.0,
            "layer_norm": False,
            "residual": False,
            "weight_drop": 0.0,
            "locked_dropout": False,
            "backend": "auto",
        }
        for name, default in defaults.items():
            if getattr(self, name) != default:
                text += f", {name}={getattr(self, name)!r}"
        return text

    # -- forward --------------------------------------------------------------------------------

    def _check_input(self, x: Tensor) -> None:
        """torch.nn's checks of the time-major input x (L, N, H_in): a dtype other than the
        weights' outside autocast (ValueError), the wrong number of features (RuntimeError)."""
        weight = self.weight_ih_l0
        if x.dtype != weight.dtype and not torch.is_autocast_enabled(x.device.type):
            raise ValueError(
                f"RNN input dtype ({x.dtype}) does not match weight dtype ({weight.dtype}). "
                f"Convert input: input.to({weight.dtype}), or convert model: model.to({x.dtype})"
            )
        if not torch.jit.is_tracing() and x.size(-1) != self.input_size:
            raise RuntimeError(
                "input.size(-1) must be equal to input_size. "
                f"Expected {self.input_size}, got {x.size(-1)}"
            )

    def _initial_state(self, hx, x: Tensor, batched: bool) -> State:
        """Check the input, then check or build (h_0[, c_0]), each (num_layers * D, N, H_state),
        with torch.nn's checks in its order and its exception types."""
        lstm = self.mode == "LSTM"
        if hx is not None:
            hx = tuple(hx) if lstm else (hx,)
            dims = 3 if batched else 2
            if any(h.dim() != dims for h in hx):
                kind = "batched 3-D" if batched else "unbatched 2-D"
                got = ", ".join(f"{h.dim()}-D" for h in hx)
                if lstm:
                    raise RuntimeError(
                        f"For {kind} input, hx and cx should also be {dims}-D but got ({got}) "
                        "tensors"
                    )
                raise RuntimeError(
                    f"For {kind} input, hx should also be {dims}-D but got {got} tensor"
                )
        self._check_input(x)
        layers = self.num_layers * self.num_directions
        expected = [(layers, x.size(1), self.output_size)]
        if lstm:
            expected.append((layers, x.size(1), self.hidden_size))
        if hx is None:
            return tuple(x.new_zeros(shape) for shape in expected)
        state = tuple(h if batched else h.unsqueeze(1) for h in hx)  # each (layers, N, H)
        autocast = torch.is_autocast_enabled(x.device.type)
        for index, (h, shape) in enumerate(zip(state, expected)):
            if not torch.jit.is_tracing() and h.size() != shape:
                name = f"hidden[{index}]" if lstm else "hidden"
                raise RuntimeError(f"Expected {name} size {shape}, got {list(h.shape)}")
            if h.dtype != x.dtype and not autocast:
                raise RuntimeError(
                    f"Expected the initial state's dtype to be the input's ({x.dtype}), "
                    f"got {h.dtype}"
                )
        return state

    def _recurrent_masks(self, x: Tensor) -> list[Tensor | None]:
        """One variational dropout mask (N, H_out) per layer-direction, or Nones."""
        count = self.num_layers * self.num_directions
        if not (self.training and self.recurrent_dropout > 0):
            return [None] * count
        keep = 1.0 - self.recurrent_dropout
        shape = (x.shape[1], self.output_size)
        return [x.new_empty(shape).bernoulli_(keep) / keep for _ in range(count)]

    def _weight_drop_masks(self) -> list[Tensor | None]:
        """One DropConnect mask of ``weight_hh``'s shape (G*H, H_out) per layer-direction, or
        Nones (eval mode, or ``weight_drop=0``)."""
        count = self.num_layers * self.num_directions
        if not (self.training and self.weight_drop > 0):
            return [None] * count
        keep = 1.0 - self.weight_drop
        weight = self.weight_hh_l0
        shape = weight.shape  # every layer-direction's W_hh has it: (G*H, H_out)
        return [weight.new_empty(shape).bernoulli_(keep) / keep for _ in range(count)]

    def _own_options_active(self) -> bool:
        """Whether this call uses an option torch's kernels lack that acts in training only."""
        between = self.locked_dropout and self.dropout > 0 and self.num_layers > 1
        return self.training and (self.weight_drop > 0 or between)

    def forward(self, input, hx=None):
        packed = isinstance(input, PackedSequence)
        if packed:
            x, lengths = pad_packed_sequence(input)  # (L, N, H_in), (N,) in the caller's order
            batched = True
        else:
            if input.dim() not in (2, 3):
                raise ValueError(
                    f"{type(self).__name__}: Expected input to be 2D or 3D, got {input.dim()}D "
                    "instead"
                )
            batched = input.dim() == 3
            x = input if batched else input.unsqueeze(1)  # (L, N, H_in)
            if batched and self.batch_first:
                x = x.transpose(0, 1)
            lengths = None
        state = self._initial_state(hx, x, batched)
        if not torch.jit.is_tracing() and x.size(0) == 0:  # traced: torch's kernels check
            raise RuntimeError("Expected sequence length to be larger than 0 in RNN")
        output, final = self._run_layers(x, state, lengths)
        if packed:
            output = _repack(output, lengths, input)
        elif not batched:
            output = output.squeeze(1)  # (L, D*H_out)
        elif self.batch_first:
            output = output.transpose(0, 1)  # (N, L, D*H_out)
        if not batched:
            final = tuple(s.squeeze(1) for s in final)
        return output, (final if self.mode == "LSTM" else final[0])

    def _run_layers(self, x: Tensor, state: State, lengths: Tensor | None) -> tuple[Tensor, State]:
        """x (L, N, H_in) time-major -> output (L, N, D*H_out), final state like ``state``,
        in the dtypes torch.nn returns under CPU autocast (:mod:`rnnkit.nn.engine.autocast_dtypes`).

        Under ``torch.compile`` a graph break: the layers run eagerly, as torch.nn's do; under
        export, tracing and ``torch.func`` transforms an engine that supports them
        (:mod:`rnnkit.nn.engine.capture`).
        """
        if capture.compiling():  # a graph break: the layers run eagerly
            return capture.graph_break(RNNBase._run_layers)(self, x, state, lengths)
        output, final = self._run_engine(x, state, lengths)
        return match_torch_dtypes(self, x.dtype, output, final)

    def _run_engine(self, x: Tensor, state: State, lengths: Tensor | None) -> tuple[Tensor, State]:
        """:meth:`_run_layers` on the engine chosen, in the engine's own dtypes."""
        if lengths is not None and bool((lengths == x.shape[0]).all()):
            lengths = None  # every sequence is full length: no masking needed
        if capture.tracing():  # export, jit tracing or a torch.func transform
            backend = capture.traced_backend(self, lengths, check_backend(self.backend))
        elif self.backend == "auto":
            backend = choose_backend(self, x, lengths)
        else:  # validated again: it may have been set after construction
            backend = check_backend(self.backend)
        if backend == "torch" and self._own_options_active():
            backend = "loop" if capture.tracing() else "fused"  # weight drop, locked dropout
        if backend == "fused" and x.shape[1] == 0:
            backend = "loop"  # an empty batch: the fused kernels' backward needs rows
        if backend == "torch":
            return native.run_layers(self, x, state, lengths)
        run_direction = DIRECTION_ENGINES[backend]
        masks = self._recurrent_masks(x)
        weight_masks = self._weight_drop_masks()
        finals: list[State] = []
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(self.num_directions):
                index = layer * self.num_directions + direction
                out, final = run_direction(
                    self.mode,
                    x,
                    tuple(s[index] for s in state),
                    self._weights(layer, direction, weight_masks[index]),
                    lengths,
                    reverse=bool(direction),
                    recurrent_mask=masks[index],
                )
                outputs.append(out)  # (L, N, H_out)
                finals.append(final)
            out = torch.cat(outputs, dim=-1) if len(outputs) > 1 else outputs[0]  # (L, N, D*H_out)
            if self.residual and layer > 0:
                out = out + x
            if self.dropout and self.training and layer < self.num_layers - 1:
                out = self._dropout_between(out)
            x = out
        final_state = tuple(torch.stack(parts) for parts in zip(*finals))  # each (L*D, N, H)
        return x, final_state

    def _dropout_between(self, out: Tensor) -> Tensor:
        """The dropout between layers on ``out`` (L, N, F): per element, or with
        ``locked_dropout`` one mask (1, N, F) for every time step."""
        if not self.locked_dropout:
            return F.dropout(out, self.dropout, training=True)
        keep = 1.0 - self.dropout
        mask = out.new_empty((1, *out.shape[1:])).bernoulli_(keep) / keep  # (1, N, F)
        return out * mask  # (L, N, F)


def _repack(output: Tensor, lengths: Tensor, like: PackedSequence) -> PackedSequence:
    """Pack a time-major padded output with the same batch layout as the input ``like``."""
    order = like.sorted_indices
    if order is not None:
        output = output.index_select(1, order)  # (L, N, F) in descending-length order
        lengths = lengths[order.cpu()]
    data = pack_padded_sequence(output, lengths, enforce_sorted=True).data
    return PackedSequence(data, like.batch_sizes, like.sorted_indices, like.unsorted_indices)


class RNN(RNNBase):
    r"""A multi-layer Elman RNN, drop-in for ``torch.nn.RNN``.

    For each layer and time step:

    .. math::
        h_t = \tanh(x_t W_{ih}^T + b_{ih} + h_{t-1} W_{hh}^T + b_{hh})

    (ReLU instead of tanh with ``nonlinearity="relu"``). Layer k > 0 reads the outputs of layer
    k - 1 (both directions concatenated), with dropout between layers in training mode.

    Args:
        input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True, batch_first=False,
        dropout=0.0, bidirectional=False: as torch.nn.RNN.
        init, recurrent_dropout, layer_norm, residual, weight_drop, locked_dropout, backend:
        keyword-only extras (see module docs).

    Inputs: input, h_0
        - input: (L, N, H_in), (N, L, H_in) if batch_first, (L, H_in) unbatched, or a
          PackedSequence
        - h_0: (D * num_layers, N, H) or (D * num_layers, H); zeros if not given

    Outputs: output, h_n
        - output: (L, N, D * H) (batch_first: (N, L, D * H)), or a PackedSequence
        - h_n: (D * num_layers, N, H), each layer-direction's state after its last step
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device=None,
        dtype=None,
        **options,
    ) -> None:
        if "proj_size" in options:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        mode = rnn_mode(nonlinearity)
        self.nonlinearity = nonlinearity
        super().__init__(
            mode, input_size, hidden_size, num_layers, bias, batch_first, dropout,
            bidirectional, 0, device, dtype, **options,
        )  # fmt: skip


class LSTM(RNNBase):
    r"""A multi-layer long short-term memory network, drop-in for ``torch.nn.LSTM``.

    For each layer and time step (gate order i, f, g, o in the weights):

    .. math::
        i_t = \sigma(W_{ii} x_t + b_{ii} + W_{hi} h_{t-1} + b_{hi}) \quad
        f_t = \sigma(W_{if} x_t + b_{if} + W_{hf} h_{t-1} + b_{hf}) \\
        g_t = \tanh(W_{ig} x_t + b_{ig} + W_{hg} h_{t-1} + b_{hg}) \quad
        o_t = \sigma(W_{io} x_t + b_{io} + W_{ho} h_{t-1} + b_{ho}) \\
        c_t = f_t \odot c_{t-1} + i_t \odot g_t \qquad h_t = o_t \odot \tanh(c_t)

    With ``proj_size > 0``, ``h_t = W_{hr} (o_t \odot \tanh(c_t))`` has proj_size features.

    Args:
        input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
        bidirectional=False, proj_size=0: as torch.nn.LSTM.
        init, forget_bias, recurrent_dropout, layer_norm, residual, weight_drop, locked_dropout,
        backend: keyword-only extras (see module docs).

    Inputs: input, (h_0, c_0)
        - input: (L, N, H_in), (N, L, H_in) if batch_first, (L, H_in) unbatched, or a
          PackedSequence
        - h_0: (D * num_layers, N, H_out), c_0: (D * num_layers, N, H); zeros if not given
          (H_out = proj_size if proj_size > 0 else hidden_size)

    Outputs: output, (h_n, c_n)
        - output: (L, N, D * H_out) (batch_first: (N, L, D * H_out)), or a PackedSequence
        - h_n: (D * num_layers, N, H_out), c_n: (D * num_layers, N, H)
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device=None,
        dtype=None,
        **options,
    ) -> None:
        super().__init__(
            "LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout,
            bidirectional, proj_size, device, dtype, **options,
        )  # fmt: skip


class GRU(RNNBase):
    r"""A multi-layer gated recurrent unit network, drop-in for ``torch.nn.GRU``.

    For each layer and time step (gate order r, z, n in the weights):

    .. math::
        r_t = \sigma(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr}) \quad
        z_t = \sigma(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz}) \\
        n_t = \tanh(W_{in} x_t + b_{in} + r_t \odot (W_{hn} h_{t-1} + b_{hn})) \qquad
        h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}

    Args:
        input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
        bidirectional=False: as torch.nn.GRU.
        init, recurrent_dropout, layer_norm, residual, weight_drop, locked_dropout, backend:
        keyword-only extras (see module docs).

    Inputs: input, h_0 — as :class:`RNN`.

    Outputs: output, h_n — as :class:`RNN`.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device=None,
        dtype=None,
        **options,
    ) -> None:
        if "proj_size" in options:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        super().__init__(
            "GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout,
            bidirectional, 0, device, dtype, **options,
        )  # fmt: skip
