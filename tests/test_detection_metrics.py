"""Detector metrics on fixed detections, checked against pycocotools run by hand."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
from sklearn.metrics import roc_auc_score

from fashionlens.core.records import Box, Detection, Garment, Sample
from fashionlens.evaluation.detection import boxed_samples, evaluate_detector

REGIONS = ["upper", "lower", "full"]


def fixture() -> tuple[list[Sample], list[list[Detection]]]:
    samples = [
        Sample(
            image="1.jpg",
            width=100,
            height=200,
            garments=[Garment(Box(10, 10, 90, 90), "upper", "shirt"), Garment(Box(10, 100, 90, 190), "lower", "jeans")],
        ),
        Sample(image="2.jpg", width=100, height=200, garments=[Garment(Box(5, 5, 95, 195), "full", "dress")]),
        Sample(
            image="3.jpg",
            width=100,
            height=200,
            garments=[
                Garment(Box(20, 20, 80, 100), "upper", "blouse"),
                Garment(Box(20, 110, 80, 180), "lower", "skirt"),
                Garment(Box(50, 50, 40, 60), "upper", "top"),  # inverted: left out
                Garment(Box(0, 0, 150, 50), "upper", "jacket"),
            ],
        ),  # outside the image: left out
        Sample(image="4.jpg", width=100, height=200, garments=[]),  # a negative image
    ]
    detections = [
        [
            Detection(Box(12, 8, 88, 92), "upper", 0.95),
            Detection(Box(10, 120, 90, 190), "lower", 0.6),
            Detection(Box(0, 0, 40, 40), "full", 0.3),
        ],
        [Detection(Box(5, 5, 95, 150), "full", 0.8), Detection(Box(10, 10, 90, 90), "upper", 0.4)],
        [Detection(Box(22, 18, 80, 104), "upper", 0.7), Detection(Box(20, 150, 80, 190), "lower", 0.9)],
        [Detection(Box(0, 0, 50, 50), "upper", 0.2)],
    ]
    return samples, detections


def by_hand() -> tuple[dict, list[dict]]:
    """The same ground truth and results written directly in COCO form (x, y, w, h)."""
    boxes = [
        (1, 1, [10, 10, 80, 80]),
        (1, 2, [10, 100, 80, 90]),
        (2, 3, [5, 5, 90, 190]),
        (3, 1, [20, 20, 60, 80]),
        (3, 2, [20, 110, 60, 70]),
    ]
    gt = {
        "images": [{"id": i, "width": 100, "height": 200} for i in (1, 2, 3, 4)],
        "categories": [{"id": 1, "name": "upper"}, {"id": 2, "name": "lower"}, {"id": 3, "name": "full"}],
        "annotations": [
            {"id": n, "image_id": i, "category_id": c, "bbox": b, "area": b[2] * b[3], "iscrowd": 0}
            for n, (i, c, b) in enumerate(boxes, start=1)
        ],
    }
    results = [
        (1, 1, [12, 8, 76, 84], 0.95),
        (1, 2, [10, 120, 80, 70], 0.6),
        (1, 3, [0, 0, 40, 40], 0.3),
        (2, 3, [5, 5, 90, 145], 0.8),
        (2, 1, [10, 10, 80, 80], 0.4),
        (3, 1, [22, 18, 58, 86], 0.7),
        (3, 2, [20, 150, 60, 40], 0.9),
        (4, 1, [0, 0, 50, 50], 0.2),
    ]
    return gt, [{"image_id": i, "category_id": c, "bbox": b, "score": s} for i, c, b, s in results]


def pycocotools_stats(cat_ids: list[int] | None = None) -> np.ndarray:
    gt_dict, results = by_hand()
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = gt_dict
        gt.createIndex()
        evaluator = COCOeval(gt, gt.loadRes(results), iouType="bbox")
        if cat_ids:
            evaluator.params.catIds = cat_ids
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return evaluator.stats


def test_map_equals_pycocotools_own_numbers():
    samples, detections = fixture()
    metrics, _ = evaluate_detector(samples, detections, REGIONS)
    stats = pycocotools_stats()
    assert metrics["map"] == pytest.approx(stats[0])
    assert metrics["map50"] == pytest.approx(stats[1])
    for k, region in enumerate(REGIONS, start=1):
        alone = pycocotools_stats([k])  # pycocotools' AP of that category alone
        assert metrics["per_class_ap"][region] == pytest.approx(alone[0])
        assert metrics["per_class_ap50"][region] == pytest.approx(alone[1])
    assert 0 < metrics["map"] < metrics["map50"] < 1  # not a degenerate fixture
    assert all(0 <= v <= 1 for v in metrics["per_class_ap50"].values())
    json.dumps(metrics, allow_nan=False)


def test_problem_boxes_are_left_out_with_a_count():
    samples, detections = fixture()
    metrics, _ = evaluate_detector(samples, detections, REGIONS)
    assert metrics["ground_truth_boxes"] == 5 and metrics["images"] == 4 and metrics["detections"] == 8
    assert metrics["left_out_boxes"] == {"inverted box (x2 < x1 or y2 < y1)": 1, "box outside the 100x200 image": 1}


def test_a_model_that_detects_nothing_scores_zero():
    samples, _ = fixture()
    metrics, curves = evaluate_detector(samples, [[] for _ in samples], REGIONS)
    assert metrics["map"] == 0.0 and metrics["map50"] == 0.0
    assert metrics["per_class_ap50"] == {"upper": 0.0, "lower": 0.0, "full": 0.0}
    assert curves["pr"] == {} and curves["froc"] == {}
    assert metrics["image_auc"]["upper"] == 0.5  # all scores tie at 0


def test_region_without_ground_truth_is_null_with_a_note():
    samples, detections = fixture()
    samples[1].garments = []
    metrics, _ = evaluate_detector(samples, detections, REGIONS)
    assert metrics["per_class_ap50"]["full"] is None
    assert "AP[full]: undefined, no ground-truth box of that region" in metrics["notes"]
    assert metrics["image_auc"]["full"] is None


def test_image_level_roc_uses_the_best_detection_per_region():
    samples, detections = fixture()
    metrics, curves = evaluate_detector(samples, detections, REGIONS)
    # upper: images 1 and 3 hold one (the problem boxes still mark image 3 as holding "upper").
    assert metrics["image_auc"]["upper"] == pytest.approx(roc_auc_score([1, 0, 1, 0], [0.95, 0.4, 0.7, 0.2]))
    assert metrics["image_auc"]["full"] == pytest.approx(roc_auc_score([0, 1, 0, 0], [0.3, 0.8, 0.0, 0.0]))
    assert set(curves["image_roc"]) == set(REGIONS)


def test_froc_from_pycocotools_matches():
    samples, detections = fixture()
    metrics, curves = evaluate_detector(samples, detections, REGIONS)
    fppi, recall = curves["froc"]["upper"]
    # upper detections by score: 0.95 hit, 0.7 hit, 0.4 miss (image 2), 0.2 miss (image 4); 2 boxes, 4 images.
    assert fppi.tolist() == [0, 0, 0, 0.25, 0.5]
    assert recall.tolist() == [0, 0.5, 1, 1, 1]
    assert metrics["froc_recall"]["upper"]["0.25"] == 1.0
    fppi_all, recall_all = curves["froc"]["all"]
    assert recall_all[-1] == pytest.approx(4 / 5)  # lower at 0.9 is off (IoU < 0.5), the rest hit
    assert fppi_all[-1] == pytest.approx(4 / 4)


def test_boxed_samples_drop_whole_image_labels_only():
    samples, _ = fixture()
    labelled = Sample(image="5.jpg", garments=[Garment(None, "upper", "Shirt")])
    kept, dropped = boxed_samples(samples + [labelled])
    assert kept == samples and dropped == 1
