"""`fashionlens analyze`, `catalog`, `recommend` and `insights` end to end on tiny trained models."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from fashionlens.catalog.store import SQLiteStore
from fashionlens.core.checkpoint import save_checkpoint
from tiny_models import random_checkpoint


@pytest.fixture
def runs(tiny_runs):
    return tiny_runs


def street_photos(runs) -> list[Path]:
    return sorted((runs.street.parent / "images").glob("*.jpg"))


def products(runs, tmp_path: Path, extra: str = "") -> Path:
    """A product CSV over the classifier's tiny garment photos (absolute paths), with attributes."""
    images = sorted((runs.clothing.parent / "images").glob("*_train_*.jpg"))
    lines = ["id,image,name,price,category,kids"]
    for number, image in enumerate(images):
        category = {"dress": "Dress", "pants": "Pants", "t-shirt": "T-Shirt"}[image.name.split("_")[0]]
        lines.append(f"P{number},{image},{image.stem},{10 + number},{category},{number % 2 == 0}")
    path = tmp_path / "products.csv"
    path.write_text("\n".join(lines) + "\n" + extra, encoding="utf-8")
    return path


def test_analyze_json_gives_the_same_bytes_and_annotated_photos(fashionlens, runs, tmp_path):
    photos = street_photos(runs)
    models = ("--detector", runs.detector, "--classifier", runs.classifier)
    first = fashionlens("analyze", photos[0], photos[1], *models, "--json", "--annotate", tmp_path / "out")
    assert first.returncode == 0, first.stderr
    data = json.loads(first.stdout)  # stdout holds the JSON only
    assert [Path(image["image"]).name for image in data["images"]] == ["0001.jpg", "0002.jpg"]
    assert all(image["garments"] for image in data["images"])
    again = fashionlens("analyze", photos[0], photos[1], *models, "--json")
    assert again.stdout == first.stdout
    for name in ("0001.png", "0002.png"):
        with Image.open(tmp_path / "out" / name) as picture:
            assert picture.size == (64, 48)
    table = fashionlens("analyze", photos[0], *models)
    assert table.returncode == 0 and "0001.jpg (64x48):" in table.stdout and "box " in table.stdout


def test_a_bad_photo_or_missing_models_is_one_line(fashionlens, runs, tmp_path, monkeypatch):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"no image here")
    result = fashionlens("analyze", broken, "--classifier", runs.classifier, "--whole-image")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines()[-1] == f"error: {broken}: not an image (unrecognised format)"
    monkeypatch.setattr("fashionlens.inference.default_models.WEIGHTS_DIR", tmp_path / "no-weights")
    result = fashionlens("analyze", street_photos(runs)[0])
    assert result.stderr.strip() == "error: no default models installed; pass --classifier RUN_DIR"


def test_import_recommend_and_insights_end_to_end(fashionlens, runs, tmp_path):
    db = tmp_path / "shop.db"
    csv_path = products(runs, tmp_path, extra="P0,elsewhere.jpg,dup,1,Pants,False\nP99,missing.jpg,x,1,Pants,False\n")
    imported = fashionlens("catalog", "import", csv_path, "--catalog", db, "--classifier", runs.classifier)
    assert imported.returncode == 0, imported.stderr
    assert f"{db}: imported 6 items (6 new, 0 updated, 0 unchanged); 2 bad rows" in imported.stdout
    assert f"bad row: {csv_path}:8 (id P0): duplicate id (first on line 2)" in imported.stderr
    assert f"bad row: {csv_path}:9 (id P99): image not found" in imported.stderr
    listed = json.loads(fashionlens("catalog", "list", "--catalog", db, "--where", "kids=true", "--json").stdout)
    assert listed["count"] == 3 and {item["id"] for item in listed["items"]} == {"P0", "P2", "P4"}
    photo = street_photos(runs)[0]
    models = ("--detector", runs.detector, "--classifier", runs.classifier)
    result = fashionlens("recommend", photo, *models, "--catalog", db, "--k", "2", "--json", "--channel", "online")
    assert result.returncode == 0, result.stderr
    [image] = json.loads(result.stdout)["images"]
    kids = fashionlens("recommend", photo, *models, "--catalog", db, "--k", "2", "--json", "--kids", "--no-log")
    [kids_image] = json.loads(kids.stdout)["images"]
    # each region holds one adults' and one kids' product: each query gets its own
    for garment, kids_garment in zip(image["garments"], kids_image["garments"]):
        for found, wanted in ((garment, "False"), (kids_garment, "True")):
            picks = found["similar"] + found["complete_the_look"]
            assert len(found["similar"]) == 1 and {pick["attributes"]["kids"] for pick in picks} == {wanted}
        assert all(pick["region"] == garment["garment"]["region"] for pick in garment["similar"])
        assert all("similarity" in pick["why"] and "color" in pick["why"] for pick in garment["similar"])
        assert all(pick["region"] != garment["garment"]["region"] for pick in garment["complete_the_look"])
    table = fashionlens("recommend", photo, *models, "--catalog", db, "--no-log")
    assert "looks " in table.stdout and "% alike" in table.stdout  # each pick's reason
    fashionlens("analyze", photo, *models, "--catalog", db)
    report = json.loads(fashionlens("insights", "--catalog", db, "--json", "--out", tmp_path / "insights").stdout)
    assert report["events"] == 2 and report["by_kind"] == {"analysis": 1, "recommendation": 1}
    assert report["by_channel"] == {"online": 1, "store": 1}
    assert sum(v["count"] for v in report["regions"].values()) == report["garments"] == 2 * len(image["garments"])
    assert report["click_through"]["recommended"] > 0
    assert sorted(p.name for p in (tmp_path / "insights").iterdir()) == [
        "click_through.png",
        "insights.csv",
        "shares.png",
        "trend.png",
    ]
    removed = fashionlens("catalog", "remove", "P0", "P1", "--catalog", db)
    assert removed.stdout.strip() == f"{db}: removed 2 items" and SQLiteStore(db).count() == 4


def test_strict_and_empty_imports_fail_without_writing(fashionlens, runs, tmp_path):
    db = tmp_path / "shop.db"
    csv_path = products(runs, tmp_path, extra="P99,missing.jpg,x,1,Pants,False\n")
    strict = fashionlens("catalog", "import", csv_path, "--catalog", db, "--classifier", runs.classifier, "--strict")
    assert strict.returncode == 2 and "bad row:" in strict.stderr
    assert strict.stderr.strip().splitlines()[-1] == f"error: {csv_path}: 1 bad rows, nothing imported (--strict)"
    assert not db.exists()  # a first import that fails leaves no catalogue behind
    only_bad = tmp_path / "bad.csv"
    only_bad.write_text("id,image\nX,missing.jpg\n", encoding="utf-8")
    result = fashionlens("catalog", "import", only_bad, "--catalog", db, "--classifier", runs.classifier)
    assert result.returncode == 1 and f"error: {only_bad}: nothing imported (1 bad rows)" in result.stderr
    assert not db.exists()


def test_queries_with_another_model_are_refused_until_reindex(fashionlens, runs, tmp_path):
    db = tmp_path / "shop.db"
    fashionlens("catalog", "import", products(runs, tmp_path), "--catalog", db, "--classifier", runs.classifier)
    other = tmp_path / "other-run"
    save_checkpoint(random_checkpoint("img+bbox", seed=1), other / "best.pt")
    photo = street_photos(runs)[0]
    refused = fashionlens("recommend", photo, "--classifier", other, "--whole-image", "--catalog", db)
    assert refused.returncode == 2
    assert f"pass --classifier {runs.classifier / 'best.pt'}, or run `fashionlens catalog reindex" in refused.stderr
    reindexed = fashionlens("catalog", "reindex", "--catalog", db, "--classifier", other)
    assert reindexed.returncode == 0 and "reindexed 6 items" in reindexed.stdout
    accepted = fashionlens("recommend", photo, "--classifier", other, "--whole-image", "--catalog", db, "--json")
    assert accepted.returncode == 0, accepted.stderr
    [garment] = json.loads(accepted.stdout)["images"][0]["garments"]
    region = garment["garment"]["region"]
    assert len(garment["similar"]) == 1 and garment["similar"][0]["region"] == region  # the region's adults' product


@pytest.mark.parametrize(
    "command",
    [
        ["analyze"],
        ["recommend"],
        ["insights"],
        ["catalog", "import"],
        ["catalog", "remove"],
        ["catalog", "reindex"],
        ["catalog", "list"],
        ["experiment", "add"],
        ["experiment", "list"],
    ],
)
def test_help_teaches_use(fashionlens, command):
    result = fashionlens(*command, "--help")
    assert result.returncode == 0 and "Example: fashionlens " + command[0] in " ".join(result.stdout.split())


def test_a_fresh_process_prints_the_same_json_bytes(fashionlens, runs):
    args = [
        "analyze",
        str(street_photos(runs)[2]),
        "--detector",
        str(runs.detector),
        "--classifier",
        str(runs.classifier),
        "--json",
    ]
    fresh = subprocess.run(
        [sys.executable, "-c", "from fashionlens.cli import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert fresh.returncode == 0 and "Traceback" not in fresh.stderr
    assert fresh.stdout == fashionlens(*args).stdout


def test_a_folder_is_every_image_in_it_and_a_non_image_is_skipped(fashionlens, runs, tmp_path):
    folder = tmp_path / "photos"
    (folder / "more").mkdir(parents=True)
    first, second = street_photos(runs)[:2]
    (folder / "b.jpg").write_bytes(first.read_bytes())
    (folder / "more" / "a.jpg").write_bytes(second.read_bytes())  # found recursively
    (folder / "notes.txt").write_text("not a photo", encoding="utf-8")
    result = fashionlens("analyze", folder, "--detector", runs.detector, "--classifier", runs.classifier, "--json")
    assert result.returncode == 0, result.stderr
    images = [image["image"] for image in json.loads(result.stdout)["images"]]
    assert images == [str(folder / "b.jpg"), str(folder / "more" / "a.jpg")]  # sorted by path
    assert f"warning: {folder / 'notes.txt'}: skipped, not an image file" in result.stderr
    quoted_glob = fashionlens(
        "analyze", f"{folder}/**/*.jpg", "--classifier", runs.classifier, "--whole-image", "--json"
    )
    assert [Path(image["image"]).name for image in json.loads(quoted_glob.stdout)["images"]] == ["b.jpg", "a.jpg"]


def test_one_missing_photo_among_three_gives_two_results_and_a_failure(fashionlens, runs, tmp_path):
    first, second = street_photos(runs)[:2]
    missing = tmp_path / "missing.jpg"
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"no image here")
    models = ("--detector", runs.detector, "--classifier", runs.classifier)
    result = fashionlens("analyze", first, missing, second, *models, "--json")
    assert result.returncode == 1
    assert [Path(image["image"]).name for image in json.loads(result.stdout)["images"]] == ["0001.jpg", "0002.jpg"]
    assert f"error: {missing}: file not found" in result.stderr
    assert result.stderr.strip().splitlines()[-1] == "2 of 3 photos analysed; 1 failed"
    # an unreadable photo is found while analysing: the others of its batch are still analysed
    table = fashionlens("analyze", first, broken, *models)
    assert table.returncode == 1 and "0001.jpg (64x48):" in table.stdout
    assert f"error: {broken}: not an image (unrecognised format)" in table.stderr
    assert table.stderr.strip().splitlines()[-1] == "1 of 2 photos analysed; 1 failed"


def test_conf_and_device(fashionlens, runs):
    photo = street_photos(runs)[0]
    models = ("--detector", runs.detector, "--classifier", runs.classifier, "--json")
    strict = json.loads(fashionlens("analyze", photo, *models, "--conf", "1").stdout)
    assert strict["images"][0]["whole_image"]  # no detection scores 1: the whole photo is one garment
    loose = json.loads(fashionlens("analyze", photo, *models, "--conf", "0").stdout)
    assert not loose["images"][0]["whole_image"]
    assert fashionlens("analyze", photo, *models, "--device", "cpu").returncode == 0
    bad = fashionlens("analyze", photo, *models, "--device", "gpu")
    assert bad.returncode == 2 and bad.stderr.strip() == "error: --device gpu: not a device; use cpu, cuda or cuda:N"
    import torch

    if not torch.cuda.is_available():
        absent = fashionlens("analyze", photo, *models, "--device", "cuda:0")
        assert (
            absent.returncode == 2 and absent.stderr.strip() == "error: --device cuda:0: no CUDA GPU is available here"
        )
    onnx = fashionlens("analyze", photo, *models, "--backend", "onnx", "--device", "cuda")
    assert onnx.returncode == 2 and "the onnx backend runs on the CPU; use --backend torch" in onnx.stderr
