"""The NumPy reference forward pass equals torch.nn's with the same weights (float64)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rnnkit.reference import forward, make_cell, random_problem
from rnnkit.tasks.gradcheck import build_layer, load_params

CELLS = [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")]


@pytest.mark.parametrize("name,nonlinearity", CELLS)
def test_forward_matches_torch_nn(name, nonlinearity):
    cell = make_cell(name, nonlinearity)
    problem = random_problem(cell, steps=7, batch_size=3, rng=np.random.default_rng(0))
    trace = forward(cell, problem.params, problem.x, problem.targets, problem.state0)

    layer = build_layer(name, 3, 4, nonlinearity, layers=torch.nn, dtype=torch.float64)
    load_params(layer, problem.params)
    hx = tuple(torch.from_numpy(s)[None] for s in problem.state0)  # each (1, N, H)
    with torch.no_grad():
        out, hn = layer(torch.from_numpy(problem.x), hx if name == "lstm" else hx[0])
        logits = out @ torch.from_numpy(problem.params["weight_hy"]).T
        logits += torch.from_numpy(problem.params["bias_y"])
        targets = torch.from_numpy(problem.targets)
        loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), reduction="sum")

    np.testing.assert_allclose(trace.h, out.numpy(), rtol=0, atol=1e-10)
    final = hn if name == "lstm" else (hn,)
    for ours, theirs in zip(trace.states[-1], final):
        np.testing.assert_allclose(ours, theirs[0].numpy(), rtol=0, atol=1e-10)
    assert trace.loss == pytest.approx(float(loss), rel=1e-12)
    np.testing.assert_allclose(trace.probs.sum(axis=-1), 1.0, atol=1e-12)


def test_zero_state_is_the_default():
    cell = make_cell("lstm")
    problem = random_problem(cell, steps=3, rng=np.random.default_rng(1), zero_state=True)
    implicit = forward(cell, problem.params, problem.x, problem.targets)
    explicit = forward(cell, problem.params, problem.x, problem.targets, problem.state0)
    np.testing.assert_array_equal(implicit.h, explicit.h)


@pytest.mark.parametrize(
    "change,match",
    [
        ({"x": np.zeros((3, 2))}, "expected x of shape"),
        ({"targets": np.zeros((3, 5), dtype=int)}, "expected targets of shape"),
        ({"state0": (np.zeros((2, 5)),)}, "initial state"),
    ],
)
def test_shape_errors_say_what_was_expected(change, match):
    cell = make_cell("gru")
    problem = random_problem(cell, steps=3, rng=np.random.default_rng(2))
    inputs = {"x": problem.x, "targets": problem.targets, "state0": problem.state0, **change}
    with pytest.raises(ValueError, match=match):
        forward(cell, problem.params, **inputs)


def test_wrong_cell_for_the_weights_is_an_error():
    problem = random_problem(make_cell("gru"), steps=2, rng=np.random.default_rng(3))
    with pytest.raises(ValueError, match="expected weight_hh of shape"):
        forward(make_cell("lstm"), problem.params, problem.x, problem.targets)


def test_make_cell_checks_its_arguments():
    assert make_cell("rnn", "relu").name == "rnn_relu"
    with pytest.raises(ValueError, match="cell must be one of"):
        make_cell("transformer")
    with pytest.raises(ValueError, match="nonlinearity"):
        make_cell("lstm", "relu")
