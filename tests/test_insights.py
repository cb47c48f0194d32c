"""Insights counted on fixed events: shares, trends, worn together, click-through (overall, per item, per
period); logging through the store, --since, the CSV export and the charts (click-through only when items
were recommended)."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from PIL import Image

from fashionlens.catalog.store import SQLiteStore
from fashionlens.core.errors import FashionLensError
from fashionlens.core.records import Box
from fashionlens.inference.analyzer import Analysis, AnalyzedGarment
from fashionlens.inference.colors import DominantColor
from fashionlens.insights.analytics import (
    chart_names,
    chart_png,
    format_table,
    log_analysis,
    log_click,
    parse_since,
    summarize,
    write_charts,
    write_csv,
)


def worn(*garments: tuple[str, str, str]) -> list[dict]:
    return [{"category": c, "region": r, "color": col} for c, r, col in garments]


TEE, PANTS, DRESS = ("T-Shirt", "upper", "Red"), ("Pants", "lower", "Blue"), ("Dress", "full", "Black")
EVENTS = [
    {
        "time": "2024-05-06T09:00:00Z",
        "kind": "analysis",
        "channel": "store",
        "session": None,
        "garments": worn(TEE, PANTS),
    },
    {
        "time": "2024-05-06T10:00:00Z",
        "kind": "recommendation",
        "channel": "online",
        "session": "s1",
        "garments": worn(TEE, PANTS),
        "recommended": ["A", "B", "C"],
    },
    {"time": "2024-05-06T10:01:00Z", "kind": "click", "channel": "online", "session": "s1", "item": "B"},
    {
        "time": "2024-05-07T12:00:00Z",
        "kind": "recommendation",
        "channel": "online",
        "session": "s2",
        "garments": worn(DRESS),
        "recommended": ["B", "D"],
    },
    {"time": "2024-05-07T12:05:00Z", "kind": "click", "channel": "online", "session": "s2", "item": "B"},
    {"time": "2024-05-13T08:00:00Z", "kind": "click", "channel": "online", "session": None, "item": "Z"},
]


def test_summary_counts_fixed_events():
    summary = summarize(EVENTS, by="day")
    assert summary["events"] == 6 and summary["garments"] == 5
    assert summary["by_kind"] == {"analysis": 1, "click": 3, "recommendation": 2}
    assert summary["by_channel"] == {"online": 5, "store": 1}
    assert summary["categories"] == {
        "Pants": {"count": 2, "share": 0.4},
        "T-Shirt": {"count": 2, "share": 0.4},
        "Dress": {"count": 1, "share": 0.2},
    }
    assert summary["regions"] == {
        "lower": {"count": 2, "share": 0.4},
        "upper": {"count": 2, "share": 0.4},
        "full": {"count": 1, "share": 0.2},
    }
    assert list(summary["colors"]) == ["Blue", "Red", "Black"]
    assert [(p["period"], p["events"], p["garments"]) for p in summary["trend"]] == [
        ("2024-05-06", 3, 4),
        ("2024-05-07", 2, 1),
        ("2024-05-13", 1, 0),
    ]
    assert summary["worn_together"] == [{"categories": ["Pants", "T-Shirt"], "count": 2}]
    ctr = summary["click_through"]
    assert (ctr["recommended"], ctr["clicked"], ctr["rate"], ctr["clicks_not_recommended"]) == (5, 2, 0.4, 1)
    assert ctr["items"][0] == {"id": "B", "shown": 2, "clicks": 2, "rate": 1.0}
    # B's second click follows its recommendation of 05-07: it counts there, not on 05-06
    assert ctr["periods"] == [
        {"period": "2024-05-06", "recommended": 3, "clicked": 1, "rate": 0.3333},
        {"period": "2024-05-07", "recommended": 2, "clicked": 1, "rate": 0.5},
    ]
    assert summarize(EVENTS, by="week")["click_through"]["periods"] == [
        {"period": "2024-W19", "recommended": 5, "clicked": 2, "rate": 0.4}
    ]
    weekly = summarize(EVENTS, by="week")["trend"]
    assert [(p["period"], p["events"]) for p in weekly] == [("2024-W19", 5), ("2024-W20", 1)]
    assert weekly[0]["categories"] == {"Pants": 2, "T-Shirt": 2, "Dress": 1}
    table = format_table(summary)
    assert "6 events" in table and "Pants + T-Shirt" in table and "2 clicks on 5 recommended items (40.0%)" in table
    rows = [line.split() for line in table.splitlines()]
    assert ["period", "clicks", "recommended", "rate"] in rows and ["2024-05-07", "1", "2", "50.0%"] in rows


def test_no_events_is_an_empty_report_not_an_error():
    summary = summarize([], by="week")
    assert (summary["events"], summary["categories"], summary["click_through"]["rate"]) == (0, {}, None)


def test_events_are_logged_in_the_catalogue_without_the_photo(tmp_path):
    store = SQLiteStore(tmp_path / "shop.db", create=True)
    garment = AnalyzedGarment(
        Box(0, 0, 5, 5),
        "upper",
        0.9,
        "Shirt",
        0.7,
        [("Shirt", 0.7)],
        DominantColor("White", 1.0, 1.0, (250, 250, 250)),
        np.ones(3, np.float32),
    )
    analysis = Analysis("/photos/customer.jpg", 5, 5, True, [garment])
    log_analysis(store, [analysis], "store", time="2024-04-30T10:00:00Z")
    log_analysis(store, [analysis], "online", "s9", recommended=["A"], time="2024-05-02T10:00:00Z")
    log_click(store, "A", "online", "s9", time="2024-05-02T10:01:00Z")
    events = store.events()
    assert [e["kind"] for e in events] == ["analysis", "recommendation", "click"]
    assert events[1] == {
        "time": "2024-05-02T10:00:00Z",
        "kind": "recommendation",
        "channel": "online",
        "session": "s9",
        "garments": [{"region": "upper", "category": "Shirt", "color": "White"}],
        "recommended": ["A"],
    }
    raw = store.connection.execute("SELECT data FROM events").fetchall()
    assert not any("customer.jpg" in row[0] or "embedding" in row[0] for row in raw)
    assert [e["kind"] for e in store.events(parse_since("2024-05-01"))] == ["recommendation", "click"]
    assert summarize(store.events())["click_through"]["rate"] == 1.0
    with pytest.raises(FashionLensError, match="unknown channel 'web'"):
        log_click(store, "A", "web")
    with pytest.raises(FashionLensError, match="--since '1st of May': expected a date as YYYY-MM-DD"):
        parse_since("1st of May")


def test_csv_export_and_charts(tmp_path):
    summary = summarize(EVENTS, by="day")
    write_csv(summary, EVENTS, tmp_path / "insights.csv")
    with (tmp_path / "insights.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert set(rows[0]) == {"period", "dimension", "value", "count", "share"}
    overall = {(r["dimension"], r["value"]): (int(r["count"]), float(r["share"])) for r in rows if r["period"] == "all"}
    assert overall[("category", "Pants")] == (2, 0.4) and overall[("region", "full")] == (1, 0.2)
    assert {(r["value"], r["count"]) for r in rows if r["period"] == "2024-05-07"} == {
        ("Dress", "1"),
        ("full", "1"),
        ("Black", "1"),
    }
    paths = write_charts(summary, tmp_path)
    assert [p.name for p in paths] == ["shares.png", "trend.png", "click_through.png"]
    assert all(p.parent == tmp_path and p.stat().st_size > 1000 for p in paths)
    for path in paths:
        with Image.open(path) as image:
            assert image.format == "PNG" and image.width > 300
    with Image.open(tmp_path / "click_through.png") as image:
        assert image.size == (800, 400)
    only = write_charts(summary, tmp_path / "one", names=["click_through"])
    assert only == [tmp_path / "one" / "click_through.png"] and sorted(p.name for p in only[0].parent.iterdir()) == [
        "click_through.png"
    ]


def test_no_click_through_chart_without_recommendations(tmp_path):
    """Analyses and clicks but nothing recommended: a click-through chart would be an empty frame."""
    events = [e for e in EVENTS if e["kind"] != "recommendation"]
    summary = summarize(events, by="day")
    assert (summary["click_through"]["recommended"], summary["click_through"]["periods"]) == (0, [])
    paths = write_charts(summary, tmp_path)
    assert [p.name for p in paths] == ["shares.png", "trend.png"]
    assert not (tmp_path / "click_through.png").exists()
    assert write_charts(summary, tmp_path / "none", names=["click_through"]) == []


def test_charts_drawn_by_threads_at_once_are_those_drawn_one_by_one():
    """Each chart is a Figure of its own (no global plotting state): the service draws them without a lock."""
    from concurrent.futures import ThreadPoolExecutor

    summary = summarize(EVENTS)
    names = chart_names(summary) * 3
    assert "click_through" in names
    alone = {name: chart_png(summary, name) for name in set(names)}
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda name: chart_png(summary, name), names))
    assert together == [alone[name] for name in names]


def test_a_single_period_trend_is_bars_not_stray_dots():
    from fashionlens.insights.analytics import trend_chart

    events = [
        {
            "kind": "analysis",
            "time": "2026-12-01T10:00:00Z",
            "channel": "store",
            "garments": [{"category": "Pants", "region": "lower", "color": "Black"}],
        }
    ]
    one_day = trend_chart(summarize(events, "day"))
    two_days = trend_chart(summarize(events + [{**events[0], "time": "2026-12-02T10:00:00Z"}], "day"))
    assert len(one_day.axes[0].patches) == 2 and not one_day.axes[0].lines  # events and Pants
    assert "a trend needs two" in one_day.axes[0].get_title()
    assert len(two_days.axes[0].lines) == 2 and not two_days.axes[0].patches
