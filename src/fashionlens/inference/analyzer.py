"""The Analyzer: photo -> garments (detect -> crop -> classify -> embed -> colour), from checkpoints alone.

Rules: the detector's own score threshold (ModelMeta.score_threshold) decides what is a garment, and
one box per garment stays (garment_boxes.py);
each garment's crop (with the classifier's context margin) goes to the classifier, an `img+bbox` model
also gets the box's geometry; categories are restricted to the detected region where the taxonomy knows
it; nothing detected (or no detector) means the photo shows one product (a catalogue photo): the
classifier sees the whole photo, the box and the colour are the product's own (foreground.py).
The embedding for similarity search is the classifier's pooled penultimate features, L2-normalised.
Once colours are known, a garment inside a better-scored full-body garment's box and of its colour is a
part of that garment, and goes (without_full_garments_parts). A garment worn under an outer layer (its
box inside a coat's, a blazer's...) reports no sleeve: they are hidden. Attributes (attributes.py):
pattern and sleeve length (upper and full garments) from linear heads on that embedding, on the
statistics of the classifier's early feature maps (the same call) and on what the colour step reads from
the garment's pixels (its colour features and, where a head reads them, texture.py's texture statistics
of its box; no model call); a detected garment's colour from the heads too when they have a colour head
(else, and for a product photo, the pixel colour model, colors.py); the heads ship for the shipped
classifier and are used only with the classifier they were fitted on: with another classifier a garment
has no pattern or sleeve, and the pixel colour.
Inference is deterministic: eval mode, no randomness, outputs rounded in the JSON.

Three backends run the same two models (analyzer_models.py loads them): "torch" (the checkpoints'
modules), "onnx" (onnx_runtime.py: the files `fashionlens export` writes, checked against PyTorch) and
"onnx-int8" (their int8 quantisation, onnx_int8.py, checked with looser stated tolerances); the rest of
the pipeline is one path.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import cache, cached_property
from itertools import repeat
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from PIL import Image
from torch import nn

from fashionlens.core.images import load_image_with_size
from fashionlens.core.model_meta import ModelMeta
from fashionlens.core.records import Box, Detection
from fashionlens.core.taxonomy import STREET_GARMENTS, map_labels, region_of
from fashionlens.data.detection import detection_transform
from fashionlens.data.transforms import classification_eval_transform, input_shape
from fashionlens.inference import schemas
from fashionlens.inference.analyzer_models import (
    check_kind,
    classifier_feeds,
    device_of,
    forward_with_features,
    keep_scores_from,
    model_fingerprint,
    model_loader,
    score_threshold,
)
from fashionlens.inference.attributes import AttributeHeads, Prediction, load_heads, shipped_heads
from fashionlens.inference.color_names import shipped_namer
from fashionlens.inference.colors import DominantColor, dominant_color, product_color
from fashionlens.inference.foreground import product_foreground
from fashionlens.inference.garment_boxes import PART_INSIDE, one_box_per_garment, share_inside
from fashionlens.models.classifier import ClassifierOutput
from fashionlens.models.detector import DEFAULT_SCORE_THRESHOLD, detections_of

TOP_K = 3
MAX_GARMENTS = 20  # a photo of a few people; more detections are noise of an untrained detector
DIGITS = 4  # scores and embeddings in the JSON: the same photo gives the same bytes
# fast_decode: a JPEG decodes at 1/2-1/8 scale while its shorter side stays at least this many times the
# larger model input, so that a garment a quarter of the photo wide still fills the classifier's input
DRAFT_MARGIN = 2
OUTER_LAYERS = ("Outwear", "Blazer", "Jacket", "Coat", "Cardigan", "Parka")  # worn over another garment
HIDDEN_INSIDE = 0.9  # of a garment's box inside an outer layer's: worn under it, its sleeves hidden
# a full-body garment whose box starts this far down a top's box (share of the top's height) shows only
# below the top (a dress under a sweater): on the street train photos 59 of 61 such garments have no sleeve
# label, against 66 of 370 other full-body garments
BELOW_TOP = 0.6


@dataclass
class AnalyzedGarment:
    """One garment found in a photo."""

    box: Box
    region: str | None
    region_score: float | None  # the detector's confidence; None when the whole photo is the garment
    category: str
    category_score: float
    top_categories: list[tuple[str, float]]
    color: DominantColor  # its name and score are the shipped colour model's: the one colour of the garment
    embedding: np.ndarray = field(repr=False)  # float32, L2-normalised
    pattern: Prediction | None = None  # None: no attribute heads for this classifier
    sleeve: Prediction | None = None  # None also for garments without sleeves (region lower)

    def to_json(self, with_embedding: bool = False) -> dict[str, Any]:
        data = schemas.Garment(
            box=[round(v, 1) for v in self.box.as_list()],
            region=self.region,
            region_score=None if self.region_score is None else round(self.region_score, DIGITS),
            category=self.category,
            category_score=round(self.category_score, DIGITS),
            top_categories=[schemas.CategoryScore(category=c, score=round(s, DIGITS)) for c, s in self.top_categories],
            color=self.color.name,
            color_score=self.color.score,
            color_share=self.color.share,
            color_rgb=self.color.hex,
            attributes=schemas.GarmentAttributes.model_validate(self.attributes_json()),
        ).model_dump()
        if with_embedding:
            data["embedding"] = [round(float(v), DIGITS + 2) for v in self.embedding]
        return data

    def attribute_words(self) -> list[str]:
        """Pattern and sleeve as a shop writes them ("striped", "short sleeve"); none without heads."""
        words = [self.pattern.name] if self.pattern else []
        if self.sleeve:
            words.append(self.sleeve.name if self.sleeve.name == "sleeveless" else f"{self.sleeve.name} sleeve")
        return words

    def attributes_json(self) -> dict[str, Any]:
        """{"pattern": ..., "sleeve": ..., "colour": ...}: each {"name", "probability", "probabilities"} or None."""
        return {
            "pattern": self.pattern and self.pattern.to_json(),
            "sleeve": self.sleeve and self.sleeve.to_json(),
            "colour": self.color.prediction.to_json(),
        }


@dataclass
class Analysis:
    """What the Analyzer found in one photo."""

    image: str
    width: int
    height: int
    detected: bool  # False: nothing detected or no detector, the photo shows one product
    garments: list[AnalyzedGarment]
    problem: str | None = None  # a photo of one product with no product in it (blank, one colour)

    def to_json(self, with_embedding: bool = False) -> dict[str, Any]:
        photo = schemas.AnalyzedPhoto(
            image=self.image,
            width=self.width,
            height=self.height,
            whole_image=not self.detected,
            garments=[g.to_json(with_embedding) for g in self.garments],
            problem=self.problem,
        )
        return photo.model_dump(exclude=set() if self.problem else {"problem"})


def region_mask(region: str | None, class_names: list[str]) -> np.ndarray:
    """Which classes a garment of `region` may be: those of the region, plus those the street photos'
    garments of that region map to (a coat is a full-body box but the clothing label Outwear).
    All classes when the taxonomy knows none of them for this region."""
    allowed = {name for name in class_names if region_of(name) == region}
    street = [label for label, (street_region, _, _) in STREET_GARMENTS.items() if street_region == region]
    allowed |= {name for name in map_labels(street, class_names) if name}
    mask = np.array([name in allowed for name in class_names])
    return mask if mask.any() else np.ones(len(class_names), dtype=bool)


class Analyzer:
    """Detector (optional) + classifier, loaded once; `analyze()` takes several photos at a time."""

    def __init__(
        self,
        classifier: nn.Module,
        classifier_checkpoint: dict[str, Any],
        detector: nn.Module | None = None,
        detector_checkpoint: dict[str, Any] | None = None,
        *,
        top_k: int = TOP_K,
        batch_size: int = 16,
        fast_decode: bool = False,
        conf: float | None = None,
    ):
        """`classifier`, `detector`: torch modules, or onnx_runtime's OnnxClassifier / OnnxDetector with
        their export's metadata as the "checkpoints". `fast_decode`: see load_images().
        `conf`: the detector's score threshold instead of the one its checkpoint chose on val.
        No attribute heads: from_runs sets `attribute_heads`, after checking they were fitted on this
        classifier's features."""
        self.attribute_heads: AttributeHeads | None = None
        self.classifier, self.classifier_checkpoint = classifier.eval(), classifier_checkpoint
        self.detector, self.detector_checkpoint = detector, detector_checkpoint
        self.classifier_meta = ModelMeta.from_checkpoint(classifier_checkpoint)
        self.detector_meta = None if detector_checkpoint is None else ModelMeta.from_checkpoint(detector_checkpoint)
        self.class_names = list(self.classifier_meta.class_names)
        self.top_k, self.batch_size = min(top_k, len(self.class_names)), batch_size
        self.transform = classification_eval_transform(self.classifier_meta.preprocessing)
        self.threshold = DEFAULT_SCORE_THRESHOLD
        self.fast_decode = fast_decode
        if detector is not None:
            assert detector_checkpoint is not None, "a detector comes with its checkpoint"
            self.threshold = score_threshold(detector_checkpoint) if conf is None else conf
            keep_scores_from(detector, self.threshold)
            detector.eval()

    @classmethod
    def from_runs(
        cls,
        detector_run: str | Path | None,
        classifier_run: str | Path,
        *,
        backend: str = "torch",
        attributes: str | Path | None = None,
        device: str | None = None,
        **options: Any,
    ) -> "Analyzer":
        """Load a classifier run (or checkpoint file) and optionally a detector run.

        `attributes`: an attribute heads file (attributes.py), refused unless fitted on this classifier;
        None: the shipped heads where they were fitted on it, else none.

        backend "onnx" runs their ONNX exports instead, "onnx-int8" their int8 exports (onnx_runtime.load_onnx:
        a run's export is read from the onnx/ folder beside its checkpoint, where
        export.exports.export_for_backend writes it; a .onnx file is read as is, and must be of the
        backend's precision).
        `device`: where the torch backend runs the models (cpu, cuda, cuda:N; default cpu).
        """
        load = model_loader(backend, device)
        classifier, classifier_checkpoint = load(classifier_run)
        check_kind(classifier_checkpoint, "classifier", f"--classifier {classifier_run}")
        detector, detector_checkpoint = None, None
        if detector_run is not None:
            detector, detector_checkpoint = load(detector_run)
            check_kind(detector_checkpoint, "detector", f"--detector {detector_run}")
        analyzer = cls(classifier, classifier_checkpoint, detector, detector_checkpoint, **options)
        analyzer.attribute_heads = (
            shipped_heads(analyzer.model_id) if attributes is None else load_heads(attributes, analyzer.model_id)
        )
        return analyzer

    @cached_property
    def model_id(self) -> str:
        """The embedding model's identity, recorded by the catalogue (an ONNX export carries its source's)."""
        return self.classifier_meta.fingerprint or model_fingerprint(self.classifier_checkpoint)

    @property
    def description(self) -> dict[str, Any]:
        return {
            "id": self.model_id,
            "classifier": self.classifier_meta.path,
            "detector": None if self.detector_meta is None else self.detector_meta.path,
            "attributes": None if self.attribute_heads is None else sorted(self.attribute_heads.heads),
            "attributes_version": None if self.attribute_heads is None else self.attribute_heads.version,
        }

    def analyze_paths(self, paths: list[str | Path]) -> list[Analysis]:
        images, sizes = self.load_images(paths)
        return self.analyze(images, [str(path) for path in paths], sizes)

    def load_images(self, paths: Sequence[str | Path]) -> tuple[list[Image.Image], list[tuple[int, int]]]:
        """The photos and their full sizes. With `fast_decode`, a JPEG much larger than the models need
        decodes at 1/2, 1/4 or 1/8 scale (several times faster; pixels differ slightly from a full decode
        followed by resizing, see docs/recommendation.md); analyze() reports boxes in the full size."""
        draft = None
        if self.fast_decode:
            sizes = list(input_shape(self.classifier_meta.preprocessing))
            if self.detector_meta is not None:
                sizes.append(self.detector_meta.image_size)
            draft = (DRAFT_MARGIN * max(sizes),) * 2
        loaded = [load_image_with_size(path, draft_size=draft) for path in paths]
        return [image for image, _ in loaded], [size for _, size in loaded]

    @torch.inference_mode()
    def analyze(
        self,
        images: list[Image.Image],
        names: list[str],
        full_sizes: list[tuple[int, int]] | None = None,
        *,
        whole_image: bool = False,
    ) -> list[Analysis]:
        """Analyse RGB photos (images.load_image); `names` label them in the results. `full_sizes`: the
        photos' original (width, height) when `images` were decoded smaller (load_images). `whole_image`:
        this call skips the detector, each photo is one garment (flat-lay product photos)."""
        detections = [[] for _ in images] if whole_image else self.detect(images)
        garments: list[tuple[int, Box, Detection | None]] = []
        for index, (image, found) in enumerate(zip(images, detections)):
            if found:
                garments += [(index, d.box, d) for d in found[:MAX_GARMENTS]]
            else:  # the classifier sees the whole photo, as it learned catalogue photos
                garments.append((index, Box(0.0, 0.0, float(image.width), float(image.height)), None))
        counts = Counter(index for index, _, _ in garments)
        per_photo = [counts[index] for index in range(len(images))]
        classified = self.classify([(images[i], box) for i, box, _ in garments], per_photo)
        full_sizes = full_sizes or [image.size for image in images]
        results = [Analysis(name, *size, bool(found), []) for name, size, found in zip(names, full_sizes, detections)]
        read = self.read_pixels([(images[index], box, detection) for index, box, detection in garments])
        for number, ((index, _, detection), (box, color, problem)) in enumerate(zip(garments, read)):
            results[index].problem = results[index].problem or problem
            garment = self.describe(box, detection, classified.row(number), color)
            results[index].garments.append(in_full_size(garment, images[index].size, full_sizes[index]))
        for result in results:
            result.garments = without_hidden_sleeves(without_full_garments_parts(result.garments))
        return results

    def read_pixels(self, garments: list[tuple[Image.Image, Box, Detection | None]]) -> list[PixelReading]:
        """Each garment's pixels read (read_garment_pixels), in order. Product photos (no detection) are
        read on torch's number of threads: their GrabCut, most of a catalogue import's time, runs in
        OpenCV without Python's lock. A street photo's garments take about 10 ms together, less than
        handing them to threads costs, and are read one after another."""
        texture = self.attribute_heads is not None and self.attribute_heads.reads("texture_features")
        products = sum(detection is None for _, _, detection in garments)
        if products < 2 or torch.get_num_threads() < 2:
            return [read_garment_pixels(image, box, detection, texture) for image, box, detection in garments]
        images, boxes, detections = zip(*garments)
        return list(pixel_readers(os.getpid()).map(read_garment_pixels, images, boxes, detections, repeat(texture)))

    def detect(self, images: list[Image.Image]) -> list[list[Detection]]:
        """The detections at or above the checkpoint's threshold, one per garment (garment_boxes.py), best
        first; none for every photo without a detector."""
        meta = self.detector_meta
        if self.detector is None:
            return [[] for _ in images]
        assert meta is not None, "a detector comes with its checkpoint"
        class_names = tuple(meta.class_names)
        transform = detection_transform(meta.image_size, train=False)
        # one photo per call: a batch pads photos to a common size, which changes what is detected
        # (a photo's result must not depend on the others), and costs a CPU as much as it saves
        batches = [([transform(image)], [{"orig_size": (image.height, image.width)}]) for image in images]
        found = detections_of(self.detector, batches, device_of(self.detector), class_names)
        return [one_box_per_garment([d for d in image if d.score >= self.threshold]) for image in found]

    def classify(self, crops: list[tuple[Image.Image, Box]], per_photo: list[int] | None = None) -> Classified:
        """Softmax probabilities, L2-normalised embeddings and stage statistics of the garments' crops.
        `per_photo`: how many of the crops (in order) each photo has; a photo's crops share one call."""
        margin = self.classifier_meta.context_margin
        probabilities, embeddings, stages = [], [], []
        for start, stop in batch_bounds(per_photo or [1] * len(crops), self.batch_size):
            output = self.logits_and_features(*classifier_feeds(self.transform, crops[start:stop], margin))
            probabilities.append(torch.softmax(output.logits.float(), dim=1).cpu().numpy())
            embeddings.append(torch.nn.functional.normalize(output.features.float(), dim=1).cpu().numpy())
            if output.stages is not None:
                stages.append(output.stages.float().cpu().numpy())
        width = len(self.class_names)
        return Classified(
            np.concatenate(probabilities) if probabilities else np.zeros((0, width), np.float32),
            np.concatenate(embeddings) if embeddings else np.zeros((0, 0), np.float32),
            np.concatenate(stages) if stages else None,
        )

    def logits_and_features(self, pixels: torch.Tensor, geometry: torch.Tensor) -> ClassifierOutput:
        if isinstance(self.classifier, nn.Module):
            device = device_of(self.classifier)
            return forward_with_features(self.classifier, pixels.to(device), geometry.to(device))
        return self.classifier(pixels, geometry)  # onnx_runtime.OnnxClassifier

    def describe(
        self, box: Box, detection: Detection | None, classified: ClassifiedGarment, color: DominantColor
    ) -> AnalyzedGarment:
        """One garment's result: region-restricted categories, its colour, embedding and attributes."""
        probs = classified.probabilities
        allowed = np.ones(len(probs), dtype=bool)
        if detection is not None:
            allowed = region_mask(detection.region, self.class_names)
            probs = np.where(allowed, probs, 0.0)
            probs = probs / max(float(probs.sum()), 1e-12)
        order = [i for i in np.argsort(-probs, kind="stable") if allowed[i]][: self.top_k]
        top = [(self.class_names[i], float(probs[i])) for i in order]
        category, score = top[0]
        region = detection.region if detection is not None else region_of(category)
        embedding = classified.embedding.astype(np.float32)
        inputs = {
            "embedding": embedding,
            "color_features": color.features,
            "color_histogram": color.histogram,
            # the pixel colour model's, as the colour step computed them, in that model's order of names
            "color_probabilities": (
                np.array([color.probabilities[name] for name in shipped_namer().names]) if color.probabilities else None
            ),
            "texture_features": color.texture,
            "stage_features": classified.stages,
        }
        pattern, sleeve, color = self.attributes_of(inputs, color, region, product=detection is None)
        return AnalyzedGarment(
            box,
            region,
            None if detection is None else detection.score,
            category,
            score,
            top,
            color,
            embedding,
            pattern,
            sleeve,
        )

    def attributes_of(
        self, inputs: dict[str, np.ndarray | None], color: DominantColor, region: str | None, *, product: bool
    ) -> tuple[Prediction | None, Prediction | None, DominantColor]:
        """Pattern, sleeve (upper and full garments) and the colour: the heads' colour where they have a
        colour head, so that the garment has one colour (its swatch stays its pixels' largest cluster).
        A product photo keeps its foreground's pixel colour: the classifier saw the whole photo, and
        feature maps averaged over it would mix in the background. `inputs`: what a head may read."""
        heads = self.attribute_heads
        if heads is None:
            return None, None, color
        learned = None if product else heads.predict("colour", inputs, region)
        if learned is not None:
            color = replace(
                color, name=learned.name, score=round(learned.probability, 4), probabilities=learned.probabilities
            )
        return heads.predict("pattern", inputs, region), heads.predict("sleeve", inputs, region), color


def without_full_garments_parts(
    garments: list[AnalyzedGarment],
    share: float = PART_INSIDE,
    same_colour: bool = True,
    regions: tuple[str, ...] = ("upper", "lower"),
) -> list[AnalyzedGarment]:
    """A garment (of `regions`) whose box lies at least `share` within a better-scored full-body garment's
    box and that has its colour is a part of that garment (a strip of a camel coat boxed as a brown top):
    it goes. The one-box rules (garment_boxes.py) cannot see it, as they know no colours; a garment worn
    under a coat has a colour of its own (the white shirt under the camel coat) and stays. The defaults
    were chosen on the street train photos among other shares, regions and no colour condition
    (benchmarks/part_rule.py, docs/benchmarks.md)."""
    full = [(g.region_score, g) for g in garments if g.region == "full" and g.region_score is not None]

    def part(g: AnalyzedGarment) -> bool:
        if g.region not in regions or g.region_score is None:
            return False
        return any(
            score > g.region_score
            and (f.color.name == g.color.name or not same_colour)
            and share_inside(g.box, f.box) >= share
            for score, f in full
        )

    return [g for g in garments if not part(g)]


def without_hidden_sleeves(garments: list[AnalyzedGarment]) -> list[AnalyzedGarment]:
    """A garment whose sleeves cannot show reports none: one worn under an outer layer (its box at least
    HIDDEN_INSIDE inside an outer layer's box), whose crop shows the coat's sleeves or none at all, which
    the sleeve head read as "sleeveless"; and a full-body garment that shows only below a top (its box
    starting BELOW_TOP down an upper garment's box above it). The hand labels leave such sleeves empty too."""
    outer = [g.box for g in garments if g.category in OUTER_LAYERS]
    tops = [g.box for g in garments if g.region == "upper"]

    def hidden(g: AnalyzedGarment) -> bool:
        under = any(b is not g.box and share_inside(g.box, b) >= HIDDEN_INSIDE for b in outer)
        return under or (g.region == "full" and any(starts_below(g.box, top) for top in tops))

    return [replace(g, sleeve=None) if g.sleeve is not None and hidden(g) else g for g in garments]


def starts_below(box: Box, top: Box) -> bool:
    """Whether `box` starts BELOW_TOP or further down `top`'s box, the two overlapping in width (by at
    least 30% of the narrower)."""
    overlap = min(box.x2, top.x2) - max(box.x1, top.x1)
    if overlap <= 0.3 * min(box.x2 - box.x1, top.x2 - top.x1) or top.y2 <= top.y1:
        return False
    return (box.y1 - top.y1) / (top.y2 - top.y1) >= BELOW_TOP


@dataclass(frozen=True)
class ClassifiedGarment:
    """One crop's row of Classified."""

    probabilities: np.ndarray
    embedding: np.ndarray
    stages: np.ndarray | None


@dataclass(frozen=True)
class Classified:
    """The classifier's reading of N crops: softmax probabilities (N x K), L2-normalised embeddings (N x D)
    and the early stages' statistics (N x S; None for an architecture without them)."""

    probabilities: np.ndarray
    embeddings: np.ndarray
    stages: np.ndarray | None

    def row(self, index: int) -> ClassifiedGarment:
        stages = None if self.stages is None else self.stages[index]
        return ClassifiedGarment(self.probabilities[index], self.embeddings[index], stages)


def batch_bounds(per_photo: list[int], batch_size: int) -> list[tuple[int, int]]:
    """(start, stop) of each classifier batch: whole photos up to `batch_size` crops, so one photo's
    crops go through one call (a photo with more crops than that is a batch of its own)."""
    bounds, start, stop = [], 0, 0
    for count in per_photo:
        if stop > start and stop - start + count > batch_size:
            bounds.append((start, stop))
            start = stop
        stop += count
    return bounds + ([(start, stop)] if stop > start else [])


class PixelReading(NamedTuple):
    """What a garment's pixels give: its box, its colour (and texture) and, for a photo with no product in
    it, why."""

    box: Box
    color: DominantColor
    problem: str | None


@cache
def pixel_readers(process: int) -> ThreadPoolExecutor:
    """The threads that read product photos' pixels, one pool per process id: a forked child (a server's
    worker) inherits its parent's pool but none of its threads."""
    return ThreadPoolExecutor(max_workers=torch.get_num_threads(), thread_name_prefix="fashionlens-pixels")


def read_garment_pixels(image: Image.Image, box: Box, detection: Detection | None, texture: bool) -> PixelReading:
    """A detected garment's colour (and texture, where a head reads it) from its box; with no detection the
    photo is one product: its box and colour are its foreground's, not the background's."""
    if detection is not None:
        return PixelReading(box, dominant_color(image, box, with_texture=texture), None)
    foreground = product_foreground(image)
    return PixelReading(foreground.box, product_color(foreground, image if texture else None), foreground.problem)


def in_full_size(garment: AnalyzedGarment, size: tuple[int, int], full_size: tuple[int, int]) -> AnalyzedGarment:
    """The garment with its box in the pixels of the full-size photo (the image was decoded smaller)."""
    if size == full_size:
        return garment
    sx, sy = full_size[0] / size[0], full_size[1] / size[1]
    box = garment.box
    scaled = Box(
        min(box.x1 * sx, full_size[0]),
        min(box.y1 * sy, full_size[1]),
        min(box.x2 * sx, full_size[0]),
        min(box.y2 * sy, full_size[1]),
    )
    return replace(garment, box=scaled)


def analyses_json(analyses: list[Analysis], models: dict[str, Any], with_embedding: bool = False) -> str:
    """The JSON `fashionlens analyze --json` prints: no timings, timestamps or random ids."""
    data = {"models": models, "images": [a.to_json(with_embedding) for a in analyses]}
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
