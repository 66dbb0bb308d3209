"""``create_app``: the FastAPI app over loaded task objects.

Routes: ``GET /`` (the web page: ``rnnkit/serve/static``, read once at start-up; see
``add_page_routes``); ``GET /health``; ``GET /v1/models`` and ``GET /v1/models/{name}`` (task,
settings, metrics); ``POST /v1/models/{name}/predict`` with the model's task's body (see
``rnnkit.serve.schemas``); for a language model also ``POST /v1/models/{name}/generate``
(``?stream=true``: server-sent events), for a captioner ``POST /v1/models/{name}/caption`` (a
multipart image upload), for a speech classifier ``POST /v1/models/{name}/classify`` (a
multipart WAV upload); and to see inside a model (``rnnkit.serve.handlers.VIEWS``): a
classifier's ``POST .../explain`` (each token's contribution, by occlusion or gradient x
input), a language model's ``POST .../activations`` (its units over a text), a translator's
``POST .../attention`` (the attention weights of a translation). Each model's routes are its
own, so the OpenAPI schema gives each the exact body it takes.

Safety: the request body is read under a size limit (413) before any endpoint sees it; the
optional API key is compared in constant time (401); the inference runs in a worker thread
under the model's lock, within the timeout (504) — a classifier's, regressor's or translator's
concurrent requests joined into one call by dynamic batching (``rnnkit.serve.batching``;
``app.state.batchers``); every
failure is a JSON error (see ``rnnkit.serve.errors``). No CORS headers are sent.
"""

import functools
import hmac
import json
import os
import threading
from importlib import resources
from typing import Annotated, Any

import anyio
import anyio.to_thread
from fastapi import Depends, FastAPI, File, Form, HTTPException, Query, UploadFile
from fastapi.responses import Response
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from rnnkit import __version__
from rnnkit.errors import UserError
from rnnkit.serve.batching import Batcher
from rnnkit.serve.errors import install_error_handlers
from rnnkit.serve.handlers import (
    BATCH_GROUPS,
    BATCHED,
    HANDLERS,
    VIEWS,
    batch_limit,
    caption_files,
    check_image,
    read_audio,
    speech_rows,
)
from rnnkit.serve.limits import BodyLimit
from rnnkit.serve.models import ServedModel, describe, json_ready, load_models
from rnnkit.serve.schemas import ERROR_RESPONSES, request_models
from rnnkit.serve.settings import ServeSettings
from rnnkit.serve.stream import stream_generation, timeout_message

__all__ = ["WORKER_ENV", "create_app", "worker_app", "worker_environment"]

# what each worker process of ``rnnkit serve --workers N`` loads: JSON of worker_environment
WORKER_ENV = "RNNKIT_SERVE_WORKER"

API_KEY_HEADER = APIKeyHeader(name="X-API-Key", auto_error=False, description="the API key")
BEARER = HTTPBearer(auto_error=False, description="the API key as a bearer token")

# the web page's files (in rnnkit/serve/static) -> their media types
PAGE_FILES = {
    "index.html": "text/html; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
}
# a generation's answer: JSON, or with ?stream=true server-sent events (rnnkit.serve.stream)
STREAM_RESPONSE = {
    "description": "the generated text (JSON), or with ?stream=true its pieces as server-sent "
    "events",
    "content": {
        "text/event-stream": {
            "schema": {
                "type": "object",
                "description": 'one server-sent event: token ({"text"}), then done (the result) or '
                'error ({"error"}), its data one line of JSON',
                "properties": {
                    "event": {"enum": ["token", "done", "error"]},
                    "data": {"type": "string"},
                },
                "required": ["event", "data"],
            }
        }
    },
}
# the page loads nothing from elsewhere and runs no inline code; uploaded images and recordings
# show (and play) as blob:
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; "
    "media-src 'self' blob:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}


def create_app(models: dict[str, ServedModel], limits: ServeSettings | None = None) -> FastAPI:
    """The app serving ``models`` (name -> loaded model) within ``limits``."""
    limits = limits or ServeSettings()
    unserved = sorted({m.task.NAME for m in models.values()} - set(HANDLERS))
    if unserved:
        raise UserError(
            f"rnnkit serve cannot serve {unserved[0]!r} models yet; expected models of: "
            f"{', '.join(HANDLERS)}"
        )
    app = FastAPI(
        title="rnnkit",
        version=__version__,
        description="Trained rnnkit models over HTTP: "
        + ", ".join(f"{name} ({model.task.NAME})" for name, model in models.items()),  # fmt: skip
    )
    app.state.models, app.state.limits, app.state.batchers = models, limits, {}
    install_error_handlers(app)
    app.add_middleware(BodyLimit, max_bytes=limits.max_request_bytes)
    key = Depends(api_key_check(limits.api_key))
    requests = request_models(limits)

    add_page_routes(app)

    @app.get("/health", summary="whether the server is up (no API key needed)")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "models": list(models), "worker": os.getpid()}

    @app.get(
        "/v1/models", dependencies=[key], summary="the models served", responses=ERROR_RESPONSES
    )
    async def list_models() -> dict[str, Any]:
        return {"models": [describe(model) for model in models.values()]}

    for model in models.values():
        add_model_routes(app, model, requests, limits, key)

    @app.api_route("/v1/models/{name}/{rest:path}", methods=["GET", "POST", "PUT", "DELETE"],
                   include_in_schema=False, dependencies=[key])  # fmt: skip
    @app.api_route("/v1/models/{name}", methods=["GET", "POST", "PUT", "DELETE"],
                   include_in_schema=False, dependencies=[key])  # fmt: skip
    async def unknown(name: str, rest: str = "") -> None:
        if name not in models:
            raise HTTPException(404, f"no model named {name!r}; expected one of: "
                                f"{', '.join(models)}")  # fmt: skip
        raise HTTPException(404, f"model {name!r} has no such endpoint; see GET /docs")

    return app


def worker_environment(
    models: dict[str, ServedModel], limits: ServeSettings, device: str
) -> str:  # fmt: skip
    """What a worker process needs to load the same models under the same names with the same
    settings, as the JSON :func:`worker_app` reads from ``$RNNKIT_SERVE_WORKER``."""
    folders = [[name, str(m.task.run_dir)] for name, m in models.items()]
    return json.dumps({"models": folders, "device": device, "settings": limits.to_dict()})


def worker_app() -> FastAPI:
    """The app of one uvicorn worker process (``rnnkit serve --workers N``; uvicorn calls this
    factory in each process): the models of ``$RNNKIT_SERVE_WORKER`` loaded again in this
    process. Each process holds its own copy of the models and so its own locks and dynamic
    batchers: a lock guards the state of one process's task objects, and a batch can only join
    requests that reached the same process (the kernel hands each connection to one of them)."""
    spec = json.loads(os.environ[WORKER_ENV])
    named = [(name, folder) for name, folder in spec["models"]]
    models = load_models([], named, device=spec["device"])
    return create_app(models, ServeSettings.from_dict(spec["settings"]))


def add_model_routes(
    app: FastAPI, model: ServedModel, requests: dict[str, Any], limits: ServeSettings, key: Any
) -> None:
    """``GET /v1/models/{name}``, ``POST .../predict`` and the task's own endpoints."""
    name, task = model.name, model.task.NAME
    handler, body_model = HANDLERS[task], requests[task]
    prefix = f"/v1/models/{name}"
    batched = BATCHED.get(task) if limits.max_batch_size > 1 else None
    if batched is not None:
        items_field, verb, rows_key = batched
        max_items = batch_limit(model, limits.max_batch_size)
        batcher = Batcher(model, verb, max_items, limits.max_batch_delay_ms / 1000)
        app.state.batchers[name] = batcher
        grouped = BATCH_GROUPS.get(task)

    async def info() -> dict[str, Any]:
        return describe(model)

    async def predict(body: body_model) -> dict[str, Any]:  # type: ignore[valid-type]
        if batched is not None:
            options = body.given()
            items = options.pop(items_field)
            group = grouped(model, items, options) if grouped is not None else None
            rows = await within_timeout(batcher.submit(items, options, group), limits)
            return json_ready({rows_key: rows})
        call = functools.partial(handler, model, body.given(), limits)
        return await in_worker(call, limits)

    app.get(prefix, dependencies=[key], summary=f"the {task} model {name}",
            operation_id=f"describe_{name}", tags=[name], responses=ERROR_RESPONSES,
            )(info)  # fmt: skip
    app.post(f"{prefix}/predict", dependencies=[key], summary=body_model.__doc__,
             operation_id=f"predict_{name}", tags=[name], responses=ERROR_RESPONSES,
             )(predict)  # fmt: skip
    for path, view in VIEWS.get(task, {}).items():
        add_view_route(app, model, path, view, requests[path], limits, key)
    if task == "lm":

        async def generate(
            body: body_model,  # type: ignore[valid-type]
            stream: Annotated[
                bool, Query(description="server-sent events of the text as it comes")
            ] = False,
        ) -> Any:
            if stream:
                return await stream_generation(model, body.given(), limits)
            return await in_worker(functools.partial(handler, model, body.given(), limits), limits)

        app.post(f"{prefix}/generate", dependencies=[key], operation_id=f"generate_{name}",
                 summary="generate text; ?stream=true for server-sent events", tags=[name],
                 responses={**ERROR_RESPONSES, 200: STREAM_RESPONSE})(generate)  # fmt: skip
    if task == "caption":

        async def caption(
            image: Annotated[UploadFile, File(description="an image file (PNG, JPEG, ...)")],
            beam: Annotated[int | None, Form(ge=1, le=limits.max_beam)] = None,
            n_best: Annotated[int | None, Form(ge=1, le=limits.max_beam)] = None,
            max_length: Annotated[int | None, Form(ge=1, le=limits.max_length)] = None,
        ) -> dict[str, Any]:
            data = await image.read()
            check_image(data, "the image", limits)
            options = {k: v for k, v in
                       {"beam": beam, "n_best": n_best, "max_length": max_length}.items()
                       if v is not None}  # fmt: skip

            def work(stop: threading.Event) -> dict[str, Any]:
                return {"predictions": caption_files(model, [data], options)}

            return await in_worker(work, limits)

        app.post(f"{prefix}/caption", dependencies=[key], operation_id=f"caption_{name}",
                 summary="caption one uploaded image (multipart/form-data)", tags=[name],
                 responses=ERROR_RESPONSES)(caption)  # fmt: skip
    if task == "speech":

        async def classify_audio(
            audio: Annotated[UploadFile, File(description="a PCM WAV file (8-32 bits)")],
        ) -> dict[str, Any]:
            data = await audio.read()

            def work(stop: threading.Event) -> dict[str, Any]:
                read_audio(data, "the audio file", model)  # all its samples: off the loop
                return {"predictions": speech_rows(model, [data])}

            return await in_worker(work, limits)

        app.post(f"{prefix}/classify", dependencies=[key], operation_id=f"classify_{name}",
                 summary="classify one uploaded WAV recording (multipart/form-data)",
                 tags=[name], responses=ERROR_RESPONSES)(classify_audio)  # fmt: skip


def add_view_route(
    app: FastAPI, model: ServedModel, path: str, view: Any, body_model: Any,
    limits: ServeSettings, key: Any,
) -> None:  # fmt: skip
    """``POST /v1/models/{name}/{path}``: ``view`` of the body, in a worker thread."""

    async def endpoint(body: body_model) -> dict[str, Any]:  # type: ignore[valid-type]
        return await in_worker(functools.partial(view, model, body.given(), limits), limits)

    app.post(f"/v1/models/{model.name}/{path}", dependencies=[key], tags=[model.name],
             operation_id=f"{path}_{model.name}", summary=" ".join(body_model.__doc__.split()),
             responses=ERROR_RESPONSES)(endpoint)  # fmt: skip


def add_page_routes(app: FastAPI) -> None:
    """``GET /`` (the page) and ``GET /static/{file}`` for each of :data:`PAGE_FILES`, read
    once here: no request names a file on this machine. The page needs no API key (it holds
    no data; it asks for the key when the API answers 401)."""
    static = resources.files("rnnkit.serve") / "static"
    files = {name: (static / name).read_bytes() for name in PAGE_FILES}

    def route(name: str) -> Any:
        async def page_file() -> Response:
            return Response(files[name], media_type=PAGE_FILES[name], headers=PAGE_HEADERS)

        return page_file

    app.get("/", include_in_schema=False)(route("index.html"))
    for name in PAGE_FILES:
        app.get(f"/static/{name}", include_in_schema=False)(route(name))


async def in_worker(call: Any, limits: ServeSettings) -> Any:
    """``call(stop)`` in a worker thread; past the timeout: 504, with ``stop`` set so a call
    that can stop early (a generation) does."""
    stop = threading.Event()
    work = anyio.to_thread.run_sync(call, stop, abandon_on_cancel=True)
    return json_ready(await within_timeout(work, limits, stop))


async def within_timeout(
    awaitable: Any, limits: ServeSettings, stop: threading.Event | None = None
) -> Any:
    """What ``awaitable`` gives; past the timeout: 504 (and ``stop`` set)."""
    try:
        with anyio.fail_after(limits.timeout):
            return await awaitable
    except TimeoutError:
        if stop is not None:
            stop.set()
        raise HTTPException(504, timeout_message(limits)) from None


def api_key_check(api_key: str | None) -> Any:
    """A dependency refusing (401) a request without ``api_key`` in its X-API-Key header or
    as its bearer token, compared in constant time; no key: every request is let in."""

    async def check(
        header: Annotated[str | None, Depends(API_KEY_HEADER)],
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)],
    ) -> None:
        if api_key is None:
            return
        given = header if header is not None else (bearer.credentials if bearer else "")
        if not hmac.compare_digest(given.encode(), api_key.encode()):
            raise HTTPException(
                401, "a valid API key is needed: expected the X-API-Key header or "
                "'Authorization: Bearer KEY'", headers={"WWW-Authenticate": "Bearer"},
            )  # fmt: skip

    return check
