"""What the command line prints when things go wrong: the error line starts on a line of its own (never
after a progress bar), and --json output is JSON (never NaN or Infinity, which JSON parsers refuse).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from conftest import make_image
from fashionlens.core.checkpoint import save_checkpoint
from tiny_models import random_checkpoint


@pytest.fixture(scope="module")
def classifier(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("classifier")
    save_checkpoint(random_checkpoint("img"), run / "best.pt")
    return run


def visible_lines(stderr: str) -> list[str]:
    """What a terminal shows: each carriage return goes back to the start of the line."""
    lines = []
    for line in stderr.split("\n"):
        shown = ""
        for segment in line.split("\r"):
            shown = segment + shown[len(segment) :]
        lines.append(shown.rstrip())
    return [line for line in lines if line]


def test_an_error_during_analysis_is_not_printed_on_the_progress_bar(fashionlens, tmp_path, classifier):
    good = make_image(tmp_path / "a.jpg", (40, 48))
    broken = tmp_path / "b.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not a jpeg")
    result = fashionlens(
        "analyze", good, broken, "--classifier", classifier, "--whole-image", "--no-log", "--batch-size", "1"
    )
    assert result.returncode == 1  # the good photo is analysed, the run still says one failed
    lines = visible_lines(result.stderr)
    assert any(line.startswith(f"error: {broken}: ") for line in lines)  # on a line of its own
    assert lines[-1] == "1 of 2 photos analysed; 1 failed"


def recommend_json(fashionlens, photo: Path, catalog: Path, classifier: Path) -> dict:
    result = fashionlens(
        "recommend", photo, "--catalog", catalog, "--classifier", classifier, "--whole-image", "--no-log", "--json"
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout, parse_constant=lambda name: pytest.fail(f"{name} in --json output"))


def test_json_output_stays_json_when_the_catalogue_holds_a_non_finite_price(fashionlens, tmp_path, classifier):
    """A catalogue written before prices were checked may hold Infinity or NaN."""
    photo = make_image(tmp_path / "shirt.jpg", (40, 48), (30, 60, 200))
    source = tmp_path / "products.csv"
    source.write_text(f"id,image,price\nINF,{photo},5\nNAN,{photo},6\n", encoding="utf-8")
    catalog = tmp_path / "shop.db"
    assert fashionlens("catalog", "import", source, "--catalog", catalog, "--classifier", classifier).returncode == 0
    with sqlite3.connect(catalog) as connection:
        connection.execute("UPDATE items SET price = ? WHERE id = 'INF'", (float("inf"),))
        connection.execute("UPDATE items SET price = ? WHERE id = 'NAN'", (float("nan"),))
    listed = fashionlens("catalog", "list", "--catalog", catalog, "--json")
    items = json.loads(listed.stdout, parse_constant=lambda name: pytest.fail(f"{name} in --json output"))["items"]
    assert {item["id"]: item["price"] for item in items} == {"INF": None, "NAN": None}
    found = recommend_json(fashionlens, photo, catalog, classifier)
    prices = [pick["price"] for garment in found["images"][0]["garments"] for pick in garment["similar"]]
    assert prices and all(price is None for price in prices)
