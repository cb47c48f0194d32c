"""Fitting an attribute head (attributes.LinearHead): masked labels, class balance, cross-validated C.

A garment without a label for an attribute (sleeve hidden, `unclear`, a lower garment's sleeve) is left
out of that attribute's fit: its row is masked, never guessed, so a set with blank labels fits exactly
the model of the same set without those rows. Rare classes (pattern: about 70% solid) can be weighted
inversely to their frequency (scikit-learn's class_weight="balanced"), so that the loss does not reward
answering the majority. The regularisation C and the class weighting are chosen by stratified k-fold
cross-validation on the training rows alone, scored by the metric the attribute is judged by. Training
may add each garment's horizontally flipped crop's features as a second example (a mirrored garment
has the same pattern, sleeve and colour); a fold's flipped copies stay on its side of the split.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, balanced_accuracy_score
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import StandardScaler

from fashionlens.inference.attributes import LinearHead

MISSING = ""  # a label that is not there
METRICS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "accuracy": accuracy_score,
    "balanced_accuracy": balanced_accuracy_score,
}
MAX_ITER = 3000


@dataclass(frozen=True)
class FitChoice:
    c: float
    class_weight: str | None  # "balanced" or None

    def model(self, seed: int) -> LogisticRegression:
        return LogisticRegression(C=self.c, class_weight=self.class_weight, max_iter=MAX_ITER, random_state=seed)


def labelled_mask(labels: np.ndarray) -> np.ndarray:
    """The rows that carry a label."""
    return np.asarray(labels) != MISSING


def fit_linear(
    features: np.ndarray, labels: np.ndarray, choice: FitChoice, seed: int = 0, extra_features: np.ndarray | None = None
) -> tuple[StandardScaler, LogisticRegression]:
    """Standardise and fit on the labelled rows only; `extra_features`: more examples of the same
    rows (the flipped crops), their labels the rows' own."""
    keep = labelled_mask(labels)
    x, y = features[keep], np.asarray(labels)[keep]
    if extra_features is not None:
        x, y = np.concatenate([x, extra_features[keep]]), np.concatenate([y, y])
    scaler = StandardScaler().fit(x)
    return scaler, choice.model(seed).fit(scaler.transform(x), y)


def cross_validate(
    features: np.ndarray,
    labels: np.ndarray,
    choices: list[FitChoice],
    metric: str,
    folds: int = 5,
    seed: int = 0,
    extra_features: np.ndarray | None = None,
) -> dict[FitChoice, float]:
    """Each choice's mean `metric` over stratified folds of the labelled rows (seeded)."""
    keep = np.flatnonzero(labelled_mask(labels))
    y = np.asarray(labels)[keep]
    splits = list(StratifiedKFold(folds, shuffle=True, random_state=seed).split(keep, y))
    scores = {}
    for choice in choices:
        fold_scores = []
        for train, test in splits:
            extra = None if extra_features is None else extra_features[keep[train]]
            scaler, model = fit_linear(features[keep[train]], y[train], choice, seed, extra)
            predicted = model.predict(scaler.transform(features[keep[test]]))
            fold_scores.append(METRICS[metric](y[test], predicted))
        scores[choice] = float(np.mean(fold_scores))
    return scores


def as_head(
    scaler: StandardScaler,
    model: LogisticRegression,
    names: tuple[str, ...],
    inputs: tuple[str, ...],
    regions: tuple[str, ...] | None = None,
) -> LinearHead:
    """The fitted pair as a shippable head, its classes in the order of `names` (every name must have
    been seen in training: a head cannot answer a name it never learned)."""
    missing = set(names) - set(model.classes_)
    if missing:
        raise ValueError(f"no training examples of {sorted(missing)}")
    order = [list(model.classes_).index(name) for name in names]
    coef = model.coef_[order] if len(model.classes_) > 2 else binary_coef(model, order)
    intercept = model.intercept_[order] if len(model.classes_) > 2 else binary_intercept(model, order)
    return LinearHead(tuple(names), tuple(inputs), scaler.mean_.copy(), scaler.scale_.copy(), coef, intercept, regions)


def binary_coef(model: LogisticRegression, order: list[int]) -> np.ndarray:
    """A two-class regression's one weight row as two softmax rows (same probabilities)."""
    both = np.stack([-model.coef_[0] / 2, model.coef_[0] / 2])
    return both[order]


def binary_intercept(model: LogisticRegression, order: list[int]) -> np.ndarray:
    both = np.array([-model.intercept_[0] / 2, model.intercept_[0] / 2])
    return both[order]
