"""The models used when `--detector` / `--classifier` are left out: the one place defaults plug in.

The package may ship a small detector and classifier (half precision, with a model card) in
`fashionlens/weights/`; each is a checkpoint file that checkpoint.load_checkpoint() reads like a run
(it turns the float16 weights back into float32). scripts/package_default_models.py makes them from
two training runs (fashionlens.release.packaging).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fashionlens.core.errors import FashionLensError

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"  # package data: fashionlens/weights
DETECTOR_FILE, CLASSIFIER_FILE, MODEL_CARD_FILE = "detector.pt", "classifier.pt", "MODEL_CARD.md"
# What inference needs (docs/architecture.md): no optimiser, scheduler or scaler state.
INFERENCE_KEYS = (
    "kind",
    "arch",
    "mode",
    "class_names",
    "preprocessing",
    "config",
    "metrics",
    "epoch",
    "score_threshold",
    "anchor_aspect_ratios",
    "norm",
)
HALF_MAX = 65504.0  # the largest finite float16


def default_detector() -> Path | None:
    """The shipped detector checkpoint, or None when the package has none."""
    path = WEIGHTS_DIR / DETECTOR_FILE
    return path if path.is_file() else None


def default_classifier() -> Path:
    """The shipped classifier checkpoint; a clear error when the package has none."""
    path = WEIGHTS_DIR / CLASSIFIER_FILE
    if not path.is_file():
        raise FashionLensError("no default models installed; pass --classifier RUN_DIR")
    return path


def resolve_runs(
    detector: str | Path | None, classifier: str | Path | None, whole_image: bool = False
) -> tuple[str | Path | None, str | Path]:
    """(detector, classifier) to load: the ones given, else the shipped ones. `whole_image` skips
    detection (flat-lay product photos): the classifier then sees the whole photo."""
    if whole_image and detector is not None:
        raise FashionLensError("--whole-image and --detector exclude each other")
    classifier = classifier if classifier is not None else default_classifier()
    if whole_image:
        return None, classifier
    return (detector if detector is not None else default_detector()), classifier


def slim_checkpoint(checkpoint: dict[str, Any]) -> dict[str, Any]:
    """An inference checkpoint: the keys inference needs, weights in float16 (halves the file).

    A floating tensor whose values would overflow float16 (a large BatchNorm variance) stays in
    float32, so packing never turns a weight into infinity. The attribute heads of multi-task training,
    which inference does not use, are left out.
    """
    from fashionlens.models.classifier import inference_weights

    slim = {key: checkpoint[key] for key in INFERENCE_KEYS if key in checkpoint}
    slim["model"] = {name: half(tensor) for name, tensor in inference_weights(checkpoint["model"]).items()}
    slim["precision"] = "float16"
    return slim


def half(tensor: Any) -> Any:
    """float16 for a floating tensor that fits, anything else unchanged (integer counters stay exact)."""
    import torch

    tensor = tensor.detach()
    fits = tensor.numel() == 0 or float(tensor.abs().max()) <= HALF_MAX
    return tensor.to(torch.float16) if tensor.is_floating_point() and fits else tensor
