"""The collapse verdict fires on the lazy route and stays quiet on a model that learned."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest

from fashionlens.evaluation.honesty import honesty_check, verdict_line

CLASSES = ["T-Shirt", "Shirt", "Blouse"]


def labels_80_10_10(n: int = 200) -> np.ndarray:
    return np.array([0] * (n * 8 // 10) + [1] * (n // 10) + [2] * (n // 10))


def test_constant_majority_predictions_collapse_with_all_three_reasons():
    y_true = labels_80_10_10()
    check = honesty_check(y_true, np.zeros_like(y_true), CLASSES)
    assert check["collapsed"] is True
    assert check["majority_class"] == "T-Shirt" and check["majority_baseline"] == pytest.approx(0.8)
    assert check["accuracy"] == pytest.approx(0.8)
    assert check["binomial_p_value"] == pytest.approx(binomtest(160, 200, 0.8, alternative="greater").pvalue)
    assert check["binomial_p_value"] >= 0.05
    assert check["balanced_accuracy"] == pytest.approx(1 / 3)
    assert check["predicted_shares"] == {"T-Shirt": 1.0, "Shirt": 0.0, "Blouse": 0.0}
    assert check["true_shares"] == pytest.approx({"T-Shirt": 0.8, "Shirt": 0.1, "Blouse": 0.1})
    assert check["rules_fired"] == ["not above chance", "near chance", "few classes answered", "one class dominates"]
    assert check["balanced_p_value"] == 1.0  # shuffling a constant answer changes nothing
    assert "[few classes answered] only 1 of the 3 classes" in check["reasons"][2]
    assert "100% of all predictions are T-Shirt" in check["reasons"][3]
    assert len(check["warnings"]) == 2  # Shirt and Blouse never right: warnings
    assert verdict_line(check).startswith("VERDICT: COLLAPSED")


def test_good_predictions_on_the_same_imbalance_do_not_collapse():
    y_true = labels_80_10_10()
    y_pred = y_true.copy()
    y_pred[::10] = (y_pred[::10] + 1) % 3  # 10% errors spread over the classes
    check = honesty_check(y_true, y_pred, CLASSES)
    assert check["collapsed"] is False and check["reasons"] == []
    assert check["binomial_p_value"] < 1e-3
    # The model predicts the majority 73% of the time, near its true 80%: no dominance alarm.
    assert check["predicted_shares"]["T-Shirt"] == pytest.approx(0.73)
    assert verdict_line(check).startswith("VERDICT: not collapsed")


def test_zero_recall_class_is_a_warning_not_a_verdict():
    y_true = np.array([0] * 40 + [1] * 40 + [2] * 20)
    y_pred = np.array([0] * 40 + [1] * 40 + [0] * 20)  # Blouse never right
    check = honesty_check(y_true, y_pred, CLASSES)
    assert check["collapsed"] is False
    assert check["warnings"] == ["class Blouse (20 items) is never predicted right (recall 0)"]


def test_balanced_accuracy_near_chance_alone_is_enough():
    # Balanced classes, predictions barely better than chance and spread: only the chance rule fires
    # with enough items for the binomial test to pass.
    rng = np.random.default_rng(1)
    y_true = np.repeat([0, 1, 2], 2000)
    y_pred = np.where(rng.random(6000) < 0.05, y_true, rng.integers(0, 3, 6000))
    check = honesty_check(y_true, y_pred, CLASSES)
    assert check["balanced_p_value"] < 0.05
    assert check["collapsed"] is True
    assert check["rules_fired"] == ["near chance"]


def test_single_class_labels_leave_the_verdict_undefined():
    check = honesty_check(np.zeros(5, dtype=int), np.zeros(5, dtype=int), CLASSES)
    assert check["collapsed"] is None and check["binomial_p_value"] is None
    assert "one class only" in check["notes"][0]


def test_empty_input_raises():
    with pytest.raises(ValueError):
        honesty_check(np.array([], dtype=int), np.array([], dtype=int), CLASSES)


def test_too_few_items_for_the_accuracy_test_get_a_note():
    # 10 items at 80/10/10: even all right, p = 0.8 ** 10 = 0.107, so the test cannot pass.
    y_true = labels_80_10_10(10)
    perfect = honesty_check(y_true, y_true, CLASSES)
    assert perfect["binomial_p_value"] == pytest.approx(0.8**10)
    assert perfect["collapsed"] is False and perfect["reasons"] == []
    assert any("at least 14 needed" in note for note in perfect["notes"])
    lazy = honesty_check(y_true, np.zeros_like(y_true), CLASSES)
    assert lazy["collapsed"] is True  # balanced accuracy at chance still gives it away
    assert "near chance" in lazy["rules_fired"]
    assert honesty_check(labels_80_10_10(), labels_80_10_10(), CLASSES)["notes"] == []


# The study's experiment b on 272 val photos of 10 classes, T-Shirt 32% (docs/benchmarks.md section b).
SECTION_B_COUNTS = [88, 50, 35, 25, 20, 15, 12, 10, 9, 8]
TEN = [f"class{k}" for k in range(10)]


def section_b_predictions(right_per_class: list[int], wrong_to: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Labels of section b's shape; class k's first right_per_class[k] items right, the rest answered
    with the classes of `wrong_to` in turn (skipping k itself)."""
    y_true = np.repeat(np.arange(10), SECTION_B_COUNTS)
    y_pred, turn = y_true.copy(), 0
    for k, (count, right) in enumerate(zip(SECTION_B_COUNTS, right_per_class)):
        start = int(np.searchsorted(y_true, k))
        for i in range(start + right, start + count):
            while wrong_to[turn % len(wrong_to)] == k:
                turn += 1
            y_pred[i] = wrong_to[turn % len(wrong_to)]
            turn += 1
    return y_true, y_pred


def test_a_lazy_model_answering_three_classes_is_flagged_though_above_the_baseline():
    y_true, y_pred = section_b_predictions([75, 41, 12] + [0] * 7, wrong_to=[0, 1, 2])
    check = honesty_check(y_true, y_pred, TEN)
    assert check["accuracy"] > check["majority_baseline"] + 0.1  # 0.47 vs 0.32: the old rule passed it
    assert check["balanced_accuracy"] == pytest.approx(0.2015, abs=1e-3)
    assert check["classes_predicted"] == 3
    assert check["collapsed"] is True and check["rules_fired"] == ["few classes answered"]
    assert "only 3 of the 10 classes" in check["reasons"][0]


def test_a_balanced_model_at_the_baseline_is_not_flagged():
    right = [30, 15, 11, 8, 6, 5, 4, 3, 3, 2]
    y_true, y_pred = section_b_predictions(right, wrong_to=list(range(10)))
    check = honesty_check(y_true, y_pred, TEN)
    assert check["accuracy"] == pytest.approx(87 / 272) and check["accuracy"] < check["majority_baseline"]
    assert check["balanced_accuracy"] == pytest.approx(0.312, abs=0.01)
    assert check["classes_predicted"] == 10
    assert check["balanced_p_value"] < 0.001
    assert check["collapsed"] is False and check["rules_fired"] == []


def test_the_permutation_p_value_is_deterministic():
    y_true, y_pred = section_b_predictions([20, 10, 8, 5, 4, 3, 2, 2, 1, 1], wrong_to=list(range(10)))
    first = honesty_check(y_true, y_pred, TEN)["balanced_p_value"]
    assert first == honesty_check(y_true, y_pred, TEN)["balanced_p_value"]
