"""What `fashionlens train classifier|detector` can be asked for, with every default in one place.

Plain dataclasses without torch: the CLI's options take their defaults from these fields, and `--help`
must start without loading torch (tests/test_cli_startup.py).
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, fields
from types import SimpleNamespace
from typing import Any, TypeVar

from fashionlens.core.model_meta import DEFAULT_CONTEXT_MARGIN

# ImageNet-pretrained from an installed package; the study used resnet50
DEFAULT_CLASSIFIER_ARCH = "efficientnet_lite0"
# ImageNet-pretrained backbone from an installed package; DetectorSettings.arch None stands for it
# unless --backbone-from needs another
DEFAULT_DETECTOR_ARCH = "fasterrcnn_efficientnet_lite0_fpn"


@dataclass
class ClassifierSettings:
    """Everything `fashionlens train classifier` was asked for; stored in the run's config.json."""

    data: str
    mode: str = "img"
    arch: str = DEFAULT_CLASSIFIER_ARCH
    epochs: int = 10
    image_size: int = 224  # the input's width, and its height unless image_height says otherwise
    min_image_size: int | None = None  # progressive resizing: the first epochs' width, growing to image_size
    image_height: int | None = None
    balance: str = "none"  # none | weights (class-weighted loss) | sampler (WeightedRandomSampler)
    batch_size: int = 32
    lr: float = 1e-3
    seed: int = 0
    val_from_train: float | None = None
    classes: list[str] | None = None
    extra_data: list[str] | None = None  # more training photos from other sources (their train split, as crops)
    attribute_labels: str | None = None  # hand labels of --extra-data's garments: multi-task training
    attribute_weight: float = 1.0  # the attribute losses' mean, weighed against the category's loss
    weights: str | None = None
    pretrained: str | None = None  # imagenet | none; None: imagenet where installed or cached weights exist
    backbone_lr: float | None = None  # the backbone's peak learning rate (default: lr, as the head's)
    early_lr: float | None = None  # an EfficientNet-Lite's stem and blocks 0-4 (default: backbone_lr)
    freeze_epochs: int = 0  # the first epochs train the new head alone, the backbone frozen
    label_smoothing: float = 0.0
    context_margin: float = DEFAULT_CONTEXT_MARGIN
    precision: str = "mixed"  # the engine's: 16-bit autocast where the device is faster in it, or float32
    ema: float | None = None  # the engine's weight average: its decay per step, or None for the trained weights
    command: str | None = None  # the command line that started the run, for the model card


@dataclass
class DetectorSettings:
    """Everything `fashionlens train detector` was asked for; stored in the run's config.json."""

    data: str
    arch: str | None = None  # None: DEFAULT_DETECTOR_ARCH, or the one whose backbone fits --backbone-from
    epochs: int = 10
    image_size: int | None = None  # longer side in pixels; None: the architecture's default
    batch_size: int = 4
    lr: float = 1e-4
    seed: int = 0
    weights: str | None = None
    backbone_from: str | None = None
    pretrained: str | None = None  # imagenet | none; None: imagenet where the backbone's weights are installed
    tall_anchors: bool = False
    scale_jitter: bool = False  # training images also zoomed out and cropped in (data.detection_transform)
    whole_image_boxes: bool = False  # whole-image labels of a known region boxed by the whole image
    precision: str = "mixed"  # the engine's: 16-bit autocast where the device is faster in it, or float32
    ema: float | None = None  # the engine's weight average: its decay per step, or None for the trained weights
    command: str | None = None  # the command line that started the run, for the model card


def defaults_of(settings_class: type) -> SimpleNamespace:
    """The fields' defaults by attribute (`defaults_of(ClassifierSettings).epochs`); required fields left out."""
    return SimpleNamespace(
        **{field.name: field.default for field in fields(settings_class) if field.default is not MISSING}
    )


Settings = TypeVar("Settings", ClassifierSettings, DetectorSettings)


def settings_from_options(settings_class: type[Settings], options: dict[str, Any]) -> Settings:
    """The settings of a `train` command's options, taken by field name: paths as text, a comma-separated
    --classes as a list, a repeatable option given no times as None."""
    values: dict[str, Any] = {}
    for field in fields(settings_class):
        if field.name not in options:
            continue  # not a command-line option: its default
        value = options[field.name]
        if field.name == "classes" and isinstance(value, str):
            value = [name.strip() for name in value.split(",") if name.strip()] if value else None
        elif isinstance(value, list | tuple):
            value = list(value) or None
        elif field.name == "data" or (value is not None and not isinstance(value, bool | int | float | str)):
            value = str(value)  # a Path; --data as the command gave it (resume reads the run's own)
        values[field.name] = value
    return settings_class(**values)
