"""The ``torch`` backend: run a plain configuration on torch's own fused RNN kernels.

``torch._VF.lstm/gru/rnn_tanh/rnn_relu`` are what ``torch.nn.LSTM`` and friends call: cuDNN on
CUDA, oneDNN (LSTM) or ATen's C++ loop (GRU, RNN) on CPU. They take the module's own weights,
since rnnkit's parameter names, shapes and gate order are torch.nn's. They know nothing of the
options torch.nn lacks, so a module with any of those cannot use this backend.

Under CPU bfloat16 autocast, torch's LSTM goes to oneDNN's bf16 LSTM even on CPUs that oneDNN
cannot run bf16 on (no AVX-512, AVX-NE-CONVERT or AMX: an AVX2 AMD EPYC, say), where it raises
RuntimeError, also from ``torch.nn.LSTM`` itself (torch 2.13). Where a probe finds it failing
(:func:`onednn_bfloat16_lstm`), this backend does autocast's casts itself and runs torch's
generic bf16 LSTM: bf16 products and outputs, as under autocast.
"""

from __future__ import annotations

import functools

import torch
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from rnnkit.nn.engine.matmul import MKL_MAX_ROWS, autocast_dtype

__all__ = ["onednn_bfloat16_lstm", "run_layers", "unsupported_options"]

_FUNCTIONS = {
    "LSTM": torch._VF.lstm,
    "GRU": torch._VF.gru,
    "RNN_TANH": torch._VF.rnn_tanh,
    "RNN_RELU": torch._VF.rnn_relu,
}


def unsupported_options(module) -> list[str]:
    """The options set on ``module`` that torch's kernels lack, as ``name=value`` strings."""
    found = []
    if module.layer_norm:
        found.append("layer_norm=True")
    if module.recurrent_dropout > 0:
        found.append(f"recurrent_dropout={module.recurrent_dropout}")
    if module.residual:
        found.append("residual=True")
    return found


def onednn_bfloat16_lstm() -> bool:
    """Whether torch's LSTM runs under CPU bfloat16 autocast here (probed once per setting of
    ``torch.backends.mkldnn.enabled``, which decides whether it goes to oneDNN)."""
    return _lstm_autocast_works(torch.backends.mkldnn.enabled)


@functools.cache
def _lstm_autocast_works(mkldnn_enabled: bool) -> bool:
    x = torch.ones(2, 1, 4)  # (L, N, H_in)
    hx = [torch.zeros(1, 1, 4), torch.zeros(1, 1, 4)]
    weights = [torch.ones(16, 4), torch.ones(16, 4), torch.zeros(16), torch.zeros(16)]
    try:
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            torch._VF.lstm(x, hx, weights, True, 1, 0.0, False, False, False)
    except RuntimeError:
        return False
    return True


def run_layers(
    module, x: Tensor, state: tuple[Tensor, ...], lengths: Tensor | None
) -> tuple[Tensor, tuple[Tensor, ...]]:
    """x (L, N, H_in) time-major, lengths (N,) or None -> output (L, N, D*H_out), final state.

    Under CPU autocast, training a batch of one or two runs in float32: its matrix-vector
    products gain nothing in bfloat16, whose backward costs more (LSTM, 1000 steps of 1 x 256:
    31-60 ms a step in bf16, 25-39 ms in float32; inference stays bf16, which is faster there).
    """
    training = module.training and torch.is_grad_enabled()
    autocast = x.device.type == "cpu" and autocast_dtype("cpu") is not None
    # The batch size is read last: under export it is symbolic, and reading it adds a guard.
    if training and autocast and x.shape[1] <= MKL_MAX_ROWS:
        with torch.autocast("cpu", enabled=False):
            state = tuple(s.float() if s.dtype == torch.bfloat16 else s for s in state)
            return run_layers(module, x.float(), state, lengths)
    function = _FUNCTIONS[module.mode]
    weights = [getattr(module, name) for name in module._flat_weights_names]
    bf16 = x.device.type == "cpu" and autocast_dtype("cpu") == torch.bfloat16
    if bf16 and module.mode == "LSTM" and not onednn_bfloat16_lstm():
        # autocast's casts, done here, so that torch takes its generic bf16 path, not oneDNN's
        with torch.autocast("cpu", enabled=False):
            weights = [w.to(torch.bfloat16) for w in weights]
            state = tuple(s.to(torch.bfloat16) for s in state)
            return _run(module, function, weights, x.to(torch.bfloat16), state, lengths)
    return _run(module, function, weights, x, state, lengths)


def _run(module, function, weights, x, state, lengths) -> tuple[Tensor, tuple[Tensor, ...]]:
    """torch's kernel ``function`` over the whole stack, packing variable-length input."""
    hx = list(state) if module.mode == "LSTM" else state[0]
    options = (
        weights, module.bias, module.num_layers, module.dropout, module.training,
        module.bidirectional,
    )  # fmt: skip
    if lengths is None:
        output, *final = function(x, hx, *options, False)  # batch_first=False: x is time-major
        return output, tuple(final)
    packed = pack_padded_sequence(x, lengths.cpu(), enforce_sorted=False)
    order = packed.sorted_indices  # (N,) longest first, as the packed kernels expect
    if module.mode == "LSTM":
        hx = [h.index_select(1, order) for h in hx]
    else:
        hx = hx.index_select(1, order)
    data, *final = function(packed.data, packed.batch_sizes, hx, *options)
    out = PackedSequence(data, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices)
    output, _ = pad_packed_sequence(out, total_length=x.shape[0])  # (L, N, D*H_out)
    return output, tuple(h.index_select(1, packed.unsorted_indices) for h in final)
