"""Where a catalogue lives: a SQLite file path (the embedded default) or a PostgreSQL URL (shared by several
workers and machines). The one place that tells them apart; everything else uses the CatalogStore interface."""

from __future__ import annotations

from pathlib import Path

from . import store
from .postgres import describe, is_postgres_url
from .store import CatalogStore


def is_server(location: str | Path) -> bool:
    """True for a database server's URL (postgresql://user@host:port/db), False for a file path."""
    return is_postgres_url(str(location)) if isinstance(location, str) else False


def open_store(location: str | Path, create: bool = False, check_same_thread: bool = True) -> CatalogStore:
    """The store at `location`; `create` makes an empty catalogue (a new file, or the schema in a database)."""
    if is_server(location):
        from .postgres import PostgresStore

        return PostgresStore(str(location), create=create)
    # looked up when called: tests stand a failing SQLiteStore in its place (reliability/test_service_disk_full)
    return store.SQLiteStore(Path(location), create=create, check_same_thread=check_same_thread)


def catalog_name(location: str | Path) -> str:
    """How messages name the catalogue: the path, or the URL without its password."""
    return describe(str(location)) if is_server(location) else str(Path(location))


def index_cache(location: str | Path) -> Path | None:
    """Where the FAISS index is cached between runs: beside a SQLite file; a server's catalogue has none
    (each worker derives its index in memory, from the vectors the database holds)."""
    if is_server(location):
        return None
    path = Path(location)
    return path.with_name(path.name + ".faiss")
