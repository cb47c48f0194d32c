"""`fashionlens train classifier`: train a garment classifier into a run directory."""

from __future__ import annotations

import os
import shlex
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, Callable, Optional

import typer
import typer.main

from fashionlens.cli.app import app, json_text, train_app
from fashionlens.core.errors import FashionLensError

# models.classifier.DEFAULT_ARCH, written out so that `--help` does not import torch (a test checks they match)
DEFAULT_ARCH = "efficientnet_lite0"
PRECISION_HELP = (
    "mixed: 16-bit autocast where it is faster (float16 on a GPU, bfloat16 on CPUs with AVX512-BF16 "
    "or AMX); float32: full precision throughout."
)
EMA_HELP = (
    "Average the weights after every step with this decay (e.g. 0.998: about the last 500 steps); the "
    "average is what is validated and saved. Default: the trained weights."
)


@train_app.command("classifier")
def classifier_command(
    out: Path = typer.Option(..., "--out", help="Run directory: config, history (CSV, JSON, PNG), best.pt, last.pt."),
    data: Optional[str] = typer.Option(
        None,
        "--data",
        help="Dataset (any format `fashionlens audit` reads). Split `train` trains, `val` validates, `test` is unused.",
    ),
    mode: str = typer.Option(
        "img",
        "--mode",
        help="img: the whole image; img+bbox: the garment's crop with "
        "context plus the box's geometry (whole image without a box).",
    ),
    arch: str = typer.Option(
        DEFAULT_ARCH,
        "--arch",
        help="efficientnet_lite0 (ImageNet-pretrained, the default), "
        "lite1, lite2, or any torchvision classifier (resnet50 as in "
        "the study, mobilenet_v3_large...).",
    ),
    epochs: int = typer.Option(10, "--epochs", min=1),
    image_size: int = typer.Option(
        224, "--image-size", help="Input width in pixels (at least 32); also its height unless --image-height is given."
    ),
    image_height: Optional[int] = typer.Option(
        None,
        "--image-height",
        help="Input height in pixels, for photos that are not square: e.g. --image-size 96 "
        "--image-height 128 keeps 3:4 portrait photos undistorted.",
    ),
    min_image_size: Optional[int] = typer.Option(
        None,
        "--min-image-size",
        help="Progressive resizing: train the first quarter of the epochs at this width "
        "(same aspect ratio), growing to --image-size for the last fifth (early "
        "epochs are faster; the model is validated and used at --image-size).",
    ),
    balance: str = typer.Option(
        "none", "--balance", help="none | weights (class-weighted loss) | sampler (classes drawn equally often)."
    ),
    batch_size: int = typer.Option(32, "--batch-size", min=1),
    lr: float = typer.Option(1e-3, "--lr", help="Peak learning rate of the one-cycle schedule (AdamW)."),
    seed: int = typer.Option(0, "--seed", help="Same seed, same data and machine: same weights."),
    val_from_train: Optional[float] = typer.Option(
        None,
        "--val-from-train",
        help="Validate on this stratified share of train (e.g. 0.1) to choose settings without touching val.",
    ),
    classes: Optional[str] = typer.Option(
        None, "--classes", help="Only these labels, comma-separated (e.g. T-Shirt,Pants,Shoes)."
    ),
    extra_data: Optional[list[str]] = typer.Option(
        None,
        "--extra-data",
        help="More training photos from another source (repeatable): its train split, its "
        "labels mapped onto the classes as `evaluate` maps them, each boxed garment shown "
        "as its crop. E.g. street photos beside catalogue photos, for photos in the wild; "
        "validation stays on --data.",
    ),
    weights: Optional[Path] = typer.Option(
        None,
        "--weights",
        help="Initial weights: a torchvision .pth or a fashionlens checkpoint (instead of --pretrained).",
    ),
    pretrained: Optional[str] = typer.Option(
        None,
        "--pretrained",
        help="imagenet: start from ImageNet weights (efficientnet_lite0/1/2 from their installed "
        "packages, a torchvision arch from the torch cache); none: from scratch. Default: "
        "imagenet where such weights exist.",
    ),
    backbone_lr: Optional[float] = typer.Option(
        None,
        "--backbone-lr",
        help="Peak learning rate of the backbone (e.g. a tenth of --lr, so pretrained features "
        "change gently while the new head learns). Default: --lr.",
    ),
    precision: str = typer.Option("mixed", "--precision", help=PRECISION_HELP),
    label_smoothing: float = typer.Option(0.0, "--label-smoothing", min=0.0, max=0.99),
    ema: Optional[float] = typer.Option(None, "--ema", help=EMA_HELP),
    resume: bool = typer.Option(
        False,
        "--resume",
        help="Continue the interrupted run in --out with its saved settings (other options are not needed).",
    ),
    workers: int = typer.Option(min(4, os.cpu_count() or 1), "--workers", min=0, help="Data loading processes."),
    as_json: bool = typer.Option(False, "--json", help="Print the run's summary as JSON on stdout."),
) -> None:
    """Train a classifier of garment categories; validation picks best.pt, last.pt resumes.

    Runs on the GPU with AMP when there is one, in bfloat16 on a CPU that has it natively; under
    `torchrun --nproc_per_node N` on N processes.

    Example: fashionlens train classifier --data ../shared/data/clothing/labels.csv --classes
    T-Shirt,Pants,Shoes --epochs 5 --image-size 160 --balance weights --out runs/clothing
    """
    require_data(data, resume)
    from fashionlens.train.classifier import ClassifierSettings, train_classifier

    settings = ClassifierSettings(
        data=str(data),
        mode=mode,
        arch=arch,
        epochs=epochs,
        image_size=image_size,
        image_height=image_height,
        min_image_size=min_image_size,
        balance=balance,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        val_from_train=val_from_train,
        classes=[name.strip() for name in classes.split(",") if name.strip()] if classes else None,
        extra_data=list(extra_data) if extra_data else None,
        weights=str(weights) if weights else None,
        pretrained=pretrained,
        backbone_lr=backbone_lr,
        label_smoothing=label_smoothing,
        precision=precision,
        ema=ema,
    )
    settings = replace(settings, command=rebuilt_command("classifier", asdict(settings), out))
    run_training(train_classifier, settings, out, resume, workers, lambda history: report(out, history, as_json))


def require_data(data: Path | None, resume: bool) -> None:
    """--data given and of a known format: checked before torch and the models load (seconds)."""
    from fashionlens.data import detect_format

    if data is None and not resume:
        raise FashionLensError("--data is required (or --resume to continue the run in --out)")
    if data is not None:
        detect_format(data)


def run_training(
    train: Callable, settings: Any, out: Path, resume: bool, workers: int, summarize: Callable[[list[dict]], None]
) -> None:
    """Train alone or as one of torchrun's processes; rank 0 alone summarises the run."""
    from fashionlens.train.engine import close_distributed, init_distributed, is_main_process

    init_distributed()
    try:
        history = train(settings, out, resume=resume, workers=workers)
        if is_main_process():
            summarize(history)
    finally:
        close_distributed()


def report(run_dir: Path, history: list[dict], as_json: bool) -> None:
    scored = [row for row in history if "val_score" in row]
    best = max(scored, key=lambda row: row["val_score"]) if scored else None
    summary = {
        "run_dir": str(run_dir),
        "epochs": len(history),
        "last": history[-1] if history else {},
        "best_epoch": best["epoch"] if best else None,
        "best_val_balanced_accuracy": best.get("val_balanced_accuracy") if best else None,
    }
    if as_json:
        typer.echo(json_text(summary))
    elif best:
        typer.echo(f"{run_dir}: best val balanced accuracy {best['val_score']:.4f} at epoch {best['epoch']}")
    else:
        typer.echo(f"{run_dir}: trained {len(history)} epochs without validation (no val split)")


def rebuilt_command(kind: str, settings: dict[str, Any], run_dir: Path) -> str:
    """`fashionlens train KIND` with the options of these settings (the CLI's own option names, defaults left
    out): recorded in config.json at train time, for the model card."""
    command = typer.main.get_command(app).commands["train"].commands[kind]
    options = {param.name: param for param in command.params}
    words = ["fashionlens", "train", kind]
    for name, value in settings.items():
        if name == "command":
            continue
        param = options.get(name)
        if param is None or value is None or value is False:
            continue  # not a command-line option (always its default), or left at its default
        flag = param.opts[0]
        if value is True:
            words.append(flag)
        elif param.multiple:  # a repeatable option: once per value
            words += [word for item in value for word in (flag, str(item))]
        else:
            words += [flag, ",".join(map(str, value)) if isinstance(value, list) else str(value)]
    return shlex.join(words + ["--out", str(run_dir)])
