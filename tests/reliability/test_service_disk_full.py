"""A full disk under the web service: /events, /analyze, /recommend, /catalog/import and the admin writes
answer 507 {"error": "disk full ..."} (never a 500), and nothing is half-written: the catalogue, the events
and the media folder stay as they were.

The disk fills in two ways: SQLite's writes (INSERT, UPDATE, DELETE) fail with "database or disk is full"
where SQLite raises it, inside the store's own transactions; a file write raises OSError(ENOSPC) after
writing part of its bytes. Any other storage error stays a 500: only a full disk is reported as one."""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

import pytest
from PIL import Image

from fashionlens.catalog import store as store_module
from service_testing import ADMIN_KEY, PRODUCTS, photo_bytes, product_zip, tiny_client, upload

ADMIN = {"X-API-Key": ADMIN_KEY}
NEW_PRODUCTS = [
    ("COAT-BLACK", "Black coat", "120.00", "", (20, 20, 20)),
    ("SCARF-PINK", "Pink scarf", "15.00", "", (240, 120, 180)),
]
NEW_ARCHIVE = {"archive": ("new.zip", product_zip(NEW_PRODUCTS), "application/zip")}


WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


class FullCursor:
    """A cursor whose writes fail as SQLite's do on a full disk; reads and BEGIN/COMMIT/ROLLBACK pass."""

    def __init__(self, cursor: sqlite3.Cursor):
        self._cursor = cursor

    def __getattr__(self, name: str):
        return getattr(self._cursor, name)

    def __iter__(self):
        return iter(self._cursor)

    def execute(self, sql: str, *args):
        if sql.lstrip().upper().startswith(WRITES):
            raise sqlite3.OperationalError("database or disk is full")
        return self._cursor.execute(sql, *args)

    def executemany(self, sql: str, *args):
        return (
            self.execute(sql, *args)
            if sql.lstrip().upper().startswith(WRITES)
            else self._cursor.executemany(sql, *args)
        )


class FullConnection:
    def __init__(self, connection: sqlite3.Connection):
        self._connection = connection

    def __getattr__(self, name: str):
        return getattr(self._connection, name)

    def cursor(self) -> FullCursor:
        return FullCursor(self._connection.cursor())

    def execute(self, sql: str, *args):
        return self.cursor().execute(sql, *args)


def sqlite_full(store) -> None:
    """From now on the store's writes find the disk full."""
    store.connection = FullConnection(store.connection)


def space_freed(store) -> None:
    store.connection = store.connection._connection


def disk_fills_while_writing(monkeypatch, written: list[Path]) -> None:
    """Every file write stops half-way with ENOSPC, as on a full disk (the half is left on disk)."""

    def write_half(path: Path, data) -> int:
        data = data.encode() if isinstance(data, str) else bytes(data)
        with open(path, "wb") as file:
            file.write(data[: len(data) // 2])
        written.append(Path(path))
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(Path, "write_bytes", write_half)
    monkeypatch.setattr(Path, "write_text", lambda path, text, *a, **k: write_half(path, text))
    save = Image.Image.save
    monkeypatch.setattr(
        Image.Image,
        "save",
        lambda image, target, *a, **k: (
            write_half(Path(target), b"\x89PNG" * 100)
            if isinstance(target, (str, Path))
            else save(image, target, *a, **k)
        ),
    )


def kept_state(client, settings) -> tuple:
    """The catalogue, the events and every file of the media folder."""

    def read(store):
        return sorted((i.id, i.name, i.price) for i in store.find_items()), len(store.events())

    products, events = client.app.state.service.catalog.run(read)
    files = sorted(str(p.relative_to(settings.media_dir)) for p in settings.media_dir.rglob("*") if p.is_file())
    return products, events, files


@pytest.fixture
def service(tmp_path):
    with tiny_client(tmp_path) as (client, settings):
        yield client, settings


def assert_disk_full(answer) -> None:
    assert answer.status_code == 507, answer.text
    assert answer.json()["error"].startswith("disk full")


@pytest.mark.parametrize(
    "method, path, options",
    [
        ("POST", "/events", {"json": {"kind": "click", "item_ids": ["TEE-RED"]}}),
        ("POST", "/events", {"json": {"kind": "shown", "item_ids": ["TEE-RED", "PANTS-BLUE"]}}),
        ("POST", "/analyze", {"files": upload(photo_bytes())}),
        ("POST", "/recommend", {"files": upload(photo_bytes())}),
        ("PUT", "/catalog/items/TEE-RED", {"json": {"name": "Renamed tee"}, "headers": ADMIN}),
        ("DELETE", "/catalog/items/TEE-RED", {"headers": ADMIN}),
    ],
    ids=["event-click", "event-shown", "analyze", "recommend", "update", "delete"],
)
def test_sqlite_full_on_the_service_connection_is_507(service, method, path, options):
    client, settings = service
    before = kept_state(client, settings)
    client.app.state.service.catalog.run(sqlite_full)
    assert_disk_full(client.request(method, path, **options))
    assert kept_state(client, settings) == before


def test_analyze_with_sqlite_full_logs_nothing_and_keeps_no_part(service):
    client, settings = service
    settings.store_photos = True  # the service keeps customers' photos (--store-photos)
    before = kept_state(client, settings)
    client.app.state.service.catalog.run(sqlite_full)
    answer = client.post("/analyze", files=upload(photo_bytes()))
    assert_disk_full(answer)
    after = kept_state(client, settings)
    # store_photos kept the photo before the event failed; what is never there is a half-written one
    assert after[:2] == before[:2] and not any(".tmp" in name for name in after[2])


def test_analyze_kept_photo_on_a_full_disk_is_507_and_leaves_no_part(service, monkeypatch):
    client, settings = service
    settings.store_photos = True
    before, written = kept_state(client, settings), []
    disk_fills_while_writing(monkeypatch, written)
    assert_disk_full(client.post("/analyze", files=upload(photo_bytes())))
    assert written and not any(path.exists() for path in written)  # the half-written temporary file removed
    assert kept_state(client, settings) == before


def test_import_with_sqlite_full_is_507_and_imports_nothing(service, monkeypatch):
    client, settings = service
    before = kept_state(client, settings)

    opened = store_module.SQLiteStore.__init__

    def open_full(store, *args, **options):  # the import's own connection finds the disk full
        opened(store, *args, **options)
        sqlite_full(store)

    monkeypatch.setattr(store_module.SQLiteStore, "__init__", open_full)
    answer = client.post("/catalog/import", files=NEW_ARCHIVE, headers=ADMIN)
    assert_disk_full(answer)
    assert (answer.json()["state"], answer.json()["imported"]) == ("refused", 0)
    assert kept_state(client, settings) == before  # no product, and no photo kept for the refused import
    assert not list((settings.media_dir / ".staging").iterdir())


def test_import_whose_photos_fill_the_disk_is_507_and_leaves_no_part(service, monkeypatch):
    client, settings = service
    before, written = kept_state(client, settings), []
    disk_fills_while_writing(monkeypatch, written)
    answer = client.post("/catalog/import", files=NEW_ARCHIVE, headers=ADMIN)
    monkeypatch.undo()
    assert_disk_full(answer)
    assert written and not any(path.exists() for path in written)
    assert kept_state(client, settings) == before
    assert not list((settings.media_dir / ".staging").iterdir())


def test_the_service_works_again_once_space_is_freed(service):
    client, settings = service
    client.app.state.service.catalog.run(sqlite_full)
    assert_disk_full(client.post("/events", json={"kind": "click", "item_ids": ["TEE-RED"]}))
    client.app.state.service.catalog.run(space_freed)
    assert client.post("/events", json={"kind": "click", "item_ids": ["TEE-RED"]}).status_code == 202
    assert client.get("/catalog/items").json()["total"] == len(PRODUCTS)


def test_other_storage_errors_stay_500_and_name_no_disk(service, monkeypatch):
    """Only a full disk is reported as one: a locked database or a permission error is the server's bug."""
    client, _ = service

    def locked(*args, **options):
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(store_module.SQLiteStore, "add_event", locked)
    answer = client.post("/events", json={"kind": "click", "item_ids": ["TEE-RED"]})
    assert answer.status_code == 500 and "disk" not in answer.json()["error"]
    monkeypatch.setattr(
        store_module.SQLiteStore,
        "add_event",
        lambda *a, **k: (_ for _ in ()).throw(PermissionError(errno.EACCES, "Permission denied")),
    )
    answer = client.post("/events", json={"kind": "click", "item_ids": ["TEE-RED"]})
    assert answer.status_code == 500 and answer.headers["x-content-type-options"] == "nosniff"
