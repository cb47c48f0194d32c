"""Run-directory files: atomic checkpoints, best-else-last loading, clear errors, history files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from fashionlens.core.checkpoint import load_checkpoint, save_checkpoint
from fashionlens.core.errors import FashionLensError
from fashionlens.train.history import metric_groups, write_history


def checkpoint(epoch: int) -> dict:
    return {
        "kind": "classifier",
        "arch": "resnet18",
        "mode": "img",
        "class_names": ["a", "b"],
        "preprocessing": {"image_size": 32},
        "config": {},
        "metrics": {},
        "epoch": epoch,
        "model": {"weight": torch.full((2,), float(epoch))},
    }


def test_best_is_preferred_over_last(tmp_path: Path):
    save_checkpoint(checkpoint(3), tmp_path / "last.pt")
    assert load_checkpoint(tmp_path)["epoch"] == 3
    save_checkpoint(checkpoint(1), tmp_path / "best.pt")
    loaded = load_checkpoint(tmp_path)
    assert loaded["epoch"] == 1 and loaded["path"] == str(tmp_path / "best.pt")
    assert torch.equal(loaded["model"]["weight"], torch.ones(2))
    assert load_checkpoint(tmp_path / "last.pt")["epoch"] == 3


def test_a_failed_save_leaves_the_previous_checkpoint_and_no_temporary_file(tmp_path: Path):
    save_checkpoint(checkpoint(1), tmp_path / "last.pt")
    with pytest.raises((AttributeError, TypeError, RuntimeError)):  # pickle's error for a lambda
        save_checkpoint({**checkpoint(2), "model": lambda: None}, tmp_path / "last.pt")  # cannot be pickled
    assert load_checkpoint(tmp_path)["epoch"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]


def test_missing_and_foreign_checkpoints_are_one_clear_error(tmp_path: Path):
    with pytest.raises(FashionLensError, match="no checkpoint in this run directory"):
        load_checkpoint(tmp_path)
    with pytest.raises(FashionLensError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "nothing.pt")
    (tmp_path / "garbage.pt").write_bytes(b"not a checkpoint at all")
    with pytest.raises(FashionLensError, match="garbage.pt: not a readable checkpoint"):
        load_checkpoint(tmp_path / "garbage.pt")
    torch.save({"weight": torch.zeros(1)}, tmp_path / "plain.pt")
    with pytest.raises(FashionLensError, match="plain.pt: not a fashionlens checkpoint"):
        load_checkpoint(tmp_path / "plain.pt")


def test_history_is_written_as_json_csv_and_plots(tmp_path: Path):
    history = [
        {"epoch": 1, "lr": 0.1, "train_loss": 2.0, "val_loss": 1.5, "val_accuracy": 0.5},
        {"epoch": 2, "lr": 0.05, "train_loss": 1.0, "val_loss": 1.2, "val_accuracy": 0.75},
    ]
    write_history(tmp_path, history)
    assert json.loads((tmp_path / "history.json").read_text()) == history
    assert (tmp_path / "history.csv").read_text().splitlines() == [
        "epoch,lr,train_loss,val_loss,val_accuracy",
        "1,0.1,2.0,1.5,0.5",
        "2,0.05,1.0,1.2,0.75",
    ]
    assert metric_groups(history) == {"loss": ["train_loss", "val_loss"], "accuracy": ["val_accuracy"]}
    for name in ("history.png", "loss.png", "accuracy.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    assert not list(tmp_path.glob(".*tmp*"))
