"""The run directory's checkpoints and config, each written atomically (core/files.py)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import torch

from fashionlens.core.errors import FashionLensError
from fashionlens.core.files import atomic_write, write_synced, write_text

BEST, LAST = "best.pt", "last.pt"
CHECKPOINT_KEYS = ("kind", "class_names", "preprocessing", "config", "model")
MODEL_ENTRIES = {"classifier": ("arch", "mode"), "detector": ("arch", "anchor_aspect_ratios", "norm")}


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
    return {
        name: tensor.float() if tensor.dtype in (torch.float16, torch.bfloat16) else tensor
        for name, tensor in state.items()
    }


def write_config(run_dir: str | Path, config: dict[str, Any]) -> None:
    write_text(Path(run_dir) / "config.json", json.dumps(config, indent=2, default=str) + "\n")
