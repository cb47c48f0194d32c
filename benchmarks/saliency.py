"""Does the classifier look at the garment? The pointing game and the saliency energy inside the garments'
boxes (Grad-CAM, evaluation/saliency.py) on the street val photos, beside accuracy, for three ways of
showing a classifier a garment:

    .venv/bin/python benchmarks/saliency.py            # trains the img+bbox run first when it is missing
    .venv/bin/python benchmarks/saliency.py --no-img-bbox
    .venv/bin/python benchmarks/saliency.py --data-path /data --results /tmp/saliency.json

- img, whole photo: the shipped classifier (trained on catalogue photos and street crops) shown the whole
  street photo, its map of each garment's true class measured against that garment's box (no
  whole-photo street model exists; this is the 'img' model asked the whole-photo question);
- crop path (the Analyzer's): the same classifier shown each garment's crop grown by the context margin
  (`evaluate --crops`), its map placed back in the photo and measured in the grown crop, so that the
  margin around the box counts as outside;
- img+bbox: a short run (img_bbox_train below: the shipped weights as the start, street train garments,
  their own 10 labels, one epoch at the shipped input size) shown each crop and its box's geometry.

Each is one `fashionlens evaluate` (metrics.json's `saliency`, report.html's confident-error grid);
results: benchmarks/results/saliency.json (--results) with the commands and wall times.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from recipe import RESULTS, ROOT, add_data_path, run, shown, street, write_result

SHIPPED = ROOT / "src" / "fashionlens" / "weights" / "classifier.pt"
IMG_BBOX_RUN = ROOT / "runs" / "bench" / "street-imgbbox-saliency"
OUT = ROOT / "runs" / "bench" / "saliency"


def img_bbox_train(data: Path) -> list[str]:
    """The img+bbox run's training command, at the shipped classifier's input size; float32, one data
    process: the CPU run is the same each time (docs/benchmarks.md gives its minutes)."""
    from fashionlens.core.checkpoint import load_checkpoint
    from fashionlens.data.transforms import input_shape

    height, width = input_shape(load_checkpoint(SHIPPED)["preprocessing"])
    return [
        "train",
        "classifier",
        "--data",
        str(data),
        "--mode",
        "img+bbox",
        "--classes",
        "pants,dress,coat,shirt,skirt,jeans,blouse,t-shirt,sweater,suit",
        "--weights",
        str(SHIPPED),
        "--image-size",
        str(width),
        "--image-height",
        str(height),
        "--epochs",
        "1",
        "--batch-size",
        "32",
        "--lr",
        "0.001",
        "--balance",
        "weights",
        "--label-smoothing",
        "0.1",
        "--val-from-train",
        "0.15",
        "--precision",
        "float32",
        "--workers",
        "0",
        "--seed",
        "0",
        "--out",
        str(IMG_BBOX_RUN),
    ]


KEPT = ("n", "accuracy", "balanced_accuracy", "majority_baseline", "collapsed", "saliency")


def evaluate(name: str, data: Path, run_or_checkpoint: Path, *extra: str) -> dict:
    """One `fashionlens evaluate` on street val: the metrics that matter here, the command, its time."""
    args = [
        "evaluate",
        str(run_or_checkpoint),
        "--data",
        str(data),
        "--split",
        "val",
        *extra,
        "--json",
        "--out",
        str(OUT / name),
    ]
    seconds, text = run(args)
    metrics = json.loads(text)
    return {
        "command": "fashionlens " + " ".join(shown(a) if Path(a).exists() else a for a in args),
        "seconds": round(seconds, 1),
        **{key: metrics[key] for key in KEPT},
        "honesty_notes": metrics["honesty"]["notes"],
        "report": shown(OUT / name / "report.html"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-img-bbox", action="store_true", help="Leave the img+bbox run out.")
    parser.add_argument("--results", type=Path, default=RESULTS / "saliency.json", help="results JSON")
    add_data_path(parser)
    args = parser.parse_args()
    data = street(args.data_path)
    results = {
        "data": shown(data),
        "split": "val",
        "classifier": shown(SHIPPED),
        "img_whole_photo": evaluate("img-whole-photo", data, SHIPPED),
        "crop_path": evaluate("crop-path", data, SHIPPED, "--crops"),
    }
    if not args.no_img_bbox:
        trained = None
        train_args = img_bbox_train(data)
        if not (IMG_BBOX_RUN / "best.pt").is_file():
            trained = round(run(train_args)[0], 1)
        history = json.loads((IMG_BBOX_RUN / "history.json").read_text())
        results["img_bbox"] = {
            "train_command": "fashionlens " + " ".join(shown(a) if Path(a).exists() else a for a in train_args),
            "train_seconds": trained,
            "epoch_minutes": round(sum(r["seconds"] for r in history) / 60, 1),
            **evaluate("img-bbox", data, IMG_BBOX_RUN),
        }
    write_result(args.results, results, args.data_path)
    for name, result in results.items():
        if isinstance(result, dict):
            look = result["saliency"] or {}
            print(
                f"{name:<16} accuracy {result['accuracy']:.3f}  pointing game {look.get('pointing_game')}  "
                f"energy inside {look.get('energy_inside')}  box share {look.get('box_share')}",
                file=sys.stderr,
            )
    print(f"wrote {shown(args.results)}", file=sys.stderr)


if __name__ == "__main__":
    main()
