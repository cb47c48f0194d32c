"""metrics.json and report.html: the side-by-side tables, the verdict first, figures as files next to it.

The page is self-contained HTML (inline style, no scripts) with relative links to the PNG files, so
the output folder can be zipped, mailed or served as it is. Its markup is in templates/ (Jinja2, autoescaped);
this module gathers what the templates show.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import jinja2

from fashionlens.core import terminal
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
    """The table for the terminal (core/terminal.py): first column left, the others right."""
    return terminal.render(terminal.table(header, [[format_value(v) for v in row] for row in rows]))


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


def percent(value: float, digits: int = 1) -> str:
    return f"{value:.{digits}%}"


def join_counts(counts: dict, pattern: str) -> str:
    """{"blouse": 2, "dress": 1} with "{} {}" -> "blouse 2, dress 1"."""
    return ", ".join(pattern.format(name, count) for name, count in counts.items())


def template_environment(*packages: str) -> jinja2.Environment:
    """The templates/ folders of `packages`, then this one's (page.html.j2, parts.html.j2), so that another
    page reuses the report's frame and parts. Autoescaped: a dataset, class or file name is shown as text."""
    loaders = [jinja2.PackageLoader(package) for package in (*packages, "fashionlens.evaluation")]
    environment = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        # select_autoescape matches the name's end: "html" alone would leave *.html.j2 unescaped
        autoescape=jinja2.select_autoescape(("html", "html.j2")),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters.update(cell=format_value, percent=percent, join_counts=join_counts)
    return environment


@functools.cache
def _templates() -> jinja2.Environment:
    return template_environment()


def _verdict(name: str, check: dict) -> dict:
    return {"name": name, "check": check, "line": verdict_line(check)}


def _class_table(metrics: dict) -> tuple[list[str], list[list]]:
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
    return ["class", "support", "precision", "recall", "F1", "ROC AUC", "true share", "predicted share"], rows


def classifier_page(document: dict, figures: Figures) -> str:
    """The classifier report: verdicts, the side-by-side table, then one section per dataset."""
    by_dataset = document["by_dataset"]
    flat = {name: flatten(metrics) for name, metrics in by_dataset.items()}
    datasets = [
        {
            "name": name,
            "label_mapping": metrics.get("label_mapping"),
            "class_table": _class_table(metrics),
            "saliency": metrics.get("saliency"),
            "figures": figures.get(name, []),
            "notes": metrics["notes"],
        }
        for name, metrics in by_dataset.items()
    ]
    return (
        _templates()
        .get_template("classifier.html.j2")
        .render(
            title=f"Classifier evaluation: {Path(document['run_dir']).name}",
            document=document,
            verdicts=[_verdict(name, metrics["honesty"]) for name, metrics in by_dataset.items()],
            side_by_side=side_by_side(flat, CLASSIFIER_ROWS),
            datasets=datasets,
        )
    )


def detector_page(document: dict, figures: Figures) -> str:
    """The detector report: the side-by-side table, then figures and left-out counts per dataset."""
    flat = {name: flatten(metrics) for name, metrics in document["by_dataset"].items()}
    datasets = [
        {
            "name": name,
            "images_without_boxes": metrics.get("images_without_boxes"),
            "left_out_boxes": [[why, count] for why, count in metrics["left_out_boxes"].items()],
            "figures": figures.get(name, []),
            "notes": metrics["notes"],
        }
        for name, metrics in document["by_dataset"].items()
    ]
    return (
        _templates()
        .get_template("detector.html.j2")
        .render(
            title=f"Detector evaluation: {Path(document['run_dir']).name}",
            document=document,
            side_by_side=side_by_side(flat, detector_rows(document["class_names"])),
            datasets=datasets,
        )
    )


def compare_page(document: dict) -> str:
    """The case table of two runs, each run's verdict first."""
    columns = list(document["cases"][0])
    return (
        _templates()
        .get_template("compare.html.j2")
        .render(
            title="Comparison of two classifiers",
            document=document,
            verdicts=[
                _verdict(f"{label}: {document[key]['run_dir']}", document[key]["honesty"])
                for label, key in (("A", "a"), ("B", "b"))
            ],
            cases=(columns, [[row[column] for column in columns] for row in document["cases"]]),
        )
    )
