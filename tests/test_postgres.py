"""A PostgreSQL catalogue: bad URLs and passwords are one line, the schema's migrations run once, two
connections see each other's writes, and two service workers on one catalogue see each other's import and
count each other's events. The store's behaviour itself is tested against both databases in test_catalog.py
and test_recommend.py."""

from __future__ import annotations

import time

import httpx
import numpy as np
import pytest

from fashionlens.catalog.index import CatalogIndex
from fashionlens.catalog.postgres import PostgresStore, describe
from fashionlens.catalog.store import CatalogItem
from fashionlens.catalog.stores import open_store
from fashionlens.core.errors import FashionLensError
from service_testing import ADMIN_KEY, photo_bytes, product_zip, tiny_settings, upload


def unit(vector) -> np.ndarray:
    vector = np.asarray(vector, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def test_an_unreachable_server_or_a_wrong_password_is_one_line_naming_the_host(fashionlens, postgres_server):
    closed = f"postgresql://shop:hunter2@127.0.0.1:{postgres_server.port + 1}/shop"  # nothing listens there
    result = fashionlens("catalog", "list", "--catalog", closed)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        f"error: postgresql://shop@127.0.0.1:{postgres_server.port + 1}/shop: cannot connect to the catalogue "
        "database (Connection refused)"
    ]
    from postgres_testing import free_port

    served = fashionlens("serve", "--catalog", closed, "--port", free_port())  # before any model loads
    assert served.returncode == 2 and served.stderr.strip().endswith(
        "cannot connect to the catalogue database (Connection refused)"
    )
    assert len(served.stderr.strip().splitlines()) == 1
    wrong = postgres_server.url(password="not-the-password")
    result = fashionlens("insights", "--catalog", wrong)
    [line] = result.stderr.strip().splitlines()
    assert result.returncode == 2 and line.startswith(
        f"error: postgresql://fashionlens@127.0.0.1:{postgres_server.port}"
    )
    assert "password authentication failed" in line and "not-the-password" not in line


def test_a_database_without_a_catalogue_says_how_to_make_one(postgres_url, fashionlens):
    result = fashionlens("catalog", "list", "--catalog", postgres_url)
    assert result.returncode == 2
    assert (
        result.stderr.strip() == f"error: {describe(postgres_url)}: no catalogue in this database; create one "
        "with `fashionlens catalog import`"
    )


def test_migrations_run_once_and_a_newer_schema_is_refused(postgres_url):
    store = PostgresStore(postgres_url, create=True)
    store.write_items([CatalogItem(id="A", image="a.png", embedding=unit([1, 0]))], {"id": "m"})
    store.close()
    again = PostgresStore(postgres_url)  # nothing re-applied: the item and the catalogue's id stay
    assert again.count() == 1
    assert again.connection.execute("SELECT version, name FROM schema_migrations").fetchall() == [
        (1, "0001_catalogue.sql"),
        (2, "0002_imports.sql"),
    ]
    # a catalogue made before migration 2 gets it when opened, its items kept
    again.connection.execute("DROP TABLE imports")
    again.connection.execute("DELETE FROM schema_migrations WHERE version = 2")
    again.close()
    upgraded = PostgresStore(postgres_url)
    assert upgraded.count() == 1 and upgraded.import_records() == []
    upgraded.connection.execute("INSERT INTO schema_migrations (version, name) VALUES (999, 'future.sql')")
    upgraded.close()
    with pytest.raises(FashionLensError, match="catalogue schema 999, this fashionlens reads up to 2"):
        PostgresStore(postgres_url)


def test_the_index_is_cached_for_the_next_process_and_rebuilt_when_the_catalogue_changed(
    postgres_url, tmp_path, monkeypatch
):
    from fashionlens.catalog.stores import index_cache

    store = open_store(postgres_url, create=True)
    store.write_items([CatalogItem(id="A", image="a.png", embedding=unit([1, 0]))], {"id": "m"})
    cache = index_cache(postgres_url)
    assert cache.parent == tmp_path / "cache" and "test-secret" not in cache.name
    built = CatalogIndex(store, cache)
    assert cache.is_file()
    with monkeypatch.context() as patch:
        patch.setattr(store, "vectors", lambda keys=None: pytest.fail("read the vectors: the cache was not used"))
        assert CatalogIndex(store, cache).search(unit([1, 0]), 1) == built.search(unit([1, 0]), 1)
    store.write_items([CatalogItem(id="B", image="b.png", embedding=unit([0, 1]))], {"id": "m"})
    assert CatalogIndex(store, cache).index.ntotal == 2


def test_two_connections_see_each_others_writes_and_the_index_follows(postgres_url):
    writer, reader = open_store(postgres_url, create=True), open_store(postgres_url)
    writer.write_items([CatalogItem(id="A", image="a.png", embedding=unit([1, 0]))], {"id": "m"})
    index = CatalogIndex(reader)
    assert index.stamp == writer.stamp() and index.index.ntotal == 1
    writer.write_items([CatalogItem(id="B", image="b.png", embedding=unit([0, 1]))], {"id": "m"})
    assert reader.stamp() != index.stamp  # the other worker's next request rebuilds its index
    assert [hit.key for hit in CatalogIndex(reader).search(unit([0, 1]), 1)] == [writer.get_items(["B"])["B"].key]


def test_imports_from_two_processes_at_once_both_land_and_each_bumps_the_version(postgres_url):
    """Writers take the version row's lock in turn: neither import is lost, none half-seen."""
    from concurrent.futures import ThreadPoolExecutor

    open_store(postgres_url, create=True).close()
    stores = [open_store(postgres_url) for _ in range(2)]
    version = lambda: int(stores[0].stamp().split(":")[1])  # noqa: E731
    before = version()

    def write(number: int) -> None:
        stores[number].write_items(
            [CatalogItem(id=f"W{number}-{n}", image="x.png", embedding=unit([number + 1, n + 1])) for n in range(200)],
            {"id": "m"},
        )

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(write, range(2)))
    assert stores[1].count() == 400 and version() == before + 2
    assert len(set(stores[0].vectors()[0])) == 400


def test_an_import_of_another_model_racing_the_first_waits_and_is_refused(postgres_url):
    from concurrent.futures import ThreadPoolExecutor

    first, second = open_store(postgres_url, create=True), open_store(postgres_url)
    with ThreadPoolExecutor(1) as pool:
        with first.transaction() as cursor:  # the first import, not yet committed
            first._write_item(cursor, CatalogItem(id="A", image="a.png", embedding=unit([1, 0])))
            cursor.execute("INSERT INTO meta VALUES ('model', %s)", ('{"id": "model-a"}',))
            racing = pool.submit(
                second.write_items, [CatalogItem(id="B", image="b.png", embedding=unit([0, 1]))], {"id": "model-b"}
            )
            time.sleep(0.5)
            assert not racing.done()  # waits for the first to commit, then checks the model
        with pytest.raises(FashionLensError, match="made by model model-a, not by model-b"):
            racing.result(timeout=30)
    assert [item.id for item in second.find_items()] == ["A"] and second.model() == {"id": "model-a"}


def test_two_service_workers_share_one_catalogue(tmp_path, postgres_url):
    """Two services (uvicorn, each its own connection and FAISS index) on one PostgreSQL catalogue: an import
    job started through one is followed through the other, and found by the other's next request; both
    workers' events are counted once each."""
    from fashionlens.service import create_app
    from fashionlens.service.live import running_server

    headers = {"X-API-Key": ADMIN_KEY}
    first, second = (tiny_settings(tmp_path, catalog=postgres_url, media_dir=tmp_path / "media") for _ in range(2))
    with running_server(create_app(first)) as one, running_server(create_app(second)) as two:
        assert httpx.get(f"{two}/catalog/items").json()["items"] == []  # the second worker's index: empty
        started = httpx.post(
            f"{one}/catalog/import?wait=false",
            headers=headers,
            timeout=120,
            files={"archive": ("shop.zip", product_zip(), "application/zip")},
        )
        assert started.status_code == 202, started.text
        # the job runs in the first worker; its status, kept in the catalogue, is read through the second
        status = started.json()
        for _ in range(1200):
            if status["state"] != "running":
                break
            time.sleep(0.1)
            status = httpx.get(f"{two}{started.headers['location']}", headers=headers).json()
        assert (status["state"], status["imported"]) == ("done", 5), status
        found = httpx.post(f"{two}/recommend", files=upload(photo_bytes((220, 40, 40))), data={"k": "2"}, timeout=60)
        assert found.status_code == 200, found.text
        assert found.json()["garments"][0]["similar"][0]["id"] == "TEE-RED"
        assert httpx.post(f"{one}/analyze", files=upload(photo_bytes()), timeout=60).status_code == 200
        assert httpx.get(f"{two}/catalog/items/PANTS-BLUE/image").status_code == 200  # the shared media folder
        deleted = httpx.delete(f"{two}/catalog/items/TEE-RED", headers=headers)
        assert deleted.status_code == 200, deleted.text
        again = httpx.post(f"{one}/recommend", files=upload(photo_bytes((220, 40, 40))), data={"k": "2"}, timeout=60)
        insights = httpx.get(f"{one}/insights").json()
    assert "TEE-RED" not in [item["id"] for item in again.json()["garments"][0]["similar"]]
    assert insights["by_kind"] == {"analysis": 1, "recommendation": 2}  # from both workers, once each


def test_a_worker_whose_connection_was_dropped_reconnects_at_the_next_request(tmp_path, postgres_url):
    import psycopg

    from fashionlens.service import create_app
    from fashionlens.service.live import running_server

    settings = tiny_settings(tmp_path, catalog=postgres_url)
    with running_server(create_app(settings)) as url:
        assert httpx.get(f"{url}/catalog/items").status_code == 200
        with psycopg.connect(postgres_url, autocommit=True) as admin:  # as a server restart or a failover does
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        failed, again = httpx.get(f"{url}/catalog/items"), httpx.get(f"{url}/catalog/items")
    assert failed.status_code == 500 and "error" in failed.json()
    assert again.status_code == 200 and again.json()["items"] == []
