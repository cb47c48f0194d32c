"""Helpers for the service tests and for anyone who needs a running fashionlens service with tiny models.

`product_zip(root, products)`: a catalogue archive (products.csv + solid-colour photos) as bytes.
`tiny_settings(root, **changes)`: ServiceSettings over a fresh catalogue with the seeded, untrained tiny
    classifier (tiny_models.random_analyzer), no detector, admin key ADMIN_KEY.
`tiny_live_server(root)`: a real server (uvicorn, free loopback port) over a catalogue of PRODUCTS;
    yields a LiveServer (url, admin_key, catalog, media_dir, photos). The `live_server` fixture of
    conftest.py wraps it.
"""

from __future__ import annotations

import csv
import io
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from PIL import Image

from tiny_models import random_analyzer

ADMIN_KEY = "test-admin-key"
# id, name, price, category ("" = the classifier's, so the region is the one a query of the same photo
# gets), colour of the solid photo
PRODUCTS = [
    ("TEE-RED", "Red tee", "19.90", "", (220, 40, 40)),
    ("PANTS-BLUE", "Blue pants", "49.00", "Pants", (40, 70, 220)),
    ("DRESS-GREEN", "Green dress", "89.00", "", (40, 160, 60)),
    ("SKIRT-YELLOW", "Yellow skirt", "35.00", "Skirt", (230, 200, 40)),
    ("SHIRT-WHITE", "White shirt", "39.00", "Shirt", (240, 240, 240)),
]


def photo_bytes(
    color: tuple[int, int, int] = (220, 40, 40), size: tuple[int, int] = (32, 32), fmt: str = "JPEG", **save_options
) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format=fmt, **save_options)
    return buffer.getvalue()


def products_csv(products: list[tuple], image_of=lambda item_id: f"images/{item_id.lower()}.jpg") -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["id", "image", "name", "price", "category"])
    writer.writerows(
        [item_id, image_of(item_id), name, price, category] for item_id, name, price, category, _ in products
    )
    return buffer.getvalue().encode()


def product_zip(products: list[tuple] = PRODUCTS, extra: dict[str, bytes] | None = None) -> bytes:
    """products.csv + images/<id>.jpg (a solid photo of the product's colour) + `extra` entries, zipped."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("products.csv", products_csv(products))
        for item_id, _, _, _, color in products:
            if color is not None:  # None: the test adds the photo itself (in `extra`)
                archive.writestr(f"images/{item_id.lower()}.jpg", photo_bytes(color))
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return buffer.getvalue()


def tiny_settings(root: Path, **changes):
    from fashionlens.service import ServiceSettings

    return ServiceSettings(
        **{"catalog": root / "shop.db", "analyzer": random_analyzer(), "admin_key": ADMIN_KEY, **changes}
    )


def import_catalogue(settings, products: list[tuple] = PRODUCTS, analyzer=None) -> None:
    """Fill the settings' catalogue through the importer (what POST /catalog/import runs)."""
    from fashionlens.catalog.importer import import_products
    from fashionlens.catalog.store import SQLiteStore

    folder = settings.media_dir / "seed"
    (folder / "images").mkdir(parents=True, exist_ok=True)
    (folder / "products.csv").write_bytes(products_csv(products))
    for item_id, _, _, _, color in products:
        (folder / "images" / f"{item_id.lower()}.jpg").write_bytes(photo_bytes(color))
    store = SQLiteStore(settings.catalog, create=True)
    try:
        report = import_products(folder / "products.csv", store, analyzer or settings.analyzer)
    finally:
        store.close()
    assert report.new == len(products), report.bad


@dataclass
class LiveServer:
    url: str
    admin_key: str
    catalog: Path
    media_dir: Path
    photos: dict[str, bytes]  # product id -> the bytes of its photo (upload one to find that product)


@contextmanager
def tiny_live_server(root: Path, **changes) -> Iterator[LiveServer]:
    from fashionlens.service import create_app
    from fashionlens.service.live import running_server

    settings = tiny_settings(root, **changes)
    import_catalogue(settings)
    with running_server(create_app(settings), **settings.uvicorn_options()) as url:
        yield LiveServer(
            url,
            ADMIN_KEY,
            settings.catalog,
            settings.media_dir,
            {item_id: photo_bytes(color) for item_id, _, _, _, color in PRODUCTS},
        )


@contextmanager
def tiny_client(root: Path, catalogue: bool = True, **changes):
    """A TestClient (lifespan run) of a service over tiny_settings; the catalogue of PRODUCTS unless
    `catalogue` is False. Yields (client, settings)."""
    from fastapi.testclient import TestClient

    from fashionlens.service import create_app

    settings = tiny_settings(root, **changes)
    if catalogue:  # made by the tiny model of seed 0, whatever analyzer the service was given
        import_catalogue(settings, analyzer=random_analyzer() if "analyzer" in changes else None)
    with TestClient(create_app(settings)) as client:
        yield client, settings


def upload(data: bytes, name: str = "photo.jpg", content_type: str = "image/jpeg") -> dict:
    return {"photo": (name, data, content_type)}
