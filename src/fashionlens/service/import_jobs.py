"""Catalogue imports through the service as jobs recorded in the catalogue (its `imports` table, SQLite
or PostgreSQL): a request records the import as running, one at a time across every worker of the
catalogue (a partial unique index), runs it in a thread of its worker (imports.run_import, which records
the outcome), and may answer at once. An import whose worker stopped is recorded as failed when the
imports are next read or started."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from typing import Any, Awaitable, TypeVar

log = logging.getLogger("fashionlens.service")
T = TypeVar("T")
# the ids of the imports this process runs, from before each one's record is written until after its
# outcome is: settle_abandoned never takes them for abandoned, whichever service of the process reads them
RUNNING_HERE: set[str] = set()


class ImportJobs:
    """The imports this service worker runs, each an asyncio task: the request that started one may wait for
    it or answer at once (202), and the service waits for them before it stops."""

    def __init__(self) -> None:
        self._tasks: dict[str, asyncio.Task] = {}

    def start(self, import_id: str, work: Awaitable[T]) -> "asyncio.Task[T]":
        task = asyncio.ensure_future(work)
        self._tasks[import_id] = task
        task.add_done_callback(lambda done: self._finished(import_id, done))
        return task

    def _finished(self, import_id: str, task: asyncio.Task) -> None:
        RUNNING_HERE.discard(import_id)
        del self._tasks[import_id]
        if not task.cancelled() and task.exception() is not None:  # logged even when nobody awaits it
            log.error("import %s failed", import_id, exc_info=task.exception())

    async def wait_all(self) -> None:
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)


def new_import(on_model: bool) -> dict[str, Any]:
    """The record of an import about to run: its ImportStatus, state 'running', and the worker running it."""
    from fashionlens.insights.analytics import utc_now

    return {
        "id": uuid.uuid4().hex[:12],
        "state": "running",
        "on_model": on_model,
        "imported": 0,
        "unchanged": 0,
        "refused_rows": [],
        "started": utc_now(),
        "finished": None,
        "error": None,
        "worker": this_worker(),
    }


def this_worker() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def worker_gone(record: dict[str, Any]) -> bool:
    """Whether the worker of a running import has stopped: this process without that job, or a process of
    this machine that no longer exists. A worker on another machine is taken to be running."""
    host, _, pid = record.get("worker", "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return record["id"] not in RUNNING_HERE
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # a live process of another user
        return False
    return False


def settle_abandoned(store: Any) -> None:
    """Record as failed a running import whose worker stopped (killed, or the machine restarted), so that
    the next import may start. Only the newest import can be running: while one runs, no other starts."""
    from fashionlens.insights.analytics import utc_now

    for record in store.import_records(limit=1):
        if record["state"] == "running" and worker_gone(record):
            # read again: an import of this process records its outcome before it leaves RUNNING_HERE, so
            # the record read before worker_gone may predate that outcome
            record = store.import_records(record["id"])[0]
            if record["state"] != "running":
                continue
            record.update(
                state="failed",
                finished=utc_now(),
                error="the service worker running this import stopped before recording its outcome; the "
                "catalogue holds all of its products or none (one transaction)",
            )
            store.save_import(record)


def begin_import(store: Any, record: dict[str, Any]) -> bool:
    """Record `record` as the running import; False while another import runs."""
    RUNNING_HERE.add(record["id"])
    settle_abandoned(store)
    started = False
    try:
        started = store.start_import(record)
    finally:
        if not started:
            RUNNING_HERE.discard(record["id"])
    return started


def import_records(store: Any, import_id: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
    """The newest imports first (or the one with `import_id`), an abandoned one recorded as failed."""
    settle_abandoned(store)
    return store.import_records(import_id, limit)
