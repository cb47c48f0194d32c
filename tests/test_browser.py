"""The two web pages in a real browser (headless Chromium driven by Playwright) against a real server on
loopback, with tiny models: the customer uploads a photo, sees its garments boxed and the products as
cards, clicks one (the click reaches the insights); an API error reaches the customer in words; the
retailer's dashboard loads its charts, key numbers and the searchable catalogue.

The `browser` and `page` fixtures are conftest.py's. Without /usr/bin/chromium the tests are skipped, unless
FASHIONLENS_REQUIRE_BROWSER=1 (CI), where they fail.
"""

from __future__ import annotations

import httpx
import pytest

from helpers import LOWER_BOX, UPPER_BOX, choose_photo, stand_in_analyzer, street_photo_bytes
from service_testing import PRODUCTS, tiny_live_server

pytestmark = pytest.mark.browser


@pytest.fixture
def two_garment_server(tmp_path):
    """The live server of service_testing, its detector a stand-in that finds an upper and a lower garment."""
    analyzer, _ = stand_in_analyzer([(UPPER_BOX, 1, 0.9), (LOWER_BOX, 2, 0.8)])
    with tiny_live_server(tmp_path, analyzer=analyzer) as server:
        yield server


def insights(server) -> dict:
    return httpx.get(f"{server.url}/insights", timeout=30).json()


def is_click(response) -> bool:
    return response.url.endswith("/events") and response.request.post_data_json["kind"] == "click"


def wait_until(predicate, page, what: str):
    for _ in range(100):
        if predicate():
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"timed out waiting for {what}")


def test_customer_sees_the_garments_boxed_and_the_products_and_a_click_is_counted(two_garment_server, page):
    server = two_garment_server
    shown_reports = []  # item_ids of each "shown" event the page sends
    page.on(
        "request",
        lambda request: (
            shown_reports.append(request.post_data_json["item_ids"])
            if request.url.endswith("/events") and request.post_data_json["kind"] == "shown"
            else None
        ),
    )
    page.goto(f"{server.url}/")
    photo_input = page.get_by_label("Take or choose a photo")
    assert (photo_input.get_attribute("accept"), photo_input.get_attribute("capture")) == ("image/*", "environment")

    answer = choose_photo(page, street_photo_bytes(), "street.png", "image/png")
    assert answer.status == 200
    result = answer.json()
    garments = result["garments"]
    assert len(garments) == 2
    products = [p for found in garments for p in found["similar"] + found["complete_the_look"]]
    cards = page.locator(".card")
    cards.nth(len(products) - 1).wait_for()
    assert cards.count() == len(products)
    assert page.get_by_role("status").inner_text() == "2 garments found."

    # the photo is shown from the browser's memory, one box per garment, scaled to the displayed size
    photo = page.locator("#photo-view")
    assert photo.get_attribute("src").startswith("blob:")
    shown_width, shown_height = photo.evaluate("img => [img.clientWidth, img.clientHeight]")
    assert shown_width > result["width"]  # drawn larger than the 64 px photo: the scale matters
    rects = page.locator("#boxes rect.box")
    assert rects.count() == len(garments)
    for rect, found in zip(rects.all(), garments):
        x1, y1, x2, y2 = found["garment"]["box"]
        drawn = [float(rect.get_attribute(name)) for name in ("x", "y", "width", "height")]
        scale_x, scale_y = shown_width / result["width"], shown_height / result["height"]
        assert drawn == pytest.approx([x1 * scale_x, y1 * scale_y, (x2 - x1) * scale_x, (y2 - y1) * scale_y], abs=0.01)
    labels = page.locator("#boxes text.label").all_text_contents()
    assert labels == [f"{i + 1} {f['garment']['category']} · {f['garment']['color']}" for i, f in enumerate(garments)]
    above = "([last, first]) => !!(last.compareDocumentPosition(first) & Node.DOCUMENT_POSITION_FOLLOWING)"
    last_box, first_label = rects.last.element_handle(), page.locator("#boxes text.label").first.element_handle()
    assert page.evaluate(above, [last_box, first_label])  # labels drawn after every box: no line crosses one

    # cards in the API's order: photo (loaded from image_url), name, price, why in words
    first = garments[0]["similar"][0]
    card = cards.first
    assert card.locator("img").get_attribute("src") == first["image_url"]
    wait_until(
        lambda: card.locator("img").evaluate("img => img.complete && img.naturalWidth > 0"), page, "the product photo"
    )
    assert card.locator(".card-name").inner_text() == first["name"]
    assert card.locator(".card-price").inner_text() == f"{first['price']:.2f}"
    assert card.locator(".card-why").inner_text() == f"Similar: {first['why']['reason']} · score {first['score']:.2f}"
    completing = page.locator(".garment").first.locator(".product-row").nth(1).locator(".card-why").first
    assert completing.inner_text() == f"Completes the look: {garments[0]['complete_the_look'][0]['why']['reason']}"
    # each number says whose it is: the detector's for the box (0.9 and 0.8), the classifier's for the category
    headings = page.locator(".garment h3 .muted").all_text_contents()
    assert headings == [
        f" · {body} body · box: detector {box}% sure · category: {f['garment']['category']} "
        f"{round(f['garment']['category_score'] * 100)}% (classifier)"
        for f, body, box in zip(garments, ("upper", "lower"), (90, 80))
    ]

    # a click with the mouse and one with the keyboard (Enter on the focused card) each reach the insights
    with page.expect_response(is_click) as clicked:
        card.click()
    event = clicked.value.request.post_data_json
    session = event.pop("session")
    assert clicked.value.status == 202 and event == {"kind": "click", "item_ids": [first["id"]], "channel": "online"}
    # the tab's random session id (32 hex digits), the same one the photo was sent with
    assert len(session) == 32 and int(session, 16) >= 0
    assert page.evaluate("sessionStorage.getItem('fashionlens-session')") == session
    second = cards.nth(1)
    second.focus()
    with page.expect_response(is_click):
        page.keyboard.press("Enter")

    # scrolled to the end, every card has been on screen: each product reported as shown exactly once
    page.mouse.wheel(0, 10_000)
    unique = {p["id"] for p in products}
    wait_until(lambda: sorted(sum(shown_reports, [])) == sorted(unique), page, "the shown events")
    counted = insights(server)
    assert counted["by_kind"] == {"click": 2, "recommendation": 1, "shown": len(shown_reports)}
    assert counted["click_through"]["clicked"] == 2  # both clicked products had been recommended
    assert counted["click_through"]["recommended"] == len(unique)
    assert page.problems == []


def test_customer_reads_the_apis_error_when_the_file_is_no_photo(live_server, page):
    page.goto(f"{live_server.url}/")
    answer = choose_photo(page, b"these are my notes, not a photo", "notes.txt", "text/plain")
    assert 400 <= answer.status < 500
    error = page.get_by_role("alert")
    error.wait_for()
    assert error.inner_text() == answer.json()["error"] and "notes.txt" in error.inner_text()
    assert page.locator(".card").count() == 0 and page.locator("#result").is_hidden()
    assert page.problems == []


def test_dashboard_shows_the_charts_numbers_and_the_searchable_catalogue(live_server, page):
    url = live_server.url
    photo = {"photo": ("tee.jpg", live_server.photos["TEE-RED"], "image/jpeg")}
    recommended = httpx.post(f"{url}/recommend", files=photo, data={"k": "2"}, timeout=60).json()
    clicked = recommended["garments"][0]["similar"][0]["id"]
    httpx.post(f"{url}/events", json={"kind": "click", "item_ids": [clicked], "channel": "online"}, timeout=30)
    summary = insights(live_server)
    assert summary["charts"]

    page.goto(f"{url}/dashboard")
    charts = page.locator(".chart img")
    charts.nth(len(summary["charts"]) - 1).wait_for()
    assert charts.count() == len(summary["charts"])
    page.wait_for_function(
        "() => [...document.querySelectorAll('.chart img')].every(img => img.complete && img.naturalWidth > 0)"
    )
    numbers = dict(
        zip(page.locator(".number-tile dt").all_inner_texts(), page.locator(".number-tile dd").all_inner_texts())
    )
    rate = summary["click_through"]["rate"]
    assert numbers["Events"] == str(summary["events"]) == "2"
    shown_rate = f"{rate * 100:.1f}%" if 0 < rate < 0.1 else f"{round(rate * 100)}%"
    assert numbers["Clicks on them"] == "1" and numbers["Click-through"] == shown_rate
    assert numbers["Catalogue items"] == str(len(PRODUCTS))
    # the clicked product by name and photo; the recommended ones apart from it
    most_clicked = page.locator("#clicked tbody tr")
    most_clicked.first.wait_for()
    assert most_clicked.count() == 1 and recommended["garments"][0]["similar"][0]["name"] in most_clicked.inner_text()
    assert most_clicked.locator("img").count() == 1
    shown = page.locator("#recommended tbody tr")
    assert shown.count() == min(8, len(summary["click_through"]["items"]))

    rows = page.locator("#catalog tbody tr")
    rows.nth(len(PRODUCTS) - 1).wait_for()
    assert sorted(rows.locator("td:nth-child(2)").all_inner_texts()) == sorted(p[0] for p in PRODUCTS)
    page.get_by_label("Search").fill("blue")
    wait_until(lambda: rows.count() == 1, page, "the search result")
    assert rows.first.locator("td").nth(1).inner_text() == "PANTS-BLUE"
    assert page.locator("#catalog-count").inner_text() == "1–1 of 1 items matching “blue”"
    page.get_by_label("Search").fill("no such product")
    wait_until(lambda: rows.count() == 0, page, "the empty search result")
    assert page.locator("#catalog-count").inner_text() == "No item matches “no such product”."
    assert f"{len(PRODUCTS)} items" in page.locator("#import-status").inner_text()
    assert page.problems == []
