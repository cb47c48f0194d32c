"""Fit and score the colour-name model (src/fashionlens/inference/color_names.py) on the street garments' hand labels.

    .venv/bin/python benchmarks/color_names.py            # fit on train, score on val, print and save results
    .venv/bin/python benchmarks/color_names.py --write    # ... and ship the weights (weights/color_names.json)
    .venv/bin/python benchmarks/color_names.py --data-path /data --results /tmp/color_names.json

Pixels: each labelled garment's annotated box of <data-path>/street (attributes_train.csv and
attributes_val.csv, `unclear` rows left out) through colors.garment_pixels (border band and skin left
out), as the Analyzer sees a detected garment. The regularisation C is chosen by 5-fold cross-validation
on train (seeded); val only reports. Baseline in the same run: naming the largest k-means cluster after
the nearest reference shade (CIEDE2000): the core of the method shipped before (which also added up the
clusters' shares per name and called two distant large clusters multicolour).
Results: benchmarks/results/color_names.json (--results).
"""

from __future__ import annotations

import argparse
import csv
import json
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image
from skimage.color import deltaE_ciede2000, rgb2lab
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fashionlens.core.files import write_text
from fashionlens.core.records import Box
from fashionlens.inference.color_names import (
    SHADE_LAB,
    SHADE_NAMES,
    SHADES,
    WEIGHTS,
    ColorNamer,
    PixelColors,
    color_features,
)
from fashionlens.inference.colors import MULTICOLOR, garment_pixels
from recipe import RESULTS, add_data_path, shown, write_result

CS = (0.01, 0.03, 0.1, 0.3, 1.0)


def labelled_pixels(split: str, street: Path) -> tuple[list[np.ndarray], list[str]]:
    """The pixels of each garment with a colour label in the street folder's attributes_<split>.csv."""
    coco = json.loads((street / "annotations.coco.json").read_text())
    images = {i["id"]: i["file_name"] for i in coco["images"]}
    boxes = {a["id"]: (images[a["image_id"]], a["bbox"]) for a in coco["annotations"]}
    pixels, labels = [], []
    with (street / f"attributes_{split}.csv").open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["colour"] == "unclear":
                continue
            file_name, (x, y, w, h) = boxes[int(row["annotation_id"])]
            with Image.open(street / file_name) as image:
                pixels.append(garment_pixels(image.convert("RGB"), Box(x, y, x + w, y + h)))
            labels.append(row["colour"])
    return pixels, labels


def reference_examples(copies: int = 5, blocks: int = 60, noise: float = 6.0) -> tuple[list[np.ndarray], list[str]]:
    """Each reference shade as a plain garment (seeded pixel noise), labelled with its name, and `blocks`
    garments of two shades of different names far apart (CIEDE2000 >= 30; 40 to 60% each) labelled More
    than 1 color, the data's convention for colour blocks: the street photos hold few saturated reds or
    greens, and a plain patch or a two-colour stripe must still be named as anyone would."""
    rng = np.random.default_rng(0)
    shades = [(name, shade) for name, group in SHADES.items() for shade in group]
    pixels, labels = [], []
    for name, shade in shades:
        for _ in range(copies):
            pixels.append(noisy(rng, [shade], [400], noise))
            labels.append(name)
    while len(labels) < len(shades) * copies + blocks:
        (first_name, first), (second_name, second) = (shades[i] for i in rng.choice(len(shades), 2, replace=False))
        distance = float(deltaE_ciede2000(*rgb2lab(np.array([[first, second]], dtype=np.uint8))[0]))
        if first_name != second_name and distance >= 30:
            split = int(rng.integers(160, 241))
            pixels.append(noisy(rng, [first, second], [split, 400 - split], noise))
            labels.append(MULTICOLOR)
    return pixels, labels


def noisy(rng: np.random.Generator, shades: list, counts: list[int], noise: float) -> np.ndarray:
    return np.concatenate(
        [
            np.clip(rng.normal(shade, noise, size=(count, 3)), 0, 255).astype(np.uint8)
            for shade, count in zip(shades, counts)
        ]
    )


def nearest_shade(pixels: np.ndarray) -> str:
    centres = PixelColors.of(pixels).centres
    return SHADE_NAMES[int(deltaE_ciede2000(centres[:1, None, :], SHADE_LAB[None, :, :])[0].argmin())]


def scores(truth: list[str], named: list[str]) -> dict:
    errors = Counter((t, n) for t, n in zip(truth, named) if t != n)
    return {
        "accuracy": round(float(np.mean([t == n for t, n in zip(truth, named)])), 4),
        "most_common_errors": [f"{t} read as {n}: {c}" for (t, n), c in errors.most_common(8)],
        "confusion": {
            t: dict(Counter(n for tt, n in zip(truth, named) if tt == t).most_common()) for t in sorted(set(truth))
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help=f"write the fitted weights to {shown(WEIGHTS)}")
    parser.add_argument(
        "--results",
        type=Path,
        default=RESULTS / "color_names.json",
        help="results JSON (default benchmarks/results/color_names.json)",
    )
    add_data_path(parser)
    options = parser.parse_args()
    street = options.data_path / "street"
    train_pixels, train_labels = labelled_pixels("train", street)
    reference_pixels, reference_labels = reference_examples()
    val_pixels, val_labels = labelled_pixels("val", street)
    train = np.stack([color_features(PixelColors.of(p)) for p in train_pixels])

    def model(c: float):
        return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=5000))

    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    cross_validated = {c: float(cross_val_score(model(c), train, train_labels, cv=folds).mean()) for c in CS}
    best = max(CS, key=lambda c: (cross_validated[c], -c))
    references = np.stack([color_features(PixelColors.of(p)) for p in reference_pixels])
    fitted = model(best).fit(np.concatenate([train, references]), train_labels + reference_labels)
    scaler, regression = fitted[0], fitted[1]
    namer = ColorNamer(tuple(regression.classes_), scaler.mean_, scaler.scale_, regression.coef_, regression.intercept_)
    named = [namer.name(PixelColors.of(p))[0] for p in val_pixels]
    document = {
        "train_garments": len(train_labels),
        "reference_examples": len(reference_labels),
        "val_garments": len(val_labels),
        "cross_validated_accuracy_by_c": {str(c): round(v, 4) for c, v in cross_validated.items()},
        "c": best,
        "val": scores(val_labels, named),
        "baseline_nearest_shade_val": scores(val_labels, [nearest_shade(p) for p in val_pixels]),
    }
    write_result(options.results, document, options.data_path)
    print(
        f"C {best} (5-fold accuracy on train {cross_validated[best]:.3f}); val accuracy {document['val']['accuracy']:.3f} "
        f"against {document['baseline_nearest_shade_val']['accuracy']:.3f} for the nearest shade"
    )
    print("most common errors: " + "; ".join(document["val"]["most_common_errors"]))
    if options.write:
        write_text(WEIGHTS, json.dumps(namer.to_json()) + "\n")
        print(f"wrote {shown(WEIGHTS)}")


if __name__ == "__main__":
    main()
