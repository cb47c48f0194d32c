"""Which pixels of a street garment should its colour be read from? The colour head (e) of
benchmarks/attributes.py refitted on the pixel features and Lab histogram of other pixel sets.

    .venv/bin/python benchmarks/colour_pixels.py                  # today's pixels and GrabCut at 64, 96, 128 px
    .venv/bin/python benchmarks/colour_pixels.py --sides 128      # one working size
    .venv/bin/python benchmarks/colour_pixels.py --head f --sides 96 128 160 \
        --results benchmarks/results/colour_pixels_f.json           # the shipped head's inputs

Today (colors.garment_pixels): the box less its 10% border band, less skin-like pixels. GrabCut
(`cut_garment_pixels` below): OpenCV's GrabCut, seeded, on a copy (at most SIDE px long) of the box grown
by 10% on each side, initialised with the box, so that the person's surroundings model the background; the
kept pixels inside the box, less skin; a cut keeping under 15% of the box falls back to today's pixels.
Each set's arrays (its pixel colour features, Lab histogram and the pixel colour model's probabilities)
replace the cached pixel arrays (benchmarks/attribute_features.py; the stage statistics stay), the head is
chosen and refitted exactly as benchmarks/attributes.py does (5-fold CV on train, the same seed and
choices) and scored on val. Also: today's pixel features with the largest cut's histogram.
Reported: CV on train, val accuracy and balanced accuracy, milliseconds per garment of the cut.
Results: benchmarks/results/colour_pixels.json (--results).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from scipy import ndimage
from threadpoolctl import threadpool_limits

import attribute_features
from attributes import CHOICES, COLOUR_HEADS, evaluate, fit_head
from fashionlens.core.records import Box
from fashionlens.inference.color_names import PixelColors, color_features, color_histogram, shipped_namer
from fashionlens.inference.colors import COLOR_NAMES, MAX_SIDE, garment_pixels, without_skin
from recipe import RESULTS, add_data_path, write_result

CONTEXT = 0.1  # GrabCut sees the box grown by this share of its size on each side
ITERATIONS = 4
MIN_SHARE = 0.15  # a cut keeping less of the box than this: today's pixels instead
# (e) and (f), the heads that read the pixels' Lab histogram, by their letter
HEADS = {key[0]: inputs for key, inputs in COLOUR_HEADS.items() if key[0] in "ef"}


def grown_crop(image: Image.Image, box: Box, side: int) -> tuple[np.ndarray, tuple[float, ...]]:
    """The box grown by CONTEXT (clipped to the photo) at most `side` px long, and where the box lies in it
    (x1, y1, x2, y2 as shares of the crop)."""
    x1, y1 = int(box.x1), int(box.y1)
    x2, y2 = max(int(box.x2), x1 + 1), max(int(box.y2), y1 + 1)
    gx, gy = round((x2 - x1) * CONTEXT), round((y2 - y1) * CONTEXT)
    cx1, cy1, cx2, cy2 = max(0, x1 - gx), max(0, y1 - gy), min(image.width, x2 + gx), min(image.height, y2 + gy)
    where = ((x1 - cx1) / (cx2 - cx1), (y1 - cy1) / (cy2 - cy1), (x2 - cx1) / (cx2 - cx1), (y2 - cy1) / (cy2 - cy1))
    small = image.crop((cx1, cy1, cx2, cy2))
    small.thumbnail((side, side), Image.Resampling.BOX)
    return np.asarray(small, dtype=np.uint8), where


def grabcut_foreground(pixels: np.ndarray, where: tuple[float, ...]) -> np.ndarray:
    """GrabCut's foreground (holes filled) initialised with the box one pixel in; all of it where the crop
    is too small to cut or GrabCut cannot model it."""
    height, width = pixels.shape[:2]
    rx1, ry1 = max(1, round(where[0] * width) + 1), max(1, round(where[1] * height) + 1)
    rx2, ry2 = min(width - 1, round(where[2] * width) - 1), min(height - 1, round(where[3] * height) - 1)
    if rx2 - rx1 < 2 or ry2 - ry1 < 2:
        return np.ones((height, width), dtype=bool)
    labels = np.zeros((height, width), np.uint8)
    models = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(0)
    try:
        rectangle = (rx1, ry1, rx2 - rx1, ry2 - ry1)
        cv2.grabCut(pixels[:, :, ::-1].copy(), labels, rectangle, *models, ITERATIONS, cv2.GC_INIT_WITH_RECT)
    except cv2.error:
        return np.ones((height, width), dtype=bool)
    return ndimage.binary_fill_holes((labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD))


def cut_garment_pixels(image: Image.Image, box: Box, side: int) -> np.ndarray:
    """The garment's RGB pixels (N x 3, uint8) on the MAX_SIDE copy of its box that GrabCut keeps, less skin."""
    pixels, where = grown_crop(image, box, side)
    cut = grabcut_foreground(pixels, where)
    height, width = cut.shape
    bx1, by1 = round(where[0] * width), round(where[1] * height)
    bx2, by2 = max(round(where[2] * width), bx1 + 1), max(round(where[3] * height), by1 + 1)
    crop = image.crop((int(box.x1), int(box.y1), max(int(box.x2), int(box.x1) + 1), max(int(box.y2), int(box.y1) + 1)))
    crop.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.BOX)
    inside = cv2.resize(cut[by1:by2, bx1:bx2].astype(np.float32), crop.size, interpolation=cv2.INTER_AREA) >= 0.5
    if inside.mean() < MIN_SHARE:
        return garment_pixels(image, box)
    return without_skin(np.asarray(crop, dtype=np.uint8)[inside])


def cut_pixel_arrays(rows: list[dict], side: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """The colour features, Lab histograms and pixel colour model's probabilities of each row's cut, and the
    cut's milliseconds per garment."""
    namer = shipped_namer()
    features, histograms, named, seconds = [], [], [], 0.0
    for row in rows:
        with Image.open(row["file"]) as photo:
            image = photo.convert("RGB")
        start = time.perf_counter()
        pixels = cut_garment_pixels(image, Box(*row["box"]), side)
        seconds += time.perf_counter() - start
        colors = PixelColors.of(pixels)
        features.append(color_features(colors))
        histograms.append(color_histogram(colors))
        named.append(namer.probabilities(colors))
    return np.stack(features), np.stack(histograms), np.stack(named), seconds / len(rows) * 1000


def scored(train, val, inputs: tuple[str, ...]) -> dict:
    head, about = fit_head(train, "colour", COLOR_NAMES, (inputs,), "accuracy", CHOICES)
    result, _ = evaluate(head, val, "colour")
    return {
        "cv_accuracy": about["cv_score"],
        "c": about["c"],
        "class_weight": about["class_weight"],
        "val_accuracy": result["accuracy"],
        "val_balanced_accuracy": result["balanced_accuracy"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sides", type=int, nargs="+", default=[64, 96, 128], help="GrabCut's working sizes (px)")
    parser.add_argument(
        "--head", choices=sorted(HEADS), default="e", help="the colour head of benchmarks/attributes.py"
    )
    parser.add_argument("--results", type=Path, default=RESULTS / "colour_pixels.json")
    add_data_path(parser)
    options = parser.parse_args()
    inputs = HEADS[options.head]
    analyzer, street = attribute_features.default_analyzer(), options.data_path / "street"
    garments = {split: attribute_features.load(split, analyzer, street) for split in ("train", "val")}
    rows = {split: attribute_features.labelled_rows(split, street) for split in ("train", "val")}
    cv2.setNumThreads(1)
    with threadpool_limits(1):
        results = {"today": scored(garments["train"], garments["val"], inputs)}
        for side in sorted(options.sides):
            arrays = {split: cut_pixel_arrays(rows[split], side) for split in rows}
            cut = {
                split: replace(
                    g,
                    color_features=arrays[split][0],
                    color_histograms=arrays[split][1],
                    namer_probabilities=arrays[split][2],
                )
                for split, g in garments.items()
            }
            results[f"grabcut_{side}px"] = {
                **scored(cut["train"], cut["val"], inputs),
                "ms_per_garment": arrays["val"][3],
            }
            print(f"grabcut {side} px: {results[f'grabcut_{side}px']}", flush=True)
        mixed = {split: replace(g, color_histograms=cut[split].color_histograms) for split, g in garments.items()}
        results[f"today_features_grabcut_{max(options.sides)}px_histogram"] = scored(
            mixed["train"], mixed["val"], inputs
        )
    write_result(options.results, {"head_inputs": list(inputs), "pixels": results}, options.data_path)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
