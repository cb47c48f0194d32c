"""A product's price is a finite number >= 0 and its link an http(s) address, wherever it comes from:
the service's PUT refuses the rest with a 422 (the CSV import's refusals are in test_bad_files), the
store refuses to write them, and the customer page never turns a stored non-http link into a link.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from fashionlens.catalog.store import CatalogItem, SQLiteStore
from fashionlens.core.errors import FashionLensError
from service_testing import ADMIN_KEY, tiny_client

ADMIN = {"X-API-Key": ADMIN_KEY, "Content-Type": "application/json"}
CUSTOMER_JS = Path(__file__).resolve().parents[2] / "src" / "fashionlens" / "service" / "static" / "customer.js"

BAD_UPDATES = [
    pytest.param('{"price": -5}', "price", id="price-negative"),
    pytest.param('{"price": NaN}', "price", id="price-NaN"),
    pytest.param('{"price": Infinity}', "price", id="price-Infinity"),
    pytest.param('{"price": 1e999}', "price", id="price-1e999"),
    pytest.param('{"price": "inf"}', "price", id="price-inf-text"),
    pytest.param('{"url": "javascript:alert(document.cookie)"}', "url", id="url-javascript"),
    pytest.param('{"url": "data:text/html,<script>alert(1)</script>"}', "url", id="url-data"),
    pytest.param('{"url": "//evil.example/x"}', "url", id="url-scheme-relative"),
]


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    with tiny_client(tmp_path_factory.mktemp("service")) as (client, _):
        yield client


@pytest.mark.parametrize("body, field", BAD_UPDATES)
def test_put_refuses_a_bad_price_or_link_with_a_422(service, body, field):
    before = service.get("/catalog/items/TEE-RED").json()
    response = service.put("/catalog/items/TEE-RED", content=body, headers=ADMIN)
    assert response.status_code == 422, response.text
    assert field in response.json()["error"]
    after = service.get("/catalog/items/TEE-RED").json()
    assert after == before
    json.loads(service.get("/catalog/items").text, parse_constant=lambda name: pytest.fail(f"{name} in JSON"))


def test_put_accepts_a_good_price_and_link(service):
    response = service.put(
        "/catalog/items/TEE-RED", json={"price": 0, "url": "https://shop.example/tee"}, headers=ADMIN
    )
    assert response.status_code == 200 and (response.json()["price"], response.json()["url"]) == (
        0.0,
        "https://shop.example/tee",
    )


@pytest.mark.parametrize(
    "changes",
    [{"price": float("inf")}, {"price": float("nan")}, {"price": -1.0}, {"url": "javascript:alert(1)"}],
    ids=["inf", "nan", "negative", "javascript"],
)
def test_the_store_refuses_to_write_a_bad_price_or_link(tmp_path, changes):
    store = SQLiteStore(tmp_path / "shop.db", create=True)
    item = CatalogItem(id="X", image="x.jpg", embedding=np.ones(4, np.float32) / 2, **changes)
    with pytest.raises(FashionLensError, match="item X: (price|url)"):
        store.write_items([item], {"id": "model"})
    assert store.count() == 0


def web_link_function() -> str:
    source = CUSTOMER_JS.read_text(encoding="utf-8")
    found = re.search(r"^function webLink\(url\) \{\n.*?^\}\n", source, re.S | re.M)
    assert found, "customer.js has no webLink(url): every product link must go through one check"
    assert "href: item.url" not in source  # the raw stored URL is never put in an <a href>
    return found.group(0)


def test_the_customer_page_links_only_http_addresses():
    node = shutil.which("node")
    function = web_link_function()
    if node is None:
        pytest.skip("no node to run customer.js's webLink()")
    urls = [
        "https://shop.example/a?b=1",
        "http://shop.example/",
        "javascript:alert(1)",
        " JavaScript:alert(1)",
        "data:text/html,x",
        "vbscript:x",
        "//evil.example/",
        "not a url",
        "",
    ]
    program = function + f"console.log(JSON.stringify({json.dumps(urls)}.map(webLink)));"
    result = subprocess.run([node, "-e", program], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == ["https://shop.example/a?b=1", "http://shop.example/"] + [None] * 7
