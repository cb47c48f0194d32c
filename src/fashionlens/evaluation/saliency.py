"""Does the classifier look at the garment? Saliency (Grad-CAM, fashionlens.evaluation.gradcam) measured against
the garments' annotated boxes, and the most confident errors drawn with their maps.

Two numbers per garment, each on the map of the garment's true class over the classifier's input:
- pointing game (Zhang et al., 2016): a hit when the map's maximum lies inside the garment's box (pixel
  centres; no tolerance margin; an all-zero map, with no location speaking for the class, is a miss);
- energy inside: the share of the map's sum that lies inside the box (0 for an all-zero map).
Both depend on how much of the input the box covers: a map spread evenly would score the box's share of
the input on both (`box_share`, reported beside them as the level of a model that looks anywhere). A
whole-photo model sees the whole photo; the crop path sees the box grown by the context margin, so its
numbers say whether it looks at the garment or at the margin around it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fashionlens.core.records import Box

POINTING_GAME_NOTE_BELOW = 0.5  # the honesty check notes a model whose maxima fall mostly outside the boxes
MAX_GARMENTS = 500  # the first garments (data order) measured: evaluation stays within a few minutes on a CPU
ERRORS_PER_CLASS, MAX_ERRORS = 2, 16  # the confident-error grid of the report


def box_mask(shape: tuple[int, int], box: Box) -> np.ndarray:
    """Pixels of an H x W map whose centres lie inside `box` (in the map's pixels)."""
    ys, xs = np.arange(shape[0]) + 0.5, np.arange(shape[1]) + 0.5
    inside_y = (ys >= box.y1) & (ys <= box.y2)
    inside_x = (xs >= box.x1) & (xs <= box.x2)
    return inside_y[:, None] & inside_x[None, :]


def pointing_hit(saliency: np.ndarray, box: Box) -> bool:
    """The map's maximum (the first in row order when tied) lies inside the box; an all-zero map misses."""
    if not saliency.max() > 0:
        return False
    y, x = np.unravel_index(int(np.argmax(saliency)), saliency.shape)
    return bool(box_mask(saliency.shape, box)[y, x])


def energy_inside(saliency: np.ndarray, box: Box) -> float:
    """The share of the map's sum inside the box; 0 for an all-zero map."""
    total = float(saliency.sum(dtype=np.float64))
    if not total > 0:
        return 0.0
    return float(saliency[box_mask(saliency.shape, box)].sum(dtype=np.float64)) / total


def box_share(shape: tuple[int, int], box: Box) -> float:
    """The share of the map's pixels inside the box: what an evenly spread map scores on both numbers."""
    return float(box_mask(shape, box).mean())


@dataclass
class GarmentLook:
    """Where the classifier looked for one garment."""

    hit: bool
    energy: float
    box_share: float
    empty: bool  # the map is all zero

    @classmethod
    def of(cls, saliency: np.ndarray, box: Box) -> "GarmentLook":
        return cls(
            pointing_hit(saliency, box),
            energy_inside(saliency, box),
            box_share(saliency.shape, box),
            not saliency.max() > 0,
        )


def summary(looks: list[GarmentLook], view: str, capped_from: int | None = None) -> dict:
    """metrics.json's `saliency`: the means over garments, and what they were measured on."""
    if not looks:
        return {
            "view": view,
            "garments": 0,
            "pointing_game": None,
            "energy_inside": None,
            "box_share": None,
            "empty_maps": 0,
        }
    result = {
        "view": view,
        "garments": len(looks),
        "pointing_game": float(np.mean([look.hit for look in looks])),
        "energy_inside": float(np.mean([look.energy for look in looks])),
        "box_share": float(np.mean([look.box_share for look in looks])),
        "empty_maps": int(sum(look.empty for look in looks)),
    }
    if capped_from is not None:
        result["garments_with_boxes"] = capped_from
    return result


def looks_outside_note(saliency: dict | None) -> str | None:
    """The honesty check's note (never a collapse reason) when the maxima fall mostly outside the boxes."""
    if not saliency or saliency["pointing_game"] is None or saliency["pointing_game"] >= POINTING_GAME_NOTE_BELOW:
        return None
    return (
        f"looks mostly outside the garments: the saliency maximum falls inside the garment's box for "
        f"{saliency['pointing_game']:.1%} of {saliency['garments']} garments (pointing game; an evenly "
        f"spread map would score {saliency['box_share']:.1%}), {saliency['energy_inside']:.1%} of the "
        f"saliency inside the boxes"
    )


def confident_errors(
    true_indices: np.ndarray, probs: np.ndarray, per_class: int = ERRORS_PER_CLASS, total: int = MAX_ERRORS
) -> list[int]:
    """Items the model got wrong with the highest confidence: up to `per_class` per true class, the
    `total` most confident of those, most confident first."""
    predicted = probs.argmax(axis=1)
    confidence = probs.max(axis=1)
    wrong = np.flatnonzero((predicted != true_indices) & (true_indices >= 0))
    chosen: list[int] = []
    for label in np.unique(true_indices[wrong]):
        of_class = wrong[true_indices[wrong] == label]
        chosen += of_class[np.argsort(-confidence[of_class], kind="stable")][:per_class].tolist()
    return sorted(chosen, key=lambda index: (-confidence[index], index))[:total]
