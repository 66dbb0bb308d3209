"""Tiny trained models of each served task (classify, lm, translate from the core tasks' tiny
runs; a forecaster of a sine from the Python API), loaded once per test session, and the app
serving them."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

import rnnkit
from rnnkit.serve import ServeSettings, create_app, load_models

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient  # noqa: E402

TINY_RUNS = Path(__file__).resolve().parents[1] / "tasks" / "tiny_runs.py"
SINE = 10 + np.sin(2 * np.pi * np.arange(120) / 12)  # period 12, level 10


def _tiny_runs():
    spec = importlib.util.spec_from_file_location("serve_tiny_runs", TINY_RUNS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def _every_test_on_one_thread(one_thread):
    """Tiny models run faster on one thread (the fixture is in tests/conftest.py)."""


@pytest.fixture(scope="session")
def run_folders(tmp_path_factory):
    """Task name -> the run folder of a tiny trained model of that task."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    tiny = _tiny_runs()
    root = tmp_path_factory.mktemp("serve-runs")
    data = tiny.synthetic_data(root)
    folders = {}
    for task, epochs in (("classify", "2"), ("lm", "1"), ("translate", "1")):
        folders[task] = root / task
        tiny.train(task, ["--data", data[task]], folders[task], "--epochs", epochs, "--seed", "0")
    folders["forecast"] = root / "forecast"
    rnnkit.Forecaster(
        input_length=12, horizon=3, test_size=24, val_size=24, hidden=8, epochs=2, verbose=0
    ).fit(SINE, out=folders["forecast"])
    torch.set_num_threads(threads)
    return folders


@pytest.fixture(scope="session")
def speech_folder(tmp_path_factory):
    """The run folder of a tiny speech classifier of tones (digit 0 low, 1 high) and the folder
    of its WAV files."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    tiny = _tiny_runs()
    root = tmp_path_factory.mktemp("serve-speech")
    recordings = tiny.synthetic_data(root)["speech"]
    tiny.train("speech", ["--data", recordings], root / "speech", "--epochs", "2", "--seed", "0")
    torch.set_num_threads(threads)
    return root / "speech", recordings


@pytest.fixture(scope="session")
def regress_folder(tmp_path_factory):
    """The run folder of a tiny sequence regressor of variable-length sequences' sums."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    sequences = [rng.normal(0, 1, int(rng.integers(2, 9))) for _ in range(40)]
    folder = tmp_path_factory.mktemp("serve-regress") / "regress"
    rnnkit.SequenceRegressor(hidden=4, epochs=2, seed=0, verbose=0, progress=False, plot=False).fit(
        sequences, [s.sum() for s in sequences], out=folder
    )
    torch.set_num_threads(threads)
    return folder


@pytest.fixture(scope="session")
def models(run_folders):
    """The tiny models loaded as a server holds them, named after their tasks."""
    return load_models([], list(run_folders.items()), device="cpu")


@pytest.fixture(scope="session")
def limits():
    """Small limits, so each can be crossed with a small request."""
    return ServeSettings(max_batch=4, max_text_length=200, max_length=300,
                         max_request_bytes=20_000, timeout=20.0)  # fmt: skip


@pytest.fixture(scope="session")
def client(models, limits):
    with TestClient(create_app(models, limits)) as client:
        yield client
