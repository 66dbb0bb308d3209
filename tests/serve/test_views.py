"""The endpoints that show inside a model, against the tiny real models: a classifier's
``/explain`` (each token's contribution by occlusion or gradient x input), a translator's
``/attention`` (one row of weights over the source per translated piece, each summing to 1) and a
language model's ``/activations`` (its units after each token); good requests, bad ones and the
limits."""

import pytest

from rnnkit.serve.schemas import MAX_UNITS


def post(client, path, body):
    return client.post(f"/v1/models/{path}", json=body)


def error(response, status):
    assert response.status_code == status, response.text
    return response.json()["error"]["message"]


# -- a classifier's explanations -------------------------------------------------------------


def test_explain_gives_the_prediction_and_each_tokens_contribution(client, models):
    texts = ["good film 3", "bad, bad film"]
    response = post(client, "classify/explain", {"texts": texts})
    assert response.status_code == 200, response.text
    rows = response.json()["predictions"]
    assert rows == models["classify"].task.explain(texts)  # what the task says, unchanged
    predicted = post(client, "classify/predict", {"texts": texts}).json()["predictions"]
    for row, plain in zip(rows, predicted):
        assert row["label"] == plain["label"]
        assert row["probabilities"] == pytest.approx(plain["probabilities"], abs=1e-6)
    assert rows[1]["tokens"] == ["bad", ",", "bad", "film"]
    assert all(len(r["contributions"]) == len(r["tokens"]) for r in rows)
    assert all(-1 <= c <= 1 for r in rows for c in r["contributions"])
    by_gradient = post(client, "classify/explain", {"texts": texts, "method": "gradient"})
    assert by_gradient.json()["predictions"] == models["classify"].task.explain(
        texts, method="gradient"
    )


def test_explain_holds_requests_to_the_limits(client, limits):
    assert "at least 1" in error(post(client, "classify/explain", {"texts": []}), 422)
    many = {"texts": ["good film"] * (limits.max_batch + 1)}
    assert f"at most {limits.max_batch}" in error(post(client, "classify/explain", many), 422)
    long = {"texts": ["x" * (limits.max_text_length + 1)]}
    assert "at most" in error(post(client, "classify/explain", long), 422)
    assert error(post(client, "classify/explain", {"texts": ["a"], "extra": 1}), 422)
    assert error(post(client, "classify/explain", {"texts": "good film"}), 422)
    message = error(post(client, "classify/explain", {"texts": ["a"], "method": "lime"}), 422)
    assert "'occlusion' or 'gradient'" in message
    assert "no such endpoint" in error(post(client, "lm/explain", {"texts": ["a"]}), 404)


# -- a translator's attention -----------------------------------------------------------------


def test_attention_has_a_row_over_the_source_for_each_translated_piece(client, models):
    body = {"sentence": "ein hund 3", "beam": 2}
    response = post(client, "translate/attention", body)
    assert response.status_code == 200, response.text
    result = response.json()
    assert set(result) == {"input", "output", "score", "source", "target", "weights"}
    translated = post(client, "translate/predict", {"sentences": ["ein hund 3"], "beam": 2})
    (row,) = translated.json()["predictions"]
    assert (result["output"], result["score"]) == (row["output"], row["score"])
    assert result["source"][-1] == "<eos>" and len(result["source"]) == 4  # ein hund 3 <eos>
    assert len(result["weights"]) == len(result["target"]) >= 1
    for weights in result["weights"]:
        assert len(weights) == len(result["source"])
        assert all(0 <= w <= 1 for w in weights)
        assert sum(weights) == pytest.approx(1, abs=5e-4)  # softmax rows, rounded to 4 places


def test_attention_holds_requests_to_the_limits(client, limits):
    too_wide = {"sentence": "ein hund", "beam": limits.max_beam + 1}
    assert f"less than or equal to {limits.max_beam}" in error(
        post(client, "translate/attention", too_wide), 422
    )
    too_long = {"sentence": "ein hund", "max_length": limits.max_length + 1}
    assert error(post(client, "translate/attention", too_long), 422)
    assert error(post(client, "translate/attention", {"sentences": ["ein hund"]}), 422)
    long = {"sentence": "x" * (limits.max_text_length + 1)}
    assert "at most" in error(post(client, "translate/attention", long), 422)


# -- a language model's activations -----------------------------------------------------------


def test_activations_give_each_units_value_after_each_token(client, models):
    body = {"text": "the cat sat", "units": [3, 0], "top": 2}
    response = post(client, "lm/activations", body)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["tokens"] == list("the cat sat") and result["units"] == [3, 0]
    assert (result["level"], result["layer"], result["state"]) == ("char", 1, "cell")
    assert result["hidden_size"] == 4
    assert len(result["activations"]) == len(result["tokens"])
    assert all(len(row) == 2 and all(-1 <= v <= 1 for v in row) for row in result["activations"])
    assert len(result["guesses"]) == len(result["tokens"])
    for guesses in result["guesses"]:
        assert len(guesses) == 2 and guesses[0][1] >= guesses[1][1]
    hidden = post(client, "lm/activations", {"text": "the cat", "state": "hidden"}).json()
    assert hidden["state"] == "hidden" and len(hidden["units"]) == 4  # 6 asked, 4 there
    assert hidden["activations"] != result["activations"][:7]


def test_activations_are_the_states_the_model_steps_through(models):
    """The rows are the LSTM's tanh(c_t) of each prefix: stepping the model token by token over
    the same text gives the same cell state at each step."""
    import torch

    task = models["lm"].task
    result = task.activations("the cat", units=[0, 1, 2, 3])
    prep = task.preprocessing
    ids = torch.tensor([prep.warmup + prep.vocab.encode(list("the cat"))])  # (1, W + T)
    with torch.no_grad():
        state = None
        cells = []
        for t in range(ids.shape[1]):
            _, state = task.model(ids[:, t : t + 1], state)
            cells.append(torch.tanh(state[1][-1, 0]))  # (H,)
    expected = torch.stack(cells[len(prep.warmup) :])  # (T, H)
    assert torch.tensor(result["activations"]) == pytest.approx(expected, abs=1e-4)


def test_activations_hold_requests_to_the_limits_and_the_model(client, limits):
    assert "hidden size 4" in error(post(client, "lm/activations",
                                         {"text": "the", "units": [9]}), 400)  # fmt: skip
    assert "1-layer" in error(post(client, "lm/activations", {"text": "the", "layer": 2}), 400)
    assert "empty" in error(post(client, "lm/activations", {"text": ""}), 400)
    assert "never saw" in error(post(client, "lm/activations", {"text": "ZQX"}), 400)
    assert error(post(client, "lm/activations", {"text": "the", "layer": 0}), 422)
    assert error(post(client, "lm/activations", {"text": "the", "state": "gate"}), 422)
    assert error(post(client, "lm/activations", {"text": "the", "units": [-1]}), 422)
    many = {"text": "the", "units": list(range(MAX_UNITS + 1))}
    assert f"at most {MAX_UNITS}" in error(post(client, "lm/activations", many), 422)
    long = {"text": "t" * (limits.max_text_length + 1)}
    assert "at most" in error(post(client, "lm/activations", long), 422)


def test_the_schema_documents_each_new_endpoint(client):
    schema = client.get("/openapi.json").json()
    paths, components = schema["paths"], schema["components"]["schemas"]
    for path, field in (("classify/explain", "texts"), ("translate/attention", "sentence"),
                        ("lm/activations", "text")):  # fmt: skip
        operation = paths[f"/v1/models/{path}"]["post"]
        assert {"400", "413", "422", "504"} <= set(operation["responses"])
        schema = operation["requestBody"]["content"]["application/json"]["schema"]
        name = schema["$ref"].rsplit("/", 1)[-1]
        assert field in components[name]["required"], components[name]
    assert components["ActivationsRequest"]["properties"]["units"]["anyOf"][0]["maxItems"] == (
        MAX_UNITS
    )
