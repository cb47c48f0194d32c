"""A product photo's own extent: the product apart from its background, by OpenCV's GrabCut.

A catalogue photo shows one product, laid flat, on a hanger or worn, on whatever was behind it (a bed,
a floor, a wall). GrabCut (Rother et al., 2004) models the colours of a rectangle's outside as background
and of its inside as possibly foreground, and cuts the two apart along colour edges; the rectangle here
is the photo less a thin frame, since products are photographed whole and centred. When the cut leaves
almost nothing (a product that fills the frame lends its colours to the frame's model), the product is
the whole photo. It runs on a copy MAX_SIDE pixels long, with OpenCV's generator seeded: deterministic.
The product's box is the extent of the foreground regions that reach into the middle third of the
photo (what differs from the frame off-centre only, a doorway beside a white shirt on a white wall, is
not the product); its colour comes from those pixels only.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image
from scipy import ndimage

from fashionlens.core.records import Box

MAX_SIDE = 128  # the extent needs no detail; GrabCut's cost grows with the pixels
FRAME = 0.03  # share of each side assumed to be background
ITERATIONS = 2  # 4 cut the same boxes (mean IoU 0.986) 25% slower; docs/benchmarks.md, Recommendation quality
PART_SHARE = 0.25
MIN_SHARE = 0.04  # a foreground smaller than this share of the photo is no product
FLAT_STD = 4.0  # grey-level standard deviation below which a photo is blank or one colour


@dataclass(frozen=True)
class Foreground:
    """The product's box (in the photo's pixels), the small copy's RGB pixels and their mask (True = product)
    and, for a photo with no product in it (blank, one colour), why (then the box and mask are the whole
    photo)."""

    box: Box
    pixels: np.ndarray
    mask: np.ndarray
    problem: str | None = None

    @property
    def product_pixels(self) -> np.ndarray:
        """The product's RGB pixels (N x 3, uint8), at the small copy's scale."""
        return self.pixels[self.mask]


def product_foreground(image: Image.Image) -> Foreground:
    """The product in a photo of one product (module docstring)."""
    small = image.convert("RGB")
    small.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.BOX)
    pixels = np.asarray(small, dtype=np.uint8)
    if float(np.asarray(small.convert("L"), dtype=np.float32).std()) < FLAT_STD:
        return whole_photo(image, pixels, "the photo is blank or one colour: no product in it")
    mask = grabcut_mask(pixels)
    if mask.mean() < MIN_SHARE:  # the product fills the frame (the frame's colours are its own), or the cut missed it
        return whole_photo(image, pixels)
    return Foreground(scaled_box(mask, small.size, image.size), pixels, mask)


def grabcut_mask(pixels: np.ndarray) -> np.ndarray:
    """GrabCut's definite and probable foreground, holes filled, its centred regions (a pair of shoes or a
    two-piece set keeps both parts)."""
    height, width = pixels.shape[:2]
    dx, dy = max(1, round(width * FRAME)), max(1, round(height * FRAME))
    labels = np.zeros((height, width), np.uint8)
    background, foreground = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(0)
    cv2.grabCut(
        np.ascontiguousarray(pixels[:, :, ::-1]),
        labels,
        (dx, dy, width - 2 * dx, height - 2 * dy),
        background,
        foreground,
        ITERATIONS,
        cv2.GC_INIT_WITH_RECT,
    )
    mask = ndimage.binary_fill_holes((labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD))
    return centred_regions(mask)


def centred_regions(mask: np.ndarray) -> np.ndarray:
    """The foreground regions that reach into the middle third of the photo, without specks: regions
    smaller than PART_SHARE of the largest of them go. A region off-centre only is what differed from the
    frame behind a product the cut missed (a dark doorway beside a white shirt on a white wall); no region
    in the middle: an empty mask."""
    regions, count = ndimage.label(mask)
    height, width = mask.shape
    middle = regions[
        height // 3 : max(2 * height // 3, height // 3 + 1), width // 3 : max(2 * width // 3, width // 3 + 1)
    ]
    centred = np.unique(middle[middle > 0])
    if not len(centred):
        return np.zeros_like(mask)
    sizes = np.asarray(ndimage.sum(mask, regions, index=centred))
    return np.isin(regions, centred[sizes >= PART_SHARE * sizes.max()])


def scaled_box(mask: np.ndarray, small_size: tuple[int, int], size: tuple[int, int]) -> Box:
    """The mask's extent in the full photo's pixels."""
    rows, columns = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    sx, sy = size[0] / small_size[0], size[1] / small_size[1]
    return Box(
        float(columns[0] * sx),
        float(rows[0] * sy),
        float(min((columns[-1] + 1) * sx, size[0])),
        float(min((rows[-1] + 1) * sy, size[1])),
    )


def whole_photo(image: Image.Image, pixels: np.ndarray, problem: str | None = None) -> Foreground:
    return Foreground(
        Box(0.0, 0.0, float(image.width), float(image.height)), pixels, np.ones(pixels.shape[:2], dtype=bool), problem
    )
