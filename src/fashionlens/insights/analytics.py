"""Customer insights: every analysis, recommendation and click is an event in the catalogue database.

An event holds the time (UTC), channel (store / online), an optional session id the customer consented
to, and what was seen: each garment's region, category and colour, the items recommended, the item
clicked. Never the photo. From the events: category, region and colour shares, trends per day or week (and
which categories and colours rise or fall significantly: trends.py), categories worn together, and the
click-through of recommendations (clicks on recommended items per
item recommended, overall, per item and per period), as a table, JSON, PNG charts and a CSV for
advertising tools.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import date, datetime, timezone
from itertools import combinations
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.table import Table

from fashionlens.core import terminal
from fashionlens.core.errors import FashionLensError
from fashionlens.core.files import write_bytes, write_text
from fashionlens.inference.analyzer import Analysis
from fashionlens.insights.trends import format_trends, trends

if TYPE_CHECKING:  # matplotlib is imported when a chart is drawn: `fashionlens insights` starts without it
    from matplotlib.figure import Figure

CHANNELS = ("store", "online")
DIMENSIONS = (
    ("categories", "category"),
    ("regions", "region"),
    ("colors", "color"),
    ("patterns", "pattern"),
    ("sleeves", "sleeve"),
)
CHARTS = ("shares", "trend", "click_through")  # write_charts's PNGs, <name>.png
MAX_LABELLED_BARS = 31  # a month of days: more bars than that, and their labels would overlap


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_channel(channel: str) -> str:
    if channel not in CHANNELS:
        raise FashionLensError(f"unknown channel {channel!r}; choose one of {', '.join(CHANNELS)}")
    return channel


def log_analysis(
    store: Any,
    analyses: list[Analysis],
    channel: str,
    session: str | None = None,
    recommended: list[str] | None = None,
    time: str | None = None,
    arm: Any = None,
) -> None:
    """One event per photo: "recommendation" when items were recommended, else "analysis"."""
    check_channel(channel)
    for analysis in analyses:
        data: dict[str, Any] = {"garments": [garment_labels(g) for g in analysis.garments]}
        if recommended is not None:
            data["recommended"] = recommended
        store.add_event(
            time or utc_now(),
            "recommendation" if recommended is not None else "analysis",
            channel,
            session,
            with_arm(data, arm),
        )


def garment_labels(garment: Any) -> dict[str, Any]:
    """What an event keeps of a garment: derived labels only (pattern and sleeve when predicted)."""
    labels = {"region": garment.region, "category": garment.category, "color": garment.color.name}
    for name in ("pattern", "sleeve"):
        if getattr(garment, name) is not None:
            labels[name] = getattr(garment, name).name
    return labels


def log_click(
    store: Any, item_id: str, channel: str, session: str | None = None, time: str | None = None, arm: Any = None
) -> None:
    store.add_event(time or utc_now(), "click", check_channel(channel), session, with_arm({"item": item_id}, arm))


def log_shown(
    store: Any, item_ids: list[str], channel: str, session: str | None = None, time: str | None = None, arm: Any = None
) -> None:
    """Items a page displayed (one event for all of them); recommendations log what they recommend."""
    store.add_event(
        time or utc_now(), "shown", check_channel(channel), session, with_arm({"items": list(item_ids)}, arm)
    )


def with_arm(data: dict[str, Any], arm: Any) -> dict[str, Any]:
    """The event's data, with the experiment and arm its session is in (experiments.session_arm)."""
    if arm is None:
        return data
    experiment, chosen = arm
    return {**data, "experiment": experiment.name, "arm": chosen.name}


def parse_since(text: str | None) -> str | None:
    """`--since` as YYYY-MM-DD, checked (events compare by their ISO time)."""
    if text is None:
        return None
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise FashionLensError(f"--since {text!r}: expected a date as YYYY-MM-DD") from None


def period_of(time: str, by: str) -> str:
    day = date.fromisoformat(time[:10])
    if by == "day":
        return day.isoformat()
    if by == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    raise FashionLensError(f"--by {by!r}: choose day or week")


def shares(counts: Counter) -> dict[str, dict[str, float]]:
    total = sum(counts.values())
    ordered = sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))
    return {name: {"count": count, "share": round(count / total, 4)} for name, count in ordered}


def summarize(events: list[dict[str, Any]], by: str = "day") -> dict[str, Any]:
    """Everything `fashionlens insights` reports, from events in time order."""
    garments = [g for e in events for g in e.get("garments", [])]
    counters = {key: Counter(str(g.get(field)) for g in garments if g.get(field)) for key, field in DIMENSIONS}
    trend: dict[str, dict[str, Any]] = {}
    for event in events:
        period = trend.setdefault(period_of(event["time"], by), {"events": 0, "garments": 0, "categories": Counter()})
        period["events"] += 1
        period["garments"] += len(event.get("garments", []))
        period["categories"].update(g["category"] for g in event.get("garments", []) if g.get("category"))
    together = Counter(
        pair
        for e in events
        for pair in combinations(sorted({g["category"] for g in e.get("garments", []) if g.get("category")}), 2)
    )
    return {
        "events": len(events),
        "by_kind": dict(sorted(Counter(e["kind"] for e in events).items())),
        "by_channel": dict(sorted(Counter(str(e["channel"]) for e in events).items())),
        "garments": len(garments),
        **{key: shares(counter) for key, counter in counters.items()},
        "by": by,
        "trend": [
            {
                "period": name,
                "events": p["events"],
                "garments": p["garments"],
                "categories": dict(sorted(p["categories"].items(), key=lambda c: (-c[1], c[0]))),
            }
            for name, p in sorted(trend.items())
        ],
        "worn_together": [
            {"categories": list(pair), "count": count}
            for pair, count in sorted(together.items(), key=lambda c: (-c[1], c[0]))
        ],
        "click_through": click_through(events, by),
        "trends": trends(events, lambda time: period_of(time, by)),
    }


def click_through(events: list[dict[str, Any]], by: str = "day") -> dict[str, Any]:
    """Clicks on items recommended earlier, per recommended item shown; per item and per period too.
    A click counts in the period of the item's latest recommendation before it, so each period's rate
    answers "how well did that day's (week's) recommendations do" and the periods add up to the total."""
    shown: Counter = Counter()
    clicks: Counter = Counter()
    recommended_in: dict[str, str] = {}  # item -> period of its latest recommendation
    periods: dict[str, Counter] = {}
    other = 0
    for event in events:
        if event["kind"] == "recommendation":
            period = period_of(event["time"], by)
            counts = periods.setdefault(period, Counter())
            for item in event.get("recommended", []):
                shown[item] += 1
                counts["recommended"] += 1
                recommended_in[item] = period
        elif event["kind"] == "click":
            if shown[event.get("item")]:
                clicks[event["item"]] += 1
                periods[recommended_in[event["item"]]]["clicked"] += 1
            else:
                other += 1
    total_shown, total_clicks = sum(shown.values()), sum(clicks.values())
    items = [
        {"id": item, "shown": count, "clicks": clicks[item], "rate": round(clicks[item] / count, 4)}
        for item, count in sorted(shown.items(), key=lambda c: (-clicks[c[0]], -c[1], c[0]))
    ]
    return {
        "recommended": total_shown,
        "clicked": total_clicks,
        "rate": round(total_clicks / total_shown, 4) if total_shown else None,
        "clicks_not_recommended": other,
        "items": items,
        "periods": [
            {
                "period": name,
                "recommended": c["recommended"],
                "clicked": c["clicked"],
                "rate": round(c["clicked"] / c["recommended"], 4) if c["recommended"] else None,
            }
            for name, c in sorted(periods.items())
        ],
    }


def format_table(summary: dict[str, Any], top: int = 10) -> str:
    """What `fashionlens insights` prints: the shares, the trend, the pairs worn together, the click-through."""
    kinds = ", ".join(f"{k} {v}" for k, v in summary["by_kind"].items()) or "none"
    parts: list[str | Table] = [f"{summary['events']} events ({kinds}), {summary['garments']} garments"]
    for key, field in DIMENSIONS:
        rows = [[name, v["count"], f"{v['share']:.1%}"] for name, v in list(summary[key].items())[:top]]
        parts += ["", titled_table(key, [field, "count", "share"], rows)]
    trend = [
        [row["period"], row["events"], row["garments"], ", ".join(list(row["categories"])[:3])]
        for row in summary["trend"]
    ]
    header = ["period", "events", "garments", "leading categories"]
    parts += ["", titled_table(f"trend by {summary['by']}", header, trend, left=(0, 3))]
    pairs = [[" + ".join(pair["categories"]), pair["count"]] for pair in summary["worn_together"][:top]]
    parts += ["", titled_table("worn together", ["categories", "count"], pairs), "", *click_through_lines(summary)]
    return terminal.render(*parts, "", *format_trends(summary["trends"]))


def titled_table(title: str, header: list[str], rows: list[list[Any]], left: tuple[int, ...] = (0,)) -> str | Table:
    """The table under its title; "title: none" instead of a table with nothing in it."""
    return terminal.table(header, rows, title=f"{title}:", left=left) if rows else f"{title}: none"


def click_through_lines(summary: dict[str, Any]) -> list[str | Table]:
    ctr = summary["click_through"]
    rate = "n/a" if ctr["rate"] is None else f"{ctr['rate']:.1%}"
    headline = f"click-through: {ctr['clicked']} clicks on {ctr['recommended']} recommended items ({rate})"
    rows = [
        [p["period"], p["clicked"], p["recommended"], f"{p['rate']:.1%}"] for p in ctr["periods"] if p["recommended"]
    ]
    return [headline, terminal.table(["period", "clicks", "recommended", "rate"], rows)] if rows else [headline]


def write_csv(summary: dict[str, Any], events: list[dict[str, Any]], path: Path) -> None:
    """period,dimension,value,count,share: one row per category, region and colour, per period and overall."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["period", "dimension", "value", "count", "share"])
    periods: dict[str, list[dict]] = {}
    for event in events:
        periods.setdefault(period_of(event["time"], summary["by"]), []).append(event)
    for period, chosen in [("all", events), *sorted(periods.items())]:
        garments = [g for e in chosen for g in e.get("garments", [])]
        for _, field in DIMENSIONS:
            for name, value in shares(Counter(str(g[field]) for g in garments if g.get(field))).items():
                writer.writerow([period, field, name, value["count"], value["share"]])
    write_text(path, buffer.getvalue())


def chart_names(summary: dict[str, Any]) -> list[str]:
    """The charts write_charts makes of `summary`: click-through only when items were recommended."""
    return list(CHARTS[:2]) + (["click_through"] if summary["click_through"]["recommended"] else [])


def write_charts(summary: dict[str, Any], out_dir: Path, top: int = 10, names: list[str] | None = None) -> list[Path]:
    """shares.png (category, region, colour shares), trend.png (events and leading categories over
    time), click_through.png (click-through per period, when items were recommended), as `<name>.png`
    in `out_dir`; `names`: only these of chart_names(summary)."""
    paths = []
    for name in chart_names(summary):
        if names is None or name in names:
            png = chart_png(summary, name, top)
            paths.append(out_dir / f"{name}.png")
            write_bytes(paths[-1], png)
    return paths


def chart_png(summary: dict[str, Any], name: str, top: int = 10) -> bytes:
    """One chart of chart_names(summary) as PNG bytes (the service answers them without a file). Each
    chart is a Figure of its own, rendered by Agg: no global state, so threads may draw at once."""
    draw = {
        "shares": lambda: shares_chart(summary, top),
        "trend": lambda: trend_chart(summary),
        "click_through": lambda: click_through_chart(summary),
    }
    figure = draw[name]()
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def shares_chart(summary: dict[str, Any], top: int) -> Figure:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5 * len(DIMENSIONS), 4))
    axes = figure.subplots(1, len(DIMENSIONS))
    for axis, (key, _) in zip(axes, DIMENSIONS):
        names = list(summary[key])[:top][::-1]
        axis.barh(names, [summary[key][n]["share"] for n in names])
        axis.set_title(f"{key} (share of garments)")
    return figure


def trend_chart(summary: dict[str, Any]) -> Figure:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 4))
    axis = figure.subplots()
    periods = [row["period"] for row in summary["trend"]]
    if len(periods) == 1:  # one point per line reads as stray dots: bars, and the title says why
        row, names = summary["trend"][0], list(summary["categories"])[:5]
        axis.bar(
            ["events", *names],
            [row["events"], *(row["categories"].get(name, 0) for name in names)],
            color=["#2f6f9f"] + ["#9bbcd6"] * len(names),
        )
        axis.set_title(f"{periods[0]}: one {summary['by']} so far; a trend needs two")
        return figure
    axis.plot(periods, [row["events"] for row in summary["trend"]], marker="o", label="events")
    for name in list(summary["categories"])[:5]:
        axis.plot(periods, [row["categories"].get(name, 0) for row in summary["trend"]], marker=".", label=name)
    axis.set_title(f"per {summary['by']}")
    axis.legend()
    figure.autofmt_xdate()
    return figure


def click_through_chart(summary: dict[str, Any]) -> Figure:
    """A bar per period: the click-through rate, labelled "clicks / items recommended", so that a high
    rate on few recommendations reads as what it is; a dashed line at the overall rate."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import PercentFormatter

    ctr = summary["click_through"]
    rows = [row for row in ctr["periods"] if row["recommended"]]
    figure = Figure(figsize=(8, 4))
    axis = figure.subplots()
    bars = axis.bar([row["period"] for row in rows], [row["rate"] for row in rows], color="#2f6f9f")
    if len(rows) <= MAX_LABELLED_BARS:
        axis.bar_label(bars, labels=[f"{row['clicked']} / {row['recommended']}" for row in rows], fontsize=8)
    axis.axhline(ctr["rate"], color="#c0392b", linestyle="--", linewidth=1, label=f"overall {ctr['rate']:.1%}")
    axis.set_ylim(0, max(max(row["rate"] for row in rows), ctr["rate"], 0.01) * 1.25)
    axis.yaxis.set_major_formatter(PercentFormatter(1.0))
    axis.set_ylabel("click-through")
    axis.set_title(
        f"click-through of recommendations per {summary['by']} (labels: clicks / items recommended)", fontsize=10
    )
    axis.legend(loc="upper left")
    figure.autofmt_xdate()
    return figure
