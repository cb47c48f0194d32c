"""Annotated photos: filled tags, inside the photo, that never cover each other on nested boxes."""

from __future__ import annotations

from types import SimpleNamespace

from PIL import Image, ImageColor, ImageDraw

from fashionlens.core.records import Box
from fashionlens.inference.annotate import REGION_COLORS, annotated, overlaps, tags


def garment(region: str, box: Box, category: str) -> SimpleNamespace:
    return SimpleNamespace(
        region=region,
        box=box,
        category=category,
        category_score=0.87,
        color=SimpleNamespace(name="Black"),
        attribute_words=lambda: ["solid", "long sleeve"],
    )


# a dress with the top and the skirt inside it: three boxes sharing nearly the same corners
NESTED = [
    garment("full", Box(30, 20, 300, 470), "Dress"),
    garment("upper", Box(32, 22, 290, 230), "Shirt"),
    garment("lower", Box(34, 228, 296, 466), "Skirt"),
]


def test_tags_of_nested_boxes_stay_inside_and_never_overlap():
    size = (320, 480)
    placed = tags(ImageDraw.Draw(Image.new("RGB", size)), NESTED, size)
    for number, tag in enumerate(placed):
        x0, y0, x1, y1 = tag.rect
        assert 0 <= x0 < x1 <= size[0] and 0 <= y0 < y1 <= size[1]
        assert not any(overlaps(tag.rect, other.rect) for other in placed[:number])
    assert placed[0].text == "Dress 87% · Black · solid · long sleeve"


def test_each_tag_is_filled_with_its_box_colour_behind_white_text():
    picture = annotated(Image.new("RGB", (320, 480), "gray"), SimpleNamespace(garments=NESTED))
    placed = tags(ImageDraw.Draw(picture), sorted(NESTED, key=lambda g: g.box.area, reverse=True), picture.size)
    for tag in placed:
        x0, y0, x1, y1 = map(int, tag.rect)
        colors = {color for _, color in picture.crop((x0 + 1, y0 + 1, x1 - 1, y1 - 1)).getcolors(1 << 16)}
        assert ImageColor.getrgb(REGION_COLORS[tag.garment.region]) in colors  # the fill
        assert (255, 255, 255) in colors and (128, 128, 128) not in colors  # the text; no photo shows through
