"""Hand labels of garment attributes for multi-task training (`train classifier --attribute-labels`).

The CSV is StreetStyle-style: `annotation_id,...,colour,pattern,sleeve`, one row per boxed garment of a
COCO file, matched to the garments of --extra-data by the COCO annotation's id. A blank or `unclear`
cell is a missing label: the garment still trains its category and the other attributes, and that
attribute's loss leaves it out (masked, never guessed).
"""

from __future__ import annotations

from pathlib import Path

from fashionlens.core.errors import DataFormatError
from fashionlens.core.textfile import open_csv
from fashionlens.data.classification import MISSING_ATTRIBUTE
from fashionlens.inference.attributes import PATTERNS, SLEEVES
from fashionlens.inference.colors import COLOR_NAMES

# the order of the attribute targets after the category: GarmentClassifier's attribute heads
ATTRIBUTES: dict[str, tuple[str, ...]] = {"pattern": PATTERNS, "sleeve": SLEEVES, "colour": COLOR_NAMES}
UNCLEAR = "unclear"


def read_attribute_labels(path: str | Path) -> dict[int, tuple[int, ...]]:
    """{annotation id: (pattern, sleeve, colour) as indices into ATTRIBUTES' names, -1 where missing}."""
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(path, "file not found")
    labels: dict[int, tuple[int, ...]] = {}
    with open_csv(path) as reader:
        header = [name.strip() for name in next(reader, [])]
        missing = [name for name in ("annotation_id", *ATTRIBUTES) if name not in header]
        if missing:
            raise DataFormatError(path, f"the header needs the columns annotation_id,{','.join(ATTRIBUTES)}", 1)
        for row in reader:
            if not any(field.strip() for field in row):
                continue
            if len(row) != len(header):
                raise DataFormatError(path, f"expected {len(header)} columns, found {len(row)}", reader.line_num)
            values = dict(zip(header, (field.strip() for field in row)))
            labels[annotation_id(path, reader.line_num, values["annotation_id"], labels)] = tuple(
                attribute_index(path, reader.line_num, name, values[name]) for name in ATTRIBUTES
            )
    if not labels:
        raise DataFormatError(path, "no labelled garment")
    return labels


def annotation_id(path: Path, line: int, text: str, seen: dict[int, tuple[int, ...]]) -> int:
    try:
        number = int(text)
    except ValueError:
        raise DataFormatError(path, f"annotation_id must be a whole number, found {text!r}", line) from None
    if number in seen:
        raise DataFormatError(path, f"annotation {number} is labelled twice", line)
    return number


def attribute_index(path: Path, line: int, attribute: str, value: str) -> int:
    if value in ("", UNCLEAR):
        return MISSING_ATTRIBUTE
    names = ATTRIBUTES[attribute]
    if value not in names:
        raise DataFormatError(path, f"unknown {attribute} {value!r}; one of {', '.join(names)}, blank or unclear", line)
    return names.index(value)
