"""Classification presets (torchvision.transforms.v2): random for training, deterministic for evaluation.

Both are rebuilt from a checkpoint's `preprocessing` dict alone, so inference needs nothing else.
"""

from __future__ import annotations

from typing import Any

import torch
from torchvision.transforms import v2

from fashionlens.core.model_meta import DEFAULT_CONTEXT_MARGIN

# ImageNet statistics: what torchvision's pretrained weights expect, and a fine default from scratch.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def classification_preprocessing(
    image_size: int,
    context_margin: float = DEFAULT_CONTEXT_MARGIN,
    mean: tuple[float, ...] = IMAGENET_MEAN,
    std: tuple[float, ...] = IMAGENET_STD,
    image_height: int | None = None,
) -> dict[str, Any]:
    """The preprocessing a classifier checkpoint carries (docs/architecture.md). The input is `image_size`
    pixels wide and `image_height` high (square without it: checkpoints from before keep working)."""
    preprocessing = {
        "image_size": int(image_size),
        "mean": list(mean),
        "std": list(std),
        "context_margin": float(context_margin),
    }
    if image_height is not None and image_height != image_size:
        preprocessing["image_height"] = int(image_height)
    return preprocessing


def input_shape(preprocessing: dict[str, Any], width: int | None = None) -> tuple[int, int]:
    """(height, width) of the model's input; with `width` (progressive resizing), that width at the
    input's aspect ratio."""
    full_width = preprocessing["image_size"]
    full_height = preprocessing.get("image_height", full_width)
    width = width or full_width
    return round(width * full_height / full_width), width


def classification_train_transform(preprocessing: dict[str, Any], width: int | None = None) -> v2.Compose:
    """Random resized crop (to `width`, by default the model's, at the model's aspect ratio), horizontal
    flip and colour jitter, then the model's normalisation."""
    height, width = input_shape(preprocessing, width)
    aspect = width / height  # crops vary around the input's own shape (torchvision's 3/4..4/3 of a square)
    return v2.Compose(
        [
            v2.ToImage(),
            # a garment photo is mostly garment: crops keep at least 35% of it, so the label stays true
            v2.RandomResizedCrop(
                (height, width), scale=(0.35, 1.0), ratio=(aspect * 3 / 4, aspect * 4 / 3), antialias=True
            ),
            v2.RandomHorizontalFlip(),
            # no hue: colour is what the catalogue search matches on, and hue is the costliest jitter
            v2.ColorJitter(brightness=0.3, contrast=0.3, saturation=0.3),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(preprocessing["mean"], preprocessing["std"]),
        ]
    )


def classification_eval_transform(preprocessing: dict[str, Any]) -> v2.Compose:
    """Resize the whole image (or crop) to the model's input: nothing is cut off, nothing is random."""
    return v2.Compose(
        [
            v2.ToImage(),
            v2.Resize(input_shape(preprocessing), antialias=True),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(preprocessing["mean"], preprocessing["std"]),
        ]
    )


def progressive_sizes(min_size: int, max_size: int, epochs: int, step: int = 8) -> list[int]:
    """The training size of each epoch: `min_size` for the first quarter of the epochs, growing linearly
    to `max_size` by the last fifth, in steps of `step` pixels (FFCV's progressive resizing).

    Small early epochs cost a fraction of the full size's time, so more epochs fit a time budget, and the
    last epochs at the full size leave the model at the size it is evaluated and used at.
    """
    end = epochs - max(1, round(epochs * 0.2))  # the first epoch at the full size
    start = min(round(epochs * 0.25), end)  # the last epoch at the smallest size
    sizes = []
    for epoch in range(epochs):
        if epoch >= end:  # the two ends exactly, whatever `step` is
            size = max_size
        elif epoch <= start:
            size = min_size
        else:
            size = round((min_size + (epoch - start) / (end - start) * (max_size - min_size)) / step) * step
        sizes.append(min(max_size, max(min_size, size)))
    return sizes


class ProgressiveTrainTransform:
    """The training transform whose width follows `sizes` (one per epoch); the engine calls `set_epoch`
    (through the dataset) before each epoch, in the main process, before the loader's workers start."""

    def __init__(self, preprocessing: dict[str, Any], sizes: list[int]):
        self.preprocessing, self.sizes = preprocessing, list(sizes)
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        self.size = self.sizes[min(epoch, len(self.sizes) - 1)]
        self.transform = classification_train_transform(self.preprocessing, self.size)

    def __call__(self, image: Any) -> torch.Tensor:
        return self.transform(image)
