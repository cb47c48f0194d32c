"""What the service holds while it runs: the models, the catalogue connection, the work queue."""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, TypeVar

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from fashionlens.catalog.index import CatalogIndex
from fashionlens.catalog.store import CatalogStore
from fashionlens.catalog.stores import index_cache, open_store
from fashionlens.service.import_jobs import ImportJobs
from fashionlens.service.limits import SerialAnalyzer, WorkQueue
from fashionlens.service.settings import ServiceSettings

T = TypeVar("T")


class CatalogAccess:
    """One catalogue connection (SQLite or PostgreSQL) shared by the worker threads, one call at a time: an
    sqlite3 connection is not safe to use from two threads at once. Imports write through a connection of
    their own (readers never wait for them); the index is rebuilt when the store's stamp says the items
    changed, which index() reads on every request: an import committed by another thread or another
    service process sharing a PostgreSQL catalogue is searched from the next request on."""

    def __init__(self, location: Path | str):
        self.path = location
        self.store = open_store(location, create=True, check_same_thread=False)
        self.lock = threading.Lock()
        self._index: CatalogIndex | None = None

    def run(self, work: Callable[[CatalogStore], T]) -> T:
        """Run `work(store)` holding the lock (in a worker thread: it may wait for the database)."""
        with self.lock:
            self._reconnect_if_broken()
            return work(self.store)

    def _reconnect_if_broken(self) -> None:
        """A database server that restarted, or dropped this connection, fails the request that found out;
        the next one opens a new connection instead of failing for good (psycopg marks it `broken`)."""
        if getattr(getattr(self.store, "connection", None), "broken", False):
            self.store.close()
            self.store = open_store(self.path, create=True, check_same_thread=False)
            if self._index is not None:  # the index stays valid; it reads filters' keys through the new one
                self._index.store = self.store

    async def call(self, work: Callable[[CatalogStore], T]) -> T:
        return await run_in_threadpool(self.run, work)

    def index(self) -> CatalogIndex:
        """The similarity index of the current items; call inside run()."""
        if self._index is None or self._index.stamp != self.store.stamp():
            self._index = CatalogIndex(self.store, index_cache(self.path))
        return self._index

    def close(self) -> None:
        with self.lock:
            self.store.close()


@dataclass
class ServiceState:
    settings: ServiceSettings
    analyzer: SerialAnalyzer
    catalog: CatalogAccess
    queue: WorkQueue
    imports: ImportJobs = field(default_factory=ImportJobs)  # the catalogue lets one import run at a time
    # the latest insights summary by (since, by, newest event): the dashboard asks for it once per chart
    summaries: dict[tuple, dict[str, Any]] = field(default_factory=dict)


def load_analyzer(settings: ServiceSettings) -> Any:
    """The given Analyzer, else one from the settings' runs (the shipped defaults where none is given)."""
    if settings.analyzer is not None:
        return settings.analyzer
    from fashionlens.export.exports import runs_for_backend
    from fashionlens.inference.analyzer import Analyzer

    runs = runs_for_backend(
        settings.detector,
        settings.classifier,
        settings.whole_image,
        settings.backend,
        settings.device,
        lambda message: print(message, file=sys.stderr),
    )
    return Analyzer.from_runs(*runs, backend=settings.backend, conf=settings.conf, device=settings.device)


def open_state(settings: ServiceSettings) -> ServiceState:
    analyzer = SerialAnalyzer(load_analyzer(settings))
    settings.media.mkdir(parents=True, exist_ok=True)
    return ServiceState(settings, analyzer, CatalogAccess(settings.catalog), WorkQueue(settings.max_pending))


def service_state(request: Request) -> ServiceState:
    """FastAPI dependency: the state the lifespan handler opened."""
    return request.app.state.service
