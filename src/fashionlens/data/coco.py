"""COCO detection JSON, as CVAT, Label Studio, Roboflow and ModaNet export it.

One sample per image. Each annotation is a garment: region from the category name (taxonomy.region_of),
category = the annotation's `garment` field when present, else the category name. Extra per-annotation and
per-image fields (`garment`, `split`, ...) are kept as attributes; an image's `split` becomes Sample.split.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import NoReturn, TypeGuard

from fashionlens.core.errors import DataFormatError
from fashionlens.core.records import Box, Garment, Sample
from fashionlens.core.taxonomy import region_of
from fashionlens.core.textfile import read_text

SOURCE = "coco"
IMAGE_KEYS = {"id", "file_name", "width", "height", "split"}
ANNOTATION_ID = "annotation_id"  # Garment.attributes key of the COCO annotation's id
ANNOTATION_KEYS = {"id", "image_id", "category_id", "bbox", "area", "iscrowd", "segmentation"}
_SPACE = re.compile(r"\s*")


def item_lines(text: str, key: str) -> list[int]:
    """The 1-based line on which each element of the top-level array `key` starts.

    json.loads forgets positions; errors must name the line, so the top level is walked once more with
    raw_decode, only when an error needs it.
    """
    decoder = json.JSONDecoder()
    position = _skip(text, text.index("{") + 1)
    while text.startswith('"', position):
        name, position = decoder.raw_decode(text, position)
        position = _skip(text, _skip(text, position) + 1)  # past the colon
        if name == key and text.startswith("[", position):
            return _array_lines(text, position)
        _, position = decoder.raw_decode(text, position)
        position = _past_comma(text, position)
    return []


def _array_lines(text: str, position: int) -> list[int]:
    decoder = json.JSONDecoder()
    lines, line, counted = [], 1 + text.count("\n", 0, position), position
    position = _skip(text, position + 1)
    while not text.startswith("]", position):
        line, counted = line + text.count("\n", counted, position), position
        lines.append(line)
        _, position = decoder.raw_decode(text, position)
        position = _past_comma(text, position)
    return lines


def _skip(text: str, position: int) -> int:
    space = _SPACE.match(text, position)
    assert space is not None  # `\s*` matches the empty string, so it matches anywhere
    return space.end()


def _past_comma(text: str, position: int) -> int:
    position = _skip(text, position)
    return _skip(text, position + 1) if text.startswith(",", position) else position


class _Errors:
    """Raises DataFormatError at the line of the element that is wrong."""

    def __init__(self, path: Path, text: str):
        self.path, self.text = path, text
        self.cache: dict[str, list[int]] = {}

    def fail(self, key: str, index: int | None, message: str) -> NoReturn:
        line = None
        if index is not None:
            lines = self.cache.setdefault(key, item_lines(self.text, key))
            line = lines[index] if index < len(lines) else None
        raise DataFormatError(self.path, message, line)


def read_coco(path: str | Path) -> list[Sample]:
    path = Path(path)
    text = read_text(path)  # exports from Windows tools may start with a BOM: read_text drops it
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise DataFormatError(path, f"not valid JSON ({error.msg})", error.lineno) from None
    except RecursionError:  # `[[[[...` thousands deep: the decoder recurses once per level
        raise DataFormatError(path, "not COCO detection JSON: nested too deeply") from None
    errors = _Errors(path, text)
    if not isinstance(data, dict) or not all(isinstance(data.get(k), list) for k in ("images", "annotations")):
        errors.fail("", None, "not COCO detection JSON: needs `images` and `annotations` lists")
    categories = _categories(data.get("categories", []), errors)
    samples = _images(data["images"], path.parent, errors)
    for index, annotation in enumerate(data["annotations"]):
        sample_index, garment = _annotation(annotation, index, categories, samples, errors)
        samples[sample_index].garments.append(garment)
    return list(samples.values())


def _categories(items: list, errors: _Errors) -> dict[object, str]:
    categories = {}
    for index, item in enumerate(items):
        if not isinstance(item, dict) or "id" not in item or not isinstance(item.get("name"), str):
            errors.fail("categories", index, "a category needs an `id` and a `name`")
        categories[item["id"]] = item["name"]
    return categories


def _image_file(root: Path, file_name: str) -> Path:
    """Exports disagree on where images live: beside the JSON, in images/, or in ../images (CVAT)."""
    name = Path(file_name)
    candidates = [root / name, root / "images" / name.name, root.parent / "images" / name.name]
    return next((c for c in candidates if c.is_file()), candidates[0])


def _images(items: list, root: Path, errors: _Errors) -> dict[object, Sample]:
    samples: dict[object, Sample] = {}
    for index, item in enumerate(items):
        if not isinstance(item, dict) or "id" not in item or not isinstance(item.get("file_name"), str):
            errors.fail("images", index, "an image needs an `id` and a `file_name`")
        if item["id"] in samples:
            errors.fail("images", index, f"duplicate image id {item['id']}")
        width, height = item.get("width"), item.get("height")
        if not all(v is None or (isinstance(v, int) and not isinstance(v, bool)) for v in (width, height)):
            errors.fail("images", index, "`width` and `height` must be whole numbers")
        samples[item["id"]] = Sample(
            image=_image_file(root, item["file_name"]),
            width=width,
            height=height,
            split=item.get("split") or None,
            source=SOURCE,
            attributes={k: v for k, v in item.items() if k not in IMAGE_KEYS},
        )
    return samples


def _is_xywh(value: object) -> TypeGuard[list[int | float]]:
    if not isinstance(value, list) or len(value) != 4:
        return False
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)


def _annotation(item: object, index: int, categories: dict, samples: dict, errors: _Errors) -> tuple:
    if not isinstance(item, dict):
        errors.fail("annotations", index, "an annotation must be an object")
    if item.get("image_id") not in samples:
        errors.fail("annotations", index, f"unknown image id {item.get('image_id')!r}")
    if item.get("category_id") not in categories:
        errors.fail("annotations", index, f"unknown category id {item.get('category_id')!r}")
    bbox = item.get("bbox")
    if not _is_xywh(bbox):
        errors.fail("annotations", index, f"bbox must be 4 numbers [x, y, w, h], found {bbox!r}")
    name = categories[item["category_id"]]
    garment = item.get("garment")
    return item["image_id"], Garment(
        box=Box.from_xywh(*(float(v) for v in bbox)),
        region=region_of(name),
        category=garment if isinstance(garment, str) and garment else name,
        attributes={k: v for k, v in item.items() if k not in ANNOTATION_KEYS} | annotation_id(item),
    )


def annotation_id(item: dict) -> dict[str, object]:
    """The annotation's own id, which labels kept beside the file (attribute hand labels) refer to."""
    return {ANNOTATION_ID: item["id"]} if "id" in item else {}
