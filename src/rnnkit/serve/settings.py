"""``ServeSettings``: where the server listens and the limits every request is held to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rnnkit.errors import UserError
from rnnkit.settings import Settings

__all__ = ["API_KEY_ENV", "ServeSettings"]

API_KEY_ENV = "RNNKIT_API_KEY"  # the environment variable an API key may come from


@dataclass
class ServeSettings(Settings):
    """How ``rnnkit serve`` listens and what it accepts.

    Args:
        host: the address to listen on; 127.0.0.1 (this machine only) unless you mean to
            expose the models, e.g. 0.0.0.0 behind a proxy.
        port: the TCP port to listen on.
        api_key: a key every /v1 request must send as the X-API-Key header (or
            "Authorization: Bearer KEY"); default: $RNNKIT_API_KEY, else none (no key asked).
        max_batch: the most texts, sentences, images or sequences in one request.
        max_text_length: the most characters of one text, sentence or prime.
        max_length: the most tokens one request may generate (a language model's length, a
            translation's or caption's max_length) and the most steps of a forecast.
        max_steps: the most steps of one sequence to regress.
        max_request_bytes: the largest request body, in bytes (larger: 413).
        max_image_pixels: the most pixels (width x height) of an uploaded image.
        max_beam: the widest beam a translation or caption request may ask for.
        timeout: seconds one request may compute before it is answered with 504.
        max_batch_size: dynamic batching: the most texts, sequences or sentences one call of a
            classifier, regressor or translator joins from concurrent requests (a translator's:
            at most its batch_size); 1: each request alone.
        max_batch_delay_ms: dynamic batching: how long, in milliseconds, the first request of a
            batch waits for others to join it (those that come while the model is busy join
            the next batch anyway); 0: no wait.
        workers: server processes (uvicorn workers) sharing the port, each with its own copy
            of the models, its own locks and batchers; give each few threads (e.g.
            OMP_NUM_THREADS=1) so that they do not compete for the cores.
    """

    host: str = "127.0.0.1"
    port: int = 8000
    api_key: str | None = None
    max_batch: int = 64
    max_text_length: int = 5000
    max_length: int = 2000
    max_steps: int = 5000
    max_request_bytes: int = 8_000_000
    max_image_pixels: int = 40_000_000
    max_beam: int = 16
    timeout: float = 60.0
    max_batch_size: int = 32
    max_batch_delay_ms: float = 2.0
    workers: int = 1

    KIND: ClassVar[str] = "serve setting"
    RANGES: ClassVar[dict[str, str]] = {
        "port": "[0, 65535]",
        "max_batch": "[1, inf)",
        "max_text_length": "[1, inf)",
        "max_length": "[1, inf)",
        "max_steps": "[1, inf)",
        "max_request_bytes": "[1, inf)",
        "max_image_pixels": "[1, inf)",
        "max_beam": "[1, inf)",
        "timeout": "(0, inf)",
        "max_batch_size": "[1, inf)",
        "max_batch_delay_ms": "[0, inf)",
        "workers": "[1, inf)",
    }

    def check(self) -> None:
        if self.api_key is not None and not self.api_key.strip():
            raise UserError("api_key must not be empty; expected a key, or none for no key")
