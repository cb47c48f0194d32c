"""Bad requests to the web service, written at test time: each gets its 4xx with a JSON {"error": ...} naming
what is wrong (never a 500), the nosniff header, and leaves the catalogue, the events and the media folder
as they were."""

from __future__ import annotations

import io
import struct
import threading
import zipfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest

from fashionlens.catalog.store import SQLiteStore
from service_testing import ADMIN_KEY, PRODUCTS, photo_bytes, product_zip, products_csv, tiny_client, upload

ADMIN = {"X-API-Key": ADMIN_KEY}
UPLOAD_LIMIT = 100_000  # bytes of one photo in these tests
IMPORT_LIMIT = 300_000  # bytes of an archive, packed and unpacked


def png_of_size(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height pixels, with almost no pixel data: the size of a
    decompression bomb at the cost of a few bytes (the pixel limit must refuse it from the header)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )


def zipped(entries: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def with_bad_crc(archive: bytes, entry: str) -> bytes:
    """The archive with one byte of `entry`'s data changed: stored, its CRC no longer matches; deflated,
    the compressed stream is broken."""
    data = bytearray(archive)
    start = data.index(entry.encode()) + len(entry)  # the local header's name, then (no extra) the data
    data[start + 2] ^= 0xFF
    return bytes(data)


def archive_upload(data: bytes, name: str = "shop.zip") -> dict:
    return {"archive": (name, data, "application/zip")}


TEE = photo_bytes((220, 40, 40))
TWO_ROWS = PRODUCTS[:2]


@dataclass
class Case:
    id: str
    method: str
    path: str
    status: int
    words: tuple[str, ...]  # in the error message, lower case
    options: dict[str, Any] = field(default_factory=dict)


CASES = [
    # photos
    Case("broken-jpeg", "POST", "/analyze", 422, ("corrupt or truncated",), {"files": upload(TEE[: len(TEE) // 2])}),
    Case("zero-bytes", "POST", "/analyze", 422, ("empty file",), {"files": upload(b"")}),
    Case("not-an-image", "POST", "/analyze", 422, ("not an image",), {"files": upload(b"name,price\nshirt,3\n")}),
    Case(
        "png-over-pixel-limit",
        "POST",
        "/analyze",
        413,
        ("too large", "7000x7000"),
        {"files": upload(png_of_size(7000, 7000), "bomb.png", "image/png")},
    ),
    Case(
        "png-decompression-bomb",
        "POST",
        "/analyze",
        413,
        ("too large",),
        {"files": upload(png_of_size(40000, 40000), "bomb.png", "image/png")},
    ),
    Case(
        "png-without-its-pixels",
        "POST",
        "/analyze",
        422,
        ("corrupt or truncated",),
        {"files": upload(png_of_size(64, 64), "short.png", "image/png")},
    ),
    Case(
        "aspect-10000x20",
        "POST",
        "/analyze",
        422,
        ("aspect ratio", "10000x20", "20 times"),
        {"files": upload(photo_bytes(size=(10000, 20), fmt="PNG"), "wide.png", "image/png")},
    ),
    Case(
        "aspect-20x10000",
        "POST",
        "/recommend",
        422,
        ("aspect ratio", "20x10000"),
        {"files": upload(photo_bytes(size=(20, 10000), fmt="PNG"), "tall.png", "image/png")},
    ),
    Case(
        "photo-over-upload-limit",
        "POST",
        "/analyze",
        413,
        ("over the upload limit",),
        {"files": upload(TEE + b"\0" * UPLOAD_LIMIT)},
    ),
    Case(
        "declared-length-over-limit",
        "POST",
        "/analyze",
        413,
        ("request body too large",),
        {"content": b"x" * 10, "headers": {"Content-Length": str(10**9), "Content-Type": "image/jpeg"}},
    ),
    Case("json-instead-of-a-form", "POST", "/analyze", 422, ("photo", "required"), {"json": {"photo": "a.jpg"}}),
    Case("photo-as-a-text-field", "POST", "/analyze", 422, ("photo",), {"data": {"photo": "a.jpg"}}),
    Case("no-photo", "POST", "/recommend", 422, ("photo", "required"), {"data": {"k": "3"}}),
    Case("unknown-channel", "POST", "/analyze", 422, ("channel",), {"files": upload(TEE), "data": {"channel": "tv"}}),
    Case(
        "session-too-long",
        "POST",
        "/analyze",
        422,
        ("session",),
        {"files": upload(TEE), "data": {"session": "s" * 1000}},
    ),
    Case(
        "k-zero",
        "POST",
        "/recommend",
        422,
        ("k", "greater than or equal to 1"),
        {"files": upload(TEE), "data": {"k": "0"}},
    ),
    Case("k-huge", "POST", "/recommend", 422, ("k",), {"files": upload(TEE), "data": {"k": "9" * 30}}),
    Case("k-not-a-number", "POST", "/recommend", 422, ("k", "integer"), {"files": upload(TEE), "data": {"k": "many"}}),
    # query parameters
    Case("offset-overflow", "GET", "/catalog/items?offset=99999999999999999999", 422, ("offset", "less than")),
    Case("offset-negative", "GET", "/catalog/items?offset=-1", 422, ("offset",)),
    Case("limit-zero", "GET", "/catalog/items?limit=0", 422, ("limit",)),
    Case("limit-huge", "GET", "/catalog/items?limit=100000", 422, ("limit",)),
    Case("limit-not-a-number", "GET", "/catalog/items?limit=ten", 422, ("limit", "integer")),
    Case("region-unknown", "GET", "/catalog/items?region=nowhere", 422, ("region", "nowhere")),
    Case("query-too-long", "GET", "/catalog/items?q=" + "a" * 1000, 422, ("q",)),
    Case("category-too-long", "GET", "/catalog/items?category=" + "c" * 1000, 422, ("category",)),
    Case("since-not-a-date", "GET", "/insights?since=yesterday", 422, ("since",)),
    Case("since-year-99999", "GET", "/insights?since=99999-01-01", 422, ("since",)),
    Case("by-unknown", "GET", "/insights?by=year", 422, ("by",)),
    Case("chart-unknown", "GET", "/insights/charts/pie.png", 404, ("no chart",)),
    Case("product-unknown-image", "GET", "/catalog/items/NOPE/image", 404, ("no product", "nope")),
    Case("path-unknown", "GET", "/etc/passwd", 404, ("not found",)),
    Case("method-not-allowed", "DELETE", "/health", 405, ("method delete not allowed",)),
    # events
    Case(
        "events-invalid-json",
        "POST",
        "/events",
        422,
        ("invalid json",),
        {"content": b'{"kind": "click", "item_ids": [', "headers": {"Content-Type": "application/json"}},
    ),
    Case("events-unknown-kind", "POST", "/events", 422, ("kind",), {"json": {"kind": "buy", "item_ids": ["A"]}}),
    Case("events-no-items", "POST", "/events", 422, ("item_ids",), {"json": {"kind": "click", "item_ids": []}}),
    Case(
        "events-too-many-items",
        "POST",
        "/events",
        422,
        ("item_ids",),
        {"json": {"kind": "shown", "item_ids": ["A"] * 1000}},
    ),
    Case("events-empty-id", "POST", "/events", 422, ("item_ids",), {"json": {"kind": "click", "item_ids": [""]}}),
    Case("events-a-list", "POST", "/events", 422, ("request",), {"json": [{"kind": "click"}]}),
    Case(
        "events-unknown-field",
        "POST",
        "/events",
        422,
        ("price",),
        {"json": {"kind": "click", "item_ids": ["A"], "price": 3}},
    ),
    # the admin routes
    Case(
        "import-without-key",
        "POST",
        "/catalog/import",
        401,
        ("missing x-api-key",),
        {"files": archive_upload(product_zip(TWO_ROWS))},
    ),
    Case(
        "import-wrong-key",
        "POST",
        "/catalog/import",
        401,
        ("wrong x-api-key",),
        {"files": archive_upload(product_zip(TWO_ROWS)), "headers": {"X-API-Key": ADMIN_KEY + "x"}},
    ),
    Case(
        "import-not-a-zip",
        "POST",
        "/catalog/import",
        422,
        ("not a zip archive",),
        {"files": archive_upload(b"PK\x03\x04 not really"), "headers": ADMIN},
    ),
    Case(
        "import-zip-without-csv",
        "POST",
        "/catalog/import",
        422,
        ("expected one products.csv", "found 0"),
        {"files": archive_upload(zipped({"images/a.jpg": TEE})), "headers": ADMIN},
    ),
    Case(
        "import-two-csvs",
        "POST",
        "/catalog/import",
        422,
        ("expected one products.csv", "found 2"),
        {"files": archive_upload(zipped({"a.csv": b"id,image\n", "b.csv": b"id,image\n"})), "headers": ADMIN},
    ),
    Case(
        "import-zip-slip",
        "POST",
        "/catalog/import",
        422,
        ("outside the import", "nothing imported"),
        {
            "files": archive_upload(zipped({"products.csv": products_csv(TWO_ROWS), "../../evil.jpg": TEE})),
            "headers": ADMIN,
        },
    ),
    Case(
        "import-absolute-entry",
        "POST",
        "/catalog/import",
        422,
        ("outside the import",),
        {
            "files": archive_upload(zipped({"products.csv": products_csv(TWO_ROWS), "/tmp/evil.jpg": TEE})),
            "headers": ADMIN,
        },
    ),
    Case(
        "import-csv-names-a-server-file",
        "POST",
        "/catalog/import",
        422,
        ("outside the upload",),
        {
            "files": archive_upload(zipped({"products.csv": products_csv(TWO_ROWS, lambda _: "/etc/passwd")})),
            "headers": ADMIN,
        },
    ),
    Case(
        "import-zip-bomb",
        "POST",
        "/catalog/import",
        413,
        ("over the import limit",),
        {
            "files": archive_upload(
                zipped({"products.csv": products_csv(TWO_ROWS), "images/big.jpg": b"\0" * (IMPORT_LIMIT * 4)})
            ),
            "headers": ADMIN,
        },
    ),
    Case(
        "import-bad-crc",
        "POST",
        "/catalog/import",
        422,
        ("cannot be read", "crc"),
        {
            "files": archive_upload(
                with_bad_crc(
                    zipped({"products.csv": products_csv(TWO_ROWS), "images/tee-red.jpg": TEE}, zipfile.ZIP_STORED),
                    "images/tee-red.jpg",
                )
            ),
            "headers": ADMIN,
        },
    ),
    Case(
        "import-bad-deflate",
        "POST",
        "/catalog/import",
        422,
        ("cannot be read",),  # was zlib.error, a 500
        {
            "files": archive_upload(
                with_bad_crc(
                    zipped({"products.csv": products_csv(TWO_ROWS), "images/tee-red.jpg": b"\1" * 5000}),
                    "images/tee-red.jpg",
                )
            ),
            "headers": ADMIN,
        },
    ),
    Case(
        "import-photos-missing",
        "POST",
        "/catalog/import",
        422,
        ("nothing imported", "2 refused rows"),
        {"files": archive_upload(zipped({"products.csv": products_csv(TWO_ROWS)})), "headers": ADMIN},
    ),
    Case(
        "import-broken-photos",
        "POST",
        "/catalog/import",
        422,
        ("nothing imported",),
        {
            "files": archive_upload(
                zipped(
                    {
                        "products.csv": products_csv(TWO_ROWS),
                        **{f"images/{p[0].lower()}.jpg": TEE[:100] for p in TWO_ROWS},
                    }
                )
            ),
            "headers": ADMIN,
        },
    ),
    Case(
        "import-archive-and-csv",
        "POST",
        "/catalog/import",
        422,
        ("either archive",),
        {
            "files": {**archive_upload(product_zip(TWO_ROWS)), "csv": ("p.csv", products_csv(TWO_ROWS), "text/csv")},
            "headers": ADMIN,
        },
    ),
    Case(
        "import-nothing",
        "POST",
        "/catalog/import",
        422,
        ("either archive",),
        {"data": {"on_model": "false"}, "headers": ADMIN},
    ),
    Case(
        "update-nothing", "PUT", "/catalog/items/TEE-RED", 422, ("nothing to update",), {"json": {}, "headers": ADMIN}
    ),
    Case(
        "update-negative-price",
        "PUT",
        "/catalog/items/TEE-RED",
        422,
        ("price",),
        {"json": {"price": -5}, "headers": ADMIN},
    ),
    Case(
        "update-unknown-product",
        "PUT",
        "/catalog/items/NOPE",
        404,
        ("no product",),
        {"json": {"name": "x"}, "headers": ADMIN},
    ),
    Case("update-without-key", "PUT", "/catalog/items/TEE-RED", 401, ("x-api-key",), {"json": {"name": "x"}}),
    Case("delete-unknown-product", "DELETE", "/catalog/items/NOPE", 404, ("no product",), {"headers": ADMIN}),
]


def kept_state(settings) -> tuple:
    """What a bad request must leave as it was: the products, the events, the files kept for imports."""
    store = SQLiteStore(settings.catalog)
    try:
        products = sorted((item.id, item.name, item.price) for item in store.find_items())
        events = len(store.events())
    finally:
        store.close()
    files = sorted(
        str(path.relative_to(settings.media_dir)) for path in settings.media_dir.rglob("*") if path.is_file()
    )
    return products, events, files


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    with tiny_client(tmp_path_factory.mktemp("http"), max_upload_bytes=UPLOAD_LIMIT, max_import_bytes=IMPORT_LIMIT) as (
        client,
        settings,
    ):
        yield client, settings


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_a_bad_request_gets_its_error_and_changes_nothing(service, case: Case):
    client, settings = service
    before = kept_state(settings)
    answer = client.request(case.method, case.path, **case.options)
    assert answer.status_code == case.status, answer.text
    message = answer.json()["error"]
    assert "\n" not in message and all(word in message.lower() for word in case.words), message
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert kept_state(settings) == before
    assert not list((settings.media_dir / ".staging").glob("*"))  # no import's leftovers


def test_the_suite_holds_enough_cases():
    assert len(CASES) >= 30 and len({case.id for case in CASES}) == len(CASES)


def test_good_requests_still_work(service):
    """The same service answers well-formed requests (the cases above fail for their own reason)."""
    client, settings = service
    assert client.post("/analyze", files=upload(TEE)).status_code == 200
    assert client.post("/analyze", files=upload(photo_bytes(size=(400, 20)), "banner.jpg")).status_code == 200
    assert client.get("/catalog/items?offset=1000000000").json()["items"] == []
    assert client.post("/events", json={"kind": "click", "item_ids": ["TEE-RED"]}).status_code == 202


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/dashboard",
        "/health",
        "/openapi.json",
        "/static/customer.js",
        "/catalog/items/TEE-RED/image",
        "/nothing-here",
    ],
)
def test_every_answer_says_nosniff(service, path):
    client, _ = service
    assert client.get(path).headers["x-content-type-options"] == "nosniff"


def test_no_docs_pages_that_need_a_cdn(service):
    """/docs and /redoc loaded Swagger UI and ReDoc from a CDN (blank offline): they are off, the OpenAPI
    description stays."""
    client, _ = service
    assert client.get("/docs").status_code == 404 and client.get("/redoc").status_code == 404
    described = client.get("/openapi.json").json()
    assert "/analyze" in described["paths"] and "cdn" not in client.get("/openapi.json").text.lower()


def test_model_work_runs_on_one_thread(service):
    """The models run on one thread of their own: spread over the thread pool, each thread's allocator
    arena kept a model call's peak and the server's memory grew with the threads used (docs/benchmarks.md)."""
    client, _ = service
    serial = client.app.state.service.analyzer
    threads, analyze = set(), serial._analyzer.analyze

    def recording(*args, **options):
        threads.add(threading.get_ident())
        return analyze(*args, **options)

    serial._analyzer.analyze = recording
    try:
        with ThreadPoolExecutor(4) as clients:
            answers = list(clients.map(lambda _: client.post("/analyze", files=upload(TEE)), range(8)))
    finally:
        del serial._analyzer.analyze
    assert [answer.status_code for answer in answers] == [200] * 8
    assert len(threads) == 1
