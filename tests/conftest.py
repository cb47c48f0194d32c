"""Shared fixtures: tiny datasets written into tmp_path in the real formats, with real (tiny) images.

Factories (use them when the defaults do not fit):
    make_image(path, size=(32, 32), color=(200, 30, 30))               -> Path  (any Pillow format by suffix)
    make_labels_csv_dataset(root, classes=..., per_split=..., size=32)  -> Path of labels.csv
    make_coco_dataset(root, images=..., size=(64, 48))                  -> Path of annotations.coco.json
Use them as `from conftest import make_coco_dataset` or through the fixtures of the same name.
Ready-made fixtures: `labels_csv_dataset`, `coco_dataset`, `shared_data` (skips when ../shared/data is absent),
`tiny_runs` (a tiny classifier and detector trained once per session), `fashionlens` (the CLI in this process),
`live_server`, and the browser tests' `browser` and `page`.
Helpers that several test files share live in helpers.py, tiny_models.py, service_testing.py and
postgres_testing.py: a test file never imports from another test file.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from postgres_testing import catalog_at, postgres_server, postgres_url  # noqa: F401  (fixtures)

# One distinct solid colour per class, so a model can learn the tiny datasets in a step or two.
PALETTE = [(220, 40, 40), (40, 160, 60), (40, 70, 220), (230, 200, 40), (160, 60, 200), (30, 200, 200)]
DEFAULT_CLASSES = ("T-Shirt", "Pants", "Dress")
DEFAULT_PER_SPLIT = {"train": 4, "val": 2}
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def make_image(
    path: Path, size: tuple[int, int] = (32, 32), color: tuple[int, int, int] = (200, 30, 30), mode: str = "RGB"
) -> Path:
    """Write a solid-colour image; the format follows the suffix (.jpg, .png, ...)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).convert(mode).save(path)
    return path


def make_labels_csv_dataset(
    root: Path, classes: tuple[str, ...] = DEFAULT_CLASSES, per_split: dict[str, int] | None = None, size: int = 32
) -> Path:
    """A labels CSV (`image,label,kids,split`) with solid-colour JPEGs in root/images/, colour per class.

    Rows are written class by class; the first image of every class has kids=True.
    """
    per_split = per_split or DEFAULT_PER_SPLIT
    rows = []
    for index, label in enumerate(classes):
        color = PALETTE[index % len(PALETTE)]
        for split, count in per_split.items():
            for number in range(count):
                name = f"images/{label.lower()}_{split}_{number}.jpg"
                make_image(root / name, (size, size), color)
                rows.append([name, label, str(number == 0 and split == "train"), split])
    path = root / "labels.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["image", "label", "kids", "split"])
        writer.writerows(rows)
    return path


# (split, [(category_id, garment, [x, y, w, h]), ...]) per image: 3 train, 1 val; 7 boxes.
DEFAULT_COCO_IMAGES = [
    ("train", [(1, "blouse", [8, 4, 40, 18]), (2, "jeans", [10, 24, 36, 22])]),
    ("train", [(3, "dress", [6, 4, 50, 40])]),
    ("train", [(1, "sweater", [8, 2, 44, 20]), (2, "skirt", [12, 24, 30, 16])]),
    ("val", [(1, "blouse", [4, 4, 40, 20]), (2, "pants", [8, 26, 40, 20])]),
]


def make_coco_dataset(root: Path, images: list | None = None, size: tuple[int, int] = (64, 48)) -> Path:
    """COCO detection JSON like the street photos': categories upper/lower/full, a `garment` field per
    annotation and a `split` per image; each box is painted in the image in its region's colour."""
    images = DEFAULT_COCO_IMAGES if images is None else images
    data = {
        "categories": [{"id": 1, "name": "upper"}, {"id": 2, "name": "lower"}, {"id": 3, "name": "full"}],
        "images": [],
        "annotations": [],
    }
    for image_id, (split, boxes) in enumerate(images, start=1):
        name = f"images/{image_id:04d}.jpg"
        picture = Image.new("RGB", size, (235, 235, 235))
        for category_id, garment, (x, y, w, h) in boxes:
            picture.paste(PALETTE[category_id - 1], (int(x), int(y), int(x + w), int(y + h)))
            data["annotations"].append(
                {
                    "id": len(data["annotations"]) + 1,
                    "image_id": image_id,
                    "category_id": category_id,
                    "bbox": [x, y, w, h],
                    "area": w * h,
                    "iscrowd": 0,
                    "garment": garment,
                }
            )
        (root / "images").mkdir(parents=True, exist_ok=True)
        picture.save(root / name)
        data["images"].append({"id": image_id, "file_name": name, "width": size[0], "height": size[1], "split": split})
    path = root / "annotations.coco.json"
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")
    return path


# Tests marked by the fixtures they take (pyproject.toml's markers; `make test-fast` leaves them out): the
# browser's, and the slow ones of a session's tiny training runs or of a PostgreSQL cluster.
MARKS_OF_FIXTURES = {"browser": "browser", "page": "browser", "tiny_runs": "slow", "postgres_server": "slow"}


@pytest.hookimpl(tryfirst=True)  # before -m deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for fixture in set(getattr(item, "fixturenames", ())) & MARKS_OF_FIXTURES.keys():
            item.add_marker(MARKS_OF_FIXTURES[fixture])


@pytest.fixture(name="make_image")
def make_image_fixture():
    return make_image


@pytest.fixture(name="make_labels_csv_dataset")
def make_labels_csv_dataset_fixture():
    return make_labels_csv_dataset


@pytest.fixture(name="make_coco_dataset")
def make_coco_dataset_fixture():
    return make_coco_dataset


@pytest.fixture
def labels_csv_dataset(tmp_path: Path) -> Path:
    """3 classes x (4 train + 2 val) solid-colour 32 px photos; returns the labels.csv path."""
    return make_labels_csv_dataset(tmp_path / "clothing")


@pytest.fixture
def coco_dataset(tmp_path: Path) -> Path:
    """4 photos (3 train, 1 val), 7 boxes of regions upper/lower/full; returns the JSON path."""
    return make_coco_dataset(tmp_path / "street")


@pytest.fixture
def shared_data() -> Path:
    """The real photos at ../shared/data; the test is skipped where they are absent."""
    if not (SHARED_DATA / "clothing" / "labels.csv").is_file():
        pytest.skip("../shared/data is not available on this machine")
    return SHARED_DATA


@pytest.fixture
def fashionlens(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture):
    """`fashionlens ARGS` through cli.main() in this process (its error handling, without the start-up
    cost): (exit code, stdout, stderr) as a CompletedProcess."""

    def run(*args) -> subprocess.CompletedProcess:
        from fashionlens.cli import main

        monkeypatch.setattr(sys, "argv", ["fashionlens", *map(str, args)])
        with pytest.raises(SystemExit) as exit_info:
            main()
        captured = capsys.readouterr()
        return subprocess.CompletedProcess(args, exit_info.value.code or 0, captured.out, captured.err)

    return run


@pytest.fixture
def live_server(tmp_path: Path):
    """A real fashionlens server (uvicorn in a thread, free loopback port) over a fresh catalogue of four
    products, with the tiny untrained classifier: yields service_testing.LiveServer (`.url`, `.admin_key`,
    `.photos[product id]` = bytes that find that product). Stopped after the test."""
    from service_testing import tiny_live_server

    with tiny_live_server(tmp_path) as server:
        yield server


@pytest.fixture(scope="session")
def tiny_runs(tmp_path_factory: pytest.TempPathFactory):
    """tiny_models.TinyRuns: a classifier and a detector trained one epoch through `fashionlens train` on
    the tiny datasets, once per session."""
    from tiny_models import train_tiny_runs

    root = tmp_path_factory.mktemp("tiny-runs")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TORCH_HOME", str(root / "empty-torch-cache"))  # from scratch, whatever the developer's cache
        return train_tiny_runs(root)


# The browser tests' fixtures (tests marked `browser`): headless Chromium driven by Playwright.
CHROMIUM = Path("/usr/bin/chromium")
# Without the networking flags Chromium waits on services it cannot reach on a closed network.
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
TIMEOUT_MS = 30_000


def unavailable(reason: str) -> None:
    if os.environ.get("FASHIONLENS_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason}, and FASHIONLENS_REQUIRE_BROWSER=1 requires the browser tests to run")
    pytest.skip(f"{reason}; install it with `apt-get install -y chromium` to run the browser tests")


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.is_file():
        unavailable(f"no Chromium at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the playwright Python package is not installed")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser):
    """A fresh page; JavaScript exceptions and console errors (a CSP refusal among them) are collected
    in page.problems, except the browser's own note about an HTTP error status."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    opened.set_default_timeout(TIMEOUT_MS)
    opened.problems = []
    opened.on("pageerror", lambda error: opened.problems.append(str(error)))
    opened.on(
        "console",
        lambda message: (
            opened.problems.append(message.text)
            if message.type == "error" and "Failed to load resource" not in message.text
            else None
        ),
    )
    yield opened
    context.close()
