"""One box per garment: the detector's overlapping explanations of one garment reduced to one.

The detector suppresses duplicates within a region only; across regions, and for the full-body region
against an upper + lower pair, it can explain one garment twice (a long top read both as upper and full,
a top with a maxi skirt as a pair and as a dress). Three rules, applied to the detections above the score
threshold, highest score first:
1. a detection overlapping a better one at IoU > SAME_GARMENT_IOU, whatever its region, is that garment
   again: it goes (torchvision's non-maximum suppression over all regions at once);
2. a full-body box and an upper + lower pair whose joint box it matches at IoU >= PAIR_IOU are two
   explanations of one outfit: the full-body box stays when its score is at least the pair's mean score,
   else the pair stays. A coat over a sweater and trousers reaches past them (the trousers' box goes
   below its hem), so the joint box rarely matches it as closely;
3. a box lying at least PART_INSIDE within a better-scored box of its own region is a part of that
   garment (a collar, a sleeve, the front of an open jacket): it goes. A top under a jacket is another
   garment of the same region, but the detector rarely boxes it so entirely inside the jacket's box.
The thresholds were read off the street val photos (benchmarks/street_garments.py, docs/benchmarks.md),
the split that also chooses the detector's score threshold.
A part boxed in another region (a strip of a coat read as a top) is told from a garment worn under it by
its colour, once the Analyzer knows the colours: analyzer.without_full_garments_parts, rule 4.
"""

from __future__ import annotations

import torch
from torchvision.ops import box_iou, nms

from fashionlens.core.records import Box, Detection

SAME_GARMENT_IOU = 0.6
PAIR_IOU = 0.6
PART_INSIDE = 0.9


def iou_matrix(first: list[Box], second: list[Box]) -> torch.Tensor:
    return box_iou(boxes_tensor(first), boxes_tensor(second))


def boxes_tensor(boxes: list[Box]) -> torch.Tensor:
    return torch.tensor([b.as_list() for b in boxes], dtype=torch.float32).reshape(-1, 4)


def one_box_per_garment(detections: list[Detection]) -> list[Detection]:
    """The detections with repeated explanations of a garment removed (module docstring); best first."""
    if not detections:
        return []
    # rule 1 is non-maximum suppression over all regions at once
    scores = torch.tensor([d.score for d in detections], dtype=torch.float32)
    kept = [detections[int(i)] for i in nms(boxes_tensor([d.box for d in detections]), scores, SAME_GARMENT_IOU)]
    return without_parts(resolve_outfits(kept))


def joint_box(first: Box, second: Box) -> Box:
    return Box(min(first.x1, second.x1), min(first.y1, second.y1), max(first.x2, second.x2), max(first.y2, second.y2))


def resolve_outfits(detections: list[Detection]) -> list[Detection]:
    """Rule 2: each full-body box against each upper + lower pair it explains again."""
    by_region = {region: [d for d in detections if d.region == region] for region in ("full", "upper", "lower")}
    dropped: set[int] = set()
    for full in by_region["full"]:
        for upper in by_region["upper"]:
            for lower in by_region["lower"]:
                if float(iou_matrix([full.box], [joint_box(upper.box, lower.box)])[0, 0]) < PAIR_IOU:
                    continue
                if full.score >= (upper.score + lower.score) / 2:
                    dropped |= {id(upper), id(lower)}
                else:
                    dropped.add(id(full))
    return [d for d in detections if id(d) not in dropped]


def share_inside(inner: Box, outer: Box) -> float:
    """The share of `inner`'s area that lies within `outer`."""
    width = max(0.0, min(inner.x2, outer.x2) - max(inner.x1, outer.x1))
    height = max(0.0, min(inner.y2, outer.y2) - max(inner.y1, outer.y1))
    return width * height / inner.area if inner.area > 0 else 0.0


def without_parts(detections: list[Detection]) -> list[Detection]:
    """Rule 3: boxes nested in a better box of their own region go."""
    return [
        d
        for d in detections
        if not any(
            other.region == d.region and other.score > d.score and share_inside(d.box, other.box) >= PART_INSIDE
            for other in detections
        )
    ]
