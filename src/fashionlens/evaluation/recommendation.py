"""Quality of recommendations, as pure functions over fixed results (benchmarks/recommendation.py).

- precision@k: the share of the k items returned whose category is the query's (k in the denominator,
  so returning fewer items costs precision);
- agreement@k: the same for dominant colours, against a baseline of k random items of the query's
  predicted category (seeded), so the embedding's contribution to colour is measured in the same run;
- fill in the blank: hide one garment of a look; is its category among the k suggestions for the rest?
- end to end: a ground-truth garment is right when a detection matches it at IoU >= 0.5 with the right
  category (one detection per garment, best IoU first); a missed garment is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch
from torchvision.ops import box_iou

from fashionlens.core.records import Box

MATCH_IOU = 0.5


def precision_at_k(retrieved: Sequence[Sequence[str | None]], truth: Sequence[str], k: int) -> float | None:
    """Mean over queries of |retrieved[:k] equal to the truth| / k; None without queries."""
    if not truth:
        return None
    return float(np.mean([sum(found == wanted for found in items[:k]) / k for items, wanted in zip(retrieved, truth)]))


def random_same_category(
    categories: Sequence[str | None], items: dict[str | None, list[str]], k: int, seed: int = 0
) -> list[list[str]]:
    """For each query, k random items (ids) of its predicted category (fewer when there are fewer)."""
    rng = np.random.default_rng(seed)
    picks = []
    for category in categories:
        pool = sorted(items.get(category, []))
        chosen: np.ndarray | list[int] = rng.choice(len(pool), size=min(k, len(pool)), replace=False) if pool else []
        picks.append([pool[i] for i in chosen])
    return picks


@dataclass
class LookGarment:
    """One garment of a street look, as the benchmark sees it."""

    category: str | None  # the ground truth mapped onto the catalogue's labels (None: no counterpart)
    query: object  # what `suggest` needs to make suggestions for it (an analysed garment)


def fill_in_the_blank(
    looks: Sequence[Sequence[LookGarment]], suggest: Callable[[list[object]], list[str | None]], k: int
) -> dict[str, float | int | None]:
    """Hide each garment (with a category) of every look of two or more garments in turn; `suggest`
    returns the categories of the suggestions for the rest, best first. A hit: the hidden category
    is among the first k."""
    questions = hits = 0
    for look in looks:
        if len(look) < 2:
            continue
        for hidden, garment in enumerate(look):
            if garment.category is None:
                continue
            rest = [other.query for index, other in enumerate(look) if index != hidden]
            questions += 1
            hits += garment.category in suggest(rest)[:k]
    return {"questions": questions, "hits": hits, "score": hits / questions if questions else None}


@dataclass
class Matching:
    garments: int = 0  # ground-truth garments with a category
    right: int = 0  # matched at IoU >= 0.5 with the right category
    localised: int = 0  # matched at IoU >= 0.5 by a detection of any category
    detections: int = 0
    unmatched_detections: int = 0

    def as_dict(self) -> dict[str, float | int | None]:

        def share(n: int) -> float | None:
            return n / self.garments if self.garments else None

        return {
            "garments": self.garments,
            "right": self.right,
            "accuracy": share(self.right),
            "localised": self.localised,
            "localisation_recall": share(self.localised),
            "category_accuracy_when_localised": self.right / self.localised if self.localised else None,
            "detections": self.detections,
            "unmatched_detections": self.unmatched_detections,
        }


def greedy_matches(truth: list[Box], found: list[Box], allowed: np.ndarray) -> list[tuple[int, int]]:
    """(truth, found) pairs at IoU >= 0.5 where `allowed`, best IoU first, each box used once."""
    if not truth or not found:
        return []
    iou = box_iou(torch.tensor([b.as_list() for b in truth]), torch.tensor([b.as_list() for b in found])).numpy()
    iou = np.where(allowed & (iou >= MATCH_IOU), iou, -1.0)
    pairs, used_truth, used_found = [], set(), set()
    for flat in np.argsort(-iou, axis=None, kind="stable"):
        t, f = np.unravel_index(flat, iou.shape)
        if iou[t, f] < 0:
            break
        if t not in used_truth and f not in used_found:
            pairs.append((int(t), int(f)))
            used_truth.add(t)
            used_found.add(f)
    return pairs


def end_to_end(truth: Sequence[Sequence[tuple[Box, str]]], found: Sequence[Sequence[tuple[Box, str]]]) -> Matching:
    """Per photo: ground-truth (box, category) against detected (box, predicted category)."""
    result = Matching()
    for wanted, detected in zip(truth, found):
        boxes, found_boxes = [b for b, _ in wanted], [b for b, _ in detected]
        same = np.array([[c == d for _, d in detected] for _, c in wanted], dtype=bool).reshape(
            len(wanted), len(detected)
        )
        right = greedy_matches(boxes, found_boxes, same)
        localised = greedy_matches(boxes, found_boxes, np.ones_like(same))
        result.garments += len(wanted)
        result.right += len(right)
        result.localised += len(localised)
        result.detections += len(detected)
        result.unmatched_detections += len(detected) - len(localised)
    return result
