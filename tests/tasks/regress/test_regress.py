"""rnnkit.SequenceRegressor: the model, the data forms, scaling on train only, overfitting one
batch, and `rnnkit train/evaluate/predict regress` on a CSV file."""

import numpy as np
import pytest
import torch

import rnnkit
from rnnkit.errors import UserError
from rnnkit.models.sequence_regressor import SequenceRegressorConfig, SequenceRegressorModel
from rnnkit.tasks.regress.data import as_sequences, parse_sequence
from tests.tasks.cli import last_json, run

QUIET = dict(verbose=0, progress=False, plot=False)


@pytest.mark.parametrize("pooling", ["last", "mean", "max", "attention"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_model_reads_each_sequence_to_its_own_end(pooling, bidirectional):
    torch.manual_seed(0)
    config = SequenceRegressorConfig(input_size=3, num_outputs=2, hidden=5, layers=2,
                                     pooling=pooling, bidirectional=bidirectional)  # fmt: skip
    model = SequenceRegressorModel(config).eval()
    sequences = [torch.randn(t, 3) for t in (4, 7, 1)]
    padded = torch.nn.utils.rnn.pad_sequence(sequences, batch_first=True)  # (3, 7, 3)
    together = model(padded, torch.tensor([4, 7, 1]))  # (3, 2)
    alone = torch.cat([model(s[None], torch.tensor([len(s)])) for s in sequences])
    assert together.shape == (3, 2)
    torch.testing.assert_close(together, alone, atol=1e-6, rtol=1e-5)


def test_the_forms_of_x():
    same = [np.array([[1.0], [2.0]]), [1, 2], "1 2", "1, 2", "[1, 2]", "[[1], [2]]"]
    for item in same:
        np.testing.assert_array_equal(as_sequences([item])[0], [[1.0], [2.0]])
    assert [s.shape for s in as_sequences(np.zeros((4, 6)))] == [(6, 1)] * 4
    assert [s.shape for s in as_sequences(np.zeros((4, 6, 2)))] == [(6, 2)] * 4
    assert parse_sequence(" 1;2 ;3 ") == [1.0, 2.0, 3.0]
    with pytest.raises(UserError, match="not a JSON array"):
        parse_sequence("[1, 2")
    with pytest.raises(UserError, match="one string"):
        as_sequences("1 2 3")


def test_scaling_is_fitted_on_the_training_split_only(tmp_path):
    rng = np.random.default_rng(0)
    X = [rng.normal(5.0, 2.0, (rng.integers(3, 8), 2)) for _ in range(20)]
    y = rng.normal(10.0, 3.0, 20)
    far = ([x + 100.0 for x in X[:5]], y[:5] + 100.0)
    model = rnnkit.SequenceRegressor(hidden=4, epochs=1, **QUIET)
    model.fit(X, y, validation_data=far, out=tmp_path / "run")
    steps = np.concatenate(X)  # (ΣT, 2)
    np.testing.assert_allclose(model.preprocessing.features.mean, steps.mean(0), rtol=1e-5)
    np.testing.assert_allclose(model.preprocessing.features.std, steps.std(0), rtol=1e-4)
    np.testing.assert_allclose(model.preprocessing.targets.mean, [y.mean()], rtol=1e-5)
    assert model.evaluate(*far)["baselines"]["mean"]["mae"] > 80  # the training mean, far off


def test_overfits_one_small_batch(tmp_path):
    rng = np.random.default_rng(1)
    X = [rng.standard_normal(rng.integers(3, 10)) for _ in range(8)]
    y = np.array([[x.sum(), x.max()] for x in X])  # (8, 2)
    model = rnnkit.SequenceRegressor(hidden=32, epochs=60, lr=0.02, batch_size=8,
                                     patience=None, seed=0, **QUIET)  # fmt: skip
    model.fit(X, y, validation_data=(X, y), out=tmp_path / "run")
    scores = model.evaluate(X, y)
    assert scores["r2"] > 0.99 and scores["baselines"]["mean"]["r2"] == pytest.approx(0, abs=1e-9)
    assert model.predict(X).shape == (8, 2) and model.target_names == ["target_0", "target_1"]


@pytest.fixture
def windows_csv(tmp_path):
    """A CSV of 120 noisy-sine windows of 4-12 steps with the next value and the window's mean."""
    rng = np.random.default_rng(2)
    series = np.sin(0.3 * np.arange(2000)) + 0.05 * rng.standard_normal(2000)
    rows = ["sequence,next,mean"]
    for _ in range(120):
        start, length = rng.integers(0, 1900), rng.integers(4, 13)
        window = series[start : start + length]
        text = " ".join(f"{v:.4f}" for v in window)
        rows.append(f'"{text}",{series[start + length]:.4f},{window.mean():.4f}')
    path = tmp_path / "windows.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def test_train_evaluate_predict_on_the_command_line(capsys, tmp_path, windows_csv):
    out = tmp_path / "run"
    code, stdout, err = run(capsys, "train", "regress", "--data", str(windows_csv),
                            "--target-column", "next,mean", "--hidden", "16", "--epochs", "12",
                            "--lr", "0.02", "--batch-size", "16", "--out", str(out), "--threads",
                            "1", "--no-progress", "--no-plot", "--json")  # fmt: skip
    assert code == 0, err
    trained = last_json(stdout)
    assert trained["epochs"] >= 1 and {"val_mae", "val_rmse", "val_r2"} <= set(trained)
    code, stdout, err = run(capsys, "evaluate", str(out), "--split", "test", "--json")
    assert code == 0, err
    scores = last_json(stdout)
    assert scores["split"] == "test" and scores["n"] == 12 and scores["targets"] == ["next", "mean"]
    assert scores["r2"] > 0.5 > scores["baselines"]["mean"]["r2"]
    code, stdout, err = run(capsys, "predict", str(out), "0.1 0.4 0.7", "[0.9, 0.6]", "--json")
    assert code == 0, err
    rows = last_json(stdout)["predictions"]
    assert [row["input"] for row in rows] == ["0.1 0.4 0.7", "[0.9, 0.6]"]
    assert set(rows[0]["prediction"]) == {"next", "mean"}
    loaded = rnnkit.load(out)
    assert loaded.predict(["0.1 0.4 0.7"]).shape == (1, 2)


@pytest.mark.parametrize(
    "rows, options, message",
    [
        (["sequence,target", '"1 2",3', '"2 3",4', '"3 4",5'], ["--target-column", "nope"],
         "no column 'nope'"),
        (["sequence,target", '"1 2",3', '"2 x",4', '"3 4",5'], [],
         "line 3: '2 x' is not a sequence"),
        (["sequence,target", '"1 2",3', '"[2, 3",4', '"3 4",5'], [], "not a JSON array"),
        (["sequence,target", '"1 2",3', '"2 3",four', '"3 4",5'], [], "line 3: a target is not"),
        (["sequence,target", '"1 2",3', '"[[2, 3]]",4', '"3 4",5'], [],
         "line 3 has 2 features per step, line 2 has 1"),
    ],
)  # fmt: skip
def test_file_errors_are_one_line(capsys, tmp_path, rows, options, message):
    path = tmp_path / "bad.csv"
    path.write_text("\n".join(rows) + "\n")
    code, _, err = run(capsys, "train", "regress", "--data", str(path), *options,
                       "--out", str(tmp_path / "run"), "--epochs", "1")  # fmt: skip
    assert code == 2 and message in err and "Traceback" not in err, err
