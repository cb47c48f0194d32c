"""Fit the attribute heads (src/fashionlens/inference/attributes.py) on the street train garments and score them on val.

    .venv/bin/python benchmarks/attributes.py            # fit, score, write results and figures
    .venv/bin/python benchmarks/attributes.py --write    # ... and ship src/fashionlens/weights/attributes.json
    .venv/bin/python benchmarks/attributes.py --data-path /data --results /tmp/attributes.json
    .venv/bin/python benchmarks/attributes.py --classifier runs/bench/NAME --results /tmp/attributes.json

Inputs (benchmarks/attribute_features.py, cached): each hand-labelled garment's annotated box through
the shipped classifier exactly as the Analyzer crops and transforms it (its embedding, and that of the
mirrored crop), and its pixels' colour features. Labels: attributes_train.csv for fitting, with
`unclear`, hidden sleeves and lower garments' sleeves masked; attributes_val.csv only for the numbers.
Each head's C and class weighting (none or balanced) are chosen by 5-fold stratified cross-validation on
train (seeded), scored by what the attribute is judged by (pattern: balanced accuracy, sleeve and colour:
accuracy); the chosen model is refitted on all of train with the mirrored crops as extra examples.
Pattern: its inputs too, by the same cross-validation (PATTERN_INPUTS): the embedding, the stage
statistics (the classifier's early feature maps), the pixel colour features and the garment's texture
statistics (texture.py) in several combinations; C down to 0.0001 (the longer input rows want a stronger
prior). Sleeve: the embedding alone or with the texture statistics, likewise.
Colour: (a) the pixel colour model (color_names.py), (b) a head on the embedding, (c) a head on the
embedding and the pixel colour features, (d) a head on the pixel colour features and the stage
statistics, (e) a head on the pixel colour features, their Lab histogram and the stage statistics, (f)
(e) and the pixel colour model's probabilities (a stack on (a)); the best by 5-fold accuracy on train
ships.
Also reported, not shipped: averaging each val garment's prediction with its mirrored crop's
(test-time flip, a second classifier pass).
Results: benchmarks/results/attributes.json (--results); confusion matrices: docs/figures/attributes-*-confusion.png.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from sklearn.metrics import accuracy_score, balanced_accuracy_score, confusion_matrix, recall_score
from threadpoolctl import threadpool_limits

import attribute_features
from fashionlens.core.files import write_text
from fashionlens.evaluation.honesty import honesty_check, verdict_line
from fashionlens.evaluation.plots import confusion_matrix_png
from fashionlens.inference.attributes import PATTERNS, SLEEVE_REGIONS, SLEEVES, WEIGHTS, AttributeHeads, LinearHead
from fashionlens.inference.color_names import shipped_namer
from fashionlens.inference.colors import COLOR_NAMES
from fashionlens.train.attributes import FitChoice, as_head, cross_validate, fit_linear, labelled_mask
from recipe import RESULTS, ROOT, add_data_path, shown, write_result

FIGURES = ROOT / "docs" / "figures"
GOALS = {"pattern": ("balanced_accuracy", 0.60), "sleeve": ("accuracy", 0.85), "colour": ("accuracy", 0.75)}
CHOICES = [FitChoice(c, weight) for c in (0.001, 0.003, 0.01, 0.03, 0.1) for weight in (None, "balanced")]
PATTERN_CHOICES = [
    FitChoice(c, weight) for c in (0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1) for weight in (None, "balanced")
]
PATTERN_INPUTS = (
    ("embedding",),
    ("stage_features",),
    ("color_features", "stage_features"),
    ("embedding", "texture_features", "color_features"),
    ("color_features", "texture_features", "stage_features"),
    ("embedding", "color_features", "texture_features", "stage_features"),
)
# not the stage statistics: sleeve length is shape, and with them the CV gain was 0.004 (fold noise) while
# val fell from 0.876 to 0.838 (docs/benchmarks.md)
SLEEVE_INPUTS = (("embedding",), ("embedding", "texture_features"))
COLOUR_HEADS = {
    "b_embedding_head": ("embedding",),
    "c_embedding_and_pixel_colour_head": ("embedding", "color_features"),
    "d_pixel_colour_and_stages_head": ("color_features", "stage_features"),
    "e_pixel_colour_histogram_and_stages_head": ("color_features", "color_histogram", "stage_features"),
    "f_pixel_colour_histogram_names_and_stages_head": (
        "color_features",
        "color_histogram",
        "color_probabilities",
        "stage_features",
    ),
}
SEED = 0


def attribute_labels(garments: attribute_features.LabelledGarments, name: str) -> np.ndarray:
    """The labels with '' where missing; a sleeve only for upper and full garments."""
    labels = garments.labels[name]
    return np.where(np.isin(garments.regions, SLEEVE_REGIONS), labels, "") if name == "sleeve" else labels


def inputs_of(
    garments: attribute_features.LabelledGarments, inputs: tuple[str, ...], flipped: bool = False
) -> np.ndarray:
    parts = {
        "embedding": garments.flipped_embeddings if flipped else garments.embeddings,
        "color_features": garments.color_features,
        "color_histogram": garments.color_histograms,  # a mirror has the same pixels
        "color_probabilities": garments.namer_probabilities,
        "texture_features": garments.flipped_texture_features if flipped else garments.texture_features,
        "stage_features": garments.flipped_stage_features if flipped else garments.stage_features,
    }
    return np.concatenate([parts[name] for name in inputs], axis=1)


def fit_head(
    train,
    name: str,
    names: tuple[str, ...],
    input_sets: tuple[tuple[str, ...], ...],
    metric: str,
    choices: list[FitChoice] = CHOICES,
) -> tuple[LinearHead, dict]:
    """The head (inputs, C, class weighting) chosen by cross-validation on train and refitted on all of it
    (with mirrored crops). Ties: the fewer inputs, then the stronger prior."""
    labels = attribute_labels(train, name)
    scores = {}
    for inputs in input_sets:
        features, mirrored = inputs_of(train, inputs), inputs_of(train, inputs, flipped=True)
        fold_scores = cross_validate(features, labels, choices, metric, seed=SEED, extra_features=mirrored)
        scores.update({(inputs, choice): score for choice, score in fold_scores.items()})
    inputs, best = max(scores, key=lambda key: (round(scores[key], 4), -len(key[0]), -key[1].c))
    features, mirrored = inputs_of(train, inputs), inputs_of(train, inputs, flipped=True)
    regions = SLEEVE_REGIONS if name == "sleeve" else None
    head = as_head(*fit_linear(features, labels, best, SEED, mirrored), names, inputs, regions)
    about = {
        "inputs": list(inputs),
        "c": best.c,
        "class_weight": best.class_weight,
        "cv_metric": metric,
        "cv_score": round(scores[inputs, best], 4),
        "cv_scores": cv_table(scores, len(input_sets) > 1),
        "train_garments": int(labelled_mask(labels).sum()),
    }
    return head, about


def cv_table(scores: dict, with_inputs: bool) -> dict[str, float]:
    """CV scores by choice (named as before when there was one set of inputs to choose from)."""
    named = {}
    for (inputs, choice), score in scores.items():
        prefix = f"inputs={'+'.join(inputs)} " if with_inputs else ""
        named[f"{prefix}C={choice.c} class_weight={choice.class_weight}"] = round(score, 4)
    return named


def scores(truth: np.ndarray, predicted: np.ndarray, names: tuple[str, ...]) -> dict:
    """Accuracy, balanced accuracy, per-class recall, the confusion and the honesty check's verdict."""
    present = [n for n in names if n in set(truth)]
    index = {n: i for i, n in enumerate(names)}
    check = honesty_check(np.array([index[t] for t in truth]), np.array([index[p] for p in predicted]), list(names))
    recalls = recall_score(truth, predicted, labels=present, average=None, zero_division=0)
    return {
        "garments": len(truth),
        "accuracy": round(float(accuracy_score(truth, predicted)), 4),
        "balanced_accuracy": round(float(balanced_accuracy_score(truth, predicted)), 4),
        "recall": {
            n: {"recall": round(float(r), 4), "garments": int(np.sum(truth == n))} for n, r in zip(present, recalls)
        },
        "confusion": {
            "names": list(names),
            "rows_true_columns_predicted": confusion_matrix(truth, predicted, labels=list(names)).tolist(),
        },
        "collapsed": check["collapsed"],
        "verdict": verdict_line(check),
        "warnings": check["warnings"],
        "majority_baseline": round(check["majority_baseline"], 4),
    }


def evaluate(head: LinearHead, val, name: str) -> tuple[dict, dict]:
    """The head on the labelled val garments: its scores, and those with test-time flip averaging."""
    labels = attribute_labels(val, name)
    keep = labelled_mask(labels)
    plain = head.probabilities(inputs_of(val, head.inputs)[keep])
    flipped = head.probabilities(inputs_of(val, head.inputs, flipped=True)[keep])
    names = np.array(head.names)
    return (
        scores(labels[keep], names[plain.argmax(1)], head.names),
        scores(labels[keep], names[((plain + flipped) / 2).argmax(1)], head.names),
    )


def rule_colour(val) -> dict:
    """(a) The pixel colour model (color_names.py), as the Analyzer names a garment without a colour head."""
    labels = attribute_labels(val, "colour")
    keep = labelled_mask(labels)
    named = np.array(shipped_namer().names)[val.namer_probabilities[keep].argmax(1)]
    return scores(labels[keep], named, COLOR_NAMES)


def compare_colour(train, val) -> tuple[dict, str, LinearHead | None]:
    """(a) the pixel colour model and the heads: their results, the one shipped and its head (None for
    (a)). Chosen by 5-fold accuracy on train: the heads' own, and the pixel model's as
    benchmarks/color_names.py measured it (the same seeded folds of the same garments); val only reports."""
    colour = {"a_pixel_colour_model": {"fit": {"cv_score": pixel_model_cv()}, "val": rule_colour(val)}}
    candidates = {}
    for key, inputs in COLOUR_HEADS.items():
        candidates[key], about = fit_head(train, "colour", COLOR_NAMES, (inputs,), "accuracy")
        result, with_flip = evaluate(candidates[key], val, "colour")
        colour[key] = {"fit": about, "val": result, "val_test_time_flip": with_flip}
    shipped = max(colour, key=lambda key: colour[key]["fit"]["cv_score"])
    return colour, shipped, candidates.get(shipped)


def pixel_model_cv() -> float:
    """The shipped pixel colour model's 5-fold accuracy on train, at its chosen C (color_names.json)."""
    measured = json.loads((RESULTS / "color_names.json").read_text(encoding="utf-8"))
    return float(measured["cross_validated_accuracy_by_c"][str(measured["c"])])


def write_figure(name: str, result: dict, title: str) -> str:
    path = FIGURES / f"attributes-{name}-confusion.png"
    confusion = result["confusion"]
    path.write_bytes(confusion_matrix_png(confusion["rows_true_columns_predicted"], confusion["names"], title))
    return str(path.relative_to(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help=f"ship the heads as {shown(WEIGHTS)}")
    parser.add_argument(
        "--results",
        type=Path,
        help="results JSON (default benchmarks/results/attributes.json, the shipped classifier's; "
        "required with --classifier)",
    )
    add_data_path(parser)
    attribute_features.add_classifier(parser)
    options = parser.parse_args()
    if options.write and options.classifier:
        parser.error("--write ships heads for the shipped classifier; measure a --classifier without it")
    if options.classifier and not options.results:
        parser.error("--classifier needs --results: benchmarks/results/attributes.json is the shipped classifier's")
    options.results = options.results or RESULTS / "attributes.json"
    analyzer = attribute_features.default_analyzer(options.classifier)
    street = options.data_path / "street"
    train, val = attribute_features.load("train", analyzer, street), attribute_features.load("val", analyzer, street)
    # one BLAS thread: the fits are small, and threads contending for a few shared cores are several
    # times slower than one (a pattern fit: 7 s against 42 s on this project's 2-core machine)
    with threadpool_limits(1):
        fit_and_score(analyzer, train, val, options)


def fit_and_score(analyzer, train, val, options: argparse.Namespace) -> None:
    heads, document = {}, {"classifier": analyzer.model_id, "goals": GOALS, "attributes": {}}
    for name, names, input_sets, choices in (
        ("pattern", PATTERNS, PATTERN_INPUTS, PATTERN_CHOICES),
        ("sleeve", SLEEVES, SLEEVE_INPUTS, CHOICES),
    ):
        heads[name], about = fit_head(train, name, names, input_sets, GOALS[name][0], choices)
        print(
            f"{name}: chose {'+'.join(about['inputs'])}, C {about['c']}, {about['class_weight'] or 'unweighted'} "
            f"(CV {about['cv_score']:.3f})",
            flush=True,
        )
        result, with_flip = evaluate(heads[name], val, name)
        document["attributes"][name] = {"fit": about, "val": result, "val_test_time_flip": with_flip}
    colour, shipped, heads["colour"] = compare_colour(train, val)
    if heads["colour"] is None:  # the pixel colour model stays the garment's colour: no colour head
        del heads["colour"]
    document["attributes"]["colour"] = {"shipped": shipped, **colour}
    if not options.classifier:  # the docs' figures are the shipped classifier's
        document["figures"] = {
            name: write_figure(name, document["attributes"][name]["val"], f"{name} (street val)")
            for name in ("pattern", "sleeve")
        }
        document["figures"]["colour"] = write_figure(
            "colour", colour[shipped]["val"], f"colour, {shipped} (street val)"
        )
    about = {
        "fitted_by": "benchmarks/attributes.py",
        "seed": SEED,
        "heads": {
            name: (document["attributes"][name]["fit"] if name != "colour" else colour[shipped]["fit"])
            for name in heads
        },
    }
    write_result(options.results, document, options.data_path)
    print_summary(document)
    if options.write:
        write_text(WEIGHTS, json.dumps(AttributeHeads(analyzer.model_id, heads, about).to_json()) + "\n")
        print(f"wrote {shown(WEIGHTS)}")


def print_summary(document: dict) -> None:
    attributes = document["attributes"]
    for name in ("pattern", "sleeve"):
        val = attributes[name]["val"]
        print(
            f"{name}: accuracy {val['accuracy']:.3f}, balanced accuracy {val['balanced_accuracy']:.3f} "
            f"({val['garments']} val garments); {val['verdict']}"
        )
    for key, value in attributes["colour"].items():
        if key != "shipped":
            print(
                f"colour {key}: accuracy {value['val']['accuracy']:.3f}, balanced {value['val']['balanced_accuracy']:.3f}"
            )
    print(f"colour shipped: {attributes['colour']['shipped']}")


if __name__ == "__main__":
    main()
