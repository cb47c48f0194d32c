"""Garment detector: torchvision Faster R-CNN with a head for the body regions (upper, lower, full).

Nothing is downloaded: backbones start from scratch unless the user gives weights (a detection
checkpoint, torchvision's COCO file, or a classifier's weights for the backbone). Batches of a few
images make BatchNorm statistics noise, so pretrained backbones use FrozenBatchNorm2d (torchvision's
fine-tuning default) and backbones trained from scratch use GroupNorm.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader
from torchvision.models.detection import FasterRCNN
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.backbone_utils import mobilenet_backbone, resnet_fpn_backbone
from torchvision.ops.misc import FrozenBatchNorm2d

from fashionlens.core.checkpoint import read_torch_file, require_model_entries
from fashionlens.core.errors import FashionLensError
from fashionlens.core.model_meta import ModelMeta
from fashionlens.core.records import Box, Detection, Sample
from fashionlens.data.detection import DetectionDataset, collate_detection, detection_transform
from fashionlens.models import efficientnet_lite as lite

ASPECT_RATIOS = (0.5, 1.0, 2.0)  # height / width, torchvision's anchors
TALL_ASPECT_RATIOS = (0.5, 1.0, 2.0, 3.0)  # dresses, trousers and coats are often 2-3 times taller than wide
DEFAULT_SCORE_THRESHOLD = 0.5  # used when no validation split chose one
FROZEN_BATCHNORM, GROUPNORM, BATCHNORM = "frozen_batchnorm", "groupnorm", "batchnorm"
RESNET_ANCHORS = ((32,), (64,), (128,), (256,), (512,))  # one size per FPN level
MOBILENET_ANCHORS = ((32, 64, 128, 256, 512),) * 3  # torchvision's mobilenet builders
LITE_ANCHORS = ((40,), (80,), (160,), (320,))  # strides 8, 16, 32 and the pooled 64: garments of a 480 px photo


@dataclass(frozen=True)
class ArchSpec:
    """How torchvision's builder assembles one detector, with the backbone's name and norm left to us."""

    backbone: str  # the torchvision classifier whose weights fit the backbone body
    image_size: int  # default longer side in pixels
    anchor_sizes: tuple[tuple[int, ...], ...]
    all_layers: int  # trainable_layers that trains the whole backbone (pretrained ones train 3)
    options: dict[str, Any] = field(default_factory=dict)  # FasterRCNN arguments of torchvision's builder


# A photo holds two or three garments, not COCO's dozens: 500 proposals and 128 sampled RoIs per image
# in training (torchvision: 2000 and 512) cut a CPU step about 3x, most of it RoIAlign's backward pass.
FEW_OBJECTS = {"rpn_pre_nms_top_n_train": 1000, "rpn_post_nms_top_n_train": 500, "box_batch_size_per_image": 128}

# At test time RoIAlign and the box head over the RPN's proposals are most of a CPU's detection time:
# 150 proposals (torchvision's default is 1000) cut the Lite0 detector's time 2.8x at the same mAP
# (benchmarks/detector_proposals.py, chosen on street train photos; docs/benchmarks.md).
FEW_PROPOSALS = {"rpn_pre_nms_top_n_test": 150, "rpn_post_nms_top_n_test": 150}


def lite_spec(backbone: str) -> ArchSpec:
    """An EfficientNet-Lite FPN detector: the backbone's own preprocessing, few proposals."""
    options = {**FEW_OBJECTS, **FEW_PROPOSALS, "image_mean": list(lite.LITE_MEAN), "image_std": list(lite.LITE_STD)}
    return ArchSpec(backbone, 480, LITE_ANCHORS, 0, options)


ARCHS: dict[str, ArchSpec] = {
    **{f"fasterrcnn_{backbone}_fpn": lite_spec(backbone) for backbone in lite.LITE_ARCHS},
    "fasterrcnn_mobilenet_v3_large_fpn": ArchSpec(
        "mobilenet_v3_large", 480, MOBILENET_ANCHORS, 6, {**FEW_OBJECTS, "rpn_score_thresh": 0.05}
    ),
    "fasterrcnn_mobilenet_v3_large_320_fpn": ArchSpec(
        "mobilenet_v3_large",
        320,
        MOBILENET_ANCHORS,
        6,
        {**FEW_OBJECTS, **FEW_PROPOSALS, "rpn_score_thresh": 0.05},
    ),
    "fasterrcnn_resnet50_fpn": ArchSpec("resnet50", 480, RESNET_ANCHORS, 5, FEW_OBJECTS),
    "fasterrcnn_resnet34_fpn": ArchSpec("resnet34", 480, RESNET_ANCHORS, 5, FEW_OBJECTS),
    "fasterrcnn_resnet18_fpn": ArchSpec("resnet18", 480, RESNET_ANCHORS, 5, FEW_OBJECTS),
}


def arch_spec(arch: str) -> ArchSpec:
    if arch not in ARCHS:
        raise FashionLensError(f"unknown detector architecture {arch!r}; choose one of {', '.join(ARCHS)}")
    return ARCHS[arch]


def group_norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(math.gcd(32, channels), channels)


def scratch_norm(spec: ArchSpec) -> str:
    """The norm of a backbone trained from scratch: GroupNorm, which small batches do not upset; timm's
    EfficientNet-Lite builders take no other norm than their BatchNorm."""
    return BATCHNORM if lite.is_lite(spec.backbone) else GROUPNORM


def backbone_with_fpn(spec: ArchSpec, norm: str) -> nn.Module:
    """The backbone body of `spec` with `norm`, under a feature pyramid."""
    allowed = (FROZEN_BATCHNORM, scratch_norm(spec))
    if norm not in allowed:
        raise FashionLensError(f"unknown norm {norm!r} for a {spec.backbone} backbone; choose {' or '.join(allowed)}")
    if lite.is_lite(spec.backbone):  # frozen: the stem and the first two stages stay as pretrained
        return lite.lite_fpn_backbone(spec.backbone, norm == FROZEN_BATCHNORM, frozen_blocks=2)
    norm_layer = FrozenBatchNorm2d if norm == FROZEN_BATCHNORM else group_norm
    trainable = 3 if norm == FROZEN_BATCHNORM else spec.all_layers
    if spec.backbone.startswith("resnet"):
        return resnet_fpn_backbone(
            backbone_name=spec.backbone, weights=None, norm_layer=norm_layer, trainable_layers=trainable
        )
    return mobilenet_backbone(
        backbone_name=spec.backbone, weights=None, fpn=True, norm_layer=norm_layer, trainable_layers=trainable
    )


def build_detector(
    arch: str,
    num_classes: int,
    weights: str | Path | None = None,
    *,
    image_size: int | None = None,
    aspect_ratios: tuple[float, ...] = ASPECT_RATIOS,
    backbone_weights: dict[str, torch.Tensor] | None = None,
    norm: str | None = None,
) -> FasterRCNN:
    """Faster R-CNN `arch` for `num_classes` garment classes (background is added here).

    `weights`: a file of detector weights (a fashionlens checkpoint, a state dict such as torchvision's
    COCO file) or of backbone weights (a classifier's state dict). `backbone_weights`: a classifier
    state dict for the backbone body. `norm` defaults to frozen BatchNorm when weights are given, else
    GroupNorm. Images are resized so that their longer side is `image_size`.
    """
    spec = arch_spec(arch)
    pretrained = weights is not None or backbone_weights is not None
    backbone = backbone_with_fpn(spec, norm or (FROZEN_BATCHNORM if pretrained else scratch_norm(spec)))
    size = image_size or spec.image_size
    anchors = AnchorGenerator(spec.anchor_sizes, (tuple(aspect_ratios),) * len(spec.anchor_sizes))
    # min_size = max_size: the longer side becomes `size`, as detection_transform resizes
    model = FasterRCNN(
        backbone, num_classes + 1, min_size=size, max_size=size, rpn_anchor_generator=anchors, **spec.options
    )
    if backbone_weights is not None:
        load_backbone_weights(model, backbone_weights, source="backbone weights")
    if weights is not None:
        load_weights(model, weights)
    return model


def load_weights(model: FasterRCNN, path: str | Path) -> list[str]:
    """Load a weights file: detector weights (keys "backbone.", "rpn.", "roi_heads.") or a classifier's.

    Returns the names of the tensors left as initialised (a head of another size). A fashionlens
    checkpoint is read through its "model" entry.
    """
    path = Path(path)
    if not path.is_file():
        raise FashionLensError(f"{path}: weights file not found")
    state = read_torch_file(path, "weights file")
    if isinstance(state, dict) and isinstance(state.get("model"), dict):
        state = state["model"]
    if not isinstance(state, dict) or not state:
        raise FashionLensError(f"{path}: holds no state dict")
    if any(key.startswith("backbone.body.") for key in state):
        return load_detector_weights(model, state, source=str(path))
    load_backbone_weights(model, state, source=str(path))
    return []


# The head's size follows the number of classes, the RPN head's the number of anchors per position.
RESIZABLE = ("roi_heads.box_predictor.", "rpn.head.cls_logits.", "rpn.head.bbox_pred.")


def load_detector_weights(model: FasterRCNN, state: dict[str, torch.Tensor], source: str) -> list[str]:
    """Load every tensor that fits; only the class and anchor heads may differ in size (swapped head)."""
    own = model.state_dict()
    fitting = {key: value for key, value in state.items() if key in own and own[key].shape == value.shape}
    left = sorted(key for key in own if key not in fitting)
    misfits = [key for key in left if not key.startswith(RESIZABLE)] + [key for key in state if key not in own]
    if misfits:
        raise FashionLensError(
            f"{source}: the weights do not fit this detector ({len(misfits)} tensors "
            f"differ, e.g. {misfits[0]}); check --arch and the norm the weights were trained with"
        )
    model.load_state_dict(fitting, strict=False)
    return left


def load_backbone_weights(model: FasterRCNN, state: dict[str, torch.Tensor], source: str) -> None:
    """Copy a classifier's weights into the backbone body: a torchvision classifier's state dict, a
    fashionlens GarmentClassifier's (under "backbone.") or EfficientNet-Lite's ImageNet weights;
    torchvision's mobilenet body is its `features`."""
    body = model.backbone.body
    wanted = body.state_dict()
    for prefix in ("", "features.", "backbone.", "backbone.features."):
        found = {key: state[prefix + key] for key in wanted if prefix + key in state}
        if found:
            break
    misfits = [key for key in wanted if key not in found or found[key].shape != wanted[key].shape]
    if misfits:
        raise FashionLensError(
            f"{source}: the weights do not fit this detector's backbone ({len(misfits)} of "
            f"{len(wanted)} tensors missing or of another shape, e.g. {misfits[0]})"
        )
    body.load_state_dict(found)


def detector_config(model: FasterRCNN, arch: str) -> dict[str, Any]:
    """The checkpoint entries that rebuild `model` (read from the model, so they cannot disagree)."""
    transform = model.transform
    norms = {type(module).__name__ for module in model.backbone.body.modules()}
    frozen = any(name.startswith("Frozen") for name in norms)  # torchvision's and timm's frozen batch norms
    return {
        "arch": arch,
        "preprocessing": {
            "image_size": transform.max_size,
            "min_size": transform.min_size[0],
            "max_size": transform.max_size,
            "mean": list(transform.image_mean),
            "std": list(transform.image_std),
        },
        "anchor_aspect_ratios": list(model.rpn.anchor_generator.aspect_ratios[0]),
        "norm": FROZEN_BATCHNORM if frozen else GROUPNORM if "GroupNorm" in norms else BATCHNORM,
    }


def detector_from_checkpoint(checkpoint: dict[str, Any]) -> FasterRCNN:
    """The trained detector of a checkpoint (from checkpoint.load_checkpoint), in eval mode."""
    require_model_entries(checkpoint, "detector")
    meta = ModelMeta.from_checkpoint(checkpoint)
    model = build_detector(
        meta.architecture,
        len(meta.class_names),
        image_size=meta.image_size,
        aspect_ratios=tuple(meta.anchor_aspect_ratios or ()),
        norm=meta.required(meta.norm, "norm"),
    )
    try:
        model.load_state_dict(checkpoint["model"])
    except RuntimeError:
        raise FashionLensError(
            f"{meta.path or 'checkpoint'}: weights do not fit {meta.arch} ({len(meta.class_names)} regions)"
        ) from None
    return model.eval()


def detections_of(
    model: nn.Module,
    loader: Iterable[tuple[Sequence[torch.Tensor], Sequence[dict[str, Any]]]],
    device: torch.device,
    class_names: tuple[str, ...],
) -> list[list[Detection]]:
    """Detections for every item of `loader` (a DataLoader or any (images, targets) batches), in order;
    boxes in the original images' pixels."""
    model.eval()
    found: list[list[Detection]] = []
    with torch.inference_mode():
        for images, targets in loader:
            outputs = model([image.to(device) for image in images])
            for image, target, output in zip(images, targets, outputs):
                (height, width), (new_height, new_width) = target["orig_size"], image.shape[-2:]
                scale = torch.tensor([width / new_width, height / new_height] * 2)
                boxes = (output["boxes"].cpu() * scale).tolist()
                found.append(
                    [
                        Detection(Box(*box), class_names[int(label) - 1], float(score))
                        for box, label, score in zip(boxes, output["labels"], output["scores"])
                    ]
                )
    return found


def predict_detections(
    model: nn.Module, checkpoint: dict[str, Any], samples: list[Sample], batch_size: int, *, min_score: float = 0.0
) -> list[list[Detection]]:
    """One list of detections per sample, in order. Every detection the model keeps is returned (what
    mAP needs); pass min_score=ModelMeta.score_threshold for the operating point chosen on val."""
    meta = ModelMeta.from_checkpoint(checkpoint)
    class_names = tuple(meta.class_names)
    transform = detection_transform(meta.image_size, train=False)
    dataset = DetectionDataset(samples, transform, class_names, skip_unusable=False)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=collate_detection)
    device = next(model.parameters()).device
    found = detections_of(model, loader, device, class_names)
    return [[d for d in image if d.score >= min_score] for image in found]
