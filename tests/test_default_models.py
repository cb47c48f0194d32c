"""Default models: runs packaged as slim float16 checkpoints with a model card, then loaded by default."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from fashionlens.cli.train import rebuilt_command
from fashionlens.core.checkpoint import load_checkpoint
from fashionlens.core.errors import FashionLensError
from fashionlens.data import read_dataset
from fashionlens.inference.default_models import resolve_runs
from fashionlens.models.classifier import classifier_from_checkpoint, predict_classifier
from fashionlens.models.detector import detector_from_checkpoint, predict_detections
from fashionlens.release.model_card import data_licence, recorded_command
from fashionlens.release.packaging import package_default_models
from fashionlens.samples import sample_path

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def packaged(tiny_runs, tmp_path_factory):
    """The tiny runs (copied, with an evaluation of the classifier) packaged into a project-like folder."""
    runs = tiny_runs
    for data, sample in ((runs.clothing, "clothing"), (runs.street, "street")):
        shutil.copy(sample_path(sample) / "LICENSE", data.parent / "LICENSE")
    project = tmp_path_factory.mktemp("project")
    classifier, detector = project / "runs" / "classifier", project / "runs" / "detector"
    shutil.copytree(runs.classifier, classifier)
    shutil.copytree(runs.detector, detector)
    evaluated = subprocess.run(
        [
            sys.executable,
            "-c",
            "from fashionlens.cli import main; main()",
            "evaluate",
            str(classifier),
            "--data",
            str(runs.clothing),
            "--out",
            str(classifier / "eval"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert evaluated.returncode == 0, evaluated.stderr
    weights = project / "src" / "fashionlens" / "weights"
    written = package_default_models(classifier, detector, weights, project_root=project, check_photos=3)
    return runs, classifier, detector, weights, written


def test_files_hold_float16_weights_and_no_optimizer(packaged):
    _, classifier, _, weights, written = packaged
    assert [path.name for path in written] == ["classifier.pt", "detector.pt", "MODEL_CARD.md"]
    raw = torch.load(weights / "classifier.pt", weights_only=True)
    assert raw["precision"] == "float16" and not {"optimizer", "lr_scheduler", "scaler"} & set(raw)
    floats = [t for t in raw["model"].values() if t.is_floating_point()]
    assert floats and all(t.dtype == torch.float16 for t in floats)
    assert (weights / "classifier.pt").stat().st_size < 0.6 * (classifier / "best.pt").stat().st_size
    loaded = load_checkpoint(weights / "detector.pt")  # back in float32 for the models
    assert all(t.dtype == torch.float32 for t in loaded["model"].values() if t.is_floating_point())
    assert {"score_threshold", "anchor_aspect_ratios", "norm", "preprocessing"} <= set(loaded)


def test_packaged_classifier_predicts_like_the_original(packaged):
    runs, classifier, _, weights, _ = packaged
    samples = read_dataset(runs.clothing)
    before_checkpoint, after_checkpoint = load_checkpoint(classifier), load_checkpoint(weights / "classifier.pt")
    _, before = predict_classifier(classifier_from_checkpoint(before_checkpoint), before_checkpoint, samples)
    _, after = predict_classifier(classifier_from_checkpoint(after_checkpoint), after_checkpoint, samples)
    assert before.shape == after.shape == (9, 3)
    assert np.abs(before - after).max() < 1e-2
    assert (before.argmax(1) == after.argmax(1)).all()


def test_packaged_detector_finds_the_same_boxes(packaged):
    runs, _, detector, weights, _ = packaged
    samples = read_dataset(runs.street)
    results = []
    for checkpoint in (load_checkpoint(detector), load_checkpoint(weights / "detector.pt")):
        found = predict_detections(detector_from_checkpoint(checkpoint), checkpoint, samples, 2)
        results.append([image[:3] for image in found])  # the most confident detections of each photo
    for before, after in zip(*results):
        assert [d.region for d in before] == [d.region for d in after]
        for a, b in zip(before, after):
            assert abs(a.score - b.score) < 1e-2
            assert np.abs(np.array(a.box.as_list()) - np.array(b.box.as_list())).max() < 1.0  # pixels


def test_model_card_names_data_licence_command_and_metrics(packaged):
    runs, _, _, weights, _ = packaged
    card = (weights / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "licence **CC0-1.0**" in card and "licence **Apache-2.0**" in card
    assert "`fashionlens train classifier --data " in card and "--mode img+bbox" in card
    # the command recorded in config.json when the run was trained (its --out is where it was trained)
    assert (
        "--arch fasterrcnn_mobilenet_v3_large_320_fpn" in card
        and f"--out {os.path.relpath(runs.detector, weights.parents[2])}`" in card
    )
    assert "| eval | `" in card and "VERDICT:" in card  # the classifier's evaluation and honesty check
    assert "float16 check on 3 embedded sample photos: top-1 agreement" in card
    model_id = card.split("model id (what a catalogue records): `")[1].split("`")[0]
    from fashionlens.inference.analyzer import Analyzer

    assert Analyzer.from_runs(None, weights / "classifier.pt").model_id == model_id


def test_commands_without_models_use_the_packaged_ones(packaged, monkeypatch):
    runs, _, _, weights, _ = packaged
    monkeypatch.setattr("fashionlens.inference.default_models.WEIGHTS_DIR", weights)
    assert resolve_runs(None, None) == (weights / "detector.pt", weights / "classifier.pt")
    photo = sorted((runs.street.parent / "images").glob("*.jpg"))[0]
    from fashionlens.cli.analyze import analyze_photos
    from fashionlens.cli.options import ModelChoice, load_analyzer

    analyzer = load_analyzer(ModelChoice())
    [analysis] = analyze_photos(analyzer, [photo])
    assert analyzer.description["classifier"] == str(weights / "classifier.pt")
    assert analyzer.description["detector"] == str(weights / "detector.pt")
    assert analysis.garments and analysis.garments[0].embedding.dtype == np.float32


def test_too_large_or_unlicensed_models_are_refused_before_writing(packaged, tmp_path):
    _, classifier, detector, _, _ = packaged
    out = tmp_path / "weights"
    with pytest.raises(FashionLensError, match=r"above the 0 MB budget"):
        package_default_models(classifier, detector, out, project_root=tmp_path, max_bytes=1000)
    assert not out.exists()
    (tmp_path / "data").mkdir()
    with pytest.raises(FashionLensError, match="no LICENSE file next to the training data"):
        data_licence(str(tmp_path / "data" / "labels.csv"))
    (tmp_path / "data" / "LICENSE").write_text("MIT License\n\nPermission is hereby granted...")
    with pytest.raises(FashionLensError, match="neither CC0 1.0 nor Apache-2.0"):
        data_licence(str(tmp_path / "data" / "labels.csv"))
    assert (
        data_licence(str(ROOT / "src" / "fashionlens" / "samples" / "street" / "annotations.coco.json")) == "Apache-2.0"
    )


def test_training_command_is_recorded_or_rebuilt(tmp_path):
    settings = {
        "data": "d/labels.csv",
        "mode": "img",
        "arch": "resnet18",
        "epochs": 11,
        "image_size": 112,
        "val_from_train": 0.1,
        "classes": ["T-Shirt", "Pants"],
        "extra_data": ["s.json", "t.json"],
        "weights": None,
        "context_margin": 0.1,
    }
    assert rebuilt_command("classifier", settings, Path("runs/x")) == (
        "fashionlens train classifier --data d/labels.csv --mode img --arch resnet18 --epochs 11 --image-size 112 "
        "--val-from-train 0.1 --classes T-Shirt,Pants --extra-data s.json --extra-data t.json --out runs/x"
    )
    detector = rebuilt_command(
        "detector", {"data": "s.json", "tall_anchors": True, "whole_image_boxes": False}, Path("runs/d")
    )
    assert detector == "fashionlens train detector --data s.json --tall-anchors --out runs/d"
    results = tmp_path / "benchmarks" / "results"
    results.mkdir(parents=True)
    command = f"fashionlens train classifier --data x.csv --epochs 3 --out {tmp_path / 'runs' / 'a'}"
    (results / "classifier_a.json").write_text(json.dumps({"a": {"command": command, "other": [1]}}))
    assert recorded_command(tmp_path / "runs" / "a", tmp_path) == command
    assert recorded_command(tmp_path / "runs" / "b", tmp_path) is None


def test_the_classifier_alone_is_replaced_keeping_the_packaged_detector(packaged, tmp_path):
    _, classifier, detector, weights, _ = packaged
    out = tmp_path / "weights"
    with pytest.raises(FashionLensError, match="no packaged detector to keep"):
        package_default_models(classifier, None, out, project_root=tmp_path, keep_detector=True)
    shutil.copytree(weights, out)
    detector_bytes = (out / "detector.pt").read_bytes()
    old_card = (out / "MODEL_CARD.md").read_text(encoding="utf-8")
    (out / "classifier.pt").unlink()
    with pytest.raises(FashionLensError, match=r"kept detector.pt"):  # the kept file counts in the budget
        package_default_models(
            classifier, None, out, project_root=tmp_path, keep_detector=True, max_bytes=len(detector_bytes) + 1000
        )
    assert not (out / "classifier.pt").exists()
    written = package_default_models(classifier, None, out, project_root=tmp_path, keep_detector=True, check_photos=2)
    card = (out / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert [path.name for path in written] == ["classifier.pt", "MODEL_CARD.md"]
    assert (out / "detector.pt").read_bytes() == detector_bytes and (out / "classifier.pt").is_file()
    detector_section = old_card[old_card.index("## Detector") :]
    assert card.endswith(detector_section) and card.count("## Detector") == 1
    assert "float16 check on 2 embedded sample photos" in card  # the classifier's section is new
