"""The dtypes torch.nn's recurrent layers return under CPU autocast, which every engine returns.

Under ``torch.autocast("cpu", dtype=torch.bfloat16)`` (or float16) with float32 input, torch.nn
returns (torch 2.13, measured in ``tests/nn/test_autocast_dtypes.py``), whatever the batch size,
training or inference mode, layers, direction or packing:

======================  ============  ============  ==================================
layer                   output        h_n           c_n
======================  ============  ============  ==================================
RNN (tanh, relu)        autocast      autocast      -
LSTM                    autocast      autocast      autocast (oneDNN's LSTM, the default
                                                    path); float32 with ``proj_size``
GRU                     float32       float32       -
======================  ============  ============  ==================================

(``autocast`` is the autocast dtype. torch's LSTM runs oneDNN's LSTM, which autocast lowers as
one op, outputs and states included; with ``proj_size``, which oneDNN lacks, it runs the generic
loop, where the matrix products are lowered and the cell state stays float32. ``torch.gru``
and ``torch.rnn_*`` run the generic loop: the Elman RNN's state is the lowered product's
activation, the GRU's a float32 blend.)

The engines keep their own inner dtypes, chosen for speed (the fused engine keeps a batch of one
or two in float32 and runs the GRU's products in bfloat16), and :func:`match_torch_dtypes`
casts their results at the end. CUDA autocast is left to the engines (``torch``: cuDNN's own).
"""

from __future__ import annotations

import torch
from torch import Tensor

from rnnkit.nn.engine.matmul import autocast_dtype

__all__ = ["match_torch_dtypes", "torch_dtypes"]


def torch_dtypes(module, input_dtype: torch.dtype) -> tuple[torch.dtype, ...] | None:
    """(output, h_n[, c_n]) dtypes torch.nn returns for ``module``'s layer on CPU input of
    ``input_dtype`` under the current autocast, or None where autocast leaves it alone."""
    lowered = autocast_dtype("cpu")
    if lowered is None or input_dtype != torch.float32:
        return None
    if module.mode == "GRU":
        return input_dtype, input_dtype
    if module.mode == "LSTM":
        return lowered, lowered, input_dtype if module.proj_size else lowered
    return lowered, lowered


def match_torch_dtypes(
    module, input_dtype: torch.dtype, output: Tensor, state: tuple[Tensor, ...]
) -> tuple[Tensor, tuple[Tensor, ...]]:
    """``output`` (L, N, D*H_out) and ``state`` in the dtypes of :func:`torch_dtypes` (as
    they are where that is None): differentiable casts of the engines' results."""
    if not torch.is_autocast_enabled("cpu") or output.device.type != "cpu":
        return output, state  # the common case, decided in about a microsecond
    dtypes = torch_dtypes(module, input_dtype)
    if dtypes is None:
        return output, state
    output = output.to(dtypes[0])
    return output, tuple(s.to(dtype) for s, dtype in zip(state, dtypes[1:]))
