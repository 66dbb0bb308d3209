"""Server-sent events of a language model's text as it is generated: the task's ``generate``
runs in a worker thread and hands each piece to the event loop through its ``on_text``
callback; the stream ends with the whole result (``event: done``) or an error
(``event: error``). A client that goes away, or the timeout, stops the generation."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import AsyncIterator
from typing import Any

from fastapi.responses import JSONResponse, StreamingResponse

from rnnkit.errors import UserError
from rnnkit.serve.errors import error_response
from rnnkit.serve.handlers import Stopped, generation_options
from rnnkit.serve.models import ServedModel, json_ready
from rnnkit.serve.settings import ServeSettings

__all__ = ["stream_generation", "sse"]

logger = logging.getLogger(__name__)


def sse(event: str, data: Any) -> str:
    """One server-sent event: ``event: NAME`` and its data as one line of JSON."""
    return f"event: {event}\ndata: {json.dumps(json_ready(data))}\n\n"


async def stream_generation(
    model: ServedModel, body: dict[str, Any], limits: ServeSettings
) -> StreamingResponse | JSONResponse:
    """The generation as ``text/event-stream``: ``token`` events (``{"text": piece}``), then
    ``done`` (what ``generate`` returns) or ``error`` (``{"status", "message"}``). An error
    before the first piece (a bad prime, the timeout) is a plain JSON error response."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    stop = threading.Event()

    def put(kind: str, value: Any) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, (kind, value))

    def work() -> None:
        try:
            options = generation_options(model, body, limits, stop,
                                         on_text=lambda piece: put("token", piece))  # fmt: skip
            put("done", model.call("generate", **options))
        except Stopped:
            pass
        except UserError as error:
            put("error", {"status": 400, "message": str(error)})
        except Exception:  # noqa: BLE001 - the log has it; the client gets a plain message
            logger.exception("streaming generation with %s failed", model.name)
            put("error", {"status": 500, "message": "internal server error"})

    threading.Thread(target=work, name=f"rnnkit-generate-{model.name}", daemon=True).start()
    deadline = loop.time() + limits.timeout

    async def next_event() -> tuple[str, Any]:
        try:
            return await asyncio.wait_for(queue.get(), max(deadline - loop.time(), 0.0))
        except asyncio.TimeoutError:
            stop.set()
            return "error", {"status": 504, "message": timeout_message(limits)}

    first = await next_event()
    if first[0] == "error":
        stop.set()
        return error_response(first[1]["status"], first[1]["message"])

    async def events() -> AsyncIterator[str]:
        kind, value = first
        try:
            while True:
                if kind == "token":
                    yield sse("token", {"text": value})
                else:
                    yield sse(kind, value)
                    return
                kind, value = await next_event()
        finally:
            stop.set()  # also when the client went away: the worker stops at its next piece

    return StreamingResponse(
        events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )


def timeout_message(limits: ServeSettings) -> str:
    return (
        f"the request took longer than the server's timeout of {limits.timeout:g} s; expected a "
        "smaller request (fewer inputs, a shorter generation)"
    )
