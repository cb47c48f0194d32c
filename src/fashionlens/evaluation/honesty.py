"""The honesty check: did the classifier learn, or fall into the lazy route of answering a few large
classes (the study's whole-photo model answered "Tee" to everything)?

Accuracy against the majority baseline is reported but judges nothing: a model that spreads its
answers over every class can sit at the baseline while learning, and one that answers only the three
largest classes can beat it while ignoring the rest. The verdict `collapsed` is raised when any of
these rules holds, each reported as a reason that names its rule:

1. "not above chance": balanced accuracy (the mean per-class recall, whose chance level is 1 / number
   of classes in the labels whatever the model answers) is not significantly above chance: a
   one-sided permutation test (scipy.stats.permutation_test, seeded, so the verdict is deterministic)
   with p >= ALPHA;
2. "near chance": balanced accuracy closes less than CHANCE_GAP (10%) of the distance from chance to
   perfect, however significant (large test sets make tiny gains significant);
3. "few classes answered": the model answers fewer than half of the classes in the labels, and the
   items of the classes it never answers are too many for that to be bad luck: a model at chance
   would get about 1 in K of them right, so zero right has binomial probability (1 - 1/K) ** n < ALPHA;
4. "one class dominates": one class takes DOMINANT_SHARE (80%) or more of all predictions while being
   at least DOMINANCE_EXCESS (10 points) rarer in the truth: a good model on 80/10/10 data predicts the
   majority about 80% of the time and must not be flagged for it.

Classes that are in the labels but never predicted right (zero recall) are warnings, not a verdict.
The baseline is the majority class of the evaluated labels themselves: the highest accuracy any
constant answer can reach on them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, TypedDict

import numpy as np
from scipy.stats import binomtest, permutation_test
from sklearn.metrics import balanced_accuracy_score, recall_score

ALPHA = 0.05
CHANCE_GAP = 0.10
DOMINANT_SHARE = 0.80
DOMINANCE_EXCESS = 0.10
PERMUTATIONS = 1999  # p-values down to 1/2000, far below ALPHA


class HonestyCheck(TypedDict):
    """What honesty_check returns; the p-values stay None when the labels hold one class only."""

    collapsed: bool | None
    reasons: list[str]
    rules_fired: list[str]
    notes: list[str]
    warnings: list[str]
    majority_class: str
    majority_baseline: float
    accuracy: float
    binomial_p_value: float | None
    balanced_accuracy: float
    chance: float
    balanced_p_value: float | None
    classes_predicted: int
    classes_in_labels: int
    true_shares: dict[str, float]
    predicted_shares: dict[str, float]


RULES = ("not above chance", "near chance", "few classes answered", "one class dominates")


def class_shares(indices: np.ndarray, class_names: list[str]) -> dict[str, float]:
    """Share of each class among `indices` (class positions in `class_names`)."""
    counts = np.bincount(indices, minlength=len(class_names))
    return {name: float(counts[k] / len(indices)) for k, name in enumerate(class_names)}


def _zero_recall_warnings(y_true: np.ndarray, y_pred: np.ndarray, class_names: list[str]) -> list[str]:
    present = np.unique(y_true)
    recalls = recall_score(y_true, y_pred, labels=present, average=None, zero_division=0)
    counts = np.bincount(y_true, minlength=len(class_names))
    return [
        f"class {class_names[k]} ({counts[k]} item{'s' if counts[k] != 1 else ''}) is never predicted right (recall 0)"
        for k, recall in zip(present, recalls)
        if recall == 0
    ]


def _dominance_reason(true_shares: dict[str, float], predicted_shares: dict[str, float]) -> str | None:
    name = max(predicted_shares, key=predicted_shares.__getitem__)
    share, truth = predicted_shares[name], true_shares[name]
    if share >= DOMINANT_SHARE and share - truth >= DOMINANCE_EXCESS:
        return (
            f"{share:.0%} of all predictions are {name}, which is only {truth:.0%} of the labels "
            f"(limit: {DOMINANT_SHARE:.0%} of predictions and {DOMINANCE_EXCESS:.0%} above its true share)"
        )
    return None


def balanced_accuracy_p_value(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """One-sided p-value of the balanced accuracy against chance: the share of seeded shufflings of the
    predictions that score at least as well (a shuffle keeps how often each class is answered)."""
    present, y_index = np.unique(y_true, return_inverse=True)
    members = np.eye(len(present))[y_index] / np.bincount(y_index)  # item -> 1/n_k in its class' column

    def balanced(predictions: np.ndarray, axis: int = -1) -> np.ndarray:
        return ((predictions == y_true) @ members).mean(axis=-1)

    result = permutation_test(
        (y_pred,),
        balanced,
        permutation_type="pairings",
        n_resamples=PERMUTATIONS,
        alternative="greater",
        vectorized=True,
        rng=0,
    )
    return float(result.pvalue)


def _few_classes_reason(y_true: np.ndarray, y_pred: np.ndarray, class_names: list[str]) -> str | None:
    present = np.unique(y_true)
    answered = np.intersect1d(present, np.unique(y_pred))
    if len(answered) >= len(present) / 2:
        return None
    ignored = np.setdiff1d(present, answered)
    items = int(np.isin(y_true, ignored).sum())
    p_value = (1 - 1 / len(present)) ** items  # zero right among them, for a model at chance
    if p_value >= ALPHA:
        return None
    names = ", ".join(class_names[k] for k in ignored[:4]) + (", ..." if len(ignored) > 4 else "")
    return (
        f"only {len(answered)} of the {len(present)} classes in the labels are ever predicted; the other "
        f"{len(ignored)} ({names}) hold {items} items ({items / len(y_true):.0%}), of which a model at chance "
        f"would get about {items / len(present):.0f} right (binomial p = {p_value:.3g} < {ALPHA} for none)"
    )


def items_needed(baseline: float) -> int:
    """The smallest number of items on which a perfect model beats `baseline` at level ALPHA."""
    return math.floor(math.log(ALPHA) / math.log(baseline)) + 1  # smallest n with baseline**n < ALPHA


def honesty_check(y_true: np.ndarray, y_pred: np.ndarray, class_names: list[str]) -> HonestyCheck:
    """The majority baseline, true vs predicted class shares, and the `collapsed` verdict with reasons.

    `y_true` and `y_pred` are class indices into `class_names`. With a single class in the labels
    no test can tell learning from guessing: `collapsed` is then None with a note. `rules_fired` names
    the rules (RULES) behind the reasons, in the same order.
    """
    y_true, y_pred = np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)
    if len(y_true) == 0:
        raise ValueError("no predictions to check")
    true_shares, predicted_shares = class_shares(y_true, class_names), class_shares(y_pred, class_names)
    majority = max(true_shares, key=true_shares.__getitem__)
    baseline = true_shares[majority]
    correct = int(np.sum(y_true == y_pred))
    present = len(np.unique(y_true))
    chance = 1.0 / present
    balanced = float(balanced_accuracy_score(y_true, y_pred)) if present > 1 else correct / len(y_true)
    result: HonestyCheck = {
        "collapsed": None,
        "reasons": [],
        "rules_fired": [],
        "notes": [],
        "warnings": _zero_recall_warnings(y_true, y_pred, class_names),
        "majority_class": majority,
        "majority_baseline": baseline,
        "accuracy": correct / len(y_true),
        "binomial_p_value": None,
        "balanced_accuracy": balanced,
        "chance": chance,
        "balanced_p_value": None,
        "classes_predicted": int(len(np.intersect1d(np.unique(y_true), np.unique(y_pred)))),
        "classes_in_labels": present,
        "true_shares": true_shares,
        "predicted_shares": predicted_shares,
    }
    if present == 1:
        result["notes"].append(f"collapsed: undefined, the labels hold one class only ({majority})")
        return result
    # reported beside the verdict, never a reason: see the module's docstring
    result["binomial_p_value"] = float(binomtest(correct, len(y_true), baseline, alternative="greater").pvalue)
    if len(y_true) < items_needed(baseline):
        result["notes"].append(
            f"accuracy vs baseline: with {len(y_true)} items even a perfect model cannot be "
            f"told from the baseline (at least {items_needed(baseline)} needed)"
        )
    result["balanced_p_value"] = balanced_accuracy_p_value(y_true, y_pred)
    for rule, reason in zip(RULES, _reasons(result, y_true, y_pred, class_names)):
        if reason:
            result["rules_fired"].append(rule)
            result["reasons"].append(f"[{rule}] {reason}")
    result["collapsed"] = bool(result["reasons"])
    return result


def _reasons(check: HonestyCheck, y_true: np.ndarray, y_pred: np.ndarray, class_names: list[str]) -> list[str | None]:
    """One reason (or None) per rule of RULES, in its order."""
    balanced, chance, p_value = check["balanced_accuracy"], check["chance"], check["balanced_p_value"]
    present = check["classes_in_labels"]
    assert p_value is not None  # computed before the rules run
    not_above = (
        (
            f"balanced accuracy {balanced:.1%} is not significantly above chance {chance:.1%} "
            f"(permutation p = {p_value:.3g} >= {ALPHA})"
        )
        if p_value >= ALPHA
        else None
    )
    near = (
        f"balanced accuracy {balanced:.1%} is near chance {chance:.1%} ({present} classes in the labels)"
        if balanced < chance + CHANCE_GAP * (1 - chance)
        else None
    )
    return [
        not_above,
        near,
        _few_classes_reason(y_true, y_pred, class_names),
        _dominance_reason(check["true_shares"], check["predicted_shares"]),
    ]


def verdict_line(check: Mapping[str, Any]) -> str:
    """One line for the terminal and the top of the report."""
    if check["collapsed"] is None:
        return (
            f"VERDICT: undefined — the labels hold one class only ({check['majority_class']}): "
            "no test can tell learning from guessing"
        )
    if check["collapsed"]:
        return "VERDICT: COLLAPSED — " + "; ".join(check["reasons"])
    return (
        f"VERDICT: not collapsed — balanced accuracy {check['balanced_accuracy']:.1%} vs chance "
        f"{check['chance']:.1%} (p = {check['balanced_p_value']:.3g}), {check['classes_predicted']} of "
        f"{check['classes_in_labels']} classes predicted; accuracy {check['accuracy']:.1%} vs majority "
        f"baseline {check['majority_baseline']:.1%}"
    )
