"""The JSON of an analysed garment and photo (Pydantic): the one serialisation of an Analysis.

`fashionlens analyze --json`, the service's answers (service/schemas.py builds on these) and the catalogue
all write a garment through `Garment`, so its fields, their order and their meaning are stated once.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class CategoryScore(BaseModel):
    category: str
    score: float


class AttributePrediction(BaseModel):
    name: str
    probability: float
    probabilities: dict[str, float]


class GarmentAttributes(BaseModel):
    pattern: AttributePrediction | None = Field(
        description="solid, striped, checked, floral, dotted, graphic or other; null without attribute heads."
    )
    sleeve: AttributePrediction | None = Field(description="sleeveless, short or long; null for lower-body garments.")
    colour: AttributePrediction | None = Field(description="The colour model's answer (the same name as `color`).")


class Garment(BaseModel):
    box: list[float] = Field(description="x1, y1, x2, y2 in pixels of the uploaded photo after EXIF rotation.")
    region: str | None
    region_score: float | None = Field(
        description="The detector's score for this box (how sure it is that the "
        "box holds a garment of this region); null when nothing was "
        "detected and the whole photo is one garment."
    )
    category: str
    category_score: float = Field(
        description="The classifier's probability for `category` (within the region's "
        "categories), not a statement about the box."
    )
    top_categories: list[CategoryScore]
    color: str = Field(description="The garment's colour name (StreetStyle-27K's 13 names).")
    color_score: float = Field(description="The colour-naming model's probability for `color`.")
    color_share: float = Field(description="The share of the garment's pixels in its largest colour cluster.")
    color_rgb: str = Field(description="That cluster's colour, #rrggbb: the swatch.")
    attributes: GarmentAttributes = Field(
        description="Pattern, sleeve and colour, each with the probability of "
        "every answer; null where the attribute does not apply."
    )


class AnalyzedPhoto(BaseModel):
    """One photo of `fashionlens analyze --json`."""

    image: str
    width: int
    height: int
    whole_image: bool = Field(description="Nothing detected (or no detector): the photo is one garment.")
    garments: list[dict] = Field(description="Garment, each with its `embedding` when asked for.")
    problem: str | None = Field(None, description="A product photo with no product in it (blank, one colour).")
