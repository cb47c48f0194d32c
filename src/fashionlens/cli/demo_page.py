"""The demo's HTML page: every step of `fashionlens demo` on one self-contained page.

Audit tables, the shipped models, (with --train) the training plot and the evaluation verdict, annotated
street photos with the products recommended for each garment (their photos next to the page), and the
insight charts. Relative links only, no absolute path (the page is read on other machines), inline
style, no scripts, like the evaluation report (evaluation.report), whose helpers it uses. A table or a
chart with nothing in it is a sentence instead.
"""

from __future__ import annotations

import html
from typing import Any

from fashionlens.evaluation.report import figures_html, html_table, page, verdict_html

CARDS = (
    "<style>.cards{display:flex;flex-wrap:wrap;gap:8px;margin:.3em 0 1em}.card{width:150px;border:1px solid "
    "#ddd;border-radius:4px;padding:4px;font-size:12px}.card img{width:100%;height:120px;object-fit:contain;"
    "margin:0}.skipped{background:#fff4d6;border:1px solid #d9a400;padding:.6em 1em;border-radius:4px}"
    ".photo{display:flex;gap:1.5em;align-items:flex-start;margin-bottom:2em}.photo>img{width:300px}</style>"
)


def escape(value: Any) -> str:
    return html.escape(str(value))


def steps_html(story: dict[str, Any]) -> str:
    rows = [
        [step["name"], step["status"], f"{step['seconds']:.1f}" if "seconds" in step else "-"]
        for step in story["steps"]
    ]
    total = sum(step.get("seconds", 0.0) for step in story["steps"])
    body = html_table(["step", "status", "seconds"], rows) + f"<p>{total:.0f} s in all.</p>"
    reasons = list(dict.fromkeys(step["reason"] for step in story["steps"] if step["status"] == "skipped"))
    skipped = [step["name"] for step in story["steps"] if step["status"] == "skipped"]
    if skipped:
        body += (
            f'<div class="skipped"><b>Skipped: {escape(", ".join(skipped))}.</b> '
            f"Why: {escape('; '.join(reasons))}</div>"
        )
    return body


def facts_table(rows: list[list[Any]]) -> str:
    """A two-column table of named values: the names are the row headers (no empty header row)."""
    return (
        "<table>"
        + "".join(f"<tr><th>{escape(name)}</th><td>{escape(value)}</td></tr>" for name, value in rows)
        + "</table>"
    )


def table_or_note(header: list[str], rows: list[list[Any]], empty: str) -> str:
    return html_table(header, rows) if rows else f'<p class="note">{escape(empty)}</p>'


def audit_html(story: dict[str, Any]) -> str:
    body = "<h2>Audit of the sample photos</h2>"
    for name, entry in story["audit"].items():
        report = entry["report"]
        splits = list(report["splits"])
        summary = [
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
        body += (
            f"<h3>{escape(name)} <code>{escape(entry['path'])}</code></h3>"
            + facts_table(summary)
            + table_or_note(["class", "count", "share", *splits], classes, "no labelled garments")
        )
        body += "".join(f'<p class="note">{escape(problem)}</p>' for problem in report["problems"][:10])
    return body


STARTS = {"imagenet": "the backbone starts from its installed ImageNet weights", "none": "from scratch"}


def models_html(story: dict[str, Any]) -> str:
    if "models" not in story:
        return ""
    rows = [
        [
            m["file"],
            m["kind"],
            m["arch"],
            m["image_size"],
            len(m["classes"]),
            ", ".join(f"{name} {value:.3f}" for name, value in m["val"].items()) or "-",
        ]
        for m in story["models"]
    ]
    return (
        "<h2>The shipped models</h2><p>What the package analyses photos with, out of the box; how they were "
        f"trained and where they fail: <code>{escape(story['model_card'])}</code> in the package.</p>"
        + table_or_note(
            ["file", "kind", "architecture", "input size", "classes", "validation"], rows, "no shipped model"
        )
    )


def training_html(story: dict[str, Any]) -> str:
    if "training" not in story:
        return ""
    training, evaluation = story["training"], story["evaluation"]
    rows = [
        [row["epoch"], row.get("train_loss"), row.get("val_loss"), row.get("val_balanced_accuracy"), row.get("seconds")]
        for row in training["history"]
    ]
    # history.png holds every metric group; the run's per-group PNGs repeat its panels
    figures = [name for name in training["figures"] if name == "history.png"] or training["figures"][:1]
    body = (
        "<h2>Training (--train): a short run, and the honesty check on its evaluation</h2>"
        f"<p>Equivalent command: <code>{escape(training['command'])}</code> ({STARTS[training['pretrained']]}; "
        "a few epochs on small images: the point is the pipeline).</p>"
        + html_table(["epoch", "train loss", "val loss", "val balanced accuracy", "seconds"], rows)
        + figures_html([(name, f"training/{name}") for name in figures])
    )
    body += (
        "<h3>Evaluation on the sample's val photos</h3>"
        + verdict_html("honesty check", evaluation["honesty"], evaluation["verdict"])
        + html_table(
            ["items", "accuracy", "balanced accuracy", "macro F1", "majority baseline"],
            [[evaluation[k] for k in ("n", "accuracy", "balanced_accuracy", "macro_f1", "majority_baseline")]],
        )
        + f'<p>Full report: <a href="{escape(evaluation["report"])}">{escape(evaluation["report"])}</a></p>'
    )
    return body


def catalog_html(story: dict[str, Any]) -> str:
    catalog = story.get("catalog")
    if catalog is None:
        return '<h2>Catalogue</h2><p class="skipped">Skipped (see above).</p>'
    bad = "".join(f'<p class="note">bad row: {escape(row)}</p>' for row in catalog["bad"])
    return (
        "<h2>The sample catalogue</h2>"
        f"<p>{catalog['imported']} of {catalog['products']} products imported from "
        f'<a href="{escape(catalog["csv"])}">{escape(catalog["csv"])}</a> (the clothing sample\'s photos, '
        f"illustrative prices), embedded by the default classifier <code>{escape(catalog['model'])}</code>.</p>" + bad
    )


def cards_html(picks: list[dict[str, Any]], key: str) -> str:
    if not picks:
        return '<p class="note">none in the catalogue</p>'
    cards = []
    for pick in picks:  # in the order recommend ranked them; the reason is its own (catalog.recommend)
        score = f"score {pick['score']:.2f}" if key == "similar" else f"goes with {pick['score']:.3f}"
        price = "" if pick["price"] is None else f" · {pick['price']:.2f}"
        cards.append(
            f'<div class="card"><img src="{escape(pick["image"])}" alt="{escape(pick["name"])}">'
            f"<b>{escape(pick['id'])}</b>{escape(price)}<br>{escape(pick['category'])}, "
            f"{escape(pick['color'])}<br>{escape(score)}: {escape(pick['why']['reason'])}</div>"
        )
    return f'<div class="cards">{"".join(cards)}</div>'


def garment_title(garment: dict[str, Any]) -> str:
    """Two models, two numbers, each named: the detector's score for the box, the classifier's probability
    for the category (then its next guesses)."""
    others = ", ".join(f"{c['category']} {c['score']:.0%}" for c in garment["top_categories"][1:])
    category = f"category: {garment['category']} {garment['category_score']:.0%} (classifier" + (
        f"; then {others})" if others else ")"
    )
    box = (
        "whole photo, no box detected"
        if garment["region_score"] is None
        else f"{garment['region']} body, box: detector {garment['region_score']:.0%} sure"
    )
    return f"{garment['category']}, {garment['color']} · {box} · {category}"


def photos_html(story: dict[str, Any]) -> str:
    if "photos" not in story:
        return '<h2>Analysis and recommendations</h2><p class="skipped">Skipped (see above).</p>'
    detector = story.get("detector") or "none installed: each photo is one garment"
    body = (
        f"<h2>Street photos: analysis and recommendations</h2><p>Default detector: "
        f"<code>{escape(detector)}</code>. Boxes: red upper, green lower, blue full body.</p>"
    )
    for photo in story["photos"]:
        garments = ""
        for entry in photo["garments"]:
            garments += (
                f"<h4>{escape(garment_title(entry['garment']))}</h4>"
                f"<p>Similar items, best first</p>{cards_html(entry['similar'], 'similar')}"
                f"<p>Complete the look</p>{cards_html(entry['complete_the_look'], 'look')}"
            )
        body += (
            f'<div class="photo"><img src="{escape(photo["annotated"])}" alt="annotated photo">'
            f"<div><p><code>{escape(photo['image'])}</code></p>{garments or '<p>no garment</p>'}</div></div>"
        )
    return body


def insights_html(story: dict[str, Any]) -> str:
    insights = story.get("insights")
    if insights is None:
        return '<h2>Insights</h2><p class="skipped">Skipped (see above).</p>'
    summary = insights["summary"]
    tables = "".join(
        f"<h3>{key}</h3>"
        + table_or_note(
            [key[:-1] if key != "categories" else "category", "count", "share"],
            [[name, v["count"], v["share"]] for name, v in summary[key].items()],
            f"no {key} yet",
        )
        for key in ("categories", "regions", "colors")
    )
    return (
        "<h2>Insights for the retailer</h2>"
        f"<p>{summary['events']} events logged in the catalogue (never the photo), {summary['garments']} "
        f'garments. Export for advertising tools: <a href="{escape(insights["csv"])}">'
        f"{escape(insights['csv'])}</a>.</p>"
        + figures_html([(chart.rsplit("/", 1)[-1], chart) for chart in insights["charts"]])
        + "".join(f'<p class="note">{escape(note)}</p>' for note in missing_charts(insights))
        + tables
    )


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
    body = (
        CARDS + "<p>From the photos embedded in the package to recommendations and insights: what "
        "<code>fashionlens demo</code> just did, step by step.</p>"
        + steps_html(story)
        + audit_html(story)
        + training_html(story)
        + models_html(story)
        + catalog_html(story)
        + photos_html(story)
        + insights_html(story)
    )
    return page("fashionlens demo", body)
