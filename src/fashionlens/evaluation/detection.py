"""Detector metrics: COCO mAP through pycocotools' COCOeval, FROC from its matches, image-level ROC.

The COCO objects are built in memory from Samples (ground truth) and Detections (results); nothing
here re-implements box matching or AP. pycocotools prints progress on stdout: every call is wrapped
so that `--json` output stays clean.
"""

from __future__ import annotations

import contextlib
import io
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
from sklearn.metrics import roc_auc_score, roc_curve

from fashionlens.core.records import Detection, Sample
from fashionlens.core.taxonomy import region_of

FROC_FPPI = (0.25, 0.5, 1.0, 2.0, 4.0)  # false positives per image where recall is reported


@dataclass
class GroundTruth:
    """A COCO ground-truth dict and what was left out of it, with the reason as the key."""

    coco: dict
    left_out: Counter = field(default_factory=Counter)


def boxed_samples(samples: list[Sample]) -> tuple[list[Sample], int]:
    """Samples annotated for detection: those with a boxed garment or no garment at all (negatives).

    Images labelled only as a whole (no box on any garment) say nothing about where garments are:
    they are left out, and counted.
    """
    kept = [s for s in samples if not s.garments or any(g.box is not None for g in s.garments)]
    return kept, len(samples) - len(kept)


def _garment_region(garment) -> str | None:
    return garment.region or region_of(garment.category)


def build_ground_truth(samples: list[Sample], regions: list[str]) -> GroundTruth:
    """COCO ground truth: image id = position + 1, category id = region position + 1.

    Boxes with a problem (Box.problem) and garments of no evaluated region are left out, counted.
    """
    truth = GroundTruth(
        {"images": [], "annotations": [], "categories": [{"id": i + 1, "name": name} for i, name in enumerate(regions)]}
    )
    category_of = {name: i + 1 for i, name in enumerate(regions)}
    for image_id, sample in enumerate(samples, start=1):
        truth.coco["images"].append({"id": image_id, "width": sample.width or 0, "height": sample.height or 0})
        for garment in sample.garments:
            region = _garment_region(garment)
            problem = garment.box.problem(sample.width, sample.height) if garment.box else "no box"
            if problem or region not in category_of:
                truth.left_out[problem or f"region not evaluated: {region}"] += 1
                continue
            box = garment.box
            assert box is not None  # a garment without a box has a problem and was left out above
            truth.coco["annotations"].append(
                {
                    "id": len(truth.coco["annotations"]) + 1,
                    "image_id": image_id,
                    "category_id": category_of[region],
                    "bbox": [box.x1, box.y1, box.width, box.height],
                    "area": box.area,
                    "iscrowd": 0,
                }
            )
    return truth


def coco_results(detections: list[list[Detection]], regions: list[str]) -> list[dict]:
    """COCO result entries; detections of a region the checkpoint does not know are an error."""
    category_of = {name: i + 1 for i, name in enumerate(regions)}
    results = []
    for image_id, image_detections in enumerate(detections, start=1):
        for detection in image_detections:
            if detection.region not in category_of:
                raise ValueError(f"detection region {detection.region!r} is not one of {regions}")
            box = detection.box
            results.append(
                {
                    "image_id": image_id,
                    "category_id": category_of[detection.region],
                    "bbox": [box.x1, box.y1, box.width, box.height],
                    "score": float(detection.score),
                }
            )
    return results


def run_cocoeval(ground_truth: dict, results: list[dict]) -> COCOeval | None:
    """evaluate + accumulate + summarize with pycocotools, silenced; None when there are no results
    (COCO.loadRes raises on an empty list)."""
    if not results:
        return None
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = ground_truth
        gt.createIndex()
        dt = gt.loadRes([dict(result) for result in results])  # loadRes adds keys in place
        evaluator = COCOeval(gt, dt, iouType="bbox")
        evaluator.params.catIds = [category["id"] for category in ground_truth["categories"]]
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return evaluator


def _mean_defined(values: np.ndarray) -> float | None:
    """pycocotools' own averaging: entries of -1 mean "no ground truth" and are left out."""
    defined = values[values > -1]
    return float(np.mean(defined)) if defined.size else None


def coco_metrics(truth: GroundTruth, evaluator: COCOeval | None, regions: list[str]) -> dict:
    """map, map50, per-class AP and AP50 (area "all", 100 detections per image, as COCO reports).

    A region without ground truth has AP None (with a note); a model that detects nothing scores 0.
    """
    notes: list[str] = []
    has_truth = Counter(a["category_id"] for a in truth.coco["annotations"])
    for k, name in enumerate(regions):
        if not has_truth[k + 1]:
            notes.append(f"AP[{name}]: undefined, no ground-truth box of that region")
    if evaluator is None:
        zero = {name: (0.0 if has_truth[k + 1] else None) for k, name in enumerate(regions)}
        any_truth = 0.0 if has_truth else None
        notes.append("no detections: every AP is 0")
        return {
            "map": any_truth,
            "map50": any_truth,
            "per_class_ap": dict(zero),
            "per_class_ap50": dict(zero),
            "notes": notes,
        }
    precision = evaluator.eval["precision"]  # [IoU, recall, class, area, maxDets]
    area_all, max_dets = 0, len(evaluator.params.maxDets) - 1
    stats = [None if value < 0 else float(value) for value in evaluator.stats[:2]]
    return {
        "map": stats[0],
        "map50": stats[1],
        "per_class_ap": {name: _mean_defined(precision[:, :, k, area_all, max_dets]) for k, name in enumerate(regions)},
        "per_class_ap50": {
            name: _mean_defined(precision[0, :, k, area_all, max_dets]) for k, name in enumerate(regions)
        },
        "notes": notes,
    }


def pr_curves(evaluator: COCOeval | None, regions: list[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(recall thresholds, precision) at IoU 0.5 per region with ground truth, from COCOeval."""
    if evaluator is None:
        return {}
    precision = evaluator.eval["precision"][0, :, :, 0, -1]
    return {
        name: (evaluator.params.recThrs, precision[:, k])
        for k, name in enumerate(regions)
        if np.all(precision[:, k] > -1)
    }


def froc_curves(evaluator: COCOeval | None, regions: list[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(false positives per image, recall) at IoU 0.5 per region and "all", from COCOeval's matches."""
    if evaluator is None:
        return {}
    params = evaluator.params
    per_region: dict[str, list[dict]] = {name: [] for name in regions}
    for entry in evaluator.evalImgs:
        if entry is not None and entry["aRng"] == params.areaRng[0]:
            per_region[regions[entry["category_id"] - 1]].append(entry)
    groups = dict(per_region, all=[e for entries in per_region.values() for e in entries])
    curves = {}
    for name, entries in groups.items():
        curve = _froc(entries, len(params.imgIds))
        if curve is not None:
            curves[name] = curve
    return curves


def _froc(entries: list[dict], num_images: int) -> tuple[np.ndarray, np.ndarray] | None:
    gt_ignore = np.concatenate([e["gtIgnore"] for e in entries]) if entries else np.zeros(0)
    positives = int(np.count_nonzero(gt_ignore == 0))
    if positives == 0:
        return None
    scores = np.concatenate([np.asarray(e["dtScores"], dtype=float) for e in entries])
    order = np.argsort(-scores, kind="mergesort")  # the order COCOeval.accumulate uses
    matched = np.concatenate([e["dtMatches"][0] for e in entries])[order] > 0
    ignored = np.concatenate([e["dtIgnore"][0] for e in entries])[order].astype(bool)
    true_positives = np.cumsum(matched & ~ignored)
    false_positives = np.cumsum(~matched & ~ignored)
    return (np.concatenate([[0.0], false_positives / num_images]), np.concatenate([[0.0], true_positives / positives]))


def recall_at_fppi(curve: tuple[np.ndarray, np.ndarray]) -> dict[str, float]:
    """Recall reached with at most each of FROC_FPPI false positives per image."""
    fppi, recall = curve
    return {str(limit): float(recall[fppi <= limit].max()) for limit in FROC_FPPI}


def image_level_scores(
    samples: list[Sample], detections: list[list[Detection]], region: str
) -> tuple[np.ndarray, np.ndarray]:
    """Per image: does it hold a garment of `region` (any labelled one), and the best detection score
    of that region (0 when the detector found none)."""
    truth = np.array([any(_garment_region(g) == region for g in s.garments) for s in samples])
    best = np.array([max((d.score for d in found if d.region == region), default=0.0) for found in detections])
    return truth, best


def image_level_roc(
    samples: list[Sample], detections: list[list[Detection]], regions: list[str]
) -> tuple[dict[str, float | None], dict[str, tuple[np.ndarray, np.ndarray, float]], list[str]]:
    """The study's ROC view made well defined: per region, image-level AUC and curve (sklearn)."""
    aucs: dict[str, float | None] = {}
    curves: dict[str, tuple[np.ndarray, np.ndarray, float]] = {}
    notes: list[str] = []
    for region in regions:
        truth, best = image_level_scores(samples, detections, region)
        if truth.all() or not truth.any():
            aucs[region] = None
            notes.append(f"image_auc[{region}]: undefined, {'every' if truth.all() else 'no'} image holds that region")
            continue
        fpr, tpr, _ = roc_curve(truth, best)
        auc = float(roc_auc_score(truth, best))
        aucs[region] = auc
        curves[region] = (fpr, tpr, auc)
    return aucs, curves, notes


def evaluate_detector(
    samples: list[Sample], detections: list[list[Detection]], regions: list[str]
) -> tuple[dict, dict]:
    """All detector metrics of one dataset (JSON-ready) and the curves for the plots."""
    if len(samples) != len(detections):
        raise ValueError(f"{len(samples)} images but detections for {len(detections)}")
    truth = build_ground_truth(samples, regions)
    results = coco_results(detections, regions)
    evaluator = run_cocoeval(truth.coco, results)
    metrics = coco_metrics(truth, evaluator, regions)
    froc = froc_curves(evaluator, regions)
    image_auc, image_roc, notes = image_level_roc(samples, detections, regions)
    metrics.update(
        {
            "image_auc": image_auc,
            "froc_recall": {name: recall_at_fppi(curve) for name, curve in froc.items()},
            "images": len(samples),
            "ground_truth_boxes": len(truth.coco["annotations"]),
            "detections": len(results),
            "left_out_boxes": dict(truth.left_out.most_common()),
        }
    )
    metrics["notes"] += notes
    curves = {"pr": pr_curves(evaluator, regions), "froc": froc, "image_roc": image_roc}
    return metrics, curves
