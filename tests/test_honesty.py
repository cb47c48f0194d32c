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
    assert len(check["reasons"]) == 3
    assert "not significantly above the majority baseline" in check["reasons"][0]
    assert "near chance" in check["reasons"][1]
    assert "100% of all predictions are T-Shirt" in check["reasons"][2]
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
    assert check["binomial_p_value"] < 0.05
    assert check["collapsed"] is True
    assert len(check["reasons"]) == 1 and "near chance" in check["reasons"][0]


def test_single_class_labels_leave_the_verdict_undefined():
    check = honesty_check(np.zeros(5, dtype=int), np.zeros(5, dtype=int), CLASSES)
    assert check["collapsed"] is None and check["binomial_p_value"] is None
    assert "one class only" in check["notes"][0]


def test_empty_input_raises():
    with pytest.raises(ValueError):
        honesty_check(np.array([], dtype=int), np.array([], dtype=int), CLASSES)


def test_too_few_items_skip_the_binomial_test_with_a_note():
    # 10 items at 80/10/10: even all right, p = 0.8 ** 10 = 0.107, so the test cannot pass.
    y_true = labels_80_10_10(10)
    perfect = honesty_check(y_true, y_true, CLASSES)
    assert perfect["binomial_p_value"] == pytest.approx(0.8 ** 10)
    assert perfect["collapsed"] is False and perfect["reasons"] == []
    assert any("at least 14 needed" in note for note in perfect["notes"])
    lazy = honesty_check(y_true, np.zeros_like(y_true), CLASSES)
    assert lazy["collapsed"] is True  # balanced accuracy at chance still gives it away
    assert not any("binomial" in reason for reason in lazy["reasons"])
    assert honesty_check(labels_80_10_10(), labels_80_10_10(), CLASSES)["notes"] == []
