"""The seq2seq (encoder-decoder) forecaster: output shapes per head, the decoder stepped by hand
equals the teacher-forced forward, no look-ahead, overfitting a batch, a sine 24 steps ahead, the
command line end to end with an exact resume, old runs loading as direct, export."""

import json

import numpy as np
import pytest
import torch

import rnnkit
from rnnkit.models.forecaster import (
    ForecasterConfig,
    RNNForecaster,
    Seq2SeqForecaster,
    build_forecaster,
    forecast_loss,
    interval,
    point_forecast,
    sample,
)
from rnnkit.tasks.forecast.data import in_memory_series, window_origins, windows

from ..cli import last_json, run
from ..tiny_runs import run_state

SINE = 10 + np.sin(2 * np.pi * np.arange(300) / 12)  # period 12, level 10
LONG = dict(architecture="seq2seq", input_length=24, horizon=24, test_size=48, val_size=48,
            head="point", verbose=0, seed=0)  # fmt: skip


def seq2seq(**options) -> Seq2SeqForecaster:
    sizes = dict(input_size=3, num_targets=2, output_steps=4, hidden=8)
    return build_forecaster(ForecasterConfig(**{**sizes, "architecture": "seq2seq", **options}))


@pytest.mark.parametrize("head, outputs", [("point", 1), ("gaussian", 2), ("quantile", 3)])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_shapes(head, outputs, cell):
    torch.manual_seed(0)
    model = seq2seq(head=head, cell=cell, layers=2, teacher_forcing=0.5)
    assert isinstance(model, Seq2SeqForecaster)
    inputs, targets = torch.randn(5, 7, 3), torch.randn(5, 4, 2)  # (N, L, k + c), (N, h, k)
    for out in (model(inputs), model(inputs, targets)):  # inference; teacher forcing at 0.5
        assert out.shape == (5, 4, 2, outputs)
        centre, lower, upper = interval(out, head, 0.8)
        assert centre.shape == lower.shape == upper.shape == (5, 4, 2)
        assert (lower <= centre).all() and (centre <= upper).all()
        assert torch.isfinite(forecast_loss(out, targets, head, 0.8))
    direct = ForecasterConfig(input_size=3, num_targets=2, output_steps=4, hidden=8)
    assert isinstance(build_forecaster(direct), RNNForecaster)  # the default architecture


@pytest.mark.parametrize("head", ["point", "gaussian", "quantile"])
def test_the_decoder_stepped_by_hand_equals_the_forward(head):
    torch.manual_seed(0)
    model = seq2seq(head=head, layers=2, teacher_forcing=1.0).eval()
    inputs, targets = torch.randn(5, 7, 3), torch.randn(5, 4, 2)
    with torch.no_grad():
        forced = model(inputs, targets)  # one decoder call over the horizon
        for feed in ("truth", "own"):
            state, previous, steps = model.encode(inputs), inputs[:, -1:, :2], []
            for j in range(4):
                output, state = model.decode(previous, state)  # (N, 1, k, P)
                steps.append(output)
                own = point_forecast(output, head)  # (N, 1, k)
                previous = targets[:, j : j + 1] if feed == "truth" else own
            expected = forced if feed == "truth" else model(inputs)
            torch.testing.assert_close(torch.cat(steps, dim=1), expected, rtol=1e-5, atol=1e-6)
        assert not torch.allclose(forced, model(inputs))  # the check can fail
        # free running: the targets are not read at all
        free = seq2seq(head=head, layers=2, teacher_forcing=0.0).eval()
        free.load_state_dict(model.state_dict())
        assert torch.equal(free(inputs, targets), free(inputs))


def test_overfits_one_batch_of_a_sine_forecast_free_running():
    torch.manual_seed(0)
    z = np.sin(2 * np.pi * np.arange(120) / 12)[:, None]  # (120, 1)
    origins = window_origins(12, 0, 120, 6, stride=6)
    inputs, targets = windows(z, np.zeros((120, 0)), origins, 12, 6)  # (N, 12, 1), (N, 6, 1)
    config = ForecasterConfig(1, 1, 6, hidden=32, head="point", architecture="seq2seq",
                              teacher_forcing=0.5)  # fmt: skip
    model = build_forecaster(config)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(150):  # half the steps read the truth, drawn per window and step
        loss = forecast_loss(model(inputs, targets), targets, "point", 0.8)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():  # scored as it forecasts: each step reads its own forecast
        assert forecast_loss(model(inputs), targets, "point", 0.8).item() < 1e-3


@pytest.mark.parametrize("head", ["gaussian", "quantile"])
def test_a_sample_path_feeds_the_decoder_its_own_draws(head):
    torch.manual_seed(0)
    model = seq2seq(head=head, layers=2).eval()
    inputs, noise = torch.randn(5, 7, 3), torch.randn(5, 4, 2)  # ε (N, h, k)
    with torch.no_grad():
        assert torch.equal(model(inputs, noise=torch.zeros(5, 4, 2)), model(inputs))  # ε = 0: c
        path = model(inputs, noise=noise)
        state, previous, steps = model.encode(inputs), inputs[:, -1:, :2], []
        for j in range(4):  # by hand: each step reads the draw of the one before
            output, state = model.decode(previous, state)
            steps.append(output)
            previous = sample(*interval(output, head, 0.8), noise[:, j : j + 1], 0.8)
        torch.testing.assert_close(torch.cat(steps, dim=1), path, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(path[:, 0], model(inputs)[:, 0])  # the first step reads z_L
    assert not torch.allclose(path[:, 1:], model(inputs)[:, 1:])
    direct = build_forecaster(ForecasterConfig(input_size=3, num_targets=2, output_steps=4,
                                               hidden=8, head=head)).eval()  # fmt: skip
    assert torch.equal(direct(inputs, noise=noise), direct(inputs))  # nothing to feed back


def test_the_draws_are_the_two_piece_normal_through_the_bounds():
    z = 1.2815515655446004  # Φ^{-1}(0.9): the 80% interval's bounds are ε = ±z
    centre, lower, upper = np.array([1.0]), np.array([0.5]), np.array([3.0])
    for noise, expected in ((z, 3.0), (-z, 0.5), (0.0, 1.0), (z / 2, 2.0)):
        assert sample(centre, lower, upper, np.array([noise]), 0.8) == pytest.approx(expected)
    t = sample(*map(torch.tensor, (centre, lower, upper)), torch.tensor([-z]), 0.8)
    assert t.item() == pytest.approx(0.5)


@pytest.fixture(scope="module")
def long_sine(tmp_path_factory):
    torch.set_num_threads(1)
    return rnnkit.Forecaster(epochs=15, hidden=24, lr=0.01, **LONG).fit(
        SINE, out=tmp_path_factory.mktemp("seq2seq") / "sine"
    )


def test_a_sine_24_steps_ahead_within_tolerance(long_sine):
    assert isinstance(long_sine.model, Seq2SeqForecaster)
    scores = long_sine.evaluate(split="test", baselines=("naive",))
    assert scores["n"] == 48 - 24 + 1 and scores["horizon"] == 24
    assert scores["mae"] < 0.1  # the amplitude is 1; the naive forecast is off by ~0.6
    assert scores["baselines"]["naive"]["mae"] > 0.5
    values = [row["value"]["forecast"] for row in long_sine.forecast()["forecast"]]
    np.testing.assert_allclose(values, 10 + np.sin(2 * np.pi * np.arange(300, 324) / 12),
                               atol=0.15)  # fmt: skip


def test_the_intervals_after_the_first_step_come_from_sample_paths(tmp_path):
    """The decoder reads its previous forecast: its own bounds hold for the first step only."""
    torch.set_num_threads(1)
    noisy = SINE + np.random.default_rng(0).normal(0, 0.3, len(SINE))
    model = rnnkit.Forecaster(**{**LONG, "head": "gaussian", "horizon": 6, "input_length": 12},
                              hidden=8, epochs=3).fit(noisy, out=tmp_path / "g")  # fmt: skip
    rows = [row["value"] for row in model.forecast()["forecast"]]
    series = in_memory_series(noisy, model.settings["data"])
    own = [a[0] for a in model._forecast_windows(series, np.array([len(noisy)]))]  # (h, 1) each
    assert rows[0]["lower"] == pytest.approx(own[1][0, 0]) and rows[0]["upper"] == pytest.approx(
        own[2][0, 0]
    )
    assert [r["forecast"] for r in rows] == pytest.approx(own[0][:, 0].tolist())
    widths = np.array([r["upper"] - r["lower"] for r in rows])  # (h,)
    assert not np.allclose(widths[1:], (own[2] - own[1])[1:, 0], rtol=1e-3)  # the paths' own
    assert all(r["lower"] <= r["forecast"] <= r["upper"] for r in rows)
    assert model.forecast()["forecast"] == model.forecast()["forecast"]  # seeded paths


def test_sample_paths_read_the_covariates_of_the_window(tmp_path):
    """A model with covariates forecasts one block: the paths start from its own windows."""
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"sales": SINE, "price": np.cos(np.arange(300.0))})
    model = rnnkit.Forecaster(**{**LONG, "head": "quantile", "horizon": 4, "input_length": 12},
                              target="sales", features="price", hidden=8,
                              epochs=2).fit(frame, out=tmp_path / "c")  # fmt: skip
    rows = [row["sales"] for row in model.forecast()["forecast"]]
    assert len(rows) == 4 and all(r["lower"] <= r["forecast"] <= r["upper"] for r in rows)
    scores = model.evaluate(frame, baselines=())
    assert 0 <= scores["coverage"] <= 1 and len(scores["by_step"]["coverage"]) == 4


def test_walk_forward_forecasts_ignore_every_later_value(long_sine):
    series = in_memory_series(SINE)
    step = 270
    changed = SINE.copy()
    changed[step:] = changed[step:] * 3.0 + 7.0
    future = in_memory_series(changed)
    origins = np.arange(200, 277)  # 24 steps from each origin
    before, _, _ = long_sine._forecast_windows(series, origins)
    after, _, _ = long_sine._forecast_windows(future, origins)
    past = origins <= step  # inputs end at origin - 1 < step
    np.testing.assert_array_equal(before[past], after[past])
    assert not np.array_equal(before[~past], after[~past])  # the check can fail


def test_no_test_value_influences_the_weights(tmp_path):
    """Teacher forcing reads training targets only: a changed test part trains the same."""
    changed = SINE.copy()
    changed[-48:] = 1e6
    runs = [
        rnnkit.Forecaster(epochs=2, hidden=8, **LONG).fit(series, out=tmp_path / name)
        for name, series in (("a", SINE), ("b", changed))
    ]
    a, b = (r.model.state_dict() for r in runs)
    assert all(torch.equal(a[k], b[k]) for k in a)


AIRLINE = ["--data", "airline", "--transform", "log-diff", "--horizon", "12", "--test-size",
           "24", "--val-size", "24", "--hidden", "4", "--threads", "1", "--no-progress",
           "--architecture", "seq2seq", "--teacher-forcing", "0.5", "--patience", "10"]  # fmt: skip


@pytest.mark.slow
def test_cli_train_forecast_evaluate_resume_exactly(capsys, data_dir, tmp_path):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    code, stdout, err = run(capsys, "train", "forecast", *AIRLINE, "--epochs", "4", "--out",
                            str(straight), "--json")  # fmt: skip
    assert code == 0, err
    assert last_json(stdout)["epochs"] == 4
    model = json.loads((straight / "best" / "config.json").read_text())["model"]
    assert model["architecture"] == "seq2seq" and model["teacher_forcing"] == 0.5

    code, stdout, err = run(capsys, "forecast", str(straight), "--steps", "24", "--json")
    assert code == 0, err
    rows = last_json(stdout)["forecast"]
    assert len(rows) == 24 and rows[0]["time"] == "1961-01-01T00:00:00"
    assert all(r["Passengers"]["lower"] < r["Passengers"]["forecast"] < r["Passengers"]["upper"]
               for r in rows)  # fmt: skip
    code, stdout, err = run(capsys, "forecast", str(straight), "--horizon", "6", "--json")
    assert code == 0, err
    assert last_json(stdout)["forecast"] == rows[:6]  # --horizon: --steps by the name

    code, stdout, err = run(capsys, "evaluate", str(straight), "--split", "test", "--json")
    assert code == 0, err
    scores = last_json(stdout)
    assert scores["n"] == 13 and scores["horizon"] == 12 and np.isfinite(scores["mase"])
    assert scores["baselines"]["seasonal_naive"]["mape"] == pytest.approx(11.47, abs=0.01)

    # two epochs, then resumed to four: bit-identical to the four epochs never stopped (the
    # teacher-forcing draws come from the generator state saved with the run)
    code, _, err = run(capsys, "train", "forecast", *AIRLINE, "--epochs", "2", "--out",
                       str(resumed))  # fmt: skip
    assert code == 0, err
    code, _, err = run(capsys, "train", "forecast", "--resume", str(resumed), "--epochs", "4",
                       "--threads", "1", "--no-progress")  # fmt: skip
    assert code == 0, err
    expected, got = run_state(straight), run_state(resumed)
    for part in ("history", "metrics", "last", "best"):
        assert got[part] == expected[part], part

    code, stdout, err = run(capsys, "export", str(straight), "--format", "onnx", "--out",
                            str(tmp_path / "m.onnx"), "--json")  # fmt: skip
    assert code == 0, err
    assert last_json(stdout)["max_abs_diff"] < 1e-4  # the decoder's steps are in the graph


@pytest.mark.parametrize("head", ["quantile", "gaussian"])
@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_export_records_the_decoder_steps(tmp_path, head, fmt):
    pytest.importorskip("onnxruntime" if fmt == "onnx" else "torch")
    from rnnkit.export import export_run

    model = rnnkit.Forecaster(epochs=1, hidden=8, layers=2, cell="gru", input_length=12,
                              horizon=5, test_size=36, val_size=36, verbose=0, head=head,
                              architecture="seq2seq").fit(SINE, out=tmp_path / "r")  # fmt: skip
    info = export_run(model, fmt, tmp_path / "m")
    assert info["outputs"] == {"output": ["batch", "5", "1", str(3 if head == "quantile" else 2)]}
    assert info["max_abs_diff"] < 1e-4  # the file against the model on random windows


def test_a_run_saved_before_the_architecture_setting_loads_as_direct(tmp_path):
    out = tmp_path / "old"
    model = rnnkit.Forecaster(epochs=1, hidden=4, input_length=12, horizon=3, test_size=36,
                              val_size=36, verbose=0).fit(SINE, out=out)  # fmt: skip
    expected = model.forecast(data=SINE.tolist())["forecast"]
    for folder in ("best", "last"):
        path = out / folder / "config.json"
        config = json.loads(path.read_text())
        del config["model"]["architecture"], config["model"]["teacher_forcing"]
        path.write_text(json.dumps(config))
    loaded = rnnkit.load(out)
    assert isinstance(loaded.model, RNNForecaster)
    assert loaded.settings["model"].architecture == "direct"
    assert loaded.forecast(data=SINE.tolist())["forecast"] == expected
