"""The run directory's files: checkpoints, config and history, each written atomically.

Every file is written to a temporary name in the same folder and renamed over the target, so a crash
or Ctrl-C never leaves half a checkpoint or half a history behind (os.replace is atomic on one disk).
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any, Callable

import torch

from .errors import DiskFull, FashionLensError, is_disk_full

BEST, LAST = "best.pt", "last.pt"
CHECKPOINT_KEYS = ("kind", "class_names", "preprocessing", "config", "model")
MODEL_ENTRIES = {"classifier": ("arch", "mode"), "detector": ("arch", "anchor_aspect_ratios", "norm")}


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> None:
    """Call `write(temporary_path)`, then rename the temporary file onto `path`. A full disk raises
    DiskFull naming `path`; the previous file at `path` is left as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    try:
        write(temporary)
        os.replace(temporary, path)
    except Exception as error:
        if is_disk_full(error):
            raise DiskFull(path) from error
        raise
    finally:
        temporary.unlink(missing_ok=True)


def write_synced(path: Path, data: bytes | memoryview) -> None:
    """Write and fsync, so that the rename that follows never publishes a file still in the page cache."""
    with open(path, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())


def write_text(path: str | Path, text: str) -> None:
    atomic_write(path, lambda temporary: temporary.write_text(text, encoding="utf-8"))


def save_checkpoint(checkpoint: dict[str, Any], path: str | Path) -> None:
    """Save a checkpoint dict (format in docs/architecture.md) atomically."""
    # Serialised in memory first: torch.save's own file writer reports a full disk as a RuntimeError
    # ("unexpected pos ..."), without the OS error; a plain write raises OSError ENOSPC instead.
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    atomic_write(path, lambda temporary: write_synced(temporary, buffer.getbuffer()))


def read_torch_file(path: Path, what: str) -> object:
    """torch.load on the CPU, tensors and plain values only (never code to run); one clear error."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for a damaged or foreign file
        raise FashionLensError(f"{path}: not a readable {what} ({type(error).__name__})") from None


def load_checkpoint(run_dir_or_file: str | Path) -> dict[str, Any]:
    """Load a checkpoint file, or a run directory's best.pt (else its last.pt), on the CPU.

    Raises FashionLensError when there is no checkpoint or the file is not a fashionlens checkpoint.
    """
    path = checkpoint_file(run_dir_or_file)
    checkpoint = read_torch_file(path, "checkpoint")
    if not isinstance(checkpoint, dict) or not all(key in checkpoint for key in CHECKPOINT_KEYS):
        raise FashionLensError(f"{path}: not a fashionlens checkpoint (missing {', '.join(CHECKPOINT_KEYS)})")
    if isinstance(checkpoint["model"], dict):
        checkpoint["model"] = full_precision(checkpoint["model"])
    checkpoint["path"] = str(path)
    return checkpoint


def require_model_entries(checkpoint: dict[str, Any], kind: str) -> None:
    """A `kind` checkpoint with the entries its model is rebuilt from: checked before building, so that a
    damaged or hand-made file is one clear error rather than a KeyError half-way through."""
    path = checkpoint.get("path", "checkpoint")
    if checkpoint.get("kind") != kind:
        raise FashionLensError(f"{path}: a {checkpoint.get('kind')} checkpoint, not a {kind}")
    missing = [key for key in MODEL_ENTRIES[kind] if key not in checkpoint]
    if missing:
        raise FashionLensError(f"{path}: a damaged {kind} checkpoint (missing {', '.join(missing)})")


def checkpoint_file(run_dir_or_file: str | Path) -> Path:
    """The checkpoint load_checkpoint() reads: the file itself, or a run directory's best.pt (else last.pt)."""
    path = Path(run_dir_or_file)
    if path.is_dir():
        found = [path / name for name in (BEST, LAST) if (path / name).is_file()]
        if not found:
            raise FashionLensError(f"{path}: no checkpoint in this run directory (expected {BEST} or {LAST})")
        return found[0]
    if not path.is_file():
        raise FashionLensError(f"{path}: checkpoint not found")
    return path


def full_precision(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Half-precision tensors (the shipped default models store float16) back in float32: the
    models compute in float32 on every device, and a fingerprint of the weights must not depend on
    how they were stored."""
    return {name: tensor.float() if tensor.dtype in (torch.float16, torch.bfloat16) else tensor
            for name, tensor in state.items()}


def write_config(run_dir: str | Path, config: dict[str, Any]) -> None:
    write_text(Path(run_dir) / "config.json", json.dumps(config, indent=2, default=str) + "\n")


def read_history(run_dir: str | Path) -> list[dict[str, Any]]:
    path = Path(run_dir) / "history.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else []


def write_history(run_dir: str | Path, history: list[dict[str, Any]]) -> None:
    """history.json, history.csv, history.png and one PNG per metric group (loss.png, accuracy.png...)."""
    run_dir = Path(run_dir)
    write_text(run_dir / "history.json", json.dumps(history, indent=2) + "\n")
    columns = list(dict.fromkeys(key for row in history for key in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(history)
    write_text(run_dir / "history.csv", buffer.getvalue())
    plot_history(run_dir, history)


def metric_groups(history: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Group `train_X` and `val_X` columns by X, so train and val of one metric share a plot."""
    groups: dict[str, list[str]] = {}
    for key in dict.fromkeys(key for row in history for key in row):
        for prefix in ("train_", "val_"):
            if key.startswith(prefix):
                groups.setdefault(key[len(prefix):], []).append(key)
    return groups


def plot_history(run_dir: Path, history: list[dict[str, Any]]) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display on servers; must precede pyplot
    import matplotlib.pyplot as plt

    groups = metric_groups(history)
    if not groups:
        return
    epochs = [row["epoch"] for row in history]
    overview, axes = plt.subplots(1, len(groups), figsize=(4 * len(groups), 3.2), squeeze=False)
    for axis, (name, keys) in zip(axes[0], groups.items()):
        single, single_axis = plt.subplots(figsize=(5, 3.5))
        for target in (axis, single_axis):
            for key in keys:
                values = [row.get(key) for row in history]
                target.plot(epochs, [float("nan") if v is None else v for v in values], marker="o", label=key)
            target.set_title(name.replace("_", " "))
            target.set_xlabel("epoch")
            target.legend()
        single.tight_layout()
        atomic_write(run_dir / f"{name}.png", lambda temporary: single.savefig(temporary, format="png"))
        plt.close(single)
    overview.tight_layout()
    atomic_write(run_dir / "history.png", lambda temporary: overview.savefig(temporary, format="png"))
    plt.close(overview)
