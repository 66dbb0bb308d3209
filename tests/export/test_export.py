"""``rnnkit export``: a tiny text classifier (2-layer bidirectional LSTM), language models
(LSTM, 2-layer GRU), a speech classifier (bidirectional GRU) and sequence regressors
(bidirectional 2-layer LSTM with attention pooling; GRU) as ONNX and TorchScript files,
run by onnxruntime and ``torch.jit.load`` against the PyTorch model on variable-length inputs
(random ones; real texts through the JSON description's preprocessing only; real recordings
standardised by the description's scaler; real sequences scaled and unscaled by the
description's scalers), a generation stepped through the exported state, and the refusals."""

import importlib.util
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

import rnnkit
from rnnkit.cli import main
from rnnkit.data.audio import read_wav
from rnnkit.errors import UserError
from rnnkit.export import example_inputs, export_run, run_file
from rnnkit.export.graphs import mirror_layer
from rnnkit.nn import LSTM
from rnnkit.tasks import load
from rnnkit.tasks.speech.data import featurize

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

TINY_RUNS = Path(__file__).resolve().parents[1] / "tasks" / "tiny_runs.py"
TOLERANCE = 1e-5  # float32
FORMATS = {"onnx": "model.onnx", "torchscript": "model.pt"}
RUNS = {
    "classify": ["--layers", "2", "--pooling", "concat"],
    "lm": [],
    "lm-gru": ["--layers", "2", "--cell", "gru"],
    "lm-adaptive": ["--adaptive-softmax", "5", "12", "--hidden", "16"],  # log-probabilities
    "speech": [],  # a 1-layer bidirectional GRU, mean pooling
    "forecast": ["--head", "gaussian"],
    "regress": dict(hidden=4, layers=2, cell="lstm", bidirectional=True, pooling="attention"),
    "regress-gru": dict(hidden=4),  # one GRU layer read to its last state
}
REGRESS_DATA = np.random.default_rng(0).normal(0, 1, (40, 9, 2))  # cut to lengths 2..9 below


@pytest.fixture(autouse=True)
def _every_test_on_one_thread(one_thread):
    """Tiny models run faster on one thread (the fixture is in tests/conftest.py)."""


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Name -> the run folder of a tiny trained model."""
    spec = importlib.util.spec_from_file_location("export_tiny_runs", TINY_RUNS)
    tiny = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tiny)
    root = tmp_path_factory.mktemp("export-runs")
    data = tiny.synthetic_data(root)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    folders = {}
    for name, options in RUNS.items():
        task = name.split("-")[0]
        if task == "regress":  # through the Python API: two features, two targets
            folders[name] = root / name
            sequences = [x[: 2 + i % 8] for i, x in enumerate(REGRESS_DATA)]
            targets = [[x.sum(), x[:, 1].max()] for x in sequences]
            rnnkit.SequenceRegressor(
                epochs=1, seed=0, verbose=0, progress=False, plot=False, **options
            ).fit(sequences, targets, out=folders[name])
            continue
        folders[name] = root / name
        tiny.train(task, ["--data", data[task]], folders[name], "--epochs", "1", "--seed", "0",
                   *options)  # fmt: skip
    torch.set_num_threads(threads)
    return folders


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", RUNS)
def test_the_file_matches_the_model_on_variable_lengths(runs, tmp_path, name, fmt):
    out = tmp_path / FORMATS[fmt]
    info = export_run(runs[name], fmt, out)
    assert info["max_abs_diff"] <= TOLERANCE
    task = load(runs[name], device="cpu")
    for batch, length, seed in ((1, 1, 2), (5, 13, 3), (2, 30, 4)):  # not the traced shape
        inputs = example_inputs(task, batch, length, seed)
        found = run_file(out, fmt, inputs, list(info["inputs"]))
        with torch.no_grad():
            if task.NAME in ("classify", "speech", "forecast", "regress"):
                expected = [task.model(*inputs)]
                assert len(inputs) == 1 or len(set(inputs[1].tolist())) > 1 or batch == 1
            else:
                logits, state = task.model(inputs[0], tuple(inputs[1:]) if len(inputs) > 2
                                           else inputs[1])  # fmt: skip
                expected = [logits, *(state if isinstance(state, tuple) else (state,))]
        assert len(found) == len(expected) == len(info["outputs"])
        for f, e in zip(found, expected):
            assert f.shape == e.shape
            assert (f - e).abs().max().item() <= TOLERANCE
    description = json.loads(out.with_suffix(".json").read_text())
    assert description["task"] == task.NAME and description["format"] == fmt
    assert description["opset"] == (17 if fmt == "onnx" else None)


def test_onnx_classifier_from_its_json_alone_predicts_as_rnnkit(runs, tmp_path):
    """Texts turned into tokens by the description's tokenizer pattern, vocabulary and labels
    only (no rnnkit), the probabilities from onnxruntime: the same as ``predict_proba``."""
    out = tmp_path / "reviews.onnx"
    export_run(runs["classify"], "onnx", out)
    spec = json.loads(out.with_suffix(".json").read_text())["preprocessing"]
    tokens = spec["vocab"]["tokens"]
    index = {token: i for i, token in enumerate(tokens)}
    unk, pad = index[spec["vocab"]["specials"]["unk"]], index[spec["vocab"]["specials"]["pad"]]
    texts = ["good film 3", "A bad, bad film!", "unseen words only", "film"]
    ids = []
    for text in texts:
        words = re.findall(spec["tokenizer"]["pattern"], text.lower())
        ids.append(([index.get(w, unk) for w in words] or [unk])[: spec["max_length"]])
    lengths = np.array([len(row) for row in ids], dtype=np.int64)
    padded = np.full((len(ids), lengths.max()), pad, dtype=np.int64)
    for row, values in enumerate(ids):
        padded[row, : len(values)] = values
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    (logits,) = session.run(None, {"tokens": padded, "lengths": lengths})
    probabilities = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    expected = load(runs["classify"], device="cpu").predict_proba(texts)
    np.testing.assert_allclose(probabilities, expected, atol=TOLERANCE)
    assert spec["labels"]["classes"] == ["bad", "good"]


def test_onnx_speech_classifier_on_recordings_standardised_by_its_json(runs, tmp_path):
    out = tmp_path / "speech.onnx"
    export_run(runs["speech"], "onnx", out)
    spec = json.loads(out.with_suffix(".json").read_text())["preprocessing"]
    task = load(runs["speech"], device="cpu")
    wavs = sorted((runs["speech"].parent / "recordings").glob("*.wav"))[::5]
    data = task.settings["data"]
    frames = [featurize(read_wav(w, data.sample_rate), data).numpy() for w in wavs]
    frames[1] = frames[1][:7]  # a shorter recording: lengths differ
    mean, std = np.array(spec["scaler"]["mean"]), np.array(spec["scaler"]["std"])
    lengths = np.array([len(f) for f in frames])
    features = np.zeros((len(frames), lengths.max(), len(mean)), dtype=np.float32)
    for row, f in enumerate(frames):
        features[row, : len(f)] = (f - mean) / std
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    (logits,) = session.run(None, {"features": features, "lengths": lengths})
    with torch.no_grad():
        expected = task.model(torch.from_numpy(features), torch.from_numpy(lengths))
    np.testing.assert_allclose(logits, expected.numpy(), atol=TOLERANCE)
    assert spec["labels"]["classes"] == ["0", "1"] and spec["features"]["sample_rate"] == 8000


def test_onnx_regressor_on_sequences_scaled_by_its_json_predicts_as_rnnkit(runs, tmp_path):
    """Real sequences of different lengths standardised, padded and the outputs unscaled by the
    description alone: onnxruntime's predictions are ``SequenceRegressor.predict``'s."""
    out = tmp_path / "regress.onnx"
    export_run(runs["regress"], "onnx", out)
    spec = json.loads(out.with_suffix(".json").read_text())["preprocessing"]
    sequences = [x[:length] for x, length in zip(REGRESS_DATA[-5:], (9, 1, 4, 7, 6))]
    mean, std = np.array(spec["scaler"]["mean"]), np.array(spec["scaler"]["std"])
    lengths = np.array([len(x) for x in sequences])
    features = np.zeros((len(sequences), lengths.max(), len(mean)), dtype=np.float32)
    for row, x in enumerate(sequences):
        features[row, : len(x)] = (x - mean) / std
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    (values,) = session.run(None, {"features": features, "lengths": lengths})
    target = spec["target_scaler"]
    predictions = values * np.array(target["std"]) + np.array(target["mean"])
    expected = load(runs["regress"], device="cpu").predict(sequences)  # (N, 2)
    np.testing.assert_allclose(predictions, expected, atol=1e-4, rtol=1e-5)
    assert spec["targets"]["names"] == ["target_0", "target_1"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_generation_stepped_through_the_file_matches_the_model(runs, tmp_path, fmt):
    """Greedy decoding one token at a time, the state fed back: the same tokens and logits."""
    out = tmp_path / FORMATS[fmt]
    info = export_run(runs["lm"], fmt, out)
    task = load(runs["lm"], device="cpu")
    token = torch.tensor([[1]])  # (1, 1)
    state_file = state_model = (torch.zeros(1, 1, 4), torch.zeros(1, 1, 4))
    for _ in range(20):
        logits_file, *state_file = run_file(out, fmt, (token, *state_file), list(info["inputs"]))
        with torch.no_grad():
            logits_model, state_model = task.model(token, state_model)
        assert (logits_file - logits_model).abs().max().item() <= TOLERANCE
        token = logits_model[:, -1].argmax(-1, keepdim=True)  # (1, 1)
        assert torch.equal(logits_file[:, -1].argmax(-1, keepdim=True), token)


def test_the_command_writes_both_files_and_reports_the_difference(runs, tmp_path, capsys):
    out = tmp_path / "sub" / "lm.onnx"
    assert main(["export", str(runs["lm"]), "--format", "onnx", "--out", str(out), "--json"]) == 0
    stdout = capsys.readouterr().out
    result = json.loads(stdout.strip().splitlines()[-1])
    assert result["ok"] is True and result["opset"] == 17 and result["path"] == str(out)
    assert "max abs diff from the PyTorch model" in stdout
    assert out.exists() and out.with_suffix(".json").exists()


def test_unsupported_tasks_formats_and_layers_are_clear_errors(runs, tmp_path, capsys):
    assert main(["export", str(runs["lm"]), "--format", "tflite"]) == 2
    err = capsys.readouterr().err
    assert "unknown export format 'tflite'; expected one of: onnx, torchscript" in err
    assert len(err.strip().splitlines()) == 1
    with pytest.raises(UserError, match="description is written as .json"):
        export_run(runs["lm"], "onnx", tmp_path / "x.json")
    task = load(runs["lm"], device="cpu")
    task.NAME = "translate"  # this object only: a task export does not cover
    with pytest.raises(UserError, match="cannot write 'translate' models yet"):
        export_run(task, "onnx", tmp_path / "t.onnx")
    with pytest.raises(UserError, match="layer_norm=True"):
        mirror_layer(LSTM(3, 4, layer_norm=True))
