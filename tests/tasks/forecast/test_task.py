"""rnnkit.Forecaster from Python (a sine it must forecast, no leakage from the test part) and
rnnkit train forecast / evaluate / forecast / predict end to end on the airline series."""

import numpy as np
import pytest
import torch

import rnnkit
from rnnkit.errors import UserError

from ..cli import last_json, run

SINE = 10 + np.sin(2 * np.pi * np.arange(240) / 12)  # period 12, level 10
TINY = dict(input_length=12, horizon=3, test_size=36, val_size=36, hidden=16, verbose=0)


@pytest.fixture(scope="module")
def sine_model(tmp_path_factory):
    torch.set_num_threads(1)
    return rnnkit.Forecaster(epochs=40, head="point", **TINY).fit(
        SINE, out=tmp_path_factory.mktemp("run") / "sine"
    )


def test_walk_forward_forecasts_a_sine_within_tolerance(sine_model):
    scores = sine_model.evaluate(split="test", baselines=("naive", "seasonal_naive"))
    assert scores["split"] == "test" and scores["n"] == 36 - 3 + 1 and scores["season"] == 1
    assert scores["mae"] < 0.1  # the amplitude is 1; naive is off by ~0.5 a step
    assert scores["baselines"]["naive"]["mae"] > 0.4
    assert "rnn (this model)" in scores["report"] and "beats" in scores["report"]
    forecast = sine_model.forecast(steps=7)  # beyond the horizon: fed back
    values = [row["value"]["forecast"] for row in forecast["forecast"]]
    expected = 10 + np.sin(2 * np.pi * np.arange(240, 247) / 12)
    np.testing.assert_allclose(values, expected, atol=0.15)


def test_a_series_shorter_than_the_window_is_refused(sine_model):
    """Eleven values for a model reading twelve would be read as a shorter window."""
    with pytest.raises(UserError, match="11 time steps; expected at least 12"):
        sine_model.forecast(data=SINE[:11].tolist())
    assert len(sine_model.forecast(data=SINE[:12].tolist())["forecast"]) == 3


def test_a_spike_in_a_sine_is_detected(sine_model, tmp_path, monkeypatch):
    spiked = SINE.copy()
    spiked[200] += 3
    found = sine_model.detect(spiked, windows=[(198, 203)], plot=tmp_path / "a.png")
    assert max(found["anomalies"], key=lambda row: row["score"])["time"] == 200
    assert found["windows_detected"] == 1 and (tmp_path / "a.png").exists()
    drawn = {}
    monkeypatch.setattr("rnnkit.tasks.forecast.task.save_detection_plot",
                        lambda path, **kwargs: drawn.update(kwargs) or True)  # fmt: skip
    sine_model.detect(spiked, windows=[(198, 203)], plot=tmp_path / "b.png")
    # the picture is the detector's: the series, the flags, the scores under their threshold
    assert len(drawn["scores"]) == len(drawn["values"]) == len(drawn["flags"]) == found["n"]
    assert drawn["threshold"] == found["threshold"] and drawn["windows"] == [(198, 203)]
    assert drawn["flags"].sum() == len(found["anomalies"]) and drawn["probation"] > 0
    # the spike stays in the model's inputs for a window's length: NAB's windows are wide
    strict = sine_model.detect(spiked, windows=[(198, 212)], threshold=5.0)
    assert strict["precision"] == 1.0 and strict["false_positives"] == 0
    assert strict["anomalies"][0]["time"] == 200 and strict["threshold"] == 5.0
    with pytest.raises(UserError, match="probation must lie in"):
        sine_model.detect(spiked, probation=1.5)


def test_no_test_value_influences_the_scaler_or_the_weights(tmp_path):
    changed = SINE.copy()
    changed[-36:] = 1e6  # the test part
    runs = [
        rnnkit.Forecaster(epochs=2, **TINY).fit(series, out=tmp_path / name)
        for name, series in (("a", SINE), ("b", changed))
    ]
    assert runs[0].preprocessing.scaler == runs[1].preprocessing.scaler
    a, b = (r.model.state_dict() for r in runs)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert runs[0].fit_result["val_loss"] == runs[1].fit_result["val_loss"]


def test_api_errors():
    with pytest.raises(UserError, match="one series"):
        rnnkit.Forecaster(**TINY).fit(SINE, SINE)
    with pytest.raises(UserError, match="too few for a train window"):
        rnnkit.Forecaster(**TINY).fit(SINE[:80])
    with pytest.raises(UserError, match="horizon must be at least 1"):
        rnnkit.Forecaster(horizon=0)


AIRLINE = ["--transform", "log-diff", "--horizon", "12", "--test-size", "24", "--val-size", "24",
           "--hidden", "8", "--epochs", "3", "--threads", "1"]  # fmt: skip


def test_cli_train_evaluate_forecast_predict_resume_on_airline(capsys, data_dir, tmp_path):
    out = tmp_path / "airline"
    code, stdout, err = run(capsys, "train", "forecast", "--data", "airline", "--out", str(out),
                            "--json", *AIRLINE)  # fmt: skip
    assert code == 0, err
    result = last_json(stdout)
    assert result["epochs"] == 3 and {"val_loss", "val_scaled_mae"} <= set(result)
    assert (out / "best" / "preprocessing.json").exists()

    code, stdout, err = run(capsys, "evaluate", str(out), "--split", "test", "--json")
    assert code == 0, err
    scores = last_json(stdout)
    assert scores["n"] == 13 and scores["horizon"] == 12 and scores["season"] == 12
    assert {"mae", "rmse", "mape", "smape", "mase", "coverage", "direction_accuracy"} <= set(scores)
    assert 0 <= scores["direction_accuracy"] <= 1 and 0 <= scores["up_share"] <= 1
    assert {"naive", "seasonal_naive", "drift"} <= set(scores["baselines"])
    # the seasonal naive baseline on the 24 held-out months, horizon 12, walk-forward
    snaive = scores["baselines"]["seasonal_naive"]
    assert snaive["mape"] == pytest.approx(11.47, abs=0.01)
    assert (out / "forecast-test.png").exists() and "seasonal_naive" in stdout

    code, stdout, err = run(capsys, "evaluate", str(out), "--split", "test", "--steps", "18",
                            "--json")  # fmt: skip
    assert code == 0, err
    longer = last_json(stdout)  # 24 months hold 7 origins of 18 steps, fed back past 12
    assert longer["n"] == 7 and longer["horizon"] == 18 and longer["model_horizon"] == 12
    assert "7 walk-forward origins x 18 step(s)" in stdout and 0 <= longer["coverage"] <= 1
    assert len(longer["by_step"]["rmse"]) == len(longer["by_step"]["coverage"]) == 18

    code, stdout, err = run(capsys, "forecast", str(out), "--steps", "24", "--plot",
                            str(tmp_path / "f.png"), "--json")  # fmt: skip
    assert code == 0, err
    forecast = last_json(stdout)
    rows = forecast["forecast"]
    assert len(rows) == 24 and rows[0]["time"] == "1961-01-01T00:00:00"
    first = rows[0]["Passengers"]
    assert first["lower"] < first["forecast"] < first["upper"]
    assert (tmp_path / "f.png").stat().st_size > 1000

    csv = str(data_dir / "timeseries" / "airline-passengers.csv")
    code, stdout, err = run(capsys, "predict", str(out), csv, "--json")
    assert code == 0, err
    assert last_json(stdout)["predictions"][0]["forecast"] == rows[:12]

    code, stdout, err = run(capsys, "evaluate", str(out), "--data", csv, "--json")
    assert code == 0, err
    whole = last_json(stdout)  # a file is scored whole: every origin after the first window
    assert whole["split"] == "all" and whole["n"] == 144 - 25 - 12 + 1

    code, stdout, err = run(capsys, "train", "forecast", "--resume", str(out), "--epochs", "4",
                            "--threads", "1", "--json")  # fmt: skip
    assert code == 0, err
    assert last_json(stdout)["epochs"] == 4


def test_cli_bad_inputs_exit_2_with_one_line(capsys, tmp_path):
    csv = tmp_path / "s.csv"
    csv.write_text("Month,Sales\n" + "".join(f"19{50 + i // 12}-{i % 12 + 1:02d},{i}\n"
                                             for i in range(60)))  # fmt: skip
    cases = [
        (["--target", "Revenue"], "no column 'Revenue'"),
        (["--input-length", "50"], "too few for a train window"),
        (["--transform", "log"], "needs positive targets"),  # the series starts at 0
    ]
    for options, message in cases:
        code, _, err = run(capsys, "train", "forecast", "--data", str(csv), "--out",
                           str(tmp_path / "r"), "--threads", "1", *options)  # fmt: skip
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    words = tmp_path / "w.csv"
    words.write_text("Month,Sales\n1950-01,1\n1950-02,lots\n")
    code, _, err = run(capsys, "train", "forecast", "--data", str(words), "--out",
                       str(tmp_path / "r"))  # fmt: skip
    assert code == 2 and "line 3: column 'Sales' has 'lots'; expected a number" in err
    code, _, err = run(capsys, "forecast", str(tmp_path / "nothing"))
    assert code == 2 and len(err.strip().splitlines()) == 1


def test_quantile_head_with_a_covariate_from_a_dataframe(tmp_path):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"day": pd.date_range("2020-01-01", periods=240, freq="D").astype(str),
                          "sales": SINE, "price": np.cos(np.arange(240.0))})  # fmt: skip
    model = rnnkit.Forecaster(
        time_column="day", target="sales", features="price", head="quantile", epochs=2, **TINY
    ).fit(frame, out=tmp_path / "q")
    forecast = model.forecast()
    assert forecast["forecast"][0]["time"] == "2020-08-28T00:00:00"  # the day after the last
    for row in forecast["forecast"]:
        assert row["sales"]["lower"] <= row["sales"]["forecast"] <= row["sales"]["upper"]
    for steps_past_the_horizon in (model.forecast, model.evaluate):
        with pytest.raises(UserError, match="reads covariates, whose future is unknown"):
            steps_past_the_horizon(steps=4)
    scores = rnnkit.load(tmp_path / "q").evaluate(frame, baselines=("naive",))
    assert scores["split"] == "all" and 0 <= scores["coverage"] <= 1
