"""Every error the server answers, as one JSON shape: ``{"error": {"status", "message"}}`` (and
``"details"`` for a body that fails its schema) — a 4xx that says what was wrong for a bad
request, never a traceback."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from rnnkit.errors import UserError

__all__ = ["error_response", "install_error_handlers"]

logger = logging.getLogger(__name__)


def error_response(
    status: int, message: str, details: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:  # fmt: skip
    error: dict[str, Any] = {"status": status, "message": message}
    if details is not None:
        error["details"] = details
    return JSONResponse({"error": error}, status_code=status, headers=headers)


def validation_details(error: RequestValidationError) -> list[dict[str, Any]]:
    """Each schema failure as ``{"loc", "msg", "type"}`` (not the input, which may be large)."""
    return [
        {"loc": [str(part) for part in e.get("loc", ())], "msg": str(e.get("msg", "")),
         "type": str(e.get("type", ""))}
        for e in error.errors()
    ]  # fmt: skip


def install_error_handlers(app: FastAPI) -> None:
    """Handlers that turn every failure into :func:`error_response`: HTTP errors keep their
    status, a body outside its schema is 422, a task's ``UserError`` 400, anything else a 500
    whose cause goes to the server's log only."""

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        return error_response(error.status_code, str(error.detail), headers=error.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_body(request: Request, error: RequestValidationError) -> JSONResponse:
        details = validation_details(error)
        first = details[0] if details else {"loc": [], "msg": "invalid request"}
        where = ".".join(first["loc"])
        message = f"{where}: {first['msg']}" if where else first["msg"]
        return error_response(422, message, details)

    @app.exception_handler(UserError)
    async def user_error(request: Request, error: UserError) -> JSONResponse:
        return error_response(400, str(error))

    @app.exception_handler(Exception)
    async def server_error(request: Request, error: Exception) -> JSONResponse:
        logger.error("%s %s failed", request.method, request.url.path, exc_info=error)
        return error_response(500, "internal server error; the server's log has the cause")
