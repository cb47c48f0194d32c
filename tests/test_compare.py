"""The case table of two models on fixed predictions."""

from __future__ import annotations

import csv
import io

import pytest
from scipy.stats import binomtest

from fashionlens.evaluation.compare import compare_cases, format_table, mcnemar_p_value, table_csv

TRUTH = ["Shirt", "Shirt", "Shirt", "Shirt", "Dress", "Dress", "Pants"]
MODEL_A = ["Shirt", "Shirt", "Dress", "Pants", "Dress", "Shirt", "Pants"]
MODEL_B = ["Shirt", "Pants", "Shirt", "Dress", "Dress", "Dress", "Shirt"]


def test_case_table_on_fixed_predictions():
    rows = compare_cases(TRUTH, MODEL_A, MODEL_B, ["Dress", "Pants", "Shirt", "Skirt"])
    by_class = {row["class"]: row for row in rows}
    assert [row["class"] for row in rows] == ["Dress", "Pants", "Shirt", "all"]  # Skirt: no items
    assert by_class["Shirt"] == {
        "class": "Shirt",
        "images": 4,
        "both_right": 1,
        "both_wrong": 1,
        "only_a_right": 1,
        "only_b_right": 1,
        "accuracy_a": 0.5,
        "accuracy_b": 0.5,
    }
    assert by_class["Dress"] == {
        "class": "Dress",
        "images": 2,
        "both_right": 1,
        "both_wrong": 0,
        "only_a_right": 0,
        "only_b_right": 1,
        "accuracy_a": 0.5,
        "accuracy_b": 1.0,
    }
    assert by_class["Pants"]["only_a_right"] == 1 and by_class["Pants"]["accuracy_b"] == 0.0
    total = by_class["all"]
    assert (
        total["images"],
        total["both_right"],
        total["both_wrong"],
        total["only_a_right"],
        total["only_b_right"],
    ) == (7, 2, 1, 2, 2)
    assert total["accuracy_a"] == pytest.approx(4 / 7) and total["accuracy_b"] == pytest.approx(4 / 7)
    for row in rows:  # the four cases partition the items
        assert row["both_right"] + row["both_wrong"] + row["only_a_right"] + row["only_b_right"] == row["images"]


def test_mcnemar_on_the_discordant_items():
    rows = compare_cases(TRUTH, MODEL_A, MODEL_B)
    assert mcnemar_p_value(rows[-1]) == pytest.approx(binomtest(2, 4, 0.5).pvalue)
    same = compare_cases(TRUTH, MODEL_A, MODEL_A)
    assert mcnemar_p_value(same[-1]) is None


def test_terminal_table_and_csv():
    rows = compare_cases(TRUTH, MODEL_A, MODEL_B)
    text = format_table(rows).splitlines()
    assert text[0].split() == [
        "class",
        "images",
        "both_right",
        "both_wrong",
        "only_a_right",
        "only_b_right",
        "accuracy_a",
        "accuracy_b",
    ]
    assert text[-1].split() == ["all", "7", "2", "1", "2", "2", "0.571", "0.571"]
    parsed = list(csv.DictReader(io.StringIO(table_csv(rows))))
    assert len(parsed) == 4 and parsed[-1]["class"] == "all" and parsed[0]["only_b_right"] == "1"


def test_mismatched_lengths_raise():
    with pytest.raises(ValueError):
        compare_cases(TRUTH, MODEL_A[:-1], MODEL_B)
