"""Every error as JSON `{"error": "<one line>"}`: bad input is a 4xx that says what is wrong, never a 500."""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from fashionlens.core.errors import DiskFull, FashionLensError, ImageTooLarge, is_disk_full
from fashionlens.service.limits import QueueFull, size_text

log = logging.getLogger("fashionlens.service")
BODY_LIMIT_KEY = "starlette.max_body_size"  # where Starlette's body limiter keeps the route's limit
# 507 Insufficient Storage: the server, not the request, is at fault, and a retry may succeed once space
# is freed. Writes are atomic (temporary file + rename, one SQLite transaction), so nothing was kept.
DISK_FULL_STATUS = 507
DISK_FULL_MESSAGE = "disk full on the server: nothing was saved; try again later"


def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": " ".join(message.split())}, status_code=status, headers=headers)


def validation_message(errors: list[dict[str, Any]]) -> str:
    """'photo: Field required; k: Input should be less than or equal to 20' from FastAPI's error list."""
    parts = []
    for item in errors:
        if item.get("type") == "json_invalid":
            parts.append(f"request body: invalid JSON ({item.get('ctx', {}).get('error', 'decode error')})")
            continue
        where = ".".join(str(part) for part in item.get("loc", ()) if part not in ("body", "query", "path"))
        parts.append(f"{where or 'request'}: {item.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def http_message(request: Request, exc: HTTPException) -> str:
    """Starlette's bare phrases ('Not Found') made to say what was not found or too large."""
    if exc.status_code == 404 and exc.detail == "Not Found":
        return f"not found: {request.url.path}"
    if exc.status_code == 405:
        return f"method {request.method} not allowed on {request.url.path}"
    if exc.status_code == 413 and exc.detail == "Content Too Large":
        limit = request.scope.get(BODY_LIMIT_KEY)
        return "request body too large" + (f" (limit {size_text(limit)})" if limit is not None else "")
    return str(exc.detail)


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(HTTPException)
    async def on_http(request: Request, exc: HTTPException) -> JSONResponse:
        return error(exc.status_code, http_message(request, exc), getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def on_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error(422, validation_message(list(exc.errors())))

    @app.exception_handler(ImageTooLarge)
    async def on_too_large(request: Request, exc: ImageTooLarge) -> JSONResponse:
        return error(413, str(exc))

    @app.exception_handler(DiskFull)
    async def on_disk_full(request: Request, exc: DiskFull) -> JSONResponse:
        return disk_full(request, exc)

    # a full disk reaches us as the OSError (ENOSPC) of a file write or SQLite's "database or disk is full";
    # any other OSError or SQLite error is a bug, answered as one
    @app.exception_handler(OSError)
    @app.exception_handler(sqlite3.Error)
    async def on_storage(request: Request, exc: Exception) -> JSONResponse:
        return disk_full(request, exc) if is_disk_full(exc) else internal_error(request, exc)

    @app.exception_handler(FashionLensError)
    async def on_user_error(request: Request, exc: FashionLensError) -> JSONResponse:
        return error(422, str(exc))

    @app.exception_handler(QueueFull)
    async def on_busy(request: Request, exc: QueueFull) -> JSONResponse:
        return error(503, str(exc), {"Retry-After": str(exc.retry_after)})

    @app.exception_handler(Exception)
    async def on_bug(request: Request, exc: Exception) -> JSONResponse:
        return internal_error(request, exc)


def disk_full(request: Request, exc: Exception) -> JSONResponse:
    """507 without the server's paths; the path and the OS's words go to the log."""
    log.error("disk full on %s %s: %s", request.method, request.url.path, exc)
    return error(DISK_FULL_STATUS, DISK_FULL_MESSAGE)


def internal_error(request: Request, exc: Exception) -> JSONResponse:
    log.error("internal error on %s %s", request.method, request.url.path, exc_info=exc)
    # the last-resort handler (Exception) answers outside the middleware that adds this header
    return error(500, "internal error (logged on the server)", {"X-Content-Type-Options": "nosniff"})
