"""The report: side-by-side tables, verdict first, escaped text, PNG figures, atomic files."""

from __future__ import annotations

import html
import re

import numpy as np
import pytest

from fashionlens.core.records import Box, Detection, Garment, Sample
from fashionlens.evaluation import plots, report
from fashionlens.evaluation.classification import evaluate_classifier, roc_curves
from fashionlens.evaluation.detection import evaluate_detector

REGIONS = ["upper", "lower", "full"]


def table_rows(page: str, title: str) -> list[list[str]]:
    """The cells of the first table after `title`, unescaped."""
    table = page[page.index(title) :].split("</table>")[0]
    return [
        [html.unescape(cell) for cell in re.findall(r"<t[hd]>(.*?)</t[hd]>", row)]
        for row in table.split("</tr>")
        if "<t" in row
    ]


def detector_dataset(shift: float) -> tuple[list[Sample], list[list[Detection]]]:
    """Two photos; the detections are off by `shift` pixels, so a larger shift scores lower."""
    samples = [
        Sample(
            image=f"{i}.jpg",
            width=100,
            height=100,
            garments=[Garment(Box(10, 10, 90, 50), "upper"), Garment(Box(10, 50, 90, 95), "lower")],
        )
        for i in range(2)
    ]
    detections = [
        [
            Detection(Box(10 + shift, 10, 90 + shift, 50), "upper", 0.9),
            Detection(Box(10, 50 + shift, 90, 95), "lower", 0.8),
            Detection(Box(0, 0, 30, 30), "full", 0.3),
        ]
        for _ in range(2)
    ]
    return samples, detections


def detector_document() -> tuple[dict, report.Figures]:
    by_dataset, figures = {}, {}
    for name, shift in (("curated <lab>", 0.0), ("wild", 12.0)):
        metrics, curves = evaluate_detector(*detector_dataset(shift), REGIONS)
        files, figures[name] = plots.detector_figures("d", name, metrics, curves)
        assert all(data[:4] == b"\x89PNG" for data in files.values())
        by_dataset[name] = metrics
    return {
        "kind": "detector",
        "run_dir": "runs/det",
        "checkpoint": "runs/det/best.pt",
        "split": "val",
        "class_names": REGIONS,
        "by_dataset": by_dataset,
    }, figures


def test_detector_side_by_side_table_with_two_datasets():
    document, figures = detector_document()
    page = report.detector_page(document, figures)
    rows = table_rows(page, "Datasets side by side")
    assert rows[0] == ["metric", "curated <lab>", "wild"]  # escaped in the page, intact when read
    by_metric = {row[0]: row[1:] for row in rows[1:]}
    curated, wild = document["by_dataset"]["curated <lab>"], document["by_dataset"]["wild"]
    assert by_metric["mAP@[.5:.95]"] == [f"{curated['map']:.3f}", f"{wild['map']:.3f}"]
    assert by_metric["AP50 upper"] == ["1.000", f"{wild['per_class_ap50']['upper']:.3f}"]
    assert wild["map"] < curated["map"]  # the shifted boxes score lower: the columns differ
    assert by_metric["AP50 full"] == ["n/a", "n/a"]  # no full-body garment: undefined, not 0
    assert "<lab>" not in page and "curated &lt;lab&gt;" in page


def classifier_metrics(constant: bool) -> dict:
    classes = ["T-Shirt", "Shirt", "Blouse"]
    labels = ["T-Shirt"] * 16 + ["Shirt"] * 2 + ["Blouse"] * 2
    truth = np.array([classes.index(label) for label in labels])
    probs = np.full((20, 3), 0.1)
    probs[np.arange(20), 0 if constant else truth] = 0.8
    metrics = evaluate_classifier(labels, probs, classes)
    metrics["roc"] = roc_curves(labels, probs, classes)
    return metrics


def test_classifier_page_puts_verdicts_first_and_links_figures():
    lazy, good = classifier_metrics(constant=True), classifier_metrics(constant=False)
    figures = {}
    for index, (name, metrics) in enumerate((("lazy.csv", lazy), ("good.csv", good)), start=1):
        files, figures[name] = plots.classifier_figures(f"d{index}", name, metrics, metrics.pop("roc"))
        assert sorted(files) == [f"d{index}_confusion.png", f"d{index}_roc.png", f"d{index}_shares.png"]
    document = {
        "run_dir": "runs/clf",
        "checkpoint": "best.pt",
        "split": "val",
        "by_dataset": {"lazy.csv": lazy, "good.csv": good},
    }
    page = report.classifier_page(document, figures)
    assert page.index('class="verdict bad"') < page.index('class="verdict good"') < page.index("Datasets side by side")
    rows = {row[0]: row[1:] for row in table_rows(page, "Datasets side by side")}
    assert rows["accuracy"] == ["0.800", "1.000"] and rows["collapsed"] == ["yes", "no"]
    assert rows["top-5 accuracy"] == ["n/a", "n/a"]
    assert 'src="d2_roc.png"' in page and "never predicted right" in page


def test_text_table_aligns_and_formats():
    text = report.text_table(["metric", "a", "bb"], [["accuracy", 0.5, None], ["collapsed", True, 12]])
    header, rule, *rows = text.splitlines()
    assert [line.split() for line in [header, *rows]] == [
        ["metric", "a", "bb"],
        ["accuracy", "0.500", "n/a"],
        ["collapsed", "yes", "12"],
    ]
    assert set(rule) == {"─"} and "\x1b" not in text  # a rule under the header; no colour codes
    # names start the line; each number column ends at the same place on every line (right-aligned)
    ends = {tuple(word.end() for word in re.finditer(r"\S+", line))[1:] for line in [header, *rows]}
    assert len(ends) == 1 and not any(line[0].isspace() for line in [header, *rows])


def test_flatten_reads_nested_values():
    assert report.flatten({"a": {"b": {"c": 1}}, "d": 2})["a.b.c"] == 1


def test_write_outputs_is_atomic_and_orders_the_report_last(tmp_path):
    out = tmp_path / "eval"
    (out).mkdir()
    (out / "report.html").write_text("old")
    written = report.write_outputs(out, {"report.html": "<p>new</p>", "metrics.json": "{}", "d1_roc.png": b"\x89PNG"})
    assert [path.name for path in written] == ["d1_roc.png", "metrics.json", "report.html"]
    assert (out / "report.html").read_text() == "<p>new</p>"
    assert sorted(path.name for path in out.iterdir()) == ["d1_roc.png", "metrics.json", "report.html"]


def test_metrics_json_refuses_nan():
    with pytest.raises(ValueError):
        report.to_json({"accuracy": float("nan")})
    assert report.to_json({"auc": None}) == '{\n  "auc": null\n}\n'


def test_plots_of_a_model_that_found_nothing_still_render():
    assert plots.pr_png({}, {}, "none")[:4] == b"\x89PNG"
    assert plots.froc_png({}, "none")[:4] == b"\x89PNG"
