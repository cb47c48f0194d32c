"""The audit: counts, balance, splits, and every image or box problem, on fixtures and the real photos."""

from __future__ import annotations

from pathlib import Path

from conftest import make_image, make_labels_csv_dataset
from fashionlens.core.records import Box, Garment, Sample
from fashionlens.data import audit as audit_module
from fashionlens.data import read_dataset
from fashionlens.data.audit import audit, format_audit


def test_labels_csv_audit(tmp_path: Path):
    path = make_labels_csv_dataset(tmp_path, classes=("T-Shirt", "Pants", "Shoes"), per_split={"train": 3, "val": 1})
    report = audit(read_dataset(path), progress=False)
    assert report["samples"] == 12
    assert report["classes"] == {"Pants": 4, "Shoes": 4, "T-Shirt": 4}
    assert report["regions"] == {"upper": 4, "lower": 4, "full": 0}
    assert report["no_region"] == 4  # Shoes
    assert report["splits"] == {"train": 9, "val": 3}
    assert report["class_splits"]["Shoes"] == {"train": 3, "val": 1}
    assert (report["majority_class"], report["majority_share"], report["imbalance_ratio"]) == ("Pants", 0.3333, 1.0)
    assert report["problems"] == []


def test_imbalance_and_majority_share(tmp_path: Path):
    samples = [
        Sample(image=tmp_path / f"{i}.jpg", garments=[Garment(category=label)])
        for i, label in enumerate(["Dress"] * 6 + ["Skirt"] * 3 + ["Hat"])
    ]
    report = audit(samples, check_images=False)
    assert list(report["classes"]) == ["Dress", "Skirt", "Hat"]  # largest first
    assert (report["majority_class"], report["majority_share"], report["imbalance_ratio"]) == ("Dress", 0.6, 6.0)
    assert report["class_shares"] == {"Dress": 0.6, "Skirt": 0.3, "Hat": 0.1}
    assert report["unsplit"] == 10 and report["splits"] == {}
    assert report["missing_images"] == 0 and not report["images_checked"]


def test_missing_unreadable_images_and_size_mismatch_are_reported(tmp_path: Path):
    good = make_image(tmp_path / "good.jpg", (40, 30))
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    samples = [
        Sample(image=good, width=40, height=30, split="train", garments=[Garment(category="Shirt")]),
        Sample(image=tmp_path / "gone.jpg", split="train", garments=[Garment(category="Shirt")]),
        Sample(image=empty, split="val", garments=[Garment(category="Pants")]),
        Sample(image=make_image(tmp_path / "small.jpg", (20, 20)), width=40, height=30, garments=[]),
    ]
    report = audit(samples, progress=False)
    assert (report["missing_images"], report["unreadable_images"], report["unlabelled"]) == (1, 1, 1)
    problems = "\n".join(report["problems"])
    assert f"{tmp_path / 'gone.jpg'}: image not found" in problems
    assert f"{empty}: not a readable image" in problems
    assert f"{tmp_path / 'small.jpg'}: annotated size 40x30 but the image is 20x20" in problems
    assert "1 samples have no label" in problems
    assert len(report["problems"]) == 4


def test_images_above_the_pixel_limit_are_unreadable(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(audit_module, "MAX_PIXELS", 100)
    image = make_image(tmp_path / "huge.jpg", (20, 10))
    report = audit([Sample(image=image, garments=[Garment(category="Hat")])], progress=False)
    assert report["unreadable_images"] == 1
    assert report["problems"] == [f"{image}: image too large (20x10 pixels, limit 100)"]


def test_box_problems_are_reported_against_the_real_image_size(tmp_path: Path):
    image = make_image(tmp_path / "street.jpg", (64, 48))
    boxes = [Box(0, 0, 64, 48), Box(10, 10, 70, 40), Box(5, 5, 5, 20), Box(30, 10, 20, 40)]
    # The annotation claims a larger image: the file's real size must win.
    sample = Sample(image=image, width=100, height=100, garments=[Garment(box=b, category="top") for b in boxes])
    report = audit([sample], progress=False)
    assert report["box_problems"] == 3
    box_lines = [p for p in report["problems"] if "box [" in p]
    assert box_lines == [
        f"{image}: top box [10,10,70,40]: box outside the 64x48 image",
        f"{image}: top box [5,5,5,20]: zero-area box",
        f"{image}: top box [30,10,20,40]: inverted box (x2 < x1 or y2 < y1)",
    ]
    # Without reading images the annotated 100x100 is all there is: the 70 px wide box then fits.
    assert audit([sample], check_images=False)["box_problems"] == 2


def test_coco_fixture_audit_and_table(coco_dataset: Path):
    report = audit(read_dataset(coco_dataset), progress=False)
    assert (report["samples"], report["garments"]) == (4, 7)
    assert report["regions"] == {"upper": 3, "lower": 3, "full": 1}
    assert report["classes"] == {"blouse": 2, "dress": 1, "jeans": 1, "pants": 1, "skirt": 1, "sweater": 1}
    assert report["splits"] == {"train": 3, "val": 1}
    assert (report["majority_class"], report["imbalance_ratio"]) == ("blouse", 2.0)
    table = format_audit(report, title="street")
    assert table.splitlines()[:2] == ["street", "samples          4   (7 labelled garments)"]
    assert "regions          upper 3, lower 3, full 1, no region 0" in table
    assert "imbalance ratio  2  (blouse 2 / sweater 1)" in table
    assert any(line.split() == ["blouse", "2", "28.6%", "1", "1"] for line in table.splitlines())
    assert table.splitlines()[-1] == "problems         0"


def test_table_lists_problems_and_points_to_json(tmp_path: Path):
    samples = [Sample(image=tmp_path / f"{i}.jpg", garments=[Garment(category="Hat")]) for i in range(13)]
    table = format_audit(audit(samples, progress=False), max_problems=10)
    assert "problems         13:" in table
    assert table.splitlines()[-1] == "  ... and 3 more (--json lists them all)"


def test_embedded_samples_audit_cleanly():
    from fashionlens.samples import sample_file

    clothing = audit(read_dataset(sample_file("clothing")), progress=False)
    assert (clothing["samples"], clothing["splits"], clothing["problems"]) == (250, {"train": 200, "val": 50}, [])
    assert set(clothing["classes"].values()) == {25}
    street = audit(read_dataset(sample_file("street")), progress=False)
    assert (street["samples"], street["garments"], street["splits"]) == (80, 189, {"train": 60, "val": 20})
    assert street["problems"] == []


def test_real_shared_data_audit(shared_data: Path):
    clothing = audit(read_dataset(shared_data / "clothing" / "labels.csv"), progress=False)
    assert (clothing["samples"], len(clothing["classes"])) == (4835, 20)
    assert (clothing["classes"]["T-Shirt"], clothing["classes"]["Skip"]) == (944, 5)
    assert clothing["splits"] == {"train": 4340, "val": 495}
    assert (clothing["majority_class"], clothing["majority_share"], clothing["imbalance_ratio"]) == (
        "T-Shirt",
        0.1952,
        188.8,
    )
    assert clothing["problems"] == []
    street = audit(read_dataset(shared_data / "street" / "annotations.coco.json"), progress=False)
    assert (street["samples"], street["garments"], len(street["classes"])) == (814, 1903, 23)
    assert street["regions"] == {"upper": 804, "lower": 593, "full": 506}
    assert street["splits"] == {"train": 706, "val": 108}
    # One pants box of 0161.jpg ends 0.7 px past the right edge (318.7 > 318): reported, not hidden.
    assert street["box_problems"] == 1 and "0161.jpg: pants box" in street["problems"][0]
