"""The README's `fashionlens serve --catalog shop.db`: relative paths are resolved once, at start-up, so an
admin import through the API finds its photos (the staged links point at the kept files, wherever the
process's working folder is later)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fashionlens.core.checkpoint import save_checkpoint
from fashionlens.service import ServiceSettings
from service_testing import ADMIN_KEY, PRODUCTS, product_zip
from tiny_models import random_checkpoint

TWO_PRODUCTS = PRODUCTS[:2]


@pytest.fixture
def served(monkeypatch):
    """uvicorn.run replaced: records the app `fashionlens serve` would have served."""
    import uvicorn

    apps = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: apps.append(app))
    return apps


def test_readme_serve_with_a_relative_catalogue_imports_a_zip_of_two_products(
    tmp_path, monkeypatch, fashionlens, served
):
    save_checkpoint(random_checkpoint(), tmp_path / "classifier.pt")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FASHIONLENS_ADMIN_KEY", ADMIN_KEY)
    done = fashionlens("serve", "--catalog", "shop.db", "--classifier", "classifier.pt", "--whole-image")
    assert done.returncode == 0, done.stderr
    monkeypatch.chdir(tmp_path.parent)  # the server's later working folder must not matter
    with TestClient(served[0]) as client:
        answer = client.post(
            "/catalog/import",
            headers={"X-API-Key": ADMIN_KEY},
            files={"archive": ("shop.zip", product_zip(TWO_PRODUCTS), "application/zip")},
        )
        listed = client.get("/catalog/items").json()
        photo = client.get(f"/catalog/items/{TWO_PRODUCTS[0][0]}/image")
    assert answer.status_code == 200, answer.json()
    assert (answer.json()["imported"], answer.json()["refused_rows"]) == (2, [])
    assert sorted(item["id"] for item in listed["items"]) == sorted(p[0] for p in TWO_PRODUCTS)
    assert photo.status_code == 200 and photo.content[:2] == b"\xff\xd8"
    assert (tmp_path / "shop.db.media" / "products").is_dir()  # beside the catalogue, as documented


def test_settings_resolve_relative_paths_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = ServiceSettings(catalog=Path("shop.db"), media_dir=Path("photos"))
    assert (settings.catalog, settings.media_dir) == (tmp_path / "shop.db", tmp_path / "photos")
    default = ServiceSettings(catalog=Path("shop.db"))
    assert default.media_dir == tmp_path / "shop.db.media"
