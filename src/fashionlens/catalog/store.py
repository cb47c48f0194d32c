"""The catalogue's storage: a small interface (CatalogStore) and its SQLite implementation.

The database is the source of truth for items *and* their vectors; the nearest-neighbour index is
derived from it (catalog.index) and checks the store's stamp, so the two cannot disagree. Every write
is one transaction: an import killed half-way leaves the previous catalogue as it was. SQLite runs in
WAL mode, so readers (recommendations, the service) never wait for an import. A server database for
retailers who outgrow one machine implements the same interface.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterator, Protocol

import numpy as np

from fashionlens.catalog.validation import price_problem, url_problem
from fashionlens.core.errors import DiskFull, FashionLensError, is_disk_full

SCHEMA_VERSION = "1"
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    key INTEGER PRIMARY KEY,  -- the vector index's id of the item: stable across updates
    id TEXT NOT NULL UNIQUE, image TEXT NOT NULL, image_digest TEXT NOT NULL,
    name TEXT, price REAL, category TEXT, predicted_category TEXT, region TEXT, url TEXT,
    attributes TEXT NOT NULL, color TEXT, box TEXT, embedding BLOB NOT NULL, pattern TEXT, sleeve TEXT);
CREATE INDEX IF NOT EXISTS items_region ON items(region);
CREATE TABLE IF NOT EXISTS events (
    key INTEGER PRIMARY KEY, time TEXT NOT NULL, kind TEXT NOT NULL, channel TEXT, session TEXT,
    data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS events_time ON events(time);
CREATE TABLE IF NOT EXISTS experiments (name TEXT PRIMARY KEY, definition TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS imports (
    key INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, state TEXT NOT NULL, record TEXT NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS imports_one_running ON imports(state) WHERE state = 'running';
"""
ITEM_COLUMNS = (
    "key",
    "id",
    "image",
    "image_digest",
    "name",
    "price",
    "category",
    "predicted_category",
    "region",
    "url",
    "attributes",
    "color",
    "box",
    "pattern",
    "sleeve",
)
# columns added after the first catalogues were made: added to an older catalogue when it is opened
LATER_COLUMNS = {"pattern": "TEXT", "sleeve": "TEXT"}


@dataclass
class CatalogItem:
    """A product: its row, the garment indexed in its photo (box, colour) and the embedding."""

    id: str
    image: str
    image_digest: str = ""
    name: str = ""
    price: float | None = None
    category: str | None = None  # as the retailer gave it
    predicted_category: str | None = None  # the classifier's, used where `category` is empty
    region: str | None = None
    url: str = ""
    attributes: dict[str, str] = field(default_factory=dict)
    color: str | None = None
    box: list[float] | None = None
    embedding: np.ndarray | None = field(default=None, repr=False)
    key: int | None = None
    pattern: str | None = None  # the attribute heads' answer for the indexed garment (attributes.PATTERNS)
    sleeve: str | None = None  # sleeveless, short or long; None for garments without sleeves

    @property
    def effective_category(self) -> str | None:
        return self.category or self.predicted_category

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "category": self.effective_category,
            "region": self.region,
            "color": self.color,
            "pattern": self.pattern,
            "sleeve": self.sleeve,
            "price": self.price,
            "url": self.url,
            "image": self.image,
            "attributes": self.attributes,
        }

    def same_content(self, other: "CatalogItem") -> bool:
        """Equal in everything stored (the embedding through the image's digest)."""
        return replace(self, key=None, embedding=None) == replace(other, key=None, embedding=None)


@dataclass(frozen=True)
class Filters:
    """Query-time filters; None means any. Categories compare case-insensitively. A region of None in
    `regions` stands for the items of no body region (shoes, hats, bags)."""

    category: str | None = None
    regions: tuple[str | None, ...] | None = None
    color: str | None = None
    pattern: str | None = None
    sleeve: str | None = None
    min_price: float | None = None
    max_price: float | None = None
    attributes: tuple[tuple[str, str], ...] = ()
    text: str | None = None  # part of the id or the name, case-insensitive
    # True: kids' products only, False: adults' only, by the item's `kids` attribute (an item without one is
    # adults'). None (any) suits the retailer's listing; recommendations default to adults' (catalog.recommend)
    kids: bool | None = None

    def narrowed(self, **changes: Any) -> "Filters":
        return replace(self, **changes)


class CatalogStore(Protocol):
    """What the catalogue needs from a database."""

    def model(self) -> dict[str, Any] | None: ...
    def stamp(self) -> str: ...
    def count(self, filters: Filters | None = None) -> int: ...
    def write_items(self, items: list[CatalogItem], model: dict[str, Any], replace_model: bool = False) -> None: ...
    def remove_items(self, ids: list[str]) -> int: ...
    def get_items(self, ids: list[str]) -> dict[str, CatalogItem]: ...
    def find_items(
        self, filters: Filters | None = None, keys: list[int] | None = None, limit: int | None = None, offset: int = 0
    ) -> list[CatalogItem]: ...
    def matching_keys(self, filters: Filters) -> np.ndarray: ...
    def uses_image(self, image: str) -> bool: ...
    def vectors(self, keys: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]: ...
    def groups(self, filters: Filters | None = None) -> list[tuple[str | None, str | None, int]]: ...
    def add_event(self, time: str, kind: str, channel: str | None, session: str | None, data: dict) -> None: ...
    def events(self, since: str | None = None) -> list[dict[str, Any]]: ...
    def last_event_key(self) -> int: ...
    def save_experiment(self, definition: dict[str, Any]) -> None: ...
    def experiments(self) -> list[dict[str, Any]]: ...
    def start_import(self, record: dict[str, Any]) -> bool: ...
    def save_import(self, record: dict[str, Any]) -> None: ...
    def import_records(self, import_id: str | None = None, limit: int = 20) -> list[dict[str, Any]]: ...
    def close(self) -> None: ...


class SQLiteStore:
    """CatalogStore in one SQLite file (WAL mode)."""

    def __init__(self, path: str | Path, create: bool = False, check_same_thread: bool = True):
        """`check_same_thread=False`: one connection used by several threads, which must then take
        turns (the service holds a lock around every call)."""
        self.path = Path(path)
        if not create and not self.path.is_file():
            raise FashionLensError(f"{self.path}: no catalogue here; create one with `fashionlens catalog import`")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.connection = sqlite3.connect(
            self.path, timeout=30, isolation_level=None, check_same_thread=check_same_thread
        )
        # Python's casefold in SQL: SQLite's own lower() folds ASCII letters only
        self.connection.create_function("casefold", 1, lambda text: (text or "").casefold(), deterministic=True)
        try:
            self.connection.execute("PRAGMA journal_mode=WAL")
            self.connection.execute("PRAGMA synchronous=NORMAL")  # with WAL: durable, never corrupt
            with self.transaction() as cursor:
                self._create(cursor)
        except sqlite3.DatabaseError as error:
            self.connection.close()
            if is_disk_full(error):
                raise DiskFull(self.path) from None
            raise FashionLensError(f"{self.path}: not a fashionlens catalogue ({error})") from None
        except FashionLensError:
            self.connection.close()
            raise

    def _create(self, cursor: sqlite3.Cursor) -> None:
        for statement in filter(str.strip, SCHEMA.split(";")):
            cursor.execute(statement)
        present = {row[1] for row in cursor.execute("PRAGMA table_info(items)")}
        for column, kind in LATER_COLUMNS.items():
            if column not in present:  # its items get a value at the next `catalog reindex`
                cursor.execute(f"ALTER TABLE items ADD COLUMN {column} {kind}")
        found = dict(cursor.execute("SELECT key, value FROM meta").fetchall())
        if not found:
            cursor.executemany(
                "INSERT INTO meta VALUES (?, ?)",
                [("schema", SCHEMA_VERSION), ("catalog_id", uuid.uuid4().hex), ("version", "0")],
            )
        elif found.get("schema") != SCHEMA_VERSION:
            raise FashionLensError(
                f"{self.path}: catalogue schema {found.get('schema')}, this fashionlens reads {SCHEMA_VERSION}"
            )

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Cursor]:
        """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any error (or nothing at all if the process dies).
        A full disk is raised as DiskFull naming the database; the previous state stays."""
        cursor = self.connection.cursor()
        try:
            cursor.execute("BEGIN IMMEDIATE")
            try:
                yield cursor
                cursor.execute("COMMIT")
            except BaseException:
                # SQLite rolls back by itself after some errors (SQLITE_FULL among them); a second
                # ROLLBACK would fail with "no transaction is active" and hide the real error
                if self.connection.in_transaction:
                    cursor.execute("ROLLBACK")
                raise
        except sqlite3.Error as error:
            if is_disk_full(error):
                raise DiskFull(self.path) from error
            raise

    def _meta(self, key: str) -> str | None:
        row = self.connection.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def model(self) -> dict[str, Any] | None:
        value = self._meta("model")
        return None if value is None else json.loads(value)

    def stamp(self) -> str:
        return f"{self._meta('catalog_id')}:{self._meta('version')}:{(self.model() or {}).get('id')}"

    def count(self, filters: Filters | None = None) -> int:
        where, params = where_clause(filters or Filters())
        return self.connection.execute(f"SELECT COUNT(*) FROM items WHERE {where}", params).fetchone()[0]

    def write_items(self, items: list[CatalogItem], model: dict[str, Any], replace_model: bool = False) -> None:
        """Insert or update `items` (by id) in one transaction. Every vector of a catalogue comes from one
        model: another model is refused unless `replace_model`, which must rewrite every item (reindex).
        An item whose price or link breaks the catalogue's rules (catalog.validation) refuses the write."""
        check_item_values(self.path, items)
        with self.transaction() as cursor:
            model = recorded_model(cursor, self.path, model, replace_model)
            for item in items:
                self._write_item(cursor, item)
            if replace_model:
                written = {item.id for item in items}
                stale = [row[0] for row in cursor.execute("SELECT id FROM items") if row[0] not in written]
                if stale:
                    raise FashionLensError(
                        f"{self.path}: reindexing must rewrite every item; {len(stale)} not rewritten (e.g. {stale[0]})"
                    )
            cursor.execute("INSERT OR REPLACE INTO meta VALUES ('model', ?)", (json.dumps(model, sort_keys=True),))
            self._bump(cursor)

    def _write_item(self, cursor: sqlite3.Cursor, item: CatalogItem) -> None:
        vector = np.ascontiguousarray(item.embedding, dtype=np.float32)
        cursor.execute(
            "INSERT INTO items (id, image, image_digest, name, price, category, predicted_category, region, url, "
            "attributes, color, box, embedding, pattern, sleeve) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET image=excluded.image, image_digest=excluded.image_digest, "
            "name=excluded.name, price=excluded.price, category=excluded.category, "
            "predicted_category=excluded.predicted_category, region=excluded.region, url=excluded.url, "
            "attributes=excluded.attributes, color=excluded.color, box=excluded.box, embedding=excluded.embedding, "
            "pattern=excluded.pattern, sleeve=excluded.sleeve",
            (
                item.id,
                item.image,
                item.image_digest,
                item.name,
                item.price,
                item.category,
                item.predicted_category,
                item.region,
                item.url,
                json.dumps(item.attributes, sort_keys=True),
                item.color,
                None if item.box is None else json.dumps(item.box),
                vector.tobytes(),
                item.pattern,
                item.sleeve,
            ),
        )

    def _bump(self, cursor: sqlite3.Cursor) -> None:
        cursor.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'version'")

    def remove_items(self, ids: list[str]) -> int:
        """Delete these items (all or none: unknown ids are an error)."""
        with self.transaction() as cursor:
            known = {
                row[0] for row in cursor.execute(f"SELECT id FROM items WHERE id IN ({','.join('?' * len(ids))})", ids)
            }
            unknown = [item_id for item_id in ids if item_id not in known]
            if unknown:
                raise FashionLensError(f"{self.path}: no item with id {', '.join(unknown)}; nothing removed")
            cursor.executemany("DELETE FROM items WHERE id = ?", [(item_id,) for item_id in ids])
            self._bump(cursor)
        return len(known)

    def get_items(self, ids: list[str]) -> dict[str, CatalogItem]:
        """The items with these ids (embeddings included); missing ids are left out."""
        found: dict[str, CatalogItem] = {}
        for start in range(0, len(ids), 500):  # SQLite's limit on bound parameters
            chunk = ids[start : start + 500]
            rows = self.connection.execute(
                f"SELECT {', '.join(ITEM_COLUMNS)}, embedding FROM items WHERE id IN ({','.join('?' * len(chunk))})",
                chunk,
            )
            for row in rows:
                item = item_of(row[:-1])
                item.embedding = np.frombuffer(row[-1], dtype=np.float32).copy()
                found[item.id] = item
        return found

    def find_items(
        self, filters: Filters | None = None, keys: list[int] | None = None, limit: int | None = None, offset: int = 0
    ) -> list[CatalogItem]:
        """Items (without embeddings) matching `filters`, in the order of `keys` when given, else by id;
        `limit` and `offset` take one page of the id order (without `keys`)."""
        where, params = where_clause(filters or Filters())
        if keys is not None:
            where += f" AND key IN ({','.join('?' * len(keys))})"
            params += [int(key) for key in keys]
        page = ""
        if limit is not None and keys is None:
            page, params = " LIMIT ? OFFSET ?", params + [int(limit), int(offset)]
        rows = self.connection.execute(
            f"SELECT {', '.join(ITEM_COLUMNS)} FROM items WHERE {where} ORDER BY id{page}", params
        )
        return in_key_order([item_of(row) for row in rows], keys)

    def matching_keys(self, filters: Filters) -> np.ndarray:
        where, params = where_clause(filters)
        rows = self.connection.execute(f"SELECT key FROM items WHERE {where} ORDER BY key", params)
        return np.array([row[0] for row in rows], dtype=np.int64)

    def uses_image(self, image: str) -> bool:
        """Whether some item's photo is this file (several items may share one photo)."""
        return self.connection.execute("SELECT 1 FROM items WHERE image = ? LIMIT 1", (image,)).fetchone() is not None

    def vectors(self, keys: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(keys, N x D float32 matrix) of every item, or of `keys`."""
        if keys is None:
            rows = self.connection.execute("SELECT key, embedding FROM items ORDER BY key").fetchall()
        else:
            rows = []
            for start in range(0, len(keys), 500):
                chunk = [int(key) for key in keys[start : start + 500]]
                rows += self.connection.execute(
                    f"SELECT key, embedding FROM items WHERE key IN ({','.join('?' * len(chunk))}) ORDER BY key", chunk
                ).fetchall()
        if not rows:
            return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
        matrix = np.stack([np.frombuffer(blob, dtype=np.float32) for _, blob in rows])
        return np.array([key for key, _ in rows], dtype=np.int64), matrix

    def groups(self, filters: Filters | None = None) -> list[tuple[str | None, str | None, int]]:
        """(category, colour, number of items) of the items matching `filters`."""
        where, params = where_clause(filters or Filters())
        rows = self.connection.execute(
            f"SELECT COALESCE(category, predicted_category) AS c, color, COUNT(*) FROM items WHERE {where} "
            "GROUP BY c, color ORDER BY c, color",
            params,
        )
        return [tuple(row) for row in rows]

    def add_event(self, time: str, kind: str, channel: str | None, session: str | None, data: dict) -> None:
        with self.transaction() as cursor:
            cursor.execute(
                "INSERT INTO events (time, kind, channel, session, data) VALUES (?, ?, ?, ?, ?)",
                (time, kind, channel, session, json.dumps(data, sort_keys=True)),
            )

    def events(self, since: str | None = None) -> list[dict[str, Any]]:
        rows = self.connection.execute(
            "SELECT time, kind, channel, session, data FROM events WHERE time >= ? ORDER BY time, key", (since or "",)
        )
        return [{"time": t, "kind": k, "channel": c, "session": s, **json.loads(d)} for t, k, c, s, d in rows]

    def last_event_key(self) -> int:
        """The newest event's key (0 without events): events are only ever added, so it names their state."""
        return self.connection.execute("SELECT COALESCE(MAX(key), 0) FROM events").fetchone()[0]

    def save_experiment(self, definition: dict[str, Any]) -> None:
        """Add or replace an experiment (experiments.Experiment.to_json()) by its name."""
        with self.transaction() as cursor:
            cursor.execute(
                "INSERT OR REPLACE INTO experiments VALUES (?, ?)",
                (definition["name"], json.dumps(definition, sort_keys=True)),
            )

    def experiments(self) -> list[dict[str, Any]]:
        rows = self.connection.execute("SELECT definition FROM experiments ORDER BY name")
        return [json.loads(definition) for (definition,) in rows]

    def start_import(self, record: dict[str, Any]) -> bool:
        """Record an import (state 'running'); False while another one runs: the index imports_one_running
        lets one running import into the catalogue, whichever process or worker starts it."""
        try:
            with self.transaction() as cursor:
                cursor.execute(
                    "INSERT INTO imports (id, state, record) VALUES (?, ?, ?)",
                    (record["id"], record["state"], json.dumps(record, sort_keys=True)),
                )
        except sqlite3.IntegrityError:
            return False
        return True

    def save_import(self, record: dict[str, Any]) -> None:
        """Replace a recorded import's state and record (by its id)."""
        with self.transaction() as cursor:
            cursor.execute(
                "UPDATE imports SET state = ?, record = ? WHERE id = ?",
                (record["state"], json.dumps(record, sort_keys=True), record["id"]),
            )

    def import_records(self, import_id: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        """The newest recorded imports first, or the one with `import_id` ([] when there is none)."""
        rows = self.connection.execute(
            "SELECT record FROM imports WHERE ? IS NULL OR id = ? ORDER BY key DESC LIMIT ?",
            (import_id, import_id, limit),
        )
        return [json.loads(record) for (record,) in rows]

    def close(self) -> None:
        self.connection.close()


def item_of(row: tuple) -> CatalogItem:
    values = dict(zip(ITEM_COLUMNS, row))
    values["attributes"] = json.loads(values["attributes"])
    values["box"] = None if values["box"] is None else json.loads(values["box"])
    for text in ("name", "url"):
        values[text] = values[text] or ""
    if price_problem(values["price"]):  # stored before prices were checked: no usable price
        values["price"] = None
    return CatalogItem(**values)


# a CSV's `kids` column arrives as text ("True"); JSON's true reads as 1 in SQLite, as 'true' in PostgreSQL
KIDS_CONDITION = "(lower(COALESCE(CAST(json_extract(attributes, '$.kids') AS TEXT), '')) IN ('true', '1', 'yes'))"
POSTGRES_KIDS_CONDITION = "(lower(COALESCE(attributes ->> 'kids', '')) IN ('true', '1', 'yes'))"


def where_clause(filters: Filters, dialect: str = "sqlite") -> tuple[str, list[Any]]:
    """SQL conditions (bound parameters only) for `filters`: "sqlite" (? placeholders, JSON text) or
    "postgresql" (%s placeholders, psycopg's; attributes as jsonb)."""
    postgres = dialect == "postgresql"
    conditions: list[str] = ["1 = 1"]
    params: list[Any] = []
    if filters.category:
        conditions.append("lower(COALESCE(category, predicted_category)) = lower(?)")
        params.append(filters.category)
    if filters.regions is not None:
        condition, values = region_condition(filters.regions)
        conditions.append(condition)
        params += values
    if filters.color:
        conditions.append("lower(color) = lower(?)")
        params.append(filters.color)
    for column in ("pattern", "sleeve"):
        if getattr(filters, column):
            conditions.append(f"lower({column}) = lower(?)")
            params.append(getattr(filters, column))
    if filters.min_price is not None:
        conditions.append("price >= ?")
        params.append(filters.min_price)
    if filters.max_price is not None:
        conditions.append("price <= ?")
        params.append(filters.max_price)
    if filters.text and postgres:
        conditions.append("(strpos(lower(id), lower(?)) > 0 OR strpos(lower(COALESCE(name, '')), lower(?)) > 0)")
        params += [filters.text, filters.text]
    elif filters.text:
        conditions.append("(instr(casefold(id), casefold(?)) > 0 OR instr(casefold(name), casefold(?)) > 0)")
        params += [filters.text, filters.text]
    for name, value in filters.attributes:
        if postgres:
            conditions.append("lower(attributes ->> ?) = lower(?)")
            params += [name, value]
        else:
            conditions.append("lower(CAST(json_extract(attributes, ?) AS TEXT)) = lower(?)")
            params += ['$."' + name.replace('"', "") + '"', value]
    if filters.kids is not None:
        kids = POSTGRES_KIDS_CONDITION if postgres else KIDS_CONDITION
        conditions.append(kids if filters.kids else f"NOT {kids}")
    where = " AND ".join(conditions)
    # the conditions hold no literal '?' or '%': only the placeholders change
    return (where.replace("?", "%s") if postgres else where), params


def region_condition(regions: tuple[str | None, ...]) -> tuple[str, list[Any]]:
    """SQL for "the item's region is one of `regions`", None matching the items without a region."""
    named = [region for region in regions if region is not None]
    parts = [f"region IN ({','.join('?' * len(named))})"] if named else []
    if None in regions:
        parts.append("region IS NULL")
    return "(" + (" OR ".join(parts) or "0 = 1") + ")", named


def in_key_order(items: list[CatalogItem], keys: list[int] | None) -> list[CatalogItem]:
    """`items` in the order of `keys` (a vector search's ranking); as they are without keys."""
    if keys is None:
        return items
    position = {int(key): index for index, key in enumerate(keys)}

    def rank(item: CatalogItem) -> int:
        assert item.key is not None  # items read from the store have their key
        return position[item.key]

    return sorted(items, key=rank)


def check_item_values(path: Any, items: list[CatalogItem]) -> None:
    """Refuse the write when an item's price or link breaks the catalogue's rules (catalog.validation)."""
    for item in items:
        problem = price_problem(item.price) or url_problem(item.url)
        if problem:
            raise FashionLensError(f"{path}: item {item.id}: {problem}")


def recorded_model(cursor: Any, path: Any, model: dict[str, Any], replace_model: bool) -> dict[str, Any]:
    """Inside a write's transaction (a SQLite or PostgreSQL cursor): a catalogue holding items made by
    another model takes this one's only when every item is rewritten (`replace_model`: reindex). Returns
    the model to record: a write of some items by other attribute heads keeps the catalogue's
    `attributes_version`, so that it goes on saying its other items need `catalog reindex`."""
    current = cursor.execute("SELECT value FROM meta WHERE key = 'model'").fetchone()
    current = json.loads(current[0]) if current else None
    stored = cursor.execute("SELECT COUNT(*) FROM items").fetchone()[0]
    if current and stored and current["id"] != model["id"] and not replace_model:
        raise FashionLensError(model_mismatch(path, current, model))
    if current and stored and not replace_model:
        return {**model, "attributes_version": current.get("attributes_version")}
    return model


def attributes_note(path: Path | str, stored: dict[str, Any] | None, given: dict[str, Any]) -> str | None:
    """A line saying to reindex when the catalogue's colours, patterns and sleeves came from other attribute
    heads than `given`'s (the model has the same embeddings, so nothing is refused)."""
    if stored is None or stored.get("attributes_version") == given.get("attributes_version"):
        return None
    return (
        f"{path}: the catalogue's colours, patterns and sleeves were given by other attribute heads than this "
        f"model's; run `fashionlens catalog reindex --catalog {path}` to give them again"
    )


def model_mismatch(path: Path | str, stored: dict[str, Any], given: dict[str, Any]) -> str:
    """`path`: the file, or a server catalogue's URL without its password (never Path()'d: it would fold "//")."""
    made_by = stored.get("classifier")
    use_it = f"pass --classifier {made_by}, or " if made_by else ""
    return (
        f"{path}: the catalogue's embeddings were made by model {stored['id']}, not by {given['id']}; {use_it}"
        f"run `fashionlens catalog reindex --catalog {path} --classifier RUN_DIR` to rebuild it with the new model"
    )
