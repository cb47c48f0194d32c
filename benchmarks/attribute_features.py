"""The street garments' hand labels and what the Analyzer reads from their annotated boxes, cached.

    .venv/bin/python benchmarks/attribute_features.py     # fill the cache for train and val (about 15 min on 2 busy cores)

For each labelled garment of ../shared/data/street/attributes_<split>.csv: its annotated box cropped,
grown by the classifier's context margin and through its eval transform exactly as the Analyzer does
(Analyzer.classify: the same call), giving the L2-normalised pooled backbone features (the embedding)
and those of the horizontally flipped crop (a free training augmentation and a test-time option); and
the garment's own pixels as colors.garment_pixels reads them, giving color_names.color_features and the
shipped colour namer's probabilities. Cached per split and classifier fingerprint in
runs/attribute-features/ (ignored by git); used by benchmarks/attributes.py.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "street"
CACHE = ROOT / "runs" / "attribute-features"
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
    namer_probabilities: np.ndarray  # N x 13, the shipped colour namer's, in its names' order


def labelled_rows(split: str) -> list[dict]:
    """The CSV rows joined to their photo and box; `unclear` becomes '' (missing) for every attribute."""
    coco = json.loads((DATA / "annotations.coco.json").read_text())
    images = {i["id"]: i["file_name"] for i in coco["images"]}
    boxes = {a["id"]: (images[a["image_id"]], a["bbox"]) for a in coco["annotations"]}
    rows = []
    with (DATA / f"attributes_{split}.csv").open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            file_name, (x, y, w, h) = boxes[int(row["annotation_id"])]
            labels = {name: "" if row[name] == "unclear" else row[name] for name in LABELS}
            rows.append({"id": int(row["annotation_id"]), "file": file_name, "box": (x, y, x + w, y + h),
                         "region": row["region"], **labels})
    return rows


def extract(split: str, analyzer) -> LabelledGarments:
    from fashionlens.analyzer_models import classifier_feeds
    from fashionlens.color_names import PixelColors, color_features, shipped_namer
    from fashionlens.colors import garment_pixels
    from fashionlens.records import Box

    rows = labelled_rows(split)
    namer = shipped_namer()
    margin = analyzer.classifier_checkpoint["preprocessing"].get("context_margin", 0.0)
    embeddings, flipped, colour, named = [], [], [], []
    for start in range(0, len(rows), 32):
        crops = []
        for row in rows[start:start + 32]:
            with Image.open(DATA / row["file"]) as photo:
                image = photo.convert("RGB")
            box = Box(*row["box"])
            crops.append((image, box))
            colors = PixelColors.of(garment_pixels(image, box))
            colour.append(color_features(colors))
            named.append(namer.probabilities(colors))
        with torch.inference_mode():
            pixels, geometry = classifier_feeds(analyzer.transform, crops, margin)
            for store, batch in ((embeddings, pixels), (flipped, torch.flip(pixels, dims=[3]))):
                _, features = analyzer.logits_and_features(batch, geometry)
                store.append(torch.nn.functional.normalize(features.float(), dim=1).numpy())
        print(f"{split}: {min(start + 32, len(rows))}/{len(rows)}", flush=True)
    return LabelledGarments(np.array([r["id"] for r in rows]), np.array([r["region"] for r in rows]),
                            {name: np.array([r[name] for r in rows]) for name in LABELS},
                            np.concatenate(embeddings), np.concatenate(flipped), np.stack(colour), np.stack(named))


def load(split: str, analyzer) -> LabelledGarments:
    """The split's garments from the cache, extracted first when the cache lacks them."""
    path = CACHE / f"{split}-{analyzer.model_id}.npz"
    if not path.is_file():
        garments = extract(split, analyzer)
        CACHE.mkdir(parents=True, exist_ok=True)
        np.savez(path, annotation_ids=garments.annotation_ids, regions=garments.regions,
                 embeddings=garments.embeddings, flipped_embeddings=garments.flipped_embeddings,
                 color_features=garments.color_features, namer_probabilities=garments.namer_probabilities,
                 **{f"label_{name}": values for name, values in garments.labels.items()})
    data = np.load(path)
    return LabelledGarments(data["annotation_ids"], data["regions"], {name: data[f"label_{name}"] for name in LABELS},
                            data["embeddings"], data["flipped_embeddings"], data["color_features"],
                            data["namer_probabilities"])


def default_analyzer(classifier: Path | None = None):
    from fashionlens.analyzer import Analyzer

    return Analyzer.from_choices(None, classifier, whole_image=True)


if __name__ == "__main__":
    analyzer = default_analyzer()
    for split in ("train", "val"):
        print(split, load(split, analyzer).embeddings.shape)
