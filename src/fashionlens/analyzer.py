"""The Analyzer: photo -> garments (detect -> crop -> classify -> embed -> colour), from checkpoints alone.

Rules: the detector's own score threshold (checkpoint["score_threshold"]) decides what is a garment;
each garment's crop (with the classifier's context margin) goes to the classifier, an `img+bbox` model
also gets the box's geometry; categories are restricted to the detected region where the taxonomy knows
it; nothing detected (or no detector) means the whole photo is one garment (flat-lay product photos).
The embedding for similarity search is the classifier's pooled penultimate features, L2-normalised.
Inference is deterministic: eval mode, no randomness, outputs rounded in the JSON.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from .checkpoint import load_checkpoint
from .colors import DominantColor, dominant_color
from .data.classification import box_geometry, crop_with_margin
from .data.detection import detection_transform
from .data.transforms import classification_eval_transform
from .errors import FashionLensError
from .images import load_image
from .models.classifier import classifier_from_checkpoint
from .models.detector import DEFAULT_SCORE_THRESHOLD, detections_of, detector_from_checkpoint
from .records import Box, Detection
from .taxonomy import STREET_GARMENTS, map_labels, region_of

TOP_K = 3
MAX_GARMENTS = 20  # a photo of a few people; more detections are noise of an untrained detector
DIGITS = 4  # scores and embeddings in the JSON: the same photo gives the same bytes


@dataclass
class AnalyzedGarment:
    """One garment found in a photo."""

    box: Box
    region: str | None
    region_score: float | None  # the detector's confidence; None when the whole photo is the garment
    category: str
    category_score: float
    top_categories: list[tuple[str, float]]
    color: DominantColor
    embedding: np.ndarray = field(repr=False)  # float32, L2-normalised

    def to_json(self, with_embedding: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "box": [round(v, 1) for v in self.box.as_list()],
            "region": self.region,
            "region_score": None if self.region_score is None else round(self.region_score, DIGITS),
            "category": self.category,
            "category_score": round(self.category_score, DIGITS),
            "top_categories": [{"category": c, "score": round(s, DIGITS)} for c, s in self.top_categories],
            "color": self.color.name,
            "color_share": self.color.share,
            "color_rgb": self.color.hex,
        }
        if with_embedding:
            data["embedding"] = [round(float(v), DIGITS + 2) for v in self.embedding]
        return data


@dataclass
class Analysis:
    """What the Analyzer found in one photo."""

    image: str
    width: int
    height: int
    detected: bool  # False: nothing detected or no detector, the whole photo is one garment
    garments: list[AnalyzedGarment]

    def to_json(self, with_embedding: bool = False) -> dict[str, Any]:
        return {"image": self.image, "width": self.width, "height": self.height,
                "whole_image": not self.detected,
                "garments": [g.to_json(with_embedding) for g in self.garments]}


def region_mask(region: str | None, class_names: list[str]) -> np.ndarray:
    """Which classes a garment of `region` may be: those of the region, plus those the street photos'
    garments of that region map to (a coat is a full-body box but the clothing label Outwear).
    All classes when the taxonomy knows none of them for this region."""
    allowed = {name for name in class_names if region_of(name) == region}
    street = [label for label, (street_region, _, _) in STREET_GARMENTS.items() if street_region == region]
    allowed |= {name for name in map_labels(street, class_names) if name}
    mask = np.array([name in allowed for name in class_names])
    return mask if mask.any() else np.ones(len(class_names), dtype=bool)


def model_fingerprint(checkpoint: dict[str, Any]) -> str:
    """Identifies what makes the embeddings: architecture, mode, preprocessing and every weight."""
    digest = hashlib.sha256()
    head = {key: checkpoint.get(key) for key in ("arch", "mode", "class_names", "preprocessing")}
    digest.update(json.dumps(head, sort_keys=True).encode())
    for name, tensor in sorted(checkpoint["model"].items()):
        digest.update(name.encode())
        digest.update(tensor.detach().to(torch.float32).contiguous().numpy().tobytes())
    return f"{checkpoint['arch']}-{digest.hexdigest()[:16]}"


class Analyzer:
    """Detector (optional) + classifier, loaded once; `analyze()` takes several photos at a time."""

    def __init__(self, classifier: nn.Module, classifier_checkpoint: dict[str, Any],
                 detector: nn.Module | None = None, detector_checkpoint: dict[str, Any] | None = None,
                 *, top_k: int = TOP_K, batch_size: int = 16):
        self.classifier, self.classifier_checkpoint = classifier.eval(), classifier_checkpoint
        self.detector, self.detector_checkpoint = detector, detector_checkpoint
        self.class_names = list(classifier_checkpoint["class_names"])
        self.top_k, self.batch_size = min(top_k, len(self.class_names)), batch_size
        self.transform = classification_eval_transform(classifier_checkpoint["preprocessing"])
        self.threshold = DEFAULT_SCORE_THRESHOLD
        if detector is not None:
            self.threshold = float(detector_checkpoint.get("score_threshold", DEFAULT_SCORE_THRESHOLD))
            heads = getattr(detector, "roi_heads", None)
            if heads is not None:  # the model's own pre-filter must not hide what the stored threshold keeps
                heads.score_thresh = min(heads.score_thresh, self.threshold)
            detector.eval()

    @classmethod
    def from_runs(cls, detector_run: str | Path | None, classifier_run: str | Path, **options: Any) -> "Analyzer":
        """Load a classifier run (or checkpoint file) and optionally a detector run."""
        classifier_checkpoint = load_checkpoint(classifier_run)
        if classifier_checkpoint["kind"] != "classifier":
            raise FashionLensError(f"--classifier {classifier_run}: a {classifier_checkpoint['kind']} run, not a classifier")
        detector, detector_checkpoint = None, None
        if detector_run is not None:
            detector_checkpoint = load_checkpoint(detector_run)
            if detector_checkpoint["kind"] != "detector":
                raise FashionLensError(f"--detector {detector_run}: a {detector_checkpoint['kind']} run, not a detector")
            detector = detector_from_checkpoint(detector_checkpoint)
        return cls(classifier_from_checkpoint(classifier_checkpoint), classifier_checkpoint,
                   detector, detector_checkpoint, **options)

    @cached_property
    def model_id(self) -> str:
        """The embedding model's identity, recorded by the catalogue."""
        return model_fingerprint(self.classifier_checkpoint)

    @property
    def description(self) -> dict[str, Any]:
        return {"id": self.model_id, "classifier": self.classifier_checkpoint.get("path"),
                "detector": None if self.detector_checkpoint is None else self.detector_checkpoint.get("path")}

    def analyze_paths(self, paths: list[str | Path]) -> list[Analysis]:
        return self.analyze([load_image(path) for path in paths], [str(path) for path in paths])

    def analyze(self, images: list[Image.Image], names: list[str]) -> list[Analysis]:
        """Analyse RGB photos (images.load_image); `names` label them in the results."""
        detections = self.detect(images)
        garments: list[tuple[int, Box, Detection | None]] = []
        for index, (image, found) in enumerate(zip(images, detections)):
            if found:
                garments += [(index, d.box, d) for d in found[:MAX_GARMENTS]]
            else:
                garments.append((index, Box(0.0, 0.0, float(image.width), float(image.height)), None))
        probabilities, embeddings = self.classify([(images[i], box) for i, box, _ in garments])
        results = [Analysis(name, image.width, image.height, bool(found), [])
                   for name, image, found in zip(names, images, detections)]
        for (index, box, detection), probs, embedding in zip(garments, probabilities, embeddings):
            results[index].garments.append(self.describe(images[index], box, detection, probs, embedding))
        return results

    def detect(self, images: list[Image.Image]) -> list[list[Detection]]:
        """The detections at or above the checkpoint's threshold; none for every photo without a detector."""
        if self.detector is None:
            return [[] for _ in images]
        class_names = tuple(self.detector_checkpoint["class_names"])
        transform = detection_transform(self.detector_checkpoint["preprocessing"]["image_size"], train=False)
        batches = [([transform(image) for image in images[start:start + self.batch_size]],
                    [{"orig_size": (image.height, image.width)} for image in images[start:start + self.batch_size]])
                   for start in range(0, len(images), self.batch_size)]
        device = next(self.detector.parameters()).device
        found = detections_of(self.detector, batches, device, class_names)
        return [[d for d in image if d.score >= self.threshold] for image in found]

    def classify(self, crops: list[tuple[Image.Image, Box]]) -> tuple[np.ndarray, np.ndarray]:
        """Softmax probabilities (N x K) and L2-normalised embeddings (N x D) of the garments' crops."""
        margin = self.classifier_checkpoint["preprocessing"].get("context_margin", 0.0)
        device = next(self.classifier.parameters()).device
        probabilities, embeddings = [], []
        for start in range(0, len(crops), self.batch_size):
            chunk = crops[start:start + self.batch_size]
            pixels = torch.stack([self.transform(crop_with_margin(image, box, margin)) for image, box in chunk])
            geometry = torch.tensor([box_geometry(box, image.width, image.height) for image, box in chunk],
                                    dtype=torch.float32)
            logits, features = forward_with_features(self.classifier, pixels.to(device), geometry.to(device))
            probabilities.append(torch.softmax(logits.float(), dim=1).cpu().numpy())
            embeddings.append(torch.nn.functional.normalize(features.float(), dim=1).cpu().numpy())
        width = len(self.class_names)
        return (np.concatenate(probabilities) if probabilities else np.zeros((0, width), np.float32),
                np.concatenate(embeddings) if embeddings else np.zeros((0, 0), np.float32))

    def describe(self, image: Image.Image, box: Box, detection: Detection | None, probs: np.ndarray,
                 embedding: np.ndarray) -> AnalyzedGarment:
        """One garment's result: region-restricted categories, dominant colour, embedding."""
        allowed = np.ones(len(probs), dtype=bool)
        if detection is not None:
            allowed = region_mask(detection.region, self.class_names)
            probs = np.where(allowed, probs, 0.0)
            probs = probs / max(float(probs.sum()), 1e-12)
        order = [i for i in np.argsort(-probs, kind="stable") if allowed[i]][:self.top_k]
        top = [(self.class_names[i], float(probs[i])) for i in order]
        category, score = top[0]
        region = detection.region if detection is not None else region_of(category)
        return AnalyzedGarment(box, region, None if detection is None else detection.score, category, score, top,
                               dominant_color(image, box), embedding.astype(np.float32))


def forward_with_features(model: nn.Module, images: torch.Tensor, geometry: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(logits, pooled backbone features) in one pass: a forward hook reads the backbone's output, so
    the classifier's forward stays as trained."""
    captured: list[torch.Tensor] = []
    handle = model.backbone.register_forward_hook(lambda module, inputs, output: captured.append(output))
    try:
        with torch.inference_mode():
            logits = model(images, geometry)
    finally:
        handle.remove()
    return logits, captured[0].flatten(1)


def analyses_json(analyses: list[Analysis], models: dict[str, Any], with_embedding: bool = False) -> str:
    """The JSON `fashionlens analyze --json` prints: no timings, timestamps or random ids."""
    data = {"models": models, "images": [a.to_json(with_embedding) for a in analyses]}
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
