"""Recommendation quality metrics on hand-computed cases (evaluation.recommendation)."""

from __future__ import annotations

from collections import Counter

import pytest

from fashionlens.core.records import Box
from fashionlens.evaluation.recommendation import (
    LookGarment,
    end_to_end,
    fill_in_the_blank,
    precision_at_k,
    random_same_category,
)


def test_precision_at_k_counts_k_in_the_denominator():
    retrieved = [["Pants", "Pants", "Skirt", "Pants", "Shorts", "Pants"], ["Dress", "Dress"]]
    assert precision_at_k(retrieved, ["Pants", "Dress"], k=5) == pytest.approx((3 / 5 + 2 / 5) / 2)
    assert precision_at_k([], [], k=5) is None


def test_random_same_category_is_seeded_and_stays_in_the_category():
    items = {"Pants": [f"p{i}" for i in range(10)], "Hat": ["h0", "h1"]}
    first = random_same_category(["Pants", "Hat", "Dress", "Pants"], items, k=3, seed=7)
    assert first == random_same_category(["Pants", "Hat", "Dress", "Pants"], items, k=3, seed=7)
    assert [len(p) for p in first] == [3, 2, 0, 3]
    assert set(first[0]) <= set(items["Pants"]) and sorted(first[1]) == ["h0", "h1"]
    draws = Counter(i for _ in range(1) for p in random_same_category(["Pants"] * 300, items, k=1, seed=1) for i in p)
    assert len(draws) == 10 and max(draws.values()) < 60  # every item drawn, none favoured much


def test_fill_in_the_blank_asks_each_garment_of_each_look():
    looks = [
        [LookGarment("Shirt", "shirt"), LookGarment("Pants", "pants")],
        [LookGarment("Dress", "dress")],  # a look of one garment: nothing to complete
        [LookGarment("T-Shirt", "tee"), LookGarment(None, "scarf"), LookGarment("Skirt", "skirt")],
    ]
    suggestions = {
        "shirt": ["Pants", "Skirt"],
        "pants": ["T-Shirt", "Shirt"],
        "tee": ["Skirt"],
        "scarf": ["Hat"],
        "skirt": ["Shirt", "T-Shirt"],
    }

    def suggest(rest):  # the suggestions of the rest, the first garment's first
        return [category for query in rest for category in suggestions[query]]

    result = fill_in_the_blank(looks, suggest, k=2)
    # shirt hidden: pants suggest T-Shirt, Shirt -> hit; pants hidden: Pants, Skirt -> hit;
    # tee hidden: Hat, Shirt -> miss; skirt hidden: Skirt, Hat -> hit (the unlabelled scarf is never hidden)
    assert result == {"questions": 4, "hits": 3, "score": 0.75}
    assert fill_in_the_blank(looks, suggest, k=1)["hits"] == 2  # the pants and the skirt questions


def test_end_to_end_needs_the_box_and_the_category():
    truth = [[(Box(0, 0, 10, 10), "Shirt"), (Box(0, 10, 10, 30), "Pants")], [(Box(0, 0, 20, 20), "Dress")]]
    found = [[(Box(1, 1, 10, 10), "Shirt"), (Box(0, 10, 10, 30), "Skirt"), (Box(50, 50, 60, 60), "Hat")], []]
    result = end_to_end(truth, found).as_dict()
    assert result["garments"] == 3 and result["right"] == 1 and result["accuracy"] == pytest.approx(1 / 3)
    assert result["localised"] == 2 and result["category_accuracy_when_localised"] == 0.5
    assert result["detections"] == 3 and result["unmatched_detections"] == 1


def test_one_detection_counts_for_one_garment_only():
    truth = [[(Box(0, 0, 10, 10), "Shirt"), (Box(0, 0, 10, 11), "Shirt")]]
    found = [[(Box(0, 0, 10, 10), "Shirt")]]
    assert end_to_end(truth, found).right == 1
    far = [[(Box(0, 0, 10, 4), "Shirt")]]  # IoU 0.4 < 0.5
    assert end_to_end(truth[:1], far).right == 0
