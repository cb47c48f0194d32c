"""Evaluation figures as PNG bytes (matplotlib's Agg renderer, no display; each a bare Figure, no global state).

Returning bytes instead of writing files lets the caller compute everything first and write last,
so a failure never leaves half a report.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    for axis in figure.axes:
        axis.title.set_fontsize(10)
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=100)  # a bare Figure renders through Agg
    return buffer.getvalue()


def confusion_matrix_png(matrix: list[list[int]], class_names: list[str], title: str) -> bytes:
    """Counts in the cells; colour by share of each true class, so rare classes stay readable."""
    counts = np.asarray(matrix)
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros(counts.shape, dtype=float), where=totals > 0)
    size = max(4.0, 0.45 * len(class_names) + 2)
    figure = Figure(figsize=(size + 1, size))
    axis = figure.add_subplot()
    image = axis.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    figure.colorbar(image, ax=axis, label="share of the true class")
    ticks = np.arange(len(class_names))
    axis.set_xticks(ticks, class_names, rotation=60, ha="right", fontsize=8)
    axis.set_yticks(ticks, class_names, fontsize=8)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    if len(class_names) <= 25:
        for (row, column), value in np.ndenumerate(counts):
            if value:
                axis.text(
                    column,
                    row,
                    str(value),
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if shares[row, column] > 0.5 else "black",
                )
    axis.set_title(title)
    return _png(figure)


def roc_png(curves: dict[str, tuple[np.ndarray, np.ndarray, float]], title: str) -> bytes:
    """ROC curves, each labelled with its AUC, and the chance diagonal."""
    figure = Figure(figsize=(6, 5))
    axis = figure.add_subplot()
    for name, (fpr, tpr, auc) in curves.items():
        style = {"color": "black", "linestyle": "--", "linewidth": 2} if name == "micro" else {"linewidth": 1}
        axis.plot(fpr, tpr, label=f"{name} (AUC {auc:.3f})", **style)
    axis.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    axis.set_xlabel("false positive rate")
    axis.set_ylabel("true positive rate")
    axis.set_xlim(0, 1)
    axis.set_ylim(0, 1.01)
    if curves:
        axis.legend(fontsize=7, loc="lower right")
    else:
        axis.text(0.5, 0.5, "undefined: no class with both positives and negatives", ha="center", va="center")
    axis.set_title(title)
    return _png(figure)


def shares_png(true_shares: dict[str, float], predicted_shares: dict[str, float], title: str) -> bytes:
    """True against predicted class shares: a collapsed model shows one tall predicted bar."""
    names = list(true_shares)
    positions = np.arange(len(names))
    figure = Figure(figsize=(max(5.0, 0.5 * len(names) + 2), 3.8))
    axis = figure.add_subplot()
    axis.bar(positions - 0.2, [true_shares[n] for n in names], width=0.4, label="true")
    axis.bar(positions + 0.2, [predicted_shares[n] for n in names], width=0.4, label="predicted")
    axis.set_xticks(positions, names, rotation=60, ha="right", fontsize=8)
    axis.set_ylabel("share of items")
    axis.legend()
    axis.set_title(title)
    return _png(figure)


def pr_png(curves: dict[str, tuple[np.ndarray, np.ndarray]], ap50: dict[str, float | None], title: str) -> bytes:
    """COCO's interpolated precision against recall at IoU 0.5, one curve per region."""
    figure = Figure(figsize=(6, 5))
    axis = figure.add_subplot()
    for name, (recall, precision) in curves.items():
        ap = ap50.get(name)
        axis.plot(recall, precision, label=f"{name} (AP50 {ap:.3f})" if ap is not None else name)
    axis.set_xlabel("recall")
    axis.set_ylabel("precision")
    axis.set_xlim(0, 1)
    axis.set_ylim(0, 1.01)
    if curves:
        axis.legend(fontsize=8, loc="lower left")
    else:
        axis.text(0.5, 0.5, "no detections", ha="center", va="center")
    axis.set_title(title)
    return _png(figure)


def froc_png(curves: dict[str, tuple[np.ndarray, np.ndarray]], title: str) -> bytes:
    """FROC: recall at IoU 0.5 against false positives per image (log scale, as is usual)."""
    figure = Figure(figsize=(6, 5))
    axis = figure.add_subplot()
    for name, (fppi, recall) in curves.items():
        style: dict[str, Any] = {"color": "black", "linestyle": "--"} if name == "all" else {}
        axis.step(np.maximum(fppi, 1e-2), recall, where="post", label=name, **style)
    axis.set_xscale("log")
    axis.set_xlabel("false positives per image")
    axis.set_ylabel("recall (IoU 0.5)")
    axis.set_ylim(0, 1.01)
    if curves:
        axis.legend(fontsize=8, loc="lower right")
    else:
        axis.text(0.5, 0.5, "no detections", ha="center", va="center", transform=axis.transAxes)
    axis.set_title(title)
    return _png(figure)


def short_name(name: str) -> str:
    """The last two parts of a dataset path ("street/annotations.coco.json"): fits a plot title."""
    return "/".join(Path(name).parts[-2:])


def classifier_figures(
    prefix: str, name: str, metrics: dict, curves: dict
) -> tuple[dict[str, bytes], list[tuple[str, str]]]:
    """The classifier's PNG files of one dataset ({file: bytes}) and their (caption, file) list."""
    name = short_name(name)
    class_names = list(metrics["per_class"])
    honesty = metrics["honesty"]
    drawn = {
        f"{prefix}_confusion.png": (
            "confusion matrix",
            confusion_matrix_png(metrics["confusion_matrix"], class_names, f"{name}: confusion matrix"),
        ),
        f"{prefix}_roc.png": ("one-vs-rest ROC per class", roc_png(curves, f"{name}: ROC (one vs rest)")),
        f"{prefix}_shares.png": (
            "true vs predicted class shares",
            shares_png(honesty["true_shares"], honesty["predicted_shares"], f"{name}: class shares"),
        ),
    }
    return {file: data for file, (_, data) in drawn.items()}, [(caption, file) for file, (caption, _) in drawn.items()]


def detector_figures(
    prefix: str, name: str, metrics: dict, curves: dict
) -> tuple[dict[str, bytes], list[tuple[str, str]]]:
    """The detector's PNG files of one dataset: PR, FROC and image-level ROC per region."""
    name = short_name(name)
    drawn = {
        f"{prefix}_pr.png": (
            "precision-recall at IoU 0.5 (COCO)",
            pr_png(curves["pr"], metrics["per_class_ap50"], f"{name}: precision-recall"),
        ),
        f"{prefix}_froc.png": (
            "FROC: recall against false positives per image",
            froc_png(curves["froc"], f"{name}: FROC"),
        ),
        f"{prefix}_image_roc.png": (
            "image-level ROC per region (best detection per image)",
            roc_png(curves["image_roc"], f"{name}: image-level ROC"),
        ),
    }
    return {file: data for file, (_, data) in drawn.items()}, [(caption, file) for file, (caption, _) in drawn.items()]
