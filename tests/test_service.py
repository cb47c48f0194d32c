"""The web service's API on tiny models: health, analyze, recommend, the catalogue (import through the
API, whole-image imports, list, search, update, delete), insights and their charts from events, and
events from concurrent requests."""

from __future__ import annotations

import threading

import pytest
from fastapi.testclient import TestClient

from fashionlens.catalog.recommend import SimilarRanking
from fashionlens.core.checkpoint import save_checkpoint
from fashionlens.core.records import Box
from fashionlens.inference.analyzer import Analyzer, model_fingerprint
from fashionlens.inference.default_models import default_classifier, default_detector
from fashionlens.service import ServiceSettings, create_app
from helpers import LOWER_BOX, UPPER_BOX, stand_in_analyzer, street_photo_bytes
from service_testing import (
    ADMIN_KEY,
    PRODUCTS,
    photo_bytes,
    product_zip,
    products_csv,
    tiny_client,
    upload,
)
from tiny_models import random_analyzer, random_checkpoint

ADMIN = {"X-API-Key": ADMIN_KEY}


def test_models_are_loaded_once_from_the_runs_given(tmp_path, monkeypatch):
    checkpoint = random_checkpoint()
    save_checkpoint(checkpoint, tmp_path / "classifier.pt")
    loads = []
    original = Analyzer.from_runs.__func__
    monkeypatch.setattr(
        Analyzer, "from_runs", classmethod(lambda cls, *a, **k: loads.append(a) or original(cls, *a, **k))
    )
    settings = ServiceSettings(
        catalog=tmp_path / "new" / "shop.db", classifier=tmp_path / "classifier.pt", whole_image=True
    )
    with TestClient(create_app(settings)) as client:
        answers = [client.get("/health").json() for _ in range(3)]
        assert client.post("/analyze", files=upload(photo_bytes())).status_code == 200
    assert loads == [(None, tmp_path / "classifier.pt")]  # once, at start-up, no detector with whole_image
    assert answers[0] == {
        "status": "ok",
        "catalog_items": 0,
        "models": {
            "id": model_fingerprint(checkpoint),
            "classifier": str(tmp_path / "classifier.pt"),
            "detector": None,
        },
    }
    assert (tmp_path / "new" / "shop.db").is_file()  # the empty catalogue was created


def test_the_shipped_models_when_none_are_given(tmp_path, monkeypatch):
    given = []
    monkeypatch.setattr(
        Analyzer, "from_runs", classmethod(lambda cls, *runs, **k: given.append(runs) or random_analyzer())
    )
    with TestClient(create_app(ServiceSettings(catalog=tmp_path / "shop.db"))) as client:
        assert client.get("/health").status_code == 200
    assert given == [(default_detector(), default_classifier())]


def test_analyze_answers_each_garment_with_its_box_category_and_colour(tmp_path):
    answers = [(UPPER_BOX, 1, 0.9), (LOWER_BOX, 2, 0.8), (Box(0, 0, 20, 20), 3, 0.3)]  # the last: below 0.5
    analyzer, _ = stand_in_analyzer(answers)
    with tiny_client(tmp_path, catalogue=False, analyzer=analyzer) as (client, settings):
        response = client.post(
            "/analyze",
            files=upload(street_photo_bytes(), "street.png", "image/png"),
            data={"channel": "store", "session": "s-1"},
        )
        rotated = client.post("/analyze", files=upload(street_photo_bytes(exif_orientation=6)))
        insights = client.get("/insights").json()
    assert response.status_code == 200
    body = response.json()
    assert (body["width"], body["height"], body["whole_image"], len(body["garments"])) == (64, 48, False, 2)
    upper, lower = body["garments"]
    assert upper["box"] == [8.0, 4.0, 48.0, 22.0] and lower["box"] == [10.0, 24.0, 46.0, 46.0]
    assert (upper["region"], upper["region_score"], upper["category"], upper["category_score"]) == (
        "upper",
        0.9,
        "T-Shirt",
        1.0,
    )
    assert upper["top_categories"] == [{"category": "T-Shirt", "score": 1.0}]
    assert (lower["region"], lower["region_score"], lower["category"]) == ("lower", 0.8, "Pants")
    assert (upper["color"], upper["color_share"], lower["color"]) == ("Red", 1.0, "Green")
    assert upper["color_rgb"] == "#dc2828"
    # EXIF orientation 6: the photo as the customer sees it, 48 wide and 64 high
    assert (rotated.json()["width"], rotated.json()["height"]) == (48, 64)
    assert insights["by_kind"] == {"analysis": 2} and insights["by_channel"] == {"online": 1, "store": 1}
    assert insights["categories"]["T-Shirt"]["count"] == 2
    # analyses only, nothing recommended: no click-through chart to show
    assert insights["charts"] == ["/insights/charts/shares.png?by=day", "/insights/charts/trend.png?by=day"]
    assert not (settings.media_dir / "photos").exists()  # customers' photos are not kept by default


def test_recommend_finds_the_product_of_the_photo_and_completes_the_look(tmp_path):
    with tiny_client(tmp_path) as (client, settings):
        response = client.post("/recommend", files=upload(photo_bytes((220, 40, 40))), data={"k": "4"})
        items = {item["id"]: item for item in client.get("/catalog/items").json()["items"]}
        insights = client.get("/insights").json()
    assert response.status_code == 200
    body = response.json()
    assert body["note"] is None and body["whole_image"] is True and len(body["garments"]) == 1
    found = body["garments"][0]
    region = found["garment"]["region"]
    nearest = found["similar"][0]
    # the same photo as product TEE-RED: the same embedding, similarity 1, ranked with its category and colour
    assert (nearest["id"], nearest["why"]["similarity"]) == ("TEE-RED", 1.0)
    ranking = SimilarRanking()  # the tiny models have no attribute heads: no pattern bonus
    assert nearest["score"] == pytest.approx(
        (1.0 + nearest["why"]["category_probability"] + ranking.color)
        / (1 + ranking.category + ranking.color + ranking.pattern),
        abs=1e-4,
    )
    assert nearest["image_url"] == "/catalog/items/TEE-RED/image" and "image" not in nearest
    assert nearest["why"]["same_color"] is True and nearest["color"] == "Red"
    assert {p["id"] for p in found["similar"]} == {i for i, item in items.items() if item["region"] == region}
    assert all(p["score"] <= 1.0 for p in found["similar"])
    others = {i for i, item in items.items() if item["region"] != region}
    assert others and {p["id"] for p in found["complete_the_look"]} == others
    assert all("goes_with" in p["why"] for p in found["complete_the_look"])
    shown = [p["id"] for p in found["similar"] + found["complete_the_look"]]
    assert insights["by_kind"] == {"recommendation": 1}
    assert insights["click_through"]["recommended"] == len(shown) == len(PRODUCTS)


def test_recommend_offers_kids_products_only_when_asked_and_similar_ones_best_first(tmp_path):
    with tiny_client(tmp_path) as (client, settings):
        from fashionlens.catalog.store import SQLiteStore  # the retailer marks the red tee as a kids' product

        store = SQLiteStore(settings.catalog)
        tee = store.get_items(["TEE-RED"])["TEE-RED"]
        tee.attributes = {"kids": "True"}
        store.write_items([tee], store.model())
        store.close()
        red = photo_bytes((220, 40, 40))
        adults = client.post("/recommend", files=upload(red), data={"k": "4"}).json()["garments"][0]
        kids = client.post("/recommend", files=upload(red), data={"k": "4", "kids": "true"}).json()["garments"][0]
        listed = {item["id"] for item in client.get("/catalog/items").json()["items"]}
    offered = [p["id"] for p in adults["similar"] + adults["complete_the_look"]]
    assert "TEE-RED" not in offered and len(offered) == len(PRODUCTS) - 1  # every adults' product, once
    assert [p["id"] for p in kids["similar"] + kids["complete_the_look"]] == ["TEE-RED"]
    assert kids["similar"][0]["attributes"] == {"kids": "True"}
    assert "TEE-RED" in listed  # the retailer's listing shows every product
    similar = adults["similar"]
    assert [p["score"] for p in similar] == sorted((p["score"] for p in similar), reverse=True)
    for pick in similar:
        look = f"looks {round(pick['why']['similarity'] * 100)}% alike"
        assert pick["why"]["reason"].endswith(look) and pick["category"] in pick["why"]["reason"]
    # the photo is one garment: no detector box, so no detector score; the category's is the classifier's
    garment = adults["garment"]
    assert garment["region_score"] is None and garment["category_score"] == garment["top_categories"][0]["score"]


def test_the_scores_are_described_as_whose_they_are(tmp_path):
    with tiny_client(tmp_path, catalogue=False) as (client, _):
        schemas = client.get("/openapi.json").json()["components"]["schemas"]
    garment = schemas["Garment"]["properties"]
    assert garment["region_score"]["description"].startswith("The detector's score for this box")
    assert garment["category_score"]["description"].startswith("The classifier's probability for `category`")
    assert (
        schemas["Recommended"]["properties"]["score"]["description"]
        == "The final ranking score; similar products come best first by it."
    )


def test_recommend_on_an_empty_catalogue_says_so(tmp_path):
    with tiny_client(tmp_path, catalogue=False) as (client, _):
        response = client.post("/recommend", files=upload(photo_bytes()))
    assert response.status_code == 200
    body = response.json()
    assert body["note"] == "the catalogue is empty"
    assert [(g["similar"], g["complete_the_look"]) for g in body["garments"]] == [([], [])]
    assert body["garments"][0]["garment"]["box"] == [0.0, 0.0, 32.0, 32.0]


def test_recommend_refuses_a_catalogue_made_by_another_model(tmp_path):
    with tiny_client(tmp_path, analyzer=random_analyzer(seed=1)) as (client, settings):
        settings_model = client.get("/health").json()["models"]["id"]
        response = client.post("/recommend", files=upload(photo_bytes()))
        events = client.get("/insights").json()["events"]
    assert response.status_code == 409 and events == 0
    error = response.json()["error"]
    assert f"not by {settings_model}" in error and "fashionlens catalog reindex" in error


def test_import_through_the_api_keeps_good_rows_and_names_refused_ones(tmp_path):
    archive = product_zip(
        PRODUCTS[:3] + [("BROKEN", "Broken", "1", "", None)], extra={"images/broken.jpg": b"this is text, not a photo"}
    )
    with tiny_client(tmp_path, catalogue=False) as (client, settings):
        first = client.post(
            "/catalog/import", files={"archive": ("shop.zip", archive, "application/zip")}, headers=ADMIN
        )
        again = client.post(
            "/catalog/import", files={"archive": ("shop.zip", archive, "application/zip")}, headers=ADMIN
        )
        status = client.get("/catalog/status").json()
        image = client.get("/catalog/items/PANTS-BLUE/image")
        health = client.get("/health").json()
        kept = sorted((settings.media_dir / "products").rglob("*.jpg"))
        others = [path for path in kept if path.read_bytes() != image.content]
        deleted = client.delete("/catalog/items/PANTS-BLUE", headers=ADMIN)
    assert first.status_code == 200, first.text
    body = first.json()
    assert (body["state"], body["imported"], body["unchanged"], body["error"]) == ("done", 3, 0, None)
    # the zip's CSV line of the broken photo, named as the archive names it (no server folder)
    assert body["refused_rows"] == [{"line": 5, "error": "images/broken.jpg: not an image (unrecognised format)"}]
    assert str(tmp_path) not in first.text
    assert (again.json()["imported"], again.json()["unchanged"]) == (0, 3)  # the same photos: unchanged
    assert status["items"] == 3 == health["catalog_items"]
    assert status["model"]["id"] == health["models"]["id"]
    assert status["last_import"] == again.json()
    assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
    assert image.content == photo_bytes(PRODUCTS[1][4])
    assert len(kept) == 3  # one file per photo; the refused photo was not kept
    # a deleted product's uploaded photo goes with it
    assert deleted.status_code == 200 and len(others) == 2
    assert sorted((settings.media_dir / "products").rglob("*.jpg")) == others
    assert list((settings.media_dir / ".staging").iterdir()) == []


def test_import_of_a_csv_with_its_photos(tmp_path):
    files = [("csv", ("shop.csv", products_csv(PRODUCTS[:2], image_of=lambda i: f"{i.lower()}.jpg"), "text/csv"))]
    files += [("images", (f"{p[0].lower()}.jpg", photo_bytes(p[4]), "image/jpeg")) for p in PRODUCTS[:2]]
    with tiny_client(tmp_path, catalogue=False) as (client, _):
        response = client.post("/catalog/import", files=files, headers=ADMIN)
        listed = client.get("/catalog/items").json()
    assert response.status_code == 200 and response.json()["imported"] == 2
    assert [(i["id"], i["name"], i["price"]) for i in listed["items"]] == [
        ("PANTS-BLUE", "Blue pants", 49.0),
        ("TEE-RED", "Red tee", 19.9),
    ]


def test_import_boxes_each_product_photo_and_uses_the_detector_only_for_on_model_photos(tmp_path):
    """The stand-in detector finds an upper and a lower garment in every photo: by default each photo is
    one product, boxed by its foreground (the red and green blocks together), never detected; with
    on_model, the product's garment is the detection of its category's region."""
    analyzer, _ = stand_in_analyzer([(UPPER_BOX, 1, 0.9), (LOWER_BOX, 2, 0.8)])
    photo = street_photo_bytes(exif_orientation=1)  # 64x48 JPEG

    def archive(prefix: str) -> bytes:
        products = [
            (f"{prefix}TROUSERS", "Trousers", "40.00", "Pants", None),
            (f"{prefix}TEE", "Tee", "20.00", "T-Shirt", None),
        ]
        return product_zip(products, extra={f"images/{item[0].lower()}.jpg": photo for item in products})

    with tiny_client(tmp_path, catalogue=False, analyzer=analyzer) as (client, settings):
        products = client.post("/catalog/import", headers=ADMIN, files={"archive": ("a.zip", archive("FLAT-"))})
        worn = client.post(
            "/catalog/import", headers=ADMIN, data={"on_model": "true"}, files={"archive": ("b.zip", archive(""))}
        )
        status = client.get("/catalog/status").json()
        body_schema = client.get("/openapi.json").json()["components"]["schemas"][
            "Body_import_products_catalog_import_post"
        ]
    assert (products.status_code, products.json()["imported"], products.json()["on_model"]) == (200, 2, False)
    assert (worn.status_code, worn.json()["imported"], worn.json()["on_model"]) == (200, 2, True)
    assert status["last_import"]["on_model"] is True
    from fashionlens.catalog.store import SQLiteStore

    items = {item.id: item for item in SQLiteStore(settings.catalog).find_items()}
    assert (items["TROUSERS"].box, items["TROUSERS"].region) == ([10.0, 24.0, 46.0, 46.0], "lower")
    assert (items["TEE"].box, items["TEE"].region) == ([8.0, 4.0, 48.0, 22.0], "upper")
    flat = items["FLAT-TEE"].box  # the blocks' extent (8..48 x 4..46), not the whole 64 x 48 photo
    assert flat == items["FLAT-TROUSERS"].box and flat[0] >= 6 and flat[2] <= 50 and flat[1] >= 2 and flat[3] <= 48
    assert (items["FLAT-TROUSERS"].region, items["FLAT-TEE"].region) == ("lower", "upper")  # from the category
    assert body_schema["properties"]["on_model"]["default"] is False


def test_catalogue_list_search_filter_and_pages(tmp_path):
    with tiny_client(tmp_path) as (client, _):
        everything = client.get("/catalog/items").json()
        searched = client.get("/catalog/items", params={"q": "BLUE"}).json()
        by_name = client.get("/catalog/items", params={"q": "yellow sk"}).json()
        lower = client.get("/catalog/items", params={"region": "lower"}).json()
        red = client.get("/catalog/items", params={"color": "red"}).json()
        page = client.get("/catalog/items", params={"limit": 2, "offset": 1}).json()
        unknown = client.get("/catalog/items/NOPE/image")
    assert everything["total"] == len(PRODUCTS) == len(everything["items"])
    assert [i["id"] for i in searched["items"]] == ["PANTS-BLUE"] and searched["total"] == 1
    assert [i["id"] for i in by_name["items"]] == ["SKIRT-YELLOW"]
    assert [i["id"] for i in lower["items"]] == ["PANTS-BLUE", "SKIRT-YELLOW"]
    assert [i["id"] for i in red["items"]] == ["TEE-RED"]
    assert page["total"] == len(PRODUCTS) and [i["id"] for i in page["items"]] == [
        i["id"] for i in everything["items"][1:3]
    ]
    assert (unknown.status_code, unknown.json()) == (404, {"error": "no product with id 'NOPE'"})


def test_admin_updates_and_deletes_products(tmp_path):
    with tiny_client(tmp_path) as (client, settings):
        changed = client.put(
            "/catalog/items/TEE-RED",
            json={"name": "Red tee, organic", "price": 24.5, "category": "T-Shirt"},
            headers=ADMIN,
        )
        cleared = client.put("/catalog/items/TEE-RED", json={"price": None}, headers=ADMIN)
        deleted = client.delete("/catalog/items/PANTS-BLUE", headers=ADMIN)
        missing = client.delete("/catalog/items/PANTS-BLUE", headers=ADMIN)
        empty = client.put("/catalog/items/TEE-RED", json={}, headers=ADMIN)
        listed = {i["id"]: i for i in client.get("/catalog/items").json()["items"]}
        recommended = client.post("/recommend", files=upload(photo_bytes((220, 40, 40)))).json()
    assert changed.status_code == 200
    assert (changed.json()["name"], changed.json()["price"], changed.json()["category"], changed.json()["region"]) == (
        "Red tee, organic",
        24.5,
        "T-Shirt",
        "upper",
    )
    assert cleared.json()["price"] is None and cleared.json()["name"] == "Red tee, organic"
    assert (deleted.status_code, deleted.json()) == (200, {"deleted": "PANTS-BLUE"})
    assert (missing.status_code, missing.json()) == (404, {"error": "no product with id 'PANTS-BLUE'"})
    assert (empty.status_code, empty.json()["error"]) == (422, "nothing to update: send name, price, category or url")
    assert "PANTS-BLUE" not in listed and listed["TEE-RED"]["name"] == "Red tee, organic"
    assert (settings.media_dir / "seed" / "images" / "pants-blue.jpg").is_file()  # the server's own photo stays
    shown = {p["id"] for g in recommended["garments"] for p in g["similar"] + g["complete_the_look"]}
    assert "PANTS-BLUE" not in shown and "TEE-RED" in shown  # the index follows the store


def test_insights_count_analyses_recommendations_and_clicks(tmp_path):
    with tiny_client(tmp_path) as (client, _):
        client.post("/analyze", files=upload(photo_bytes((40, 160, 60))), data={"channel": "store"})
        found = client.post("/recommend", files=upload(photo_bytes((220, 40, 40))), data={"k": "1"}).json()
        first = found["garments"][0]["similar"][0]["id"]
        shown = client.post("/events", json={"kind": "shown", "item_ids": [first]})
        click = client.post("/events", json={"kind": "click", "item_ids": [first], "session": "s-9"})
        data = client.get("/insights", params={"by": "week"}).json()
        charts = [client.get(url) for url in data["charts"]]
        future = client.get("/insights", params={"since": "2999-01-01"}).json()
        no_clicks = client.get("/insights/charts/click_through.png", params={"since": "2999-01-01"})
        unknown = client.get("/insights/charts/sales.png")
    assert (shown.status_code, shown.json(), click.status_code, click.json()) == (
        202,
        {"logged": 1},
        202,
        {"logged": 1},
    )
    assert data["by_kind"] == {"analysis": 1, "click": 1, "recommendation": 1, "shown": 1}
    assert data["by_channel"] == {"online": 3, "store": 1} and data["garments"] == 2
    assert data["colors"] == {"Green": {"count": 1, "share": 0.5}, "Red": {"count": 1, "share": 0.5}}
    ctr = data["click_through"]
    assert (ctr["recommended"], ctr["clicked"]) == (2, 1) and ctr["rate"] == 0.5  # k=1: similar + complete the look
    clicked = next(item for item in ctr["items"] if item["id"] == first)
    assert clicked["clicks"] == 1 and clicked["name"] == found["garments"][0]["similar"][0]["name"]  # named
    assert data["by"] == "week" and data["trend"][0]["period"].count("-W") == 1
    assert ctr["periods"] == [{"period": data["trend"][0]["period"], "recommended": 2, "clicked": 1, "rate": 0.5}]
    assert data["charts"] == [
        "/insights/charts/shares.png?by=week",
        "/insights/charts/trend.png?by=week",
        "/insights/charts/click_through.png?by=week",
    ]
    for chart in charts:
        assert chart.status_code == 200 and chart.headers["content-type"] == "image/png"
        assert chart.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert charts[2].content not in (charts[0].content, charts[1].content)  # a chart of its own
    assert (future["events"], future["charts"]) == (0, [])
    assert (no_clicks.status_code, no_clicks.json()) == (
        404,
        {"error": "no click_through chart: no products were recommended in these events"},
    )
    assert (unknown.status_code, unknown.json()) == (
        404,
        {"error": "no chart 'sales'; charts: shares, trend, click_through"},
    )


def test_events_from_concurrent_requests_are_all_logged(tmp_path):
    count = 20
    start = threading.Barrier(count)
    answers: list[int] = []
    with tiny_client(tmp_path, catalogue=False) as (client, settings):

        def click(number: int) -> None:
            start.wait()
            answers.append(client.post("/events", json={"kind": "click", "item_ids": [f"item-{number}"]}).status_code)

        threads = [threading.Thread(target=click, args=(n,)) for n in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        data = client.get("/insights").json()
    assert answers == [202] * count
    assert data["by_kind"] == {"click": count}
    from fashionlens.catalog.store import SQLiteStore

    events = SQLiteStore(settings.catalog).events()
    assert sorted(e["item"] for e in events) == sorted(f"item-{n}" for n in range(count))


def test_a_dashboard_and_its_charts_share_one_summary_until_an_event_is_added(tmp_path, monkeypatch):
    from fashionlens.service import routes_insights

    summarized: list[int] = []  # the number of events each summary read
    real = routes_insights.summarize
    monkeypatch.setattr(
        routes_insights, "summarize", lambda events, by: summarized.append(len(events)) or real(events, by)
    )
    with tiny_client(tmp_path, catalogue=False) as (client, _):
        client.post("/events", json={"kind": "shown", "item_ids": ["a", "b"]})
        client.post("/events", json={"kind": "click", "item_ids": ["a"]})
        data = client.get("/insights").json()
        charts = [client.get(url).status_code for url in data["charts"]]
        weekly = client.get("/insights", params={"by": "week"}).json()
        client.post("/events", json={"kind": "click", "item_ids": ["b"]})
        after = client.get("/insights").json()
    assert charts == [200] * len(data["charts"]) and len(charts) >= 2
    assert summarized == [2, 2, 3]  # page + charts once; another `by` once; a new event once more
    assert all(url.endswith("by=day") for url in data["charts"] + after["charts"])
    assert weekly["charts"] and all(url.endswith("by=week") for url in weekly["charts"])
    assert (data["by_kind"], after["by_kind"]) == ({"click": 1, "shown": 1}, {"click": 2, "shown": 1})
