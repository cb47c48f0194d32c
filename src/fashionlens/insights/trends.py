"""Trends: which categories, colours, patterns and sleeve lengths rise or fall from one period to the next.

The latest period's share of garments against the period before it, per category (colour), with
Fisher's exact test on the 2x2 table (this label / other garments, in each period) and the
Benjamini-Hochberg correction over the labels compared (scipy.stats.false_discovery_control): with a
dozen categories a few would look significant by luck at 5% each. A label is "rising" or "falling"
only when its adjusted p-value is below ALPHA; otherwise "steady", however large the change looks on
few garments.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from scipy.stats import false_discovery_control, fisher_exact

ALPHA = 0.05
FIELDS = {"categories": "category", "colors": "color", "patterns": "pattern", "sleeves": "sleeve"}


def garment_counts(events: list[dict[str, Any]], field: str, period_of: Any) -> dict[str, Counter]:
    """period -> Counter of the field's values over the garments of that period's events."""
    periods: dict[str, Counter] = {}
    for event in events:
        counts = periods.setdefault(period_of(event["time"]), Counter())
        counts.update(str(g[field]) for g in event.get("garments", []) if g.get(field))
    return periods


def trends(events: list[dict[str, Any]], period_of: Any) -> dict[str, Any]:
    """{"previous", "current", "categories": [...], "colors": [...], "patterns", "sleeves"}: the last two
    periods with garments compared; each row: name, both shares, change, p_value, p_adjusted, direction."""
    result: dict[str, Any] = {"previous": None, "current": None, **{key: [] for key in FIELDS}}
    counts = {key: garment_counts(events, field, period_of) for key, field in FIELDS.items()}
    periods = sorted(period for period, found in counts["categories"].items() if found)
    if len(periods) < 2:
        return result
    previous, current = periods[-2:]
    result.update(previous=previous, current=current)
    for key, by_period in counts.items():
        before, after = by_period.get(previous, Counter()), by_period.get(current, Counter())
        if before and after:  # a label never given in one of the periods (no pattern heads then) is not compared
            result[key] = compare_periods(before, after)
    return result


def compare_periods(before: Counter, after: Counter) -> list[dict[str, Any]]:
    n_before, n_after = sum(before.values()), sum(after.values())
    rows = []
    for name in sorted(set(before) | set(after)):
        table = [[after[name], n_after - after[name]], [before[name], n_before - before[name]]]
        share_before, share_after = before[name] / n_before, after[name] / n_after
        rows.append(
            {
                "name": name,
                "previous_share": round(share_before, 4),
                "current_share": round(share_after, 4),
                "change": round(share_after - share_before, 4),
                "p_value": float(fisher_exact(table)[1]),
            }
        )
    adjusted = false_discovery_control([row["p_value"] for row in rows], method="bh")
    for row, p in zip(rows, adjusted):
        row["p_adjusted"] = float(p)
        row["direction"] = ("rising" if row["change"] > 0 else "falling") if p < ALPHA else "steady"
    return sorted(rows, key=lambda r: (r["direction"] == "steady", -abs(r["change"]), r["name"]))


def format_trends(result: dict[str, Any]) -> list[str]:
    if result["current"] is None:
        return ["trends: fewer than two periods with garments"]
    lines = [f"trends, {result['current']} against {result['previous']} (Benjamini-Hochberg adjusted p < {ALPHA}):"]
    for key in FIELDS:
        moving = [r for r in result[key] if r["direction"] != "steady"]
        described = (
            ", ".join(
                f"{r['name']} {r['direction']} {r['previous_share']:.0%} -> {r['current_share']:.0%}" for r in moving
            )
            or "nothing significant"
        )
        lines.append(f"  {key}: {described}")
    return lines
