"""Texture statistics of a garment's own pixels, which the pattern head may read beside its embedding.

The classifier's pooled features are tuned to tell categories apart and carry little of a print's
regularity; these hand-made statistics do (stripes, checks and dots are periodic, a solid is flat).
Per garment: its box's inner part (TRIM of the width and height dropped on each side: the box's edge is
mostly background or a neighbouring garment), in grey, resized to SIZE x SIZE (bilinear); then

    local binary patterns ('uniform', scikit-image), histograms (density, P + 2 bins) for each (P, R)
        of LBP_SCALES: the fine and coarse micro-texture                              10 + 18 + 26
    HOG (9 orientations, 16 x 16 pixel cells, 1 x 1 blocks): its mean and standard deviation over
        the cells: which edge directions dominate and how evenly                            9 + 9
    the Fourier magnitude of the grey image less its mean (centred): the share of it in the radial
        bands of BANDS (cycles per SIZE pixels), and the spectral peakiness, the share of the top 5
        and top 20 magnitudes among radii PEAK_RADII (a periodic print has a few sharp peaks)  5 + 2
    the grey level's standard deviation / 64                                                   1

LENGTH = 80 numbers, in that order; deterministic (no randomness, fixed sizes). A horizontally mirrored
garment (`mirrored=True`) has the same LBP histograms, bands, peakiness and spread and mirrored HOG
orientations. Adopted after a probe on the street garments (docs/benchmarks.md, "Garment attributes").
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from skimage.feature import hog, local_binary_pattern

from fashionlens.core.records import Box

TRIM = 0.15
SIZE = 96
LBP_SCALES = ((8, 1), (16, 2), (24, 4))  # (points P, radius R)
HOG_ORIENTATIONS, HOG_CELL = 9, 16
BANDS = ((1, 4), (4, 8), (8, 16), (16, 32), (32, 48))
PEAK_RADII = (3, 40)  # [3, 40)
PEAK_TOPS = (5, 20)
STD_SCALE = 64.0
EPS = 1e-9
LENGTH = sum(p + 2 for p, _ in LBP_SCALES) + 2 * HOG_ORIENTATIONS + len(BANDS) + len(PEAK_TOPS) + 1
PEAKINESS = slice(LENGTH - 1 - len(PEAK_TOPS), LENGTH - 1)  # where the spectral peakiness sits


def garment_gray(image: Image.Image, box: Box | None = None, mirrored: bool = False) -> np.ndarray:
    """The box's inner part in grey (SIZE x SIZE, float64, 0-255); the whole image without a box."""
    box = box or Box(0.0, 0.0, float(image.width), float(image.height))
    dx, dy = TRIM * box.width, TRIM * box.height
    x1, y1 = int(box.x1 + dx), int(box.y1 + dy)
    inner = image.crop((x1, y1, max(int(box.x2 - dx), x1 + 1), max(int(box.y2 - dy), y1 + 1)))
    gray = inner.convert("L").resize((SIZE, SIZE), Image.Resampling.BILINEAR)
    if mirrored:
        gray = gray.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return np.asarray(gray, dtype=np.float64)


def texture_features(image: Image.Image, box: Box | None = None, mirrored: bool = False) -> np.ndarray:
    """The garment's texture statistics (LENGTH numbers, float64; module docstring)."""
    return features_of_gray(garment_gray(image, box, mirrored))


def features_of_gray(gray: np.ndarray) -> np.ndarray:
    """The statistics of a SIZE x SIZE grey image (float, 0-255)."""
    as_bytes = np.clip(np.rint(gray), 0, 255).astype(np.uint8)  # scikit-image warns on float input to LBP
    parts = []
    for points, radius in LBP_SCALES:
        codes = local_binary_pattern(as_bytes, points, radius, method="uniform")
        parts.append(np.histogram(codes, bins=points + 2, range=(0, points + 2), density=True)[0])
    cells = hog(
        gray,
        orientations=HOG_ORIENTATIONS,
        pixels_per_cell=(HOG_CELL, HOG_CELL),
        cells_per_block=(1, 1),
        feature_vector=True,
    ).reshape(-1, HOG_ORIENTATIONS)
    parts += [cells.mean(axis=0), cells.std(axis=0)]
    magnitude = np.abs(np.fft.fftshift(np.fft.fft2(gray - gray.mean())))
    height, width = gray.shape
    yy, xx = np.mgrid[-(height // 2) : height - height // 2, -(width // 2) : width - width // 2]
    radius = np.hypot(yy, xx)
    total = magnitude.sum() + EPS
    parts.append(np.array([magnitude[(radius >= low) & (radius < high)].sum() / total for low, high in BANDS]))
    ring = np.sort(magnitude[(radius >= PEAK_RADII[0]) & (radius < PEAK_RADII[1])])[::-1]
    parts.append(np.array([ring[:top].sum() / (ring.sum() + EPS) for top in PEAK_TOPS]))
    parts.append(np.array([gray.std() / STD_SCALE]))
    return np.concatenate(parts).astype(np.float64)
