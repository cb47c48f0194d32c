"""Screenshots of the two web pages for the README: docs/figures/page_customer.png, page_dashboard.png and
page_dashboard_audiences.png (the dashboard's audiences and experiments).

    .venv/bin/python scripts/screenshot_pages.py                      # all 250 sample products
    .venv/bin/python scripts/screenshot_pages.py --products 80 --workdir /tmp/pages

Starts `fashionlens serve` (the shipped default models) on loopback, imports the clothing sample through
the API (POST /catalog/import, as a retailer would), puts an experiment (PUT /experiments), posts a few
embedded street photos to /recommend as separate visits so the insights, audiences and experiment have
data, then in headless Chromium: uploads one street photo on the customer page,
screenshots it and clicks the first product (a real click event), and screenshots the dashboard.
Needs /usr/bin/chromium (`apt-get install -y chromium`).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from fashionlens.core.files import atomic_write  # noqa: E402
from sample_service import sample_service, street_photos  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 1100}
DASHBOARD_HEIGHT = 2300  # the charts, tables and the catalogue's first rows
ALL_IMAGES_LOADED = """() => Promise.all([...document.images].map(img => {
    img.loading = "eager";
    return img.complete ? null : new Promise(done => { img.onload = img.onerror = done; });
}))"""


def start_experiment(url: str, admin_key: str) -> None:
    """The experiment the dashboard shows: complete-the-look on or off, half the visits each, this month."""
    today = date.today()
    experiment = {
        "name": "look-or-not",
        "start": (today - timedelta(days=1)).isoformat(),
        "end": (today + timedelta(days=30)).isoformat(),
        "arms": [
            {"name": "with-look", "share": 0.5, "settings": {"complete_look": True}},
            {"name": "similar-only", "share": 0.5, "settings": {"complete_look": False, "k": 6}},
        ],
    }
    httpx.put(
        f"{url}/experiments/look-or-not", json=experiment, headers={"X-API-Key": admin_key}, timeout=30
    ).raise_for_status()


def feed_insights(url: str, photos: list[Path]) -> None:
    """Recommendations for a few street photos, from the shop and online, each a visit of its own (a
    session id, as the customer page sends): its cards reported shown, and every other visit's first
    similar product clicked, so that the experiment and the audiences have data."""
    for number, photo in enumerate(photos):
        session = f"visit-{number}"
        answer = httpx.post(
            f"{url}/recommend",
            timeout=300,
            data={"k": "4", "channel": ("store", "online")[number % 2], "session": session},
            files={"photo": (photo.name, photo.read_bytes(), "image/jpeg")},
        )
        answer.raise_for_status()
        garments = answer.json()["garments"]
        cards = [p["id"] for g in garments for p in g["similar"] + g["complete_the_look"]]
        if cards:
            httpx.post(
                f"{url}/events", json={"kind": "shown", "item_ids": cards, "session": session}
            ).raise_for_status()
        if cards and number % 2 == 0:
            httpx.post(
                f"{url}/events", json={"kind": "click", "item_ids": cards[:1], "session": session}
            ).raise_for_status()
        print(f"  {photo.name}: {len(garments)} garments", file=sys.stderr)


def save(page, path: Path, **options) -> None:
    """The screenshot written beside its target and renamed: never half a PNG (the temporary name keeps
    the .png suffix, from which Playwright picks the format)."""
    atomic_write(path, lambda temporary: page.screenshot(path=str(temporary), **options))


def screenshot_customer(page, url: str, photo: Path, out: Path) -> None:
    page.goto(f"{url}/")
    with page.expect_response(lambda response: response.url.endswith("/recommend"), timeout=300_000):
        page.get_by_label("Take or choose a photo").set_input_files(str(photo))
    page.locator(".card").first.wait_for()
    page.evaluate(ALL_IMAGES_LOADED)
    page.wait_for_timeout(500)  # the "shown" report and the last layout
    save(page, out / "page_customer.png")
    with page.expect_response(
        lambda response: response.url.endswith("/events") and response.request.post_data_json["kind"] == "click"
    ):
        page.locator(".card").first.click()


def screenshot_dashboard(page, url: str, out: Path) -> None:
    page.goto(f"{url}/dashboard")
    page.locator(".chart img").first.wait_for()
    page.locator("#catalog tbody tr").first.wait_for()
    page.evaluate(ALL_IMAGES_LOADED)
    page.wait_for_timeout(500)
    height = min(DASHBOARD_HEIGHT, page.evaluate("document.documentElement.scrollHeight"))
    save(
        page,
        out / "page_dashboard.png",
        full_page=True,
        clip={"x": 0, "y": 0, "width": VIEWPORT["width"], "height": height},
    )
    page.locator("#experiments .experiment").first.wait_for()
    views = page.locator("section[aria-labelledby=audiences-title], section[aria-labelledby=experiments-title]")
    top = views.first.bounding_box()
    bottom = views.last.bounding_box()
    save(
        page,
        out / "page_dashboard_audiences.png",
        full_page=True,
        clip={
            "x": 0,
            "y": top["y"] - 16,
            "width": VIEWPORT["width"],
            "height": bottom["y"] + bottom["height"] - top["y"] + 32,
        },
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "figures")
    parser.add_argument(
        "--workdir",
        type=Path,
        help="Server catalogue and log (default: a temporary folder; "
        "a folder with a catalogue from an earlier run is reused).",
    )
    parser.add_argument("--products", type=int, help="Import only the first N sample products (default: all).")
    parser.add_argument(
        "--feed", type=int, default=12, help="Street photos posted before the screenshots, each a visit of its own."
    )
    parser.add_argument("--photo", default="0003.jpg", help="The street photo shown on the customer page.")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    photos = street_photos()
    shown = next((p for p in photos if p.name == args.photo), None)
    if shown is None:
        parser.error(f"--photo {args.photo}: not among the embedded street photos")
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as temporary:
        with sample_service(args.workdir or Path(temporary), args.products) as service:
            if service.imported:
                print(f"imported {service.imported['imported']} products", file=sys.stderr)
            start_experiment(service.url, service.admin_key)
            feed_insights(service.url, [p for p in photos if p != shown][: args.feed])
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport=VIEWPORT)
                screenshot_customer(page, service.url, shown, args.out)
                screenshot_dashboard(page, service.url, args.out)
                browser.close()
    print(
        f"wrote page_customer.png, page_dashboard.png and page_dashboard_audiences.png in {args.out}", file=sys.stderr
    )


if __name__ == "__main__":
    main()
