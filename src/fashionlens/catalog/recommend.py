"""Recommendations for the garments of a photo: similar catalogue items, and items that complete the look.

Similar: the k nearest items by embedding (cosine similarity), in the garment's region by default.
Complete the look: items of the other regions, ranked by how well their (category, colour) goes with
the garment's in real street looks (catalog.looks); within one (category, colour) the item closest to
the garment in embedding comes first, and the k picks spread over the best (category, colour) pairs.
Every recommendation says why: category, colour and the scores behind its rank.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..analyzer import Analysis, AnalyzedGarment
from ..errors import FashionLensError
from ..records import REGIONS
from .index import CatalogIndex
from .looks import LookStatistics, label, load_looks
from .store import CatalogItem, CatalogStore, Filters, model_mismatch

DIGITS = 4


@dataclass
class Recommendation:
    item: CatalogItem
    score: float
    why: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {**self.item.to_json(), "score": round(self.score, DIGITS), "why": self.why}


@dataclass
class GarmentRecommendations:
    garment: AnalyzedGarment
    similar: list[Recommendation]
    complete_the_look: list[Recommendation]

    def to_json(self) -> dict[str, Any]:
        return {"garment": self.garment.to_json(), "similar": [r.to_json() for r in self.similar],
                "complete_the_look": [r.to_json() for r in self.complete_the_look]}

    @property
    def item_ids(self) -> list[str]:
        return [r.item.id for r in self.similar + self.complete_the_look]


def check_model(store: CatalogStore, model: dict[str, Any]) -> None:
    """Queries must use the model that made the catalogue's embeddings."""
    stored = store.model()
    if stored is None:
        raise FashionLensError(f"{getattr(store, 'path', 'catalogue')}: the catalogue is empty; "
                               "import products with `fashionlens catalog import`")
    if stored["id"] != model["id"]:
        raise FashionLensError(model_mismatch(getattr(store, "path", "catalogue"), stored, model))


def within(filters: Filters, regions: tuple[str, ...]) -> Filters:
    """`filters` further restricted to `regions` (the intersection with the user's regions)."""
    if filters.regions is not None:
        regions = tuple(r for r in regions if r in filters.regions)
    return filters.narrowed(regions=regions)


def similar_items(index: CatalogIndex, garment: AnalyzedGarment, k: int, filters: Filters,
                  same_region: bool = True) -> list[Recommendation]:
    """The k catalogue items nearest to the garment's embedding."""
    if same_region and garment.region is not None:
        filters = within(filters, (garment.region,))
    found = index.search(garment.embedding, k, filters)
    items = index.store.find_items(keys=[hit.key for hit in found])
    return [Recommendation(item, hit.score, {
        "similarity": round(hit.score, DIGITS), "category": item.effective_category,
        "same_category": label(item.effective_category) == label(garment.category),
        "color": item.color, "same_color": item.color == garment.color.name,
    }) for item, hit in zip(items, found)]


def complete_the_look(index: CatalogIndex, garment: AnalyzedGarment, k: int, filters: Filters,
                      looks: LookStatistics | None = None) -> list[Recommendation]:
    """k items of the other regions that go with the garment (module docstring), spread over pairs."""
    looks = looks or load_looks()
    others = tuple(region for region in REGIONS if region != garment.region)
    filters = within(filters, others)
    scored = sorted(((looks.goes_with(garment.category, garment.color.name, category, color), category, color)
                     for category, color, _ in index.store.groups(filters)),
                    key=lambda entry: (-entry[0][0], entry[1] or "", entry[2] or ""))
    picks: list[list[Recommendation]] = []
    for (score, by_category, by_color), category, color in scored[:k]:
        found = index.search(garment.embedding, k, filters.narrowed(category=category, color=color))
        items = index.store.find_items(keys=[hit.key for hit in found])
        why = {"goes_with": round(score, DIGITS), "category": category, "category_worn_with": round(by_category, DIGITS),
               "color": color, "color_worn_with": round(by_color, DIGITS)}
        picks.append([Recommendation(item, score, {**why, "similarity": round(hit.score, DIGITS)})
                      for item, hit in zip(items, found)])
    # round robin: the best item of each pair first, then the second best of each...
    ranked = [group[rank] for rank in range(k) for group in picks if rank < len(group)]
    seen: set[str] = set()
    unique = [pick for pick in ranked if not (pick.item.id in seen or seen.add(pick.item.id))]  # once each
    return unique[:k]


def recommend(analysis: Analysis, index: CatalogIndex, k: int = 5, filters: Filters | None = None,
              same_region: bool = True, looks: LookStatistics | None = None) -> list[GarmentRecommendations]:
    """Similar items and complete-the-look items for every garment of an analysed photo."""
    filters = filters or Filters()
    return [GarmentRecommendations(garment, similar_items(index, garment, k, filters, same_region),
                                   complete_the_look(index, garment, k, filters, looks))
            for garment in analysis.garments]
