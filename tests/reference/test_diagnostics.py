"""Step Jacobians and the per-step gradient norms of the last step's loss."""

import numpy as np
import pytest
import torch

from rnnkit.reference import (
    forward,
    last_step_grad_norms,
    make_cell,
    random_problem,
    step_jacobian,
)
from rnnkit.tasks.gradcheck import build_layer, load_params

CELLS = [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")]


@pytest.mark.parametrize("name,nonlinearity", CELLS)
def test_step_jacobian_matches_finite_differences(name, nonlinearity):
    cell = make_cell(name, nonlinearity)
    p = random_problem(cell, steps=1, batch_size=2, rng=np.random.default_rng(0))
    jacobian = step_jacobian(cell, p.params, p.x[0], p.state0)  # (N, S*H, S*H)
    flat = np.concatenate(p.state0, axis=1)  # (N, S*H)
    eps = 1e-6
    for b in range(flat.shape[1]):
        shifted = []
        for sign in (1.0, -1.0):
            moved = flat.copy()
            moved[:, b] += sign * eps
            state = tuple(np.split(moved, cell.state_size, axis=1))
            shifted.append(np.concatenate(cell.step(p.params, p.x[0], state)[0], axis=1))
        column = (shifted[0] - shifted[1]) / (2 * eps)  # (N, S*H)
        np.testing.assert_allclose(jacobian[:, :, b], column, rtol=0, atol=1e-8)


def test_elman_jacobian_is_diag_tanh_prime_times_w_hh():
    cell = make_cell("rnn")
    p = random_problem(cell, steps=1, batch_size=1, rng=np.random.default_rng(1))
    (h,), _ = cell.step(p.params, p.x[0], p.state0)
    expected = np.diag(1.0 - h[0] ** 2) @ p.params["weight_hh"]
    np.testing.assert_allclose(step_jacobian(cell, p.params, p.x[0], p.state0)[0], expected)


@pytest.mark.parametrize("name,nonlinearity", CELLS)
def test_grad_norms_are_products_of_step_jacobians(name, nonlinearity):
    # dL_T/ds_t = dL_T/ds_T · J_T ⋯ J_{t+1}, as the docstrings say.
    cell = make_cell(name, nonlinearity)
    p = random_problem(cell, steps=6, batch_size=1, rng=np.random.default_rng(2))
    norms = last_step_grad_norms(cell, p.params, p.x, p.targets, p.state0)
    trace = forward(cell, p.params, p.x, p.targets, p.state0)
    hidden = p.state0[0].shape[1]
    weights, bias = p.params["weight_hy"], p.params["bias_y"]
    logits = trace.h[-1, 0] @ weights.T + bias  # (C,)
    probs = np.exp(logits - logits.max())
    probs /= probs.sum()
    probs[p.targets[-1, 0]] -= 1.0
    row = np.zeros(cell.state_size * hidden)  # dL_T/ds_T
    row[:hidden] = probs @ weights
    for t in range(len(norms) - 1, -1, -1):
        assert norms[t] == pytest.approx(np.linalg.norm(row[:hidden]), rel=1e-10)
        row = row @ step_jacobian(cell, p.params, p.x[t], trace.states[t])[0]


def test_grad_norms_match_autograd_through_torch_nn():
    cell = make_cell("lstm")
    p = random_problem(cell, steps=8, batch_size=2, rng=np.random.default_rng(3))
    norms = last_step_grad_norms(cell, p.params, p.x, p.targets, p.state0)
    layer = build_layer("lstm", 3, 4, layers=torch.nn, dtype=torch.float64)
    load_params(layer, p.params)
    state = tuple(torch.from_numpy(s) for s in p.state0)
    hs = []
    for x_t in torch.from_numpy(p.x):  # one step at a time, keeping every h_t
        _, (h, c) = layer(x_t[None], (state[0][None], state[1][None]))
        h.retain_grad()
        hs.append(h)
        state = (h[0], c[0])
    logits = hs[-1][0] @ torch.from_numpy(p.params["weight_hy"]).T
    logits = logits + torch.from_numpy(p.params["bias_y"])
    loss = torch.nn.functional.cross_entropy(
        logits, torch.from_numpy(p.targets[-1]), reduction="sum"
    )
    loss.backward()
    expected = [float(h.grad.norm()) for h in hs]
    np.testing.assert_allclose(norms, expected, rtol=1e-10)
