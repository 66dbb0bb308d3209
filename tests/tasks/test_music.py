"""MusicModel: the baselines' NLL against hand computations, masking of padded frames, overfitting
one batch, the Python object, and the command line end to end (train -> evaluate -> generate ->
predict -> resume) on a tiny synthetic .mat file; bad inputs are one clear error."""

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import rnnkit
from rnnkit.data.pianoroll import KEYS, read_midi
from rnnkit.errors import UserError
from rnnkit.models.music import PianoRollRNN, PianoRollRNNConfig
from rnnkit.tasks.music.baselines import Baselines
from rnnkit.tasks.music.data import PianoRollBatches
from rnnkit.tasks.music.objective import MusicObjective
from tests.tasks.cli import last_json, run

scipy_io = pytest.importorskip("scipy.io")
pytest.importorskip("mido")

TINY = ["--hidden", "8", "--threads", "1", "--no-progress", "--batch-size", "4", "--no-plot"]


@pytest.fixture(autouse=True)
def _every_test_on_one_thread(one_thread):
    """Tiny models train faster on one thread (the fixture is in tests/conftest.py)."""


def frames(*keys_per_frame):
    """A roll with the given keys on in each frame."""
    roll = np.zeros((len(keys_per_frame), KEYS), np.uint8)
    for t, keys in enumerate(keys_per_frame):
        roll[t, list(keys)] = 1
    return roll


def arpeggio(length, root):
    """A repeating broken chord on ``root``: one of three keys per frame, easy to learn."""
    return frames(*[(root + (0, 4, 7)[t % 3],) for t in range(length)])


def cells(rolls):
    array = np.empty((1, len(rolls)), dtype=object)
    for i, roll in enumerate(rolls):
        array[0, i] = roll
    return array


@pytest.fixture(scope="module")
def tiny_mat(tmp_path_factory):
    """A .mat file of arpeggios of 9-30 frames: 8 train, 3 valid, 3 test pieces."""
    path = tmp_path_factory.mktemp("music") / "tiny.mat"
    lengths = {"traindata": [9, 30, 12, 21, 15, 27, 18, 24], "validdata": [10, 20, 14],
               "testdata": [11, 25, 16]}  # fmt: skip
    scipy_io.savemat(path, {key: cells([arpeggio(n, 30 + i % 2) for i, n in enumerate(ns)])
                            for key, ns in lengths.items()})  # fmt: skip
    return path


def test_frequency_and_markov_baselines_against_hand_computations():
    train = [frames((0,), (0, 1)), frames((), (1,))]
    test = [frames((0,))]
    scores = Baselines.fit(train).score(test)
    # frequency: key 0 and 1 on in 2 of 4 frames -> (2 + 1) / (4 + 2) = 1/2; others 1/6
    assert scores["frequency"]["nll"] == pytest.approx(2 * math.log(2) + 86 * math.log(6 / 5))
    assert scores["frequency"]["accuracy"] == 0.0  # nothing above 1/2: the one note missed
    # markov: key 0 after silence on in 1 of 3 -> 2/5; key 1 after silence on in 2 of 4 -> 1/2
    expected = -math.log(2 / 5) + math.log(2) + 86 * math.log(6 / 5)
    assert scores["markov"]["nll"] == pytest.approx(expected)
    assert scores["repeat"] == {"nll": None, "accuracy": 0.0}  # silence repeated; key 0 missed
    again = Baselines.fit(train).score([frames((0,), (0,))])["repeat"]["accuracy"]
    assert again == pytest.approx(1 / 2)  # frame 2 repeats frame 1: TP 1, FN 1 (frame 1)


def test_padded_frames_do_not_change_the_loss():
    torch.manual_seed(0)
    model = PianoRollRNN(PianoRollRNNConfig(hidden=8, dropout=0.0)).eval()
    pieces = [arpeggio(12, 30), arpeggio(5, 40)]
    batch = next(iter(PianoRollBatches(pieces, 2)))
    assert batch.lengths.tolist() == [12, 5] and batch.inputs.shape == (2, 12, KEYS)
    objective = MusicObjective()
    loss, stats = objective.train_loss(model, batch)
    noisy = batch._replace(inputs=batch.inputs.clone(), targets=batch.targets.clone())
    noisy.inputs[1, 5:] = 1.0  # padding filled with notes
    noisy.targets[1, 5:] = 1.0
    assert stats["n"] == 17
    assert objective.train_loss(model, noisy)[0].item() == pytest.approx(loss.item(), rel=1e-6)
    one_by_one = objective.scores(model, PianoRollBatches(pieces, 1))
    together = objective.scores(model, PianoRollBatches(pieces, 2))
    assert together.frames == one_by_one.frames == 17
    assert together.nll == pytest.approx(one_by_one.nll, rel=1e-5)
    assert together.metrics()["loss"] == pytest.approx(loss.item(), rel=1e-5)


def test_nll_after_the_first_frame_against_a_direct_computation():
    torch.manual_seed(0)
    model = PianoRollRNN(PianoRollRNNConfig(hidden=8, dropout=0.0)).eval()
    pieces = [arpeggio(12, 30), arpeggio(5, 40), arpeggio(1, 50)]
    scores = MusicObjective().scores(model, PianoRollBatches(pieces, 2))
    summed, frames = 0.0, 0
    for roll in pieces:
        batch = next(iter(PianoRollBatches([roll], 1)))
        with torch.no_grad():
            logits, _ = model(batch.inputs)  # (1, T, 88)
        targets = batch.targets[:, 1:]  # frames 2.. of the piece
        summed += F.binary_cross_entropy_with_logits(logits[:, 1:], targets, reduction="sum")
        frames += targets.shape[1]
    assert (scores.first_frames, scores.frames, frames) == (3, 18, 15)
    assert scores.nll_after_first() == pytest.approx(summed.item() / frames, rel=1e-5)


def test_the_model_overfits_one_batch():
    torch.manual_seed(0)
    model = PianoRollRNN(PianoRollRNNConfig(hidden=32, dropout=0.0))
    batch = next(iter(PianoRollBatches([arpeggio(24, 30), arpeggio(18, 45)], 2)))
    objective, optimizer = MusicObjective(), torch.optim.Adam(model.parameters(), lr=2e-2)
    first = objective.train_loss(model, batch)[0].item()
    for _ in range(300):
        optimizer.zero_grad()
        loss, _ = objective.train_loss(model, batch)
        loss.backward()
        optimizer.step()
    # untrained: about 88 ln 2 = 61 nats per frame; only the first frames stay uncertain
    assert first > 40 and loss.item() < 0.5, (first, loss.item())
    model.eval()
    assert objective.scores(model, [batch]).metrics()["accuracy"] > 0.9


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_recurrent_regularisers_reach_the_layers_and_are_off_in_eval(cell):
    torch.manual_seed(0)
    config = PianoRollRNNConfig(hidden=16, cell=cell, recurrent_dropout=0.3, weight_drop=0.5)
    model = PianoRollRNN(config)
    assert (model.rnn.recurrent_dropout, model.rnn.weight_drop) == (0.3, 0.5)
    frames = torch.as_tensor(arpeggio(30, 40), dtype=torch.float32)[None]  # (1, 30, 88)
    a, b = model(frames)[0], model(frames)[0]
    assert not torch.equal(a, b)  # new masks each call in training
    model.eval()
    torch.testing.assert_close(model(frames)[0], model(frames)[0])


def test_the_python_object_fits_evaluates_and_samples_in_memory(tmp_path):
    train = [arpeggio(n, 30) for n in (12, 18, 24, 15)]
    music = rnnkit.MusicModel(hidden=16, epochs=3, batch_size=2, lr=1e-2, verbose=0,
                              progress=False, plot=False)  # fmt: skip
    music.fit(train, validation_data=train[:2])
    result = music.evaluate(train[:2])
    assert result["n"] == 30 and result["pieces"] == 2 and result["split"] == "all"
    assert result["nll"] == result["loss"] < result["baselines"]["frequency"]["nll"]
    assert set(result["baselines"]) == {"frequency", "markov", "repeat"}
    a = music.sample(20, seed=3)
    assert a.shape == (20, KEYS) and a.dtype == np.uint8
    assert np.array_equal(a, music.sample(20, seed=3))
    primed = music.generate(10, prime=train[0], seed=1, out=tmp_path / "p.mid")
    assert primed["prime_frames"] == 12 and primed["frames"] == 10
    assert len(read_midi(tmp_path / "p.mid", 0.125)) <= 22
    with pytest.raises(UserError, match="temperature must be a finite number > 0"):
        music.sample(5, temperature=0)
    with pytest.raises(UserError, match="expected no labels"):
        rnnkit.MusicModel(verbose=0).fit(train, [1, 2, 3, 4])
    with pytest.raises(UserError, match=r"shape \(3, 12\)"):
        music.evaluate([np.zeros((3, 12))])


def test_train_evaluate_generate_predict_resume_on_the_command_line(tiny_mat, tmp_path, capsys):
    out = tmp_path / "run"
    code, stdout, err = run(capsys, "--json", "train", "music", "--data", str(tiny_mat),
                            "--out", str(out), "--epochs", "2", *TINY)  # fmt: skip
    assert code == 0, err
    summary = last_json(stdout)
    assert summary["epochs"] == 2 and summary["val_loss"] > 0 and 0 <= summary["val_accuracy"] <= 1
    config = json.loads((out / "best" / "config.json").read_text())
    assert config["task"] == "music" and config["model"]["hidden"] == 8

    code, stdout, _ = run(capsys, "--json", "evaluate", str(out), "--split", "test")
    result = last_json(stdout)
    assert code == 0 and result["split"] == "test" and result["pieces"] == 3
    assert result["n"] == 11 + 25 + 16
    assert result["baselines"]["markov"]["nll"] < result["baselines"]["frequency"]["nll"]

    piece = tmp_path / "piece.mid"
    code, stdout, err = run(capsys, "--json", "generate", str(out), "--length", "40", "--seed",
                            "5", "--out", str(piece))  # fmt: skip
    generated = last_json(stdout)
    assert code == 0, err
    assert generated["output"] == str(piece) and generated["frames"] == 40
    picture = piece.with_suffix(".png")
    assert generated["plot"] == str(picture) and picture.is_file()
    assert len(read_midi(piece, 0.125)) <= 40

    code, stdout, _ = run(capsys, "--json", "predict", str(out), str(piece))
    row = last_json(stdout)["predictions"][0]
    assert code == 0 and row["input"] == str(piece) and row["nll"] > 0

    code, stdout, _ = run(capsys, "--json", "train", "music", "--resume", str(out), "--epochs",
                          "3", "--no-progress")  # fmt: skip
    assert code == 0 and last_json(stdout)["epochs"] == 3


@pytest.fixture(scope="module")
def tiny_run(tiny_mat, tmp_path_factory):
    """A one-epoch run on the tiny .mat file."""
    out = tmp_path_factory.mktemp("run") / "run"
    music = rnnkit.MusicModel(hidden=8, epochs=1, batch_size=4, verbose=0, progress=False,
                              plot=False)  # fmt: skip
    music.fit(data=str(tiny_mat), out=out)
    return out


@pytest.mark.parametrize(
    ("argv", "phrase"),
    [
        (["train", "music", "--data", "fsdd"], "'fsdd' is not a music dataset"),
        (["train", "music", "--data", "NOWHERE.mat"], "no such file or directory"),
        (["train", "music", "--data", "TEXT"], "cannot read it as a MATLAB .mat file"),
        (["train", "music", "--data", "MAT", "--chunk-length", "1"], "chunk_length must be"),
        (["generate", "RUN", "--temperature", "0"], "temperature must be a finite number > 0"),
        (["generate", "RUN", "--top-k", "3"], "are for text; expected a music model's"),
        (["generate", "RUN", "--prime", "TEXT"], "cannot read it as a MIDI file"),
        (["generate", "RUN", "--length", "0"], "length must be an integer >= 1"),
    ],
)
def test_bad_inputs_are_one_clear_line(tiny_mat, tiny_run, tmp_path, capsys, argv, phrase):
    text = tmp_path / "notes.mat"
    text.write_text("not a matlab file")
    names = {"RUN": tiny_run, "TEXT": text, "MAT": tiny_mat, "NOWHERE.mat": tmp_path / "x.mat"}
    argv = [str(names.get(a, a)) for a in argv]
    if argv[0] == "train":
        argv += ["--out", str(tmp_path / "other"), *TINY]
    code, stdout, err = run(capsys, *argv)
    assert code == 2 and phrase in err and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1 and stdout == ""
