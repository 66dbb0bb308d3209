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


def test_cell_option_errors():
    """The errors of torch.nn's arguments are in tests/nn/test_contract.py; these are rnnkit's."""
    with pytest.raises(ValueError, match="forget_bias is for LSTM cells only"):
        rnn.GRUCell(3, 4, forget_bias=1.0)
    with pytest.raises(ValueError, match="forget_bias needs bias=True"):
        rnn.LSTMCell(3, 4, bias=False, forget_bias=1.0)


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
@pytest.mark.parametrize("name", CELLS)
@pytest.mark.parametrize("layer_norm", [False, True])
def test_scripted_cell_matches_eager_and_torch(name, layer_norm):
    """``torch.jit.script(cell)`` works as with torch.nn's cells, with the same outputs."""
    torch.manual_seed(0)
    ours = getattr(rnn, name)(3, 5, layer_norm=layer_norm)
    scripted = torch.jit.script(ours)
    x, h = torch.randn(4, 3), torch.randn(4, 5)
    hx = (h, torch.randn(4, 5)) if name == "LSTMCell" else h
    for args in ((x, hx), (x,), (x[0], hx[0] if isinstance(hx, torch.Tensor) else None)):
        torch.testing.assert_close(scripted(*args), ours(*args), rtol=0, atol=0)
    if not layer_norm:
        reference = getattr(torch.nn, name)(3, 5)
        reference.load_state_dict(ours.state_dict())
        torch.testing.assert_close(scripted(x, hx), torch.jit.script(reference)(x, hx))
    # Scripted, a check raises torch.jit.Error (torch.nn's own cells: RuntimeError from ATen)
    with pytest.raises(torch.jit.Error, match="inconsistent input_size: got 4 expected 3"):
        scripted(torch.randn(4, 4))
