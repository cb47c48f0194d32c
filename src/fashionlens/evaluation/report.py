"""metrics.json and report.html: the side-by-side tables, the verdict first, figures as files next to it.

The page is self-contained HTML (inline style, no scripts) with relative links to the PNG files, so
the output folder can be zipped, mailed or served as it is.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from fashionlens.core.files import write_bytes
from fashionlens.evaluation.honesty import verdict_line

Figures = dict[str, list[tuple[str, str]]]  # dataset -> [(caption, file name)]

CLASSIFIER_ROWS = (
    ("items", "n"),
    ("accuracy", "accuracy"),
    ("majority baseline", "majority_baseline"),
    ("top-3 accuracy", "top3_accuracy"),
    ("top-5 accuracy", "top5_accuracy"),
    ("balanced accuracy", "balanced_accuracy"),
    ("macro F1", "macro_f1"),
    ("ROC AUC macro", "roc_auc_macro"),
    ("ROC AUC micro", "roc_auc_micro"),
    ("collapsed", "collapsed"),
    # where the model looks (evaluation/saliency.py); n/a without annotated boxes
    ("pointing game (saliency max in the box)", "saliency.pointing_game"),
    ("saliency energy in the box", "saliency.energy_inside"),
    ("box share of the input (an even map)", "saliency.box_share"),
)
STYLE = (
    "body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
    "table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px;"
    "text-align:right}td:first-child,th:first-child{text-align:left}.verdict{padding:.8em 1em;"
    "border-radius:4px;margin:.5em 0}.bad{background:#fde2e1;border:1px solid #d33}.good{background:"
    "#e3f6e3;border:1px solid #3a3}.unknown{background:#eee;border:1px solid #999}img{max-width:100%;"
    "margin:.5em 0}figure{display:inline-block;max-width:48%;margin:0 1em 1em 0;vertical-align:top}.note{color:#666}"
)


def format_value(value: object) -> str:
    """Numbers with three decimals, None as "n/a" (undefined on this data), the rest as text."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def text_table(header: list[str], rows: list[list[object]]) -> str:
    """Aligned text for the terminal: first column left, the others right."""
    cells = [header] + [[format_value(v) for v in row] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(header))]
    return "\n".join(
        "  ".join(text.ljust(widths[i]) if i == 0 else text.rjust(widths[i]) for i, text in enumerate(line))
        for line in cells
    )


def side_by_side(by_dataset: dict[str, dict], rows: tuple[tuple[str, str], ...] | list) -> tuple[list[str], list[list]]:
    """One row per metric, one column per dataset: the curated-vs-wild table."""
    header = ["metric"] + list(by_dataset)
    return header, [[label] + [metrics.get(key) for metrics in by_dataset.values()] for label, key in rows]


def detector_rows(regions: list[str]) -> list[tuple[str, str]]:
    return (
        [
            ("images", "images"),
            ("ground-truth boxes", "ground_truth_boxes"),
            ("mAP@[.5:.95]", "map"),
            ("mAP@0.5", "map50"),
        ]
        + [(f"AP50 {r}", f"per_class_ap50.{r}") for r in regions]
        + [(f"AP {r}", f"per_class_ap.{r}") for r in regions]
        + [(f"image AUC {r}", f"image_auc.{r}") for r in regions]
        + [("recall at 1 FP/image", "froc_recall.all.1.0")]
    )


def flatten(metrics: dict) -> dict:
    """Nested keys as "a.b.c" (the detector rows read per-region values this way)."""
    flat: dict = {}
    for key, value in metrics.items():
        if isinstance(value, dict):
            flat.update({f"{key}.{inner}": v for inner, v in flatten(value).items()})
        flat[key] = value
    return flat


def html_table(header: list[str], rows: list[list[object]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(format_value(v))}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def verdict_html(name: str, check: dict, line: str) -> str:
    css = {True: "bad", False: "good", None: "unknown"}[check["collapsed"]]
    items = "".join(
        f"<li>{html.escape(text)}</li>" for text in check["reasons"] + check["warnings"] + check.get("notes", [])
    )
    return (
        f'<div class="verdict {css}"><b>{html.escape(name)}</b>: {html.escape(line)}'
        f"{f'<ul>{items}</ul>' if items else ''}</div>"
    )


def figures_html(figures: list[tuple[str, str]]) -> str:
    return "".join(
        f'<figure><img src="{html.escape(file)}" alt="{html.escape(caption)}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        for caption, file in figures
    )


def notes_html(notes: list[str]) -> str:
    return "".join(f'<p class="note">{html.escape(note)}</p>' for note in notes)


def page(title: str, body: str) -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>{body}</body></html>\n"
    )


def write_outputs(out_dir: Path, files: dict[str, bytes | str]) -> list[Path]:
    """Write each file atomically into `out_dir`; metrics.json and report.html go last, so a report
    never points at figures that are not there yet."""
    last = ("metrics.json", "report.html")
    order = [name for name in files if name not in last] + [name for name in last if name in files]
    written = []
    for name in order:
        content = files[name]
        data = content.encode("utf-8") if isinstance(content, str) else content
        write_bytes(out_dir / name, data)
        written.append(out_dir / name)
    return written


def to_json(document: dict) -> str:
    """metrics.json text; NaN is refused so that every undefined value is an explicit null."""
    return json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def _run_header(document: dict) -> str:
    return (
        f"<p>run <code>{html.escape(str(document['run_dir']))}</code>, checkpoint "
        f"<code>{html.escape(str(document.get('checkpoint', '')))}</code>, split "
        f"<code>{html.escape(str(document['split']))}</code></p>"
    )


def _class_table(metrics: dict) -> str:
    shares = metrics["honesty"]
    rows = [
        [
            name,
            row["support"],
            row["precision"],
            row["recall"],
            row["f1"],
            metrics["roc_auc_per_class"][name],
            shares["true_shares"][name],
            shares["predicted_shares"][name],
        ]
        for name, row in metrics["per_class"].items()
    ]
    return html_table(
        ["class", "support", "precision", "recall", "F1", "ROC AUC", "true share", "predicted share"], rows
    )


def _mapping_html(mapping: dict | None) -> str:
    if not mapping:
        return ""
    text = f"{mapping['kept']} garments used, {mapping['left_out']} left out (label with no counterpart)"
    if mapping["left_out_labels"]:
        text += ": " + ", ".join(f"{label} {count}" for label, count in mapping["left_out_labels"].items())
    if mapping["renamed"]:
        text += ". Mapped: " + ", ".join(f"{pair} ({count})" for pair, count in mapping["renamed"].items())
    return f"<p>{html.escape(text)}</p>"


def _saliency_html(saliency: dict | None) -> str:
    """Where the model looks, in a sentence: the numbers of evaluation/saliency.py."""
    if not saliency:
        return '<p class="note">Where the model looks: not measured (no annotated garment boxes).</p>'
    measured = saliency["garments"]
    if saliency.get("garments_with_boxes"):
        measured = f"the first {measured} of {saliency['garments_with_boxes']}"
    return (
        f"<p>Where the model looks (Grad-CAM of each garment's true class, input: "
        f"{html.escape(saliency['view'])}; {measured} garments): the saliency maximum falls inside the "
        f"garment's box for {saliency['pointing_game']:.1%} of them (pointing game), "
        f"{saliency['energy_inside']:.1%} of the saliency lies inside the box; a map spread evenly over "
        f"the input would score {saliency['box_share']:.1%} on both.</p>"
    )


def classifier_page(document: dict, figures: Figures) -> str:
    """The classifier report: verdicts, the side-by-side table, then one section per dataset."""
    by_dataset = document["by_dataset"]
    body = "".join(verdict_html(name, m["honesty"], verdict_line(m["honesty"])) for name, m in by_dataset.items())
    flat = {name: flatten(metrics) for name, metrics in by_dataset.items()}
    body += _run_header(document) + "<h2>Datasets side by side</h2>" + html_table(*side_by_side(flat, CLASSIFIER_ROWS))
    for name, metrics in by_dataset.items():
        body += (
            f"<h2>{html.escape(name)}</h2>"
            + _mapping_html(metrics.get("label_mapping"))
            + _class_table(metrics)
            + _saliency_html(metrics.get("saliency"))
            + figures_html(figures.get(name, []))
            + notes_html(metrics["notes"])
        )
    return page(f"Classifier evaluation: {Path(document['run_dir']).name}", body)


def detector_page(document: dict, figures: Figures) -> str:
    """The detector report: the side-by-side table, then figures and left-out counts per dataset."""
    by_dataset = {name: flatten(metrics) for name, metrics in document["by_dataset"].items()}
    body = _run_header(document) + "<h2>Datasets side by side</h2>"
    body += html_table(*side_by_side(by_dataset, detector_rows(document["class_names"])))
    for name, metrics in document["by_dataset"].items():
        left_out = [[why, count] for why, count in metrics["left_out_boxes"].items()]
        body += f"<h2>{html.escape(name)}</h2>"
        if metrics.get("images_without_boxes"):
            body += f"<p>{metrics['images_without_boxes']} images left out: labelled as a whole, no box.</p>"
        if left_out:
            body += "<p>Ground-truth boxes left out:</p>" + html_table(["reason", "boxes"], left_out)
        body += figures_html(figures.get(name, [])) + notes_html(metrics["notes"])
    return page(f"Detector evaluation: {Path(document['run_dir']).name}", body)


def compare_page(document: dict) -> str:
    """The case table of two runs, each run's verdict first."""
    body = "".join(
        verdict_html(f"{label}: {run['run_dir']}", run["honesty"], verdict_line(run["honesty"]))
        for label, run in (("A", document["a"]), ("B", document["b"]))
    )
    rows = document["cases"]
    columns = list(rows[0])
    body += (
        f"<p>data <code>{html.escape(document['data'])}</code>, split <code>"
        f"{html.escape(document['split'])}</code></p><h2>Cases per class</h2>"
        + html_table(columns, [[row[c] for c in columns] for row in rows])
    )
    p_value = document["mcnemar_p_value"]
    body += (
        f"<p>McNemar exact test on the items only one model gets right: p = {format_value(p_value)}"
        f"{' (no such items)' if p_value is None else ''}.</p>"
    )
    return page("Comparison of two classifiers", body)
