"""What the int8 models cost in accuracy: PyTorch (float32) beside the onnx-int8 backend on the real val photos.

    .venv/bin/python benchmarks/int8_accuracy.py                      # the shipped default models
    .venv/bin/python benchmarks/int8_accuracy.py --classifier runs/bench/clothing-top10 --detector runs/bench/detector-street
    .venv/bin/python benchmarks/int8_accuracy.py --data-path /data --results /tmp/int8.json

Classifier: the val photos of <data-path>/clothing/labels.csv whose label is one of the classifier's
classes (evaluation.classification.map_samples_to_classes, as `fashionlens evaluate` does), each
classified as the Analyzer classifies a photo in which nothing is detected (Analyzer.classify on the whole
photo), with the torch and the onnx-int8 backend: the repo's metrics (evaluate_classifier: accuracy,
balanced accuracy, top-3, macro F1), top-1 agreement and embedding cosine between the two, and search:
a catalogue of the float32 embeddings of these photos (catalog.index.build_index) queried with each
photo's int8 embedding instead of its float32 one (the same top-10 items? the photo itself first?).
Detector: the street val photos (boxed), one photo per call with both backends: mAP and mAP@0.5 with
evaluation.detection (pycocotools), and at the operating threshold the detections each finds of the
other's (onnx_int8.counterparts, the export check's rule, boxes in the detector's input pixels).
Results: benchmarks/results/int8.json (--results).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from fashionlens.catalog.index import build_index
from fashionlens.core.images import load_image
from fashionlens.core.records import Box
from fashionlens.data import read_dataset
from fashionlens.data.detection import DetectionDataset, collate_detection, detection_transform
from fashionlens.evaluation.classification import evaluate_classifier, map_samples_to_classes
from fashionlens.evaluation.detection import boxed_samples, evaluate_detector
from fashionlens.export.exports import export_for_backend
from fashionlens.export.onnx_int8 import counterparts, fraction
from fashionlens.inference.analyzer import Analyzer
from fashionlens.inference.default_models import default_classifier, default_detector
from fashionlens.models.detector import detections_of
from recipe import RESULTS, add_data_path, clothing, shown, street, write_result

BACKENDS = ("torch", "onnx-int8")
SEARCH_K = 10
CLASSIFIER_KEYS = ("n", "accuracy", "balanced_accuracy", "top3_accuracy", "macro_f1", "majority_baseline")


def val_samples(path: Path) -> list:
    return [sample for sample in read_dataset(path) if sample.split == "val"]


def classify(analyzer: Analyzer, samples: list, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities and embeddings of whole photos through the Analyzer, a batch at a time."""
    probabilities, embeddings = [], []
    for start in tqdm(range(0, len(samples), analyzer.batch_size), desc=f"classify ({name})", file=sys.stderr):
        images = [load_image(sample.image) for sample in samples[start : start + analyzer.batch_size]]
        found = analyzer.classify([(image, Box(0.0, 0.0, float(image.width), float(image.height))) for image in images])
        probabilities.append(found.probabilities)
        embeddings.append(found.embeddings)
    return np.concatenate(probabilities), np.concatenate(embeddings)


def search_agreement(reference: np.ndarray, queries: np.ndarray) -> dict:
    """A catalogue of `reference` embeddings searched with `queries` (the same photos, another backend)."""
    index = build_index(np.arange(len(reference), dtype=np.int64), reference)
    _, expected = index.search(np.ascontiguousarray(reference), SEARCH_K)
    _, found = index.search(np.ascontiguousarray(queries), SEARCH_K)
    overlap = [len(set(a) & set(b)) / SEARCH_K for a, b in zip(expected, found)]
    return {
        "catalogue": "float32 embeddings of the same photos",
        "k": SEARCH_K,
        "mean_top_k_overlap": round(float(np.mean(overlap)), 4),
        "min_top_k_overlap": round(float(np.min(overlap)), 4),
        "self_first": round(float(np.mean(found[:, 0] == np.arange(len(queries)))), 4),
    }


def classifier_accuracy(analyzers: dict[str, Analyzer], data: Path) -> dict:
    class_names = analyzers["torch"].class_names
    samples, mapping = map_samples_to_classes(val_samples(data), class_names)
    true_labels = [sample.garments[0].category for sample in samples]
    outputs = {name: classify(analyzer, samples, name) for name, analyzer in analyzers.items()}
    result = {
        "data": shown(data),
        "split": "val",
        "photos": len(samples),
        "left_out": mapping.as_dict()["left_out_labels"],
    }
    for name, (probs, _) in outputs.items():
        metrics = evaluate_classifier(true_labels, probs, class_names)
        result[name] = {
            key: round(metrics[key], 4) if isinstance(metrics[key], float) else metrics[key] for key in CLASSIFIER_KEYS
        }
    (torch_probs, torch_embeddings), (int8_probs, int8_embeddings) = outputs["torch"], outputs["onnx-int8"]
    cosines = (torch_embeddings * int8_embeddings).sum(axis=1)  # both L2-normalised by the Analyzer
    result["agreement"] = {
        "top1_agreement": round(float(np.mean(torch_probs.argmax(1) == int8_probs.argmax(1))), 4),
        "embedding_cosine_min": round(float(cosines.min()), 5),
        "embedding_cosine_median": round(float(np.median(cosines)), 5),
        "embedding_cosine_mean": round(float(cosines.mean()), 5),
        "max_probability_difference": round(float(np.abs(torch_probs - int8_probs).max()), 4),
    }
    result["search"] = search_agreement(torch_embeddings, int8_embeddings)
    return result


class Recorder:
    """Stands where a detector stands (detections_of calls it) and keeps each photo's raw output."""

    def __init__(self, model):
        self.model, self.outputs = model, []

    def eval(self) -> "Recorder":
        self.model.eval()
        return self

    def __call__(self, images: list[torch.Tensor]) -> list[dict[str, torch.Tensor]]:
        found = self.model(images)
        self.outputs += found
        return found


def detector_accuracy(analyzers: dict[str, Analyzer], data: Path) -> dict:
    checkpoint = analyzers["torch"].detector_checkpoint
    regions, threshold = list(checkpoint["class_names"]), analyzers["torch"].threshold
    samples, without_boxes = boxed_samples(val_samples(data))
    transform = detection_transform(checkpoint["preprocessing"]["image_size"], train=False)
    dataset = DetectionDataset(samples, transform, tuple(regions), skip_unusable=False)
    result = {"data": shown(data), "split": "val", "photos": len(samples), "threshold": threshold}
    raw = {}
    for name, analyzer in analyzers.items():
        recorder = Recorder(analyzer.detector)
        loader = DataLoader(dataset, batch_size=1, shuffle=False, collate_fn=collate_detection)  # one photo per call
        start = time.perf_counter()
        with torch.inference_mode():
            detections = detections_of(
                recorder, tqdm(loader, desc=f"detect ({name})", file=sys.stderr), torch.device("cpu"), tuple(regions)
            )
        seconds = time.perf_counter() - start
        metrics, _ = evaluate_detector(samples, detections, regions)
        result[name] = {
            "map": round(metrics["map"], 4),
            "map50": round(metrics["map50"], 4),
            "per_class_ap50": {k: None if v is None else round(v, 4) for k, v in metrics["per_class_ap50"].items()},
            "seconds": round(seconds, 1),
        }
        raw[name] = recorder.outputs
    totals = np.zeros(4, dtype=int)
    for want, got in zip(raw["torch"], raw["onnx-int8"]):
        wanted, found, _, _ = counterparts(want, got, threshold)
        int8_wanted, int8_found, _, _ = counterparts(got, want, threshold)
        totals += (wanted, found, int8_wanted, int8_found)
    result["operating_point"] = {
        "detections": int(totals[0]),
        "int8_detections": int(totals[2]),
        "found_fraction": round(fraction(int(totals[1]), int(totals[0])), 4),
        "int8_found_fraction": round(fraction(int(totals[3]), int(totals[2])), 4),
    }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--classifier", type=Path, default=None, help="default: the shipped classifier")
    parser.add_argument("--detector", type=Path, default=None, help="default: the shipped detector")
    parser.add_argument("--results", type=Path, default=RESULTS / "int8.json")
    add_data_path(parser)
    args = parser.parse_args()
    classifier, detector = args.classifier or default_classifier(), args.detector or default_detector()
    say = lambda text: print(text, file=sys.stderr)  # noqa: E731
    for backend in BACKENDS:
        export_for_backend((detector, classifier), backend, say)
    analyzers = {backend: Analyzer.from_runs(detector, classifier, backend=backend) for backend in BACKENDS}
    int8 = analyzers["onnx-int8"]
    result = {
        "machine": {"threads": torch.get_num_threads(), "torch": torch.__version__},
        "models": {
            "classifier": shown(classifier),
            "detector": shown(detector),
            "id": int8.model_id,
            "int8_files": [shown(int8.classifier_checkpoint["path"]), shown(int8.detector_checkpoint["path"])],
        },
        "export_check": {
            "classifier": int8.classifier_checkpoint["agreement"],
            "detector": int8.detector_checkpoint["agreement"],
        },
        "classifier": classifier_accuracy(analyzers, clothing(args.data_path)),
        "detector": detector_accuracy(analyzers, street(args.data_path)),
    }
    print(json.dumps({key: result[key] for key in ("classifier", "detector")}, indent=2))
    write_result(args.results, result, args.data_path)


if __name__ == "__main__":
    main()
