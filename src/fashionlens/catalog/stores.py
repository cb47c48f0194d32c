"""Where a catalogue lives: a SQLite file path (the embedded default) or a PostgreSQL URL (shared by several
workers and machines). The one place that tells them apart; everything else uses the CatalogStore interface."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from fashionlens.catalog import store
from fashionlens.catalog.postgres import describe, is_postgres_url
from fashionlens.catalog.store import CatalogStore


def is_server(location: str | Path) -> bool:
    """True for a database server's URL (postgresql://user@host:port/db), False for a file path."""
    return is_postgres_url(str(location)) if isinstance(location, str) else False


def open_store(location: str | Path, create: bool = False, check_same_thread: bool = True) -> CatalogStore:
    """The store at `location`; `create` makes an empty catalogue (a new file, or the schema in a database)."""
    if is_server(location):
        from fashionlens.catalog.postgres import PostgresStore

        return PostgresStore(str(location), create=create)
    # looked up when called: tests stand a failing SQLiteStore in its place (reliability/test_service_disk_full)
    return store.SQLiteStore(Path(location), create=create, check_same_thread=check_same_thread)


def catalog_name(location: str | Path) -> str:
    """How messages name the catalogue: the path, or the URL without its password."""
    return describe(str(location)) if is_server(location) else str(Path(location))


def index_cache(location: str | Path) -> Path:
    """Where the FAISS index is cached between runs: beside a SQLite file; for a server's catalogue in this
    machine's cache folder (FASHIONLENS_CACHE, else $XDG_CACHE_HOME/fashionlens or ~/.cache/fashionlens),
    shared by the workers of this machine, named after the URL without its password. The cache holds the
    catalogue's stamp (its random id, version, model), so a stale or foreign file is rebuilt, never used."""
    if is_server(location):
        name = hashlib.sha256(catalog_name(location).encode()).hexdigest()[:16]
        return cache_folder() / f"index-{name}.faiss"
    path = Path(location)
    return path.with_name(path.name + ".faiss")


def cache_folder() -> Path:
    if os.environ.get("FASHIONLENS_CACHE"):
        return Path(os.environ["FASHIONLENS_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "fashionlens"
