"""Hand-written BPTT (full and truncated) equals PyTorch autograd through torch.nn."""

import numpy as np
import pytest
import torch

from rnnkit.reference import backward, bptt, forward, make_cell, random_problem
from rnnkit.tasks.gradcheck import autograd_gradients

CELLS = [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")]
STEPS = 6


def _problem(name, nonlinearity, seed=0):
    cell = make_cell(name, nonlinearity)
    return cell, random_problem(cell, steps=STEPS, batch_size=2, rng=np.random.default_rng(seed))


def _assert_same(ours, theirs, atol=1e-10):
    assert ours.keys() == theirs.keys()
    for key in ours:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=0, atol=atol, err_msg=key)


@pytest.mark.parametrize("name,nonlinearity", CELLS)
def test_full_bptt_equals_autograd(name, nonlinearity):
    cell, p = _problem(name, nonlinearity)
    loss, grads = bptt(cell, p.params, p.x, p.targets, p.state0)
    torch_loss, expected = autograd_gradients(name, p, nonlinearity, layers=torch.nn)
    assert loss == pytest.approx(torch_loss, rel=1e-12)
    _assert_same(grads, expected)
    assert set(grads) == {*p.params, *p.inputs()}


@pytest.mark.parametrize("name,nonlinearity", CELLS)
@pytest.mark.parametrize("k", [1, 2, 4])
def test_truncated_bptt_equals_autograd_with_detaching(name, nonlinearity, k):
    cell, p = _problem(name, nonlinearity, seed=1)
    _, grads = bptt(cell, p.params, p.x, p.targets, p.state0, truncate=k)
    _, expected = autograd_gradients(name, p, nonlinearity, truncate=k, layers=torch.nn)
    _assert_same(grads, expected)


@pytest.mark.parametrize("name,nonlinearity", CELLS)
def test_truncation_at_or_beyond_the_length_is_full_bptt(name, nonlinearity):
    cell, p = _problem(name, nonlinearity, seed=2)
    _, full = bptt(cell, p.params, p.x, p.targets, p.state0)
    for k in (STEPS, STEPS + 3):
        _, truncated = bptt(cell, p.params, p.x, p.targets, p.state0, truncate=k)
        _assert_same(truncated, full, atol=1e-13)
    _, shorter = bptt(cell, p.params, p.x, p.targets, p.state0, truncate=STEPS - 1)
    assert np.abs(shorter["weight_hh"] - full["weight_hh"]).max() > 1e-6


def test_bptt_1_keeps_only_each_steps_immediate_contribution():
    # With k = 1 only l_1 reaches h_0 and each x_t gets the gradient of l_t alone.
    cell, p = _problem("rnn", "tanh", seed=3)
    _, grads = bptt(cell, p.params, p.x, p.targets, p.state0, truncate=1)
    first = forward(cell, p.params, p.x[:1], p.targets[:1], p.state0)
    only_first = backward(cell, p.params, first, p.targets[:1])
    np.testing.assert_allclose(grads["h0"], only_first["h0"], rtol=0, atol=1e-14)
    np.testing.assert_allclose(grads["x"][0], only_first["x"][0], rtol=0, atol=1e-14)


def test_step_weights_select_loss_terms():
    cell, p = _problem("gru", "tanh", seed=4)
    trace = forward(cell, p.params, p.x, p.targets, p.state0)
    weights = np.zeros(STEPS)
    weights[2] = 1.0
    selected = backward(cell, p.params, trace, p.targets, step_weights=weights)
    prefix = forward(cell, p.params, p.x[:3], p.targets[:3], p.state0)
    only = backward(cell, p.params, prefix, p.targets[:3], step_weights=weights[:3])
    np.testing.assert_allclose(selected["weight_hh"], only["weight_hh"], rtol=0, atol=1e-14)
    assert np.all(selected["x"][3:] == 0.0)


def test_truncate_must_be_positive():
    cell, p = _problem("lstm", "tanh")
    with pytest.raises(ValueError, match="truncate must be a positive"):
        bptt(cell, p.params, p.x, p.targets, p.state0, truncate=0)
