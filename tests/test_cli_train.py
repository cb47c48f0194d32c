"""`fashionlens train classifier` end to end on tiny datasets: run directory, modes, balance, seeds,
resume after an interruption, and one clear line for each bad input."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import torch

from fashionlens.core.checkpoint import load_checkpoint
from fashionlens.data import read_dataset
from fashionlens.models.classifier import classifier_from_checkpoint, predict_classifier
from fashionlens.train.classifier import ClassifierSettings, ClassifierTask, classification_datasets

# a small, fast architecture; options given again later on a command line win (as in any click program)
TINY = ("--epochs", "1", "--image-size", "32", "--workers", "0", "--arch", "mobilenet_v3_small", "--batch-size", "4")


@pytest.fixture(autouse=True)
def empty_torch_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """No pretrained weights on the test machine, whatever the developer's cache holds."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-cache"))


@pytest.fixture
def fashionlens(fashionlens):
    """`fashionlens train classifier ARGS` in this process: (exit code, stdout, stderr)."""
    return lambda *args: fashionlens("train", "classifier", *args)


def last_error_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode != 0 and "Traceback" not in result.stderr
    return result.stderr.strip().splitlines()[-1]


@pytest.mark.slow
def test_trains_into_a_complete_run_directory(fashionlens, labels_csv_dataset: Path, tmp_path: Path):
    out = tmp_path / "run"
    result = fashionlens("--data", str(labels_csv_dataset), "--out", str(out), "--json", *TINY, "--arch", "resnet18")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["epochs"] == 1 and summary["best_epoch"] == 1
    assert "training resnet18 from scratch (--pretrained none)" in result.stderr and "images/s" not in result.stdout
    for name in (
        "config.json",
        "history.csv",
        "history.json",
        "history.png",
        "loss.png",
        "accuracy.png",
        "balanced_accuracy.png",
        "best.pt",
        "last.pt",
    ):
        assert (out / name).is_file(), name
    history = json.loads((out / "history.json").read_text())
    assert {
        "train_loss",
        "train_accuracy",
        "train_balanced_accuracy",
        "val_loss",
        "val_accuracy",
        "val_balanced_accuracy",
    } <= set(history[0])
    checkpoint = load_checkpoint(out)
    assert checkpoint["class_names"] == ["Dress", "Pants", "T-Shirt"] and checkpoint["mode"] == "img"
    assert checkpoint["preprocessing"]["image_size"] == 32 and checkpoint["config"]["settings"]["arch"] == "resnet18"
    # the checkpoint alone is enough to predict
    labels, probabilities = predict_classifier(
        classifier_from_checkpoint(checkpoint), checkpoint, read_dataset(labels_csv_dataset)[:4]
    )
    assert len(labels) == 4 and probabilities.shape == (4, 3)


def test_img_bbox_with_class_weights_and_sampler(fashionlens, coco_dataset: Path, tmp_path: Path):
    for balance in ("weights", "sampler"):
        out = tmp_path / balance
        result = fashionlens(
            "--data",
            str(coco_dataset),
            "--out",
            str(out),
            "--mode",
            "img+bbox",
            "--balance",
            balance,
            *TINY,
            "--batch-size",
            "2",
        )
        assert result.returncode == 0, result.stderr
        assert "val: skipped 1 (label not among the classes)" in result.stderr  # `pants` is only in val
        checkpoint = load_checkpoint(out)
        assert checkpoint["mode"] == "img+bbox" and checkpoint["preprocessing"]["context_margin"] == 0.1
        assert checkpoint["class_names"] == ["blouse", "dress", "jeans", "skirt", "sweater"]
        assert "head.weight" in checkpoint["model"] and "geometry.0.weight" in checkpoint["model"]


@pytest.mark.slow
def test_same_seed_same_weights_after_one_epoch(fashionlens, labels_csv_dataset: Path, tmp_path: Path):
    runs = {}
    for name, seed in (("a", "7"), ("b", "7"), ("c", "8")):
        result = fashionlens("--data", str(labels_csv_dataset), "--out", str(tmp_path / name), "--seed", seed, *TINY)
        assert result.returncode == 0, result.stderr
        runs[name] = load_checkpoint(tmp_path / name / "last.pt")["model"]
    assert all(torch.equal(runs["a"][key], runs["b"][key]) for key in runs["a"])
    assert not all(torch.equal(runs["a"][key], runs["c"][key]) for key in runs["a"])


@pytest.mark.slow
def test_resume_continues_an_interrupted_run_to_the_same_result(
    fashionlens, labels_csv_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    two_epochs = ("--data", str(labels_csv_dataset), *TINY, "--epochs", "2")
    assert fashionlens(*two_epochs, "--out", str(tmp_path / "full")).returncode == 0
    steps = {"count": 0}
    real_losses = ClassifierTask.losses

    def interrupted_in_epoch_two(self, model, batch, device):
        steps["count"] += 1
        if steps["count"] == 4:  # 12 images, batches of 4: the first step of epoch 2
            raise KeyboardInterrupt
        return real_losses(self, model, batch, device)

    monkeypatch.setattr(ClassifierTask, "losses", interrupted_in_epoch_two)
    cut = tmp_path / "cut"
    result = fashionlens(*two_epochs, "--out", str(cut))
    assert result.returncode == 130 and "Traceback" not in result.stderr  # Ctrl-C's exit status
    assert load_checkpoint(cut / "last.pt")["epoch"] == 0
    monkeypatch.setattr(ClassifierTask, "losses", real_losses)
    result = fashionlens("--resume", "--out", str(cut), "--workers", "0")
    assert result.returncode == 0, result.stderr
    assert "resuming" in result.stderr and "at epoch 2" in result.stderr
    full, resumed = load_checkpoint(tmp_path / "full" / "last.pt"), load_checkpoint(cut / "last.pt")
    assert resumed["epoch"] == 1
    assert all(torch.equal(full["model"][key], resumed["model"][key]) for key in full["model"])
    history = json.loads((cut / "history.json").read_text())
    assert [row["epoch"] for row in history] == [1, 2]


def test_progressive_resizing_trains_small_then_at_the_image_size_keeping_the_aspect(
    fashionlens, labels_csv_dataset: Path, tmp_path: Path
):
    out = tmp_path / "run"
    result = fashionlens(
        "--data",
        str(labels_csv_dataset),
        "--out",
        str(out),
        *TINY,
        "--epochs",
        "2",
        "--image-size",
        "48",
        "--image-height",
        "64",
        "--min-image-size",
        "32",
    )
    assert result.returncode == 0, result.stderr
    assert "training width per epoch: 32 48" in result.stderr
    checkpoint = load_checkpoint(out)
    assert checkpoint["preprocessing"]["image_size"] == 48 and checkpoint["config"]["settings"]["min_image_size"] == 32
    assert checkpoint["preprocessing"]["image_height"] == 64  # 3:4 portrait: 32 x 43 px, then 48 x 64
    line = last_error_line(
        fashionlens("--data", str(labels_csv_dataset), "--out", str(tmp_path / "bad"), *TINY, "--min-image-size", "64")
    )
    assert line == "error: --min-image-size 64 is above --image-size 32; it is where progressive resizing starts"


def test_data_without_val_split_trains_and_says_so(fashionlens, make_labels_csv_dataset, tmp_path: Path):
    data = make_labels_csv_dataset(tmp_path / "data", per_split={"train": 3})
    result = fashionlens("--data", str(data), "--out", str(tmp_path / "run"), *TINY)
    assert result.returncode == 0, result.stderr
    assert "no validation split: validation is skipped" in result.stderr
    assert "without validation" in result.stdout
    assert not (tmp_path / "run" / "best.pt").exists() and (tmp_path / "run" / "last.pt").exists()


def test_val_from_train_validates_on_a_share_of_train(fashionlens, make_labels_csv_dataset, tmp_path: Path):
    data = make_labels_csv_dataset(tmp_path / "data", per_split={"train": 4})
    result = fashionlens(
        "--data",
        str(data),
        "--out",
        str(tmp_path / "run"),
        "--val-from-train",
        "0.25",
        "--classes",
        "Pants,Dress",
        *TINY,
    )
    assert result.returncode == 0, result.stderr
    assert "3 images carved from train" in result.stderr and "2 classes, 6 training and 2 validation" in result.stderr
    assert load_checkpoint(tmp_path / "run")["class_names"] == ["Pants", "Dress"]


def test_extra_data_adds_its_mapped_train_garments_as_crops(
    fashionlens, labels_csv_dataset: Path, coco_dataset: Path, make_coco_dataset, tmp_path: Path
):
    result = fashionlens(
        "--data", str(labels_csv_dataset), "--extra-data", str(coco_dataset), "--out", str(tmp_path / "run"), *TINY
    )
    assert result.returncode == 0, result.stderr
    # the street-like train split: jeans -> Pants and dress -> Dress; blouse, sweater, skirt have no
    # counterpart among T-Shirt, Pants, Dress; the val photo's garments are never trained on
    assert "2 more training garments (its train split, as crops); 3 left out" in result.stderr
    settings = ClassifierSettings(**load_checkpoint(tmp_path / "run")["config"]["settings"])
    assert settings.extra_data == [str(coco_dataset)]
    train, val = classification_datasets(settings)
    assert len(train) == 12 + 2 and len(val) == 6
    extra = train.datasets[1]
    assert extra.crop and [(item.label, item.box.width) for item in extra.items] == [("Pants", 36), ("Dress", 50)]
    assert train.targets[-2:] == [train.class_names.index("Pants"), train.class_names.index("Dress")]
    train.set_epoch(0)  # reaches both datasets (their shared progressive transform)

    blouses = make_coco_dataset(tmp_path / "blouses", [("train", [(1, "blouse", [8, 4, 40, 18])])])
    line = last_error_line(
        fashionlens(
            "--data", str(labels_csv_dataset), "--extra-data", str(blouses), "--out", str(tmp_path / "none"), *TINY
        )
    )
    assert line.startswith(f"error: {blouses}: no garment in its training split has a label that maps onto")
    assert not (tmp_path / "none").exists()


def test_bad_inputs_are_one_line_and_write_nothing(fashionlens, labels_csv_dataset: Path, tmp_path: Path):
    data = ("--data", str(labels_csv_dataset))
    empty = tmp_path / "empty"
    assert "no last.pt to resume from" in last_error_line(fashionlens("--resume", "--out", str(empty)))
    line = last_error_line(fashionlens(*data, "--out", str(empty), *TINY, "--image-size", "16"))
    assert line == "error: --image-size 16 is below mobilenet_v3_small's minimum of 32 px"
    line = last_error_line(fashionlens(*data, "--out", str(empty), *TINY, "--classes", "Pants,Hat"))
    assert line.startswith("error: --classes: Hat not among the training labels")
    line = last_error_line(fashionlens(*data, "--out", str(empty), *TINY, "--ema", "1.5"))
    assert line == "error: --ema 1.5 is not a decay between 0 and 1 (e.g. 0.998)"
    assert not empty.exists()

    run = tmp_path / "run"
    assert fashionlens(*data, "--out", str(run), *TINY).returncode == 0
    assert "already holds a run" in last_error_line(fashionlens(*data, "--out", str(run), *TINY))
    before = (run / "last.pt").read_bytes(), (run / "history.json").read_text()
    labels_csv_dataset.write_text(labels_csv_dataset.read_text().replace("Dress", "Skirt"))
    line = last_error_line(fashionlens("--resume", "--out", str(run)))
    assert "class_names ['Dress', 'Pants', 'T-Shirt'] differs from this run's ['Pants', 'Skirt', 'T-Shirt']" in line
    assert ((run / "last.pt").read_bytes(), (run / "history.json").read_text()) == before
