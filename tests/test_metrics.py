"""Classifier metrics on fixed predictions, checked against scikit-learn and by hand."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    f1_score,
    precision_recall_fscore_support,
    roc_auc_score,
    top_k_accuracy_score,
)

from fashionlens.core.records import Box, Garment, Sample
from fashionlens.evaluation.classification import (
    classification_metrics,
    evaluate_classifier,
    map_samples_to_classes,
    roc_curves,
)

CLASSES = ["Dress", "Pants", "Shirt", "Shorts", "Skirt", "T-Shirt"]


def fixed_predictions(seed: int = 0, n: int = 60) -> tuple[list[str], np.ndarray]:
    """Every class present; probabilities that favour the truth without always getting it right."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % len(CLASSES)
    logits = rng.normal(size=(n, len(CLASSES)))
    logits[np.arange(n), y] += 1.2
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return [CLASSES[i] for i in y], probs


def test_metrics_equal_scikit_learn_on_fixed_predictions():
    labels, probs = fixed_predictions()
    y = np.array([CLASSES.index(label) for label in labels])
    pred = probs.argmax(axis=1)
    metrics = classification_metrics(labels, probs, CLASSES)
    assert metrics["accuracy"] == pytest.approx(accuracy_score(y, pred))
    assert metrics["top3_accuracy"] == pytest.approx(top_k_accuracy_score(y, probs, k=3))
    assert metrics["top5_accuracy"] == pytest.approx(top_k_accuracy_score(y, probs, k=5))
    assert metrics["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, pred))
    assert metrics["macro_f1"] == pytest.approx(f1_score(y, pred, average="macro"))
    assert metrics["roc_auc_macro"] == pytest.approx(roc_auc_score(y, probs, multi_class="ovr", average="macro"))
    one_hot = np.eye(len(CLASSES))[y]
    assert metrics["roc_auc_micro"] == pytest.approx(roc_auc_score(one_hot, probs, average="micro"))
    precision, recall, f1, support = precision_recall_fscore_support(y, pred)
    for k, name in enumerate(CLASSES):
        row = metrics["per_class"][name]
        assert row["precision"] == pytest.approx(precision[k])
        assert row["recall"] == pytest.approx(recall[k])
        assert row["f1"] == pytest.approx(f1[k])
        assert row["support"] == support[k] == 10
    matrix = np.array(metrics["confusion_matrix"])
    assert matrix.sum() == 60 and np.trace(matrix) == round(metrics["accuracy"] * 60)
    # The fixture is neither perfect nor hopeless: the comparisons above are not trivially 0 or 1.
    assert 0.3 < metrics["accuracy"] < 0.9


def test_small_case_by_hand():
    classes = ["a", "b", "c"]
    labels = ["a", "a", "b", "c"]
    probs = np.array([[0.7, 0.2, 0.1], [0.2, 0.5, 0.3], [0.1, 0.8, 0.1], [0.6, 0.1, 0.3]])
    metrics = classification_metrics(labels, probs, classes)
    assert metrics["accuracy"] == pytest.approx(0.5)  # items 1 and 3 right
    assert metrics["balanced_accuracy"] == pytest.approx((0.5 + 1 + 0) / 3)
    assert metrics["confusion_matrix"] == [[1, 1, 0], [0, 1, 0], [1, 0, 0]]
    assert metrics["per_class"]["c"]["precision"] is None  # never predicted: undefined
    assert metrics["per_class"]["c"]["recall"] == 0.0
    # top-3 with three classes is 1.0 by construction, top-5 impossible: both undefined, with notes.
    assert metrics["top3_accuracy"] is None and metrics["top5_accuracy"] is None
    assert any(note.startswith("top5_accuracy") for note in metrics["notes"])


def test_absent_class_auc_is_null_with_a_note_and_json_safe():
    labels, probs = fixed_predictions()
    keep = [i for i, label in enumerate(labels) if label != "Skirt"]
    metrics = classification_metrics([labels[i] for i in keep], probs[keep], CLASSES)
    assert metrics["roc_auc_per_class"]["Skirt"] is None
    assert "roc_auc[Skirt]: undefined, absent from the data" in metrics["notes"]
    assert metrics["per_class"]["Skirt"]["support"] == 0 and metrics["per_class"]["Skirt"]["recall"] is None
    defined = [v for v in metrics["roc_auc_per_class"].values() if v is not None]
    assert len(defined) == 5 and metrics["roc_auc_macro"] == pytest.approx(np.mean(defined))
    json.dumps(metrics, allow_nan=False)  # no NaN may leak into metrics.json


def test_evaluate_classifier_adds_baseline_and_verdict():
    labels, probs = fixed_predictions()
    metrics = evaluate_classifier(labels, probs, CLASSES)
    assert metrics["majority_baseline"] == pytest.approx(1 / 6)
    assert metrics["collapsed"] is False
    assert metrics["honesty"]["majority_baseline"] == metrics["majority_baseline"]


def test_roc_curves_cover_present_classes_and_micro():
    labels, probs = fixed_predictions()
    curves = roc_curves(labels, probs, CLASSES)
    assert set(curves) == set(CLASSES) | {"micro"}
    fpr, tpr, auc = curves["Dress"]
    assert fpr[0] == 0 and tpr[-1] == 1 and auc == pytest.approx(np.trapezoid(tpr, fpr))


def test_bad_shapes_and_unknown_labels_raise():
    with pytest.raises(ValueError, match="probs must be"):
        classification_metrics(["a"], np.ones((1, 3)), ["a", "b"])
    with pytest.raises(ValueError, match="not among the classes: zz"):
        classification_metrics(["zz"], np.ones((1, 2)) / 2, ["a", "b"])


def test_street_labels_map_onto_clothing_classes_and_unmapped_are_counted():
    samples = [
        Sample(
            image="a.jpg",
            garments=[Garment(Box(0, 0, 5, 5), "upper", "jeans"), Garment(Box(0, 0, 5, 5), "upper", "blazer")],
        ),
        Sample(image="b.jpg", garments=[Garment(None, "upper", "sweater")]),
        Sample(image="c.jpg", garments=[Garment(None, None, "Shoes")]),
    ]
    mapped, report = map_samples_to_classes(samples, ["Pants", "Longsleeve", "T-Shirt"])
    assert [[g.category for g in s.garments] for s in mapped] == [["Pants"], ["Longsleeve"]]
    assert report.kept == 2
    assert report.as_dict()["left_out_labels"] == {"blazer": 1, "Shoes": 1}
    assert report.renamed["jeans -> Pants"] == 1
    assert samples[0].garments[0].category == "jeans"  # the input is not modified
