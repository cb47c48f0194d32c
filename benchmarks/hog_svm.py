"""HOG + linear SVM baseline for the clothing classes, measured beside the CNN classifiers.

    .venv/bin/python benchmarks/hog_svm.py --classes top10                 # ../shared/data/clothing/labels.csv
    .venv/bin/python benchmarks/hog_svm.py --data-path /data --results /tmp/hog_svm.json

Prints and writes one JSON object: accuracy and balanced accuracy on the val split, the majority
baseline, and the time taken. Results: benchmarks/results/hog_svm_<classes>.json (--results).
Needs scikit-image (`pip install -e '.[bench]'`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
from skimage.feature import hog
from sklearn.metrics import accuracy_score, balanced_accuracy_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC
from tqdm import tqdm

from fashionlens.core.images import load_image
from fashionlens.core.taxonomy import CLOTHING_TOP10, CLOTHING_UPPER
from fashionlens.data import read_dataset
from recipe import RESULTS, add_data_path, clothing, write_result

CLASS_SETS = {"top10": CLOTHING_TOP10, "upper": CLOTHING_UPPER}


def hog_features(path, size=(112, 149)) -> np.ndarray:
    image = load_image(path, draft_size=size).convert("L").resize(size)
    return hog(np.asarray(image), orientations=9, pixels_per_cell=(8, 8), cells_per_block=(2, 2))


def labelled(samples, classes, split):
    rows = [
        (s.image, s.garments[0].category)
        for s in samples
        if s.split == split and s.garments and s.garments[0].category in classes
    ]
    return [r[0] for r in rows], [r[1] for r in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, help="labelled photos (default: <data-path>/clothing/labels.csv)")
    parser.add_argument("--classes", choices=sorted(CLASS_SETS), default="top10")
    parser.add_argument("--C", type=float, default=0.01)
    parser.add_argument(
        "--results", type=Path, help="results JSON (default: benchmarks/results/hog_svm_<classes>.json)"
    )
    add_data_path(parser)
    args = parser.parse_args()
    args.data = args.data or clothing(args.data_path)
    classes = set(CLASS_SETS[args.classes])
    samples = read_dataset(args.data)
    start = time.perf_counter()
    data = {}
    for split in ("train", "val"):
        paths, labels = labelled(samples, classes, split)
        features = np.stack([hog_features(p) for p in tqdm(paths, desc=f"HOG {split}", file=sys.stderr)])
        data[split] = (features, labels)
    model = make_pipeline(StandardScaler(), LinearSVC(C=args.C, max_iter=5000))
    model.fit(*data["train"])
    predicted = model.predict(data["val"][0])
    truth = data["val"][1]
    majority = Counter(truth).most_common(1)[0]
    result = {
        "classes": args.classes,
        "train_images": len(data["train"][1]),
        "val_images": len(truth),
        "accuracy": round(accuracy_score(truth, predicted), 4),
        "balanced_accuracy": round(balanced_accuracy_score(truth, predicted), 4),
        "majority_class": majority[0],
        "majority_baseline": round(majority[1] / len(truth), 4),
        "seconds": round(time.perf_counter() - start, 1),
    }
    path = args.results or RESULTS / f"hog_svm_{args.classes}.json"
    print(json.dumps(write_result(path, result, args.data_path), indent=2))


if __name__ == "__main__":
    main()
