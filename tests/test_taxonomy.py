"""Label sets and mappings: DeepFashion as documented, street labels as annotated, the documented decisions."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from fashionlens.core.errors import DataFormatError
from fashionlens.core.taxonomy import (
    CLOTHING_REGIONS,
    CLOTHING_TO_DEEPFASHION,
    DEEPFASHION_CATEGORIES,
    STREET_GARMENTS,
    STREETSTYLE_CATEGORIES,
    load_label_map,
    map_labels,
    region_of,
    to_clothing_label,
    to_deepfashion_label,
)

DATASETS_DOC = Path(__file__).resolve().parents[2] / "shared" / "docs" / "datasets.md"
DEEPFASHION_NAMES = {name for name, _ in DEEPFASHION_CATEGORIES}


def test_deepfashion_categories_in_file_order():
    assert len(DEEPFASHION_CATEGORIES) == 50
    regions = [region for _, region in DEEPFASHION_CATEGORIES]
    assert regions == ["upper"] * 20 + ["lower"] * 16 + ["full"] * 14
    by_id = {index + 1: name for index, (name, _) in enumerate(DEEPFASHION_CATEGORIES)}
    assert (by_id[1], by_id[3], by_id[18], by_id[26], by_id[41], by_id[50]) == (
        "Anorak",
        "Blouse",
        "Tee",
        "Jeans",
        "Dress",
        "Sundress",
    )


def test_deepfashion_categories_match_the_format_reference():
    if not DATASETS_DOC.is_file():
        pytest.skip("../shared/docs/datasets.md is not available")
    text = DATASETS_DOC.read_text(encoding="utf-8")
    documented = []
    for kind in (1, 2, 3):
        match = re.search(rf"type {kind} \(ids \d+-\d+\): ([^\n]+(?:\n {{4}}[^\n-][^\n]*)*)", text)
        documented += [name.strip() for name in match.group(1).replace("\n", " ").split(",")]
    assert documented == [name for name, _ in DEEPFASHION_CATEGORIES]


def test_documented_decisions():
    for knitwear in ("sweater", "jumper", "cardigan", "sweatshirt"):
        assert to_clothing_label(knitwear) == "Longsleeve" and region_of(knitwear) == "upper"
    assert (to_clothing_label("vest"), to_deepfashion_label("vest"), region_of("vest")) == (
        "Undershirt",
        "Tank",
        "upper",
    )
    assert (to_clothing_label("suit"), to_deepfashion_label("suit"), region_of("suit")) == ("Blazer", "Blazer", "full")
    assert to_deepfashion_label("jumper") == "Sweater"
    assert (to_clothing_label("Tank top"), to_clothing_label("Sweater"), region_of("Suit")) == (
        "Undershirt",
        "Longsleeve",
        "full",
    )


def test_region_of_any_label_set():
    assert [region_of(x) for x in ("T-Shirt", " jeans ", "Kimono", "DRESS", "Outerwear", "lower")] == [
        "upper",
        "lower",
        "full",
        "full",
        "upper",
        "lower",
    ]
    assert [region_of(x) for x in ("Shoes", "Hat", "Not sure", "handbag", "", None)] == [None] * 6


def test_every_mapping_lands_in_its_target_set():
    for region, clothing, deepfashion in STREET_GARMENTS.values():
        assert (
            clothing in CLOTHING_REGIONS and deepfashion in DEEPFASHION_NAMES and region in ("upper", "lower", "full")
        )
    assert all(clothing in CLOTHING_REGIONS for _, clothing in STREETSTYLE_CATEGORIES.values())
    assert set(CLOTHING_TO_DEEPFASHION.values()) <= DEEPFASHION_NAMES
    garments = [label for label, region in CLOTHING_REGIONS.items() if region]
    assert all(to_deepfashion_label(label) in DEEPFASHION_NAMES for label in garments)


def test_street_labels_match_the_annotated_regions(shared_data: Path):
    coco = json.loads((shared_data / "street" / "annotations.coco.json").read_text())
    names = {c["id"]: c["name"] for c in coco["categories"]}
    assert set(coco["garment_labels"]) == set(STREET_GARMENTS)
    annotated = {(a["garment"], names[a["category_id"]]) for a in coco["annotations"]}
    assert all(STREET_GARMENTS[garment][0] == region for garment, region in annotated)


def test_map_labels_with_a_retailer_mapping(tmp_path: Path):
    path = tmp_path / "shop.csv"
    path.write_text("label,category\nKnit,Longsleeve\nDenim,Pants\n", encoding="utf-8")
    mapping = load_label_map(path)
    assert mapping == {"Knit": "Longsleeve", "Denim": "Pants"}
    target = ["T-Shirt", "Longsleeve", "Pants", "Blazer"]
    assert map_labels(["knit", "Denim", "jumper", "t-shirt", "suit", "Tee", "Shoes"], target, mapping) == [
        "Longsleeve",
        "Pants",
        "Longsleeve",
        "T-Shirt",
        "Blazer",
        "T-Shirt",
        None,
    ]


def test_label_map_from_yaml(tmp_path: Path):
    path = tmp_path / "shop.yaml"
    path.write_text("Knit: Longsleeve\nDenim: Pants\n", encoding="utf-8")
    assert load_label_map(path) == {"Knit": "Longsleeve", "Denim": "Pants"}


@pytest.mark.parametrize(
    "name, text, line, message",
    [
        ("map.csv", "name,target\nKnit,Longsleeve\n", 1, "columns label,category"),
        ("map.csv", "label,category\nKnit,Longsleeve\nDenim,\n", 3, "empty label or category"),
        ("map.yaml", "Knit: Longsleeve\nDenim: [Pants\n", 3, "not valid YAML"),
        ("map.yaml", "- Knit\n- Denim\n", None, "mapping of label: category"),
    ],
)
def test_label_map_errors_name_file_and_line(tmp_path: Path, name: str, text: str, line: int | None, message: str):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataFormatError, match=message) as error:
        load_label_map(path)
    assert (error.value.path, error.value.line) == (path, line)
