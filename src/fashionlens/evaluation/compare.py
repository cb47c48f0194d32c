"""The case table of two classifiers on the same items: where each is right, per class.

Accuracy alone hides whether model B fixes A's mistakes or trades them for new ones; the table
counts, per true class, the items both get right, both get wrong, and those only one gets right.
McNemar's exact test on the discordant items (scipy.stats.binomtest at p = 0.5) says whether the
difference in accuracy is more than chance.
"""

from __future__ import annotations

import csv
import io

from scipy.stats import binomtest

from fashionlens.evaluation.report import text_table

COLUMNS = ("class", "images", "both_right", "both_wrong", "only_a_right", "only_b_right", "accuracy_a", "accuracy_b")


def _row(name: str, cases: list[tuple[bool, bool]]) -> dict:
    count = len(cases)
    right_a = sum(a for a, _ in cases)
    right_b = sum(b for _, b in cases)
    return {
        "class": name,
        "images": count,
        "both_right": sum(a and b for a, b in cases),
        "both_wrong": sum(not a and not b for a, b in cases),
        "only_a_right": sum(a and not b for a, b in cases),
        "only_b_right": sum(b and not a for a, b in cases),
        "accuracy_a": right_a / count,
        "accuracy_b": right_b / count,
    }


def compare_cases(
    true_labels: list[str], predicted_a: list[str], predicted_b: list[str], class_order: list[str] | None = None
) -> list[dict]:
    """One row per true class (in `class_order`, classes without items left out) and a final "all" row."""
    if not len(true_labels) == len(predicted_a) == len(predicted_b):
        raise ValueError("true labels and both predictions must have the same length")
    if not true_labels:
        raise ValueError("no items to compare")
    by_class: dict[str, list[tuple[bool, bool]]] = {}
    for truth, a, b in zip(true_labels, predicted_a, predicted_b):
        by_class.setdefault(truth, []).append((a == truth, b == truth))
    order = list(class_order or []) + sorted(set(by_class) - set(class_order or []))
    rows = [_row(name, by_class[name]) for name in order if name in by_class]
    rows.append(_row("all", [case for name in order if name in by_class for case in by_class[name]]))
    return rows


def mcnemar_p_value(total_row: dict) -> float | None:
    """Exact two-sided McNemar test on the discordant items; None when there are none."""
    only_a, only_b = total_row["only_a_right"], total_row["only_b_right"]
    if only_a + only_b == 0:
        return None
    return float(binomtest(only_b, only_a + only_b, 0.5).pvalue)


def format_table(rows: list[dict]) -> str:
    """The case table as aligned text for the terminal."""
    return text_table(list(COLUMNS), [[row[column] for column in COLUMNS] for row in rows])


def table_csv(rows: list[dict]) -> str:
    """The case table as CSV text (header + one line per row)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows({column: row[column] for column in COLUMNS} for row in rows)
    return buffer.getvalue()
