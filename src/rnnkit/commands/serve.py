"""Serve trained models over HTTP: a FastAPI app run by uvicorn, each run folder loaded once at
start-up and served under its folder's name (or --name NAME=DIR).

A web page at / (open http://127.0.0.1:8000/ in a browser) has a panel for each model: classify
a text, generate text as it streams, translate, forecast, caption an uploaded image, classify
an uploaded WAV recording.

Endpoints: GET /health; GET /v1/models (each model's task, settings and metrics);
POST /v1/models/NAME/predict with the task's JSON body — classify {"texts": [...]}, lm
{"prime", "length", "temperature", "top_k", "top_p", "seed"}, translate {"sentences": [...],
"beam"}, forecast {"values": [...], "timestamps": [...], "steps"}, caption {"images": [base64
files]}; POST /v1/models/NAME/generate?stream=true (a language model's text as server-sent
events); POST /v1/models/NAME/caption (a multipart image upload); speech {"audio": [base64
WAV files]} and POST /v1/models/NAME/classify (a multipart WAV upload). The OpenAPI schema is
at /openapi.json and the interactive docs at /docs.

Throughput: concurrent classify, regress and translate requests are joined into one call
(dynamic batching): --max-batch-size inputs at most, the first waiting --max-batch-delay-ms for
others (--max-batch-size 1: each request alone); translations join only when the result cannot
change (the same options and, without max_length, the same longest source). --workers N
starts N server processes on the port, each loading its own copy of the models (N times the
memory) with its own locks and batchers;
give them one thread each (OMP_NUM_THREADS=1) unless the machine has cores to spare.

It listens on 127.0.0.1 (this machine only) unless --host says otherwise; with --api-key (or
$RNNKIT_API_KEY) every /v1 request must send the key as the X-API-Key header or a bearer
token. Bad requests get a JSON error: 400 (the task refused the input), 401 (no or a wrong
key), 404 (no such model), 413 (body over --max-request-bytes), 422 (a body outside its schema
or the limits), 504 (over --timeout).

Examples:
  rnnkit serve runs/imdb runs/shakespeare
  rnnkit serve --name sentiment=runs/imdb --port 8080 --api-key "$(openssl rand -hex 16)"
  OMP_NUM_THREADS=1 rnnkit serve runs/imdb --workers 2 --max-batch-delay-ms 5
  curl -s localhost:8000/v1/models/imdb/predict -H 'content-type: application/json' \\
       -d '{"texts": ["A wonderful film."]}'
"""

from __future__ import annotations

import argparse
import logging
import os

from rnnkit.commands.options import add_settings_options, given
from rnnkit.errors import UserError
from rnnkit.serve import API_KEY_ENV, ServeSettings, load_models

__all__ = ["add_arguments", "run"]

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("directories", nargs="*", metavar="DIR",
                        help="run folders to serve, each under its folder's name")  # fmt: skip
    parser.add_argument("--name", action="append", default=[], metavar="NAME=DIR",
                        help="serve the run folder DIR under NAME (repeatable)")  # fmt: skip
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps (default: auto)")
    add_settings_options(parser, ServeSettings, ServeSettings().to_dict())


def named_directories(pairs: list[str]) -> list[tuple[str, str]]:
    """``NAME=DIR`` strings as (name, directory) pairs."""
    out = []
    for pair in pairs:
        name, sep, directory = pair.partition("=")
        if not sep or not name or not directory:
            raise UserError(f"--name {pair!r}: expected NAME=DIR, e.g. --name imdb=runs/imdb")
        out.append((name, directory))
    return out


def run(args: argparse.Namespace) -> dict:
    options = given(args, [ServeSettings])
    if "api_key" not in options and os.environ.get(API_KEY_ENV):
        options["api_key"] = os.environ[API_KEY_ENV]
    settings = ServeSettings.from_dict(options)
    try:
        import uvicorn

        from rnnkit.serve.app import WORKER_ENV, create_app, worker_environment
    except ImportError:
        raise UserError(
            "rnnkit serve needs uvicorn and fastapi: pip install 'rnnkit[serve]'"
        ) from None
    models = load_models(args.directories, named_directories(args.name), device=args.device)
    app = create_app(models, settings)
    logger.info(
        "serving %s at http://%s:%d (docs at /docs)%s",
        ", ".join(f"{name} ({m.task.NAME})" for name, m in models.items()),
        settings.host, settings.port, "; API key required" if settings.api_key else "",
    )  # fmt: skip
    if settings.workers == 1:
        uvicorn.run(app, host=settings.host, port=settings.port, log_level="info")
        return {}
    # uvicorn starts each worker process from an import string: each loads the models again,
    # the folders checked and named here, and holds its own locks and batchers
    os.environ[WORKER_ENV] = worker_environment(models, settings, args.device)
    del app, models
    uvicorn.run("rnnkit.serve.app:worker_app", factory=True, workers=settings.workers,
                host=settings.host, port=settings.port, log_level="info")  # fmt: skip
    return {}
