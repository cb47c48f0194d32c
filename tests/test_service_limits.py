"""The service under bad input and load: every bad upload a 4xx {"error": ...} that says why (never a
500), size and pixel limits, the admin key, zip slip and server paths in imports, the busy queue (503 +
Retry-After while the event loop keeps answering), CORS closed by default, photos not kept."""

from __future__ import annotations

import io
import threading
import zipfile

import pytest

from service_testing import ADMIN_KEY, PRODUCTS, photo_bytes, product_zip, products_csv, tiny_client, upload
from tiny_models import random_analyzer

ADMIN = {"X-API-Key": ADMIN_KEY}


def zipped(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.fixture
def client(tmp_path):
    with tiny_client(tmp_path, max_upload_bytes=4000, max_pixels=64 * 64) as (client, settings):
        yield client


@pytest.mark.parametrize(
    "name, data, status, error",
    [
        ("empty.jpg", b"", 422, "empty.jpg: empty file (0 bytes)"),
        ("notes.jpg", b"a text file, not a photo\n", 422, "notes.jpg: not an image (unrecognised format)"),
        ("cut.jpg", photo_bytes(size=(48, 48))[:300], 422, "cut.jpg: corrupt or truncated image"),
        ("big.jpg", b"\xff\xd8" + bytes(5000), 413, "big.jpg: over the upload limit of 4000 bytes"),
        (
            "huge.png",
            photo_bytes(size=(65, 64), fmt="PNG"),
            413,
            "huge.png: image too large (65x64 pixels, limit 4096)",
        ),
        ("../../etc/x.png", b"GIF89a", 422, "x.png: not an image"),  # only the base name is shown
    ],
)
def test_a_bad_photo_is_a_4xx_that_says_why(client, name, data, status, error):
    for route in ("/analyze", "/recommend"):
        response = client.post(route, files=upload(data, name))
        assert response.status_code == status, response.text
        assert response.json()["error"].startswith(error)
    assert client.get("/insights").json()["events"] == 0  # nothing logged for a refused photo


def test_a_body_over_the_limit_is_refused_before_it_is_read(client):
    declared = client.post("/analyze", files=upload(bytes(200_000)))
    assert declared.status_code == 413
    assert declared.json()["error"].startswith("request body too large (") and declared.json()["error"].endswith(
        ", limit 69536 bytes)"
    )
    # sent in chunks, without a length: counted as it arrives
    chunked = client.post("/events", content=iter([b"x" * 50_000] * 4), headers={"content-type": "application/json"})
    assert (chunked.status_code, chunked.json()) == (413, {"error": "request body too large (limit 69536 bytes)"})


@pytest.mark.parametrize(
    "route, request_options, error",
    [
        ("/analyze", {"data": {"channel": "online"}}, "photo: Field required"),
        (
            "/recommend",
            {"files": upload(photo_bytes()), "data": {"k": "0"}},
            "k: Input should be greater than or equal to 1",
        ),
        ("/recommend", {"files": upload(photo_bytes()), "data": {"k": "many"}}, "k: Input should be a valid integer"),
        (
            "/analyze",
            {"files": upload(photo_bytes()), "data": {"channel": "mall"}},
            "channel: Input should be 'online' or 'store'",
        ),
        ("/events", {"json": {"kind": "like", "item_ids": ["A"]}}, "kind: Input should be 'shown' or 'click'"),
        ("/events", {"json": {"kind": "click", "item_ids": []}}, "item_ids: List should have at least 1 item"),
        (
            "/events",
            {"content": b"{not json", "headers": {"content-type": "application/json"}},
            "request body: invalid JSON",
        ),
    ],
)
def test_a_missing_or_invalid_field_is_a_422_in_one_line(client, route, request_options, error):
    response = client.post(route, **request_options)
    assert response.status_code == 422
    assert response.json()["error"].startswith(error) and "\n" not in response.json()["error"]


def test_bad_queries_and_unknown_routes_are_json_too(client):
    checks = [
        (client.get("/insights", params={"by": "month"}), 422, "by: Input should be 'day' or 'week'"),
        (client.get("/insights", params={"since": "yesterday"}), 422, "since: Input should be a valid date"),
        (client.get("/catalog/items", params={"region": "feet"}), 422, "region 'feet': choose one of"),
        (client.get("/catalog/items", params={"limit": 0}), 422, "limit: Input should be greater than"),
        (client.get("/insights/charts/pie.png"), 404, "no chart 'pie'; charts: shares, trend"),
        (client.get("/nowhere"), 404, "not found: /nowhere"),
        (client.put("/health"), 405, "method PUT not allowed on /health"),
    ]
    for response, status, error in checks:
        assert (response.status_code, response.json()["error"][: len(error)]) == (status, error)


@pytest.mark.parametrize(
    "headers, status, error",
    [
        ({}, 401, "missing X-API-Key header (admin route)"),
        ({"X-API-Key": "wrong"}, 401, "wrong X-API-Key"),
        ({"X-API-Key": ADMIN_KEY + "x"}, 401, "wrong X-API-Key"),
    ],
)
def test_admin_routes_need_the_right_key(client, headers, status, error):
    archive = {"archive": ("shop.zip", product_zip(), "application/zip")}
    answers = [
        client.post("/catalog/import", files=archive, headers=headers),
        client.put("/catalog/items/TEE-RED", json={"name": "hacked"}, headers=headers),
        client.delete("/catalog/items/TEE-RED", headers=headers),
    ]
    assert [(r.status_code, r.json()) for r in answers] == [(status, {"error": error})] * 3
    items = {i["id"]: i for i in client.get("/catalog/items").json()["items"]}
    assert len(items) == len(PRODUCTS) and items["TEE-RED"]["name"] == "Red tee"
    assert client.get("/catalog/status").json()["last_import"] is None


def test_without_a_configured_key_admin_routes_are_refused(tmp_path):
    with tiny_client(tmp_path, admin_key=None) as (client, _):
        response = client.delete("/catalog/items/TEE-RED", headers={"X-API-Key": "anything"})
        assert response.status_code == 403 and response.json()["error"].startswith("admin key not configured")
        assert client.get("/catalog/items").json()["total"] == len(PRODUCTS)


def test_the_key_is_checked_before_an_upload_is_read(tmp_path):
    with tiny_client(tmp_path, catalogue=False, max_import_bytes=1000) as (client, _):
        archive = {"archive": ("shop.zip", product_zip(), "application/zip")}  # over 1000 bytes
        assert client.post("/catalog/import", files=archive).status_code == 401
        too_big = client.post("/catalog/import", files=archive, headers=ADMIN)
    assert (too_big.status_code, too_big.json()) == (413, {"error": "shop.zip: over the upload limit of 1000 bytes"})


@pytest.mark.parametrize(
    "entry", ["../evil.jpg", "images/../../evil.jpg", "/tmp/evil.jpg", "C:/evil.jpg", "images\\..\\..\\evil.jpg"]
)
def test_a_zip_slip_archive_is_refused_whole(tmp_path, entry):
    archive = zipped(
        {"products.csv": products_csv(PRODUCTS[:1]), "images/tee-red.jpg": photo_bytes(), entry: photo_bytes()}
    )
    with tiny_client(tmp_path / "service", catalogue=False) as (client, settings):
        response = client.post(
            "/catalog/import", files={"archive": ("shop.zip", archive, "application/zip")}, headers=ADMIN
        )
        items = client.get("/catalog/status").json()["items"]
    assert response.status_code == 422
    body = response.json()
    assert (body["state"], body["imported"]) == ("refused", 0)
    assert (
        body["error"]
        == f"shop.zip: entry {entry!r} would land outside the import (absolute path or '..'); nothing imported"
    )
    assert items == 0
    assert not list(tmp_path.rglob("evil.jpg")) and not list((settings.media_dir / "products").rglob("*"))


@pytest.mark.parametrize("image, shown", [("/etc/hostname", "/etc/hostname"), ("../../secret.jpg", "../../secret.jpg")])
def test_csv_image_paths_outside_the_upload_are_refused(tmp_path, image, shown):
    (tmp_path / "secret.jpg").write_bytes(photo_bytes())  # a photo on the server, never to be imported
    csv = f"id,image\nOK,images/ok.jpg\nSNEAK,{image}\n".encode()
    archive = zipped({"products.csv": csv, "images/ok.jpg": photo_bytes()})
    with tiny_client(tmp_path / "service", catalogue=False) as (client, _):
        response = client.post(
            "/catalog/import", files={"archive": ("shop.zip", archive, "application/zip")}, headers=ADMIN
        )
        items = client.get("/catalog/status").json()["items"]
    assert (response.status_code, items) == (422, 0)
    assert (
        response.json()["error"] == f"products.csv:3: image {shown!r} is outside the upload (absolute path or "
        "'..'); nothing imported"
    )


def test_archives_that_cannot_be_imported_are_refused_with_the_reason(tmp_path):
    cases = [
        ({"archive": ("shop.zip", b"PK\x03\x04 not really", "application/zip")}, 422, "shop.zip: not a zip archive"),
        (
            {"archive": ("shop.zip", zipped({"a.jpg": photo_bytes()}), "application/zip")},
            422,
            "shop.zip: expected one products.csv in the archive, found 0",
        ),
        (
            {"archive": ("shop.zip", zipped({"products.csv": b"sku,picture\nA,a.jpg\n"}), "application/zip")},
            422,
            "products.csv:1: the header needs the columns id,image",
        ),
        (
            {"archive": ("shop.zip", zipped({"products.csv": b"id,image\nA,missing.jpg\n"}), "application/zip")},
            422,
            "nothing imported: 1 refused rows",
        ),
        ({}, 422, "send either archive (a .zip) or csv with its images, as files"),
        (
            {
                "archive": (
                    "shop.zip",
                    zipped({"products.csv": b"id,image\n", "a.jpg": bytes(40_000)}),
                    "application/zip",
                )
            },
            413,
            "shop.zip: unpacks to 40009 bytes in 2 files, over the import limit",
        ),
    ]
    with tiny_client(tmp_path, catalogue=False, max_import_bytes=30_000) as (client, _):
        for files, status, error in cases:
            response = client.post(
                "/catalog/import", files=files or None, headers=ADMIN, data=None if files else {"note": "no file"}
            )
            assert (response.status_code, response.json()["error"][: len(error)]) == (status, error)
        assert client.get("/catalog/status").json()["items"] == 0


class BlockingAnalyzer:
    """The tiny Analyzer, holding each call until released: a model busy with a slow photo."""

    def __init__(self):
        self.inner, self.entered, self.release = random_analyzer(), threading.Event(), threading.Event()

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def analyze(self, images, names):
        self.entered.set()
        assert self.release.wait(60)
        return self.inner.analyze(images, names)


def test_a_full_queue_answers_503_at_once_while_the_loop_stays_free(tmp_path):
    analyzer = BlockingAnalyzer()
    with tiny_client(tmp_path, catalogue=False, analyzer=analyzer, max_pending=1) as (client, _):
        first: list = []
        worker = threading.Thread(target=lambda: first.append(client.post("/analyze", files=upload(photo_bytes()))))
        worker.start()
        assert analyzer.entered.wait(60)
        busy = client.post("/recommend", files=upload(photo_bytes()))
        health = client.get("/health")  # answered while the model works: the work is in a worker thread
        analyzer.release.set()
        worker.join(60)
        after = client.post("/analyze", files=upload(photo_bytes()))
    assert busy.status_code == 503
    assert busy.json() == {"error": "the service is busy: too many photos are waiting to be analysed"}
    assert int(busy.headers["Retry-After"]) >= 1
    assert health.status_code == 200
    assert first[0].status_code == 200 and after.status_code == 200  # the slot was given back


def test_cors_is_closed_unless_origins_are_configured(tmp_path):
    preflight = {"Origin": "https://elsewhere.example", "Access-Control-Request-Method": "POST"}
    with tiny_client(tmp_path / "a", catalogue=False) as (client, _):
        closed = client.options("/analyze", headers=preflight)
        simple = client.get("/health", headers={"Origin": "https://elsewhere.example"})
    with tiny_client(tmp_path / "b", catalogue=False, cors_origins=["https://shop.example"]) as (client, _):
        allowed = client.options("/analyze", headers={**preflight, "Origin": "https://shop.example"})
        other = client.options("/analyze", headers=preflight)
    assert "access-control-allow-origin" not in closed.headers and "access-control-allow-origin" not in simple.headers
    assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == "https://shop.example"
    assert other.status_code == 400 and "access-control-allow-origin" not in other.headers


def test_customer_photos_are_kept_only_when_configured(tmp_path):
    with tiny_client(tmp_path / "a", catalogue=False) as (client, settings):
        client.post("/analyze", files=upload(photo_bytes()))
        assert not (settings.media_dir / "photos").exists()
    with tiny_client(tmp_path / "b", catalogue=False, store_photos=True) as (client, settings):
        client.post("/analyze", files=upload(photo_bytes()))
        assert len(list((settings.media_dir / "photos").glob("*.png"))) == 1
