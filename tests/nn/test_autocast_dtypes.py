"""Under CPU bfloat16 autocast every engine returns the dtypes torch.nn returns.

The table (:mod:`rnnkit.nn.engine.autocast_dtypes`) was measured from torch.nn 2.13 on this
kind of CPU; :func:`test_torch_nn_returns_the_table` checks it against torch.nn wherever
torch.nn runs. torch.nn's LSTM without projections runs oneDNN's LSTM, which fails under bf16
autocast on CPUs without bf16 support in oneDNN (AVX2 only); there the table's row is what
oneDNN's LSTM returns where it runs (autocast lowers it as one op, states included), and what
torch's generic LSTM returns with autocast's casts done by hand (rnnkit's ``torch`` engine).
"""

from __future__ import annotations

import itertools

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence

import rnnkit.nn as rnn
from rnnkit.nn.engine.native import onednn_bfloat16_lstm

pytestmark = pytest.mark.bf16

BF16, F32 = torch.bfloat16, torch.float32
# (output, h_n[, c_n]) under torch.autocast("cpu", dtype=torch.bfloat16) with float32 input.
TABLE = {
    "RNN": (BF16, BF16),
    "LSTM": (BF16, BF16, BF16),
    "LSTM-proj": (BF16, BF16, F32),
    "GRU": (F32, F32),
}
BACKENDS = ("auto", "loop", "fused", "torch")
BATCHES = (1, 2, 3, 8, 32)  # the engines switch paths at 2/3 (MKL_MAX_ROWS) and 16 and 32
L, H_IN, H = 3, 4, 8


def _options(row: str) -> dict:
    return {"proj_size": 3} if row == "LSTM-proj" else {}


def _dtypes(module, x) -> tuple[torch.dtype, ...]:
    with torch.autocast("cpu", dtype=torch.bfloat16):
        output, state = module(x)
    output = output.data if isinstance(output, torch.nn.utils.rnn.PackedSequence) else output
    return _dtypes_of(output, state)


def _configure(module, training: bool, grad: bool):
    module.train(training)
    return torch.set_grad_enabled(grad)


@pytest.mark.parametrize("row", TABLE)
def test_torch_nn_returns_the_table(row):
    mode = row.split("-")[0]
    if row == "LSTM" and not onednn_bfloat16_lstm():
        pytest.skip("torch.nn's LSTM fails under CPU bf16 autocast on this CPU (oneDNN)")
    torch.manual_seed(0)
    module = getattr(torch.nn, mode)(H_IN, H, **_options(row))
    for training, batch in itertools.product((True, False), (1, 3, 32)):
        with _configure(module, training, training):
            found = _dtypes(module, torch.randn(L, batch, H_IN))
        assert found == TABLE[row], (training, batch)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("row", TABLE)
def test_every_engine_returns_torch_nn_dtypes(row, backend):
    mode = row.split("-")[0]
    torch.manual_seed(0)
    module = getattr(rnn, mode)(H_IN, H, backend=backend, **_options(row))
    cases = itertools.product((True, False), (True, False), BATCHES)
    for training, grad, batch in cases:
        with _configure(module, training, grad):
            found = _dtypes(module, torch.randn(L, batch, H_IN))
        assert found == TABLE[row], f"training={training} grad={grad} batch={batch}"


@pytest.mark.parametrize("row", TABLE)
def test_options_and_packed_input_keep_the_dtypes(row):
    """Stacked, bidirectional, packed; and options torch.nn lacks (the fused engine)."""
    mode = row.split("-")[0]
    torch.manual_seed(0)
    lengths = torch.tensor([L, 2, 1])
    x = pack_padded_sequence(torch.randn(L, 3, H_IN), lengths)
    for extra in ({}, {"layer_norm": True, "recurrent_dropout": 0.2, "residual": True}):
        layer = getattr(rnn, mode)(H_IN, H, num_layers=2, bidirectional=True, **_options(row))
        layer_extra = getattr(rnn, mode)(
            H_IN, H, num_layers=2, bidirectional=True, **_options(row), **extra
        )
        for module in (layer, layer_extra):
            for training in (True, False):
                with _configure(module, training, training):
                    assert _dtypes(module, x) == TABLE[row], (extra, training)


def test_float32_results_outside_autocast_and_for_bfloat16_input():
    """No autocast: float32 in, float32 out; bf16 weights and input: bf16 out (unchanged)."""
    for mode in ("RNN", "LSTM", "GRU"):
        layer = getattr(rnn, mode)(H_IN, H)
        output, _ = layer(torch.randn(L, 8, H_IN))
        assert output.dtype == F32
        output, _ = layer.to(BF16)(torch.randn(L, 8, H_IN, dtype=BF16))
        assert output.dtype == BF16


@pytest.mark.parametrize("mode", ("RNN", "LSTM", "GRU"))
def test_autocast_gradients_reach_float32_weights(mode):
    """The casts to torch.nn's dtypes are differentiable: training under autocast works."""
    torch.manual_seed(0)
    for batch in (2, 32):
        layer = getattr(rnn, mode)(H_IN, H)
        x = torch.randn(L, batch, H_IN, requires_grad=True)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            output, _ = layer(x)
        output.float().square().mean().backward()
        assert x.grad.dtype == F32 and x.grad.abs().sum() > 0
        for p in layer.parameters():
            assert p.grad is not None and p.grad.dtype == F32


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("mode", ("RNN", "LSTM", "GRU"))
def test_state_fed_back_under_autocast(mode, backend):
    """Step-by-step decoding: a bf16 state returned under autocast goes back in as h_0."""
    torch.manual_seed(0)
    layer = getattr(rnn, mode)(H_IN, H, backend=backend).eval()
    for batch in (1, 8):
        steps = torch.randn(4, 1, batch, H_IN)  # four calls of one step each
        state, reference = None, None
        for x in steps:
            with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
                output, state = layer(x, state)
            assert _dtypes_of(output, state) == TABLE[mode]
            with torch.no_grad():
                expected, reference = layer(x, reference)  # float32 throughout
            torch.testing.assert_close(output.float(), expected, atol=0.05, rtol=0.05)


def _dtypes_of(output, state) -> tuple[torch.dtype, ...]:
    state = state if isinstance(state, tuple) else (state,)
    return (output.dtype, *(s.dtype for s in state))
