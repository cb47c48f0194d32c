"""Detector benchmarks on the real photos of --data-path (default ../shared/data): street boxes vs a curated source.

    .venv/bin/python benchmarks/detector.py street            # trained on the street boxes, scored on street val
    .venv/bin/python benchmarks/detector.py curated           # trained on clothing photos' whole-image boxes
    .venv/bin/python benchmarks/detector.py street --epochs 4 # fewer epochs (default: street 8, curated 3)
    .venv/bin/python benchmarks/detector.py street --name detector-street-resnet18  # another run beside
    .venv/bin/python benchmarks/detector.py street --backbone-from runs/bench/clothing-street-top10 --name NAME
    .venv/bin/python benchmarks/detector.py street --ema 0.99 --name NAME  # weights averaged (--ema)
    .venv/bin/python benchmarks/detector.py street --arch fasterrcnn_efficientnet_lite0_fpn \
        --backbone-from runs/bench/lite0-clothing-street --image-size 480 --name detector-street-lite0
    .venv/bin/python benchmarks/detector.py street --data-path /data --results /tmp/detector.json
    .venv/bin/python benchmarks/detector.py street ... --score-only   # score the finished run of these options

`street` trains on the street photos' garment boxes and reports mAP, mAP@0.5 and AP@0.5 per region
on the street val split. `curated` trains the same detector on the clothing photos, each labelled
garment of a known region boxed by the whole photo (--whole-image-boxes; shoes, hats... are left
out), and scores it twice: on its own clothing val photos (the run's validation, whole-image boxes)
and on the street val photos. The difference is the domain gap. `fashionlens evaluate` needs boxed
data, so the clothing number comes from the training run's best validation epoch.

The resnet18 FPN starts its backbone from the clothing top-10 classifier of `benchmarks/classifiers.py a`
(runs/bench/clothing-top10); any detector starts it from the classifier run --backbone-from names. Each experiment runs
`fashionlens` commands (printed before they run), times them, and writes
benchmarks/results/detector_<experiment>.json (or --results). Runs go to runs/bench/ (the run directory
and the results file are named after --name when it is given).
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from recipe import RESULTS, ROOT, add_data_path, clothing, run, street, write_result

RUNS = ROOT / "runs" / "bench"
BACKBONE = RUNS / "clothing-top10"

DEFAULT_EPOCHS = {"street": 8, "curated": 3}
ARCH = "fasterrcnn_resnet18_fpn"  # the detector whose backbone fits the resnet18 classifier


def train(data: Path, options: argparse.Namespace, *extra: str) -> dict:
    out = RUNS / options.name
    if not options.score_only:
        shutil.rmtree(out, ignore_errors=True)
    backbone = ["--backbone-from", str(options.backbone_from)] if options.backbone_from else []
    args = [
        "train",
        "detector",
        "--data",
        str(data),
        "--arch",
        options.arch,
        *backbone,
        "--epochs",
        str(options.epochs),
        "--image-size",
        str(options.image_size),
        "--batch-size",
        "4",
        "--tall-anchors",
        "--lr",
        str(options.lr),
        "--workers",
        str(options.workers),
        "--seed",
        "0",
        "--precision",
        options.precision,
        *extra,
        *(["--ema", str(options.ema)] if options.ema is not None else []),
        *(["--scale-jitter"] if options.scale_jitter else []),
        "--json",
        "--out",
        str(out),
    ]
    if options.score_only:  # the run's own summary, as `train --json` printed it at its end
        seconds, summary = finished_run(out)
    else:
        seconds, stdout = run(args)
        summary = json.loads(stdout)
    keys = ("epochs", "best_epoch", "best_val_map50", "best_val_map", "score_threshold")
    return {
        "run": str(out.relative_to(ROOT)),
        "command": "fashionlens " + " ".join(args),
        "train_seconds": round(seconds, 1),
        **{key: summary[key] for key in keys},
    }


def finished_run(out: Path) -> tuple[float, dict]:
    """A finished run's training seconds and its summary's fields, from its history and checkpoint."""
    from fashionlens.core.checkpoint import load_checkpoint

    history = json.loads((out / "history.json").read_text())
    if len(history) < json.loads((out / "config.json").read_text())["settings"]["epochs"]:
        raise SystemExit(f"{out}: the run has not finished; --score-only scores finished runs")
    best = max(history, key=lambda row: row["val_score"])
    threshold = load_checkpoint(out / "best.pt")["score_threshold"]
    summary = {
        "epochs": len(history),
        "best_epoch": best["epoch"],
        "best_val_map50": best["val_map50"],
        "best_val_map": best["val_map"],
        "score_threshold": threshold,
    }
    return sum(row["seconds"] for row in history), summary


def evaluate(name: str, data: Path) -> dict:
    """Run `name`'s best.pt on the data's val split: mAP, mAP@0.5 and AP@0.5 per region."""
    out = RUNS / name
    args = [
        "evaluate",
        str(out),
        "--data",
        str(data),
        "--split",
        "val",
        "--json",
        "--out",
        str(out / f"eval-{data.parent.name}"),
    ]
    seconds, stdout = run(args)
    metrics = json.loads(stdout)["by_dataset"][str(data)]
    keys = ("map", "map50", "per_class_ap50", "images", "ground_truth_boxes", "notes")
    return {
        "command": "fashionlens " + " ".join(args),
        "eval_seconds": round(seconds, 1),
        **{key: metrics.get(key) for key in keys},
    }


def experiment_street(options: argparse.Namespace) -> dict:
    result = train(street(options.data_path), options)
    return result | {"street_val": evaluate(options.name, street(options.data_path))}


def experiment_curated(options: argparse.Namespace) -> dict:
    result = train(clothing(options.data_path), options, "--whole-image-boxes")
    street_val = evaluate(options.name, street(options.data_path))
    # the clothing number is the run's own validation (whole-image boxes, best epoch)
    gap = {"clothing_val_map50": result["best_val_map50"], "street_val_map50": street_val["map50"]}
    return result | {"street_val": street_val, "domain_gap": gap}


EXPERIMENTS = {"street": experiment_street, "curated": experiment_curated}


def parse_options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("experiment", choices=sorted(EXPERIMENTS))
    parser.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="training epochs (default: " + ", ".join(f"{k} {v}" for k, v in DEFAULT_EPOCHS.items()) + ")",
    )
    parser.add_argument(
        "--lr",
        type=float,
        default=1e-4,
        help="peak learning rate of the one-cycle schedule (warm-up included; default 1e-4)",
    )
    parser.add_argument("--workers", type=int, default=1, help="data loading processes (default 1)")
    parser.add_argument(
        "--arch",
        default=ARCH,
        help=f"detector architecture (default {ARCH}, whose backbone starts "
        "from the clothing classifier; any other trains from scratch)",
    )
    parser.add_argument(
        "--backbone-from",
        type=Path,
        default=None,
        help="classifier run whose backbone starts the detector's (default for the resnet18 FPN: "
        f"{BACKBONE.relative_to(ROOT)}; fasterrcnn_efficientnet_lite0_fpn starts from ImageNet "
        "without it)",
    )
    parser.add_argument("--image-size", type=int, default=320, help="longer image side in pixels (default 320)")
    parser.add_argument(
        "--precision",
        default="mixed",
        choices=("mixed", "float32"),
        help="training precision (default mixed; the float32 runs in docs/benchmarks.md pass float32)",
    )
    parser.add_argument(
        "--ema",
        type=float,
        default=None,
        help="average the weights with this decay (the engine's --ema; default: not averaged)",
    )
    parser.add_argument(
        "--name",
        default=None,
        help="run directory under runs/bench/ and results file name "
        "(default: detector-<experiment>, results detector_<experiment>.json)",
    )
    parser.add_argument(
        "--scale-jitter", action="store_true", help="zoom training photos out and crop them in (train's --scale-jitter)"
    )
    parser.add_argument(
        "--score-only", action="store_true", help="score the finished run runs/bench/<name> instead of training it"
    )
    parser.add_argument("--results", type=Path, help="results JSON (default: benchmarks/results/<name>.json)")
    add_data_path(parser)
    options = parser.parse_args()
    if options.epochs is None:
        options.epochs = DEFAULT_EPOCHS[options.experiment]
    options.name = options.name or f"detector-{options.experiment}"
    if options.epochs < 1:
        parser.error("--epochs must be at least 1")
    if options.arch == ARCH and options.backbone_from is None:
        options.backbone_from = BACKBONE
    if options.backbone_from and not (options.backbone_from / "best.pt").is_file():
        parser.error(
            f"{options.backbone_from}/best.pt not found: run `benchmarks/classifiers.py a` (or e) first (the backbone)"
        )
    return options


def main() -> None:
    options = parse_options()
    result = {"epochs_asked": options.epochs, **EXPERIMENTS[options.experiment](options)}
    path = options.results or RESULTS / f"{options.name.replace('-', '_')}.json"
    print(json.dumps(write_result(path, result, options.data_path), indent=2))


if __name__ == "__main__":
    main()
