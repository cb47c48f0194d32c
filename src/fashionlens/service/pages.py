"""The two web pages of the service: the customer's `GET /` and the retailer's `GET /dashboard`.

Plain HTML, CSS and small JavaScript modules in service/static/, served as they are (no build step, no
CDN: the pages work on a closed network). They talk to the JSON API only; this module adds no data.
`mount_pages(app)` is what create_app calls.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).with_name("static")  # package data (pyproject.toml)
# Everything the pages load comes from this server; the customer's photo is shown from a blob: URL
# (it never leaves the browser except in the /recommend upload).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; "
    "script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-cache",
}

router = APIRouter(include_in_schema=False)


def page(name: str) -> FileResponse:
    return FileResponse(STATIC_DIR / name, media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)


@router.api_route("/", methods=["GET", "HEAD"])  # HEAD: uptime checks
def customer_page() -> FileResponse:
    """Upload or take a photo; see the garments found and the products that match or complete the look."""
    return page("index.html")


@router.api_route("/dashboard", methods=["GET", "HEAD"])
def retailer_page() -> FileResponse:
    """Insight charts and key numbers, the searchable catalogue and the last import."""
    return page("dashboard.html")


def mount_pages(app: FastAPI) -> None:
    """The page routes plus their static files under /static."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
