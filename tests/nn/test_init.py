"""Initialisation schemes by name, and the LSTM forget-gate bias."""

import pytest
import torch

from rnnkit import nn as rnn


def blocks(weight, gates):
    return weight.detach().chunk(gates, dim=0)


def test_orthogonal_recurrent_blocks():
    lstm = rnn.LSTM(7, 16, num_layers=2, init="orthogonal")
    for name in ("weight_hh_l0", "weight_hh_l1"):
        for block in blocks(getattr(lstm, name), 4):
            torch.testing.assert_close(block @ block.T, torch.eye(16), atol=1e-5, rtol=0)
    assert torch.all(lstm.bias_ih_l0 == 0) and torch.all(lstm.bias_hh_l1 == 0)


def test_identity_init_for_relu_rnn():
    net = rnn.RNN(3, 8, nonlinearity="relu", init="identity")
    assert torch.equal(net.weight_hh_l0.detach(), torch.eye(8))
    assert net.weight_ih_l0.detach().std() < 0.01


def test_identity_needs_square_blocks():
    with pytest.raises(ValueError, match="square recurrent blocks"):
        rnn.LSTM(3, 8, proj_size=4, init="identity")


@pytest.mark.parametrize(
    "scheme", ["xavier_uniform", "glorot_uniform", "xavier_normal", "glorot_normal", "kaiming",
               "he", "he_normal", "he_uniform", "lecun", "lecun_normal", "lecun_uniform", "normal",
               "uniform", None]
)  # fmt: skip
def test_every_scheme_initialises_finite_weights(scheme):
    torch.manual_seed(0)
    gru = rnn.GRU(32, 64, init=scheme)
    for name, p in gru.named_parameters():
        assert torch.isfinite(p).all()
        if name.startswith("weight"):
            assert p.std() > 1e-3, name


def test_scales_follow_their_definitions():
    torch.manual_seed(0)
    fan_in = 256
    lecun = rnn.RNN(fan_in, 512, init="lecun").weight_ih_l0.detach()
    assert abs(lecun.std().item() - fan_in**-0.5) < 0.01 * fan_in**-0.5 * 10
    he = rnn.RNN(fan_in, 512, init="kaiming").weight_ih_l0.detach()
    assert abs(he.std().item() - (2 / fan_in) ** 0.5) < 0.05 * (2 / fan_in) ** 0.5
    for name, std in (("lecun_uniform", fan_in**-0.5), ("he_uniform", (2 / fan_in) ** 0.5)):
        uniform = rnn.RNN(fan_in, 512, init=name).weight_ih_l0.detach()  # U(±√3 std)
        assert abs(uniform.std().item() - std) < 0.05 * std
        assert uniform.abs().max() <= 3**0.5 * std
    default = rnn.RNN(fan_in, 512).weight_hh_l0.detach()
    assert default.abs().max() <= 512**-0.5


@pytest.mark.parametrize("name", ["zeros", "zero"])
def test_zeros_init(name):
    lstm = rnn.LSTM(3, 4, init=name)
    assert all(torch.all(p == 0) for p in lstm.parameters())


def test_forget_bias_sets_forget_slice_only():
    lstm = rnn.LSTM(3, 4, bidirectional=True, init="orthogonal", forget_bias=1.0)
    for suffix in ("_l0", "_l0_reverse"):
        b_ih = getattr(lstm, "bias_ih" + suffix).detach()
        b_hh = getattr(lstm, "bias_hh" + suffix).detach()
        assert torch.all(b_ih[4:8] == 1.0) and torch.all(b_hh[4:8] == 0.0)
        assert torch.all(b_ih[:4] == 0.0) and torch.all(b_ih[8:] == 0.0)


def test_layer_norm_gains_start_at_one():
    lstm = rnn.LSTM(3, 4, layer_norm=True, init="orthogonal")
    assert torch.all(lstm.ln_ih_weight_l0 == 1) and torch.all(lstm.ln_cell_bias_l0 == 0)


def test_unknown_scheme_lists_known_names():
    with pytest.raises(
        ValueError, match=r"init must be None or one of \[.*'orthogonal'.*got 'orth'"
    ):
        rnn.LSTM(3, 4, init="orth")
