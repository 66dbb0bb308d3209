"""torch.compile, torch.export and ONNX export of the layers, whatever engine ``auto`` picks.

Under ``torch.compile`` a layer is a graph break and runs eagerly, as torch.nn's are; under
export the layer runs torch's own kernels (plain configurations) or the loop engine (the
rest). Every case is checked against the same module run eagerly.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

import rnnkit.nn as rnn

MODES = ("RNN", "LSTM", "GRU")
L, H_IN, H = 5, 4, 6


class Tagger(nn.Module):
    """A linear layer, a recurrent layer and a linear head: compiled code around the layer."""

    def __init__(self, mode: str, **options) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.embed = nn.Linear(H_IN, H_IN)
        self.rnn = getattr(rnn, mode)(H_IN, H, **options)
        width = H * (2 if options.get("bidirectional") else 1)
        self.head = nn.Linear(width, 3)

    def forward(self, x):
        output, _ = self.rnn(torch.tanh(self.embed(x)))
        return self.head(output)


def _input(batch: int) -> torch.Tensor:
    torch.manual_seed(1)
    return torch.randn(L, batch, H_IN)


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_compile_trains_and_infers_as_eager(mode):
    """Batch 32, where ``auto`` picks the fused engine for GRU/RNN training and torch's kernels
    for LSTM inference (which failed in Inductor before)."""
    model = Tagger(mode)
    x = _input(32)
    compiled = torch.compile(model)
    model.train()
    expected = model(x)
    expected.square().mean().backward()
    grads = {name: p.grad.clone() for name, p in model.named_parameters()}
    model.zero_grad()
    found = compiled(x)
    found.square().mean().backward()
    torch.testing.assert_close(found, expected)
    for name, p in model.named_parameters():
        torch.testing.assert_close(p.grad, grads[name], msg=name)
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), model(x))


@pytest.mark.slow
def test_compile_of_options_torch_nn_lacks():
    """Layer norm, residual, recurrent dropout and packed input: the fused engine, eagerly."""
    torch.manual_seed(0)
    layer = rnn.LSTM(H_IN, H, num_layers=2, layer_norm=True, residual=True, proj_size=0)
    layer.eval()
    lengths = torch.tensor([L, 3, 2])
    x = torch.randn(L, 3, H_IN)

    def run(x):
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths)
        return nn.utils.rnn.pad_packed_sequence(layer(packed)[0])[0]

    with torch.no_grad():
        torch.testing.assert_close(torch.compile(run)(x), run(x))


# Torch's kernels (plain, auto), the fused engine's configuration run by torch's kernels, and
# options torch.nn lacks (the loop engine).
EXPORTED = [
    ({}, False),
    ({}, True),
    ({"backend": "fused"}, False),
    ({"num_layers": 2, "layer_norm": True, "residual": True}, False),
]


@pytest.mark.parametrize(
    "options, strict", EXPORTED, ids=["plain", "plain-strict", "fused", "rnnkit-options"]
)
@pytest.mark.parametrize("mode", MODES)
def test_export_matches_eager(mode, options, strict):
    model = Tagger(mode, **options).eval()
    x = _input(32)
    program = torch.export.export(model, (x,), strict=strict)
    with torch.no_grad():
        torch.testing.assert_close(program.module()(x), model(x))


@pytest.mark.parametrize("mode", MODES)
def test_export_of_lstm_projection_and_batch_first(mode):
    options = {"batch_first": True}
    if mode == "LSTM":
        options["proj_size"] = 3
    torch.manual_seed(0)
    layer = getattr(rnn, mode)(H_IN, H, **options).eval()
    x = torch.randn(2, L, H_IN)  # (N, L, H_in)
    program = torch.export.export(layer, (x,))
    found, expected = program.module()(x), layer(x)
    with torch.no_grad():
        torch.testing.assert_close(found, expected)


@pytest.mark.slow
@pytest.mark.parametrize(
    "mode, options",
    [
        ("RNN", {"layer_norm": True}),
        ("LSTM", {}),
        ("GRU", {"backend": "fused"}),
    ],
    ids=["RNN-rnnkit-options", "LSTM", "GRU-fused"],
)
def test_onnx_export_runs_in_onnxruntime_as_eager(mode, options):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    model = Tagger(mode, **options).eval()
    x = _input(32)
    program = torch.onnx.export(model, (x,), dynamo=True, verbose=False)
    session = ort.InferenceSession(
        program.model_proto.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    (found,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    with torch.no_grad():
        expected = model(x)
    torch.testing.assert_close(torch.from_numpy(found), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("mode", MODES)
def test_jit_trace_matches_eager(mode):
    """torch.jit.trace records torch's kernels (plain) or the loop engine (rnnkit's options)."""
    x = _input(4)
    for options in ({"backend": "fused"}, {"layer_norm": True, "bidirectional": True}):
        model = Tagger(mode, **options).eval()
        with torch.no_grad():
            traced = torch.jit.trace(model, (x,), check_trace=False)
            torch.testing.assert_close(traced(x), model(x))


@pytest.mark.parametrize(
    "mode, options", [("LSTM", {}), ("GRU", {}), ("RNN", {"layer_norm": True})]
)
def test_export_with_a_dynamic_batch_size(mode, options):
    """A symbolic batch size, as torch.nn's layers allow (both specialise the length)."""
    batch = torch.export.Dim("batch", min=1)
    model = Tagger(mode, **options).eval()
    program = torch.export.export(model, (_input(3),), dynamic_shapes={"x": {1: batch}})
    x = _input(7)
    with torch.no_grad():
        torch.testing.assert_close(program.module()(x), model(x))
