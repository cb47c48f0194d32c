"""CatalogStore on a PostgreSQL server: one catalogue shared by several service workers and machines.

The same behaviour as the SQLite store (catalog/store.py), with PostgreSQL doing the work: every write is
one transaction, writers take the `version` row's lock so their model checks and version bumps follow one
another, and readers never wait for them (MVCC). Embeddings are stored as float32 bytes, the source of
truth; each process derives its own FAISS index from them (catalog/index.py) and rebuilds it when the
stamp (catalogue id, version, model) changes, which every request reads: one indexed query.

The schema is created and migrated by the numbered SQL files of migrations/postgresql/, each applied once
in its own transaction and recorded in schema_migrations; an advisory lock keeps two workers that start
at once from applying the same file twice.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from importlib import resources
from typing import Any, Iterator

import numpy as np

from fashionlens.catalog.store import (
    ITEM_COLUMNS,
    CatalogItem,
    Filters,
    check_item_values,
    in_key_order,
    item_of,
    recorded_model,
    where_clause,
)
from fashionlens.core.errors import FashionLensError

SCHEMES = ("postgresql://", "postgres://")
MIGRATION_LOCK = 7_302_024  # pg_advisory_xact_lock's key: the migrations of a fashionlens catalogue
CONNECT_TIMEOUT_S = 5


def is_postgres_url(location: object) -> bool:
    return isinstance(location, str) and location.startswith(SCHEMES)


def migrations() -> list[tuple[int, str, str]]:
    """(version, file name, SQL) of every migration shipped, in order."""
    folder = resources.files("fashionlens.catalog") / "migrations" / "postgresql"
    found = sorted(
        (int(entry.name.split("_", 1)[0]), entry.name, entry.read_text(encoding="utf-8"))
        for entry in folder.iterdir()
        if entry.name.endswith(".sql")
    )
    return found


def describe(url: str) -> str:
    """The URL without its password: what every message names."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        parts = conninfo_to_dict(url)
    except Exception:  # a malformed URL: say so without echoing it (it may hold a password)
        return "postgresql://?"
    user = f"{parts['user']}@" if parts.get("user") else ""
    port = f":{parts['port']}" if parts.get("port") else ""
    return f"postgresql://{user}{parts.get('host', 'localhost')}{port}/{parts.get('dbname', '')}"


def connect(url: str) -> Any:
    """An autocommit connection (transactions are explicit), or one line naming the server."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    name = describe(url)
    try:
        options: dict[str, Any] = (
            {} if "connect_timeout" in conninfo_to_dict(url) else {"connect_timeout": CONNECT_TIMEOUT_S}
        )
        return psycopg.connect(url, autocommit=True, **options)
    except psycopg.ProgrammingError as error:  # a URL libpq cannot parse
        raise FashionLensError(f"{name}: not a usable database URL ({first_line(error)})") from None
    except psycopg.OperationalError as error:
        raise FashionLensError(f"{name}: cannot connect to the catalogue database ({first_line(error)})") from None


def first_line(error: Exception) -> str:
    """libpq's reason, without its repeated "connection to server at ... failed:" preamble and hints."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    text = lines[0] if lines else type(error).__name__
    return text.rsplit("failed: ", 1)[-1].replace("FATAL:  ", "").strip()


class PostgresStore:
    """CatalogStore in a PostgreSQL database (psycopg 3)."""

    def __init__(self, url: str, create: bool = False, check_same_thread: bool = True):
        """`check_same_thread` is accepted for the SQLite store's signature: a psycopg connection may be used
        by several threads, which take turns (the service holds a lock around every call)."""
        self.url, self.path = url, describe(url)
        self.connection = connect(url)
        try:
            self._migrate(create)
        except BaseException:
            self.connection.close()
            raise

    def _migrate(self, create: bool) -> None:
        shipped = migrations()
        with self.connection.transaction(), self.connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            exists = cursor.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()[0]
            if not exists and not create:
                raise FashionLensError(
                    f"{self.path}: no catalogue in this database; create one with `fashionlens catalog import`"
                )
            cursor.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                "name TEXT NOT NULL, applied TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
            applied = {row[0] for row in cursor.execute("SELECT version FROM schema_migrations")}
            newest = max(version for version, _, _ in shipped)
            if applied and max(applied) > newest:
                raise FashionLensError(
                    f"{self.path}: catalogue schema {max(applied)}, this fashionlens reads up to "
                    f"{newest}; upgrade fashionlens"
                )
            for version, name, sql in shipped:
                if version not in applied:
                    cursor.execute(sql)
                    cursor.execute("INSERT INTO schema_migrations (version, name) VALUES (%s, %s)", (version, name))

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """One transaction holding the catalogue's write lock (the version row): COMMIT, or ROLLBACK on any
        error; a process that dies mid-way commits nothing (the server rolls its transaction back)."""
        with self.connection.transaction(), self.connection.cursor() as cursor:
            cursor.execute("SELECT value FROM meta WHERE key = 'version' FOR UPDATE")
            yield cursor

    def _meta(self) -> dict[str, str]:
        return dict(self.connection.execute("SELECT key, value FROM meta").fetchall())

    def model(self) -> dict[str, Any] | None:
        value = self._meta().get("model")
        return None if value is None else json.loads(value)

    def stamp(self) -> str:
        meta = self._meta()
        model = json.loads(meta["model"]) if "model" in meta else {}
        return f"{meta.get('catalog_id')}:{meta.get('version')}:{model.get('id')}"

    def count(self, filters: Filters | None = None) -> int:
        where, params = where_clause(filters or Filters(), "postgresql")
        return self.connection.execute(f"SELECT COUNT(*) FROM items WHERE {where}", params).fetchone()[0]

    def write_items(self, items: list[CatalogItem], model: dict[str, Any], replace_model: bool = False) -> None:
        """As SQLiteStore.write_items: one transaction, one model per catalogue, checked prices and links."""
        check_item_values(self.path, items)
        with self.transaction() as cursor:
            model = recorded_model(cursor, self.path, model, replace_model)
            for item in items:
                self._write_item(cursor, item)
            if replace_model:
                stale = cursor.execute(
                    "SELECT id FROM items WHERE NOT (id = ANY(%s)) ORDER BY id LIMIT 1", ([item.id for item in items],)
                ).fetchone()
                if stale:
                    count = cursor.execute(
                        "SELECT COUNT(*) FROM items WHERE NOT (id = ANY(%s))", ([item.id for item in items],)
                    ).fetchone()[0]
                    raise FashionLensError(
                        f"{self.path}: reindexing must rewrite every item; {count} not rewritten (e.g. {stale[0]})"
                    )
            cursor.execute(
                "INSERT INTO meta VALUES ('model', %s) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (json.dumps(model, sort_keys=True),),
            )
            self._bump(cursor)

    def _write_item(self, cursor: Any, item: CatalogItem) -> None:
        from psycopg.types.json import Jsonb

        vector = np.ascontiguousarray(item.embedding, dtype=np.float32)
        cursor.execute(
            "INSERT INTO items (id, image, image_digest, name, price, category, predicted_category, region, url, "
            "attributes, color, box, embedding, pattern, sleeve) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (id) DO UPDATE SET image=excluded.image, image_digest=excluded.image_digest, "
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
                Jsonb(item.attributes),
                item.color,
                None if item.box is None else Jsonb(item.box),
                vector.tobytes(),
                item.pattern,
                item.sleeve,
            ),
        )

    def _bump(self, cursor: Any) -> None:
        cursor.execute("UPDATE meta SET value = (value::bigint + 1)::text WHERE key = 'version'")

    def remove_items(self, ids: list[str]) -> int:
        """Delete these items (all or none: unknown ids are an error)."""
        with self.transaction() as cursor:
            known = {row[0] for row in cursor.execute("SELECT id FROM items WHERE id = ANY(%s)", (ids,))}
            unknown = [item_id for item_id in ids if item_id not in known]
            if unknown:
                raise FashionLensError(f"{self.path}: no item with id {', '.join(unknown)}; nothing removed")
            cursor.execute("DELETE FROM items WHERE id = ANY(%s)", (ids,))
            self._bump(cursor)
        return len(known)

    def get_items(self, ids: list[str]) -> dict[str, CatalogItem]:
        """The items with these ids (embeddings included); missing ids are left out."""
        rows = self.connection.execute(f"SELECT {SELECTED}, embedding FROM items WHERE id = ANY(%s)", (list(ids),))
        found = {}
        for row in rows:
            item = item_of(row[:-1])
            item.embedding = np.frombuffer(row[-1], dtype=np.float32).copy()
            found[item.id] = item
        return found

    def find_items(
        self, filters: Filters | None = None, keys: list[int] | None = None, limit: int | None = None, offset: int = 0
    ) -> list[CatalogItem]:
        """As SQLiteStore.find_items: in the order of `keys` when given, else by id, paged."""
        where, params = where_clause(filters or Filters(), "postgresql")
        if keys is not None:
            where += " AND key = ANY(%s)"
            params.append([int(key) for key in keys])
        page = ""
        if limit is not None and keys is None:
            page, params = " LIMIT %s OFFSET %s", params + [int(limit), int(offset)]
        # COLLATE "C": ids sort by their bytes, as SQLite sorts them, whatever the database's locale
        rows = self.connection.execute(
            f'SELECT {SELECTED} FROM items WHERE {where} ORDER BY id COLLATE "C"{page}', params
        )
        return in_key_order([item_of(row) for row in rows], keys)

    def matching_keys(self, filters: Filters) -> np.ndarray:
        where, params = where_clause(filters, "postgresql")
        rows = self.connection.execute(f"SELECT key FROM items WHERE {where} ORDER BY key", params)
        return np.array([row[0] for row in rows], dtype=np.int64)

    def uses_image(self, image: str) -> bool:
        return self.connection.execute("SELECT 1 FROM items WHERE image = %s LIMIT 1", (image,)).fetchone() is not None

    def vectors(self, keys: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(keys, N x D float32 matrix) of every item, or of `keys`; binary results: no text parsing."""
        with self.connection.cursor(binary=True) as cursor:
            if keys is None:
                rows = cursor.execute("SELECT key, embedding FROM items ORDER BY key").fetchall()
            else:
                rows = cursor.execute(
                    "SELECT key, embedding FROM items WHERE key = ANY(%s) ORDER BY key", ([int(key) for key in keys],)
                ).fetchall()
        if not rows:
            return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
        matrix = np.stack([np.frombuffer(blob, dtype=np.float32) for _, blob in rows])
        return np.array([key for key, _ in rows], dtype=np.int64), matrix

    def groups(self, filters: Filters | None = None) -> list[tuple[str | None, str | None, int]]:
        where, params = where_clause(filters or Filters(), "postgresql")
        rows = self.connection.execute(
            f"SELECT COALESCE(category, predicted_category) AS c, color, COUNT(*) FROM items WHERE {where} "
            'GROUP BY c, color ORDER BY COALESCE(category, predicted_category) COLLATE "C" NULLS FIRST, '
            'color COLLATE "C" NULLS FIRST',
            params,
        )
        return [tuple(row) for row in rows]

    def add_event(self, time: str, kind: str, channel: str | None, session: str | None, data: dict) -> None:
        from psycopg.types.json import Jsonb

        # one statement commits by itself: events take no lock, so workers never wait for an import
        self.connection.execute(
            "INSERT INTO events (time, kind, channel, session, data) VALUES (%s, %s, %s, %s, %s)",
            (time, kind, channel, session, Jsonb(data)),
        )

    def events(self, since: str | None = None) -> list[dict[str, Any]]:
        rows = self.connection.execute(
            'SELECT time, kind, channel, session, data FROM events WHERE time >= %s ORDER BY time COLLATE "C", key',
            (since or "",),
        )
        return [{"time": t, "kind": k, "channel": c, "session": s, **d} for t, k, c, s, d in rows]

    def last_event_key(self) -> int:
        return self.connection.execute("SELECT COALESCE(MAX(key), 0) FROM events").fetchone()[0]

    def save_experiment(self, definition: dict[str, Any]) -> None:
        from psycopg.types.json import Jsonb

        self.connection.execute(
            "INSERT INTO experiments VALUES (%s, %s) ON CONFLICT (name) DO UPDATE SET definition = excluded.definition",
            (definition["name"], Jsonb(definition)),
        )

    def experiments(self) -> list[dict[str, Any]]:
        rows = self.connection.execute('SELECT definition FROM experiments ORDER BY name COLLATE "C"')
        return [definition for (definition,) in rows]

    def start_import(self, record: dict[str, Any]) -> bool:
        from psycopg.errors import UniqueViolation
        from psycopg.types.json import Jsonb

        try:
            self.connection.execute(
                "INSERT INTO imports (id, state, record) VALUES (%s, %s, %s)",
                (record["id"], record["state"], Jsonb(record)),
            )
        except UniqueViolation:  # another import is running (imports_one_running)
            return False
        return True

    def save_import(self, record: dict[str, Any]) -> None:
        from psycopg.types.json import Jsonb

        self.connection.execute(
            "UPDATE imports SET state = %s, record = %s WHERE id = %s", (record["state"], Jsonb(record), record["id"])
        )

    def import_records(self, import_id: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        rows = self.connection.execute(
            "SELECT record FROM imports WHERE %s::text IS NULL OR id = %s ORDER BY key DESC LIMIT %s",
            (import_id, import_id, limit),
        )
        return [record for (record,) in rows]

    def close(self) -> None:
        self.connection.close()


# item_of() reads attributes and box as JSON text, as SQLite stores them
SELECTED = ", ".join(f"{column}::text" if column in ("attributes", "box") else column for column in ITEM_COLUMNS)
