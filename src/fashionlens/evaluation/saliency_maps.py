"""Saliency in `fashionlens evaluate`: Grad-CAM maps of a classifier on the evaluated garments, exactly as
predict_classifier showed them (the same dataset items and pixels), for the pointing game and energy
share (evaluation/saliency.py) and for the report's grid of the most confident errors.
"""

from __future__ import annotations

import io
import math
from typing import Any

import numpy as np
import torch
from torch import nn

from fashionlens.core.images import image_size, load_image
from fashionlens.core.records import Box
from fashionlens.data.classification import ClassificationDataset, margin_rect
from fashionlens.evaluation.gradcam import Rect, box_in_view, class_maps, view_overlay
from fashionlens.evaluation.saliency import MAX_GARMENTS, GarmentLook, confident_errors, summary
from fashionlens.models.classifier import evaluation_dataset

GRID_COLUMNS = 4
THUMBNAIL_SIDE = 160


def evaluated_dataset(checkpoint: dict[str, Any], samples: list, crops: bool) -> ClassificationDataset:
    """The dataset predict_classifier builds for these samples: its items are the predictions' rows."""
    return evaluation_dataset(checkpoint, samples, crops or None)


def item_view(dataset: ClassificationDataset, index: int) -> tuple[Rect, Box]:
    """Where the classifier's input of item `index` lies in its photo, and the garment's box there."""
    item = dataset.items[index]
    width, height = image_size(item.image)
    box = item.box or Box(0.0, 0.0, float(width), float(height))
    if dataset.crop:
        return margin_rect(box, dataset.context_margin, width, height), box
    return (0, 0, width, height), box


def maps_of(
    model: nn.Module, dataset: ClassificationDataset, indices: list[int], targets: list[int], batch_size: int
) -> list[np.ndarray]:
    """Grad-CAM maps of class targets[i] on item indices[i], a batch at a time."""
    maps: list[np.ndarray] = []
    for start in range(0, len(indices), batch_size):
        batch = [dataset[index] for index in indices[start : start + batch_size]]
        pixels = torch.stack([pixels for pixels, _, _ in batch])
        geometry = torch.stack([geometry for _, geometry, _ in batch])
        maps += list(class_maps(model, pixels, geometry, targets[start : start + batch_size]))
    return maps


def garment_looks(model: nn.Module, dataset: ClassificationDataset, batch_size: int = 16) -> dict:
    """The pointing game and energy share over the items with an annotated box and a known class
    (the first MAX_GARMENTS of them), on the map of each garment's true class."""
    boxed = [index for index, item in enumerate(dataset.items) if item.box is not None and item.target >= 0]
    measured = boxed[:MAX_GARMENTS]
    maps = maps_of(model, dataset, measured, [dataset.items[index].target for index in measured], batch_size)
    looks = []
    for index, saliency in zip(measured, maps):
        view, box = item_view(dataset, index)
        looks.append(GarmentLook.of(saliency, box_in_view(box, view, saliency.shape)))
    what = f"garment crop grown by the context margin ({dataset.context_margin:g})" if dataset.crop else "whole photo"
    return summary(looks, what, capped_from=len(boxed) if len(boxed) > len(measured) else None)


def errors_grid_png(
    model: nn.Module,
    dataset: ClassificationDataset,
    true_labels: list[str],
    probs: np.ndarray,
    class_names: list[str],
    title: str,
    batch_size: int = 16,
) -> bytes | None:
    """A grid of the most confident errors (evaluation/saliency.py caps them), each the classifier's input
    with the map of the class it wrongly chose; None when nothing was wrong."""
    truth = np.array([class_names.index(label) if label in class_names else -1 for label in true_labels])
    chosen = confident_errors(truth, probs)
    if not chosen:
        return None
    predicted = [int(probs[index].argmax()) for index in chosen]
    maps = maps_of(model, dataset, chosen, predicted, batch_size)
    pictures = [
        view_overlay(load_image(dataset.items[index].image), saliency, item_view(dataset, index)[0], THUMBNAIL_SIDE)
        for index, saliency in zip(chosen, maps)
    ]
    captions = [
        f"true {true_labels[index]}\nsaid {class_names[k]} {probs[index, k]:.2f}" for index, k in zip(chosen, predicted)
    ]
    return grid_png(pictures, captions, title)


def grid_png(pictures: list, captions: list[str], title: str) -> bytes:
    """The pictures in rows of GRID_COLUMNS, each with its caption (a bare Figure: no global state)."""
    from matplotlib.figure import Figure

    rows = math.ceil(len(pictures) / GRID_COLUMNS)
    figure = Figure(figsize=(2.4 * GRID_COLUMNS, 3.1 * rows + 0.4))
    axes = figure.subplots(rows, GRID_COLUMNS, squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    for axis, picture, caption in zip(axes.flat, pictures, captions):
        axis.imshow(picture)
        axis.set_title(caption, fontsize=11)  # the report shows the grid at about half its size
    figure.suptitle(title, fontsize=12)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    return buffer.getvalue()
