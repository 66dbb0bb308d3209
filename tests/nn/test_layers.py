"""rnnkit.nn.RNN/LSTM/GRU against torch.nn with copied weights: outputs, states, every gradient."""

import itertools

import pytest
import torch
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence

from rnnkit import nn as rnn

TOL = {torch.float32: 1e-5, torch.float64: 1e-10}
MODES = ["RNN", "LSTM", "GRU"]
MATRIX = list(
    itertools.product(
        MODES,
        [1, 2, 3],  # num_layers
        [False, True],  # bidirectional
        [False, True],  # batch_first
        [True, False],  # bias
        [False, True],  # packed
        [torch.float32, torch.float64],
    )
)


def make_pair(mode, dtype, **kwargs):
    """A torch.nn module and its rnnkit twin holding the same weights."""
    reference = getattr(torch.nn, mode)(**kwargs).to(dtype)
    ours = getattr(rnn, mode)(**kwargs).to(dtype)
    ours.load_state_dict(reference.state_dict())
    return reference, ours


def assert_close(a, b, tol, what):
    assert a.shape == b.shape, f"{what}: shape {tuple(a.shape)} != {tuple(b.shape)}"
    torch.testing.assert_close(a, b, rtol=tol, atol=tol, msg=lambda m: f"{what}: {m}")


def run_and_compare(reference, ours, x, lengths, hx, tol, batch_first):
    """Forward both modules on the same input and compare outputs, states and gradients."""
    results = []
    for module in (reference, ours):
        module.zero_grad()
        xi = x.detach().clone().requires_grad_(True)
        hi = None
        if hx is not None:
            hi = tuple(h.detach().clone().requires_grad_(True) for h in hx)
        inp = xi
        if lengths is not None:
            inp = pack_padded_sequence(xi, lengths, batch_first=batch_first, enforce_sorted=False)
        out, state = module(inp, hi if hi is None or len(hi) == 2 else hi[0])
        if isinstance(out, PackedSequence):
            out_data = out.data
        else:
            out_data = out
        states = state if isinstance(state, tuple) else (state,)
        torch.manual_seed(1)
        loss = sum((t * torch.randn_like(t)).sum() for t in (out_data, *states))
        loss.backward()
        grads = {name: p.grad for name, p in module.named_parameters()}
        results.append((out, states, xi.grad, [] if hi is None else [h.grad for h in hi], grads))
    (out_a, st_a, gx_a, gh_a, gp_a), (out_b, st_b, gx_b, gh_b, gp_b) = results
    if isinstance(out_a, PackedSequence):
        assert isinstance(out_b, PackedSequence)
        assert torch.equal(out_a.batch_sizes, out_b.batch_sizes)
        assert torch.equal(out_a.sorted_indices, out_b.sorted_indices)
        assert torch.equal(out_a.unsorted_indices, out_b.unsorted_indices)
        out_a, out_b = out_a.data, out_b.data
    assert_close(out_b, out_a, tol, "output")
    for i, (a, b) in enumerate(zip(st_a, st_b)):
        assert_close(b, a, tol, f"state[{i}]")
    assert_close(gx_b, gx_a, tol, "input grad")
    for i, (a, b) in enumerate(zip(gh_a, gh_b)):
        assert_close(b, a, tol, f"initial state grad[{i}]")
    assert gp_a.keys() == gp_b.keys()
    for name in gp_a:
        assert_close(gp_b[name], gp_a[name], tol, f"grad {name}")


@pytest.mark.parametrize("mode,layers,bidirectional,batch_first,bias,packed,dtype", MATRIX)
def test_matches_torch(mode, layers, bidirectional, batch_first, bias, packed, dtype):
    torch.manual_seed(0)
    kwargs = dict(
        input_size=5,
        hidden_size=6,
        num_layers=layers,
        bias=bias,
        batch_first=batch_first,
        bidirectional=bidirectional,
    )
    reference, ours = make_pair(mode, dtype, **kwargs)
    n, length = 4, 7
    shape = (n, length, 5) if batch_first else (length, n, 5)
    x = torch.randn(shape, dtype=dtype)
    lengths = torch.tensor([7, 2, 5, 1]) if packed else None
    d = 2 if bidirectional else 1
    hx = None
    if packed:  # exercise given initial states on half the matrix
        hx = (torch.randn(layers * d, n, 6, dtype=dtype),)
        if mode == "LSTM":
            hx = hx + (torch.randn(layers * d, n, 6, dtype=dtype),)
    run_and_compare(reference, ours, x, lengths, hx, TOL[dtype], batch_first)


@pytest.mark.parametrize(
    "layers,bidirectional,packed,dtype",
    list(itertools.product([1, 2], [False, True], [False, True], [torch.float32, torch.float64])),
)
def test_lstm_projection_matches_torch(layers, bidirectional, packed, dtype):
    torch.manual_seed(0)
    kwargs = dict(
        input_size=5, hidden_size=6, num_layers=layers, bidirectional=bidirectional, proj_size=3
    )
    reference, ours = make_pair("LSTM", dtype, **kwargs)
    x = torch.randn(7, 4, 5, dtype=dtype)
    d = 2 if bidirectional else 1
    hx = (torch.randn(layers * d, 4, 3, dtype=dtype), torch.randn(layers * d, 4, 6, dtype=dtype))
    lengths = torch.tensor([3, 7, 7, 1]) if packed else None
    run_and_compare(reference, ours, x, lengths, hx, TOL[dtype], batch_first=False)


@pytest.mark.parametrize("mode", MODES)
def test_unbatched_input_matches_torch(mode):
    torch.manual_seed(0)
    reference, ours = make_pair(mode, torch.float64, input_size=3, hidden_size=4, num_layers=2)
    x = torch.randn(5, 3, dtype=torch.float64)
    out_a, st_a = reference(x)
    out_b, st_b = ours(x)
    assert out_b.shape == (5, 4)
    assert_close(out_b, out_a, 1e-12, "output")
    for a, b in zip(st_a if mode == "LSTM" else (st_a,), st_b if mode == "LSTM" else (st_b,)):
        assert b.shape == (2, 4)
        assert_close(b, a, 1e-12, "state")
    h0 = torch.randn(2, 4, dtype=torch.float64)
    hx = (h0, torch.randn(2, 4, dtype=torch.float64)) if mode == "LSTM" else h0
    assert_close(ours(x, hx)[0], reference(x, hx)[0], 1e-12, "output with h0")


def test_relu_rnn_matches_torch():
    torch.manual_seed(0)
    reference, ours = make_pair(
        "RNN", torch.float64, input_size=3, hidden_size=4, num_layers=2, nonlinearity="relu"
    )
    x = torch.randn(6, 2, 3, dtype=torch.float64)
    run_and_compare(reference, ours, x, None, None, 1e-10, batch_first=False)


@pytest.mark.parametrize("mode", MODES)
def test_state_dict_round_trip_both_ways(mode):
    ours = getattr(rnn, mode)(4, 5, num_layers=2, bidirectional=True)
    reference = getattr(torch.nn, mode)(4, 5, num_layers=2, bidirectional=True)
    reference.load_state_dict(ours.state_dict())
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in reference.named_parameters()]
    for (_, a), (_, b) in zip(ours.named_parameters(), reference.named_parameters()):
        assert torch.equal(a, b)
    assert len(ours.all_weights) == len(reference.all_weights) == 4


def test_dropout_between_layers_only_in_training():
    torch.manual_seed(0)
    reference, ours = make_pair(
        "LSTM", torch.float64, input_size=3, hidden_size=4, num_layers=2, dropout=0.5
    )
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    ours.eval()
    reference.eval()
    assert_close(ours(x)[0], reference(x)[0], 1e-12, "eval output")
    ours.train()
    first, second = ours(x)[0], ours(x)[0]
    assert not torch.allclose(first, second), "dropout should differ between training passes"


def test_padded_positions_of_packed_output_are_zero():
    from torch.nn.utils.rnn import pad_packed_sequence

    lstm = rnn.LSTM(3, 4, bidirectional=True, batch_first=True)
    x = torch.randn(3, 6, 3)
    packed = pack_padded_sequence(
        x, torch.tensor([6, 2, 4]), batch_first=True, enforce_sorted=False
    )
    out, _ = pad_packed_sequence(lstm(packed)[0], batch_first=True)
    assert out.shape == (3, 6, 8)
    assert torch.all(out[1, 2:] == 0) and torch.all(out[2, 4:] == 0)
