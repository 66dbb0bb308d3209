"""`rnnkit gradients`: the norm of dL_T/dh_t over time shows vanishing gradients."""

import json
import sys

import pytest

from rnnkit.cli import main
from rnnkit.errors import UserError
from rnnkit.tasks.gradients import gradient_report


def _run_json(capsys, *argv):
    code = main(["gradients", *argv, "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out.strip().splitlines()[-1]), out


def _ratio(result):
    norms = result["grad_norms"]
    return norms[0] / norms[-1]


def test_tanh_rnn_gradient_vanishes_where_lstm_keeps_much_more(capsys):
    code, rnn, out = _run_json(capsys, "--cell", "rnn", "--steps", "100")
    assert code == 0
    assert {"cell", "steps", "grad_norms"} <= set(rnn)
    assert rnn["cell"] == "rnn" and rnn["steps"] == 100
    assert len(rnn["grad_norms"]) == 100
    assert all(n > 0 for n in rnn["grad_norms"])
    assert _ratio(rnn) < 1e-3
    assert rnn["ratio_first_last"] == pytest.approx(_ratio(rnn))
    assert len([line for line in out.splitlines() if line.strip()[:1].isdigit()]) < 30

    _, lstm, _ = _run_json(capsys, "--cell", "lstm", "--steps", "100")
    assert lstm["forget_bias"] == 1.0
    assert _ratio(lstm) > 1e6 * _ratio(rnn)
    _, carried, _ = _run_json(capsys, "--cell", "lstm", "--steps", "100", "--forget-bias", "3")
    assert _ratio(carried) > 1e-3


def test_lstm_with_torch_default_bias_and_gru(capsys):
    code, lstm, _ = _run_json(capsys, "--cell", "lstm", "--steps", "30", "--forget-bias", "none")
    assert code == 0 and lstm["forget_bias"] is None
    code, gru, _ = _run_json(capsys, "--cell", "gru", "--steps", "30", "--init", "orthogonal")
    assert code == 0 and gru["init"] == "orthogonal" and len(gru["grad_norms"]) == 30


def test_plot_is_written(capsys, tmp_path):
    path = tmp_path / "norms.png"
    code, result, _ = _run_json(capsys, "--cell", "gru", "--steps", "20", "--out", str(path))
    assert code == 0 and result["plot"] == str(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_missing_matplotlib_is_a_user_error(capsys, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    code = main(["gradients", "--cell", "rnn", "--steps", "5", "--out", str(tmp_path / "a.png")])
    assert code == 2
    assert "install rnnkit[plot]" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--cell", "rnn", "--init", "bogus"], "init must be None or one of"),
        (["--cell", "rnn", "--steps", "0"], "--steps must be a positive"),
        (["--cell", "lstm", "--forget-bias", "high"], "--forget-bias must be a number"),
        (["--cell", "rnn", "--out", "/no/such/dir/a.png"], "existing directory"),
    ],
)
def test_bad_arguments_exit_2(capsys, argv, message):
    assert main(["gradients", *argv]) == 2
    assert message in capsys.readouterr().err


def test_unknown_cell_exits_2():
    with pytest.raises(SystemExit) as exit_info:
        main(["gradients", "--cell", "elman"])
    assert exit_info.value.code == 2


def test_gradient_report_from_python(tmp_path):
    path = tmp_path / "norms.png"
    result = gradient_report(cell="lstm", steps=20, hidden=8, forget_bias=3, plot=path)
    assert result["forget_bias"] == 3.0 and len(result["grad_norms"]) == 20
    assert result["plot"] == str(path) and path.read_bytes()[:4] == b"\x89PNG"
    assert result["report"].startswith("gradients: lstm, T=20, H=8, I=8, init=torch default")
    assert "||dL_T/dh_1|| / ||dL_T/dh_T||" in result["report"]
    assert gradient_report(cell="gru", steps=5)["forget_bias"] is None  # LSTM only


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"cell": "elman"}, "cell: expected one of gru, lstm, rnn, got 'elman'"),
        ({"cell": "rnn", "hidden": 0}, "hidden: expected a positive integer, got 0"),
        ({"cell": "lstm", "forget_bias": "high"}, "forget_bias: expected a number or None"),
        ({"cell": "rnn", "plot": "/no/such/dir/a.png"}, "expected a path in an existing directory"),
    ],
)
def test_gradient_report_rejects_bad_arguments(kwargs, message):
    with pytest.raises(UserError, match=message):
        gradient_report(**kwargs)
