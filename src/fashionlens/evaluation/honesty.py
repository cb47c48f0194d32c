"""The honesty check: did the classifier learn, or fall into the lazy route of predicting the majority?

On imbalanced data (a third of upper-body garments are T-shirts) a model that always answers the
majority class scores a respectable-looking accuracy. The verdict `collapsed` is raised when any of
these holds, each reported as a reason:

1. accuracy is not significantly better than the majority-class baseline: one-sided exact binomial
   test (scipy.stats.binomtest, alternative "greater") with p >= ALPHA. On so few items that even a
   perfect model could not pass it, the test is not used and a note says so;
2. balanced accuracy is near chance: it closes less than CHANCE_GAP (10%) of the distance from
   chance (1 / number of classes in the labels) to perfect;
3. one class takes DOMINANT_SHARE (80%) or more of all predictions while being at least
   DOMINANCE_EXCESS (10 points) rarer in the truth: a good model on 80/10/10 data predicts the
   majority about 80% of the time and must not be flagged for it.

Classes that are in the labels but never predicted right (zero recall) are warnings, not a verdict.
The baseline is the majority class of the evaluated labels themselves: the highest accuracy any
constant answer can reach on them.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import binomtest
from sklearn.metrics import balanced_accuracy_score, recall_score

ALPHA = 0.05
CHANCE_GAP = 0.10
DOMINANT_SHARE = 0.80
DOMINANCE_EXCESS = 0.10


def class_shares(indices: np.ndarray, class_names: list[str]) -> dict[str, float]:
    """Share of each class among `indices` (class positions in `class_names`)."""
    counts = np.bincount(indices, minlength=len(class_names))
    return {name: float(counts[k] / len(indices)) for k, name in enumerate(class_names)}


def _zero_recall_warnings(y_true: np.ndarray, y_pred: np.ndarray, class_names: list[str]) -> list[str]:
    present = np.unique(y_true)
    recalls = recall_score(y_true, y_pred, labels=present, average=None, zero_division=0)
    counts = np.bincount(y_true, minlength=len(class_names))
    return [f"class {class_names[k]} ({counts[k]} item{'s' if counts[k] != 1 else ''}) is never predicted "
            "right (recall 0)" for k, recall in zip(present, recalls) if recall == 0]


def _dominance_reason(true_shares: dict[str, float], predicted_shares: dict[str, float]) -> str | None:
    name = max(predicted_shares, key=predicted_shares.get)
    share, truth = predicted_shares[name], true_shares[name]
    if share >= DOMINANT_SHARE and share - truth >= DOMINANCE_EXCESS:
        return (f"{share:.0%} of all predictions are {name}, which is only {truth:.0%} of the labels "
                f"(limit: {DOMINANT_SHARE:.0%} of predictions and {DOMINANCE_EXCESS:.0%} above its true share)")
    return None


def items_needed(baseline: float) -> int:
    """The smallest number of items on which a perfect model beats `baseline` at level ALPHA."""
    return math.floor(math.log(ALPHA) / math.log(baseline)) + 1  # smallest n with baseline**n < ALPHA


def honesty_check(y_true: np.ndarray, y_pred: np.ndarray, class_names: list[str]) -> dict:
    """The majority baseline, true vs predicted class shares, and the `collapsed` verdict with reasons.

    `y_true` and `y_pred` are class indices into `class_names`. With a single class in the labels
    no test can tell learning from guessing: `collapsed` is then None with a note.
    """
    y_true, y_pred = np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)
    if len(y_true) == 0:
        raise ValueError("no predictions to check")
    true_shares, predicted_shares = class_shares(y_true, class_names), class_shares(y_pred, class_names)
    majority = max(true_shares, key=true_shares.get)
    baseline = true_shares[majority]
    correct = int(np.sum(y_true == y_pred))
    accuracy = correct / len(y_true)
    present = len(np.unique(y_true))
    chance = 1.0 / present
    balanced = float(balanced_accuracy_score(y_true, y_pred)) if present > 1 else accuracy
    result = {
        "collapsed": None, "reasons": [], "notes": [],
        "warnings": _zero_recall_warnings(y_true, y_pred, class_names),
        "majority_class": majority, "majority_baseline": baseline,
        "accuracy": accuracy, "binomial_p_value": None,
        "balanced_accuracy": balanced, "chance": chance,
        "true_shares": true_shares, "predicted_shares": predicted_shares,
    }
    if present == 1:
        result["notes"].append(f"collapsed: undefined, the labels hold one class only ({majority})")
        return result
    p_value = float(binomtest(correct, len(y_true), baseline, alternative="greater").pvalue)
    result["binomial_p_value"] = p_value
    reasons = result["reasons"]
    needed = items_needed(baseline)
    if len(y_true) < needed:
        # an underpowered test would call even a perfect model collapsed: say so, do not judge by it
        result["notes"].append(f"binomial test not used: with {len(y_true)} items even a perfect model "
                               f"cannot be told from the baseline (at least {needed} needed)")
    elif p_value >= ALPHA:
        reasons.append(f"accuracy {accuracy:.1%} is not significantly above the majority baseline "
                       f"{baseline:.1%} (always {majority}): binomial p = {p_value:.3g} >= {ALPHA}")
    if balanced < chance + CHANCE_GAP * (1 - chance):
        reasons.append(f"balanced accuracy {balanced:.1%} is near chance {chance:.1%} "
                       f"({present} classes in the labels)")
    dominance = _dominance_reason(true_shares, predicted_shares)
    if dominance:
        reasons.append(dominance)
    result["collapsed"] = bool(reasons)
    return result


def verdict_line(check: dict) -> str:
    """One line for the terminal and the top of the report."""
    if check["collapsed"] is None:
        return (f"VERDICT: undefined — the labels hold one class only ({check['majority_class']}): "
                "no test can tell learning from guessing")
    if check["collapsed"]:
        return "VERDICT: COLLAPSED — " + "; ".join(check["reasons"])
    return (f"VERDICT: not collapsed — accuracy {check['accuracy']:.1%} vs majority baseline "
            f"{check['majority_baseline']:.1%} (p = {check['binomial_p_value']:.3g}), "
            f"balanced accuracy {check['balanced_accuracy']:.1%} vs chance {check['chance']:.1%}")
