"""The models used when `--detector` / `--classifier` are left out: the one place defaults plug in.

The package may ship a small detector and classifier (half precision, with a model card) in
`fashionlens/weights/`; each is a checkpoint file that checkpoint.load_checkpoint() reads like a run.
"""

from __future__ import annotations

from pathlib import Path

from .errors import FashionLensError

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
DETECTOR_FILE, CLASSIFIER_FILE = "detector.pt", "classifier.pt"


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


def resolve_runs(detector: Path | None, classifier: Path | None, whole_image: bool = False) -> tuple[Path | None, Path]:
    """(detector, classifier) to load: the ones given, else the shipped ones. `whole_image` skips
    detection (flat-lay product photos): the classifier then sees the whole photo."""
    if whole_image and detector is not None:
        raise FashionLensError("--whole-image and --detector exclude each other")
    classifier = classifier if classifier is not None else default_classifier()
    if whole_image:
        return None, classifier
    return (detector if detector is not None else default_detector()), classifier
