"""The options torch.nn lacks: layer norm, variational recurrent dropout, residual stacking."""

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence

from rnnkit import nn as rnn
from rnnkit.nn.functional import StepWeights, step

MODES = ["RNN", "LSTM", "GRU"]


def seeded(module, seed=0):
    """Wrap a module so every call draws the same dropout masks (gradcheck calls it many times)."""

    def call(x, *state):
        torch.manual_seed(seed)
        hx = None if not state else (state if len(state) == 2 else state[0])
        out, final = module(x, hx)
        final = final if isinstance(final, tuple) else (final,)
        return (out, *final)

    return call


@pytest.mark.parametrize("mode", MODES)
def test_gradcheck_with_every_option(mode):
    torch.manual_seed(0)
    extra = dict(forget_bias=1.0) if mode == "LSTM" else {}
    module = getattr(rnn, mode)(
        3, 4, num_layers=2, bidirectional=True, dropout=0.3, init="orthogonal",
        recurrent_dropout=0.25, layer_norm=True, residual=True, **extra,
    ).double()  # fmt: skip
    module.train()
    x = torch.randn(5, 2, 3, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(4, 2, 4, dtype=torch.float64, requires_grad=True)
    inputs = (x, h0, torch.randn(4, 2, 4, dtype=torch.float64)) if mode == "LSTM" else (x, h0)
    assert torch.autograd.gradcheck(seeded(module), inputs)
    params = tuple(module.parameters())
    names = [n for n, _ in module.named_parameters()]

    def by_params(*values):
        torch.manual_seed(0)
        state = dict(zip(names, values))
        out, _ = torch.func.functional_call(module, state, (x.detach(),))
        return out

    # fast_mode: checks J·v for random v (Jacobian-vector products), cheap enough for every weight
    assert torch.autograd.gradcheck(by_params, params, fast_mode=True)


def test_gradcheck_packed_projection_layer_norm():
    torch.manual_seed(0)
    lstm = rnn.LSTM(3, 5, proj_size=2, bidirectional=True, layer_norm=True).double()
    x = torch.randn(2, 6, 3, dtype=torch.float64, requires_grad=True)

    def run(x):
        packed = pack_padded_sequence(x, torch.tensor([6, 3]), batch_first=True)
        out, (h, c) = lstm(packed)
        return out.data, h, c

    assert torch.autograd.gradcheck(run, (x,))


@pytest.mark.parametrize("mode", MODES)
def test_layer_norm_makes_each_gate_scale_invariant(mode, monkeypatch):
    """LN(a W x) = LN(W x) for a > 0, gate block by gate block: scaling one block changes nothing.

    Exact only without the epsilon that guards against zero variance, so it is set to 0 here.
    """
    monkeypatch.setattr("rnnkit.nn.functional.LN_EPS", 0.0)
    torch.manual_seed(0)
    module = getattr(rnn, mode)(3, 4, layer_norm=True).double()
    x = torch.randn(6, 2, 3, dtype=torch.float64)
    h0 = torch.randn(1, 2, 4, dtype=torch.float64)
    hx = (h0, h0) if mode == "LSTM" else h0
    before, _ = module(x, hx)
    with torch.no_grad():
        module.weight_hh_l0[:4] *= 3.0  # the first gate block only
        module.weight_ih_l0 *= 0.5
    after, _ = module(x, hx)
    torch.testing.assert_close(after, before)
    plain = getattr(rnn, mode)(3, 4).double()
    plain.load_state_dict(module.state_dict(), strict=False)
    assert not torch.allclose(plain(x, hx)[0], before), "scaling must matter without layer norm"


@pytest.mark.parametrize("mode", MODES)
def test_recurrent_dropout_uses_one_mask_per_sequence(mode):
    torch.manual_seed(0)
    module = getattr(rnn, mode)(3, 4, recurrent_dropout=0.5).double().train()
    x = torch.randn(6, 2, 3, dtype=torch.float64)
    torch.manual_seed(7)
    out, _ = module(x)
    torch.manual_seed(7)
    (mask,) = module._recurrent_masks(x)
    assert set(mask.unique().tolist()) <= {0.0, 2.0}
    weights = StepWeights(
        module.weight_ih_l0, module.weight_hh_l0, module.bias_ih_l0, module.bias_hh_l0
    )
    state = tuple(torch.zeros(2, 4, dtype=torch.float64) for _ in range(2 if mode == "LSTM" else 1))
    expected = []
    for t in range(6):
        gi = torch.nn.functional.linear(x[t], weights.weight_ih, weights.bias_ih)
        state = step(module.mode, gi, state, weights, mask)
        expected.append(state[0])
    torch.testing.assert_close(out, torch.stack(expected))
    module.eval()
    plain = getattr(torch.nn, mode)(3, 4).double()
    plain.load_state_dict(module.state_dict())
    torch.testing.assert_close(module(x)[0], plain(x)[0]), "no dropout in eval mode"


def test_residual_adds_each_layer_input():
    torch.manual_seed(0)
    stacked = rnn.GRU(4, 4, num_layers=2, residual=True).double()
    first = torch.nn.GRU(4, 4).double()
    second = torch.nn.GRU(4, 4).double()
    state = stacked.state_dict()
    first.load_state_dict({k.replace("_l0", "_l0"): v for k, v in state.items() if "_l0" in k})
    second.load_state_dict({k.replace("_l1", "_l0"): v for k, v in state.items() if "_l1" in k})
    x = torch.randn(5, 3, 4, dtype=torch.float64)
    middle, _ = first(x)
    expected = second(middle)[0] + middle
    torch.testing.assert_close(stacked(x)[0], expected)


@pytest.mark.parametrize(
    "factory,message",
    [
        (lambda: rnn.GRU(3, 4, recurrent_dropout=-0.1), "recurrent_dropout must be a number"),
        (lambda: rnn.LSTM(3, 4, recurrent_dropout=1.0), r"recurrent_dropout .* \[0, 1\), got 1"),
        (lambda: rnn.GRU(3, 4, forget_bias=1.0), "forget_bias is for LSTM only"),
        (lambda: rnn.LSTM(3, 4, bias=False, forget_bias=1.0), "forget_bias needs bias=True"),
        (lambda: rnn.LSTM(3, 4, init="glorot"), "init must be None or one of"),
    ],
)
def test_option_errors(factory, message):
    """rnnkit's own options; torch.nn's arguments are in tests/nn/test_contract.py."""
    with pytest.raises(ValueError, match=message):
        factory()


def test_extras_are_keyword_only():
    with pytest.raises(TypeError):
        rnn.LSTM(3, 4, 1, True, False, 0.0, False, 0, None, None, "orthogonal")


def test_dropout_with_one_layer_warns_like_torch():
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        rnn.GRU(3, 4, dropout=0.2)
