"""The server's limits and safety: the API key, the request size, text length, batch size and
generation length limits, the timeout, and a table of bad requests each answered with a clear
4xx JSON error — never a 500."""

import math
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient

from rnnkit.errors import UserError
from rnnkit.serve import ServedModel, ServeSettings, create_app
from rnnkit.serve.models import json_ready

KEY = "s3cret-key"


@pytest.fixture(scope="module")
def keyed(models):
    with TestClient(create_app(models, ServeSettings(api_key=KEY))) as client:
        yield client


def test_the_api_key_is_needed_for_every_model_route_but_not_health(keyed):
    body = {"texts": ["good film"]}
    assert keyed.get("/health").status_code == 200
    for headers in ({}, {"X-API-Key": "wrong"}, {"Authorization": "Bearer wrong"},
                    {"X-API-Key": KEY[:-1]}):  # fmt: skip
        for method, path, json in (("GET", "/v1/models", None),
                                   ("POST", "/v1/models/classify/predict", body),
                                   ("POST", "/v1/models/nope/predict", body)):  # fmt: skip
            response = keyed.request(method, path, json=json, headers=headers)
            assert response.status_code == 401, (path, headers)
            assert "API key" in response.json()["error"]["message"]
    for headers in ({"X-API-Key": KEY}, {"Authorization": f"Bearer {KEY}"}):
        response = keyed.post("/v1/models/classify/predict", json=body, headers=headers)
        assert response.status_code == 200


def test_an_empty_api_key_is_refused_at_start_up():
    with pytest.raises(UserError, match="api_key must not be empty"):
        ServeSettings(api_key=" ")


def error_of(response, status):
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["status"] == status and error["message"]
    return error["message"]


def test_a_body_over_the_size_limit_is_413(client, limits):
    big = {"texts": ["x" * 100] * (limits.max_request_bytes // 100)}
    message = error_of(client.post("/v1/models/classify/predict", json=big), 413)
    assert f"{limits.max_request_bytes:,} bytes" in message

    def chunks():  # no Content-Length: counted as it arrives
        yield b'{"texts": ["'
        for _ in range(limits.max_request_bytes // 1000 + 1):
            yield b"x" * 1000
        yield b'"]}'

    response = client.post("/v1/models/classify/predict", content=chunks(),
                           headers={"content-type": "application/json"})  # fmt: skip
    error_of(response, 413)


def test_text_batch_and_generation_limits_are_422_naming_the_field(client, limits):
    cases = [
        ("classify", {"texts": ["x" * (limits.max_text_length + 1)]}, "body.texts.0", "200"),
        ("classify", {"texts": ["x"] * (limits.max_batch + 1)}, "body.texts", "4 items"),
        ("lm", {"length": limits.max_length + 1}, "body.length", "300"),
        ("lm", {"prime": "x" * (limits.max_text_length + 1)}, "body.prime", "200"),
        ("translate", {"sentences": ["a"], "beam": limits.max_beam + 1}, "body.beam", "16"),
        ("translate", {"sentences": ["a"], "max_length": 10**6}, "body.max_length", "300"),
        ("forecast", {"values": [1.0] * 20, "steps": limits.max_length + 1}, "body.steps", ""),
    ]
    for name, body, where, limit in cases:
        response = client.post(f"/v1/models/{name}/predict", json=body)
        message = error_of(response, 422)
        assert message.startswith(where + ":") and limit in message, message
        assert response.json()["error"]["details"][0]["loc"] == where.split(".")


def test_a_request_over_the_timeout_is_504_and_frees_the_model(models):
    limits = ServeSettings(timeout=0.05, max_length=100_000)
    with TestClient(create_app(models, limits)) as client:
        response = client.post("/v1/models/lm/predict", json={"length": 100_000, "seed": 0})
        assert "timeout of 0.05 s" in error_of(response, 504)
        streamed = client.post("/v1/models/lm/generate?stream=true",
                               json={"length": 100_000, "seed": 0})  # fmt: skip
        assert streamed.status_code in (200, 504)  # 200: the first pieces came in time
        if streamed.status_code == 200:
            assert "event: error" in streamed.text and '"status": 504' in streamed.text
    with TestClient(create_app(models)) as client:  # the generation stopped: the lock is free
        response = client.post("/v1/models/lm/predict", json={"length": 5, "seed": 0})
        assert response.status_code == 200


# (method, path, JSON body or raw bytes, expected status, a piece of the message)
BAD_REQUESTS = [
    ("POST", "/v1/models/nope/predict", {"texts": ["a"]}, 404, "no model named 'nope'"),
    ("GET", "/v1/models/nope", None, 404, "no model named"),
    ("POST", "/v1/models/classify/attention", {}, 404, "no such endpoint"),  # a translator's
    ("GET", "/v1/models/classify/predict", None, 404, "no such endpoint"),
    ("GET", "/nowhere", None, 404, "Not Found"),
    ("POST", "/v1/models/classify/predict", b"{not json", 422, "JSON"),
    ("POST", "/v1/models/classify/predict", b"", 422, "body"),
    ("POST", "/v1/models/classify/predict", [1, 2], 422, "body"),
    ("POST", "/v1/models/classify/predict", {}, 422, "body.texts: Field required"),
    ("POST", "/v1/models/classify/predict", {"texts": []}, 422, "at least 1 item"),
    ("POST", "/v1/models/classify/predict", {"texts": "one string"}, 422, "list"),
    ("POST", "/v1/models/classify/predict", {"texts": [3]}, 422, "string"),
    ("POST", "/v1/models/classify/predict", {"texts": ["a"], "extra": 1}, 422, "Extra inputs"),
    ("POST", "/v1/models/classify/predict", {"texts": ["/etc/passwd"]}, 200, ""),
    ("POST", "/v1/models/lm/predict", {"prime": "ZQX"}, 400, "prime"),
    ("POST", "/v1/models/lm/predict", {"greedy": True, "top_k": 3}, 400, "greedy"),
    ("POST", "/v1/models/lm/predict", {"temperature": -1}, 422, "temperature"),
    ("POST", "/v1/models/lm/predict", {"top_p": 0}, 422, "top_p"),
    ("POST", "/v1/models/lm/predict", {"seed": -5}, 422, "seed"),
    ("POST", "/v1/models/lm/predict", {"length": "many"}, 422, "integer"),
    ("POST", "/v1/models/lm/generate?stream=maybe", {}, 422, "stream"),
    ("POST", "/v1/models/lm/generate?stream=true", {"prime": "ZQX"}, 400, "prime"),
    ("POST", "/v1/models/translate/predict", {"sentences": ["a"], "beam": 0}, 422, "beam"),
    ("POST", "/v1/models/translate/predict", {"texts": ["a"]}, 422, "sentences"),
    ("POST", "/v1/models/forecast/predict", {"values": [1.0, 2.0]}, 400, "too few"),
    ("POST", "/v1/models/forecast/predict", {"values": [1.0]}, 422, "at least 2"),
    ("POST", "/v1/models/forecast/predict", {"values": ["a", "b"]}, 422, "number"),
    ("POST", "/v1/models/forecast/predict", {"values": "/etc/passwd"}, 422, "values"),
    ("POST", "/v1/models/forecast/predict", b'{"values": [NaN, 1, 2]}', 400, ""),
    ("POST", "/v1/models/forecast/predict",
     {"values": [1.0] * 20, "timestamps": ["2024-01-01"]}, 400, "one per value"),
    ("POST", "/v1/models/forecast/predict",
     {"values": [1.0] * 20, "timestamps": ["not a date"] * 3}, 422, "datetime"),
    ("POST", "/v1/models/forecast/predict", {"values": [[1.0, 2.0]] * 20}, 400, ""),
    ("POST", "/v1/models/forecast/predict",
     {"values": [[1.0]] * 20, "timestamps": ["2024-01-01"] * 20}, 400, "one target"),
]  # fmt: skip


@pytest.mark.parametrize("method,path,body,status,words", BAD_REQUESTS)
def test_bad_requests_get_a_clear_4xx_never_a_500(client, method, path, body, status, words):
    if isinstance(body, bytes):
        response = client.request(method, path, content=body,
                                  headers={"content-type": "application/json"})  # fmt: skip
    else:
        response = client.request(method, path, json=body)
    assert response.status_code == status, response.text
    if status != 200:
        message = error_of(response, status)
        assert words in message, message
        assert "Traceback" not in response.text


def test_no_cors_headers_by_default(client):
    response = client.options("/v1/models", headers={
        "Origin": "https://elsewhere.example", "Access-Control-Request-Method": "GET"})  # fmt: skip
    assert "access-control-allow-origin" not in response.headers


def test_a_task_without_an_endpoint_is_refused_at_start_up():
    other = ServedModel("pieces", SimpleNamespace(NAME="music"))
    with pytest.raises(UserError, match="cannot serve 'music' models yet"):
        create_app({"digits": other})


def test_non_finite_numbers_become_null_so_answers_stay_strict_json():
    value = {"loss": math.nan, "rows": [1.5, -math.inf, {"p": math.inf}], "n": 3}
    assert json_ready(value) == {"loss": None, "rows": [1.5, None, {"p": None}], "n": 3}
