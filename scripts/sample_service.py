"""A real `fashionlens serve` on loopback with the shipped default models and the clothing sample as its
catalogue, imported through the API as a retailer would (whole_image: the sample's photos are flat-lay):
for scripts/screenshot_pages.py and benchmarks/load.py.

    with sample_service(Path("/tmp/work")) as service:   # service.url, service.process.pid
        httpx.post(f"{service.url}/recommend", files={"photo": ...})

The server is a subprocess (its memory is its own, as in production); it is stopped when the block ends.
A catalogue that already holds items (a second run with the same folder) is not imported again.
"""

from __future__ import annotations

import csv
import io
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import httpx

START_TIMEOUT_S = 300.0  # the default models load before the port opens
IMPORT_TIMEOUT_S = 1800.0  # 250 product photos analysed on a small CPU


@dataclass
class Service:
    url: str
    process: subprocess.Popen
    catalog: Path
    admin_key: str
    imported: dict | None  # the API's ImportStatus, None when the catalogue was already there


def street_photos() -> list[Path]:
    """The embedded street photos, by file name."""
    from fashionlens.samples import sample_path

    return sorted((sample_path("street") / "images").glob("*.jpg"))


def catalogue_zip(limit: int | None = None) -> bytes:
    """The clothing sample as a shop's upload: products.csv (the demo's product rows, image paths made
    relative) + images/, zipped."""
    from fashionlens.cli.demo import write_products

    with tempfile.TemporaryDirectory() as folder:
        write_products(Path(folder) / "products.csv", limit)
        with (Path(folder) / "products.csv").open(encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    buffer, table = io.BytesIO(), io.StringIO()
    writer = csv.DictWriter(table, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    with zipfile.ZipFile(buffer, "w") as archive:
        for row in rows:
            image = Path(row["image"])
            archive.write(image, f"images/{image.name}")
            writer.writerow({**row, "image": f"images/{image.name}"})
        archive.writestr("products.csv", table.getvalue())
    return buffer.getvalue()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(catalog: Path, port: int, admin_key: str, log: Path, options: list[str]) -> subprocess.Popen:
    command = [
        sys.executable,
        "-c",
        "from fashionlens.cli import main; main()",
        "serve",
        "--catalog",
        str(catalog),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        *options,
    ]
    env = {**os.environ, "FASHIONLENS_ADMIN_KEY": admin_key}
    with log.open("ab") as output:  # the child keeps its own handle
        return subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)


def wait_healthy(url: str, process: subprocess.Popen, log: Path) -> dict:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server stopped (exit {process.returncode}); its log: {log}")
        try:
            return httpx.get(f"{url}/health", timeout=5).raise_for_status().json()
        except httpx.HTTPError:
            time.sleep(0.5)
    raise RuntimeError(f"the server did not answer /health within {START_TIMEOUT_S:.0f} s; its log: {log}")


def import_sample(url: str, admin_key: str, limit: int | None) -> dict:
    """The clothing sample's photos are flat-lay (one garment on a plain background): whole_image, so the
    detector does not cut a shoe into a "full" body garment that would then be suggested for trousers."""
    answer = httpx.post(
        f"{url}/catalog/import",
        headers={"X-API-Key": admin_key},
        timeout=IMPORT_TIMEOUT_S,
        data={"whole_image": "true"},
        files={"archive": ("clothing-sample.zip", catalogue_zip(limit), "application/zip")},
    )
    if answer.status_code != 200:
        raise RuntimeError(f"catalogue import refused ({answer.status_code}): {answer.text}")
    return answer.json()


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()  # uvicorn shuts down cleanly (lifespan) on SIGTERM
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def sample_service(workdir: Path, products: int | None = None, options: list[str] = ()) -> Iterator[Service]:
    """The server over `workdir/shop.db`, the sample imported (first `products` rows; None: all 250);
    `options`: more `fashionlens serve` options (e.g. --backend onnx)."""
    workdir.mkdir(parents=True, exist_ok=True)
    catalog, log, admin_key = workdir / "shop.db", workdir / "server.log", secrets.token_urlsafe(16)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = start_server(catalog, port, admin_key, log, list(options))
    try:
        health = wait_healthy(url, process, log)
        imported = import_sample(url, admin_key, products) if health["catalog_items"] == 0 else None
        yield Service(url, process, catalog, admin_key, imported)
    finally:
        stop(process)
