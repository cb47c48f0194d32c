"""Where models run: --device names as torch devices."""

from __future__ import annotations

import os

import torch

from fashionlens.core.errors import FashionLensError


def torch_device(name: str | None) -> torch.device:
    """cpu, cuda or cuda:N as a torch device; one line when it is not one, or when CUDA is absent."""
    try:
        device = torch.device(name or "cpu")
    except (RuntimeError, ValueError):
        raise FashionLensError(f"--device {name}: not a device; use cpu, cuda or cuda:N") from None
    if device.type not in ("cpu", "cuda"):
        raise FashionLensError(f"--device {name}: not a device; use cpu, cuda or cuda:N")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise FashionLensError(f"--device {name}: no CUDA GPU is available here")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise FashionLensError(f"--device {name}: this machine has {torch.cuda.device_count()} CUDA GPU(s)")
    return device


def pick_device(requested: str | None) -> torch.device:
    """`requested` as given; else the GPU of this process's rank when there is one, else the CPU."""
    if requested:
        return torch.device(requested)
    if torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return torch.device("cpu")
