"""``rnnkit serve``: trained models over HTTP — a FastAPI app (run by uvicorn) over the task
objects of ``rnnkit.tasks``, loaded once at start-up. The server never re-implements a task: each
endpoint checks its body against a schema with the server's limits and calls the task's verb.

    models = load_models(["runs/imdb", "runs/shakespeare"])
    app = create_app(models, ServeSettings(api_key="..."))

FastAPI is imported only when ``create_app`` is first used (``rnnkit serve --help`` works
without it).
"""

from typing import Any

from rnnkit.serve.models import ServedModel, describe, load_models
from rnnkit.serve.settings import API_KEY_ENV, ServeSettings

__all__ = ["API_KEY_ENV", "ServeSettings", "ServedModel", "create_app", "describe", "load_models"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from rnnkit.serve.app import create_app

        return create_app
    raise AttributeError(f"module 'rnnkit.serve' has no attribute {name!r}")
