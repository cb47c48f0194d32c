"""Multi-task training (`train classifier --attribute-labels`): hand labels read and matched to garments by
COCO annotation id, attribute losses over the labelled garments only, heads left out of the model shipped."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from fashionlens.core.checkpoint import load_checkpoint
from fashionlens.core.errors import DataFormatError
from fashionlens.inference.default_models import slim_checkpoint
from fashionlens.models.classifier import GarmentClassifier, classifier_from_checkpoint
from fashionlens.train.attribute_labels import read_attribute_labels
from fashionlens.train.classifier import ClassifierSettings, ClassifierTask, classification_datasets

TINY = ("--epochs", "1", "--image-size", "32", "--workers", "0", "--arch", "mobilenet_v3_small", "--batch-size", "4")
HEADER = "annotation_id,image,garment,region,colour,pattern,sleeve\n"


@pytest.fixture(autouse=True)
def empty_torch_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-cache"))


def write_labels(path: Path, rows: str) -> Path:
    path.write_text(HEADER + rows, encoding="utf-8")
    return path


def test_labels_become_indices_with_blank_and_unclear_missing(tmp_path: Path):
    labels = write_labels(
        tmp_path / "a.csv", "2,1.jpg,jeans,lower,Blue,unclear,\n3,2.jpg,dress,full,Red,floral,short\n"
    )
    assert read_attribute_labels(labels) == {2: (-1, -1, 3), 3: (3, 1, 5)}  # floral, short, Red
    bad = write_labels(tmp_path / "b.csv", "2,1.jpg,jeans,lower,Blue,solid,\n3,2.jpg,dress,full,Navy,solid,short\n")
    with pytest.raises(DataFormatError, match=r"b\.csv:3: unknown colour 'Navy'"):
        read_attribute_labels(bad)
    twice = write_labels(tmp_path / "c.csv", "2,1.jpg,jeans,lower,Blue,solid,\n2,1.jpg,jeans,lower,Blue,solid,\n")
    with pytest.raises(DataFormatError, match=r"c\.csv:3: annotation 2 is labelled twice"):
        read_attribute_labels(twice)


def test_an_attribute_loss_counts_only_the_garments_labelled_with_it():
    torch.manual_seed(0)
    backbone = nn.Sequential(nn.Flatten(), nn.Linear(3 * 4 * 4, 8))
    model = GarmentClassifier(backbone, 8, 2, use_geometry=False, attribute_classes=(7, 3, 13))
    images, geometry = torch.randn(3, 3, 4, 4), torch.zeros(3, 6)
    targets = torch.tensor([[0, 1, -1, 2], [1, -1, -1, 4], [0, -1, -1, -1]])  # pattern: row 0; colour: rows 0, 1
    task = ClassifierTask("tiny", "img", ["A", "B"], {}, attribute_weight=0.5)
    losses = task.losses(model, (images, geometry, targets), torch.device("cpu"))

    logits, attribute_logits = model(images.contiguous(memory_format=torch.channels_last), geometry, attributes=True)
    pattern, _, colour = attribute_logits
    assert torch.isclose(losses["pattern_loss"], F.cross_entropy(pattern[:1], targets[:1, 1]))
    assert torch.isclose(losses["colour_loss"], F.cross_entropy(colour[:2], targets[:2, 3]))
    assert float(losses["sleeve_loss"].detach()) == 0.0  # no garment of the batch has a sleeve label
    category = F.cross_entropy(logits, targets[:, 0])
    expected = category + 0.5 * (losses["pattern_loss"] + losses["sleeve_loss"] + losses["colour_loss"]) / 3
    assert torch.isclose(losses["loss"], expected)
    losses["loss"].backward()
    sleeve_head = model.attribute_heads[1].weight.grad
    assert sleeve_head is not None and float(sleeve_head.abs().sum()) == 0.0  # tied to the graph, learns nothing


def test_trains_with_attribute_labels_and_ships_the_classifier_alone(
    fashionlens, labels_csv_dataset: Path, coco_dataset: Path, tmp_path: Path
):
    # the street-like train split: jeans (annotation 2) -> Pants and dress (3) -> Dress are trained on;
    # annotation 6 is a val garment and 4 has no counterpart among the classes: neither is learned from
    labels = write_labels(
        tmp_path / "attributes.csv",
        "2,0001.jpg,jeans,lower,Blue,solid,\n3,0002.jpg,dress,full,Red,floral,short\n"
        "4,0003.jpg,sweater,upper,Gray,striped,long\n6,0004.jpg,blouse,upper,White,solid,long\n",
    )
    data = ("--data", str(labels_csv_dataset), "--extra-data", str(coco_dataset))
    result = fashionlens(
        "train", "classifier", *data, "--attribute-labels", str(labels), "--out", str(tmp_path / "run"), *TINY
    )
    assert result.returncode == 0, result.stderr
    assert "attribute labels for 2 garments' pattern, 1 garments' sleeve, 2 garments' colour" in result.stderr

    checkpoint = load_checkpoint(tmp_path / "run")
    assert checkpoint["model"]["attribute_heads.0.weight"].shape[0] == 7  # pattern's classes
    model = classifier_from_checkpoint(checkpoint)  # the category classifier alone, loaded strictly
    assert len(model.attribute_heads) == 0 and model(torch.rand(1, 3, 32, 32)).shape == (1, 3)
    shipped = slim_checkpoint(checkpoint)["model"]
    assert "head.weight" in shipped and not [name for name in shipped if name.startswith("attribute_heads")]
    settings = ClassifierSettings(**checkpoint["config"]["settings"])
    train, _ = classification_datasets(settings)
    assert [tuple(train[i][2].tolist()) for i in (len(train) - 2, len(train) - 1)] == [
        (train.class_names.index("Pants"), 0, -1, 3),
        (train.class_names.index("Dress"), 3, 1, 5),
    ]


def test_bad_attribute_labels_are_one_line_and_write_nothing(
    fashionlens, labels_csv_dataset: Path, coco_dataset: Path, tmp_path: Path
):
    out = tmp_path / "run"
    bad = write_labels(tmp_path / "bad.csv", "2,0001.jpg,jeans,lower,Blue,plaid,\n")
    for args, message in (
        (
            ("--extra-data", str(coco_dataset), "--attribute-labels", str(bad)),
            f"error: {bad}:2: unknown pattern 'plaid'",
        ),
        (("--attribute-labels", str(bad)), "error: --attribute-labels labels garments of --extra-data"),
    ):
        result = fashionlens("train", "classifier", "--data", str(labels_csv_dataset), *args, "--out", str(out), *TINY)
        assert isinstance(result, subprocess.CompletedProcess) and result.returncode != 0
        assert "Traceback" not in result.stderr and result.stderr.strip().splitlines()[-1].startswith(message)
    unmatched = write_labels(tmp_path / "unmatched.csv", "99,x.jpg,jeans,lower,Blue,solid,\n")
    result = fashionlens(
        "train", "classifier", "--data", str(labels_csv_dataset), "--extra-data", str(coco_dataset),
        "--attribute-labels", str(unmatched), "--out", str(out), *TINY,
    )  # fmt: skip
    assert (
        result.stderr.strip().splitlines()[-1]
        == f"error: {unmatched}: no training garment has an annotation id labelled in it"
    )
    assert not out.exists()
