"""The dominant colour of a garment, named with StreetStyle-27K's 13 colour names.

Method (docs/recommendation.md): take the box's pixels, drop a border band (mostly background around
the garment) and skin-like pixels (arms, neck, legs), cluster the rest with k-means (k = 3) in CIE Lab,
name each cluster centre after the nearest reference colour (CIEDE2000), and add up the clusters' shares
per name: the largest name wins. When the two largest clusters each hold at least MULTI_SHARE of the
pixels and differ by at least MULTI_DELTA_E (CIEDE2000; shading of one fabric differs by less), the
garment is "More than 1 color" (stripes, prints, colour blocks).
"""

from __future__ import annotations

from dataclasses import dataclass

import warnings

import numpy as np
from PIL import Image
from skimage.color import deltaE_ciede2000, rgb2lab
from scipy.cluster.vq import kmeans2

from .records import Box

MULTICOLOR = "More than 1 color"
COLOR_NAMES: tuple[str, ...] = ("Black", "White", MULTICOLOR, "Blue", "Gray", "Red", "Pink", "Green",
                                "Yellow", "Brown", "Purple", "Orange", "Cyan")

# Several sRGB prototypes per name, so shades a shop calls by that name land there (navy and denim are Blue).
PROTOTYPES: dict[str, tuple[tuple[int, int, int], ...]] = {
    "Black": ((10, 10, 10), (40, 40, 45)),
    "White": ((250, 250, 250), (232, 228, 218)),
    "Gray": ((128, 128, 128), (185, 185, 185), (85, 85, 90)),
    "Red": ((200, 30, 35), (135, 20, 35), (230, 60, 50)),
    "Pink": ((240, 150, 180), (220, 80, 140), (250, 200, 210)),
    "Orange": ((240, 130, 30), (220, 100, 60)),
    "Yellow": ((245, 220, 50), (205, 170, 40)),
    "Green": ((40, 150, 60), (100, 110, 50), (150, 200, 120)),
    "Cyan": ((40, 200, 210), (0, 128, 128)),
    "Blue": ((40, 70, 200), (30, 40, 90), (80, 110, 150), (140, 180, 230)),
    "Purple": ((120, 50, 150), (170, 130, 200)),
    "Brown": ((120, 75, 40), (190, 150, 110), (80, 50, 30)),
}
BORDER = 0.1  # share of the box's width and height dropped on each side
MAX_SIDE = 64  # the crop is shrunk to this long side first: colour needs no detail
CLUSTERS = 3
MULTI_SHARE = 0.3
MULTI_DELTA_E = 30.0
MIN_KEPT = 0.2  # skin removal that leaves less than this share means the garment itself is skin-coloured
# Skin in YCbCr (Chai and Ngan, 1999), a rule that holds across skin tones; Y above 60 skips dark shadows.
SKIN_CR, SKIN_CB, SKIN_MIN_Y = (133, 173), (77, 127), 60

_NAMES = [name for name, shades in PROTOTYPES.items() for _ in shades]
_LAB = rgb2lab(np.array([[shade for shades in PROTOTYPES.values() for shade in shades]], dtype=np.uint8))[0]


@dataclass(frozen=True)
class DominantColor:
    """A colour name, the share of the garment's pixels it covers, and the largest cluster's sRGB."""

    name: str
    share: float
    rgb: tuple[int, int, int]

    @property
    def hex(self) -> str:
        return "#{:02x}{:02x}{:02x}".format(*self.rgb)


def garment_pixels(image: Image.Image, box: Box | None = None) -> np.ndarray:
    """The box's RGB pixels (N x 3, uint8) without the border band and skin-like pixels."""
    crop = image if box is None else image.crop((int(box.x1), int(box.y1), max(int(box.x2), int(box.x1) + 1),
                                                 max(int(box.y2), int(box.y1) + 1)))
    crop = crop.convert("RGB")
    crop.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.BOX)
    width, height = crop.size
    dx, dy = int(width * BORDER), int(height * BORDER)
    inner = crop.crop((dx, dy, max(width - dx, dx + 1), max(height - dy, dy + 1)))
    rgb = np.asarray(inner, dtype=np.uint8).reshape(-1, 3)
    ycbcr = np.asarray(inner.convert("YCbCr"), dtype=np.uint8).reshape(-1, 3)
    skin = ((ycbcr[:, 2] >= SKIN_CR[0]) & (ycbcr[:, 2] <= SKIN_CR[1]) & (ycbcr[:, 1] >= SKIN_CB[0])
            & (ycbcr[:, 1] <= SKIN_CB[1]) & (ycbcr[:, 0] > SKIN_MIN_Y))
    kept = rgb[~skin]
    return kept if len(kept) >= MIN_KEPT * len(rgb) else rgb


def name_of(lab: np.ndarray) -> list[str]:
    """The nearest reference colour's name (CIEDE2000) of each Lab colour (N x 3)."""
    distances = deltaE_ciede2000(lab[:, None, :], _LAB[None, :, :])
    return [_NAMES[index] for index in distances.argmin(axis=1)]


def distinct_colors(pixels: np.ndarray) -> int:
    """How many different RGB values (N x 3, uint8): one integer per pixel, far faster than rows."""
    return len(np.unique(pixels.astype(np.int32) @ np.array([65536, 256, 1], dtype=np.int32)))


def clusters_of(lab: np.ndarray, distinct: int) -> tuple[np.ndarray, np.ndarray]:
    """k-means centres (largest cluster first) and their pixel counts; seeded, so deterministic.
    `distinct`: how many different colours the pixels have (Lab is one-to-one with RGB)."""
    if distinct < CLUSTERS:
        centres, labels = np.unique(lab, axis=0, return_inverse=True)
    else:
        with warnings.catch_warnings():  # an empty cluster is dropped below
            warnings.simplefilter("ignore")
            centres, labels = kmeans2(lab, CLUSTERS, minit="++", seed=0)
    counts = np.bincount(labels.reshape(-1), minlength=len(centres))
    order = [index for index in np.argsort(-counts, kind="stable") if counts[index] > 0]
    return centres[order], counts[order]


def dominant_color(image: Image.Image, box: Box | None = None) -> DominantColor:
    """The garment's dominant colour (method in the module docstring); deterministic."""
    pixels = garment_pixels(image, box)
    lab = rgb2lab(pixels[None, :, :])[0]
    centres, counts = clusters_of(lab, distinct_colors(pixels))
    shares = counts / counts.sum()
    totals: dict[str, float] = {}
    for name, share in zip(name_of(centres), shares):
        totals[name] = totals.get(name, 0.0) + float(share)
    nearest_pixel = pixels[np.argmin(((lab - centres[0]) ** 2).sum(axis=1))]
    rgb = (int(nearest_pixel[0]), int(nearest_pixel[1]), int(nearest_pixel[2]))
    if len(shares) > 1 and shares[1] >= MULTI_SHARE and len(totals) > 1:
        if float(deltaE_ciede2000(centres[0], centres[1])) >= MULTI_DELTA_E:
            return DominantColor(MULTICOLOR, round(float(shares[0] + shares[1]), 4), rgb)
    name, share = max(totals.items(), key=lambda pair: (pair[1], -COLOR_NAMES.index(pair[0])))
    return DominantColor(name, round(share, 4), rgb)
