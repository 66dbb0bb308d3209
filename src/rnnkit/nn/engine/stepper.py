"""One time step at a time through a stacked recurrent layer, for generation: no autograd, no
allocation per step, each layer's gate math in one fused C kernel (:mod:`.kernels`).

A generator feeds one token per sequence and reads the next distribution before it can choose
the following token, so it runs the recurrence one step per call. Through the layer's
``forward`` each such call pays the engine's per-call set-up (the input projection of a
one-step sequence, the state stacked and unstacked, a dozen small ops of gate math). Here,
per step and layer ``l`` with N rows (the sequences generated together)::

    gi = x_l W_ih^T              (N, G*H)   skipped for layer 0 when its rows are precomputed
    gh = h_{l, t-1} W_hh^T       (N, G*H)   into buffers made once
    h_{l, t} [, c_{l, t}] = cell(gi + b_ih, gh + b_hh, state)    one C kernel call

and ``x_{l+1} = h_{l, t}``. The products go to MKL (``torch.mm`` into a buffer); the kernels are
called through ctypes with their arguments (the buffers' addresses) made once. Layer 0's input
projection of a token of a small vocabulary is one row of a table
``E W_ih^T + b_ih`` (V, G*H) made once (:meth:`RecurrentStepper.input_table`), so a character
model's step is one index and the recurrent products.

Covers the configurations whose eval-mode step is the plain cell (what inference of a
torch.nn-compatible layer computes): one direction, no ``layer_norm``, ``residual`` or
``proj_size``; :func:`steppable` says whether a module is one. The stepper reads the weight
matrices in place (BLAS takes ``W^T`` as a transposed view as fast as a copy here, and copying
them cost milliseconds a call) but computes the biases' sums and the input table when it is
made: make a new one after changing the weights.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from rnnkit.nn.engine import kernels
from rnnkit.nn.functional import GATES

__all__ = ["RecurrentStepper", "steppable"]

_DTYPES = (torch.float32, torch.float64)


def steppable(module) -> bool:
    """Whether :class:`RecurrentStepper` runs ``module`` (an ``rnnkit.nn`` RNN, LSTM or GRU
    layer) as its eval-mode ``forward`` does: one direction, no layer norm, residual
    connections or LSTM projection, CPU weights in float32 or float64."""
    weight = getattr(module, "weight_ih_l0", None)
    return (
        getattr(module, "mode", None) in GATES
        and not module.bidirectional
        and not getattr(module, "proj_size", 0)
        and not getattr(module, "layer_norm", False)
        and not getattr(module, "residual", False)
        and isinstance(weight, Tensor)
        and weight.device.type == "cpu"
        and weight.dtype in _DTYPES
    )


class _Product:
    """``x W^T`` (x (N, K), W (G*H, K)) into a buffer made once (MKL: for a matrix-vector product
    the fastest kernel here, and as fast as oneDNN's for 32 rows of these sizes). ``W^T`` is a
    view of the weight, not a copy."""

    def __init__(self, weight: Tensor, out: Tensor) -> None:
        self.out = out  # (N, G*H)
        self.weight_t = weight.detach().t()  # (K, G*H), a transposed view

    def __call__(self, x: Tensor) -> Tensor:
        return torch.mm(x, self.weight_t, out=self.out)  # (N, G*H)


class RecurrentStepper:
    """Steps ``module`` (see :func:`steppable`) for ``rows`` sequences at once.

    Args:
        module: the recurrent layer; its weights are read in place, its state is not kept.
        rows: sequences stepped together (N).

    Use: :meth:`load` the state ``(h[, c])``, each (layers, N, H) as the layer returns it,
    then :meth:`step` (an input (N, H_in)) or :meth:`step_projected` (layer 0's input
    projection, e.g. rows of :meth:`input_table`) once per time step; :meth:`state` gives the
    state back in the layer's form.
    """

    def __init__(self, module, rows: int) -> None:
        if not steppable(module):
            raise ValueError(
                "RecurrentStepper runs one-direction layers without layer_norm, residual or "
                f"proj_size, on CPU in float32/float64; got {module!r}"
            )
        self.mode, self.rows = module.mode, rows
        self.layers, self.hidden = module.num_layers, module.hidden_size
        width = GATES[self.mode] * self.hidden
        weight = module.weight_ih_l0.detach()
        like = {"dtype": weight.dtype, "device": weight.device}
        self.gi = [torch.empty(rows, width, **like) for _ in range(self.layers)]  # (N, G*H)
        self.gh = [torch.empty(rows, width, **like) for _ in range(self.layers)]  # (N, G*H)
        self.gates = torch.empty(rows, width, **like)  # (N, G*H) scratch the kernels write
        self.scratch = torch.empty(rows, self.hidden, **like)  # (N, H) tanh(c) / GRU's hn
        # two copies of the state, read from one and written to the other in turn: the GRU's and
        # the LSTM's kernels may not write where they read
        sizes = 2 if self.mode == "LSTM" else 1
        self.buffers = [
            [torch.zeros(self.layers, rows, self.hidden, **like) for _ in range(sizes)]
            for _ in range(2)
        ]  # [copy][h, c] (layers, N, H)
        self.current = 0
        zeros = torch.zeros(width, **like)
        self.input_products, self.recurrent_products = [], []
        self.bias_ih, self.bias_hh = [], []
        for layer in range(self.layers):
            weights = module._weights(layer, 0)
            self.input_products.append(_Product(weights.weight_ih, self.gi[layer]))
            self.recurrent_products.append(_Product(weights.weight_hh, self.gh[layer]))
            bias_ih = zeros if weights.bias_ih is None else weights.bias_ih.detach().clone()
            bias_hh = zeros if weights.bias_hh is None else weights.bias_hh.detach().clone()
            self.bias_ih.append(bias_ih)  # (G*H,)
            self.bias_hh.append(bias_hh)  # (G*H,)
        self.zeros = zeros
        # what the kernels add to gi + gh: both biases (the GRU takes them apart), and for layer
        # 0 with its projection given (step_projected: b_ih already in it) only b_hh
        self.bias = [b_ih + b_hh for b_ih, b_hh in zip(self.bias_ih, self.bias_hh)]
        self.calls = [[self._bind(layer, copy) for layer in range(self.layers)] for copy in (0, 1)]
        # where layer 0's input and bias (b_ih for the GRU) go in the arguments of _bind:
        # [the PyTorch functions', the C kernel's]
        gru, lstm = self.mode == "GRU", self.mode == "LSTM"
        self.slots = [(0, 1 if gru else 2), (2, 3) if gru else (2, 4) if lstm else (1, 3)]

    def _bind(self, layer: int, copy: int) -> tuple[Any, list]:
        """The C kernel of ``layer``'s cell reading state copy ``copy`` and writing the other,
        with its arguments (``None``, and the tensors for :mod:`.kernels`' functions, where no C
        kernel serves). Layer 0's input and bias arguments are set at each step."""
        old, new = self.buffers[copy], self.buffers[1 - copy]
        gi, gh, h = self.gi[layer], self.gh[layer], new[0][layer]
        if self.mode == "LSTM":
            name = "lstm_fwd"
            tensors = [gi, gh, self.bias[layer], old[1][layer], self.gates, new[1][layer],
                       self.scratch, h, None]  # fmt: skip
        elif self.mode == "GRU":
            name = "gru_fwd"
            tensors = [gi, self.bias_ih[layer], gh, self.bias_hh[layer], old[0][layer],
                       self.gates, self.scratch, h, None]  # fmt: skip
        else:
            name = "rnn_fwd"
            tensors = [gi, gh, self.bias[layer], self.mode == "RNN_RELU", h]
        kernel = kernels.function(name, gi)
        if kernel is None:
            return None, tensors
        if self.mode in ("LSTM", "GRU"):
            return kernel, [self.rows, self.hidden, *_addresses(tensors)]
        gi, gh, bias, relu, h = tensors
        return kernel, [h.numel(), *_addresses([gi, gh, bias]), self.hidden, int(relu),
                        h.data_ptr(), None]  # fmt: skip

    def input_table(self, vectors: Tensor) -> Tensor:
        """Layer 0's input projection of each row of ``vectors`` (V, H_in), bias included:
        ``vectors W_ih^T + b_ih`` (V, G*H), whose rows :meth:`step_projected` takes."""
        product = self.input_products[0]
        weight_t = product.weight_t  # (H_in, G*H)
        return torch.addmm(self.bias_ih[0], vectors.to(weight_t.dtype), weight_t)  # (V, G*H)

    def load(self, state: tuple[Tensor, ...]) -> None:
        """Start from ``state``: ``(h,)`` or ``(h, c)``, each (layers, N, H)."""
        for buffer, value in zip(self.buffers[self.current], state):
            buffer.copy_(value)

    def state(self) -> tuple[Tensor, ...]:
        """The state after the last step, ``(h,)`` or ``(h, c)``, each (layers, N, H): copies."""
        return tuple(buffer.clone() for buffer in self.buffers[self.current])

    def step(self, x: Tensor) -> Tensor:
        """One step on the input x (N, H_in): the last layer's new h (N, H), valid until the next
        step (a view of the stepper's buffer)."""
        first = self.input_products[0](x)  # (N, G*H)
        return self._run(first, self.bias[0], self.bias_ih[0])

    def step_projected(self, projected: Tensor) -> Tensor:
        """:meth:`step` given layer 0's input projection with ``b_ih`` (N, G*H) instead."""
        return self._run(projected, self.bias_hh[0], self.zeros)

    def _run(self, first: Tensor, bias0: Tensor, bias_ih0: Tensor) -> Tensor:
        """The stack, layer 0 reading its projection ``first`` (N, G*H)."""
        old, new = self.buffers[self.current], self.buffers[1 - self.current]
        calls = self.calls[self.current]
        x = None
        for layer in range(self.layers):
            if layer > 0:
                self.input_products[layer](x)  # gi (N, G*H)
            self.recurrent_products[layer](old[0][layer])  # gh (N, G*H)
            kernel, arguments = calls[layer]
            if layer == 0:  # its input and bias: the caller's
                bias = bias_ih0 if self.mode == "GRU" else bias0
                input_slot, bias_slot = self.slots[kernel is not None]
                if kernel is None:
                    arguments[input_slot], arguments[bias_slot] = first, bias
                else:
                    arguments[input_slot] = first.data_ptr()
                    arguments[bias_slot] = bias.data_ptr()
            if kernel is not None:
                kernel(*arguments)
            elif self.mode == "LSTM":
                kernels.lstm_forward(*arguments[:8])
            elif self.mode == "GRU":
                kernels.gru_forward(*arguments[:8])
            else:
                kernels.rnn_forward(*arguments)
            x = new[0][layer]  # (N, H)
        self.current = 1 - self.current
        return x


def _addresses(tensors: list) -> list[int | None]:
    """Data pointers for a C call; None (NULL) for an output not asked for."""
    return [None if t is None else t.data_ptr() for t in tensors]
