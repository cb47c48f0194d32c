"""Does a classifier gain from test-time augmentation? Horizontal flips and larger test sizes, measured.

    .venv/bin/python benchmarks/test_time.py runs/bench/clothing-top10      # the run of classifiers.py a

Scores the run's best.pt on the split carved out of train (where settings are chosen) and on the val
split (which only reports), at its own input size and larger ones ("FixRes": random resized crops make
objects look larger in training than in a resized test photo), each plainly and with the softmax of the
photo and of its mirror image averaged. Writes benchmarks/results/test_time.json (--results). The photos
are the run's own data (its config.json names it), so this recipe takes no --data-path.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from fashionlens.inference.analyzer_models import load_torch
from fashionlens.train.classifier import ClassifierSettings, classification_datasets
from recipe import RESULTS, write_result


def accuracies(model: torch.nn.Module, loader: DataLoader) -> dict[str, float]:
    """Top-1 accuracy plain and with flip averaging."""
    right = {"plain": 0, "flip": 0}
    count = 0
    with torch.inference_mode():
        for images, geometry, targets in loader:
            images = images.contiguous(memory_format=torch.channels_last)
            probs = model(images, geometry).softmax(dim=1)
            mirrored = model(images.flip(-1), geometry).softmax(dim=1)
            right["plain"] += (probs.argmax(1) == targets).sum().item()
            right["flip"] += ((probs + mirrored).argmax(1) == targets).sum().item()
            count += len(targets)
    return {name: round(value / count, 4) for name, value in right.items()} | {"garments": count}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, help="classifier run directory")
    parser.add_argument("--sizes", default="112,128,144", help="test input widths in pixels (default 112,128,144)")
    parser.add_argument("--results", type=Path, default=RESULTS / "test_time.json", help="results JSON")
    options = parser.parse_args()
    torch.set_num_threads(2)
    model, _ = load_torch(options.run)
    settings = ClassifierSettings(**json.loads((options.run / "config.json").read_text())["settings"])
    splits = {"carved from train": settings, "val": replace(settings, val_from_train=None)}
    result = {"run": str(options.run), "scores": {}}
    for split, split_settings in splits.items():
        for size in map(int, options.sizes.split(",")):
            # the same photos at another size: only the evaluation transform depends on image_size
            height = split_settings.image_height and round(split_settings.image_height * size / settings.image_size)
            _, val = classification_datasets(
                replace(split_settings, image_size=size, image_height=height, min_image_size=None)
            )
            scores = accuracies(model, DataLoader(val, batch_size=64))
            result["scores"][f"{split}, {size} px"] = scores
            print(f"{split:>17}, {size} px: plain {scores['plain']:.4f}, with flips {scores['flip']:.4f}", flush=True)
    write_result(options.results, result)


if __name__ == "__main__":
    main()
