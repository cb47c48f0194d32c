"""ONNX export of the Analyzer's models, checked with ONNX Runtime against PyTorch before it is written.

Classifier: inputs `images` (N x 3 x S x S, normalised as the checkpoint's preprocessing says) and, for
an `img+bbox` model, `geometry` (N x 6); outputs `logits` (N x K), `features` (N x D, the pooled
penultimate features the Analyzer L2-normalises into embeddings) and, for EfficientNet-Lite, `stages`
(N x S, the early stages' statistics the attribute heads read); N is dynamic.
Detector: torchvision's Faster R-CNN with its own transform and post-processing, traced by the
TorchScript exporter at opset 17 (the way torchvision documents); input `image` (3 x H x W, values 0-1,
one photo per call, H and W dynamic), outputs `boxes` (in the input's pixels), `labels` (1-based), `scores`.

Each export is two files named after the checkpoint (`best.onnx` + `best.json`, `classifier.onnx` +
`classifier.json`), by default in `onnx/` beside it; an int8 export (onnx_int8.py) is `best.int8.onnx` +
`best.int8.json`. The JSON holds what the Analyzer needs without the checkpoint (kind, class names,
preprocessing, score threshold), the precision, the source's model fingerprint (so a catalogue's
embeddings stay valid), the sha256 of the source and of the .onnx, and what was measured against PyTorch.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from PIL import Image
from torch import nn
from torchvision.ops import poolers

from fashionlens.core.errors import FashionLensError
from fashionlens.core.images import load_image
from fashionlens.core.model_meta import ModelMeta
from fashionlens.data.classification import GEOMETRY_FEATURES
from fashionlens.data.detection import detection_transform
from fashionlens.data.transforms import input_shape
from fashionlens.inference.analyzer_models import analyzed_detector, logits_and_features, stage_modules
from fashionlens.inference.onnx_runtime import CLASSIFIER_OUTPUTS, DETECTOR_OUTPUTS, session
from fashionlens.models.classifier import ClassifierOutput, classifier_from_checkpoint
from fashionlens.samples import sample_path

OPSET = 17
# "The same outputs": float32 kernels of ONNX Runtime and PyTorch differ by ~1e-6 on these models
FEATURE_TOLERANCE = {"atol": 1e-4, "rtol": 1e-4}  # logits and features
BOX_TOLERANCE = 0.5  # pixels
SCORE_TOLERANCE = 1e-3
SOURCE_KEYS = ("kind", "arch", "mode", "class_names", "preprocessing", "score_threshold")
Exporter = Callable[[dict[str, Any], Path], dict[str, float]]


def quiet_export(model: nn.Module, args: tuple, path: Path, **names: Any) -> None:
    """torch.onnx.export with the TorchScript exporter; its tracer warns about every Python value in
    torchvision's code, which the comparison with ONNX Runtime afterwards makes moot."""
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, args, str(path), dynamo=False, opset_version=OPSET, do_constant_folding=True, **names)


# ----------------------------------------------------------------------------- classifier


class LogitsAndFeatures(nn.Module):
    """The classifier as the Analyzer runs it: logits, pooled penultimate features and stage statistics in one pass."""

    def __init__(self, classifier: nn.Module):
        super().__init__()
        self.classifier = classifier

    def forward(self, images: torch.Tensor, *geometry: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return present_outputs(logits_and_features(self.classifier, images, *geometry))


def present_outputs(output: ClassifierOutput) -> tuple[torch.Tensor, ...]:
    """The outputs an architecture has (no stage statistics but for EfficientNet-Lite), in CLASSIFIER_OUTPUTS' order."""
    return tuple(tensor for tensor in output if tensor is not None)


def classifier_inputs(checkpoint: dict[str, Any], batch: int, seed: int) -> tuple[torch.Tensor, ...]:
    """Seeded inputs of the checkpoint's shape: normalised pixels, and box geometry for img+bbox."""
    meta = ModelMeta.from_checkpoint(checkpoint)
    generator = torch.Generator().manual_seed(seed)
    images = torch.randn(batch, 3, *input_shape(meta.preprocessing), generator=generator)
    if meta.classifier_mode != "img+bbox":  # an img model never reads the geometry: the graph has no such input
        return (images,)
    return images, torch.rand(batch, GEOMETRY_FEATURES, generator=generator)


def export_classifier(checkpoint: dict[str, Any], path: Path) -> dict[str, float]:
    """Write the classifier to `path`; raise unless ONNX Runtime agrees with PyTorch on a batch of
    another size than the traced one (so the dynamic batch axis is checked too)."""
    model = classifier_from_checkpoint(checkpoint).eval()
    inputs = classifier_inputs(checkpoint, batch=2, seed=0)
    names = ["images", "geometry"][: len(inputs)]
    has_stages = bool(stage_modules(model.get_submodule("backbone")))
    outputs = list(CLASSIFIER_OUTPUTS if has_stages else CLASSIFIER_OUTPUTS[:2])
    # the wrapper in eval mode: the exporter puts it back in its mode afterwards, which would train the model
    quiet_export(
        LogitsAndFeatures(model).eval(),
        inputs,
        path,
        input_names=names,
        output_names=outputs,
        dynamic_axes={name: {0: "batch"} for name in names + outputs},
    )
    check = classifier_inputs(checkpoint, batch=3, seed=1)
    with torch.inference_mode():
        expected = [tensor.numpy() for tensor in present_outputs(logits_and_features(model, *check))]
    found = session(path).run(outputs, {name: tensor.numpy() for name, tensor in zip(names, check)})
    differences = {}
    for name, want, got in zip(outputs, expected, found):
        if want.shape != got.shape:
            raise FashionLensError(
                f"{checkpoint.get('path', 'classifier')}: the ONNX {name} have shape "
                f"{got.shape} instead of {want.shape}; nothing written"
            )
        differences[name] = float(np.abs(want - got).max())
        if not np.allclose(got, want, rtol=FEATURE_TOLERANCE["rtol"], atol=FEATURE_TOLERANCE["atol"]):
            raise FashionLensError(
                f"{checkpoint.get('path', 'classifier')}: the ONNX {name} differ from PyTorch's by "
                f"up to {differences[name]:.3g} (tolerance {FEATURE_TOLERANCE}); nothing written"
            )
    return differences


# ----------------------------------------------------------------------------- detector


def detector_inputs(checkpoint: dict[str, Any]) -> list[torch.Tensor]:
    """A real street photo (the package's sample) as the Analyzer feeds it, upright and turned on its
    side: two shapes, so the check covers the dynamic height and width."""
    photos = sorted((sample_path("street") / "images").glob("*.jpg"))
    if not photos:
        raise FashionLensError(f"{sample_path('street')}: no sample photo to check the export with")
    photo = load_image(photos[0])
    transform = detection_transform(ModelMeta.from_checkpoint(checkpoint).image_size, train=False)
    return [transform(photo), transform(photo.transpose(Image.Transpose.ROTATE_90))]


def export_detector(checkpoint: dict[str, Any], path: Path) -> dict[str, float]:
    """Write the detector to `path` with its pre-filter lowered to the stored threshold (as the Analyzer
    runs it); raise unless ONNX Runtime finds the same boxes, labels and scores as PyTorch."""
    model = analyzed_detector(checkpoint)
    images = detector_inputs(checkpoint)
    axes = {"image": {1: "height", 2: "width"}, **{name: {0: "detections"} for name in DETECTOR_OUTPUTS}}
    with levels_merged_by_gather():
        quiet_export(
            model, ([images[0]],), path, input_names=["image"], output_names=list(DETECTOR_OUTPUTS), dynamic_axes=axes
        )
    with torch.inference_mode():  # one photo per call, as the graph runs: a batch pads photos to one size
        expected = [model([image])[0] for image in images]
    runtime = session(path)
    differences = {"boxes": 0.0, "scores": 0.0}
    for image, want in zip(images, expected):
        boxes, labels, scores = runtime.run(list(DETECTOR_OUTPUTS), {"image": image.numpy()})
        problem = detection_mismatch(want, boxes, labels, scores, differences)
        if problem:
            raise FashionLensError(
                f"{checkpoint.get('path', 'detector')}: the ONNX detector differs from "
                f"PyTorch ({problem}); nothing written"
            )
    return differences


@contextmanager
def levels_merged_by_gather():
    """When traced, torchvision puts the RoI features pooled from each pyramid level back into proposal
    order with one ScatterElements per level: the slowest op of the exported detector on a CPU (about a
    seventh of its time here). Concatenating the levels and gathering the rows back gives the same tensor."""
    traced_merge = poolers._onnx_merge_levels
    poolers._onnx_merge_levels = merge_levels_by_gather
    try:
        yield
    finally:
        poolers._onnx_merge_levels = traced_merge


def merge_levels_by_gather(levels: torch.Tensor, per_level: list[torch.Tensor]) -> torch.Tensor:
    order = torch.cat([torch.where(levels == level)[0] for level in range(len(per_level))])
    return torch.cat(per_level)[torch.argsort(order)]


def detection_mismatch(
    want: dict[str, torch.Tensor],
    boxes: np.ndarray,
    labels: np.ndarray,
    scores: np.ndarray,
    differences: dict[str, float],
) -> str | None:
    """What differs between PyTorch's detections and ONNX Runtime's, or None; updates `differences`."""
    if len(boxes) != len(want["boxes"]):
        return f"{len(boxes)} boxes instead of {len(want['boxes'])}"
    if not np.array_equal(labels, want["labels"].numpy()):
        return "other labels"
    if len(boxes):
        differences["boxes"] = max(differences["boxes"], float(np.abs(boxes - want["boxes"].numpy()).max()))
        differences["scores"] = max(differences["scores"], float(np.abs(scores - want["scores"].numpy()).max()))
    if differences["boxes"] > BOX_TOLERANCE or differences["scores"] > SCORE_TOLERANCE:
        return f"boxes up to {differences['boxes']:.3g} px, scores up to {differences['scores']:.3g} apart"
    return None
