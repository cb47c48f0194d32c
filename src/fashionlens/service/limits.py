"""Limits that keep one service healthy under load and bad input: upload size, a bounded queue of model
work, one model call at a time, and the admin key."""

from __future__ import annotations

import hmac
import math
import re
import threading
import time
from typing import Any, Callable, TypeVar

from fastapi import HTTPException, Request, UploadFile
from starlette.concurrency import run_in_threadpool

T = TypeVar("T")
API_KEY_HEADER = "X-API-Key"
QUEUE_WORDS = "too many photos are waiting to be analysed"


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
    the event loop keeps answering health checks, catalogue pages and refusals meanwhile."""

    def __init__(self, max_pending: int):
        self.max_pending = max_pending
        self.pending = 0  # changed only on the event loop's thread: no lock needed
        self.seconds = 1.0  # running mean duration of one request's work, for Retry-After

    def retry_after(self) -> int:
        return max(1, math.ceil(self.seconds * self.pending))

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        if self.pending >= self.max_pending:
            raise QueueFull(self.retry_after())
        self.pending += 1
        start = time.perf_counter()
        try:
            return await run_in_threadpool(work, *args)
        finally:
            self.pending -= 1
            self.seconds = 0.8 * self.seconds + 0.2 * (time.perf_counter() - start)


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
