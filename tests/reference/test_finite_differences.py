"""rnnkit.reference.gradcheck: hand BPTT agrees with central finite differences."""

import numpy as np
import pytest

from rnnkit.reference import (
    check_gradients,
    make_cell,
    numerical_gradients,
    random_problem,
    relative_error,
)

CELLS = [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")]


@pytest.mark.parametrize("name,nonlinearity", CELLS)
def test_hand_gradients_agree_with_finite_differences(name, nonlinearity):
    cell = make_cell(name, nonlinearity)
    p = random_problem(cell, steps=5, rng=np.random.default_rng(0))
    errors = check_gradients(cell, p.params, p.x, p.targets, p.state0)
    assert set(errors) == {*p.params, *p.inputs()}
    assert max(errors.values()) < 1e-7, errors


def test_a_wrong_gradient_is_caught():
    cell = make_cell("lstm")
    p = random_problem(cell, steps=3, rng=np.random.default_rng(1))
    numeric = numerical_gradients(cell, p.params, p.x, p.targets, p.state0)
    broken = numeric["weight_hh"].copy()
    broken[0, 0] *= 1.1
    assert relative_error(broken, numeric["weight_hh"]) > 1e-4


def test_relative_error():
    a = np.array([1.0, -2.0, 0.0])
    assert relative_error(a, a) == 0.0
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert relative_error(a, a + np.array([0.0, 0.0, 1e-3])) == pytest.approx(5e-4)
    with pytest.raises(ValueError, match="same shape"):
        relative_error(a, a[:2])
