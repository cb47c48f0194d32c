"""StreetStyle-27K manifest (Matzen, Bala, Snavely 2017): one sample per person row.

The manifest is a CSV with 25 named columns; a photo may have several person rows, so each row is its own
sample whose garment box is the person box (it includes the head). Images live at `A/B/C/ABC....jpg` beside
the manifest, from the URL's file name. Empty strings are missing labels (None); there is no official split.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from fashionlens.core.errors import DataFormatError
from fashionlens.core.records import Box, Garment, Sample
from fashionlens.core.taxonomy import region_of
from fashionlens.core.textfile import open_csv

SOURCE = "streetstyle"
MANIFEST_NAME = "streetstyle27k.manifest"
COLUMNS = (
    "id",
    "url",
    "created_time",
    "city_id",
    "month_id",
    "lat",
    "long",
    "x1",
    "y1",
    "x2",
    "y2",
    "width",
    "height",
    "clothing_pattern",
    "major_color",
    "wearing_necktie",
    "collar_presence",
    "wearing_scarf",
    "sleeve_length",
    "neckline_shape",
    "clothing_category",
    "wearing_jacket",
    "wearing_hat",
    "wearing_glasses",
    "multiple_layers",
)
ATTRIBUTES = COLUMNS[13:]
PHOTO_FIELDS = ("id", "url", "created_time", "city_id", "month_id", "lat", "long")


def has_manifest_header(path: Path) -> bool:
    """True when the file's first line is the StreetStyle-27K header (whatever the file is called)."""
    try:
        with open_csv(path) as reader:
            first = next(reader, [])
    except (OSError, DataFormatError):  # not text: some other format, which its own reader will report
        return False
    return tuple(name.strip() for name in first) == COLUMNS


def image_path(root: Path, url: str) -> Path:
    name = Path(urlparse(url).path).name
    return root / name[0] / name[1] / name[2] / name if len(name) >= 3 else root / name


def read_streetstyle(path: str | Path) -> list[Sample]:
    """Read `streetstyle27k.manifest` (or the folder holding it)."""
    path = Path(path)
    if path.is_dir():
        path = path / MANIFEST_NAME
    if not path.is_file():
        raise DataFormatError(path, "file not found")
    with open_csv(path) as reader:
        header = tuple(name.strip() for name in next(reader, []))
        if header != COLUMNS:
            raise DataFormatError(path, f"the header must be the {len(COLUMNS)} StreetStyle-27K columns", 1)
        return [_sample(path, reader.line_num, row) for row in reader if any(field.strip() for field in row)]


def _sample(path: Path, line: int, row: list[str]) -> Sample:
    if len(row) != len(COLUMNS):
        raise DataFormatError(path, f"expected {len(COLUMNS)} columns, found {len(row)}", line)
    values = dict(zip(COLUMNS, (field.strip() for field in row)))
    try:
        box = Box(*(float(values[key]) for key in ("x1", "y1", "x2", "y2")))
        width, height = int(float(values["width"])), int(float(values["height"]))
    except ValueError:
        raise DataFormatError(path, "x1, y1, x2, y2, width and height must be numbers", line) from None
    category = values["clothing_category"] or None
    garment = Garment(
        box=box,
        region=region_of(category),
        category=category,
        attributes={key: values[key] or None for key in ATTRIBUTES},
    )
    return Sample(
        image=image_path(path.parent, values["url"]),
        width=width,
        height=height,
        source=SOURCE,
        garments=[garment],
        attributes={**{key: values[key] for key in PHOTO_FIELDS}, "box": "person"},
    )
