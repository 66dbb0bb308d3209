"""`rnnkit gradcheck`: hand BPTT against finite differences and rnnkit.nn autograd."""

import json

import numpy as np
import pytest

from rnnkit.cli import main
from rnnkit.errors import UserError
from rnnkit.reference import bptt, make_cell, random_problem
from rnnkit.tasks import gradcheck


def _run_json(capsys, *argv):
    code = main(["gradcheck", *argv, "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out.strip().splitlines()[-1]), out


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_gradcheck_passes_for_every_cell(capsys, cell):
    code, result, out = _run_json(capsys, "--cell", cell, "--steps", "4", "--seed", "1")
    assert code == 0
    assert result["ok"] is True
    assert {"cell", "steps", "max_rel_error_numerical", "max_rel_error_autograd", "ok"} <= set(
        result
    )
    assert result["cell"] == cell and result["steps"] == 4
    assert result["max_rel_error_numerical"] < 1e-6
    assert result["max_rel_error_autograd"] < 1e-12
    assert "weight_hh" in out and "vs finite diff" in out  # the table comes first


def test_truncated_bptt_is_checked_against_autograd(capsys):
    code, result, _ = _run_json(
        capsys, "--cell", "rnn", "--nonlinearity", "relu", "--steps", "6", "--truncate", "2"
    )
    assert code == 0 and result["ok"] is True
    assert result["truncate"] == 2
    assert result["max_rel_error_truncated"] < 1e-12
    assert all("truncated" in errors for errors in result["errors"].values())


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_truncated_lstm_and_gru_through_rnnkit_nn(cell):
    reference = make_cell(cell)
    problem = random_problem(reference, steps=5, rng=np.random.default_rng(2))
    for k in (1, 3):
        _, hand = bptt(reference, problem.params, problem.x, problem.targets, problem.state0, k)
        _, auto = gradcheck.autograd_gradients(cell, problem, truncate=k)
        for name in hand:
            np.testing.assert_allclose(hand[name], auto[name], rtol=0, atol=1e-10)


def test_a_failing_check_exits_1(capsys, monkeypatch):
    def broken_bptt(*args, **kwargs):
        loss, grads = bptt(*args, **kwargs)
        grads["weight_hh"] = grads["weight_hh"] * 1.01
        return loss, grads

    monkeypatch.setattr(gradcheck, "bptt", broken_bptt)
    code, result, out = _run_json(capsys, "--cell", "gru", "--steps", "3")
    assert code == 1
    assert result["ok"] is False
    assert result["errors"]["weight_hh"]["autograd"] > 1e-3
    assert "FAILED" in out


def test_unknown_cell_exits_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["gradcheck", "--cell", "transformer"])
    assert exit_info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--cell", "rnn", "--steps", "0"], "--steps must be a positive"),
        (["--cell", "rnn", "--truncate", "0"], "--truncate must be a positive"),
        (["--cell", "gru", "--nonlinearity", "relu"], "--nonlinearity is for --cell rnn"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(capsys, argv, message):
    assert main(["gradcheck", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_check_bptt_from_python():
    result = gradcheck.check_bptt(cell="lstm", steps=3, seed=1, truncate=2)
    assert result["ok"] is True and result["cell"] == "lstm" and result["truncate"] == 2
    assert result["max_rel_error_autograd"] < 1e-12
    assert result["report"].startswith("gradcheck: lstm, T=3")
    assert "BPTT(2) vs autograd" in result["report"]


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"cell": "elman"}, "cell: expected one of gru, lstm, rnn, got 'elman'"),
        ({"cell": "rnn", "steps": 0}, "steps: expected a positive number"),
        ({"cell": "rnn", "truncate": 0}, "truncate: expected None or a positive"),
        ({"cell": "gru", "nonlinearity": "relu"}, "nonlinearity: expected 'tanh'"),
    ],
)
def test_check_bptt_rejects_bad_arguments(kwargs, message):
    with pytest.raises(UserError, match=message):
        gradcheck.check_bptt(**kwargs)
