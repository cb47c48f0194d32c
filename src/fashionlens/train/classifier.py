"""ClassifierTask: how the shared engine trains and validates the garment classifier.

The validation score is balanced accuracy: the classes are strongly imbalanced, and a model that
always answers the majority class must not look good.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, TypedDict

import torch
import torch.distributed as dist
from sklearn.metrics import accuracy_score, balanced_accuracy_score
from torch import Tensor, nn
from torch.nn import functional as F
from torch.utils.data import DataLoader

from fashionlens.core.checkpoint import LAST, load_checkpoint
from fashionlens.core.errors import FashionLensError
from fashionlens.data.classification import (
    MISSING_ATTRIBUTE,
    AttributeLabelledDataset,
    ClassificationDataset,
    CombinedDataset,
    balanced_sampler,
    check_mode,
    choose_classes,
    class_weights,
    describe_skipped,
    split_samples,
)
from fashionlens.data.transforms import (
    ProgressiveTrainTransform,
    classification_eval_transform,
    classification_preprocessing,
    classification_train_transform,
    input_shape,
    progressive_sizes,
)
from fashionlens.models import efficientnet_lite as lite
from fashionlens.models.classifier import build_classifier, cached_torchvision_weights, check_image_size
from fashionlens.train.attribute_labels import ATTRIBUTES, read_attribute_labels
from fashionlens.train.engine import (
    FitConfig,
    check_ema_decay,
    check_precision,
    fit,
    log,
    make_loader,
    seed_everything,
    world_size,
)
from fashionlens.train.settings import ClassifierSettings


def accuracy_metrics(true: list[int], predicted: list[int]) -> dict[str, float]:
    if not true:
        return {}
    with warnings.catch_warnings():  # a class predicted but absent from this batch of truth is fine
        warnings.simplefilter("ignore")
        return {
            "accuracy": float(accuracy_score(true, predicted)),
            "balanced_accuracy": float(balanced_accuracy_score(true, predicted)),
        }


def on_device(batch: Any, device: torch.device) -> tuple[Tensor, Tensor, Tensor]:
    """A batch's images (channels-last, as the engine's model), geometry and targets on `device`."""
    images, geometry, targets = batch
    images = images.to(device, non_blocking=True, memory_format=torch.channels_last)
    return images, geometry.to(device, non_blocking=True), targets.to(device, non_blocking=True)


class ClassifierTask:
    """Cross-entropy (optionally class-weighted, label-smoothed); accuracy and balanced accuracy. With
    `attribute_weight` (multi-task: targets of the category and the attribute indices), the mean of the
    attribute heads' cross-entropies over the garments that carry each label is added at that weight."""

    kind = "classifier"

    def __init__(
        self,
        arch: str,
        mode: str,
        class_names: list[str],
        preprocessing: dict[str, Any],
        label_smoothing: float = 0.0,
        class_weights: list[float] | None = None,
        attribute_weight: float | None = None,
    ):
        self.arch, self.mode, self.class_names = arch, mode, list(class_names)
        self.attribute_weight = attribute_weight
        self.preprocessing, self.label_smoothing = preprocessing, label_smoothing
        self.class_weights = None if class_weights is None else torch.tensor(class_weights, dtype=torch.float32)
        self._true: list[int] = []
        self._predicted: list[int] = []

    def logits(self, model: nn.Module, batch: Any, device: torch.device) -> tuple[Tensor, Tensor]:
        """The category logits and targets (a multi-task batch's attribute targets left aside)."""
        images, geometry, targets = on_device(batch, device)
        targets = targets[:, 0] if targets.ndim == 2 else targets
        return model(images, geometry).float(), targets

    def losses(self, model: nn.Module, batch: Any, device: torch.device) -> dict[str, Tensor]:
        if self.attribute_weight is None:
            logits, targets = self.logits(model, batch, device)
            attribute_losses: dict[str, Tensor] = {}
        else:
            logits, targets, attribute_losses = self.multi_task_logits(model, batch, device)
        weight = None if self.class_weights is None else self.class_weights.to(device)
        loss = F.cross_entropy(logits, targets, weight=weight, label_smoothing=self.label_smoothing)
        self._true += targets.tolist()
        self._predicted += logits.detach().argmax(dim=1).tolist()
        if self.attribute_weight is None:
            return {"loss": loss}
        attributes = torch.stack(list(attribute_losses.values())).mean()
        return {"loss": loss + self.attribute_weight * attributes, "category_loss": loss, **attribute_losses}

    def multi_task_logits(
        self, model: nn.Module, batch: Any, device: torch.device
    ) -> tuple[Tensor, Tensor, dict[str, Tensor]]:
        """The category logits and targets, and each attribute's loss over the garments labelled with it
        (zero, still tied to its head, in a batch without such a garment: every rank's graph alike)."""
        images, geometry, targets = on_device(batch, device)
        logits, attribute_logits = model(images, geometry, attributes=True)
        losses: dict[str, Tensor] = {}
        for column, (name, head_logits) in enumerate(zip(ATTRIBUTES, attribute_logits), start=1):
            labelled = int((targets[:, column] != MISSING_ATTRIBUTE).sum())
            total = F.cross_entropy(
                head_logits.float(),
                targets[:, column],
                ignore_index=MISSING_ATTRIBUTE,
                reduction="sum",
                label_smoothing=self.label_smoothing,
            )
            losses[f"{name}_loss"] = total / max(labelled, 1)
        return logits.float(), targets[:, 0], losses

    def train_metrics(self) -> dict[str, float]:
        """Accuracy over this epoch's training batches (every rank's), then start counting afresh."""
        pairs: list[tuple[list[int], list[int]]] = [(self._true, self._predicted)]
        if dist.is_initialized():
            gathered: list[Any] = [None] * dist.get_world_size()  # all_gather_object fills every place
            dist.all_gather_object(gathered, (self._true, self._predicted))
            pairs = gathered
        self._true, self._predicted = [], []
        return accuracy_metrics([t for true, _ in pairs for t in true], [p for _, pred in pairs for p in pred])

    def validate(self, model: nn.Module, loader: DataLoader, device: torch.device) -> dict[str, float]:
        """Plain cross-entropy (no weights, no smoothing, so runs compare), accuracy, balanced accuracy."""
        total_loss, true, predicted = 0.0, [], []
        for batch in loader:
            logits, targets = self.logits(model, batch, device)
            total_loss += float(F.cross_entropy(logits, targets, reduction="sum"))
            true += targets.tolist()
            predicted += logits.argmax(dim=1).tolist()
        metrics = accuracy_metrics(true, predicted)
        return {"loss": total_loss / max(len(true), 1), **metrics, "score": metrics.get("balanced_accuracy", 0.0)}

    def checkpoint_extra(self) -> dict[str, Any]:
        return {
            "arch": self.arch,
            "mode": self.mode,
            "class_names": self.class_names,
            "preprocessing": self.preprocessing,
        }


# ----------------------------------------------------------------------------- `train classifier`


BALANCES = ("none", "weights", "sampler")
PRETRAINED = (None, "imagenet", "none")
# an EfficientNet-Lite's stem and blocks 0-4: the maps up to the last stage whose statistics the attribute
# heads read (inference.analyzer_models.stage_modules: blocks 1-4)
EARLY_STAGES = ("backbone.conv_stem.", "backbone.bn1.", *(f"backbone.blocks.{i}." for i in range(5)))


def check_settings(settings: ClassifierSettings) -> None:
    """The checks that need no data, so a wrong option fails before anything is read or written."""
    check_mode(settings.mode)
    check_image_size(settings.arch, settings.image_size)
    if settings.image_height is not None:
        check_image_size(settings.arch, settings.image_height, "--image-height")
    if settings.min_image_size is not None:
        check_image_size(
            settings.arch,
            settings.min_image_size,
            "--min-image-size",
            side=min(input_shape(preprocessing_of(settings), settings.min_image_size)),
        )
        if settings.min_image_size > settings.image_size:
            raise FashionLensError(
                f"--min-image-size {settings.min_image_size} is above --image-size "
                f"{settings.image_size}; it is where progressive resizing starts"
            )
    check_precision(settings.precision)
    check_ema_decay(settings.ema)
    if settings.balance not in BALANCES:
        raise FashionLensError(f"unknown --balance {settings.balance!r}; choose one of {', '.join(BALANCES)}")
    if settings.epochs < 1 or settings.batch_size < 1:
        raise FashionLensError("--epochs and --batch-size must be at least 1")
    if settings.val_from_train is not None and not 0 < settings.val_from_train < 1:
        raise FashionLensError(f"--val-from-train must be between 0 and 1, got {settings.val_from_train}")
    if settings.weights and not Path(settings.weights).is_file():
        raise FashionLensError(f"{settings.weights}: weights file not found")
    if settings.pretrained not in PRETRAINED:
        raise FashionLensError(f"unknown --pretrained {settings.pretrained!r}; choose imagenet or none")
    if settings.pretrained == "imagenet":
        imagenet_weights(settings.arch)  # refuses now, before any data is read, when there are none
    if settings.early_lr is not None and not lite.is_lite(settings.arch):
        raise FashionLensError(f"--early-lr is for the EfficientNet-Lite archs, not {settings.arch}")
    if not 0 <= settings.freeze_epochs < settings.epochs:
        raise FashionLensError(f"--freeze-epochs {settings.freeze_epochs} must be at least 0 and below --epochs")
    if settings.freeze_epochs and world_size() > 1:
        raise FashionLensError("--freeze-epochs trains in one process (torchrun's processes would disagree)")
    if settings.attribute_labels and not settings.extra_data:
        raise FashionLensError("--attribute-labels labels garments of --extra-data (a COCO file); give one")


def lr_factors(settings: ClassifierSettings) -> dict[str, float]:
    """Each parameter-name prefix's share of --lr, first match first: the early stages at --early-lr,
    the rest of the backbone at --backbone-lr, the head (and any unnamed part) at --lr."""
    factors = {prefix: settings.early_lr / settings.lr for prefix in EARLY_STAGES} if settings.early_lr else {}
    if settings.backbone_lr:
        factors["backbone."] = settings.backbone_lr / settings.lr
    return factors


def settings_of_run(run_dir: Path) -> ClassifierSettings:
    """The settings a run was started with, for --resume."""
    if not (run_dir / LAST).is_file():
        raise FashionLensError(f"{run_dir}: no {LAST} to resume from (not a run directory, or no epoch finished)")
    checkpoint = load_checkpoint(run_dir / LAST)
    if checkpoint["kind"] != "classifier":
        raise FashionLensError(f"{run_dir / LAST}: a {checkpoint['kind']} run, not a classifier run")
    log("resuming with the run's saved settings (options other than --out and --workers are not used)")
    return ClassifierSettings(**checkpoint["config"]["settings"])


class GarmentOptions(TypedDict):
    """What the training, validation and --extra-data garment datasets share."""

    class_names: list[str]
    mode: str
    context_margin: float
    decode_size: int


def classification_datasets(
    settings: ClassifierSettings,
) -> tuple[ClassificationDataset | CombinedDataset, ClassificationDataset | None]:
    """Read the data, split it, choose the classes; the training (with --extra-data's) and validation datasets."""
    from fashionlens.data import read_dataset  # the readers import many formats: only when training

    # the labels first: a bad file fails before any photo is read
    labels = read_attribute_labels(settings.attribute_labels) if settings.attribute_labels else None
    train, val, where = split_samples(read_dataset(settings.data), settings.val_from_train, settings.seed)
    class_names = choose_classes(train, settings.classes)
    preprocessing = preprocessing_of(settings)
    common: GarmentOptions = {
        "class_names": class_names,
        "mode": settings.mode,
        "context_margin": settings.context_margin,
        "decode_size": max(input_shape(preprocessing)),
    }
    train_set = garment_dataset(train, labels, transform=train_transform(settings, preprocessing), **common)
    val_set = garment_dataset(val, labels, transform=classification_eval_transform(preprocessing), **common)
    if len(train_set) == 0:
        raise FashionLensError(f"{settings.data}: no usable labelled garment in the training split")
    log(f"{where}; {len(class_names)} classes, {len(train_set)} training and {len(val_set)} validation garments")
    for line in (describe_skipped(train_set.skipped, "train"), describe_skipped(val_set.skipped, "val")):
        if line:
            log(line)
    extra = [extra_training_set(path, train_set.transform, common, labels) for path in settings.extra_data or []]
    if labels is not None:
        log_attribute_labels(settings.attribute_labels, [train_set, *extra])
    return (CombinedDataset([train_set, *extra]) if extra else train_set), (val_set if len(val_set) else None)


def garment_dataset(
    samples: list, attribute_labels: dict[int, tuple[int, ...]] | None, **options: Any
) -> ClassificationDataset:
    """The garments of `samples`; with attribute labels (multi-task), their targets carry those too."""
    if attribute_labels is None:
        return ClassificationDataset(samples, **options)
    return AttributeLabelledDataset(samples, attribute_labels, **options)


def log_attribute_labels(path: str | None, datasets: list[ClassificationDataset]) -> None:
    """How many training garments each attribute's head learns from; none at all is a mistake."""
    labelled = [dataset for dataset in datasets if isinstance(dataset, AttributeLabelledDataset)]
    targets = [dataset.attributes_of(item) for dataset in labelled for item in dataset.items]
    counts = [sum(row[column] != MISSING_ATTRIBUTE for row in targets) for column in range(len(ATTRIBUTES))]
    if not any(counts):
        raise FashionLensError(f"{path}: no training garment has an annotation id labelled in it")
    log(f"{path}: attribute labels for " + ", ".join(f"{n} garments' {a}" for a, n in zip(ATTRIBUTES, counts)))


def extra_training_set(
    path: str, transform: Any, common: GarmentOptions, attribute_labels: dict[int, tuple[int, ...]] | None = None
) -> ClassificationDataset:
    """--extra-data: another source's train split, its labels mapped onto the classes as `evaluate` maps
    them, each boxed garment shown as its crop (the way the Analyzer shows a detected garment)."""
    from fashionlens.data import read_dataset
    from fashionlens.evaluation.classification import map_samples_to_classes

    train, _, _ = split_samples(read_dataset(path), None, seed=0)  # never its val: that scores the wild
    mapped, mapping = map_samples_to_classes(train, common["class_names"])
    dataset = garment_dataset(mapped, attribute_labels, transform=transform, crop=True, **common)
    if len(dataset) == 0:
        raise FashionLensError(
            f"{path}: no garment in its training split has a label that maps onto the classes "
            f"({', '.join(common['class_names'])})"
        )
    left_out = sum(mapping.left_out.values())
    log(
        f"{path}: {len(dataset)} more training garments (its train split, as crops)"
        + (f"; {left_out} left out, their labels have no counterpart among the classes" if left_out else "")
    )
    skipped = describe_skipped(dataset.skipped, f"{path} train")
    if skipped:
        log(skipped)
    return dataset


def preprocessing_of(settings: ClassifierSettings) -> dict[str, Any]:
    """The preprocessing the run's checkpoints carry: the normalisation the backbone's weights expect."""
    norm = {"mean": lite.LITE_MEAN, "std": lite.LITE_STD} if lite.is_lite(settings.arch) else {}
    return classification_preprocessing(
        settings.image_size, settings.context_margin, image_height=settings.image_height, **norm
    )


def train_transform(settings: ClassifierSettings, preprocessing: dict[str, Any]):
    """The random training transform; with --min-image-size, one whose size grows epoch by epoch."""
    if settings.min_image_size is None or settings.min_image_size == settings.image_size:
        return classification_train_transform(preprocessing)
    sizes = progressive_sizes(settings.min_image_size, settings.image_size, settings.epochs)
    log(f"progressive resizing, training width per epoch: {' '.join(map(str, sizes))}")
    return ProgressiveTrainTransform(preprocessing, sizes)


def imagenet_weights(arch: str) -> Path:
    """The ImageNet weights of `arch` on this machine: an installed EfficientNet-Lite package's file, or
    torchvision's file when already in the torch cache (nothing is downloaded)."""
    if lite.is_lite(arch):
        return lite.imagenet_weights_file(arch)
    cached = cached_torchvision_weights(arch)
    if cached is None:
        raise FashionLensError(
            f"--pretrained imagenet: no ImageNet weights for {arch} on this machine (installed: "
            f"{', '.join(a for a in lite.LITE_ARCHS if lite.weights_available(a)) or 'none'}); "
            "choose one of those --arch, or --pretrained none"
        )
    return cached


def resolve_pretrained(settings: ClassifierSettings) -> ClassifierSettings:
    """--pretrained as it will be used (recorded in config.json): imagenet where weights exist, unless
    --weights gives the start or the user said none."""
    if settings.pretrained is not None or settings.weights:
        return replace(settings, pretrained=settings.pretrained or "none")
    try:
        imagenet_weights(settings.arch)
    except FashionLensError:
        return replace(settings, pretrained="none")
    return replace(settings, pretrained="imagenet")


def build_model(settings: ClassifierSettings, classes: int) -> nn.Module:
    """The classifier to train: from --weights, from its ImageNet weights, or from scratch."""
    if settings.weights:
        log(f"initial weights: {settings.weights}")
    elif settings.pretrained == "imagenet":
        log(f"initial weights: ImageNet ({imagenet_weights(settings.arch)})")
    else:
        log(f"training {settings.arch} from scratch (--pretrained none)")
    torchvision_file = settings.pretrained == "imagenet" and not lite.is_lite(settings.arch)
    weights = settings.weights or (str(imagenet_weights(settings.arch)) if torchvision_file else None)
    return build_classifier(
        settings.arch,
        classes,
        settings.mode,
        weights,
        imagenet=settings.pretrained == "imagenet" and lite.is_lite(settings.arch),
        attribute_classes=attribute_classes(settings),
    )


def attribute_classes(settings: ClassifierSettings) -> tuple[int, ...]:
    """The attribute heads' sizes: one per attribute with --attribute-labels, none without."""
    return tuple(len(names) for names in ATTRIBUTES.values()) if settings.attribute_labels else ()


def train_classifier(
    settings: ClassifierSettings, run_dir: str | Path, resume: bool = False, workers: int = 0
) -> list[dict[str, Any]]:
    """`fashionlens train classifier`: data -> datasets -> model -> engine.fit; returns the history."""
    run_dir = Path(run_dir)
    if resume:
        settings = settings_of_run(run_dir)
    elif (run_dir / LAST).exists():
        raise FashionLensError(f"{run_dir}: already holds a run; pass --resume to continue it or choose another --out")
    check_settings(settings)
    settings = resolve_pretrained(settings)
    train_set, val_set = classification_datasets(settings)
    classes = len(train_set.class_names)
    sampler, weights = None, None
    if settings.balance == "weights":
        weights = class_weights(train_set.targets, classes).tolist()
    elif settings.balance == "sampler":
        sampler = balanced_sampler(train_set.targets, classes, math.ceil(len(train_set) / world_size()))
    seed_everything(settings.seed)  # the new head (and a model from scratch) start the same every time
    model = (
        build_classifier(settings.arch, classes, settings.mode, attribute_classes=attribute_classes(settings))
        if resume
        else build_model(settings, classes)
    )
    task = ClassifierTask(
        settings.arch,
        settings.mode,
        train_set.class_names,
        preprocessing_of(settings),
        settings.label_smoothing,
        weights,
        settings.attribute_weight if settings.attribute_labels else None,
    )
    train_loader = make_loader(
        train_set, settings.batch_size, shuffle=True, workers=workers, sampler=sampler, seed=settings.seed
    )
    val_loader = None if val_set is None else make_loader(val_set, settings.batch_size, shuffle=False, workers=workers)
    config = FitConfig(
        epochs=settings.epochs,
        lr=settings.lr,
        seed=settings.seed,
        precision=settings.precision,
        ema_decay=settings.ema,
        lr_factors=lr_factors(settings),
        frozen=("backbone.",),
        frozen_epochs=settings.freeze_epochs,
        settings=asdict(settings),
    )
    return fit(model, task, train_loader, val_loader, config, run_dir, resume=resume)
