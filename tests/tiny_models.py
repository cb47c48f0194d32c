"""Tiny models for the Analyzer, catalogue and CLI tests.

`train_tiny_runs(root)`: a classifier (a portrait input, 32 px wide and 40 high) and a detector trained one
epoch (a step or two) by the project's own training functions on the tiny fake datasets, saved as run
directories. Tests take them from conftest.py's session fixture `tiny_runs`, which trains them once.
`random_analyzer()`: an Analyzer over an untrained (seeded) classifier, for tests that need embeddings
but not a trained model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from conftest import make_coco_dataset, make_labels_csv_dataset
from fashionlens.data.transforms import classification_preprocessing
from fashionlens.inference.analyzer import Analyzer
from fashionlens.models.classifier import build_classifier

CLASSES = ["Dress", "Pants", "T-Shirt"]  # conftest's DEFAULT_CLASSES, sorted as training sorts them
CLASSIFIER_ARCH = "mobilenet_v3_small"
DETECTOR_ARCH = "fasterrcnn_mobilenet_v3_large_320_fpn"


@dataclass(frozen=True)
class TinyRuns:
    classifier: Path
    detector: Path
    street: Path  # the COCO JSON of the street-like photos the detector was trained on
    clothing: Path  # the labels CSV of the garment photos the classifier was trained on


def train_tiny_runs(root: Path) -> TinyRuns:
    """Train a tiny classifier and detector under `root` with whatever TORCH_HOME is set (the `tiny_runs`
    fixture points it at an empty folder: no pretrained weights)."""
    from typer.testing import CliRunner

    from fashionlens.cli import app

    clothing = make_labels_csv_dataset(root / "clothing", per_split={"train": 2, "val": 1})
    street = make_coco_dataset(root / "street")
    # through the command line, as a user trains: config.json records the command (the model card shows it)
    for command in (
        [
            "classifier",
            "--data",
            clothing,
            "--mode",
            "img+bbox",
            "--arch",
            CLASSIFIER_ARCH,
            "--epochs",
            1,
            "--image-size",
            32,
            "--image-height",
            40,
            "--batch-size",
            4,
            "--out",
            root / "classifier",
        ],
        [
            "detector",
            "--data",
            street,
            "--arch",
            DETECTOR_ARCH,
            "--epochs",
            1,
            "--image-size",
            64,
            "--batch-size",
            2,
            "--out",
            root / "detector",
        ],
    ):
        result = CliRunner().invoke(app, ["train", *map(str, command)])
        assert result.exit_code == 0, result.output
    return TinyRuns(root / "classifier", root / "detector", street, clothing)


def random_checkpoint(
    mode: str = "img", seed: int = 0, classes: list[str] = CLASSES, arch: str = CLASSIFIER_ARCH, size: int = 32
) -> dict:
    """A classifier checkpoint dict of seeded, untrained weights."""
    torch.manual_seed(seed)
    model = build_classifier(arch, len(classes), mode)
    return {
        "kind": "classifier",
        "arch": arch,
        "mode": mode,
        "class_names": list(classes),
        "preprocessing": classification_preprocessing(size),
        "config": {},
        "metrics": {},
        "epoch": 0,
        "model": model.state_dict(),
    }


def random_analyzer(seed: int = 0, mode: str = "img", arch: str = CLASSIFIER_ARCH) -> Analyzer:
    from fashionlens.models.classifier import classifier_from_checkpoint

    checkpoint = random_checkpoint(mode, seed, arch=arch, size=32 if arch == CLASSIFIER_ARCH else 64)
    return Analyzer(classifier_from_checkpoint(checkpoint), checkpoint, batch_size=4)
