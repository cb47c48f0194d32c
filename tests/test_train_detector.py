"""`fashionlens train detector` end to end on a tiny COCO dataset, in a fresh process as a user runs it."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from torch import nn
from torchvision.models import resnet18
from typer.testing import CliRunner

from conftest import make_coco_dataset, make_labels_csv_dataset
from fashionlens.cli import app
from fashionlens.core.checkpoint import load_checkpoint, save_checkpoint
from fashionlens.core.errors import FashionLensError
from fashionlens.evaluation.detection import build_ground_truth
from fashionlens.train.detector import DetectionTask, DetectorSettings, detection_datasets, train_detector
from fashionlens.train.engine import Optimization, train_step

TINY = ["--arch", "fasterrcnn_mobilenet_v3_large_320_fpn", "--image-size", "64", "--batch-size", "2", "--workers", "0"]
LOSSES = [
    "train_loss",
    "train_loss_classifier",
    "train_loss_box_reg",
    "train_loss_objectness",
    "train_loss_rpn_box_reg",
]


def fashionlens(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "from fashionlens.cli import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_train_writes_history_checkpoints_and_resumes(coco_dataset: Path, tmp_path: Path):
    run = tmp_path / "run"
    result = fashionlens(
        "train", "detector", "--data", str(coco_dataset), "--epochs", "1", "--out", str(run), "--json", *TINY
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)  # stdout holds only the JSON
    assert summary["epochs"] == 1 and summary["best_epoch"] == 1
    assert 0.0 <= summary["best_val_map"] <= summary["best_val_map50"] <= 1.0
    assert "3 training images (5 boxes, 0 without garments), 1 validation images" in result.stderr
    with (run / "history.csv").open() as handle:
        row = next(csv.DictReader(handle))
    for column in LOSSES + ["val_map", "val_map50", "val_score_threshold"]:
        assert row[column] != "", column
    assert all(
        (run / name).is_file()
        for name in ("config.json", "history.json", "history.png", "map50.png", "best.pt", "last.pt")
    )
    assert json.loads((run / "config.json").read_text())["clip_grad_norm"] == 10.0
    best = load_checkpoint(run / "best.pt")
    assert best["kind"] == "detector" and best["class_names"] == ["upper", "lower", "full"]
    assert best["preprocessing"]["min_size"] == best["preprocessing"]["max_size"] == 64
    assert best["score_threshold"] == summary["score_threshold"]

    with pytest.raises(FashionLensError, match="already holds a run; pass --resume"):
        train_detector(DetectorSettings(data=str(coco_dataset)), run)


@pytest.mark.slow
def test_resume_continues_an_interrupted_run(coco_dataset: Path, tmp_path: Path, monkeypatch):
    steps = []

    def interrupt_in_epoch_two(task, model, batch, device):
        steps.append(1)
        if len(steps) == 2:  # 3 training images, batches of 2 (the last partial one dropped): 1 step per epoch
            raise KeyboardInterrupt
        return losses(task, model, batch, device)

    losses = DetectionTask.losses
    monkeypatch.setattr(DetectionTask, "losses", interrupt_in_epoch_two)
    settings = DetectorSettings(data=str(coco_dataset), arch=TINY[1], epochs=2, image_size=64, batch_size=2)
    with pytest.raises(KeyboardInterrupt):
        train_detector(settings, tmp_path / "run")
    assert [row["epoch"] for row in json.loads((tmp_path / "run" / "history.json").read_text())] == [1]
    history = train_detector(DetectorSettings(data="ignored on resume"), tmp_path / "run", resume=True)
    assert [row["epoch"] for row in history] == [1, 2] and len(steps) == 3
    assert load_checkpoint(tmp_path / "run" / "last.pt")["epoch"] == 1


def test_without_val_split_training_runs_and_says_so(tmp_path: Path, capsys):
    images = [
        ("train", [(1, "blouse", [8, 4, 40, 18])]),
        ("train", []),  # a negative photo
        ("train", [(3, "dress", [6, 4, 50, 40]), (2, "skirt", [-3, 30, 40, 30])]),
    ]  # one box outside
    data = make_coco_dataset(tmp_path / "street", images=images)
    settings = DetectorSettings(data=str(data), arch=TINY[1], epochs=1, image_size=64, batch_size=2)
    history = train_detector(settings, tmp_path / "run")
    messages = capsys.readouterr().err
    assert "no validation split: validation is skipped" in messages
    assert "3 training images (3 boxes, 1 without garments), 0 validation images" in messages
    assert "train: clipped to the image (1)\n" in messages
    assert not any(key.startswith("val_") for key in history[0])
    assert load_checkpoint(tmp_path / "run")["score_threshold"] == 0.5


def test_whole_image_boxes_make_catalogue_photos_trainable(tmp_path: Path, capsys):
    data = make_labels_csv_dataset(tmp_path / "clothing", classes=("T-Shirt", "Pants", "Shoes"))
    settings = DetectorSettings(data=str(data), epochs=1, image_size=64)
    with pytest.raises(FashionLensError, match="--whole-image-boxes boxes whole-image labels by the image"):
        detection_datasets(settings)
    train_set, val_set = detection_datasets(replace(settings, whole_image_boxes=True))
    assert [target.boxes for target in train_set.targets] == [[[0, 0, 32, 32]]] * 8  # 4 T-shirts, 4 pants
    assert sorted({label for target in train_set.targets for label in target.labels}) == [1, 2]
    assert "train: images skipped: whole-image labels only (no box) (4)" in capsys.readouterr().err  # shoes
    # validation scores the same whole-image boxes
    assert len(build_ground_truth(val_set.samples, ["upper", "lower", "full"]).coco["annotations"]) == 4


def classifier_run(tmp_path: Path) -> tuple[Path, dict]:
    """A `train classifier` run directory holding a (random) resnet18 GarmentClassifier's weights."""
    torch.manual_seed(0)
    state = {f"backbone.{k}": v for k, v in resnet18().state_dict().items() if not k.startswith("fc.")}
    save_checkpoint(
        {
            "kind": "classifier",
            "arch": "resnet18",
            "mode": "img",
            "class_names": ["a", "b"],
            "preprocessing": {},
            "config": {},
            "model": state,
        },
        tmp_path / "clf" / "best.pt",
    )
    return tmp_path / "clf", state


@pytest.mark.slow
def test_backbone_from_a_classifier_run(coco_dataset: Path, tmp_path: Path):
    run_dir, classifier = classifier_run(tmp_path)
    settings = DetectorSettings(
        data=str(coco_dataset), epochs=1, image_size=64, batch_size=2, backbone_from=str(run_dir)
    )
    train_detector(settings, tmp_path / "run")
    detector = load_checkpoint(tmp_path / "run" / "last.pt")
    assert detector["arch"] == "fasterrcnn_resnet18_fpn" and detector["norm"] == "frozen_batchnorm"
    assert detector["config"]["settings"]["arch"] == "fasterrcnn_resnet18_fpn"
    # conv1 stays frozen (torchvision trains the last three stages of a pretrained backbone)
    assert torch.equal(detector["model"]["backbone.body.conv1.weight"], classifier["backbone.conv1.weight"])
    wrong = DetectorSettings(data=str(coco_dataset), arch="fasterrcnn_resnet50_fpn", backbone_from=str(run_dir))
    with pytest.raises(FashionLensError) as error:
        train_detector(wrong, tmp_path / "other")
    assert str(error.value) == (
        "--backbone-from holds a resnet18 classifier, which does not fit "
        "fasterrcnn_resnet50_fpn's resnet50 backbone; use --arch fasterrcnn_resnet18_fpn"
    )


def test_ema_averages_the_detector_weights_and_a_bad_decay_is_refused(coco_dataset: Path, tmp_path: Path):
    settings = DetectorSettings(
        data=str(coco_dataset),
        arch="fasterrcnn_mobilenet_v3_large_320_fpn",
        epochs=1,
        image_size=64,
        batch_size=1,
        ema=0.5,
    )  # three steps
    train_detector(settings, tmp_path / "run", workers=0)
    last = load_checkpoint(tmp_path / "run" / "last.pt")
    assert last["config"]["ema_decay"] == 0.5 and last["config"]["settings"]["ema"] == 0.5
    name = "roi_heads.box_predictor.cls_score.weight"  # trained from the first step: the average lags behind
    assert not torch.equal(last["model"][name], last["trained_model"][name])
    with pytest.raises(FashionLensError, match="--ema 2.0 is not a decay between 0 and 1"):
        train_detector(replace(settings, ema=2.0), tmp_path / "bad")
    assert not (tmp_path / "bad").exists()


class HugeLoss:
    """A loss whose gradient norm is far above any clipping limit."""

    def losses(self, model, batch, device):
        return {"loss": model(batch[0]).sum() * 1000}


def test_engine_clips_the_gradient_norm_the_detector_asks_for():
    model = nn.Linear(4, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    optimization = Optimization(optimizer, schedule, scaler)
    train_step(model, HugeLoss(), optimization, (torch.ones(2, 4),), torch.device("cpu"), 0.5)
    norm = torch.linalg.vector_norm(torch.cat([p.grad.flatten() for p in model.parameters()]))
    assert norm.item() == pytest.approx(0.5)
    train_step(model, HugeLoss(), optimization, (torch.ones(2, 4),), torch.device("cpu"))
    assert torch.linalg.vector_norm(torch.cat([p.grad.flatten() for p in model.parameters()])).item() > 1000


def test_help_teaches_use():
    result = CliRunner().invoke(app, ["train", "detector", "--help"])
    assert result.exit_code == 0
    assert "Example: fashionlens train detector" in result.output and "--backbone-from" in result.output
    assert "--whole-image-boxes" in result.output
