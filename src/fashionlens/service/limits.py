"""Limits that keep one service healthy under load and bad input: upload size, a bounded queue of model
work, one model call at a time, the admin key, and slow clients (a body read timeout; uvicorn caps the
connections, settings.uvicorn_options)."""

from __future__ import annotations

import asyncio
import functools
import hmac
import math
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, TypeVar

from fastapi import HTTPException, Request, UploadFile
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

T = TypeVar("T")
API_KEY_HEADER = "X-API-Key"
QUEUE_WORDS = "too many photos are waiting to be analysed"
# After the first read timeout's worth of seconds a body must average this rate: a trickle of a byte every
# few seconds would otherwise pass any per-read timeout and hold its connection for hours.
MIN_BODY_BYTES_PER_S = 10 * 1024


def size_text(count: int) -> str:
    return f"{count / (1024 * 1024):.1f} MB" if count >= 1024 * 1024 else f"{count} bytes"


def upload_name(upload: UploadFile, default: str) -> str:
    """The client's file name, reduced to a plain base name for messages (never used as a path)."""
    name = re.split(r"[\\/]", upload.filename or "")[-1]
    name = re.sub(r"[^\w.\- ]", "_", name)[:100]
    return name or default


async def read_upload(upload: UploadFile, limit: int, default_name: str) -> tuple[str, bytes]:
    """(name, bytes) of an uploaded file; 413 when it is over `limit` (never reads more than limit + 1)."""
    name = upload_name(upload, default_name)
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise HTTPException(413, f"{name}: over the upload limit of {size_text(limit)}")
    return name, data


class QueueFull(Exception):
    def __init__(self, retry_after: int):
        super().__init__(f"the service is busy: {QUEUE_WORDS}")
        self.retry_after = retry_after


class WorkQueue:
    """At most `max_pending` model requests waiting or running; the rest are refused at once (503 with
    Retry-After), so a burst cannot pile up memory and latency. The work runs in a worker thread, so
    the event loop keeps answering health checks, catalogue pages and refusals meanwhile.

    One thread does all of it. The models take one call at a time anyway (SerialAnalyzer), and the C
    allocator keeps a memory pool (arena) per thread that allocates: model work spread over the thread
    pool's threads left each of their pools holding a model call's peak, and the server grew by ~300 MB
    under 8 concurrent clients (docs/benchmarks.md, web service under load)."""

    def __init__(self, max_pending: int):
        self.max_pending = max_pending
        self.pending = 0  # changed only on the event loop's thread: no lock needed
        self.seconds = 1.0  # running mean duration of one request's work, for Retry-After
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fashionlens-models")

    def retry_after(self) -> int:
        return max(1, math.ceil(self.seconds * self.pending))

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        if self.pending >= self.max_pending:
            raise QueueFull(self.retry_after())
        self.pending += 1
        start = time.perf_counter()
        try:
            return await asyncio.get_running_loop().run_in_executor(self.worker, functools.partial(work, *args))
        finally:
            self.pending -= 1
            self.seconds = 0.8 * self.seconds + 0.2 * (time.perf_counter() - start)

    def close(self) -> None:
        self.worker.shutdown(wait=True, cancel_futures=True)


class SerialAnalyzer:
    """The Analyzer with one call at a time: its feature hook is registered per call on the shared model,
    so two concurrent calls would read each other's embeddings (and CPU inference uses every core anyway)."""

    def __init__(self, analyzer: Any):
        self._analyzer = analyzer
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._analyzer, name)

    def analyze(self, *args: Any, **options: Any) -> list:
        with self._lock:
            return self._analyzer.analyze(*args, **options)


def check_admin(request: Request) -> None:
    """FastAPI dependency of the admin routes: the X-API-Key header must equal the configured key."""
    expected = request.app.state.service.settings.admin_key
    if expected is None:
        raise HTTPException(403, "admin key not configured; start the service with FASHIONLENS_ADMIN_KEY set")
    given = request.headers.get(API_KEY_HEADER)
    if given is None:
        raise HTTPException(401, f"missing {API_KEY_HEADER} header (admin route)")
    # constant-time comparison of bytes: the time taken tells nothing about how much of the key matched
    if not hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8")):
        raise HTTPException(401, f"wrong {API_KEY_HEADER}")


class BodyReadTimeout:
    """ASGI middleware: a request body must keep coming, or the request is answered 408 and its connection
    closed. Each part within `seconds` of asking for it, and the body as a whole no slower than
    MIN_BODY_BYTES_PER_S after its first `seconds`. Without it, a client declaring Content-Length: 100
    and sending 33 bytes held its connection, and the handler waiting for the rest, forever."""

    def __init__(self, app: ASGIApp, seconds: float):
        self.app, self.seconds = app, seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start, received, complete = time.monotonic(), 0, False

        async def timed_receive() -> Message:
            nonlocal received, complete
            if complete:  # after the body only the disconnect is left to wait for, however long it takes
                return await receive()
            allowed = start + self.seconds + received / MIN_BODY_BYTES_PER_S - time.monotonic()
            try:
                message = await asyncio.wait_for(receive(), max(0.0, min(self.seconds, allowed)))
            except TimeoutError:
                raise HTTPException(
                    408,
                    f"request body too slow: {received} bytes in {time.monotonic() - start:.1f} s "
                    f"(each part must come within {self.seconds:g} s, the whole at "
                    f"{MIN_BODY_BYTES_PER_S // 1024} KB/s or faster)",
                    headers={"Connection": "close"},
                ) from None
            received += len(message.get("body", b""))
            complete = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        await self.app(scope, timed_receive, send)


class NoSniff:
    """ASGI middleware: X-Content-Type-Options: nosniff on every response (JSON, pages, /static files), so
    a browser never runs an upload or a file as another type than the one it was served as."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).setdefault("X-Content-Type-Options", "nosniff")
            await send(message)

        await self.app(scope, receive, send_with_header)
