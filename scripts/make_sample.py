"""Rebuild the embedded sample data in src/fashionlens/samples/ from the shared photos.

    python scripts/make_sample.py [--data ../shared/data]

clothing/: the first 20 train and 5 val photos (by file name) of each of the top-10 classes.
street/:   the first 60 train and 20 val photos (by file name) with all their boxes.
Photos are copied byte for byte with their LICENSE; the choice is deterministic, so a rerun changes nothing.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "src" / "fashionlens" / "samples"
TOP10 = ("T-Shirt", "Pants", "Longsleeve", "Shirt", "Shoes", "Dress", "Shorts", "Outwear", "Hat", "Skirt")
PER_SPLIT = {"clothing": {"train": 20, "val": 5}, "street": {"train": 60, "val": 20}}


def first_by_name(rows: list[dict], key: str, quota: dict[str, int], group: str | None = None) -> list[dict]:
    """The first `quota[split]` rows per (group, split), ordered by the file name in `key`."""
    chosen, taken = [], {}
    for row in sorted(rows, key=lambda r: r[key]):
        slot = (row.get(group) if group else None, row["split"])
        if taken.get(slot, 0) < quota.get(row["split"], 0):
            taken[slot] = taken.get(slot, 0) + 1
            chosen.append(row)
    return chosen


def copy_images(source: Path, target: Path, names: list[str]) -> None:
    for name in names:
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / name, target / name)


def make_clothing(data: Path, target: Path) -> None:
    with (data / "labels.csv").open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        fields, rows = reader.fieldnames, [r for r in reader if r["label"] in TOP10]
    chosen = first_by_name(rows, "image", PER_SPLIT["clothing"], group="label")
    chosen.sort(key=lambda r: (TOP10.index(r["label"]), r["split"], r["image"]))
    with (target / "labels.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(chosen)
    copy_images(data, target, [r["image"] for r in chosen])


def make_street(data: Path, target: Path) -> None:
    coco = json.loads((data / "annotations.coco.json").read_text(encoding="utf-8"))
    images = first_by_name(coco["images"], "file_name", PER_SPLIT["street"])
    ids = {image["id"] for image in images}
    coco["images"] = sorted(images, key=lambda image: image["id"])
    coco["annotations"] = [a for a in coco["annotations"] if a["image_id"] in ids]
    text = json.dumps(coco, indent=1, ensure_ascii=False) + "\n"
    (target / "annotations.coco.json").write_text(text, encoding="utf-8")
    copy_images(data, target, [image["file_name"] for image in images])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    for name, make in (("clothing", make_clothing), ("street", make_street)):
        target = TARGET / name
        if target.exists():
            shutil.rmtree(target / "images", ignore_errors=True)
        target.mkdir(parents=True, exist_ok=True)
        make(args.data / name, target)
        shutil.copyfile(args.data / name / "LICENSE", target / "LICENSE")
        print(f"wrote {target}")


if __name__ == "__main__":
    main()
