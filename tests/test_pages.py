"""The page routes without a browser: both pages and every file they load are served, with the content
security policy that keeps them to this server (tests/test_browser.py runs them in Chromium)."""

from __future__ import annotations

import re

import pytest

from fashionlens.service.pages import STATIC_DIR
from service_testing import tiny_client

TYPES = {".js": "text/javascript", ".css": "text/css"}


@pytest.mark.parametrize("path, page_script", [("/", "static/customer.js"), ("/dashboard", "static/dashboard.js")])
def test_each_page_and_everything_it_loads_is_served(tmp_path, path, page_script):
    with tiny_client(tmp_path, catalogue=False) as (client, _):
        page = client.get(path)
        assert page.status_code == 200 and page.headers["content-type"] == "text/html; charset=utf-8"
        assert "default-src 'self'" in page.headers["content-security-policy"]
        assert client.head(path).status_code == 200
        loaded = re.findall(r'(?:src|href)="(static/[^"]+)"', page.text)
        assert sorted(loaded) == sorted([page_script, "static/style.css"])
        modules = [page_script] + [
            f"static/{name}" for name in re.findall(r'from "\./([\w.]+)"', (STATIC_DIR / page_script[7:]).read_text())
        ]
        assert "static/api.js" in modules
        for url in loaded + modules:
            served = client.get(f"/{url}")
            assert served.status_code == 200, url
            assert served.headers["content-type"].startswith(TYPES[url[url.rindex(".") :]]), url
            assert served.content == (STATIC_DIR / url[len("static/") :]).read_bytes()
        assert "http://" not in page.text and "https://" not in page.text  # nothing from other sites
        assert path not in client.get("/openapi.json").json()["paths"]  # pages are not API endpoints


def test_an_unknown_static_file_is_404(tmp_path):
    with tiny_client(tmp_path, catalogue=False) as (client, _):
        assert client.get("/static/nothing.js").status_code == 404
        assert client.get("/static/%2e%2e/pages.py").status_code == 404  # nothing outside static/
