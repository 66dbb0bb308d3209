"""Dynamic batching: concurrent classify requests are joined into fewer forward passes (counted
on the task) and each gets what it gets alone; the batch size bound, a bad request among good
ones, a request that times out while its batch runs, and batching turned off."""

import asyncio
import threading
from types import SimpleNamespace

import httpx
import pytest

from rnnkit.errors import UserError
from rnnkit.serve import ServedModel, ServeSettings, create_app
from rnnkit.serve.batching import Batcher

# texts of different lengths, so that a batch pads
TEXTS = [[f"good film {i}"] if i % 3 else [f"bad film {i} " * (1 + i % 4), f"good {i}"]
         for i in range(12)]  # fmt: skip


@pytest.fixture
def forwards(models, monkeypatch):
    """The number of texts of each call of the classifier's ``predict_rows``."""
    task = models["classify"].task
    calls, real = [], task.predict_rows

    def counted(texts, **options):
        calls.append(len(texts))
        return real(texts, **options)

    monkeypatch.setattr(task, "predict_rows", counted)
    return calls


def post_all(app, bodies, name="classify"):
    """The answers to ``bodies`` posted all at once (concurrently) to ``name``'s predict."""

    async def send():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await asyncio.gather(
                *(client.post(f"/v1/models/{name}/predict", json=body) for body in bodies)
            )

    return asyncio.run(send())


def test_concurrent_requests_share_forwards_and_get_what_they_get_alone(models, forwards):
    bodies = [{"texts": texts} for texts in TEXTS]
    alone_app = create_app(models, ServeSettings(max_batch_size=1))
    assert alone_app.state.batchers == {}  # batching off
    alone = []
    for body in bodies:  # one request at a time: one forward each
        (response,) = post_all(alone_app, [body])
        alone.append(response.json()["predictions"])
    assert forwards == [len(texts) for texts in TEXTS]
    forwards.clear()

    batched_app = create_app(models, ServeSettings(max_batch_size=64, max_batch_delay_ms=200))
    together = [r.json()["predictions"] for r in post_all(batched_app, bodies)]
    total = sum(len(texts) for texts in TEXTS)
    assert sum(forwards) == total and len(forwards) < len(bodies) / 2, forwards
    assert batched_app.state.batchers["classify"].calls == len(forwards)
    for mine, reference in zip(together, alone):
        assert [row["input"] for row in mine] == [row["input"] for row in reference]
        assert [row["label"] for row in mine] == [row["label"] for row in reference]
        for row, ref in zip(mine, reference):
            assert row["probabilities"] == pytest.approx(ref["probabilities"], abs=1e-5)


def test_a_batch_holds_at_most_max_batch_size_texts(models, forwards):
    app = create_app(models, ServeSettings(max_batch_size=5, max_batch_delay_ms=200))
    bodies = [{"texts": [f"good film {i}", f"bad film {i}"]} for i in range(6)]
    bodies.append({"texts": [f"film {i}" for i in range(8)]})  # larger than a batch: alone
    responses = post_all(app, bodies)
    assert all(r.status_code == 200 for r in responses)
    assert sum(forwards) == 20 and 8 in forwards
    assert all(n <= 5 for n in forwards if n != 8) and len(forwards) == 4, forwards
    assert [len(r.json()["predictions"]) for r in responses] == [2] * 6 + [8]


def fake_model(verb):
    return ServedModel("fake", SimpleNamespace(NAME="classify", predict_rows=verb))


def test_a_bad_request_in_a_batch_fails_alone():
    calls = []

    def shout(texts):
        calls.append(list(texts))
        if "bad" in texts:
            raise UserError("'bad' is not a text this model reads; expected another")
        return [text.upper() for text in texts]

    batcher = Batcher(fake_model(shout), "predict_rows", max_items=10, max_delay=0.2)

    async def scenario():
        return await asyncio.gather(
            batcher.submit(["a", "b"]), batcher.submit(["bad"]), batcher.submit(["c"]),
            return_exceptions=True,
        )  # fmt: skip

    first, second, third = asyncio.run(scenario())
    assert first == ["A", "B"] and third == ["C"]
    assert isinstance(second, UserError)
    assert calls == [["a", "b", "bad", "c"], ["a", "b"], ["bad"], ["c"]]  # the batch, then alone


def test_a_request_that_times_out_leaves_its_batch_and_the_next_one_working():
    release = threading.Event()

    def slow(texts):
        release.wait(5)
        return [len(text) for text in texts]

    app = create_app({"fake": fake_model(slow)},
                     ServeSettings(timeout=0.2, max_batch_delay_ms=1))  # fmt: skip

    async def scenario():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            late = await client.post("/v1/models/fake/predict", json={"texts": ["abc"]})
            release.set()  # the timed-out batch ends; its answer has no one to go to
            return late, await client.post("/v1/models/fake/predict",
                                           json={"texts": ["abcd", "ef"]})  # fmt: skip

    late, next_one = asyncio.run(scenario())
    assert late.status_code == 504
    assert "timeout of 0.2 s" in late.json()["error"]["message"]
    assert next_one.status_code == 200 and next_one.json() == {"predictions": [4, 2]}


@pytest.mark.parametrize("option,value,words", [
    ("max_batch_size", 0, "max_batch_size must be at least 1, got 0"),
    ("max_batch_delay_ms", -1, "max_batch_delay_ms must be >= 0, got -1.0"),
])  # fmt: skip
def test_batching_settings_are_checked(option, value, words):
    with pytest.raises(UserError, match=words):
        ServeSettings(**{option: value})


def test_concurrent_translations_share_calls_and_get_what_they_get_alone(models, monkeypatch):
    """Sentences join one ``translate`` call only with requests of the same options and, with
    no max_length, the same longest source (the default limit is twice a batch's longest source
    plus 10: joined with longer sentences, the tiny model's translations would run longer)."""
    task = models["translate"].task
    calls, real = [], task.translate

    def counted(sentences, **options):
        calls.append(len(sentences))
        return real(sentences, **options)

    monkeypatch.setattr(task, "translate", counted)
    bodies = [
        {"sentences": ["ein hund 3", "hund"]},  # longest source: 4 tokens (with <eos>)
        {"sentences": ["ein hund 5"]},
        {"sentences": ["hund"]},  # 2 tokens: its own call
        {"sentences": ["ein hund hund 2 3", "ein"]},  # 6 tokens: its own call
        {"sentences": ["ein hund 7", "ein"]},
        {"sentences": ["ein", "ein hund hund 2 3 4"], "max_length": 9},  # a limit: joins any
        {"sentences": ["hund 1"], "max_length": 9},
        {"sentences": ["ein hund 3"], "beam": 1},  # other options: its own call
    ]
    alone = [real(**body) for body in bodies]
    calls.clear()
    app = create_app(models, ServeSettings(max_batch_size=64, max_batch_delay_ms=200))
    responses = post_all(app, bodies, name="translate")
    assert [r.status_code for r in responses] == [200] * len(bodies)
    assert sorted(calls) == [1, 1, 2, 3, 5], calls  # 8 requests, 5 calls
    for response, reference in zip(responses, alone):
        assert response.json()["predictions"] == reference
    assert len({row["output"] for rows in alone[:5] for row in rows}) > 1  # limits differ


def test_a_translation_batch_holds_at_most_the_translators_batch_size(models, monkeypatch):
    task = models["translate"].task
    calls, real = [], task.translate

    def counted(sentences, **options):
        calls.append(len(sentences))
        return real(sentences, **options)

    monkeypatch.setattr(task, "translate", counted)
    monkeypatch.setattr(task.settings["data"], "batch_size", 3)
    app = create_app(models, ServeSettings(max_batch_size=64, max_batch_delay_ms=200))
    assert app.state.batchers["translate"].max_items == 3
    bodies = [{"sentences": [f"ein hund {i}", "ein"]} for i in range(3)]
    responses = post_all(app, bodies, name="translate")
    assert [r.status_code for r in responses] == [200] * 3 and calls == [2, 2, 2], calls
    assert [r.json()["predictions"] for r in responses] == [real(**body) for body in bodies]
