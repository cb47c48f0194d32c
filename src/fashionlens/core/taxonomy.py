"""Label sets of the sources fashionlens reads, their body regions, and mappings between them.

The clothing photos' labels are the pivot: every other label set maps onto them, so a model trained
on one source can be scored on another. Decisions where sources disagree (see docs/taxonomy.md):
- sweater, jumper, cardigan, sweatshirt -> Longsleeve (the clothing photos file knitwear there);
- vest -> Undershirt / DeepFashion Tank (a sleeveless top, as in the street photos' masks);
- suit -> Blazer: the jacket is what identifies it, though the street photos box it as full-body;
- cape -> Outwear / DeepFashion Poncho (DeepFashion merged Cape into Dress with no images);
- romper and bodysuit -> Dress and Body, the only full-body / one-piece classes of the clothing photos.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import yaml

from fashionlens.core.errors import DataFormatError
from fashionlens.core.textfile import open_csv, read_text

# DeepFashion Category and Attribute Prediction: list_category_cloth.txt in file order (id = index + 1).
DEEPFASHION_CATEGORIES: tuple[tuple[str, str], ...] = tuple(
    [
        (name, "upper")
        for name in (
            "Anorak",
            "Blazer",
            "Blouse",
            "Bomber",
            "Button-Down",
            "Cardigan",
            "Flannel",
            "Halter",
            "Henley",
            "Hoodie",
            "Jacket",
            "Jersey",
            "Parka",
            "Peacoat",
            "Poncho",
            "Sweater",
            "Tank",
            "Tee",
            "Top",
            "Turtleneck",
        )
    ]
    + [
        (name, "lower")
        for name in (
            "Capris",
            "Chinos",
            "Culottes",
            "Cutoffs",
            "Gauchos",
            "Jeans",
            "Jeggings",
            "Jodhpurs",
            "Joggers",
            "Leggings",
            "Sarong",
            "Shorts",
            "Skirt",
            "Sweatpants",
            "Sweatshorts",
            "Trunks",
        )
    ]
    + [
        (name, "full")
        for name in (
            "Caftan",
            "Cape",
            "Coat",
            "Coverup",
            "Dress",
            "Jumpsuit",
            "Kaftan",
            "Kimono",
            "Nightdress",
            "Onesie",
            "Robe",
            "Romper",
            "Shirtdress",
            "Sundress",
        )
    ]
)
DEEPFASHION_TYPE_TO_REGION = {1: "upper", 2: "lower", 3: "full"}

# Clothing photos (../shared/data/clothing): label -> region; None for non-garments and unusable photos.
CLOTHING_REGIONS: dict[str, str | None] = {
    "T-Shirt": "upper",
    "Longsleeve": "upper",
    "Shirt": "upper",
    "Outwear": "upper",
    "Polo": "upper",
    "Undershirt": "upper",
    "Blazer": "upper",
    "Hoodie": "upper",
    "Top": "upper",
    "Blouse": "upper",
    "Pants": "lower",
    "Shorts": "lower",
    "Skirt": "lower",
    "Dress": "full",
    "Body": "full",
    "Shoes": None,
    "Hat": None,
    "Not sure": None,
    "Skip": None,
    "Other": None,
}
CLOTHING_TOP10 = ("T-Shirt", "Pants", "Longsleeve", "Shirt", "Shoes", "Dress", "Shorts", "Outwear", "Hat", "Skirt")
CLOTHING_UPPER = tuple(label for label, region in CLOTHING_REGIONS.items() if region == "upper")

# Street photos (../shared/data/street): fine garment label -> (region, clothing label, DeepFashion).
STREET_GARMENTS: dict[str, tuple[str, str, str]] = {
    "blazer": ("upper", "Blazer", "Blazer"),
    "blouse": ("upper", "Blouse", "Blouse"),
    "bodysuit": ("upper", "Body", "Top"),
    "cardigan": ("upper", "Longsleeve", "Cardigan"),
    "hoodie": ("upper", "Hoodie", "Hoodie"),
    "jacket": ("upper", "Outwear", "Jacket"),
    "jumper": ("upper", "Longsleeve", "Sweater"),
    "shirt": ("upper", "Shirt", "Button-Down"),
    "sweater": ("upper", "Longsleeve", "Sweater"),
    "sweatshirt": ("upper", "Longsleeve", "Sweater"),
    "t-shirt": ("upper", "T-Shirt", "Tee"),
    "top": ("upper", "Top", "Top"),
    "vest": ("upper", "Undershirt", "Tank"),
    "jeans": ("lower", "Pants", "Jeans"),
    "leggings": ("lower", "Pants", "Leggings"),
    "pants": ("lower", "Pants", "Chinos"),
    "shorts": ("lower", "Shorts", "Shorts"),
    "skirt": ("lower", "Skirt", "Skirt"),
    "cape": ("full", "Outwear", "Poncho"),
    "coat": ("full", "Outwear", "Coat"),
    "dress": ("full", "Dress", "Dress"),
    "romper": ("full", "Dress", "Romper"),
    "suit": ("full", "Blazer", "Blazer"),
}

# StreetStyle-27K clothing_category -> (region, clothing label).
STREETSTYLE_CATEGORIES: dict[str, tuple[str, str]] = {
    "Shirt": ("upper", "Shirt"),
    "Outerwear": ("upper", "Outwear"),
    "T-shirt": ("upper", "T-Shirt"),
    "Tank top": ("upper", "Undershirt"),
    "Sweater": ("upper", "Longsleeve"),
    "Suit": ("full", "Blazer"),
    "Dress": ("full", "Dress"),
}

# Clothing label -> the nearest DeepFashion category.
CLOTHING_TO_DEEPFASHION: dict[str, str] = {
    "T-Shirt": "Tee",
    "Longsleeve": "Top",
    "Shirt": "Button-Down",
    "Outwear": "Jacket",
    "Polo": "Tee",
    "Undershirt": "Tank",
    "Blazer": "Blazer",
    "Hoodie": "Hoodie",
    "Top": "Top",
    "Blouse": "Blouse",
    "Pants": "Chinos",
    "Shorts": "Shorts",
    "Skirt": "Skirt",
    "Dress": "Dress",
    "Body": "Onesie",
}

_DEEPFASHION_REGIONS = {name.lower(): region for name, region in DEEPFASHION_CATEGORIES}
_REGION_TABLES: tuple[Mapping[str, str | None], ...] = (
    {k.lower(): v for k, v in CLOTHING_REGIONS.items()},
    {k: v[0] for k, v in STREET_GARMENTS.items()},
    {k.lower(): v[0] for k, v in STREETSTYLE_CATEGORIES.items()},
    _DEEPFASHION_REGIONS,
)


def region_of(label: str | None) -> str | None:
    """The body region of a label from any known label set, or None when it has none."""
    if not label:
        return None
    key = label.strip().lower()
    if key in ("upper", "lower", "full"):
        return key
    for table in _REGION_TABLES:
        if key in table:
            return table[key]
    return None


def to_clothing_label(label: str) -> str | None:
    """Map a label of any known set onto the clothing photos' labels (the pivot), or None."""
    key = label.strip().lower()
    for clothing in CLOTHING_REGIONS:
        if clothing.lower() == key:
            return clothing
    if key in STREET_GARMENTS:
        return STREET_GARMENTS[key][1]
    for name, (_, clothing) in STREETSTYLE_CATEGORIES.items():
        if name.lower() == key:
            return clothing
    for clothing, deepfashion in CLOTHING_TO_DEEPFASHION.items():
        if deepfashion.lower() == key:
            return clothing
    return None


def to_deepfashion_label(label: str) -> str | None:
    """Map a label of any known set onto a DeepFashion category name, or None."""
    key = label.strip().lower()
    if key in _DEEPFASHION_REGIONS:
        return next(name for name, _ in DEEPFASHION_CATEGORIES if name.lower() == key)
    if key in STREET_GARMENTS:
        return STREET_GARMENTS[key][2]
    clothing = to_clothing_label(label)
    return CLOTHING_TO_DEEPFASHION.get(clothing) if clothing else None


def map_labels(labels: list[str], target: list[str], mapping: dict[str, str] | None = None) -> list[str | None]:
    """Map each label into the `target` label set: exact name, a retailer mapping, then the pivot.

    Returns None for labels that have no counterpart in `target`.
    """
    by_lower = {name.lower(): name for name in target}
    mapping = {k.lower(): v for k, v in (mapping or {}).items()}
    result: list[str | None] = []
    for label in labels:
        key = label.strip().lower()
        candidates = [label, mapping.get(key), to_clothing_label(label), to_deepfashion_label(label)]
        found = next((by_lower[c.lower()] for c in candidates if c and c.lower() in by_lower), None)
        result.append(found)
    return result


def load_label_map(path: str | Path) -> dict[str, str]:
    """A retailer's own category names: CSV with columns `label,category` or a YAML mapping."""
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(path, "label map file not found")
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            data = yaml.safe_load(read_text(path))
        except yaml.YAMLError as error:
            line = getattr(getattr(error, "problem_mark", None), "line", None)
            raise DataFormatError(path, "not valid YAML", None if line is None else line + 1) from None
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise DataFormatError(path, "expected a mapping of label: category")
        return {str(k): v for k, v in data.items()}
    with open_csv(path) as reader:
        header = [name.strip() for name in next(reader, [])]
        if not {"label", "category"} <= set(header):
            raise DataFormatError(path, "header must have the columns label,category", 1)
        mapping = {}
        for fields in reader:
            if not any(field.strip() for field in fields):
                continue
            row = dict(zip(header, fields))
            label, category = row.get("label", "").strip(), row.get("category", "").strip()
            if not label or not category:
                raise DataFormatError(path, "empty label or category", reader.line_num)
            mapping[label] = category
    return mapping
