"""SpeechClassifier end to end on slices of the real recordings: overfitting a handful, the
command line (train / evaluate / predict / resume), normalisation fitted on train only, and bad
inputs (exit 2, one line)."""

import json

import pytest
import torch

import rnnkit
from rnnkit.data.audio import FeatureScaler, read_recordings
from rnnkit.tasks.speech.data import extract_features, split_recordings
from tests.tasks.cli import last_json, run
from tests.tasks.speech.conftest import copy_fsdd

TINY = ["--hidden", "16", "--layers", "1", "--threads", "1", "--no-progress", "--batch-size", "8"]


@pytest.fixture(scope="module")
def folder(fsdd, tmp_path_factory):
    """3 digits x 2 speakers x recordings 0-9: 30 test (0-4), 30 train/val."""
    return copy_fsdd(fsdd, tmp_path_factory.mktemp("fsdd"), "012", ["george", "jackson"], range(10))


def test_overfits_a_handful_of_real_recordings(fsdd):
    paths = [fsdd / f"{d}_jackson_{i}.wav" for d in "01" for i in range(4)]
    labels = [p.name[0] for p in paths]
    model = rnnkit.SpeechClassifier(hidden=32, layers=1, dropout=0.0, epochs=15, lr=2e-2,
                                    patience=None, verbose=0, progress=False,
                                    plot=False)  # fmt: skip
    model.fit(paths, labels, validation_data=(paths, labels))
    assert model.evaluate(paths, labels)["accuracy"] == 1.0
    assert model.predict(paths[:2]) == ["0", "0"]


def test_train_evaluate_predict_resume_on_the_command_line(folder, tmp_path, capsys):
    out = tmp_path / "run"
    code, stdout, _ = run(capsys, "--json", "train", "speech", "--data", str(folder), "--out",
                          str(out), "--epochs", "2", *TINY)  # fmt: skip
    assert code == 0, stdout
    summary = last_json(stdout)
    assert summary["epochs"] == 2 and 0 <= summary["val_accuracy"] <= 1
    config = json.loads((out / "best" / "config.json").read_text())
    assert config["task"] == "speech" and config["model"]["input_size"] == 39

    code, stdout, _ = run(capsys, "--json", "evaluate", str(out), "--split", "test")
    result = last_json(stdout)
    assert code == 0 and result["split"] == "test" and result["n"] == 30
    assert len(result["confusion_matrix"]) == 3 and sum(map(sum, result["confusion_matrix"])) == 30
    assert set(result) >= {"accuracy", "macro_f1", "loss"}

    wavs = [str(folder / "1_george_0.wav"), str(folder / "2_jackson_3.wav")]
    code, stdout, _ = run(capsys, "--json", "predict", str(out), *wavs)
    rows = last_json(stdout)["predictions"]
    assert code == 0 and [r["input"] for r in rows] == wavs
    assert all(abs(sum(r["probabilities"].values()) - 1) < 1e-4 for r in rows)

    code, stdout, _ = run(capsys, "--json", "train", "speech", "--resume", str(out), "--epochs",
                          "3", "--no-progress")  # fmt: skip
    assert code == 0 and last_json(stdout)["epochs"] == 3

    # the saved normalisation is the training split's, not the validation split's
    loaded = rnnkit.load(out)
    settings = loaded.settings["data"]
    splits = split_recordings(read_recordings(folder), settings)
    train = extract_features(splits["train"], settings, "train")
    val = extract_features(splits["val"], settings, "val")
    expected = FeatureScaler.fit(train.features)
    torch.testing.assert_close(loaded.preprocessing.scaler.mean, expected.mean)
    both = FeatureScaler.fit(train.features + val.features)
    assert not torch.allclose(both.mean, expected.mean)


def test_the_speaker_split_on_the_command_line(folder, tmp_path, capsys):
    out = tmp_path / "run"
    code, stdout, _ = run(capsys, "train", "speech", "--data", str(folder), "--out", str(out),
                          "--split", "speaker", "--test-speaker", "jackson", "--epochs", "1",
                          *TINY)  # fmt: skip
    assert code == 0
    code, stdout, _ = run(capsys, "--json", "evaluate", str(out), "--split", "test")
    assert code == 0 and last_json(stdout)["n"] == 30  # jackson's 3 digits x 10


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--data", "MISSING"], "no such file or folder"),
        (["--data", "imdb"], "is not a speech dataset"),
        (["--split", "speaker", "--test-speaker", "nobody"], "test_speaker 'nobody'"),
        (["--hop-ms", "50"], "hop_ms must be at most frame_ms"),
        (["--n-mfcc", "50"], "n_mfcc must be at most n_mels"),
    ],
)
def test_bad_training_options_are_one_line_and_exit_2(folder, tmp_path, capsys, argv, message):
    argv = ["--data", str(folder), *argv] if argv[0] != "--data" else argv
    code, stdout, stderr = run(capsys, "train", "speech", "--out", str(tmp_path / "r"), *argv,
                               "--epochs", "1", *TINY)  # fmt: skip
    assert code == 2 and stdout == ""
    assert message in stderr and len(stderr.strip().splitlines()) == 1, stderr


def test_predicting_on_a_file_that_is_not_a_wav_is_one_line(folder, tmp_path, capsys):
    out = tmp_path / "run"
    assert run(capsys, "train", "speech", "--data", str(folder), "--out", str(out), "--limit", "12",
               "--epochs", "1", *TINY)[0] == 0  # fmt: skip
    (tmp_path / "notes.wav").write_text("not audio")
    code, stdout, stderr = run(capsys, "predict", str(out), str(tmp_path / "notes.wav"))
    assert code == 2 and stdout == "" and "notes.wav: not a WAV" in stderr
    assert len(stderr.strip().splitlines()) == 1
    for damage, message in (('{"mean": [0.0], "std": [1.0]}', "has 1 features; expected 39"),
                            ("[]", "feature normalisation is damaged")):  # fmt: skip
        (out / "best" / "scaler.json").write_text(damage)
        code, stdout, stderr = run(capsys, "predict", str(out), str(folder / "1_george_0.wav"))
        assert code == 2 and message in stderr and len(stderr.strip().splitlines()) == 1, stderr
