"""Classifier metrics on fixed predictions: pure functions over scikit-learn.

Every metric that the data cannot define (AUC of a class absent from the split, top-5 with five
classes or fewer) is None with a note saying why, never an exception: a small or lopsided split is
a fact to report, not a crash.
"""

from __future__ import annotations

import warnings
from collections import Counter
from dataclasses import dataclass, field, replace

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
    roc_auc_score,
    roc_curve,
    top_k_accuracy_score,
)

from fashionlens.core.records import Sample
from fashionlens.core.taxonomy import map_labels
from fashionlens.evaluation.honesty import honesty_check


def _number(value: float) -> float | None:
    """A JSON-safe float: NaN (scikit-learn's "undefined") becomes None."""
    value = float(value)
    return None if np.isnan(value) else value


def label_indices(true_labels: list[str], class_names: list[str]) -> np.ndarray:
    """Class indices of `true_labels` in `class_names` order; raises ValueError on an unknown label."""
    index = {name: i for i, name in enumerate(class_names)}
    unknown = sorted({label for label in true_labels if label not in index})
    if unknown:
        raise ValueError(f"labels not among the classes: {', '.join(unknown)}")
    return np.array([index[label] for label in true_labels], dtype=np.int64)


def top_k_accuracy(y_true: np.ndarray, probs: np.ndarray, k: int, notes: list[str]) -> float | None:
    """Top-k accuracy; None when k >= the number of classes (it would be 1.0 by construction)."""
    num_classes = probs.shape[1]
    if k >= num_classes:
        notes.append(f"top{k}_accuracy: undefined with {num_classes} classes (needs more than {k})")
        return None
    return float(top_k_accuracy_score(y_true, probs, k=k, labels=np.arange(num_classes)))


def per_class_auc(
    y_true: np.ndarray, probs: np.ndarray, class_names: list[str], notes: list[str]
) -> dict[str, float | None]:
    """One-vs-rest ROC AUC per class; None for a class with no positives or no negatives in the data."""
    result: dict[str, float | None] = {}
    for k, name in enumerate(class_names):
        positives = int(np.sum(y_true == k))
        if positives == 0 or positives == len(y_true):
            why = "absent from the data" if positives == 0 else "the only class in the data"
            notes.append(f"roc_auc[{name}]: undefined, {why}")
            result[name] = None
        else:
            result[name] = float(roc_auc_score(y_true == k, probs[:, k]))
    return result


def micro_auc(y_true: np.ndarray, probs: np.ndarray, notes: list[str]) -> float | None:
    """Micro-averaged one-vs-rest AUC: every (item, class) pair as one binary decision."""
    one_hot = np.eye(probs.shape[1], dtype=np.int64)[y_true]
    if one_hot.min() == one_hot.max():
        notes.append("roc_auc_micro: undefined, no negative pairs")
        return None
    return float(roc_auc_score(one_hot, probs, average="micro"))


def per_class_scores(y_true: np.ndarray, y_pred: np.ndarray, class_names: list[str]) -> dict[str, dict]:
    """Precision, recall, F1 and support per class; None where a ratio has a zero denominator."""
    labels = np.arange(len(class_names))
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=np.nan
    )
    return {
        name: {
            "precision": _number(precision[k]),
            "recall": _number(recall[k]),
            "f1": _number(f1[k]),
            "support": int(support[k]),
        }
        for k, name in enumerate(class_names)
    }


def classification_metrics(true_labels: list[str], probs: np.ndarray, class_names: list[str]) -> dict:
    """All classifier metrics of one dataset, JSON-ready. `probs` is N x K in `class_names` order.

    Balanced accuracy and macro F1 average over the classes present in the labels or predictions
    (scikit-learn's convention): a class the split does not contain cannot be scored.
    """
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape != (len(true_labels), len(class_names)):
        raise ValueError(f"probs must be {len(true_labels)} x {len(class_names)}, got {probs.shape}")
    if len(true_labels) == 0:
        raise ValueError("no predictions to evaluate")
    y_true = label_indices(true_labels, class_names)
    y_pred = probs.argmax(axis=1)
    notes: list[str] = []
    auc = per_class_auc(y_true, probs, class_names, notes)
    defined = [value for value in auc.values() if value is not None]
    if not defined:
        notes.append("roc_auc_macro: undefined, no class has both positives and negatives")
    with warnings.catch_warnings():
        # "y_pred contains classes not in y_true": expected on a split that lacks some classes.
        warnings.simplefilter("ignore", UserWarning)
        balanced = balanced_accuracy_score(y_true, y_pred)
    return {
        "n": len(true_labels),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "top3_accuracy": top_k_accuracy(y_true, probs, 3, notes),
        "top5_accuracy": top_k_accuracy(y_true, probs, 5, notes),
        "balanced_accuracy": float(balanced),
        "macro_f1": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
        "roc_auc_macro": float(np.mean(defined)) if defined else None,
        "roc_auc_micro": micro_auc(y_true, probs, notes),
        "roc_auc_per_class": auc,
        "per_class": per_class_scores(y_true, y_pred, class_names),
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=np.arange(len(class_names))).tolist(),
        "notes": notes,
    }


def roc_curves(
    true_labels: list[str], probs: np.ndarray, class_names: list[str]
) -> dict[str, tuple[np.ndarray, np.ndarray, float]]:
    """(fpr, tpr, auc) per class where defined, plus "micro": the data of the ROC plot."""
    y_true = label_indices(true_labels, class_names)
    probs = np.asarray(probs, dtype=np.float64)
    curves = {}
    for k, name in enumerate(class_names):
        positives = y_true == k
        if 0 < positives.sum() < len(y_true):
            fpr, tpr, _ = roc_curve(positives, probs[:, k])
            curves[name] = (fpr, tpr, float(roc_auc_score(positives, probs[:, k])))
    one_hot = np.eye(len(class_names), dtype=np.int64)[y_true]
    if 0 < one_hot.sum() < one_hot.size:
        fpr, tpr, _ = roc_curve(one_hot.ravel(), probs.ravel())
        curves["micro"] = (fpr, tpr, float(roc_auc_score(one_hot, probs, average="micro")))
    return curves


@dataclass
class LabelMapping:
    """What happened to the garment labels of a dataset mapped onto a checkpoint's classes."""

    kept: int = 0
    left_out: Counter = field(default_factory=Counter)  # original label -> garments left out
    renamed: Counter = field(default_factory=Counter)  # "label -> class" -> garments

    def as_dict(self) -> dict:
        return {
            "kept": self.kept,
            "left_out": sum(self.left_out.values()),
            "left_out_labels": dict(self.left_out.most_common()),
            "renamed": dict(self.renamed.most_common()),
        }


def map_samples_to_classes(
    samples: list[Sample], class_names: list[str], label_map: dict[str, str] | None = None
) -> tuple[list[Sample], LabelMapping]:
    """Copies of `samples` whose garment categories are renamed into `class_names`.

    Garments whose label has no counterpart (taxonomy.map_labels gives None) are left out and
    counted; samples left with no garment are dropped.
    """
    report = LabelMapping()
    mapped_samples = []
    for sample in samples:
        labels = [garment.category or "" for garment in sample.garments]
        targets = map_labels(labels, class_names, label_map) if labels else []
        garments = []
        for garment, label, target in zip(sample.garments, labels, targets):
            if target is None or not label:
                report.left_out[label or "(no label)"] += 1
                continue
            if target.lower() != label.lower():  # a change of case is not worth reporting
                report.renamed[f"{label} -> {target}"] += 1
            garments.append(replace(garment, category=target))
        report.kept += len(garments)
        if garments:
            mapped_samples.append(replace(sample, garments=garments))
    return mapped_samples, report


def evaluate_classifier(true_labels: list[str], probs: np.ndarray, class_names: list[str]) -> dict:
    """classification_metrics() plus the honesty check, its baseline and verdict at the top level."""
    metrics = classification_metrics(true_labels, probs, class_names)
    check = honesty_check(label_indices(true_labels, class_names), np.asarray(probs).argmax(axis=1), class_names)
    metrics["majority_baseline"] = check["majority_baseline"]
    metrics["collapsed"] = check["collapsed"]
    metrics["honesty"] = check
    return metrics
