"""torch.func transforms and vectorised jacobians through every engine, against torch.nn.

Each engine's layer with torch.nn's weights copied in must give torch.nn's results in float64
under ``torch.func.grad``, ``jacrev``, ``functional_call`` and
``torch.autograd.functional.jacobian(..., vectorize=True)``; ``vmap``, which torch.nn's layers
lack (no batching rule for ``aten::lstm`` etc.), must give torch.nn's results per sample.
"""

from __future__ import annotations

import pytest
import torch
from torch.autograd import forward_ad
from torch.func import functional_call, grad, jacfwd, jacrev, vmap

import rnnkit.nn as rnn

MODES = ("RNN", "LSTM", "GRU")
BACKENDS = ("auto", "loop", "fused", "torch")
OPTIONS = (
    {},
    {"num_layers": 2, "bidirectional": True},
    {"batch_first": True},
)
L, N, H_IN, H = 4, 2, 3, 5


def _pair(mode: str, backend: str, **options):
    """torch.nn's layer and ours with its weights, float64."""
    torch.manual_seed(0)
    theirs = getattr(torch.nn, mode)(H_IN, H, dtype=torch.float64, **options)
    ours = getattr(rnn, mode)(H_IN, H, dtype=torch.float64, backend=backend, **options)
    ours.load_state_dict(theirs.state_dict())
    return theirs, ours


def _input(batch_first: bool = False, batch: int = N) -> torch.Tensor:
    torch.manual_seed(1)
    shape = (batch, L, H_IN) if batch_first else (L, batch, H_IN)
    return torch.randn(*shape, dtype=torch.float64)


def _output(module, x):
    return module(x)[0]


@pytest.mark.parametrize("options", OPTIONS, ids=["plain", "stacked-bidir", "batch_first"])
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("mode", MODES)
def test_grad_of_functional_call(mode, backend, options):
    theirs, ours = _pair(mode, backend, **options)
    x = _input(options.get("batch_first", False))
    params = {name: p.detach() for name, p in theirs.named_parameters()}

    def loss(p, module):
        output, state = functional_call(module, p, (x,))
        final = state[0] if mode == "LSTM" else state
        return output.pow(2).sum() + final.sin().sum()

    expected = grad(loss)(params, theirs)
    found = grad(loss)(params, ours)
    assert expected.keys() == found.keys()
    for name in expected:
        torch.testing.assert_close(found[name], expected[name], msg=name)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("mode", MODES)
def test_jacobians_of_input(mode, backend):
    """jacrev, jacfwd and the vectorised jacobian; and a forward-mode directional derivative."""
    theirs, ours = _pair(mode, backend, bidirectional=True)
    x = _input()
    expected = jacrev(lambda t: _output(theirs, t))(x)  # (L, N, 2H, L, N, H_in)
    torch.testing.assert_close(jacrev(lambda t: _output(ours, t))(x), expected)
    torch.testing.assert_close(jacfwd(lambda t: _output(ours, t))(x), expected)
    vectorized = torch.autograd.functional.jacobian(lambda t: _output(ours, t), x, vectorize=True)
    torch.testing.assert_close(vectorized, expected)
    tangent = torch.randn_like(x)
    with forward_ad.dual_level():
        derivative = forward_ad.unpack_dual(_output(ours, forward_ad.make_dual(x, tangent))).tangent
    torch.testing.assert_close(derivative, torch.einsum("abcdef,def->abc", expected, tangent))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("mode", MODES)
def test_vmap_over_samples_matches_torch_per_sample(mode, backend):
    theirs, ours = _pair(mode, backend, num_layers=2)
    samples = torch.randn(3, L, N, H_IN, dtype=torch.float64)  # (B, L, N, H_in)
    expected = torch.stack([_output(theirs, s) for s in samples])  # (B, L, N, H)
    torch.testing.assert_close(vmap(lambda s: _output(ours, s))(samples), expected)


@pytest.mark.parametrize("mode", MODES)
def test_vmap_of_grad_per_sample_gradients(mode):
    """Per-sample weight gradients (vmap of grad over a batch of one sequence each)."""
    theirs, ours = _pair(mode, "auto")
    x = _input(batch=3)  # (L, 3, H_in)
    params = {name: p.detach() for name, p in ours.named_parameters()}

    def loss(p, sample):  # sample (L, H_in), unbatched
        return functional_call(ours, p, (sample,))[0].pow(2).sum()

    found = vmap(grad(loss), in_dims=(None, 1))(params, x)
    for n in range(3):
        theirs.zero_grad()
        theirs(x[:, n]).__getitem__(0).pow(2).sum().backward()
        for name, p in theirs.named_parameters():
            torch.testing.assert_close(found[name][n], p.grad, msg=f"{name}[{n}]")


@pytest.mark.parametrize("mode", MODES)
def test_fused_vectorized_jacobian_with_every_option(mode):
    """rnnkit's own options through the fused engine's backward under vmap, against the same
    jacobian row by row (the fused engine's hand-written backward), in float32."""
    torch.manual_seed(0)
    options = {"layer_norm": True, "residual": True, "num_layers": 2, "bidirectional": True}
    if mode == "LSTM":
        options["proj_size"] = 3
    layer = getattr(rnn, mode)(H_IN, H, backend="fused", **options)
    lengths = torch.tensor([L, L - 2])
    x = torch.randn(L, N, H_IN)

    def run(t):
        packed = torch.nn.utils.rnn.pack_padded_sequence(t, lengths)
        out, _ = torch.nn.utils.rnn.pad_packed_sequence(layer(packed)[0], total_length=L)
        return out

    jacobian = torch.autograd.functional.jacobian
    row_by_row = jacobian(run, x)
    torch.testing.assert_close(jacobian(run, x, vectorize=True), row_by_row)
    assert row_by_row.abs().sum() > 0


@pytest.mark.parametrize("backend", ["auto", "fused"])
@pytest.mark.parametrize("mode", MODES)
def test_batched_gradcheck_with_the_final_state_among_the_outputs(mode, backend):
    """PyTorch's module tests run gradcheck with ``check_batched_grad=True`` over every output:
    vmap's batched gradients then reach the fused backward through ``h_n`` (and ``c_n``), not
    only through the output."""
    layer = getattr(rnn, mode)(2, 2, num_layers=2, bias=False, backend=backend).double()
    x = torch.randn(3, 2, dtype=torch.float64, requires_grad=True)  # unbatched (L, H_in)

    def outputs(x, *parameters):
        return tuple(torch.utils._pytree.tree_leaves(layer(x)))

    assert torch.autograd.gradcheck(outputs, (x, *layer.parameters()), check_batched_grad=True)
