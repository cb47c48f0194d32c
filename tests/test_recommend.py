"""Recommendations on a catalogue with known embeddings: nearest items, regions, filters, complete the look
from fixed look statistics, accessories and kids' products, the reasons, the model check, and the statistics
themselves. The catalogues are SQLite files and PostgreSQL databases alike (the `catalog_at` fixture)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from fashionlens.catalog.index import CatalogIndex
from fashionlens.catalog.looks import LookStatistics, load_looks, look_statistics
from fashionlens.catalog.recommend import (
    ADULTS,
    SimilarRanking,
    check_model,
    complete_the_look,
    recommend,
    similar_items,
)
from fashionlens.catalog.store import CatalogItem, Filters, SQLiteStore
from fashionlens.catalog.stores import open_store
from fashionlens.core.errors import FashionLensError
from fashionlens.core.records import REGIONS, Box, Garment, Sample
from fashionlens.inference.analyzer import Analysis, AnalyzedGarment
from fashionlens.inference.colors import COLOR_NAMES, DominantColor


def unit(angle_degrees: float) -> np.ndarray:
    angle = np.radians(angle_degrees)
    return np.array([np.cos(angle), np.sin(angle), 0.0, 0.0], dtype=np.float32)


# id, category, region, colour, price, embedding angle (cosine to the query at 0 degrees = cos(angle))
CATALOGUE = [
    ("TEE-NEAR", "T-Shirt", "upper", "Red", 20.0, 10),
    ("TEE-FAR", "T-Shirt", "upper", "Blue", 25.0, 60),
    ("SHIRT", "Shirt", "upper", "White", 60.0, 30),
    ("PANTS-BLUE-1", "Pants", "lower", "Blue", 40.0, 5),
    ("PANTS-BLUE-2", "Pants", "lower", "Blue", 45.0, 80),
    ("PANTS-BLACK", "Pants", "lower", "Black", 50.0, 70),
    ("SKIRT-BLUE", "Skirt", "lower", "Blue", 30.0, 40),
    ("DRESS-BLUE", "Dress", "full", "Blue", 90.0, 20),
]
LOOKS = LookStatistics(
    looks=10,
    categories={"T-Shirt": 10, "Pants": 8, "Skirt": 2, "Dress": 1},
    category_pairs={"T-Shirt": {"Pants": 8, "Skirt": 2}},
    color_pairs={"Red": {"Blue": 6, "Black": 3, "Red": 1}},
)


# the same, plus kids' products (the nearest of their regions) and shoes (no region); kids as a CSV gives it
FAMILY_SHOP = [(*item, {}) for item in CATALOGUE] + [
    ("TEE-KIDS", "T-Shirt", "upper", "Red", 12.0, 5, {"kids": "True"}),
    ("PANTS-KIDS", "Pants", "lower", "Blue", 15.0, 2, {"kids": "True"}),
    ("SHOES-BLACK", "Shoes", None, "Black", 70.0, 50, {"kids": "False"}),
    ("SHOES-KIDS", "Shoes", None, "Blue", 30.0, 45, {"kids": "True"}),
]


def catalogue_index(location, catalogue: list[tuple]) -> CatalogIndex:
    store = open_store(location, create=True)
    store.write_items(
        [
            CatalogItem(
                id=i,
                image=f"{i}.jpg",
                category=c,
                region=r,
                color=col,
                price=p,
                embedding=unit(a),
                attributes=attributes,
            )
            for i, c, r, col, p, a, attributes in catalogue
        ],
        {"id": "model-a"},
    )
    return CatalogIndex(store)


@pytest.fixture
def index(catalog_at) -> CatalogIndex:
    return catalogue_index(catalog_at("shop.db"), [(*item, {}) for item in CATALOGUE])


@pytest.fixture
def family_index(catalog_at) -> CatalogIndex:
    return catalogue_index(catalog_at("family.db"), FAMILY_SHOP)


def red_tee(embedding=None) -> AnalyzedGarment:
    return AnalyzedGarment(
        Box(0, 0, 10, 10),
        "upper",
        0.9,
        "T-Shirt",
        0.8,
        [("T-Shirt", 0.8)],
        DominantColor("Red", 0.9, 0.9, (220, 40, 40)),
        unit(0) if embedding is None else embedding,
    )


def rank(similarity_angle: float, category_probability: float, same_color: bool) -> float:
    """SimilarRanking's default rank, written out, for a garment without a pattern (its weight only divides)."""
    return (np.cos(np.radians(similarity_angle)) + category_probability + 0.1 * same_color) / (
        2.1 + SimilarRanking().pattern
    )


def test_similar_items_rank_category_then_colour_then_look_within_the_region(index):
    found = similar_items(index, red_tee(), 3, Filters())
    # upper only (PANTS-BLUE-1 is nearer); the far tee before the nearer shirt: the garment is a tee (0.8)
    assert [r.item.id for r in found] == ["TEE-NEAR", "TEE-FAR", "SHIRT"]
    assert [r.score for r in found] == pytest.approx(
        [rank(10, 0.8, True), rank(60, 0.8, False), rank(30, 0, False)], abs=1e-5
    )
    assert found[0].why == {
        "similarity": pytest.approx(0.9848),
        "category": "T-Shirt",
        "category_probability": 0.8,
        "same_category": True,
        "color": "Red",
        "same_color": True,
        "pattern": None,
        "same_pattern": False,
        "reason": "same category (T-Shirt), same colour (Red), looks 98% alike",
    }
    assert found[2].why["same_category"] is False and found[1].why["same_color"] is False
    anywhere = similar_items(index, red_tee(), 3, Filters(), same_region=False)
    assert [r.item.id for r in anywhere] == ["TEE-NEAR", "TEE-FAR", "PANTS-BLUE-1"]
    cheap = similar_items(index, red_tee(), 3, Filters(max_price=30))
    assert [r.item.id for r in cheap] == ["TEE-NEAR", "TEE-FAR"]
    assert similar_items(index, red_tee(), 3, Filters(regions=("lower",))) == []  # the user's region wins


def test_similar_items_weigh_look_alone_without_category_and_colour_weights(index):
    by_look = SimilarRanking(category=0.0, color=0.0, pattern=0.0)
    found = similar_items(index, red_tee(), 3, Filters(), ranking=by_look)
    assert [r.item.id for r in found] == ["TEE-NEAR", "SHIRT", "TEE-FAR"]  # plain cosine order
    assert [r.score for r in found] == pytest.approx([np.cos(np.radians(a)) for a in (10, 30, 60)], abs=1e-5)
    unsure = red_tee()
    unsure.top_categories = [("T-Shirt", 0.4), ("Shirt", 0.35)]
    # the classifier hesitates: the nearer shirt (0.866 + 0.35) overtakes the far tee (0.5 + 0.4)
    assert [r.item.id for r in similar_items(index, unsure, 3, Filters())] == ["TEE-NEAR", "SHIRT", "TEE-FAR"]
    # only the nearest candidates are ranked: with one candidate per item, the far tee is never seen
    few = SimilarRanking(candidates=1)
    assert [r.item.id for r in similar_items(index, red_tee(), 2, Filters(), ranking=few)] == ["TEE-NEAR", "SHIRT"]


def test_complete_the_look_ranks_other_regions_by_street_looks(index):
    found = complete_the_look(index, red_tee(), 5, Filters(), LOOKS)
    # pants 9/12 x blue 7/23; pants 9/12 x black 4/23; skirt 3/12 x blue 7/23; dress 1/12 x blue 7/23
    assert [r.item.id for r in found] == ["PANTS-BLUE-1", "PANTS-BLACK", "SKIRT-BLUE", "DRESS-BLUE", "PANTS-BLUE-2"]
    assert [r.score for r in found] == pytest.approx(
        [9 / 12 * 7 / 23, 9 / 12 * 4 / 23, 3 / 12 * 7 / 23, 1 / 12 * 7 / 23, 9 / 12 * 7 / 23], abs=1e-6
    )
    assert found[0].why == {
        "goes_with": pytest.approx(0.2283, abs=1e-4),
        "category": "Pants",
        "category_worn_with": 0.75,
        "color": "Blue",
        "color_worn_with": pytest.approx(0.3043, abs=1e-4),
        "similarity": pytest.approx(np.cos(np.radians(5)), abs=1e-4),
        "reason": "Pants in 75% of street looks with T-Shirt; 30% of garments worn with Red are Blue",
    }
    assert all(r.item.region != "upper" for r in found)
    assert [r.item.id for r in complete_the_look(index, red_tee(), 2, Filters(), LOOKS)] == [
        "PANTS-BLUE-1",
        "PANTS-BLACK",
    ]
    assert [r.item.id for r in complete_the_look(index, red_tee(), 5, Filters(max_price=45), LOOKS)] == [
        "PANTS-BLUE-1",
        "SKIRT-BLUE",
        "PANTS-BLUE-2",
    ]


def test_similar_items_come_best_score_first_each_with_its_reason(index):
    found = similar_items(index, red_tee(), 3, Filters())
    # by similarity alone the shirt (0.87) would come before the far tee (0.50): the score decides
    assert [r.why["similarity"] for r in found] == pytest.approx([0.9848, 0.5, 0.866], abs=1e-4)
    assert [r.score for r in found] == sorted((r.score for r in found), reverse=True)
    assert [r.why["reason"] for r in found] == [
        "same category (T-Shirt), same colour (Red), looks 98% alike",
        "same category (T-Shirt), other colour (Blue), looks 50% alike",
        "other category (Shirt), other colour (White), looks 87% alike",
    ]
    unsure = red_tee()
    unsure.top_categories = [("T-Shirt", 0.4), ("Shirt", 0.35)]
    assert (
        similar_items(index, unsure, 3, Filters())[1].why["reason"]
        == "maybe Shirt (classifier 35%), other colour (White), looks 87% alike"
    )
    data = recommend(Analysis("customer.jpg", 10, 10, True, [red_tee()]), index, k=3, looks=LOOKS)[0].to_json()
    assert [(pick["id"], pick["score"]) for pick in data["similar"]] == [
        (r.item.id, round(r.score, 4)) for r in found
    ]  # the JSON keeps the order and the final score


def test_kids_products_are_offered_only_when_asked_for(family_index):
    adults = similar_items(family_index, red_tee(), 3, ADULTS)
    assert [r.item.id for r in adults] == ["TEE-NEAR", "TEE-FAR", "SHIRT"]  # the nearer kids' tee left out
    assert [r.item.id for r in similar_items(family_index, red_tee(), 3, Filters(kids=True))] == ["TEE-KIDS"]
    assert similar_items(family_index, red_tee(), 1, Filters())[0].item.id == "TEE-KIDS"  # no choice made: any
    looks_for_adults = complete_the_look(family_index, red_tee(), 5, ADULTS, LOOKS)
    assert [r.item.id for r in looks_for_adults] == [
        "PANTS-BLUE-1",
        "PANTS-BLACK",
        "SKIRT-BLUE",
        "DRESS-BLUE",
        "SHOES-BLACK",
    ]
    looks_for_kids = complete_the_look(family_index, red_tee(), 5, Filters(kids=True), LOOKS)
    assert [r.item.id for r in looks_for_kids] == ["PANTS-KIDS", "SHOES-KIDS"]
    # recommend() offers adults' products unless told otherwise
    analysis = Analysis("customer.jpg", 10, 10, True, [red_tee()])
    shown = recommend(analysis, family_index, k=5, looks=LOOKS)[0].item_ids
    assert not {"TEE-KIDS", "PANTS-KIDS", "SHOES-KIDS"} & set(shown) and "SHOES-BLACK" in shown
    assert recommend(analysis, family_index, k=1, filters=Filters(kids=True), looks=LOOKS)[0].item_ids == [
        "TEE-KIDS",
        "PANTS-KIDS",
    ]


def test_complete_the_look_keeps_a_place_for_shoes_but_never_the_garments_own_region(family_index):
    found = complete_the_look(family_index, red_tee(), 3, ADULTS, LOOKS)
    # the best two garments of the other regions, then the shoes the street looks cannot rank
    assert [(r.item.id, r.item.region) for r in found] == [
        ("PANTS-BLUE-1", "lower"),
        ("PANTS-BLACK", "lower"),
        ("SHOES-BLACK", None),
    ]
    assert found[2].score == pytest.approx(1 / 12 * 4 / 23)  # goes_with's floor for an unseen category
    assert [r.why["reason"] for r in found] == [
        "Pants in 75% of street looks with T-Shirt; 30% of garments worn with Red are Blue",
        "Pants in 75% of street looks with T-Shirt; 17% of garments worn with Red are Black",
        "Shoes: not among the street looks' garments; 17% of garments worn with Red are Black",
    ]
    assert [r.item.id for r in complete_the_look(family_index, red_tee(), 1, ADULTS, LOOKS)] == ["PANTS-BLUE-1"]
    # a lower garment's look: no trousers or skirts, but tops, dresses and shoes
    jeans = AnalyzedGarment(
        Box(0, 0, 10, 10),
        "lower",
        0.9,
        "Pants",
        0.9,
        [("Pants", 0.9)],
        DominantColor("Blue", 0.9, 0.9, (40, 70, 220)),
        unit(0),
    )
    assert {r.item.region for r in complete_the_look(family_index, jeans, 8, ADULTS, LOOKS)} == {"upper", "full", None}
    # a pair of shoes has no region: its look is completed by garments only, never by other shoes or hats
    shoes = AnalyzedGarment(
        Box(0, 0, 10, 10),
        None,
        None,
        "Shoes",
        0.9,
        [("Shoes", 0.9)],
        DominantColor("Black", 0.9, 0.9, (20, 20, 20)),
        unit(50),
    )
    regions = [r.item.region for r in complete_the_look(family_index, shoes, 8, ADULTS, LOOKS)]
    assert len(regions) == 8 and None not in regions and set(regions) == set(REGIONS)  # every adult garment


def test_recommend_covers_every_garment_and_checks_the_model(index):
    analysis = Analysis("customer.jpg", 10, 10, True, [red_tee(), red_tee(unit(90))])
    results = recommend(analysis, index, k=2, looks=LOOKS)
    assert len(results) == 2
    assert [r.item.id for r in results[0].similar] == ["TEE-NEAR", "TEE-FAR"]
    assert [r.item.id for r in results[1].similar] == ["TEE-FAR", "TEE-NEAR"]  # nearest to 90 degrees first
    assert results[0].item_ids == ["TEE-NEAR", "TEE-FAR", "PANTS-BLUE-1", "PANTS-BLACK"]
    data = results[0].to_json()
    assert data["garment"]["category"] == "T-Shirt" and data["similar"][0]["id"] == "TEE-NEAR"
    check_model(index.store, {"id": "model-a"})
    with pytest.raises(FashionLensError, match="made by model model-a, not by model-b.*catalog reindex"):
        check_model(index.store, {"id": "model-b"})


def test_an_empty_catalogue_says_how_to_fill_it(catalog_at):
    with pytest.raises(FashionLensError, match="the catalogue is empty; import products"):
        check_model(open_store(catalog_at("empty.db"), create=True), {"id": "m"})


def test_look_statistics_count_categories_and_colours_worn_together():
    def look(*garments):
        return Sample(image=None, garments=[Garment(Box(0, 0, 1, 1), None, g) for g in garments])

    samples = [look("t-shirt", "jeans"), look("blouse", "skirt", "coat"), look("jeans"), look("T-Shirt", "pants")]
    colors = iter(["Red", "Blue", "White", "Black", "Black", "Red", "Blue"])
    stats = look_statistics(samples, lambda sample, box: next(colors))
    assert stats.looks == 3  # a look of one garment says nothing about pairs
    assert stats.categories == {"T-Shirt": 2, "Pants": 2, "Blouse": 1, "Skirt": 1, "Outwear": 1}
    assert stats.category_pairs["T-Shirt"] == {"Pants": 2}  # jeans and pants are both Pants
    assert stats.category_pairs["Outwear"] == {"Blouse": 1, "Skirt": 1}
    assert stats.color_pairs["Red"] == {"Blue": 2} and stats.color_pairs["Black"] == {"White": 2, "Black": 2}
    assert stats.category_with("t-shirt", "jeans") == pytest.approx(3 / 4)
    assert stats.color_with("Red", "Blue") == pytest.approx(3 / (2 + len(COLOR_NAMES)))


def test_the_shipped_statistics_come_from_real_street_looks():
    looks = load_looks()
    assert looks.looks > 500 and "train split" in looks.source
    assert looks.category_with("T-Shirt", "Pants") > 2 * looks.category_with("T-Shirt", "Dress")
    assert looks.category_with("Dress", "Outwear") > looks.category_with("Dress", "Pants")


def test_a_garments_pattern_counts_in_the_ranking_and_filters_by_pattern_keep_only_it(catalog_at):
    from dataclasses import replace

    from fashionlens.inference.attributes import Prediction

    store = open_store(catalog_at("patterns.db"), create=True)
    store.write_items(
        [
            CatalogItem(
                id=i,
                image=f"{i}.jpg",
                category="T-Shirt",
                region="upper",
                color="Red",
                embedding=unit(angle),
                pattern=pattern,
                sleeve="short",
            )
            for i, angle, pattern in (("SOLID-NEAR", 20, "solid"), ("STRIPED-FAR", 22, "striped"))
        ],
        {"id": "model-a"},
    )
    index = CatalogIndex(store)
    striped = replace(red_tee(), pattern=Prediction.of(("solid", "striped"), np.array([0.1, 0.9])))
    found = similar_items(index, striped, 2, Filters())
    # 2 degrees further away, but striped like the garment: the pattern's bonus puts it first
    assert [r.item.id for r in found] == ["STRIPED-FAR", "SOLID-NEAR"]
    assert found[0].why["same_pattern"] is True and "same pattern (striped)" in found[0].why["reason"]
    without = similar_items(index, striped, 2, Filters(), ranking=SimilarRanking(pattern=0.0))
    assert [r.item.id for r in without] == ["SOLID-NEAR", "STRIPED-FAR"]
    assert [i.id for i in store.find_items(Filters(pattern="striped"))] == ["STRIPED-FAR"]
    assert store.find_items(Filters(pattern="floral")) == [] and store.count(Filters(sleeve="short")) == 2
    assert store.get_items(["STRIPED-FAR"])["STRIPED-FAR"].to_json()["pattern"] == "striped"


def test_an_older_catalogue_gains_the_attribute_columns_when_opened(tmp_path):
    import sqlite3

    path = tmp_path / "old.db"
    SQLiteStore(path, create=True).close()
    with sqlite3.connect(path) as connection:  # as catalogues were made before pattern and sleeve
        connection.execute("ALTER TABLE items DROP COLUMN pattern")
        connection.execute("ALTER TABLE items DROP COLUMN sleeve")
    store = SQLiteStore(path)
    store.write_items([CatalogItem(id="A", image="a.jpg", embedding=unit(0), pattern="dotted")], {"id": "m"})
    assert store.get_items(["A"])["A"].pattern == "dotted"


def test_a_coat_boxed_as_full_body_gets_outerwear_not_dresses(catalog_at):
    """Street photos box a coat as full-body; the catalogue files Outwear with the upper-body garments."""
    shop = catalogue_index(
        catalog_at("coats.db"),
        [
            ("DRESS-NEAR", "Dress", "full", "Brown", 80.0, 5, {}),
            ("COAT", "Outwear", "upper", "Brown", 150.0, 40, {}),
            ("JACKET", "Outwear", "upper", "Black", 90.0, 60, {}),
        ],
    )
    coat = AnalyzedGarment(
        Box(0, 0, 10, 20),
        "full",
        0.9,
        "Outwear",
        0.95,
        [("Outwear", 0.95), ("Dress", 0.05)],
        DominantColor("Brown", 0.9, 0.9, (150, 110, 70)),
        unit(0),
    )
    assert [r.item.id for r in similar_items(shop, coat, 3, Filters())] == ["COAT", "JACKET"]
    dress = replace(coat, category="Dress", top_categories=[("Dress", 0.95)])
    assert [r.item.id for r in similar_items(shop, dress, 3, Filters())] == ["DRESS-NEAR"]
