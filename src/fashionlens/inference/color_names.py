"""The colour name of a garment, learned from hand labels of street garments.

Nearest-shade naming (a garment's largest k-means cluster named after the nearest reference shade)
reads navy and dark denim as Black and prints as Gray: under street light a colour name is not one point
in Lab. Here a multinomial logistic regression names the garment's own pixels from features that keep
what people go by: the share of pixels nearest (CIEDE2000) to each name's reference shades, how light the
pixels are (a histogram of L*), which hues carry how much colour (hue histograms in three chroma tiers:
navy is dark and weakly blue), the spread, and how far a second colour cluster stands apart (prints and
stripes). Only bounded shares and spreads: a model of means and percentiles named a plain red patch
Black, far from every garment it was fitted on. It was fitted on the 1,623 labelled garments of the
street train photos plus each reference shade as a plain patch and two-shade blocks
(`benchmarks/color_names.py`); its weights are a small JSON file shipped with the package
(weights/color_names.json), so naming is a dot product: deterministic, no pickle.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.cluster.vq import kmeans2
from skimage.color import deltaE_ciede2000, rgb2lab

from fashionlens.inference.default_models import WEIGHTS_DIR

WEIGHTS = WEIGHTS_DIR / "color_names.json"
# Reference shades, several per name, so that shades a shop calls by that name land there (navy and denim
# are Blue, camel Brown): the prior that carries the model to colours rare among the street garments.
SHADES: dict[str, tuple[tuple[int, int, int], ...]] = {
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
SHADE_NAMES = [name for name, shades in SHADES.items() for _ in shades]
SHADE_LAB = rgb2lab(np.array([[s for shades in SHADES.values() for s in shades]], dtype=np.uint8))[0]
SHADE_NAME_INDEX = np.array([list(SHADES).index(name) for name in SHADE_NAMES])  # each shade's name, as SHADES' index
HUE_BINS = 12
CLUSTERS = 3
CELL_BITS = 5  # nearest_shades looks a pixel up in RGB cells of 8 levels per channel
CHROMA_TIERS = ((3.0, 8.0), (8.0, 20.0), (20.0, 200.0))
HISTOGRAM_LIGHTNESS = (0.0, 30.0, 50.0, 70.0, 101.0)  # color_histogram's tiers of L*
HISTOGRAM_AB = np.array([-np.inf, -8.0, -3.0, 3.0, 8.0, np.inf])  # its 5 bins of a* and of b*
HISTOGRAM_LENGTH = 4 * 5 * 5


@dataclass(frozen=True)
class PixelColors:
    """A garment's pixels in CIE Lab, each one's nearest reference shade (its index in SHADE_LAB) and their
    k-means clusters (largest first): computed once, read by the features and by the swatch."""

    lab: np.ndarray
    shades: np.ndarray
    centres: np.ndarray
    counts: np.ndarray

    @classmethod
    def of(cls, pixels: np.ndarray) -> "PixelColors":
        """From RGB pixels (N x 3, uint8)."""
        pixels = np.asarray(pixels, dtype=np.uint8)  # no copy when they are already bytes
        lab = rgb2lab(pixels[None, :, :])[0]
        return cls(lab, nearest_shades(pixels, lab), *clusters_of(lab, distinct_colors(pixels)))


def color_histogram(colors: PixelColors) -> np.ndarray:
    """The share of the garment's pixels in each cell of a coarse Lab grid: 4 lightness tiers x 5 a* x 5 b*
    bins (100 values), narrow near grey (|a*|, |b*| < 3, 3-8, beyond), where navy, black and grey part.
    Read by the learned colour head beside color_features (benchmarks/attributes.py)."""
    lightness, a, b = colors.lab.T
    tier = np.clip(np.searchsorted(HISTOGRAM_LIGHTNESS, lightness, side="right") - 1, 0, len(HISTOGRAM_LIGHTNESS) - 2)
    a_bin = np.searchsorted(HISTOGRAM_AB, a, side="right") - 1
    b_bin = np.searchsorted(HISTOGRAM_AB, b, side="right") - 1
    cells = (tier * 5 + a_bin) * 5 + b_bin
    return np.bincount(cells, minlength=HISTOGRAM_LENGTH).astype(np.float64) / max(len(cells), 1)


def color_features(colors: PixelColors) -> np.ndarray:
    """The features of a garment's pixels; see the module docstring."""
    lab = colors.lab
    lightness, a, b = lab.T
    chroma, hue = np.hypot(a, b), np.arctan2(b, a)
    count = len(lab)
    features = list(np.bincount(SHADE_NAME_INDEX[colors.shades], minlength=len(SHADES)) / count)
    features += list(np.histogram(lightness, bins=10, range=(0, 100))[0] / count)
    for low, high in CHROMA_TIERS:
        tier = (chroma >= low) & (chroma < high)
        features += list(np.histogram(hue[tier], bins=HUE_BINS, range=(-np.pi, np.pi))[0] / count)
    features += [lightness.std() / 50, chroma.mean() / 50, chroma.std() / 50, a.std() / 50, b.std() / 50]
    return np.asarray(features + two_tone(colors.centres, colors.counts), dtype=np.float64)


def nearest_shades(pixels: np.ndarray, lab: np.ndarray) -> np.ndarray:
    """Each pixel's nearest reference shade (CIEDE2000), as its index in SHADE_LAB; `pixels`: RGB (N x 3,
    uint8), `lab`: the same pixels in Lab. A pixel in an RGB cell of shade_cells() whose corners share
    their nearest shade takes it; the others (about three in ten) are measured to their cell's candidates
    only. In about a twentieth of the time of measuring every pixel to every shade (400,000 random
    colours: 0.4 s against 8 s), with the same answer for all but 4 of the 2.7 million pixels of the
    labelled street garments."""
    cells = pixels.astype(np.int32) >> (8 - CELL_BITS)
    index = (cells[:, 0] << (2 * CELL_BITS)) | (cells[:, 1] << CELL_BITS) | cells[:, 2]
    agreed, candidates = shade_cells()
    shades = agreed[index]
    unsure = shades < 0
    if unsure.any():
        near = candidates[index[unsure]]
        distances = deltaE_ciede2000(lab[unsure][:, None, :].astype(np.float32), SHADE_LAB[near].astype(np.float32))
        shades[unsure] = near[np.arange(len(near)), distances.argmin(axis=1)]
    return shades


@lru_cache(maxsize=1)
def shade_cells() -> tuple[np.ndarray, np.ndarray]:
    """For each cell of RGB cut in 2**CELL_BITS steps per channel: the nearest reference shade of all
    eight of its corners when they agree, else -1 (a border between shades runs through it); and the
    cell's candidates, the distinct shades that are nearest or second nearest to one of its corners
    (cells x 7, the row padded with its first). A colour's nearest shade is among its cell's candidates
    for each of 400,000 random colours. Computed on first use (33**3 corners, under a second)."""
    steps = 1 << CELL_BITS
    levels = np.minimum(np.arange(steps + 1) * (256 // steps), 255).astype(np.uint8)
    corners = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), axis=-1).reshape(-1, 3)
    corner_lab = rgb2lab(corners[None, :, :])[0].astype(np.float32)
    distances = deltaE_ciede2000(corner_lab[:, None, :], SHADE_LAB[None, :, :].astype(np.float32))
    two_nearest = np.argsort(distances, axis=1, kind="stable")[:, :2].reshape(steps + 1, steps + 1, steps + 1, 2)
    at = [two_nearest[r : r + steps, g : g + steps, b : b + steps] for r in (0, 1) for g in (0, 1) for b in (0, 1)]
    nearest = np.stack([corner[..., 0] for corner in at], axis=-1).reshape(-1, 8)
    agree = np.all(nearest == nearest[:, :1], axis=1)
    return np.where(agree, nearest[:, 0], -1), distinct_rows(np.concatenate(at, axis=-1).reshape(-1, 16))


def distinct_rows(values: np.ndarray) -> np.ndarray:
    """Each row's distinct values, sorted, in as many columns as the most any row has; a shorter row is
    padded with its first value."""
    ordered = np.sort(values, axis=1)
    repeated = np.zeros_like(ordered, dtype=bool)
    repeated[:, 1:] = ordered[:, 1:] == ordered[:, :-1]
    counts = (~repeated).sum(axis=1)
    distinct = np.take_along_axis(ordered, np.argsort(repeated, axis=1, kind="stable"), axis=1)[:, : counts.max()]
    return np.where(np.arange(counts.max())[None, :] >= counts[:, None], distinct[:, :1], distinct)


def measured_nearest_shades(lab: np.ndarray) -> np.ndarray:
    """Each Lab colour's nearest reference shade by CIEDE2000, measured to every shade (in float32: three
    times faster on large batches than float64, the same nearest shade)."""
    distances = deltaE_ciede2000(lab[:, None, :].astype(np.float32), SHADE_LAB[None, :, :].astype(np.float32))
    return distances.argmin(axis=1)


def two_tone(centres: np.ndarray, counts: np.ndarray) -> list[float]:
    """How much a second colour stands apart: the second largest k-means cluster's share, the CIEDE2000
    distance of the two largest centres (over 100, at most 1) and their product (stripes, blocks)."""
    if len(centres) < 2:
        return [0.0, 0.0, 0.0]
    second = float(counts[1] / counts.sum())
    distance = min(float(deltaE_ciede2000(centres[0], centres[1])), 100.0) / 100
    return [second, distance, second * distance]


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


@dataclass(frozen=True)
class ColorNamer:
    """Standardisation and the logistic regression's weights, as fitted (benchmarks/color_names.py)."""

    names: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray  # names x features
    intercept: np.ndarray

    def probabilities(self, colors: PixelColors) -> np.ndarray:
        return self.probabilities_of(color_features(colors))

    def probabilities_of(self, features: np.ndarray) -> np.ndarray:
        """The names' probabilities from a garment's color_features (computed once, read by others too)."""
        logits = self.coef @ ((features - self.mean) / self.scale) + self.intercept
        exp = np.exp(logits - logits.max())
        return exp / exp.sum()

    def name(self, colors: PixelColors) -> tuple[str, float]:
        """The most probable colour name of a garment's pixels and its probability."""
        probabilities = self.probabilities(colors)
        best = int(np.argmax(probabilities))
        return self.names[best], float(probabilities[best])

    def to_json(self) -> dict:
        return {
            "names": list(self.names),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "coef": self.coef.tolist(),
            "intercept": self.intercept.tolist(),
        }

    @classmethod
    def from_json(cls, data: dict) -> "ColorNamer":
        return cls(
            tuple(data["names"]),
            *(np.asarray(data[key], dtype=np.float64) for key in ("mean", "scale", "coef", "intercept")),
        )


@lru_cache(maxsize=1)
def shipped_namer() -> ColorNamer:
    return ColorNamer.from_json(json.loads(WEIGHTS.read_text(encoding="utf-8")))
