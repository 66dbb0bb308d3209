"""weight_drop (DropConnect on W_hh) and locked_dropout (one mask per sequence between layers):
the mask is the same at every time step, new at every forward call, absent in eval mode; the
gradient reaches the raw weight; the fused engine runs with the mask applied once per call."""

import pytest
import torch

from rnnkit import nn as rnn
from rnnkit.nn import layers

MODES = ["RNN", "LSTM", "GRU"]


def _reference(module, weight_masks, bidirectional=False):
    """A torch.nn layer holding ``module``'s weights with W_hh multiplied by the masks."""
    ref = getattr(torch.nn, type(module).__name__)(
        module.input_size, module.hidden_size, bidirectional=bidirectional
    ).double()
    state = {k: v.detach().clone() for k, v in module.state_dict().items()}
    suffixes = ["_l0", "_l0_reverse"] if bidirectional else ["_l0"]
    for suffix, mask in zip(suffixes, weight_masks, strict=True):
        state["weight_hh" + suffix] = state["weight_hh" + suffix] * mask
    ref.load_state_dict(state)
    return ref


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_one_mask_for_every_time_step_and_sequence(mode, bidirectional):
    torch.manual_seed(0)
    module = getattr(rnn, mode)(3, 5, weight_drop=0.5, bidirectional=bidirectional).double()
    x = torch.randn(7, 4, 3, dtype=torch.float64)  # (L, N, H_in)
    torch.manual_seed(11)
    out, _ = module(x)
    torch.manual_seed(11)
    masks = module._weight_drop_masks()  # the draws the forward call made
    assert all(set(m.unique().tolist()) == {0.0, 2.0} for m in masks)
    expected, _ = _reference(module, masks, bidirectional)(x)  # a fixed W_hh for all steps
    torch.testing.assert_close(out, expected)


def test_new_mask_at_every_forward_call():
    torch.manual_seed(0)
    module = rnn.LSTM(3, 5, weight_drop=0.5).double()
    x = torch.randn(6, 2, 3, dtype=torch.float64)
    torch.manual_seed(3)
    first, _ = module(x)
    second, _ = module(x)
    assert not torch.allclose(first, second)
    torch.manual_seed(3)
    masks = [module._weight_drop_masks()[0] for _ in range(2)]
    assert not torch.equal(masks[0], masks[1])
    torch.testing.assert_close(second, _reference(module, [masks[1]])(x)[0])


@pytest.mark.parametrize("mode", MODES)
def test_no_mask_in_eval_mode(mode):
    torch.manual_seed(0)
    module = getattr(rnn, mode)(3, 5, num_layers=2, weight_drop=0.6, dropout=0.3,
                                locked_dropout=True).double().eval()  # fmt: skip
    plain = getattr(torch.nn, mode)(3, 5, num_layers=2).double()
    plain.load_state_dict(module.state_dict())
    x = torch.randn(6, 2, 3, dtype=torch.float64)
    rng = torch.get_rng_state()
    torch.testing.assert_close(module(x)[0], plain(x)[0])
    assert torch.equal(torch.get_rng_state(), rng), "eval mode draws no mask"


@pytest.mark.parametrize("backend", ["fused", "loop"])
def test_gradient_reaches_the_raw_weight_through_the_mask(backend):
    torch.manual_seed(0)
    module = rnn.GRU(3, 4, weight_drop=0.4, backend=backend).double()
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    torch.manual_seed(5)
    module(x)[0].square().sum().backward()
    torch.manual_seed(5)
    (mask,) = module._weight_drop_masks()
    ref = _reference(module, [mask])
    ref(x)[0].square().sum().backward()
    # d/dW of f(W * M) = M * f'(W * M): the dropped entries get no gradient
    torch.testing.assert_close(module.weight_hh_l0.grad, mask * ref.weight_hh_l0.grad)
    assert (module.weight_hh_l0.grad[mask == 0] == 0).all()
    assert module.weight_hh_l0.grad[mask != 0].abs().sum() > 0


def test_the_fused_engine_runs_with_the_mask_applied_once_per_call(monkeypatch):
    """auto would give this LSTM (batch 4, training) to torch's kernels; with weight_drop it
    goes to the fused engine, called once per layer-direction with the masked W_hh."""
    calls = []
    fused = layers.DIRECTION_ENGINES["fused"]

    def spy(mode, x, state, weights, *args, **kwargs):
        calls.append(weights.weight_hh)
        return fused(mode, x, state, weights, *args, **kwargs)

    monkeypatch.setitem(layers.DIRECTION_ENGINES, "fused", spy)
    torch.manual_seed(0)
    module = rnn.LSTM(3, 8, num_layers=2, weight_drop=0.5)
    x = torch.randn(30, 4, 3)
    torch.manual_seed(1)
    module(x)
    assert len(calls) == 2  # one call per layer, over all 30 steps
    torch.manual_seed(1)
    masks = module._weight_drop_masks()
    for passed, mask, raw in zip(calls, masks, (module.weight_hh_l0, module.weight_hh_l1)):
        torch.testing.assert_close(passed, raw * mask)
    calls.clear()
    module.eval()(x)
    assert calls == [], "eval mode: no option active, auto may pick torch's kernels again"


def test_torch_backend_refuses_the_options():
    with pytest.raises(ValueError, match=r"backend='torch' .* lack weight_drop=0.5"):
        rnn.LSTM(3, 4, weight_drop=0.5, backend="torch")
    with pytest.raises(ValueError, match=r"lack locked_dropout=True"):
        rnn.GRU(3, 4, num_layers=2, dropout=0.2, locked_dropout=True, backend="torch")
    with pytest.raises(ValueError, match=r"weight_drop must be a number in \[0, 1\), got 1"):
        rnn.GRU(3, 4, weight_drop=1)
    assert "weight_drop=0.25, locked_dropout=True" in repr(
        rnn.GRU(3, 4, weight_drop=0.25, locked_dropout=True)
    )


@pytest.mark.parametrize("backend", ["fused", "loop"])
def test_locked_dropout_between_layers_uses_one_mask_per_sequence(backend):
    torch.manual_seed(0)
    module = rnn.GRU(3, 4, num_layers=2, dropout=0.5, locked_dropout=True, backend=backend)
    module = module.double()
    first, second = torch.nn.GRU(3, 4).double(), torch.nn.GRU(4, 4).double()
    state = module.state_dict()
    first.load_state_dict({k.replace("_l0", "_l0"): v for k, v in state.items() if "_l0" in k})
    second.load_state_dict({k.replace("_l1", "_l0"): v for k, v in state.items() if "_l1" in k})
    x = torch.randn(6, 3, 4 - 1, dtype=torch.float64)
    torch.manual_seed(9)
    out, _ = module(x)
    torch.manual_seed(9)
    mask = torch.empty(1, 3, 4, dtype=torch.float64).bernoulli_(0.5) / 0.5  # (1, N, F)
    middle = first(x)[0] * mask  # the same mask at all 6 steps
    torch.testing.assert_close(out, second(middle)[0])
