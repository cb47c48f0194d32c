"""The shared vocabulary: every reader returns `Sample`s, everything downstream consumes them."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Region = Literal["upper", "lower", "full"]
REGIONS: tuple[str, ...] = ("upper", "lower", "full")


@dataclass(frozen=True)
class Box:
    """An axis-aligned box in pixels: (x1, y1) top-left, (x2, y2) bottom-right."""

    x1: float
    y1: float
    x2: float
    y2: float

    @classmethod
    def from_xywh(cls, x: float, y: float, w: float, h: float) -> "Box":
        return cls(x, y, x + w, y + h)

    @property
    def width(self) -> float:
        return self.x2 - self.x1

    @property
    def height(self) -> float:
        return self.y2 - self.y1

    @property
    def area(self) -> float:
        return max(self.width, 0.0) * max(self.height, 0.0)

    def as_list(self) -> list[float]:
        return [self.x1, self.y1, self.x2, self.y2]

    def problem(self, image_width: int | None, image_height: int | None) -> str | None:
        """Why this box must not be used as it is, or None when it is fine."""
        # first: every comparison with NaN is false, so the checks below would all pass it
        if not all(math.isfinite(value) for value in self.as_list()):
            return "non-finite coordinate (NaN or infinity)"
        if self.x2 < self.x1 or self.y2 < self.y1:
            return "inverted box (x2 < x1 or y2 < y1)"
        if self.area <= 0:
            return "zero-area box"
        if image_width is not None and image_height is not None:
            if self.x1 < 0 or self.y1 < 0 or self.x2 > image_width or self.y2 > image_height:
                return f"box outside the {image_width}x{image_height} image"
        return None


@dataclass
class Garment:
    """One garment: a box (None for a whole-image label), its region, fine category and attributes."""

    box: Box | None = None
    region: str | None = None
    category: str | None = None
    attributes: dict[str, object] = field(default_factory=dict)


@dataclass
class Sample:
    """One image (or one person row, for StreetStyle) and the garments labelled in it."""

    image: Path
    width: int | None = None
    height: int | None = None
    split: str | None = None
    source: str = ""
    garments: list[Garment] = field(default_factory=list)
    attributes: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Detection:
    """A detector's answer: a box, its region and the detector's confidence."""

    box: Box
    region: str
    score: float
