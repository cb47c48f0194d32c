"""The dominant colour of a garment, named with StreetStyle-27K's 13 colour names.

Method (docs/recommendation.md): take the garment's own pixels (a detected garment: its box less a
border band, mostly background around it; a product photo: its foreground, foreground.py) less the
skin-like ones (arms, neck, legs); color_names.py names them with a model learned from hand labels of
street garments ("More than 1 color" for prints, stripes and colour blocks). k-means (k = 3) in CIE Lab
finds the largest cluster: its colour is the swatch shown beside the name and its share of the pixels
is reported with it. The same pixels' texture statistics (texture.py) travel with the colour, for the
attribute heads that read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from PIL import Image

from fashionlens.core.records import Box
from fashionlens.inference.attributes import Prediction
from fashionlens.inference.color_names import PixelColors, color_features, color_histogram, shipped_namer
from fashionlens.inference.foreground import Foreground
from fashionlens.inference.texture import texture_features

MULTICOLOR = "More than 1 color"
COLOR_NAMES: tuple[str, ...] = (
    "Black",
    "White",
    MULTICOLOR,
    "Blue",
    "Gray",
    "Red",
    "Pink",
    "Green",
    "Yellow",
    "Brown",
    "Purple",
    "Orange",
    "Cyan",
)
BORDER = 0.1  # share of the box's width and height dropped on each side
MAX_SIDE = 64  # the crop is shrunk to this long side first: colour needs no detail
MIN_KEPT = 0.2  # skin removal that leaves less than this share means the garment itself is skin-coloured
# Skin in YCbCr (Chai and Ngan, 1999), a rule that holds across skin tones; Y above 60 skips dark shadows.
SKIN_CR, SKIN_CB, SKIN_MIN_Y = (133, 173), (77, 127), 60


@dataclass(frozen=True)
class DominantColor:
    """A colour name and the naming model's probability for it; the largest pixel cluster's share of the
    garment's pixels and its sRGB (the swatch)."""

    name: str
    score: float
    share: float
    rgb: tuple[int, int, int]
    # every colour name's probability (the name is the most probable), and the pixels' colour features
    # (color_names.color_features) and texture statistics (texture.texture_features), which the attribute
    # heads may read too (texture None: not computed, e.g. a product photo coloured without its photo)
    probabilities: dict[str, float] = field(default_factory=dict, compare=False)
    features: np.ndarray | None = field(default=None, repr=False, compare=False)
    texture: np.ndarray | None = field(default=None, repr=False, compare=False)
    histogram: np.ndarray | None = field(default=None, repr=False, compare=False)  # color_names.color_histogram

    @property
    def hex(self) -> str:
        return "#{:02x}{:02x}{:02x}".format(*self.rgb)

    @property
    def prediction(self) -> Prediction:
        """The colour as an attribute prediction (a colour made without probabilities: its name only)."""
        return Prediction(self.name, self.score, dict(self.probabilities) or {self.name: self.score})


def garment_pixels(image: Image.Image, box: Box | None = None) -> np.ndarray:
    """The box's RGB pixels (N x 3, uint8) without the border band and skin-like pixels."""
    crop = (
        image
        if box is None
        else image.crop(
            (int(box.x1), int(box.y1), max(int(box.x2), int(box.x1) + 1), max(int(box.y2), int(box.y1) + 1))
        )
    )
    crop = crop.convert("RGB")
    crop.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.BOX)
    width, height = crop.size
    dx, dy = int(width * BORDER), int(height * BORDER)
    inner = crop.crop((dx, dy, max(width - dx, dx + 1), max(height - dy, dy + 1)))
    return without_skin(np.asarray(inner, dtype=np.uint8).reshape(-1, 3))


def without_skin(rgb: np.ndarray) -> np.ndarray:
    """The pixels (N x 3, uint8) that are not skin-like; all of them when that would leave too few (the
    garment itself is skin-coloured)."""
    ycbcr = np.asarray(Image.fromarray(rgb[None, :, :]).convert("YCbCr"), dtype=np.uint8).reshape(-1, 3)
    skin = (
        (ycbcr[:, 2] >= SKIN_CR[0])
        & (ycbcr[:, 2] <= SKIN_CR[1])
        & (ycbcr[:, 1] >= SKIN_CB[0])
        & (ycbcr[:, 1] <= SKIN_CB[1])
        & (ycbcr[:, 0] > SKIN_MIN_Y)
    )
    kept = rgb[~skin]
    return kept if len(kept) >= MIN_KEPT * len(rgb) else rgb


def dominant_color(image: Image.Image, box: Box | None = None, with_texture: bool = True) -> DominantColor:
    """The garment's dominant colour (method in the module docstring) and, `with_texture`, its texture
    (left out where no attribute head reads it: it costs more than the colour); deterministic."""
    color = color_of_pixels(garment_pixels(image, box))
    return replace(color, texture=texture_features(image, box)) if with_texture else color


def product_color(foreground: Foreground, image: Image.Image | None = None) -> DominantColor:
    """A product photo's colour: its foreground's pixels less skin (a model shot's arms); with the photo
    (`image`), the texture of the foreground's box too."""
    color = color_of_pixels(without_skin(foreground.product_pixels))
    return color if image is None else replace(color, texture=texture_features(image, foreground.box))


def color_of_pixels(pixels: np.ndarray) -> DominantColor:
    """The colour of a garment's own pixels (N x 3, uint8)."""
    colors = PixelColors.of(pixels)
    features = color_features(colors)
    namer = shipped_namer()
    named = Prediction.of(namer.names, namer.probabilities_of(features))
    nearest_pixel = pixels[np.argmin(((colors.lab - colors.centres[0]) ** 2).sum(axis=1))]
    rgb = (int(nearest_pixel[0]), int(nearest_pixel[1]), int(nearest_pixel[2]))
    return DominantColor(
        named.name,
        round(named.probability, 4),
        round(float(colors.counts[0] / colors.counts.sum()), 4),
        rgb,
        named.probabilities,
        features,
        histogram=color_histogram(colors),
    )
