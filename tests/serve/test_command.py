"""``rnnkit serve`` as a user runs it: a real server process on a free port answering /health
and a prediction, then shut down; and its option errors (exit 2, one line)."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from rnnkit.cli import main


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_a_real_server_answers_health_and_a_prediction_then_stops(run_folders):
    port = free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "RNNKIT_API_KEY": "k1"}
    server = subprocess.Popen(
        [sys.executable, "-m", "rnnkit", "serve", "--name", f"reviews={run_folders['classify']}",
         "--port", str(port), "--device", "cpu"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, server.communicate()[1]
            try:
                health = httpx.get(f"{url}/health", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the server did not start in 30 s"
                time.sleep(0.2)
        assert health.json() == {"status": "ok", "models": ["reviews"], "worker": server.pid}
        body = {"texts": ["good film 1"]}
        refused = httpx.post(f"{url}/v1/models/reviews/predict", json=body, timeout=10)
        assert refused.status_code == 401  # the key came from $RNNKIT_API_KEY
        response = httpx.post(f"{url}/v1/models/reviews/predict", json=body, timeout=10,
                              headers={"X-API-Key": "k1"})  # fmt: skip
        assert response.status_code == 200
        assert response.json()["predictions"][0]["label"] in ("good", "bad")
    finally:
        server.send_signal(signal.SIGINT)
        try:
            _, stderr = server.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            _, stderr = server.communicate()
    assert server.returncode == 0, stderr
    assert "serving reviews (classify) at http://127.0.0.1:" in stderr


@pytest.mark.slow
def test_two_worker_processes_each_load_the_models_and_answer(run_folders):
    """--workers 2: requests on new connections reach two processes, both serving the model."""
    port = free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    server = subprocess.Popen(
        [sys.executable, "-m", "rnnkit", "serve", "--name", f"reviews={run_folders['classify']}",
         "--port", str(port), "--device", "cpu", "--workers", "2"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    workers, answers = set(), []
    try:
        deadline = time.monotonic() + 60
        while len(workers) < 2:
            assert server.poll() is None, server.communicate()[1]
            assert time.monotonic() < deadline, f"workers seen in 60 s: {workers}"
            try:
                with httpx.Client(timeout=5) as fresh:  # a new connection each time
                    workers.add(fresh.get(f"{url}/health").json()["worker"])
                    body = {"texts": ["good film 1"]}
                    answers.append(fresh.post(f"{url}/v1/models/reviews/predict", json=body))
            except httpx.TransportError:
                time.sleep(0.2)
    finally:
        server.send_signal(signal.SIGINT)
        try:
            _, stderr = server.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            _, stderr = server.communicate()
    assert server.pid not in workers  # the supervisor serves nothing itself
    assert {r.status_code for r in answers} == {200}
    assert len({json.dumps(r.json()) for r in answers}) == 1  # the same model in each
    assert server.returncode == 0, stderr


@pytest.mark.parametrize("argv,words", [
    (["--name", "noequals"], "expected NAME=DIR"),
    ([], "no model to serve"),
    (["--port", "70000", "x"], "port must lie in [0, 65535]"),
    (["--name", "a b={classify}"], "cannot name a model in a URL"),
    (["--name", "x={classify}", "--name", "x={lm}"], "two models are named 'x'"),
    (["--timeout", "0", "x"], "timeout must be positive"),
])  # fmt: skip
def test_option_errors_exit_2_with_one_line(capsys, run_folders, argv, words):
    argv = [a.format(**{k: str(v) for k, v in run_folders.items()}) for a in argv]
    assert main(["serve", *argv]) == 2
    err = capsys.readouterr().err
    assert words in err and len(err.strip().splitlines()) == 1, err
