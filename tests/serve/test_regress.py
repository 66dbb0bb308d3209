"""Sequence regression over HTTP, against a tiny regressor of sequences' sums: sequences of
numbers (or of rows of features) get the task's own predictions; bodies outside the limits or
the model's features get a clear 4xx; concurrent requests are batched and get what they get
alone."""

import asyncio

import httpx
import pytest
from fastapi.testclient import TestClient

from rnnkit.serve import ServeSettings, create_app, load_models
from rnnkit.tasks import load

LIMITS = ServeSettings(max_batch=3, max_steps=20, max_request_bytes=20_000, timeout=20.0)


@pytest.fixture(scope="module")
def regress(regress_folder):
    models = load_models([], [("sums", regress_folder)], device="cpu")
    with TestClient(create_app(models, LIMITS)) as client:
        yield client, models


def predict(client, body):
    return client.post("/v1/models/sums/predict", json=body)


def test_sequences_get_the_tasks_predictions(regress, regress_folder):
    client, _ = regress
    sequences = [[0.5, -1.0, 2.0], [1.5], [[0.1], [0.2], [0.3], [0.4]]]
    response = predict(client, {"sequences": sequences})
    assert response.status_code == 200
    rows = response.json()["predictions"]
    expected = load(regress_folder, device="cpu").predict(sequences)  # (N,): one target
    assert [row["input"] for row in rows] == [[0.5, -1.0, 2.0], [1.5], [[0.1], [0.2], [0.3], [0.4]]]
    assert [row["prediction"]["target"] for row in rows] == pytest.approx(expected, abs=1e-6)
    described = client.get("/v1/models/sums").json()
    assert described["task"] == "regress"


@pytest.mark.parametrize("body,status,words", [
    ({"sequences": []}, 422, "body.sequences: List should have at least 1 item"),
    ({"sequences": [[]]}, 422, "body.sequences.0: Value should have at least 1 item"),
    ({"sequences": [[1.0]] * 4}, 422, "body.sequences: List should have at most 3 items"),
    ({"sequences": [[1.0] * 21]}, 422, "body.sequences.0: Value should have at most 20 items"),
    ({"sequences": [[1.0, "two"]]}, 422, "Input should be a valid number"),
    ({"sequences": [[1.0]], "extra": 1}, 422, "body.extra: Extra inputs are not permitted"),
    ({"texts": ["1 2"]}, 422, "body.sequences: Field required"),
    ({"sequences": [[[1.0, 2.0], [3.0, 4.0]]]}, 400,
     "X has 2 features per step, but this model expects 1"),
    ({"sequences": [[1.0, 2.0], [[1.0, 2.0]]]}, 400,
     "X: sequence 1 has 2 features per step, sequence 0 has 1"),
])  # fmt: skip
def test_bad_and_over_limit_bodies_get_a_clear_4xx(regress, body, status, words):
    client, _ = regress
    response = predict(client, body)
    assert response.status_code == status, response.text
    assert words in response.json()["error"]["message"]


@pytest.mark.parametrize("number,words", [
    ("NaN", "Input should be a finite number"),
    ("Infinity", "Input should be a finite number"),
    ("-Infinity", "Input should be a finite number"),
    ("1e999", "Input should be a finite number"),
    ("1e39", "Input should be less than or equal to 3402823466385288"),  # float32: inf
])  # fmt: skip
def test_numbers_that_are_not_finite_are_refused(regress, number, words):
    client, _ = regress
    body = '{"sequences": [[1.0, NUMBER]]}'.replace("NUMBER", number)
    response = client.post("/v1/models/sums/predict", content=body,
                           headers={"content-type": "application/json"})  # fmt: skip
    assert response.status_code == 422
    assert words in response.json()["error"]["message"]


def test_an_oversized_body_is_refused_before_it_is_read(regress):
    client, _ = regress
    response = predict(client, {"sequences": [[0.123456789] * 20] * 3 * 40})
    assert response.status_code == 413


def test_concurrent_requests_share_calls_and_get_what_they_get_alone(regress, monkeypatch):
    _, models = regress
    task = models["sums"].task
    calls, real = [], task.predict_rows

    def counted(sequences):
        calls.append(len(sequences))
        return real(sequences)

    monkeypatch.setattr(task, "predict_rows", counted)
    bodies = [{"sequences": [[0.1 * i] * (1 + i % 5), [1.0, -1.0]]} for i in range(10)]
    bad = {"sequences": [[[2.0, 1.0]]]}  # two features: its batch fails, then it fails alone
    app = create_app(models, ServeSettings(max_batch_size=64, max_batch_delay_ms=200))
    alone = [real(body["sequences"]) for body in bodies]

    def send(bodies):
        async def together():
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                return await asyncio.gather(
                    *(client.post("/v1/models/sums/predict", json=body) for body in bodies)
                )

        return asyncio.run(together())

    responses = send(bodies)
    assert [r.status_code for r in responses] == [200] * 10
    assert sum(calls) == 20 and len(calls) < 4, calls  # joined calls
    for response, reference in zip(responses, alone):
        rows = response.json()["predictions"]
        assert [row["input"] for row in rows] == [row["input"] for row in reference]
        found = [row["prediction"]["target"] for row in rows]
        assert found == pytest.approx([row["prediction"]["target"] for row in reference],
                                      abs=1e-5)  # fmt: skip
    calls.clear()
    responses = send([bodies[0], bad, bodies[1]])
    assert [r.status_code for r in responses] == [200, 400, 200]
    assert calls == [5, 2, 1, 2], calls  # the batch, then each request alone
    second = [row["prediction"]["target"] for row in responses[2].json()["predictions"]]
    assert second == pytest.approx([row["prediction"]["target"] for row in alone[1]], abs=1e-5)
