"""What goes with what, learnt from real street looks: the statistics behind "complete the look".

A look is the set of garments one person wears in one street photo. From the training looks we count
how often two categories (mapped onto the clothing labels, the pivot) are worn together, and how often
two dominant colours are. "B goes with A" is then

    goes_with(A, B) = P(category B in the look | category A in it) x P(colour of B | colour of A)

both with add-one smoothing, so unseen pairs score low but not zero. docs/recommendation.md explains
the choice; scripts/make_look_statistics.py computes looks.json once from ../shared/data/street.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import permutations
from pathlib import Path
from typing import Any, Callable

from fashionlens.core.records import Box, Sample
from fashionlens.core.taxonomy import to_clothing_label
from fashionlens.inference.colors import COLOR_NAMES

LOOKS_FILE = Path(__file__).resolve().parent / "looks.json"


@dataclass
class LookStatistics:
    looks: int = 0
    categories: dict[str, int] = field(default_factory=dict)  # looks wearing the category
    category_pairs: dict[str, dict[str, int]] = field(default_factory=dict)  # looks wearing both
    color_pairs: dict[str, dict[str, int]] = field(default_factory=dict)  # garment pairs of a look, by colour
    source: str = ""

    def category_with(self, query: str | None, candidate: str | None) -> float:
        """P(candidate's category is in a look | the query's category is), add-one smoothed."""
        a, b = label(query), label(candidate)
        if b is None:
            return 1.0 / (self.looks + 2)
        if a is None or a not in self.categories:  # an unknown query: how common the candidate is
            return (self.categories.get(b, 0) + 1) / (self.looks + 2)
        return (self.category_pairs.get(a, {}).get(b, 0) + 1) / (self.categories[a] + 2)

    def color_with(self, query: str | None, candidate: str | None) -> float:
        """P(a garment worn with a `query`-coloured one is `candidate`-coloured), add-one smoothed."""
        row = self.color_pairs.get(query or "", {})
        return (row.get(candidate or "", 0) + 1) / (sum(row.values()) + len(COLOR_NAMES))

    def goes_with(
        self, category: str | None, color: str | None, other_category: str | None, other_color: str | None
    ) -> tuple[float, float, float]:
        """(score, category factor, colour factor) of a candidate for a garment."""
        by_category, by_color = self.category_with(category, other_category), self.color_with(color, other_color)
        return by_category * by_color, by_category, by_color

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "looks": self.looks,
            "categories": self.categories,
            "category_pairs": self.category_pairs,
            "color_pairs": self.color_pairs,
        }


def label(category: str | None) -> str | None:
    """Categories of any label set compare on the clothing labels (the taxonomy's pivot)."""
    return pivot_label(category) if category else None


def pivot_label(category: str) -> str:
    """The clothing label of a non-empty category, or the category itself when it has none."""
    return to_clothing_label(category) or category


def look_statistics(samples: list[Sample], color_of: Callable[[Sample, Box], str], source: str = "") -> LookStatistics:
    """Count categories and colours worn together in `samples` (one look per photo)."""
    stats = LookStatistics(source=source)
    for sample in samples:
        garments = [(g.category, g.box) for g in sample.garments if g.category and g.box is not None]
        if len(garments) < 2:
            continue
        stats.looks += 1
        worn = sorted({pivot_label(category) for category, _ in garments})
        for category in worn:
            stats.categories[category] = stats.categories.get(category, 0) + 1
        for a, b in permutations(worn, 2):
            row = stats.category_pairs.setdefault(a, {})
            row[b] = row.get(b, 0) + 1
        colors = [color_of(sample, box) for _, box in garments]
        for first, second in permutations(colors, 2):
            row = stats.color_pairs.setdefault(first, {})
            row[second] = row.get(second, 0) + 1
    return stats


def write_looks(stats: LookStatistics, path: Path = LOOKS_FILE) -> None:
    from fashionlens.core.files import write_text

    write_text(path, json.dumps(stats.to_json(), indent=1, sort_keys=True) + "\n")


@lru_cache(maxsize=4)
def load_looks(path: Path = LOOKS_FILE) -> LookStatistics:
    """The statistics shipped with the package (empty, so only smoothing speaks, when absent)."""
    if not path.is_file():
        return LookStatistics()
    data = json.loads(path.read_text(encoding="utf-8"))
    return LookStatistics(
        data["looks"], data["categories"], data["category_pairs"], data["color_pairs"], data.get("source", "")
    )
