"""`fashionlens serve`: options and the admin key reach the service; bad runs fail in one line before
any port is opened."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fashionlens.core.checkpoint import save_checkpoint
from fashionlens.inference.analyzer import model_fingerprint
from tiny_models import random_checkpoint


@pytest.fixture
def served(monkeypatch):
    """uvicorn.run replaced: records the app, host and port it was given."""
    import uvicorn

    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: calls.append((app, options)))
    return calls


def test_help_teaches_with_an_example(fashionlens):
    done = fashionlens("serve", "--help")
    assert done.returncode == 0
    assert "Example: FASHIONLENS_ADMIN_KEY=" in done.stdout and "fashionlens serve --catalog" in done.stdout


def test_serve_runs_the_service_with_the_options_and_the_admin_key(tmp_path, fashionlens, served, monkeypatch):
    checkpoint = random_checkpoint()
    save_checkpoint(checkpoint, tmp_path / "classifier.pt")
    monkeypatch.setenv("FASHIONLENS_ADMIN_KEY", "k-123")
    done = fashionlens(
        "serve",
        "--classifier",
        tmp_path / "classifier.pt",
        "--whole-image",
        "--catalog",
        tmp_path / "shop.db",
        "--port",
        "8123",
        "--cors-origin",
        "https://shop.example",
    )
    assert done.returncode == 0, done.stderr
    [(app, options)] = served
    assert options == {"host": "127.0.0.1", "port": 8123, "limit_concurrency": 200, "timeout_keep_alive": 5}
    with TestClient(app) as client:
        health = client.get("/health").json()
        no_key = client.delete("/catalog/items/X")
        with_key = client.delete("/catalog/items/X", headers={"X-API-Key": "k-123"})
        allowed = client.get("/health", headers={"Origin": "https://shop.example"})
        foreign = client.get("/health", headers={"Origin": "https://other.example"})
    assert health["models"]["id"] == model_fingerprint(checkpoint) and health["catalog_items"] == 0
    assert (no_key.status_code, with_key.status_code) == (401, 404)  # 404: the key let it through
    assert allowed.headers["access-control-allow-origin"] == "https://shop.example"
    assert "access-control-allow-origin" not in foreign.headers


def test_without_the_key_variable_admin_routes_are_off(tmp_path, fashionlens, served, monkeypatch):
    save_checkpoint(random_checkpoint(), tmp_path / "classifier.pt")
    monkeypatch.delenv("FASHIONLENS_ADMIN_KEY", raising=False)
    done = fashionlens(
        "serve", "--classifier", tmp_path / "classifier.pt", "--catalog", tmp_path / "shop.db", "--whole-image"
    )
    assert "FASHIONLENS_ADMIN_KEY is not set" in done.stderr
    with TestClient(served[0][0]) as client:
        refused = client.delete("/catalog/items/X", headers={"X-API-Key": ""})
    assert refused.status_code == 403
    assert refused.json() == {"error": "admin key not configured; start the service with FASHIONLENS_ADMIN_KEY set"}


def test_a_wrong_run_fails_in_one_line_before_serving(tmp_path, fashionlens, served):
    done = fashionlens("serve", "--classifier", tmp_path / "missing", "--catalog", tmp_path / "shop.db")
    assert done.returncode == 2 and served == []
    assert done.stderr.strip().splitlines() == [f"error: {tmp_path / 'missing'}: checkpoint not found"]


def test_a_file_that_is_no_catalogue_fails_in_one_line(tmp_path, fashionlens, served):
    save_checkpoint(random_checkpoint(), tmp_path / "classifier.pt")
    (tmp_path / "notes.db").write_text("not a database, " * 100)
    done = fashionlens("serve", "--classifier", tmp_path / "classifier.pt", "--catalog", tmp_path / "notes.db")
    assert done.returncode == 2 and served == []
    assert (
        done.stderr.strip().splitlines()[-1].startswith(f"error: {tmp_path / 'notes.db'}: not a fashionlens catalogue")
    )


def test_serve_with_the_onnx_backend_runs_the_exported_model(tmp_path, fashionlens, served):
    checkpoint = random_checkpoint()
    save_checkpoint(checkpoint, tmp_path / "classifier.pt")
    done = fashionlens(
        "serve",
        "--classifier",
        tmp_path / "classifier.pt",
        "--whole-image",
        "--catalog",
        tmp_path / "shop.db",
        "--backend",
        "onnx",
    )
    assert done.returncode == 0, done.stderr
    assert "to ONNX" in done.stderr  # exported once, beside the checkpoint
    [(app, _)] = served
    with TestClient(app) as client:
        models = client.get("/health").json()["models"]
    assert models["classifier"] == str(tmp_path / "onnx" / "classifier.onnx")
    assert models["id"] == model_fingerprint(checkpoint)  # the catalogue's embeddings stay valid


def test_a_taken_port_fails_in_one_line_before_the_models_load(tmp_path):
    # bytecode cached as after `pip install` (this machine may turn the cache off): a warm-up run fills it
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    environment["PYTHONPYCACHEPREFIX"] = str(tmp_path / "pycache")
    code = (
        "import sys\nfrom fashionlens.cli import main\ntry:\n    main()\nfinally:\n"
        "    print('torch' in sys.modules, file=sys.stderr)"
    )
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        command = [sys.executable, "-c", code, "serve", "--port", str(port), "--catalog", str(tmp_path / "shop.db")]
        subprocess.run(command, capture_output=True, env=environment, timeout=120)
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=60)
        elapsed = time.perf_counter() - started
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"error: 127.0.0.1:{port} is already in use; stop what listens there or choose another --port",
        "False",
    ]  # one line; torch never imported
    assert elapsed < 2.0  # the interpreter's start-up and the check: no model loaded
    assert not (tmp_path / "shop.db").exists()


def child_processes(pid: int) -> list[int]:
    """The processes whose parent is `pid` (Linux /proc)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended while we looked
            continue
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return children


@pytest.mark.slow
def test_serve_with_two_workers_answers_from_two_processes_on_one_port(tmp_path):
    import httpx

    save_checkpoint(random_checkpoint(), tmp_path / "classifier.pt")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [
        str(Path(sys.executable).parent / "fashionlens"),
        "serve",
        "--classifier",
        str(tmp_path / "classifier.pt"),
    ]
    command += ["--whole-image", "--catalog", str(tmp_path / "shop.db"), "--port", str(port), "--workers", "2"]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline, health = time.monotonic() + 180, None
        while health is None and time.monotonic() < deadline and server.poll() is None:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).json()
            except httpx.HTTPError:
                time.sleep(1)
        assert health is not None, (
            server.communicate(timeout=10)[1][-2000:] if server.poll() is not None else "no answer"
        )
        # uvicorn's workers are multiprocessing's spawned children (spawn_main); its resource tracker is not one
        workers = [
            pid for pid in child_processes(server.pid) if "spawn_main" in Path(f"/proc/{pid}/cmdline").read_text()
        ]
        assert len(workers) == 2, workers
        answers = [httpx.get(f"http://127.0.0.1:{port}/health", timeout=30) for _ in range(6)]
        assert all(answer.status_code == 200 for answer in answers)
        assert health["models"]["id"] == model_fingerprint(random_checkpoint()) and health["catalog_items"] == 0
    finally:
        server.terminate()
        server.wait(timeout=60)
