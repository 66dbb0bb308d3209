"""rnnkit.nn cells against torch.nn cells with copied weights."""

import pytest
import torch

from rnnkit import nn as rnn

CELLS = ["RNNCell", "LSTMCell", "GRUCell"]


@pytest.mark.parametrize("name", CELLS)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("given_state", [True, False])
def test_cell_matches_torch(name, bias, batched, given_state):
    torch.manual_seed(0)
    reference = getattr(torch.nn, name)(3, 5, bias=bias).double()
    ours = getattr(rnn, name)(3, 5, bias=bias).double()
    ours.load_state_dict(reference.state_dict())
    shape = (4, 3) if batched else (3,)
    state_shape = (4, 5) if batched else (5,)
    x = torch.randn(shape, dtype=torch.float64)
    hx = None
    if given_state:
        hx = torch.randn(state_shape, dtype=torch.float64)
        if name == "LSTMCell":
            hx = (hx, torch.randn(state_shape, dtype=torch.float64))
    grads = []
    outputs = []
    for module in (reference, ours):
        xi = x.clone().requires_grad_(True)
        out = module(xi, hx)
        out = out if isinstance(out, tuple) else (out,)
        sum((o * (i + 1)).sum() for i, o in enumerate(out)).backward()
        outputs.append(out)
        grads.append([xi.grad] + [p.grad for p in module.parameters()])
    for a, b in zip(*outputs):
        assert a.shape == b.shape
        torch.testing.assert_close(b, a, rtol=1e-12, atol=1e-12)
    for a, b in zip(*grads):
        torch.testing.assert_close(b, a, rtol=1e-12, atol=1e-12)


def test_relu_cell_matches_torch():
    reference = torch.nn.RNNCell(3, 4, nonlinearity="relu").double()
    ours = rnn.RNNCell(3, 4, nonlinearity="relu").double()
    ours.load_state_dict(reference.state_dict())
    x = torch.randn(2, 3, dtype=torch.float64)
    torch.testing.assert_close(ours(x), reference(x))


def test_cell_options_gradcheck():
    torch.manual_seed(0)
    cell = rnn.LSTMCell(3, 4, layer_norm=True, init="orthogonal", forget_bias=1.0).double()
    x = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    h = torch.randn(2, 4, dtype=torch.float64, requires_grad=True)
    c = torch.randn(2, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda *a: cell(a[0], (a[1], a[2])), (x, h, c))


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(input_size=0, hidden_size=4), "input_size must be an integer >= 1, got 0"),
        (dict(input_size=3, hidden_size=2.5), "hidden_size must be an integer >= 1"),
    ],
)
def test_cell_argument_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        rnn.GRUCell(**kwargs)


def test_cell_input_errors():
    cell = rnn.LSTMCell(3, 4)
    with pytest.raises(ValueError, match="expected input with 3 features, got 5"):
        cell(torch.randn(2, 5))
    with pytest.raises(ValueError, match="expected hidden state of shape"):
        cell(torch.randn(2, 3), (torch.zeros(2, 7), torch.zeros(2, 7)))
    with pytest.raises(ValueError, match="forget_bias is for LSTM cells only"):
        rnn.GRUCell(3, 4, forget_bias=1.0)
