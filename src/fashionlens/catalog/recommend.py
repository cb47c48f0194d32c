"""Recommendations for the garments of a photo: similar catalogue items, and items that complete the look.

Similar: in the region where the catalogue files the garment's category by default (a coat, which street
photos box as full-body, is Outwear, filed with the upper-body garments; a garment whose category has no
region keeps its own), the nearest items by embedding (cosine similarity) are the candidates, and among
them an item ranks by its similarity plus the classifier's probability for the item's category plus a
bonus when it has the garment's colour and one when it has its pattern (SimilarRanking): a customer asking
for things like their red tee expects tees first, red ones before others, then the closest in look. They
come best first.
Complete the look: never an item of the garment's own region. Garments of the other body regions, ranked by
how well their (category, colour) goes with the garment's in real street looks (catalog.looks); within one
(category, colour) the item closest to the garment in embedding comes first, and the k picks spread over the
best (category, colour) pairs. Accessories (shoes, hats, bags: no region) are never boxed in street looks,
so the statistics cannot rank them against garments: one of the k places is kept for the best of them.
Kids' products are offered only when asked for (Filters.kids; adults' by default, ADULTS).
Every recommendation says why: a sentence (`why["reason"]`), category, colour and the scores behind its rank.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fashionlens.catalog.index import CatalogIndex
from fashionlens.catalog.looks import LookStatistics, label, load_looks
from fashionlens.catalog.store import CatalogItem, CatalogStore, Filters, model_mismatch
from fashionlens.core.errors import FashionLensError
from fashionlens.core.records import REGIONS
from fashionlens.core.taxonomy import region_of
from fashionlens.inference.analyzer import Analysis, AnalyzedGarment

DIGITS = 4
ADULTS = Filters(kids=False)  # what a query is offered unless it asks for kids' products


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
        return {
            "garment": self.garment.to_json(),
            "similar": [r.to_json() for r in self.similar],
            "complete_the_look": [r.to_json() for r in self.complete_the_look],
        }

    @property
    def item_ids(self) -> list[str]:
        return [r.item.id for r in self.similar + self.complete_the_look]


def check_model(store: CatalogStore, model: dict[str, Any]) -> None:
    """Queries must use the model that made the catalogue's embeddings."""
    stored = store.model()
    if stored is None:
        raise FashionLensError(
            f"{getattr(store, 'path', 'catalogue')}: the catalogue is empty; "
            "import products with `fashionlens catalog import`"
        )
    if stored["id"] != model["id"]:
        raise FashionLensError(model_mismatch(getattr(store, "path", "catalogue"), stored, model))


@dataclass(frozen=True)
class SimilarRanking:
    """How `similar_items` orders its candidates: rank = (similarity + category * P(item's category) +
    color * same colour + pattern * same pattern) / (1 + category + color + pattern), so a rank stays at
    most 1."""

    category: float = 1.0  # weight of the classifier's probability that the garment is of the item's category
    color: float = 0.1  # bonus for the garment's dominant colour
    pattern: float = 0.03  # bonus for the garment's pattern (chosen on the carved split: docs/recommendation.md)
    candidates: int = 10  # nearest items by embedding considered per item asked for

    def rank(self, similarity: float, category_probability: float, same_color: bool, same_pattern: bool) -> float:
        return (
            similarity + self.category * category_probability + self.color * same_color + self.pattern * same_pattern
        ) / (1.0 + self.category + self.color + self.pattern)


def category_probability(garment: AnalyzedGarment, category: str | None) -> float:
    """The classifier's probability that the garment is of `category` (0 beyond its top categories)."""
    wanted = label(category)
    return next((score for name, score in garment.top_categories if label(name) == wanted), 0.0)


def within(filters: Filters, regions: tuple[str | None, ...]) -> Filters:
    """`filters` further restricted to `regions` (the intersection with the user's regions)."""
    if filters.regions is not None:
        regions = tuple(r for r in regions if r in filters.regions)
    return filters.narrowed(regions=regions)


def similar_items(
    index: CatalogIndex,
    garment: AnalyzedGarment,
    k: int,
    filters: Filters,
    same_region: bool = True,
    ranking: SimilarRanking = SimilarRanking(),
) -> list[Recommendation]:
    """The k catalogue items most like the garment, best rank first: category, colour and look (module docstring)."""
    region = region_of(garment.category) or garment.region
    if same_region and region is not None:
        filters = within(filters, (region,))
    found = index.search(garment.embedding, k * ranking.candidates, filters)
    items = index.store.find_items(keys=[hit.key for hit in found])
    picks = []
    for item, hit in zip(items, found):
        probability = category_probability(garment, item.effective_category)
        same_category = label(item.effective_category) == label(garment.category)
        same_color = item.color == garment.color.name
        same_pattern = garment.pattern is not None and item.pattern == garment.pattern.name
        picks.append(
            Recommendation(
                item,
                ranking.rank(hit.score, probability, same_color, same_pattern),
                {
                    "similarity": round(hit.score, DIGITS),
                    "category": item.effective_category,
                    "category_probability": round(probability, DIGITS),
                    "same_category": same_category,
                    "color": item.color,
                    "same_color": same_color,
                    "pattern": item.pattern,
                    "same_pattern": same_pattern,
                    "reason": similar_reason(item, hit.score, probability, same_category, same_color, same_pattern),
                },
            )
        )
    # stable: equal ranks keep the search's order (by similarity, then key)
    return sorted(picks, key=lambda pick: -round(pick.score, 6))[:k]


def percent(value: float) -> str:
    return f"{round(100 * max(value, 0.0))}%"


def similar_reason(
    item: CatalogItem,
    similarity: float,
    probability: float,
    same_category: bool,
    same_color: bool,
    same_pattern: bool = False,
) -> str:
    """Why an item ranks where it does, in the order the rank weighs it: category, colour, pattern, look."""
    category = item.effective_category or "no category"
    if same_category:
        parts = [f"same category ({category})"]
    elif probability > 0:  # one of the classifier's other guesses for the garment
        parts = [f"maybe {category} (classifier {percent(probability)})"]
    else:
        parts = [f"other category ({category})"]
    if item.color:
        parts.append(f"{'same' if same_color else 'other'} colour ({item.color})")
    if same_pattern:
        parts.append(f"same pattern ({item.pattern})")
    return ", ".join(parts + [f"looks {percent(similarity)} alike"])


def complete_the_look(
    index: CatalogIndex, garment: AnalyzedGarment, k: int, filters: Filters, looks: LookStatistics | None = None
) -> list[Recommendation]:
    """k items that go with the garment, never of its own region (module docstring): garments of the other
    body regions, and the last place for an accessory when the catalogue has one that passes `filters`."""
    looks = looks or load_looks()
    others = tuple(region for region in REGIONS if region != garment.region)
    garments = look_picks(index, garment, k, within(filters, others), looks)
    if garment.region is None:  # the garment is itself an accessory: its look is completed by garments
        return garments
    accessories = look_picks(index, garment, k, within(filters, (None,)), looks)
    kept = garments[: k - 1] if accessories and k > 1 else garments[:k]
    return kept + accessories[: k - len(kept)]  # accessories also take the places garments cannot fill


def look_picks(
    index: CatalogIndex, garment: AnalyzedGarment, k: int, filters: Filters, looks: LookStatistics
) -> list[Recommendation]:
    """Up to k items matching `filters`, spread over the (category, colour) pairs that go best with the garment."""
    scored = sorted(
        (
            (looks.goes_with(garment.category, garment.color.name, category, color), category, color)
            for category, color, _ in index.store.groups(filters)
        ),
        key=lambda entry: (-entry[0][0], entry[1] or "", entry[2] or ""),
    )
    picks: list[list[Recommendation]] = []
    for (score, by_category, by_color), category, color in scored[:k]:
        found = index.search(garment.embedding, k, filters.narrowed(category=category, color=color))
        items = index.store.find_items(keys=[hit.key for hit in found])
        why = {
            "goes_with": round(score, DIGITS),
            "category": category,
            "category_worn_with": round(by_category, DIGITS),
            "color": color,
            "color_worn_with": round(by_color, DIGITS),
        }
        reason = look_reason(garment, looks, category, color, by_category, by_color)
        picks.append(
            [
                Recommendation(item, score, {**why, "similarity": round(hit.score, DIGITS), "reason": reason})
                for item, hit in zip(items, found)
            ]
        )
    # round robin: the best item of each pair first, then the second best of each...
    ranked = [group[rank] for rank in range(k) for group in picks if rank < len(group)]
    return first_of_each_item(ranked)[:k]


def first_of_each_item(ranked: list[Recommendation]) -> list[Recommendation]:
    """Each item once, where it ranks best."""
    seen: set[str] = set()
    unique = []
    for pick in ranked:
        if pick.item.id not in seen:
            seen.add(pick.item.id)
            unique.append(pick)
    return unique


def look_reason(
    garment: AnalyzedGarment,
    looks: LookStatistics,
    category: str | None,
    color: str | None,
    by_category: float,
    by_color: float,
) -> str:
    """The two factors of goes_with in words. A category the street looks never show (shoes, hats and bags
    are not boxed there) has only the smoothing's floor: no evidence, so no percentage is claimed."""
    if label(category) not in looks.categories:
        parts = [f"{category or 'this item'}: not among the street looks' garments"]
    elif label(garment.category) in looks.categories:
        parts = [f"{category} in {percent(by_category)} of street looks with {garment.category}"]
    else:  # the statistics do not know the garment's category: how common the candidate's is
        parts = [f"{category} in {percent(by_category)} of street looks"]
    if color:
        parts.append(f"{percent(by_color)} of garments worn with {garment.color.name} are {color}")
    return "; ".join(parts)


def recommend(
    analysis: Analysis,
    index: CatalogIndex,
    k: int = 5,
    filters: Filters | None = None,
    same_region: bool = True,
    looks: LookStatistics | None = None,
    complete_look: bool = True,
    ranking: SimilarRanking = SimilarRanking(),
) -> list[GarmentRecommendations]:
    """Similar items and complete-the-look items (unless `complete_look` is False) for every garment of an
    analysed photo (adults' products unless `filters` says otherwise)."""
    filters = filters or ADULTS
    return [
        GarmentRecommendations(
            garment,
            similar_items(index, garment, k, filters, same_region, ranking),
            complete_the_look(index, garment, k, filters, looks) if complete_look else [],
        )
        for garment in analysis.garments
    ]
