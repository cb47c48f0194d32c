"""DetectionTask: how the shared engine trains and validates the garment detector; `train_detector`.

Validation scores with the same pycocotools code as `fashionlens evaluate` (evaluation.detection), so
the val mAP in history.csv is the number the report shows, and it chooses the score threshold that
maximises F1 of boxes matched at IoU 0.5: the operating point the checkpoint carries.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pycocotools.cocoeval import COCOeval
from torch import Tensor, nn
from torch.utils.data import DataLoader

from fashionlens.core.checkpoint import LAST, load_checkpoint
from fashionlens.core.errors import FashionLensError
from fashionlens.core.records import REGIONS
from fashionlens.data.classification import split_samples
from fashionlens.data.detection import DetectionDataset, collate_detection, describe_problems, detection_transform
from fashionlens.evaluation.detection import build_ground_truth, coco_metrics, coco_results, run_cocoeval
from fashionlens.models import efficientnet_lite as lite
from fashionlens.models.detector import (
    ARCHS,
    ASPECT_RATIOS,
    DEFAULT_SCORE_THRESHOLD,
    TALL_ASPECT_RATIOS,
    arch_spec,
    build_detector,
    detections_of,
    detector_config,
)
from fashionlens.train.engine import FitConfig, check_ema_decay, check_precision, fit, log, make_loader, seed_everything
from fashionlens.train.settings import DEFAULT_DETECTOR_ARCH, DetectorSettings


def best_f1_threshold(evaluator: COCOeval | None) -> tuple[float, float]:
    """(score threshold, F1) maximising F1 over all classes at IoU 0.5, from COCOeval's own matches.

    Detections at or above the threshold count; recall is over every ground-truth box.
    """
    if evaluator is None:
        return DEFAULT_SCORE_THRESHOLD, 0.0
    entries = [e for e in evaluator.evalImgs if e is not None and e["aRng"] == evaluator.params.areaRng[0]]
    positives = sum(int(np.count_nonzero(np.asarray(e["gtIgnore"]) == 0)) for e in entries)
    scores = np.concatenate([np.asarray(e["dtScores"], dtype=float) for e in entries] or [np.zeros(0)])
    if positives == 0 or scores.size == 0:
        return DEFAULT_SCORE_THRESHOLD, 0.0
    order = np.argsort(-scores, kind="mergesort")
    matched = np.concatenate([e["dtMatches"][0] for e in entries])[order] > 0
    ignored = np.concatenate([e["dtIgnore"][0] for e in entries])[order].astype(bool)
    scores, matched = scores[order][~ignored], matched[~ignored]
    true_positives = np.cumsum(matched)
    precision = true_positives / np.arange(1, scores.size + 1)
    recall = true_positives / positives
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    # a threshold keeps every detection of equal score: only the last of a tie is reachable
    reachable = np.append(scores[1:] != scores[:-1], True)
    best = int(np.argmax(np.where(reachable, f1, -1.0)))
    return float(scores[best]), float(f1[best])


class DetectionTask:
    """The engine's Task for Faster R-CNN: torchvision's loss dict, COCO mAP@0.5 as the val score."""

    kind = "detector"

    def __init__(self, model: nn.Module, arch: str, class_names: tuple[str, ...]):
        self.class_names = tuple(class_names)
        self.architecture = detector_config(model, arch)
        self.score_threshold = DEFAULT_SCORE_THRESHOLD

    def losses(self, model: nn.Module, batch: Any, device: torch.device) -> dict[str, Tensor]:
        images, targets = batch
        targets = [
            {"boxes": t["boxes"].as_subclass(Tensor).to(device), "labels": t["labels"].to(device)} for t in targets
        ]
        losses = model([image.to(device) for image in images], targets)
        return {**losses, "loss": sum(losses.values())}

    def validate(self, model: nn.Module, loader: DataLoader, device: torch.device) -> dict[str, float]:
        regions = list(self.class_names)
        detections = detections_of(model, loader, device, self.class_names)
        dataset = loader.dataset
        assert isinstance(dataset, DetectionDataset)  # make_loader hands a DataLoader its dataset as is
        truth = build_ground_truth(dataset.samples, regions)
        evaluator = run_cocoeval(truth.coco, coco_results(detections, regions))
        metrics = coco_metrics(truth, evaluator, regions)
        self.score_threshold, f1 = best_f1_threshold(evaluator)
        map50 = metrics["map50"] or 0.0  # None when val holds no box at all
        return {
            "score": map50,
            "map50": map50,
            "map": metrics["map"] or 0.0,
            "f1": f1,
            "score_threshold": self.score_threshold,
        }

    def checkpoint_extra(self) -> dict[str, Any]:
        return {**self.architecture, "class_names": list(self.class_names), "score_threshold": self.score_threshold}


# ----------------------------------------------------------------------------- `train detector`

# Box-regression losses of a fresh head spike on the first batches; clipping keeps one bad batch of
# four images from throwing the weights far off (the one-cycle warm-up covers the rest).
CLIP_GRAD_NORM = 10.0


def classifier_backbone(run_dir: str) -> tuple[str, dict[str, Tensor]]:
    """(classifier arch, its state dict) from a `train classifier` run directory or checkpoint."""
    checkpoint = load_checkpoint(run_dir)
    if checkpoint["kind"] != "classifier":
        raise FashionLensError(f"--backbone-from {run_dir}: a {checkpoint['kind']} run, not a classifier run")
    return checkpoint["arch"], checkpoint["model"]


def resolve_settings(settings: DetectorSettings, backbone_arch: str | None) -> DetectorSettings:
    """Fill in the architecture and image size and check every option before any data is read."""
    fitting = [name for name, spec in ARCHS.items() if spec.backbone == backbone_arch]
    if backbone_arch is not None and not fitting:
        raise FashionLensError(
            f"--backbone-from: no detector has a {backbone_arch} backbone "
            f"(classifiers that fit: {', '.join(sorted({s.backbone for s in ARCHS.values()}))})"
        )
    arch = settings.arch or (fitting[0] if fitting else DEFAULT_DETECTOR_ARCH)
    spec = arch_spec(arch)
    if backbone_arch is not None and spec.backbone != backbone_arch:
        raise FashionLensError(
            f"--backbone-from holds a {backbone_arch} classifier, which does not fit {arch}'s "
            f"{spec.backbone} backbone; use --arch {fitting[0]}"
        )
    image_size = settings.image_size or spec.image_size
    settings = replace(
        settings,
        arch=arch,
        image_size=image_size,
        pretrained=resolve_pretrained(settings, spec.backbone),
    )
    if settings.epochs < 1 or settings.batch_size < 1:
        raise FashionLensError("--epochs and --batch-size must be at least 1")
    check_precision(settings.precision)
    check_ema_decay(settings.ema)
    if image_size < 32:
        raise FashionLensError(f"--image-size {image_size} is below the detector's minimum of 32 px")
    return settings


def resolved(settings: DetectorSettings) -> tuple[str, int]:
    """The architecture and image size of settings that resolve_settings has filled in."""
    assert settings.arch is not None and settings.image_size is not None, "settings not resolved"
    return settings.arch, settings.image_size


def resolve_pretrained(settings: DetectorSettings, backbone: str) -> str:
    """--pretrained as it will be used: imagenet by default where the backbone's weights are installed and
    neither --weights nor --backbone-from gives the start."""
    if settings.pretrained not in (None, "imagenet", "none"):
        raise FashionLensError(f"unknown --pretrained {settings.pretrained!r}; choose imagenet or none")
    given = settings.weights or settings.backbone_from
    if settings.pretrained == "imagenet":
        if given:
            raise FashionLensError("--pretrained imagenet and --weights / --backbone-from exclude each other")
        if not lite.is_lite(backbone):
            raise FashionLensError(
                f"--pretrained imagenet: no installed ImageNet weights for {backbone}; choose "
                f"--arch fasterrcnn_efficientnet_lite0_fpn, or give --weights / --backbone-from"
            )
        lite.imagenet_weights_file(backbone)  # a clear error when the package is missing
        return "imagenet"
    if settings.pretrained is None and not given and lite.is_lite(backbone) and lite.weights_available(backbone):
        return "imagenet"
    return "none"


def detection_datasets(settings: DetectorSettings) -> tuple[DetectionDataset, DetectionDataset | None]:
    """The training and validation datasets of the data's own splits; bad boxes reported with counts."""
    from fashionlens.data import read_dataset  # the readers import many formats: only when training

    train, val, where = split_samples(read_dataset(settings.data), None, settings.seed)
    whole = settings.whole_image_boxes
    image_size = settings.image_size
    assert image_size is not None, "the image size is needed (resolve_settings fills it in)"
    train_transform = detection_transform(image_size, train=True, scale_jitter=settings.scale_jitter)
    train_set = DetectionDataset(train, train_transform, whole_image_boxes=whole)
    val_set = DetectionDataset(val, detection_transform(image_size, train=False), whole_image_boxes=whole)
    boxes = sum(len(target.boxes) for target in train_set.targets)
    if boxes == 0:
        hint = "" if whole else "; --whole-image-boxes boxes whole-image labels by the image"
        raise FashionLensError(
            f"{settings.data}: no usable garment box in the training split "
            f"(whole-image labels and person boxes cannot train a detector{hint})"
        )
    negatives = sum(not target.boxes for target in train_set.targets)
    log(
        f"{where}; {len(train_set)} training images ({boxes} boxes, {negatives} without garments), "
        f"{len(val_set)} validation images"
    )
    for line in (describe_problems(train_set.problems, "train"), describe_problems(val_set.problems, "val")):
        if line:
            log(line)
    return train_set, (val_set if len(val_set) else None)


def settings_of_run(run_dir: Path) -> tuple[DetectorSettings, dict[str, Any]]:
    """The settings a run was started with and its last checkpoint, for --resume."""
    if not (run_dir / LAST).is_file():
        raise FashionLensError(f"{run_dir}: no {LAST} to resume from (not a run directory, or no epoch finished)")
    checkpoint = load_checkpoint(run_dir / LAST)
    if checkpoint["kind"] != "detector":
        raise FashionLensError(f"{run_dir / LAST}: a {checkpoint['kind']} run, not a detector run")
    return DetectorSettings(**checkpoint["config"]["settings"]), checkpoint


def train_detector(
    settings: DetectorSettings, run_dir: str | Path, resume: bool = False, workers: int = 0
) -> list[dict[str, Any]]:
    """`fashionlens train detector`: data -> datasets -> Faster R-CNN -> engine.fit; returns the history."""
    run_dir = Path(run_dir)
    previous = None
    if resume:
        settings, previous = settings_of_run(run_dir)
    elif (run_dir / LAST).exists():
        raise FashionLensError(f"{run_dir}: already holds a run; pass --resume to continue it or choose another --out")
    backbone_arch, backbone = None, None
    if settings.backbone_from and not resume:
        backbone_arch, backbone = classifier_backbone(settings.backbone_from)
    settings = resolve_settings(settings, backbone_arch)
    arch, image_size = resolved(settings)
    if settings.pretrained == "imagenet" and not resume:
        backbone = lite.pretrained_backbone_state(arch_spec(arch).backbone)
    train_set, val_set = detection_datasets(settings)
    seed_everything(settings.seed)  # the new heads (and a backbone from scratch) start the same every time
    ratios = TALL_ASPECT_RATIOS if settings.tall_anchors else ASPECT_RATIOS
    if previous is not None:  # rebuilt as it was trained; fit() restores the weights
        model = build_detector(arch, len(REGIONS), image_size=image_size, aspect_ratios=ratios, norm=previous["norm"])
    else:
        model = build_detector(
            arch,
            len(REGIONS),
            settings.weights,
            image_size=image_size,
            aspect_ratios=ratios,
            backbone_weights=backbone,
        )
    task = DetectionTask(model, arch, REGIONS)
    log(
        f"{arch} with {task.architecture['norm']}, images at {image_size} px"
        + ("; backbone from ImageNet" if settings.pretrained == "imagenet" else "")
        + ("" if settings.weights or backbone or resume else "; --pretrained none: from scratch")
    )
    train_loader = make_loader(
        train_set, settings.batch_size, shuffle=True, seed=settings.seed, workers=workers, collate_fn=collate_detection
    )
    val_loader = (
        None
        if val_set is None
        else make_loader(val_set, settings.batch_size, shuffle=False, workers=workers, collate_fn=collate_detection)
    )
    config = FitConfig(
        epochs=settings.epochs,
        lr=settings.lr,
        seed=settings.seed,
        clip_grad_norm=CLIP_GRAD_NORM,
        precision=settings.precision,
        ema_decay=settings.ema,
        settings=asdict(settings),
    )
    return fit(model, task, train_loader, val_loader, config, run_dir, resume=resume)
