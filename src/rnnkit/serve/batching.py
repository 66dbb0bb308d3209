"""Dynamic batching: concurrent requests to one model joined into one call of its task's verb.

A request's items (a classifier's texts) wait in the model's queue; a batch starts when the
queue holds ``max_items`` items, when the first waiting request has waited ``max_delay``
seconds, or — while a batch runs — as soon as that batch ends, taking what came meanwhile. One
batch is one call ``task.verb(items of every joined request, **options)`` in a worker thread
(under the model's lock), whose rows are handed back to each request in order: request ``r``
with ``n_r`` items gets rows ``[s_r, s_r + n_r)``, ``s_r = n_1 + ... + n_{r-1}``. Only requests
with the same options and the same group (what else a request's rows depend on, e.g. a
translation's default length limit) join one batch. A batch that fails is run again request by
request, so a bad request's error reaches that request alone.

All of the queue's state is touched on the event loop only; the verb runs in a worker thread.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import anyio.to_thread

from rnnkit.serve.models import ServedModel

__all__ = ["Batcher"]


@dataclass
class Waiting:
    """One request in the queue: its items, its options, the future of its rows and its group
    (only requests of one group join a batch)."""

    items: list[Any]
    options: dict[str, Any]
    rows: asyncio.Future
    group: Any = None


class Batcher:
    """Joins concurrent ``submit(items)`` calls to ``model``'s ``verb`` into batches of at most
    ``max_items`` items (a request larger than that runs alone), waiting at most
    ``max_delay`` seconds for a batch to fill.

    Attributes:
        calls: how many times the verb has run (batches, and requests rerun alone).
    """

    def __init__(self, model: ServedModel, verb: str, max_items: int, max_delay: float) -> None:
        self.model, self.verb = model, verb
        self.max_items, self.max_delay = max_items, max_delay
        self.calls = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        self.waiting: list[Waiting] = []
        self.busy = False
        self.timer: asyncio.TimerHandle | None = None
        self.running: asyncio.Task | None = None

    async def submit(
        self, items: list[Any], options: dict[str, Any] | None = None, group: Any = None
    ) -> list[Any]:
        """The verb's rows of ``items`` (one per item), computed in a batch with whatever other
        requests of the same options and ``group`` come within the window. Cancelling the wait
        (a timeout) drops the request's rows, not the batch."""
        loop = asyncio.get_running_loop()
        if loop is not self.loop:  # a new server loop (e.g. a test client's): a fresh queue
            self.loop, self.waiting, self.busy, self.timer = loop, [], False, None
        rows = loop.create_future()
        self.waiting.append(Waiting(list(items), dict(options or {}), rows, group))
        self.schedule()
        return await rows

    def schedule(self) -> None:
        """Start a batch now if one is full or nothing should wait; else set the timer."""
        if self.busy or not self.waiting:
            return
        if self.max_delay <= 0 or sum(len(w.items) for w in self.waiting) >= self.max_items:
            self.start()
        elif self.timer is None:
            self.timer = self.loop.call_later(self.max_delay, self.start)

    def start(self) -> None:
        """Take the next batch off the queue and run it."""
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.waiting = [w for w in self.waiting if not w.rows.done()]  # timed out meanwhile
        if self.busy or not self.waiting:
            return
        batch, rest, size = [], [], 0
        for waiting in self.waiting:
            first = self.waiting[0]
            joins = waiting.options == first.options and waiting.group == first.group
            if joins and (not batch or size + len(waiting.items) <= self.max_items):
                batch.append(waiting)
                size += len(waiting.items)
            else:
                rest.append(waiting)
        self.waiting, self.busy = rest, True
        self.running = self.loop.create_task(self.run(batch))

    async def run(self, batch: list[Waiting]) -> None:
        """One call for the whole batch; on an error, one call per request."""
        try:
            items = [item for waiting in batch for item in waiting.items]
            try:
                rows = await self.forward(items, batch[0].options)
            except Exception as error:  # noqa: BLE001 - handed to the requests, never lost
                if len(batch) == 1:
                    settle(batch[0], error=error)
                    return
                for waiting in batch:
                    try:
                        settle(waiting, await self.forward(waiting.items, waiting.options))
                    except Exception as alone:  # noqa: BLE001 - this request's own error
                        settle(waiting, error=alone)
                return
            start = 0
            for waiting in batch:
                settle(waiting, rows[start : start + len(waiting.items)])
                start += len(waiting.items)
        finally:
            self.busy = False
            if self.waiting:  # they came while this batch ran: they have waited long enough
                self.start()

    async def forward(self, items: list[Any], options: dict[str, Any]) -> list[Any]:
        self.calls += 1
        rows = await anyio.to_thread.run_sync(lambda: self.model.call(self.verb, items, **options))
        if len(rows) != len(items):
            raise RuntimeError(f"{self.verb} gave {len(rows)} rows for {len(items)} items")
        return rows


def settle(waiting: Waiting, rows: list[Any] | None = None, error: Exception | None = None) -> None:
    """Hand a request its rows or its error, unless it stopped waiting (timed out)."""
    if waiting.rows.done():
        return
    if error is not None:
        waiting.rows.set_exception(error)
    else:
        waiting.rows.set_result(rows)
