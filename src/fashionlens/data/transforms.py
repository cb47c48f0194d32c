"""Classification presets (torchvision.transforms.v2): random for training, deterministic for evaluation.

Both are rebuilt from a checkpoint's `preprocessing` dict alone, so inference needs nothing else.
"""

from __future__ import annotations

from typing import Any

import torch
from torchvision.transforms import v2

# ImageNet statistics: what torchvision's pretrained weights expect, and a fine default from scratch.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
DEFAULT_CONTEXT_MARGIN = 0.1  # share of the box's width/height added on each side of a garment crop


def classification_preprocessing(
    image_size: int,
    context_margin: float = DEFAULT_CONTEXT_MARGIN,
    mean: tuple[float, ...] = IMAGENET_MEAN,
    std: tuple[float, ...] = IMAGENET_STD,
) -> dict[str, Any]:
    """The preprocessing a classifier checkpoint carries (docs/architecture.md)."""
    return {"image_size": int(image_size), "mean": list(mean), "std": list(std),
            "context_margin": float(context_margin)}


def classification_train_transform(preprocessing: dict[str, Any]) -> v2.Compose:
    """Random resized crop, horizontal flip and colour jitter, then the model's normalisation."""
    size = preprocessing["image_size"]
    return v2.Compose([
        v2.ToImage(),
        # a garment photo is mostly garment: crops keep at least 35% of it, so the label stays true
        v2.RandomResizedCrop(size, scale=(0.35, 1.0), antialias=True),
        v2.RandomHorizontalFlip(),
        v2.ColorJitter(brightness=0.3, contrast=0.3, saturation=0.3, hue=0.02),
        v2.ToDtype(torch.float32, scale=True),
        v2.Normalize(preprocessing["mean"], preprocessing["std"]),
    ])


def classification_eval_transform(preprocessing: dict[str, Any]) -> v2.Compose:
    """Resize the whole image (or crop) to a square: nothing is cut off, nothing is random."""
    size = preprocessing["image_size"]
    return v2.Compose([
        v2.ToImage(),
        v2.Resize((size, size), antialias=True),
        v2.ToDtype(torch.float32, scale=True),
        v2.Normalize(preprocessing["mean"], preprocessing["std"]),
    ])
