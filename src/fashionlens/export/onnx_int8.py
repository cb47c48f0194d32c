"""int8 ONNX exports (`fashionlens export --precision int8`, `--backend onnx-int8`): ONNX Runtime's
quantisation of the float32 export, checked against PyTorch with looser, stated tolerances.

Classifier: static quantisation in the QDQ format. Weights int8 per output channel, activations uint8
calibrated (MinMax) on CALIBRATION_PHOTOS of the package's sample clothing photos (train split),
preprocessed as the Analyzer does (the whole photo through analyzer_models.classifier_feeds). Only the
convolutional backbone (QUANTIZED_CLASSIFIER_OPS) is quantised, and not its first convolution: the stem
reads the normalised pixels, whose rounding every later layer inherits; pooling, the box-geometry MLP and
the head stay float, so the embedding (the pooled features) is not rounded to 256 levels. Weights use
the full 8 bits: with 7 (reduce_range, for CPUs whose uint8 x int8 products saturate without VNNI) the
EfficientNet-Lite classifier's embeddings fell to a cosine of 0.87 with PyTorch's on a sample photo. The
check below runs where the export is made (beside the checkpoint, on the machine that uses it), so a CPU
that saturates refuses the export rather than running a wrong model. On an AVX2 CPU without VNNI the
shipped classifier passes it; there int8 changed 2 of 50 clothing val photos' categories, both near ties
in PyTorch. Weights as uint8 (no saturation) agreed better but ran about 20 times slower there.
Detector: dynamic quantisation of the box head's two fully connected layers (fc6 and fc7, most of the
head's time), weights int8 per output channel, activations quantised per call. ONNX Runtime quantises
MatMul dynamically but not Gemm, so those two Gemm nodes become MatMul + Add first. Everything else
(backbone, RPN, RoiAlign, class and box predictors) stays float.

Nothing is written unless the int8 model agrees with PyTorch (CLASSIFIER_TOLERANCE, DETECTOR_TOLERANCE).
"""

from __future__ import annotations

import logging
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import onnx
import torch
from onnx import helper, numpy_helper
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_dynamic,
    quantize_static,
)
from torch.nn.functional import normalize

from fashionlens.core.errors import FashionLensError
from fashionlens.core.images import load_image
from fashionlens.core.model_meta import ModelMeta
from fashionlens.core.records import Box
from fashionlens.data import read_dataset
from fashionlens.data.detection import detection_transform
from fashionlens.data.transforms import classification_eval_transform
from fashionlens.export.onnx_export import Exporter
from fashionlens.inference.analyzer_models import (
    analyzed_detector,
    classifier_feeds,
    forward_with_features,
    score_threshold,
)
from fashionlens.inference.onnx_runtime import OnnxClassifier, OnnxDetector
from fashionlens.models.classifier import classifier_from_checkpoint
from fashionlens.samples import sample_file, sample_path

CALIBRATION_PHOTOS = 64
BATCH = 16
QUANTIZED_CLASSIFIER_OPS = ["Conv", "Relu", "Clip", "MaxPool"]
# the sample photos not used for calibration: every one of PyTorch's top-1 classes but a few kept, and
# every embedding close to PyTorch's (measured on the shipped EfficientNet-Lite0: agreement 0.989, lowest
# cosine 0.983, mean 0.995; on the resnet18 before it: 1.0 and 0.9998)
CLASSIFIER_TOLERANCE = {"top1_agreement": 0.97, "min_embedding_cosine": 0.98}
# the sample street photos at the operating threshold: a detection's counterpart has the same region,
# every coordinate within boxes_px (in the detector's input, longer side = its image_size) and a score
# within `scores`; found_fraction of PyTorch's detections must have one in int8's, and the other way round
# (a tiny score change can make NMS keep a neighbouring box, so not every detection can match)
DETECTOR_TOLERANCE = {"found_fraction": 0.95, "boxes_px": 4.0, "scores": 0.02}
BOX_HEAD = "/roi_heads/box_head/"  # the TorchScript exporter names nodes after torchvision's modules


def quantized_exporter(float_exporter: Exporter) -> Exporter:
    """An exporter writing the int8 model: the float32 export (itself checked) quantised and checked."""

    def export(checkpoint: dict[str, Any], path: Path) -> dict[str, float]:
        with tempfile.TemporaryDirectory() as folder:
            float_path = Path(folder) / "float32.onnx"
            float_exporter(checkpoint, float_path)
            if ModelMeta.from_checkpoint(checkpoint).kind == "classifier":
                return quantize_classifier(checkpoint, float_path, path)
            return quantize_detector(checkpoint, float_path, path)

    return export


def int8_description(kind: str | None, agreement: dict[str, float]) -> dict[str, Any]:
    """The metadata entries of an int8 export: how it was quantised, what was measured, the tolerance."""
    if kind == "classifier":
        how = {
            "method": "static",
            "format": "QDQ",
            "weights": "int8 per output channel (the stem stays float)",
            "activations": f"uint8, MinMax calibration on {CALIBRATION_PHOTOS} sample clothing photos (train split)",
            "operators": QUANTIZED_CLASSIFIER_OPS,
        }
        return {"quantization": how, "agreement": agreement, "tolerance": CLASSIFIER_TOLERANCE}
    how = {
        "method": "dynamic",
        "weights": "int8 per output channel",
        "activations": "uint8, quantised per call",
        "operators": "the box head's fully connected layers (fc6, fc7)",
    }
    return {"quantization": how, "agreement": agreement, "tolerance": DETECTOR_TOLERANCE}


@contextmanager
def quiet_quantizer() -> Iterator[None]:
    """ONNX Runtime's quantiser logs advice on the root logger (e.g. to pre-process the model, which the
    exporter's constant folding has done); the CLI's stderr stays for fashionlens's own messages."""
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(previous)


# ----------------------------------------------------------------------------- classifier


def sample_clothing_photos() -> tuple[list[Path], list[Path]]:
    """(calibration, check): every third of the sample's train photos by name, up to CALIBRATION_PHOTOS,
    and all the other sample photos."""
    photos = sorted((sample.image, sample.split) for sample in read_dataset(sample_file("clothing")))
    train = [image for image, split in photos if split == "train"]
    calibration = train[::3][:CALIBRATION_PHOTOS]
    chosen = set(calibration)
    return calibration, [image for image, _ in photos if image not in chosen]


def whole_photo_feeds(checkpoint: dict[str, Any], photos: list[Path]) -> tuple[torch.Tensor, torch.Tensor]:
    """The classifier's inputs for whole photos, as the Analyzer makes them when nothing is detected."""
    meta = ModelMeta.from_checkpoint(checkpoint)
    transform = classification_eval_transform(meta.preprocessing)
    images = [load_image(photo) for photo in photos]
    crops = [(image, Box(0.0, 0.0, float(image.width), float(image.height))) for image in images]
    return classifier_feeds(transform, crops, meta.context_margin)


class PhotoBatches(CalibrationDataReader):
    """Calibration batches for quantize_static: the graph's inputs only (an img model has no geometry)."""

    def __init__(self, feeds: tuple[torch.Tensor, torch.Tensor], names: list[str]):
        pixels, geometry = (tensor.numpy() for tensor in feeds)
        batches = [
            {"images": pixels[i : i + BATCH], "geometry": geometry[i : i + BATCH]} for i in range(0, len(pixels), BATCH)
        ]
        self.batches = iter([{name: batch[name] for name in names} for batch in batches])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self.batches, None)


def quantize_classifier(checkpoint: dict[str, Any], float_path: Path, path: Path) -> dict[str, float]:
    calibration, check = sample_clothing_photos()
    graph = onnx.load(str(float_path)).graph
    names = [item.name for item in graph.input]
    stem = next(node.name for node in graph.node if node.op_type == "Conv")
    with quiet_quantizer():
        quantize_static(
            str(float_path),
            str(path),
            PhotoBatches(whole_photo_feeds(checkpoint, calibration), names),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            per_channel=True,
            reduce_range=False,
            calibrate_method=CalibrationMethod.MinMax,
            op_types_to_quantize=QUANTIZED_CLASSIFIER_OPS,
            nodes_to_exclude=[stem],
        )
    agreement = classifier_agreement(checkpoint, path, check)
    if (
        agreement["top1_agreement"] < CLASSIFIER_TOLERANCE["top1_agreement"]
        or agreement["min_embedding_cosine"] < CLASSIFIER_TOLERANCE["min_embedding_cosine"]
    ):
        raise FashionLensError(
            f"{checkpoint.get('path', 'classifier')}: the int8 classifier disagrees with PyTorch on "
            f"{agreement['photos']} sample photos (top-1 agreement {agreement['top1_agreement']:.3f}, lowest "
            f"embedding cosine {agreement['min_embedding_cosine']:.4f}; tolerance {CLASSIFIER_TOLERANCE}); "
            "nothing written"
        )
    return agreement


def classifier_agreement(checkpoint: dict[str, Any], path: Path, photos: list[Path]) -> dict[str, float]:
    """Top-1 agreement and embedding cosines of the int8 model with PyTorch on whole photos."""
    model, runtime = classifier_from_checkpoint(checkpoint).eval(), OnnxClassifier(path)
    same, cosines, logit_difference = [], [], 0.0
    for start in range(0, len(photos), BATCH):
        pixels, geometry = whole_photo_feeds(checkpoint, photos[start : start + BATCH])
        want, got = forward_with_features(model, pixels, geometry), runtime(pixels, geometry)
        want_logits, want_features, got_logits, got_features = want.logits, want.features, got.logits, got.features
        same += (want_logits.argmax(1) == got_logits.argmax(1)).tolist()
        cosines += (normalize(want_features, dim=1) * normalize(got_features, dim=1)).sum(1).tolist()
        logit_difference = max(logit_difference, float((want_logits - got_logits).abs().max()))
    # what the tolerance is compared with stays unrounded: 0.98999 must not pass as 0.99
    return {
        "photos": len(photos),
        "top1_agreement": float(np.mean(same)),
        "min_embedding_cosine": min(cosines),
        "mean_embedding_cosine": round(float(np.mean(cosines)), 5),
        "max_logit_difference": round(logit_difference, 4),
    }


# ----------------------------------------------------------------------------- detector


def box_head_as_matmul(model: onnx.ModelProto) -> list[str]:
    """Rewrite the box head's Gemm nodes (y = x W^T + b) as MatMul(x, W^T) + Add(b), in place; the names
    of the new MatMul nodes (what quantize_dynamic then quantises)."""
    graph = model.graph
    weights = {tensor.name: tensor for tensor in graph.initializer}
    nodes, matmuls = [], []
    for node in graph.node:
        attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        plain = attributes.get("alpha", 1.0) == attributes.get("beta", 1.0) == 1.0 and not attributes.get("transA")
        if not (
            node.op_type == "Gemm"
            and node.name.startswith(BOX_HEAD)
            and plain
            and attributes.get("transB") == 1
            and node.input[1] in weights
            and len(node.input) == 3
        ):
            nodes.append(node)
            continue
        weight = weights[node.input[1]]
        graph.initializer.remove(weight)
        graph.initializer.append(numpy_helper.from_array(numpy_helper.to_array(weight).T.copy(), weight.name))
        product = f"{node.output[0]}_matmul"
        nodes += [
            helper.make_node("MatMul", [node.input[0], weight.name], [product], name=f"{node.name}_MatMul"),
            helper.make_node("Add", [product, node.input[2]], list(node.output), name=f"{node.name}_Add"),
        ]
        matmuls.append(f"{node.name}_MatMul")
    del graph.node[:]
    graph.node.extend(nodes)
    return matmuls


def quantize_detector(checkpoint: dict[str, Any], float_path: Path, path: Path) -> dict[str, float]:
    model = onnx.load(str(float_path))
    head = box_head_as_matmul(model)
    if not head:
        raise FashionLensError(
            f"{checkpoint.get('path', 'detector')}: no fully connected box head to quantise "
            "(a Faster R-CNN with torchvision's TwoMLPHead); nothing written"
        )
    matmul_path = float_path.with_name("matmul.onnx")
    onnx.save(model, str(matmul_path))
    with quiet_quantizer():
        quantize_dynamic(
            str(matmul_path),
            str(path),
            per_channel=True,
            weight_type=QuantType.QInt8,
            op_types_to_quantize=["MatMul"],
            nodes_to_quantize=head,
        )
    agreement = detector_agreement(checkpoint, path)
    if min(agreement["found_fraction"], agreement["int8_found_fraction"]) < DETECTOR_TOLERANCE["found_fraction"]:
        raise FashionLensError(
            f"{checkpoint.get('path', 'detector')}: the int8 detector disagrees with PyTorch on "
            f"{agreement['photos']} sample photos ({agreement['found_fraction']:.3f} of PyTorch's "
            f"{agreement['detections']} detections found, {agreement['int8_found_fraction']:.3f} of int8's "
            f"{agreement['int8_detections']}; tolerance {DETECTOR_TOLERANCE}); nothing written"
        )
    return agreement


def street_check_photos() -> list[Path]:
    """The package's sample street photos (80, about 240 detections of the shipped detector)."""
    return sorted((sample_path("street") / "images").glob("*.jpg"))


def detector_agreement(checkpoint: dict[str, Any], path: Path) -> dict[str, float]:
    """PyTorch's and the int8 model's detections at the operating threshold on the sample street photos,
    one photo per call as the Analyzer runs them."""
    model, threshold = analyzed_detector(checkpoint), score_threshold(checkpoint)  # as exported
    transform = detection_transform(ModelMeta.from_checkpoint(checkpoint).image_size, train=False)
    runtime = OnnxDetector(path)
    photos = street_check_photos()
    totals = {"wanted": 0, "found": 0, "int8_wanted": 0, "int8_found": 0}
    box_differences, score_differences = [0.0], [0.0]
    for photo in photos:
        image = transform(load_image(photo))
        with torch.inference_mode():
            [want] = model([image])
        [got] = runtime([image])
        wanted, found, boxes, scores = counterparts(want, got, threshold)
        int8_wanted, int8_found, _, _ = counterparts(got, want, threshold)
        for key, value in zip(totals, (wanted, found, int8_wanted, int8_found)):
            totals[key] += value
        box_differences += boxes
        score_differences += scores
    return {
        "photos": len(photos),
        "threshold": threshold,
        "detections": totals["wanted"],
        "int8_detections": totals["int8_wanted"],
        "found_fraction": fraction(totals["found"], totals["wanted"]),
        "int8_found_fraction": fraction(totals["int8_found"], totals["int8_wanted"]),
        "max_box_difference_px": round(max(box_differences), 3),
        "max_score_difference": round(max(score_differences), 4),
    }


def fraction(found: int, wanted: int) -> float:
    return found / wanted if wanted else 1.0  # nothing to find: nothing missed; unrounded, as compared


def counterparts(
    wanted: dict[str, torch.Tensor], among: dict[str, torch.Tensor], threshold: float
) -> tuple[int, int, list[float], list[float]]:
    """How many of `wanted`'s detections at or above `threshold` there are, how many have a counterpart
    in `among` (DETECTOR_TOLERANCE; at any score, so one just below the threshold still counts; each
    counterpart used once, the nearest first), and the box and score differences of the pairs."""
    tolerance = DETECTOR_TOLERANCE
    keep = wanted["scores"] >= threshold
    boxes, labels, scores = wanted["boxes"][keep], wanted["labels"][keep], wanted["scores"][keep]
    used: set[int] = set()
    box_differences, score_differences = [], []
    for box, label, score in zip(boxes, labels, scores):
        distance = (among["boxes"] - box).abs().amax(dim=1) if len(among["boxes"]) else torch.zeros(0)
        close = (
            (among["labels"] == label)
            & (distance <= tolerance["boxes_px"])
            & ((among["scores"] - score).abs() <= tolerance["scores"])
        )
        candidates = [int(i) for i in torch.argsort(distance) if close[i] and int(i) not in used]
        if candidates:
            used.add(candidates[0])
            box_differences.append(float(distance[candidates[0]]))
            score_differences.append(float((among["scores"][candidates[0]] - score).abs()))
    return len(boxes), len(used), box_differences, score_differences
