"""The demo's HTML page: every step of `fashionlens demo` on one self-contained page.

Audit tables, the shipped models, (with --train) the training plot and the evaluation verdict, annotated
street photos with the products recommended for each garment (their photos next to the page), and the
insight charts. Relative links only, no absolute path (the page is read on other machines), inline
style, no scripts, like the evaluation report, whose page frame and parts (evaluation/templates) its
template templates/demo.html.j2 extends. This module gathers the story's tables; a table or a chart with
nothing in it is a sentence instead.
"""

from __future__ import annotations

import functools
from typing import Any

import jinja2

from fashionlens.evaluation.report import template_environment

STARTS = {"imagenet": "the backbone starts from its installed ImageNet weights", "none": "from scratch"}
SHARE_TABLES = (("categories", "category"), ("regions", "region"), ("colors", "color"))


@functools.cache
def _templates() -> jinja2.Environment:
    return template_environment("fashionlens.cli")


def steps_table(story: dict[str, Any]) -> dict[str, Any]:
    steps = story["steps"]
    return {
        "rows": [[s["name"], s["status"], f"{s['seconds']:.1f}" if "seconds" in s else "-"] for s in steps],
        "total": sum(step.get("seconds", 0.0) for step in steps),
        "skipped": [step["name"] for step in steps if step["status"] == "skipped"],
        "reasons": list(dict.fromkeys(step["reason"] for step in steps if step["status"] == "skipped")),
    }


def audit_section(name: str, entry: dict[str, Any]) -> dict[str, Any]:
    """One dataset's audit: its summary as named values, then one row per class and split."""
    report = entry["report"]
    splits = list(report["splits"])
    facts = [
        ["samples", report["samples"]],
        ["labelled garments", report["garments"]],
        ["splits", ", ".join(f"{k} {v}" for k, v in report["splits"].items()) or "none"],
        ["regions", ", ".join(f"{k} {v}" for k, v in report["regions"].items())],
        ["majority class", f"{report['majority_class']} ({report['majority_share']:.1%})"],
        ["problems", len(report["problems"])],
    ]
    classes = [
        [label, count, f"{report['class_shares'][label]:.1%}"]
        + [report["class_splits"].get(label, {}).get(split, 0) for split in splits]
        for label, count in report["classes"].items()
    ]
    return {
        "name": name,
        "path": entry["path"],
        "facts": facts,
        "header": ["class", "count", "share", *splits],
        "classes": classes,
        "problems": report["problems"][:10],
    }


def model_rows(story: dict[str, Any]) -> list[list[Any]]:
    return [
        [
            m["file"],
            m["kind"],
            m["arch"],
            m["image_size"],
            len(m["classes"]),
            ", ".join(f"{name} {value:.3f}" for name, value in m["val"].items()) or "-",
        ]
        for m in story.get("models", [])
    ]


def training_tables(story: dict[str, Any]) -> dict[str, Any]:
    if "training" not in story:
        return {}
    training = story["training"]
    # history.png holds every metric group; the run's per-group PNGs repeat its panels
    figures = [name for name in training["figures"] if name == "history.png"] or training["figures"][:1]
    return {
        "starts": STARTS[training["pretrained"]],
        "rows": [
            [r["epoch"], r.get("train_loss"), r.get("val_loss"), r.get("val_balanced_accuracy"), r.get("seconds")]
            for r in training["history"]
        ],
        "figures": [(name, f"training/{name}") for name in figures],
    }


def insight_tables(story: dict[str, Any]) -> dict[str, Any]:
    insights = story.get("insights")
    if insights is None:
        return {}
    summary = insights["summary"]
    return {
        "charts": [(chart.rsplit("/", 1)[-1], chart) for chart in insights["charts"]],
        "notes": missing_charts(insights),
        "tables": [
            {
                "key": key,
                "header": [column, "count", "share"],
                "rows": [[name, v["count"], v["share"]] for name, v in summary[key].items()],
            }
            for key, column in SHARE_TABLES
        ],
    }


def missing_charts(insights: dict[str, Any]) -> list[str]:
    """What a chart left out would have shown, and when it will."""
    charts, summary = insights["charts"], insights["summary"]
    notes = []
    if not any(chart.endswith("/trend.png") for chart in charts):
        days = len(summary["trend"])
        notes.append(f"Trend: {days} day{'' if days == 1 else 's'} of events so far; the trend chart needs two.")
    if not any(chart.endswith("/click_through.png") for chart in charts):
        notes.append(
            f"Click-through: no clicks yet ({summary['click_through']['recommended']} products "
            "recommended); it is charted once customers click a recommended product."
        )
    return notes


def render(story: dict[str, Any]) -> str:
    return (
        _templates()
        .get_template("demo.html.j2")
        .render(
            title="fashionlens demo",
            story=story,
            steps=steps_table(story),
            audits=[audit_section(name, entry) for name, entry in story["audit"].items()],
            training=training_tables(story),
            models=model_rows(story),
            insights=insight_tables(story),
        )
    )
