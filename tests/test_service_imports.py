"""The admin import as a job recorded in the catalogue: answered at once with ?wait=false and followed at
GET /catalog/imports/{id}; one import at a time; an import whose worker stopped is settled as failed."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time

from fashionlens.catalog.store import SQLiteStore
from fashionlens.service.import_jobs import settle_abandoned
from service_testing import ADMIN_KEY, PRODUCTS, product_zip, tiny_client
from tiny_models import random_analyzer

ADMIN = {"X-API-Key": ADMIN_KEY}


def archive(products=PRODUCTS) -> dict:
    return {"archive": ("shop.zip", product_zip(products), "application/zip")}


def finished(client, location: str, within_s: float = 60) -> dict:
    """The import's status once it is no longer running."""
    deadline = time.monotonic() + within_s
    while True:
        status = client.get(location, headers=ADMIN).json()
        if status["state"] != "running" or time.monotonic() > deadline:
            return status
        time.sleep(0.05)


class GatedAnalyzer:
    """The tiny analyzer, whose analyses wait until `gate` is set: an import that stays running."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self._analyzer = random_analyzer()

    def __getattr__(self, name: str):
        return getattr(self._analyzer, name)

    def analyze(self, *args, **kwargs):
        assert self.gate.wait(60), "the test never opened the gate"
        return self._analyzer.analyze(*args, **kwargs)


def test_an_import_without_waiting_answers_at_once_and_its_status_is_kept_in_the_catalogue(tmp_path):
    with tiny_client(tmp_path, catalogue=False) as (client, settings):
        started = client.post("/catalog/import?wait=false", files=archive(), headers=ADMIN)
        location = started.headers["location"]
        outcome = finished(client, location)
        listed = client.get("/catalog/imports", headers=ADMIN).json()
        status = client.get("/catalog/status").json()
        unknown = client.get("/catalog/imports/nope", headers=ADMIN)
        anonymous = client.get(location)
    assert started.status_code == 202
    body = started.json()
    assert (body["state"], body["finished"], body["imported"]) == ("running", None, 0)
    assert location == f"/catalog/imports/{body['id']}"
    assert (outcome["state"], outcome["imported"], outcome["refused_rows"]) == ("done", 5, [])
    assert outcome["finished"] >= outcome["started"] == body["started"]
    assert listed == [outcome] and status["last_import"] == outcome and status["items"] == 5
    assert unknown.status_code == 404 and unknown.json() == {"error": "no import with id 'nope'"}
    assert anonymous.status_code == 401
    # the record lives in the catalogue, not in the worker: another process reads it from there
    assert SQLiteStore(settings.catalog).import_records(body["id"])[0]["state"] == "done"


def test_a_refused_upload_without_waiting_ends_refused_with_the_reason(tmp_path):
    not_a_zip = {"archive": ("shop.zip", b"not a zip", "application/zip")}
    with tiny_client(tmp_path, catalogue=False) as (client, _):
        started = client.post("/catalog/import?wait=false", files=not_a_zip, headers=ADMIN)
        outcome = finished(client, started.headers["location"])
    assert started.status_code == 202
    assert (outcome["state"], outcome["imported"], outcome["error"]) == ("refused", 0, "shop.zip: not a zip archive")


def test_one_import_runs_at_a_time_and_the_next_starts_when_it_has_finished(tmp_path):
    analyzer = GatedAnalyzer()
    with tiny_client(tmp_path, catalogue=False, analyzer=analyzer) as (client, _):
        first = client.post("/catalog/import?wait=false", files=archive(PRODUCTS[:2]), headers=ADMIN)
        second = client.post("/catalog/import", files=archive(PRODUCTS[2:]), headers=ADMIN)
        running = client.get("/catalog/status").json()["last_import"]
        analyzer.gate.set()
        outcome = finished(client, first.headers["location"])
        third = client.post("/catalog/import", files=archive(PRODUCTS[2:]), headers=ADMIN)
        records = client.get("/catalog/imports", headers=ADMIN).json()
    assert first.status_code == 202 and running["id"] == first.json()["id"] and running["state"] == "running"
    assert second.status_code == 409 and "another import is running" in second.json()["error"]
    assert (outcome["state"], outcome["imported"]) == ("done", 2)
    assert (third.status_code, third.json()["imported"]) == (200, 3)
    # the refused attempt left no record: the newest first
    assert [(r["id"], r["state"]) for r in records] == [(third.json()["id"], "done"), (first.json()["id"], "done")]


def stopped_process_id() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def running_record(import_id: str, worker: str) -> dict:
    return {
        "id": import_id,
        "state": "running",
        "on_model": False,
        "imported": 0,
        "unchanged": 0,
        "refused_rows": [],
        "started": "2026-01-01T00:00:00Z",
        "finished": None,
        "error": None,
        "worker": worker,
    }


class OutcomeRecordedMeanwhile:
    """A catalogue whose import, run by this process, records its outcome just after the first read of the
    imports: the import's thread finishing while a request settles abandoned imports."""

    def __init__(self, store: SQLiteStore, outcome: dict) -> None:
        self.store, self.outcome, self.reads = store, outcome, 0

    def import_records(self, import_id: str | None = None, limit: int = 20) -> list[dict]:
        records = self.store.import_records(import_id, limit)
        self.reads += 1
        if self.reads == 1:
            self.store.save_import(self.outcome)
        return records

    def save_import(self, record: dict) -> None:
        self.store.save_import(record)


def test_an_outcome_recorded_while_the_imports_are_read_is_not_taken_for_an_abandoned_import(tmp_path):
    store = SQLiteStore(tmp_path / "catalog.db", create=True)
    # this process's worker, the import no longer among its running ones: it has finished
    record = running_record("finishing", f"{socket.gethostname()}:{os.getpid()}")
    assert store.start_import(record)
    error = "an internal error stopped the import; nothing of it was imported"
    outcome = {**record, "state": "failed", "finished": "2026-01-01T00:00:01Z", "error": error}
    settle_abandoned(OutcomeRecordedMeanwhile(store, outcome))
    assert store.import_records("finishing")[0]["error"] == error


def test_an_import_whose_worker_stopped_is_settled_as_failed_and_no_longer_blocks_imports(tmp_path):
    host = socket.gethostname()
    with tiny_client(tmp_path, catalogue=False) as (client, settings):
        store = SQLiteStore(settings.catalog)
        assert store.start_import(running_record("killed", f"{host}:{stopped_process_id()}"))
        killed = client.get("/catalog/imports/killed", headers=ADMIN).json()
        leftover = settings.media_dir / ".staging" / "of-the-killed-import"
        leftover.mkdir(parents=True)
        # this very process, which runs no such job (its record was never finished)
        assert store.start_import(running_record("lost", f"{host}:{os.getpid()}"))
        imported = client.post("/catalog/import", files=archive(PRODUCTS[:1]), headers=ADMIN)
        lost = client.get("/catalog/imports/lost", headers=ADMIN).json()
        # a worker on another machine is taken to be alive: its import still blocks
        assert store.start_import(running_record("elsewhere", f"another-{host}:1"))
        blocked = client.post("/catalog/import", files=archive(PRODUCTS[:1]), headers=ADMIN)
        store.close()
    assert (killed["state"], killed["finished"] is not None) == ("failed", True)
    assert "worker running this import stopped" in killed["error"]
    assert lost["state"] == "failed" and imported.status_code == 200
    assert not leftover.exists()  # the next import removed the stopped one's staging folder
    assert blocked.status_code == 409


def test_the_catalogue_status_says_to_reindex_when_its_attributes_came_from_other_heads(tmp_path):
    with tiny_client(tmp_path) as (client, settings):
        fresh = client.get("/catalog/status").json()
        store = SQLiteStore(settings.catalog)
        model = {**store.model(), "attributes_version": "earlier-heads"}
        store.connection.execute("UPDATE meta SET value = ? WHERE key = 'model'", (json.dumps(model),))
        store.close()
        stale = client.get("/catalog/status").json()
    assert fresh["note"] is None
    assert "other attribute heads" in stale["note"] and "fashionlens catalog reindex --catalog" in stale["note"]


class BrokenAnalyzer(GatedAnalyzer):
    def analyze(self, *args, **kwargs):
        raise RuntimeError("a bug")


def test_an_import_stopped_by_an_internal_error_is_recorded_failed_and_frees_the_next(tmp_path):
    with tiny_client(tmp_path, catalogue=False, analyzer=BrokenAnalyzer()) as (client, _):
        started = client.post("/catalog/import?wait=false", files=archive(PRODUCTS[:1]), headers=ADMIN)
        outcome = finished(client, started.headers["location"])
        again = client.post("/catalog/import?wait=false", files=archive(PRODUCTS[:1]), headers=ADMIN)
    assert started.status_code == 202 and again.status_code == 202
    assert (outcome["state"], outcome["imported"]) == ("failed", 0)
    assert outcome["error"] == "an internal error stopped the import; nothing of it was imported"
