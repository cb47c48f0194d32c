"""DistributedDataParallel: `torchrun --nproc_per_node 2` on the CPU (gloo), as a user with GPUs scales out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fashionlens.core.checkpoint import load_checkpoint

pytestmark = [pytest.mark.ddp, pytest.mark.slow]


def test_two_processes_train_together_and_rank_zero_writes_the_run(labels_csv_dataset: Path, tmp_path: Path):
    launcher = tmp_path / "fashionlens_main.py"
    launcher.write_text("from fashionlens.cli import main\nmain()\n", encoding="utf-8")
    out = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        str(launcher),
        "train",
        "classifier",
        "--data",
        str(labels_csv_dataset),
        "--out",
        str(out),
        "--arch",
        "mobilenet_v3_small",
        "--epochs",
        "1",
        "--image-size",
        "32",
        "--batch-size",
        "2",
        "--workers",
        "0",
    ]
    environment = {**os.environ, "TORCH_HOME": str(tmp_path / "torch-cache"), "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, env=environment)
    assert result.returncode == 0, result.stderr[-3000:]  # torchrun fails when any rank fails
    assert json.loads((out / "config.json").read_text())["world_size"] == 2
    history = json.loads((out / "history.json").read_text())
    # 12 training images split between the ranks: 6 each, summed by rank 0 into the history
    assert history[0]["images"] == 12
    assert {"val_balanced_accuracy", "train_balanced_accuracy"} <= set(history[0])
    checkpoint = load_checkpoint(out)
    assert checkpoint["class_names"] == ["Dress", "Pants", "T-Shirt"]
    assert not any(name.startswith("module.") for name in checkpoint["model"])  # DDP's wrapper is not saved
    assert result.stdout.count("best val balanced accuracy") == 1  # rank 0 alone reports
