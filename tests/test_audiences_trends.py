"""Audiences recover planted groups of customers; trends report a planted rising category and not a
flat one."""

from __future__ import annotations

import pytest
from sklearn.metrics import adjusted_rand_score

from fashionlens.insights.analytics import period_of
from fashionlens.insights.audiences import audiences, audiences_csv, session_profiles
from fashionlens.insights.trends import trends
from helpers import GROUPS, planted_events


def test_three_planted_groups_are_recovered():
    events, truth = planted_events()
    result = audiences(events)
    assert result["sessions"] == 90 and len(result["audiences"]) == 3
    assert sum(a["size"] for a in result["audiences"]) == 90
    found = {}
    profiles = session_profiles(events)
    assert set(profiles) == set(truth)
    # the audiences' traits name their group's wardrobe
    wardrobe = {group: {v for pair in pairs for v in pair} for group, pairs in GROUPS.items()}
    for audience in result["audiences"]:
        values = {t["value"] for t in audience["traits"]}
        matches = [g for g, w in wardrobe.items() if values <= w]
        assert len(matches) == 1, (values, matches)
        found[matches[0]] = audience
    assert set(found) == set(GROUPS)
    assert found["office"]["click_through"] == {"shown": 2, "clicks": 1, "rate": 0.5}


def test_planted_groups_give_a_high_adjusted_rand_index():
    from fashionlens.insights.audiences import cluster, profile_matrix

    events, truth = planted_events(seed=1)
    sessions, _, rows = profile_matrix(session_profiles(events))
    groups = cluster(rows)
    assert adjusted_rand_score([truth[s] for s in sessions], groups) >= 0.8


def test_too_few_sessions_say_so_and_csv_has_one_row_per_audience():
    events, _ = planted_events(per_group=1)
    assert audiences(events)["audiences"] == [] and "not enough sessions" in audiences(events)["note"]
    text = audiences_csv(audiences(planted_events()[0]))
    lines = text.splitlines()
    assert lines[0].startswith("audience,size,share,traits") and len(lines) == 4


def week_events(day: str, counts: dict[str, int]) -> list[dict]:
    return [
        {"time": f"{day}T12:00:00Z", "kind": "analysis", "garments": [{"category": name, "color": "Black"}]}
        for name, n in counts.items()
        for _ in range(n)
    ]


def test_a_planted_rising_category_is_rising_and_a_flat_one_is_not():
    events = week_events("2026-11-02", {"Dress": 20, "Jeans": 100, "Tee": 80}) + week_events(
        "2026-11-09", {"Dress": 70, "Jeans": 100, "Tee": 80}
    )
    result = trends(events, lambda time: period_of(time, "week"))
    assert (result["previous"], result["current"]) == ("2026-W45", "2026-W46")
    rows = {row["name"]: row for row in result["categories"]}
    assert rows["Dress"]["direction"] == "rising" and rows["Dress"]["p_adjusted"] < 0.05
    assert rows["Dress"]["current_share"] == pytest.approx(70 / 250, abs=1e-4)
    assert rows["Jeans"]["direction"] != "rising"
    assert result["colors"][0]["direction"] == "steady"  # all Black both weeks


def test_a_small_change_on_few_garments_is_steady():
    events = week_events("2026-11-02", {"Dress": 2, "Jeans": 3}) + week_events("2026-11-09", {"Dress": 4, "Jeans": 2})
    rows = {r["name"]: r for r in trends(events, lambda time: period_of(time, "week"))["categories"]}
    assert rows["Dress"]["change"] > 0.2 and rows["Dress"]["direction"] == "steady"


def test_one_period_only_gives_no_trend():
    result = trends(week_events("2026-11-02", {"Dress": 5}), lambda time: period_of(time, "week"))
    assert result["current"] is None and result["categories"] == []
