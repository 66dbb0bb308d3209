"""Inference runs off the event loop: the server answers other requests while a generation
runs, and concurrent requests to one model give what they give one at a time."""

import asyncio

import httpx
import pytest

from rnnkit.serve import ServeSettings, create_app

# long enough that the test model cannot finish it before the health check (1,000 characters
# took under 50 ms on an AVX-512 CPU; 20,000 take about a second)
LONG = 20_000


@pytest.fixture(scope="module")
def app(models):
    return create_app(models, ServeSettings(max_length=100_000))


def test_health_answers_while_a_long_generation_runs(app):
    async def scenario():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            body = {"length": LONG, "seed": 0}
            generation = asyncio.create_task(client.post("/v1/models/lm/predict", json=body))
            await asyncio.sleep(0.05)  # the generation has started in its worker thread
            health = await client.get("/health")
            running = not generation.done()
            return health, running, await generation

    health, running, generation = asyncio.run(scenario())
    assert health.status_code == 200 and generation.status_code == 200
    assert running, "the health check waited for the generation: inference blocked the loop"
    assert len(generation.json()["output"]) == LONG


def test_concurrent_requests_give_what_they_give_one_at_a_time(app):
    requests = [("lm", {"prime": "the", "length": 40, "seed": s}) for s in range(4)] + [
        ("classify", {"texts": [f"good film {i}", f"bad film {i}"]}) for i in range(4)
    ]

    async def send_all():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await asyncio.gather(*(
                client.post(f"/v1/models/{name}/predict", json=body) for name, body in requests
            ))  # fmt: skip

    together = [r.json() for r in asyncio.run(send_all())]
    transport = httpx.ASGITransport(app=app)

    async def one_by_one():
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return [(await client.post(f"/v1/models/{n}/predict", json=b)).json()
                    for n, b in requests]  # fmt: skip

    alone = asyncio.run(one_by_one())
    strip = [{k: v for k, v in r.items() if k not in ("seconds", "tokens_per_second")}
             for r in together]  # fmt: skip
    assert strip == [{k: v for k, v in r.items() if k not in ("seconds", "tokens_per_second")}
                     for r in alone]  # fmt: skip
