"""The street garments' hand labels and what the Analyzer reads from their annotated boxes, cached.

    .venv/bin/python benchmarks/attribute_features.py     # fill the cache for train and val (about 15 min on 2 busy cores)
    .venv/bin/python benchmarks/attribute_features.py --data-path /data   # the street photos under /data/street
    .venv/bin/python benchmarks/attribute_features.py --classifier runs/bench/NAME   # a candidate classifier

For each labelled garment of <data-path>/street/attributes_<split>.csv: its annotated box cropped,
grown by the classifier's context margin and through its eval transform exactly as the Analyzer does
(Analyzer.classify: the same call), giving the L2-normalised pooled backbone features (the embedding)
and those of the horizontally flipped crop (a free training augmentation and a test-time option); and
the garment's own pixels as colors.garment_pixels reads them, giving color_names.color_features and the
shipped colour namer's probabilities; and the texture statistics of the box's pixels (texture.py, as the
Analyzer computes them), of the crop and of its mirror. Cached per split and classifier fingerprint in
runs/attribute-features/ (ignored by git); used by benchmarks/attributes.py. The pixels' arrays do not
depend on the classifier: another classifier's cache of the same garments gives them. A cache written before the
stage statistics existed gets them added (one classifier pass), the rest kept.
"""

from __future__ import annotations

import argparse
import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from recipe import ROOT, add_data_path

CACHE = ROOT / "runs" / "attribute-features"
ARRAYS = (  # LabelledGarments' arrays after its labels, in order
    "embeddings",
    "flipped_embeddings",
    "color_features",
    "color_histograms",
    "namer_probabilities",
    "texture_features",
    "flipped_texture_features",
    "stage_features",
    "flipped_stage_features",
)
PIXEL_ARRAYS = (
    "color_features",
    "color_histograms",
    "namer_probabilities",
    "texture_features",
    "flipped_texture_features",
)
LABELS = ("colour", "pattern", "sleeve")


@dataclass
class LabelledGarments:
    """One row per labelled garment: its labels ('' where missing or unclear) and what the models read."""

    annotation_ids: np.ndarray
    regions: np.ndarray  # upper / lower / full
    labels: dict[str, np.ndarray]  # attribute -> label strings, '' = missing
    embeddings: np.ndarray  # N x D, L2-normalised (the Analyzer's embedding)
    flipped_embeddings: np.ndarray  # N x D, of the horizontally flipped crop
    color_features: np.ndarray  # N x F (color_names.color_features)
    color_histograms: np.ndarray  # N x color_names.HISTOGRAM_LENGTH (color_names.color_histogram)
    namer_probabilities: np.ndarray  # N x 13, the shipped colour namer's, in its names' order
    texture_features: np.ndarray  # N x texture.LENGTH (texture.texture_features of the annotated box)
    flipped_texture_features: np.ndarray  # N x texture.LENGTH, of the mirrored crop
    stage_features: np.ndarray  # N x S, the classifier's stage statistics (analyzer_models.stage_statistics)
    flipped_stage_features: np.ndarray  # N x S, of the mirrored crop


def labelled_rows(split: str, street: Path) -> list[dict]:
    """The CSV rows of the street folder joined to their photo (its path) and box; `unclear` becomes ''
    (missing) for every attribute."""
    coco = json.loads((street / "annotations.coco.json").read_text())
    images = {i["id"]: i["file_name"] for i in coco["images"]}
    boxes = {a["id"]: (images[a["image_id"]], a["bbox"]) for a in coco["annotations"]}
    rows = []
    with (street / f"attributes_{split}.csv").open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            file_name, (x, y, w, h) = boxes[int(row["annotation_id"])]
            labels = {name: "" if row[name] == "unclear" else row[name] for name in LABELS}
            rows.append(
                {
                    "id": int(row["annotation_id"]),
                    "file": street / file_name,
                    "box": (x, y, x + w, y + h),
                    "region": row["region"],
                    **labels,
                }
            )
    return rows


def extract(split: str, analyzer, street: Path) -> LabelledGarments:
    rows = labelled_rows(split, street)
    passes = classifier_passes(rows, analyzer, split)
    pixels = pixel_arrays(split, rows)
    return LabelledGarments(
        np.array([r["id"] for r in rows]),
        np.array([r["region"] for r in rows]),
        {name: np.array([r[name] for r in rows]) for name in LABELS},
        *(passes[name] if name in passes else pixels[name] for name in ARRAYS),
    )


def pixel_arrays(split: str, rows: list[dict]) -> dict[str, np.ndarray]:
    """What the garments' pixels give, independent of the classifier: from the cache of another classifier
    on the same garments when there is one (they take most of an extraction's time), else computed."""
    ids = [r["id"] for r in rows]
    for path in sorted(CACHE.glob(f"{split}-*.npz")):
        with np.load(path) as data:
            if all(name in data.files for name in PIXEL_ARRAYS) and data["annotation_ids"].tolist() == ids:
                print(f"{split}: the pixels' arrays from {path.name}", flush=True)
                return {name: data[name] for name in PIXEL_ARRAYS}
    colour, histograms, named = pixel_colours(rows)
    texture, flipped_texture = textures(rows)
    return dict(zip(PIXEL_ARRAYS, (colour, histograms, named, texture, flipped_texture)))


def classifier_passes(rows: list[dict], analyzer, split: str) -> dict[str, np.ndarray]:
    """What the classifier gives for each row's crop, as the Analyzer crops it, and for its mirror: the
    L2-normalised embeddings and the stage statistics (N x D and N x S each)."""
    from fashionlens.core.records import Box
    from fashionlens.inference.analyzer_models import classifier_feeds

    margin = analyzer.classifier_meta.context_margin
    found: dict[str, list[np.ndarray]] = {name: [] for name in ARRAYS if "embeddings" in name or "stage" in name}
    for start in range(0, len(rows), 32):
        crops = []
        for row in rows[start : start + 32]:
            with Image.open(row["file"]) as photo:
                crops.append((photo.convert("RGB"), Box(*row["box"])))
        with torch.inference_mode():
            pixels, geometry = classifier_feeds(analyzer.transform, crops, margin)
            for prefix, batch in (("", pixels), ("flipped_", torch.flip(pixels, dims=[3]))):
                output = analyzer.logits_and_features(batch, geometry)
                found[f"{prefix}embeddings"].append(
                    torch.nn.functional.normalize(output.features.float(), dim=1).numpy()
                )
                found[f"{prefix}stage_features"].append(output.stages.float().numpy())
        print(f"{split}: {min(start + 32, len(rows))}/{len(rows)}", flush=True)
    return {name: np.concatenate(parts) for name, parts in found.items()}


def pixel_colours(rows: list[dict]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each row's pixel colour features and Lab histogram (as colors.garment_pixels reads its box), and the
    shipped colour namer's probabilities."""
    from fashionlens.core.records import Box
    from fashionlens.inference.color_names import PixelColors, color_features, color_histogram, shipped_namer
    from fashionlens.inference.colors import garment_pixels

    namer = shipped_namer()
    colour, histograms, named = [], [], []
    for row in rows:
        with Image.open(row["file"]) as photo:
            colors = PixelColors.of(garment_pixels(photo.convert("RGB"), Box(*row["box"])))
        colour.append(color_features(colors))
        histograms.append(color_histogram(colors))
        named.append(namer.probabilities(colors))
    return np.stack(colour), np.stack(histograms), np.stack(named)


def textures(rows: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """The texture statistics of each row's annotated box, and of its mirror (N x texture.LENGTH each)."""
    from fashionlens.core.records import Box
    from fashionlens.inference.texture import texture_features

    plain, mirrored = [], []
    for row in rows:
        with Image.open(row["file"]) as photo:
            image = photo.convert("RGB")
        plain.append(texture_features(image, Box(*row["box"])))
        mirrored.append(texture_features(image, Box(*row["box"]), mirrored=True))
    return np.stack(plain), np.stack(mirrored)


def save(path: Path, garments: LabelledGarments) -> None:
    CACHE.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".partial.npz")
    np.savez(
        temporary,
        annotation_ids=garments.annotation_ids,
        regions=garments.regions,
        **{name: getattr(garments, name) for name in ARRAYS},
        **{f"label_{name}": values for name, values in garments.labels.items()},
    )
    temporary.replace(path)


def load(split: str, analyzer, street: Path) -> LabelledGarments:
    """The split's garments (of the `street` folder) from the cache, extracted first when the cache lacks
    them; a cache written before the stage statistics or the colour histograms existed gets them added."""
    path = CACHE / f"{split}-{analyzer.model_id}.npz"
    if not path.is_file():
        save(path, extract(split, analyzer, street))
    with np.load(path) as data:
        arrays = {key: data[key] for key in data.files}
    extend = "stage_features" not in arrays or "color_histograms" not in arrays
    if extend:
        rows = labelled_rows(split, street)
        if [r["id"] for r in rows] != arrays["annotation_ids"].tolist():
            raise SystemExit(f"{path}: its garments are not those of attributes_{split}.csv; delete it to re-extract")
    if "stage_features" not in arrays:
        print(f"{split}: adding the stage statistics to {path.name}", flush=True)
        passes = classifier_passes(rows, analyzer, split)
        arrays["stage_features"], arrays["flipped_stage_features"] = (
            passes["stage_features"],
            passes["flipped_stage_features"],
        )
    if "color_histograms" not in arrays:
        print(f"{split}: adding the colour histograms to {path.name}", flush=True)
        arrays["color_histograms"] = pixel_colours(rows)[1]
    garments = LabelledGarments(
        arrays["annotation_ids"],
        arrays["regions"],
        {name: arrays[f"label_{name}"] for name in LABELS},
        *(arrays[name] for name in ARRAYS),
    )
    if extend:
        save(path, garments)
    return garments


def default_analyzer(classifier: Path | None = None):
    from fashionlens.inference.analyzer import Analyzer
    from fashionlens.inference.default_models import resolve_runs

    return Analyzer.from_runs(*resolve_runs(None, classifier, whole_image=True))


def add_classifier(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--classifier",
        type=Path,
        help="a classifier run or checkpoint to measure instead of the shipped one (e.g. runs/bench/NAME)",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_path(parser)
    add_classifier(parser)
    options = parser.parse_args()
    analyzer = default_analyzer(options.classifier)
    for split in ("train", "val"):
        print(split, load(split, analyzer, options.data_path / "street").embeddings.shape)


if __name__ == "__main__":
    main()
