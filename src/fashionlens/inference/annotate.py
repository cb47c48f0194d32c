"""Annotated photos: the Analyzer's boxes drawn on the image, each with a filled tag for its label.

The tags read like the web page's: white text on the box's colour, sized to the photo. Nested boxes (a
dress and the top inside it) start at nearly the same corner, so each tag takes the first free place
among a few around its box and never covers a tag already drawn.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image, ImageDraw, ImageFont

from fashionlens.core.files import atomic_write

if TYPE_CHECKING:  # drawing needs Pillow only, not the models
    from fashionlens.inference.analyzer import Analysis

REGION_COLORS = {"upper": "#e6194b", "lower": "#3cb44b", "full": "#4363d8", None: "#f58231"}
Rect = tuple[float, float, float, float]


def annotated(image: Image.Image, analysis: Analysis) -> Image.Image:
    """The photo with one box per garment, labelled "category, the classifier's probability · colour ·
    pattern · sleeve" (pattern and sleeve where the Analyzer has attribute heads)."""
    if not analysis.garments:
        return image
    picture = image.convert("RGB")
    draw = ImageDraw.Draw(picture)
    width = max(2, round(max(picture.size) / 250))
    garments = sorted(analysis.garments, key=lambda g: g.box.area, reverse=True)  # outer boxes first
    for garment in garments:
        draw.rectangle(garment.box.as_list(), outline=region_color(garment), width=width)
    for tag in tags(draw, garments, picture.size):
        draw.rectangle(tag.rect, fill=region_color(tag.garment))
        draw.text(tag.text_at, tag.text, fill="white", font=tag.font)
    return picture


@dataclass
class Tag:
    garment: Any
    text: str
    rect: Rect  # the filled background
    text_at: tuple[float, float]
    font: Any


def tags(draw: ImageDraw.ImageDraw, garments: list, image_size: tuple[int, int]) -> list[Tag]:
    """Each garment's label and where its tag goes (in order: a later tag avoids the earlier ones)."""
    font_size = max(11, round(min(image_size) / 32))  # legible on small and large photos
    font = ImageFont.load_default(size=font_size)
    pad = max(2, round(font_size / 5))
    placed: list[Tag] = []
    for garment in garments:
        text = " · ".join(
            [f"{garment.category} {garment.category_score:.0%}", garment.color.name, *garment.attribute_words()]
        )
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        size = (right - left + 2 * pad, bottom - top + 2 * pad)
        x, y = tag_place(garment.box.as_list(), size, image_size, [tag.rect for tag in placed])
        placed.append(Tag(garment, text, (x, y, x + size[0], y + size[1]), (x + pad - left, y + pad - top), font))
    return placed


def region_color(garment) -> str:
    return REGION_COLORS.get(garment.region, REGION_COLORS[None])


def tag_place(
    box: list[float], size: tuple[float, float], image_size: tuple[int, int], taken: list[Rect]
) -> tuple[float, float]:
    """Where a tag of `size` goes: above the box's top-left corner, inside it, at its bottom, below it,
    the first that fits in the photo and covers no earlier tag; else stacked below the tags it would cover."""
    x0, y0, x1, y1 = box
    width, height = size
    x = min(max(0.0, x0), max(0.0, image_size[0] - width))
    for y in (y0 - height, y0, y1 - height, y1):
        place = (x, y, x + width, y + height)
        if 0 <= y and y + height <= image_size[1] and not any(overlaps(place, other) for other in taken):
            return x, y
    y = max(0.0, y0)
    while any(overlaps((x, y, x + width, y + height), other) for other in taken):
        y = max(other[3] for other in taken if overlaps((x, y, x + width, y + height), other))
    return x, y


def overlaps(a: Rect, b: Rect) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def unique_names(paths: list[str]) -> list[str]:
    """An output file name per input photo, made unique when two photos share a name."""
    names: list[str] = []
    for path in paths:
        stem, name, count = Path(path).stem, f"{Path(path).stem}.png", 2
        while name in names:
            name, count = f"{stem}-{count}.png", count + 1
        names.append(name)
    return names


def write_annotated(images: list[Image.Image], analyses: list[Analysis], out_dir: Path) -> list[Path]:
    """PNG files in `out_dir`, one per photo, each written atomically."""
    paths = [out_dir / name for name in unique_names([a.image for a in analyses])]
    for image, analysis, path in zip(images, analyses, paths):
        picture = annotated(image, analysis)
        atomic_write(path, partial(picture.save, format="PNG"))
    return paths
