"""Does the classifier look at the garment? The pointing game and the saliency energy inside the garments'
boxes (Grad-CAM, evaluation/saliency.py) on the street val photos, beside accuracy, for three ways of
showing a classifier a garment:

    .venv/bin/python benchmarks/saliency.py            # trains the img+bbox run first when it is missing
    .venv/bin/python benchmarks/saliency.py --no-img-bbox

- img, whole photo: the shipped classifier (trained on catalogue photos and street crops) shown the whole
  street photo, its map of each garment's true class measured against that garment's box (no
  whole-photo street model exists; this is the 'img' model asked the whole-photo question);
- crop path (the Analyzer's): the same classifier shown each garment's crop grown by the context margin
  (`evaluate --crops`), its map placed back in the photo and measured in the grown crop, so that the
  margin around the box counts as outside;
- img+bbox: a short run (IMG_BBOX_TRAIN below: the shipped weights as the start, street train garments,
  their own 10 labels, one epoch at the shipped input size) shown each crop and its box's geometry.

Each is one `fashionlens evaluate` (metrics.json's `saliency`, report.html's confident-error grid);
results: benchmarks/results/saliency.json with the commands and wall times.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from fashionlens_cli import run, shown

ROOT = Path(__file__).resolve().parents[1]
STREET = ROOT.parent / "shared" / "data" / "street" / "annotations.coco.json"
SHIPPED = ROOT / "src" / "fashionlens" / "weights" / "classifier.pt"
IMG_BBOX_RUN = ROOT / "runs" / "bench" / "street-imgbbox-saliency"
OUT = ROOT / "runs" / "bench" / "saliency"
RESULTS = ROOT / "benchmarks" / "results" / "saliency.json"
# float32, one data process: the CPU run is the same each time (docs/benchmarks.md gives its minutes)
IMG_BBOX_TRAIN = [
    "train",
    "classifier",
    "--data",
    str(STREET),
    "--mode",
    "img+bbox",
    "--classes",
    "pants,dress,coat,shirt,skirt,jeans,blouse,t-shirt,sweater,suit",
    "--weights",
    str(SHIPPED),
    "--image-size",
    "192",
    "--image-height",
    "256",
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


def evaluate(name: str, run_or_checkpoint: Path, *extra: str) -> dict:
    """One `fashionlens evaluate` on street val: the metrics that matter here, the command, its time."""
    args = [
        "evaluate",
        str(run_or_checkpoint),
        "--data",
        str(STREET),
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
    args = parser.parse_args()
    results = {
        "data": shown(STREET),
        "split": "val",
        "classifier": shown(SHIPPED),
        "img_whole_photo": evaluate("img-whole-photo", SHIPPED),
        "crop_path": evaluate("crop-path", SHIPPED, "--crops"),
    }
    if not args.no_img_bbox:
        trained = None
        if not (IMG_BBOX_RUN / "best.pt").is_file():
            trained = round(run(IMG_BBOX_TRAIN)[0], 1)
        history = json.loads((IMG_BBOX_RUN / "history.json").read_text())
        results["img_bbox"] = {
            "train_command": "fashionlens " + " ".join(shown(a) if Path(a).exists() else a for a in IMG_BBOX_TRAIN),
            "train_seconds": trained,
            "epoch_minutes": round(sum(r["seconds"] for r in history) / 60, 1),
            **evaluate("img-bbox", IMG_BBOX_RUN),
        }
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    for name, result in results.items():
        if isinstance(result, dict):
            look = result["saliency"] or {}
            print(
                f"{name:<16} accuracy {result['accuracy']:.3f}  pointing game {look.get('pointing_game')}  "
                f"energy inside {look.get('energy_inside')}  box share {look.get('box_share')}",
                file=sys.stderr,
            )
    print(f"wrote {shown(RESULTS)}", file=sys.stderr)


if __name__ == "__main__":
    main()
