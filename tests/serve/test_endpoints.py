"""Each endpoint with good requests against tiny real models: health, the model list, every
task's predict, a language model's generate (plain and streamed), the OpenAPI schema."""

import json
import os

import pytest


def test_health_needs_nothing_and_lists_the_models(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "models": ["classify", "lm", "translate", "forecast"],
        "worker": os.getpid(),  # the process that answered (rnnkit serve --workers N)
    }


def test_models_list_task_settings_and_metrics_without_paths(client):
    listed = {m["name"]: m for m in client.get("/v1/models").json()["models"]}
    assert {name: m["task"] for name, m in listed.items()} == {
        "classify": "classify", "lm": "lm", "translate": "translate", "forecast": "forecast"
    }  # fmt: skip
    classify = listed["classify"]
    assert classify["settings"]["model"]["hidden"] == 4
    assert "source" not in classify["settings"]["data"]  # a path on the server's machine
    assert "val_accuracy" in json.dumps(classify["metrics"])
    assert client.get("/v1/models/lm").json()["settings"]["data"]["level"] == "char"


def test_classify_gives_labels_and_probabilities(client):
    texts = ["good film 3", "bad film 7"]
    response = client.post("/v1/models/classify/predict", json={"texts": texts})
    assert response.status_code == 200, response.text
    rows = response.json()["predictions"]
    assert [row["input"] for row in rows] == texts
    for row in rows:
        assert row["label"] in ("good", "bad")
        assert set(row["probabilities"]) == {"good", "bad"}
        assert sum(row["probabilities"].values()) == pytest.approx(1, abs=1e-4)
        assert row["label"] == max(row["probabilities"], key=row["probabilities"].get)


def test_lm_generates_the_same_text_for_the_same_seed(client):
    body = {"prime": "the ", "length": 30, "temperature": 1.0, "seed": 3}
    first = client.post("/v1/models/lm/predict", json=body).json()
    again = client.post("/v1/models/lm/generate", json=body).json()
    assert first["input"] == "the " and len(first["output"]) == 30
    assert first["text"] == "the " + first["output"] and first["seed"] == 3
    assert again["output"] == first["output"]
    other = client.post("/v1/models/lm/predict", json={**body, "seed": 4}).json()
    assert other["output"] != first["output"]


def test_lm_generates_several_samples_in_one_request(client, limits):
    body = {"prime": "the ", "length": 20, "seed": 3, "samples": 3}
    many = client.post("/v1/models/lm/generate", json=body).json()
    assert many["samples"] == 3 and len(many["outputs"]) == 3 and "output" not in many
    assert many["texts"] == ["the " + out for out in many["outputs"]]
    alone = client.post("/v1/models/lm/generate", json={**body, "samples": 1, "seed": 4}).json()
    assert alone["output"] == many["outputs"][1]  # sample i: the text of seed + i
    streamed = client.post("/v1/models/lm/generate?stream=true", json=body)
    assert streamed.status_code == 400 and "samples 1 with stream=true" in streamed.text
    too_many = client.post("/v1/models/lm/generate", json={**body, "samples": limits.max_batch + 1})
    assert too_many.status_code == 422 and "samples" in too_many.text


def test_lm_default_length_is_capped_by_the_server(client, limits):
    result = client.post("/v1/models/lm/predict", json={"seed": 1, "greedy": True}).json()
    assert result["tokens"] == min(500, limits.max_length) and result["temperature"] == 0.0


def read_events(text):
    events = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def test_lm_streams_tokens_then_the_whole_result(client):
    body = {"prime": "the", "length": 25, "top_k": 5, "seed": 7}
    with client.stream("POST", "/v1/models/lm/generate?stream=true", json=body) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = read_events(response.read().decode())
    tokens = [data["text"] for kind, data in events if kind == "token"]
    assert len(tokens) == 25 and events[-1][0] == "done"
    done = events[-1][1]
    assert "".join(tokens) == done["output"]
    plain = client.post("/v1/models/lm/generate", json=body).json()
    assert plain["output"] == done["output"]


def test_translate_gives_translations_with_scores(client):
    body = {"sentences": ["ein hund 3", "ein hund 5"], "beam": 2, "max_length": 6}
    rows = client.post("/v1/models/translate/predict", json=body).json()["predictions"]
    assert [row["input"] for row in rows] == body["sentences"]
    for row in rows:
        assert isinstance(row["output"], str) and row["score"] <= 0
        assert len(row["output"].split()) <= 6


def test_forecast_of_posted_values_with_intervals(client):
    values = [10 + (i % 12) / 12 for i in range(30)]
    result = client.post("/v1/models/forecast/predict", json={"values": values}).json()
    assert result["steps"] == 3 and result["targets"] == ["value"]
    assert "plot" not in result and "report" not in result
    for row in result["forecast"]:
        cell = row["value"]
        assert cell["lower"] <= cell["forecast"] <= cell["upper"]
    longer = client.post("/v1/models/forecast/predict", json={"values": values, "steps": 5})
    assert len(longer.json()["forecast"]) == 5


def test_forecast_with_timestamps_is_dated(client):
    pytest.importorskip("pandas")
    stamps = [f"2024-01-{day:02d}" for day in range(1, 21)]
    body = {"values": [10 + (i % 12) / 12 for i in range(20)], "timestamps": stamps}
    result = client.post("/v1/models/forecast/predict", json=body).json()
    assert [row["time"] for row in result["forecast"]] == [
        "2024-01-21T00:00:00", "2024-01-22T00:00:00", "2024-01-23T00:00:00"
    ]  # fmt: skip


def test_openapi_schema_has_every_route_and_request_model(client, limits):
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    served = {f"/v1/models/{name}/predict" for name in ("classify", "lm", "translate", "forecast")}
    assert {"/health", "/v1/models", "/v1/models/lm/generate", *served} <= set(paths)
    components = schema["components"]["schemas"]
    assert {"ClassifyRequest", "GenerateRequest", "TranslateRequest",
            "ForecastRequest"} <= set(components)  # fmt: skip
    texts = components["ClassifyRequest"]["properties"]["texts"]
    assert texts["maxItems"] == limits.max_batch and texts["minItems"] == 1
    assert texts["items"]["maxLength"] == limits.max_text_length
    assert components["ClassifyRequest"]["additionalProperties"] is False
    length = components["GenerateRequest"]["properties"]["length"]["anyOf"][0]
    assert length["maximum"] == limits.max_length
    predict = paths["/v1/models/classify/predict"]["post"]
    assert predict["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ClassifyRequest"
    }
    assert not any(path.startswith("/v1/models/{name}") for path in paths)  # the catch-all


def test_openapi_document_is_valid_openapi(client):
    validator = pytest.importorskip("openapi_spec_validator")
    schema = client.get("/openapi.json").json()
    validator.validate(schema)  # raises on any violation of the OpenAPI 3.1 specification
    assert schema["openapi"].startswith("3.1")
