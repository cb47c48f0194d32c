"""`fashionlens train classifier`: train a garment classifier into a run directory."""

from __future__ import annotations

import os
import shlex
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, Callable, Optional

import typer
import typer.main
from typer.core import TyperGroup

from fashionlens.cli.app import app, json_text, train_app
from fashionlens.core.errors import FashionLensError
from fashionlens.train.settings import ClassifierSettings, defaults_of, settings_from_options

CLASSIFIER = defaults_of(ClassifierSettings)
PRECISION_HELP = (
    "mixed: 16-bit autocast where it is faster (float16 on a GPU, bfloat16 on CPUs with AVX512-BF16 "
    "or AMX); float32: full precision throughout."
)
EMA_HELP = (
    "Average the weights after every step with this decay (e.g. 0.998: about the last 500 steps); the "
    "average is what is validated and saved. Default: the trained weights."
)

# The options `train classifier` and `train detector` share; the settings' own defaults come from the
# dataclasses of train/settings.py, so each command's options are declared with those of its own class.
OUT_OPTION = typer.Option(..., "--out", help="Run directory: config, history (CSV, JSON, PNG), best.pt, last.pt.")
SEED_HELP = "Same seed, same data and machine: same weights."
RESUME_OPTION = typer.Option(
    False,
    "--resume",
    help="Continue the interrupted run in --out with its saved settings (other options are not needed).",
)
WORKERS_OPTION = typer.Option(min(4, os.cpu_count() or 1), "--workers", min=0, help="Data loading processes.")
JSON_OPTION = typer.Option(False, "--json", help="Print the run's summary as JSON on stdout.")

DATA_OPTION = typer.Option(
    None,
    "--data",
    help="Dataset (any format `fashionlens audit` reads). Split `train` trains, `val` validates, `test` is unused.",
)
MODE_OPTION = typer.Option(
    CLASSIFIER.mode,
    "--mode",
    help="img: the whole image; img+bbox: the garment's crop with "
    "context plus the box's geometry (whole image without a box).",
)
ARCH_OPTION = typer.Option(
    CLASSIFIER.arch,
    "--arch",
    help=f"{CLASSIFIER.arch} (ImageNet-pretrained, the default), efficientnet_lite1, lite2, or any "
    "torchvision classifier (resnet50 as in the study, mobilenet_v3_large...).",
)
EPOCHS_OPTION = typer.Option(CLASSIFIER.epochs, "--epochs", min=1)
IMAGE_SIZE_OPTION = typer.Option(
    CLASSIFIER.image_size,
    "--image-size",
    help="Input width in pixels (at least 32); also its height unless --image-height is given.",
)
IMAGE_HEIGHT_OPTION = typer.Option(
    CLASSIFIER.image_height,
    "--image-height",
    help="Input height in pixels, for photos that are not square: e.g. --image-size 96 "
    "--image-height 128 keeps 3:4 portrait photos undistorted.",
)
MIN_IMAGE_SIZE_OPTION = typer.Option(
    CLASSIFIER.min_image_size,
    "--min-image-size",
    help="Progressive resizing: train the first quarter of the epochs at this width "
    "(same aspect ratio), growing to --image-size for the last fifth (early "
    "epochs are faster; the model is validated and used at --image-size).",
)
BALANCE_OPTION = typer.Option(
    CLASSIFIER.balance,
    "--balance",
    help="none | weights (class-weighted loss) | sampler (classes drawn equally often).",
)
BATCH_SIZE_OPTION = typer.Option(CLASSIFIER.batch_size, "--batch-size", min=1)
LR_OPTION = typer.Option(CLASSIFIER.lr, "--lr", help="Peak learning rate of the one-cycle schedule (AdamW).")
SEED_OPTION = typer.Option(CLASSIFIER.seed, "--seed", help=SEED_HELP)
VAL_FROM_TRAIN_OPTION = typer.Option(
    CLASSIFIER.val_from_train,
    "--val-from-train",
    help="Validate on this stratified share of train (e.g. 0.1) to choose settings without touching val.",
)
CLASSES_OPTION = typer.Option(
    CLASSIFIER.classes, "--classes", help="Only these labels, comma-separated (e.g. T-Shirt,Pants,Shoes)."
)
EXTRA_DATA_OPTION = typer.Option(
    CLASSIFIER.extra_data,
    "--extra-data",
    help="More training photos from another source (repeatable): its train split, its "
    "labels mapped onto the classes as `evaluate` maps them, each boxed garment shown "
    "as its crop. E.g. street photos beside catalogue photos, for photos in the wild; "
    "validation stays on --data.",
)
ATTRIBUTE_LABELS_OPTION = typer.Option(
    CLASSIFIER.attribute_labels,
    "--attribute-labels",
    help="Multi-task training: a CSV of hand labels (annotation_id,...,colour,pattern,sleeve, e.g. "
    "../shared/data/street/attributes_train.csv) of --extra-data's garments, matched by COCO annotation "
    "id. Pattern, sleeve and colour heads learn beside the category, teaching the backbone what the "
    "attribute heads read; blank and unclear labels are left out of their loss. The heads are not shipped.",
)
ATTRIBUTE_WEIGHT_OPTION = typer.Option(
    CLASSIFIER.attribute_weight,
    "--attribute-weight",
    min=0.0,
    help="With --attribute-labels: the weight of the three attribute losses' mean beside the category's loss.",
)
WEIGHTS_OPTION = typer.Option(
    CLASSIFIER.weights,
    "--weights",
    help="Initial weights: a torchvision .pth or a fashionlens checkpoint (instead of --pretrained).",
)
PRETRAINED_OPTION = typer.Option(
    CLASSIFIER.pretrained,
    "--pretrained",
    help="imagenet: start from ImageNet weights (efficientnet_lite0/1/2 from their installed "
    "packages, a torchvision arch from the torch cache); none: from scratch. Default: "
    "imagenet where such weights exist.",
)
BACKBONE_LR_OPTION = typer.Option(
    CLASSIFIER.backbone_lr,
    "--backbone-lr",
    help="Peak learning rate of the backbone (e.g. a tenth of --lr, so pretrained features "
    "change gently while the new head learns). Default: --lr.",
)
EARLY_LR_OPTION = typer.Option(
    CLASSIFIER.early_lr,
    "--early-lr",
    help="Peak learning rate of an EfficientNet-Lite's early stages (stem and blocks 0 to 4, down to "
    "stride 16: the maps whose statistics the colour and pattern heads read), e.g. a quarter of --lr, "
    "so the colour and texture they keep from ImageNet survive while the later blocks learn the "
    "categories. Default: --backbone-lr.",
)
FREEZE_EPOCHS_OPTION = typer.Option(
    CLASSIFIER.freeze_epochs,
    "--freeze-epochs",
    min=0,
    help="Train the new head alone for this many epochs, the pretrained backbone frozen (its learning "
    "rate schedule runs on), then everything. Default: 0.",
)
PRECISION_OPTION = typer.Option(CLASSIFIER.precision, "--precision", help=PRECISION_HELP)
LABEL_SMOOTHING_OPTION = typer.Option(CLASSIFIER.label_smoothing, "--label-smoothing", min=0.0, max=0.99)
EMA_OPTION = typer.Option(CLASSIFIER.ema, "--ema", help=EMA_HELP)


@train_app.command("classifier")
def classifier_command(
    out: Path = OUT_OPTION,
    data: Optional[str] = DATA_OPTION,
    mode: str = MODE_OPTION,
    arch: str = ARCH_OPTION,
    epochs: int = EPOCHS_OPTION,
    image_size: int = IMAGE_SIZE_OPTION,
    image_height: Optional[int] = IMAGE_HEIGHT_OPTION,
    min_image_size: Optional[int] = MIN_IMAGE_SIZE_OPTION,
    balance: str = BALANCE_OPTION,
    batch_size: int = BATCH_SIZE_OPTION,
    lr: float = LR_OPTION,
    seed: int = SEED_OPTION,
    val_from_train: Optional[float] = VAL_FROM_TRAIN_OPTION,
    classes: Optional[str] = CLASSES_OPTION,
    extra_data: Optional[list[str]] = EXTRA_DATA_OPTION,
    attribute_labels: Optional[Path] = ATTRIBUTE_LABELS_OPTION,
    attribute_weight: float = ATTRIBUTE_WEIGHT_OPTION,
    weights: Optional[Path] = WEIGHTS_OPTION,
    pretrained: Optional[str] = PRETRAINED_OPTION,
    backbone_lr: Optional[float] = BACKBONE_LR_OPTION,
    early_lr: Optional[float] = EARLY_LR_OPTION,
    freeze_epochs: int = FREEZE_EPOCHS_OPTION,
    precision: str = PRECISION_OPTION,
    label_smoothing: float = LABEL_SMOOTHING_OPTION,
    ema: Optional[float] = EMA_OPTION,
    resume: bool = RESUME_OPTION,
    workers: int = WORKERS_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Train a classifier of garment categories; validation picks best.pt, last.pt resumes.

    Runs on the GPU with AMP when there is one, in bfloat16 on a CPU that has it natively; under
    `torchrun --nproc_per_node N` on N processes.

    Example: fashionlens train classifier --data ../shared/data/clothing/labels.csv --classes
    T-Shirt,Pants,Shoes --epochs 5 --image-size 160 --balance weights --out runs/clothing
    """
    options = dict(locals())  # every option by name: the settings' fields are named as the options
    require_data(data, resume)
    from fashionlens.train.classifier import train_classifier

    settings = settings_from_options(ClassifierSettings, options)
    settings = replace(settings, command=rebuilt_command("classifier", asdict(settings), out))
    run_training(train_classifier, settings, out, resume, workers, lambda history: report(out, history, as_json))


def require_data(data: str | Path | None, resume: bool) -> None:
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
    train = typer.main.get_group(app).commands["train"]
    assert isinstance(train, TyperGroup)  # the train sub-app: a group of one command per kind
    command = train.commands[kind]
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
