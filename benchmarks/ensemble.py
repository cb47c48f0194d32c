"""How far averaging several classifier runs gets on a dataset's val split: what one model of the same
size distilled from them could hope to approach. Also scores several runs side by side on the same photos.

    .venv/bin/python benchmarks/ensemble.py runs/bench/clothing-top10-ema-56 \\
        runs/bench/clothing-top10-ema-56-seed1 runs/bench/clothing-top10-ema-56-seed2 \\
        runs/bench/clothing-street-top10 --results benchmarks/results/ensemble_clothing.json

Every run is scored alone and the average of their probabilities is scored as one model, with the same
metrics and honesty check as `fashionlens evaluate` (--crops: boxed garments as their crops). The runs
must share their class names (in any order).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from fashionlens.core.checkpoint import load_checkpoint
from fashionlens.evaluation.classification import evaluate_classifier
from fashionlens.evaluation.runner import classifier_predictions, mapped_samples, read_split
from recipe import add_data_path, clothing, shown, write_result

KEYS = ("accuracy", "balanced_accuracy", "top3_accuracy", "macro_f1", "majority_baseline", "collapsed")


def probabilities(
    checkpoint: dict, samples: list, data: Path, class_names: list[str], crops: bool
) -> tuple[list[str], np.ndarray]:
    """The run's true labels and probabilities on the samples, columns in `class_names`' order."""
    own = list(checkpoint["class_names"])
    true_labels, probs, _ = classifier_predictions(checkpoint, samples, data, 64, crops=crops)
    return true_labels, probs[:, [own.index(name) for name in class_names]]


def scores(true_labels: list[str], probs: np.ndarray, class_names: list[str]) -> dict:
    metrics = evaluate_classifier(true_labels, probs, class_names)
    return {key: metrics[key] for key in KEYS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dirs", type=Path, nargs="+", help="classifier run directories")
    parser.add_argument(
        "--data", type=Path, help="dataset to score, its val split (default: <data-path>/clothing/labels.csv)"
    )
    parser.add_argument("--crops", action="store_true", help="boxed garments as their crops")
    parser.add_argument("--results", type=Path, required=True, help="results JSON to write")
    add_data_path(parser)
    options = parser.parse_args()
    options.data = options.data or clothing(options.data_path)
    checkpoints = [load_checkpoint(run_dir) for run_dir in options.run_dirs]
    class_names = list(checkpoints[0]["class_names"])
    for run_dir, checkpoint in zip(options.run_dirs, checkpoints):
        if sorted(checkpoint["class_names"]) != sorted(class_names):
            raise SystemExit(
                f"{run_dir}: classes {checkpoint['class_names']} differ from the first run's {class_names}"
            )
    # read once: the same photos, in the same order, for every run (the runs share their classes)
    samples, _ = mapped_samples(read_split(options.data, "val"), options.data, class_names, None)
    predictions = [
        probabilities(checkpoint, samples, options.data, class_names, options.crops) for checkpoint in checkpoints
    ]
    true_labels = predictions[0][0]
    average = np.mean([probs for _, probs in predictions], axis=0)
    result = {
        "data": shown(options.data),
        "split": "val",
        "crops": options.crops,
        "runs": {
            shown(run_dir): scores(true_labels, probs, class_names)
            for run_dir, (_, probs) in zip(options.run_dirs, predictions)
        },
        "average_of_probabilities": scores(true_labels, average, class_names),
    }
    print(json.dumps(write_result(options.results, result, options.data_path), indent=2))


if __name__ == "__main__":
    main()
