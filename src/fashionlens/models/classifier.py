"""Garment classifier: any torchvision classification architecture with its head swapped, and the
inference helpers that need nothing but a checkpoint.

Mode `img` classifies the whole image. Mode `img+bbox` classifies the garment's crop and adds the box's
geometry (a small MLP on 6 numbers) to the pooled image features before the final linear layer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
import torchvision
from torch import Tensor, nn
from torch.utils.data import DataLoader

from fashionlens.core.checkpoint import read_torch_file, require_model_entries
from fashionlens.core.errors import FashionLensError
from fashionlens.core.model_meta import ModelMeta
from fashionlens.core.records import Sample
from fashionlens.data.classification import GEOMETRY_FEATURES, ClassificationDataset, check_mode
from fashionlens.data.transforms import classification_eval_transform, input_shape
from fashionlens.models import efficientnet_lite as lite

MIN_IMAGE_SIZE = 32  # five stride-2 stages: smaller images vanish before the pooling layer
GEOMETRY_WIDTH = 32


def architectures() -> list[str]:
    """torchvision's classifiers and the EfficientNet-Lite backbones (whose ImageNet weights are installable)."""
    return [*torchvision.models.list_models(module=torchvision.models), *lite.LITE_ARCHS]


def minimum_image_size(arch: str) -> int:
    """The smallest input the architecture takes: its weights' `min_size`, and never below 32 px."""
    if lite.is_lite(arch):
        return lite.LITE_MIN_IMAGE_SIZE
    meta = torchvision.models.get_model_weights(arch).DEFAULT.meta
    return max(MIN_IMAGE_SIZE, *meta.get("min_size", (0, 0)))


def check_arch(arch: str) -> None:
    if arch not in architectures():
        raise FashionLensError(f"unknown architecture {arch!r}; torchvision classifiers: {', '.join(architectures())}")


def check_image_size(arch: str, image_size: int, option: str = "--image-size", side: int | None = None) -> None:
    """Refuse an input side (`side`, else the option's value `image_size`) below the architecture's minimum."""
    check_arch(arch)
    minimum = minimum_image_size(arch)
    side = image_size if side is None else side
    if side < minimum:
        gives = "" if side == image_size else f" gives a {side} px side, which"
        raise FashionLensError(f"{option} {image_size}{gives} is below {arch}'s minimum of {minimum} px")


class ClassifierOutput(NamedTuple):
    """What one classifier pass gives the Analyzer: logits (N x K), pooled penultimate features (N x D), and
    the early stages' statistics (N x S, `stage_statistics`), None for an architecture without them."""

    logits: torch.Tensor
    features: torch.Tensor
    stages: torch.Tensor | None = None


AUXILIARY = "attribute_heads."  # parameters that only multi-task training has: inference leaves them out


def inference_weights(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """A classifier's state dict without the attribute heads of multi-task training."""
    return {name: tensor for name, tensor in state.items() if not name.startswith(AUXILIARY)}


class GarmentClassifier(nn.Module):
    """A torchvision backbone (its final linear layer removed), optional box geometry, a linear head; for
    multi-task training, linear attribute heads on the pooled features (`attribute_classes`: each head's
    number of classes), which train the backbone beside the category and are not part of the model shipped."""

    def __init__(
        self,
        backbone: nn.Module,
        features: int,
        num_classes: int,
        use_geometry: bool,
        attribute_classes: tuple[int, ...] = (),
    ):
        super().__init__()
        self.backbone = backbone
        self.geometry = (
            nn.Sequential(
                nn.Linear(GEOMETRY_FEATURES, GEOMETRY_WIDTH),
                nn.ReLU(inplace=True),
                nn.Linear(GEOMETRY_WIDTH, GEOMETRY_WIDTH),
                nn.ReLU(inplace=True),
            )
            if use_geometry
            else None
        )
        self.head = nn.Linear(features + (GEOMETRY_WIDTH if use_geometry else 0), num_classes)
        self.attribute_heads = nn.ModuleList(nn.Linear(features, classes) for classes in attribute_classes)

    def forward(
        self, images: Tensor, geometry: Tensor | None = None, attributes: bool = False
    ) -> Tensor | tuple[Tensor, list[Tensor]]:
        """The category logits; with `attributes`, also each attribute head's logits."""
        pooled = self.backbone(images)
        features = pooled
        if self.geometry is not None:
            assert geometry is not None, "a classifier trained with box geometry needs it"
            features = torch.cat([features, self.geometry(geometry.to(features.dtype))], dim=1)
        if not attributes:
            return self.head(features)
        return self.head(features), [head(pooled) for head in self.attribute_heads]


def remove_final_linear(model: nn.Module, arch: str) -> int:
    """Replace the last nn.Linear (fc, classifier[-1], heads.head...) by Identity; its input width."""
    linears = [(name, module) for name, module in model.named_modules() if isinstance(module, nn.Linear)]
    if not linears:
        raise FashionLensError(f"{arch}: no final linear layer to replace (architecture not supported)")
    name, layer = linears[-1]
    parent = model.get_submodule(name.rpartition(".")[0])
    setattr(parent, name.rpartition(".")[2], nn.Identity())
    return layer.in_features


def build_classifier(
    arch: str,
    num_classes: int,
    mode: str,
    weights: str | Path | None = None,
    imagenet: bool = False,
    attribute_classes: tuple[int, ...] = (),
) -> GarmentClassifier:
    """A classifier for `num_classes` in `mode`; `weights`: a state_dict file (torchvision's or a
    fashionlens checkpoint) whose matching tensors are loaded, or None to start from scratch.
    `imagenet`: start an EfficientNet-Lite backbone from its installed ImageNet weights.
    `attribute_classes`: attribute heads for multi-task training (GarmentClassifier)."""
    check_mode(mode)
    check_arch(arch)
    backbone, features = build_backbone(arch, imagenet)
    model = GarmentClassifier(backbone, features, num_classes, mode == "img+bbox", attribute_classes)
    if weights is not None:
        load_pretrained(model, weights)
    return model


def build_backbone(arch: str, imagenet: bool) -> tuple[nn.Module, int]:
    """The architecture without its final linear layer (its output: pooled features), and their width."""
    if lite.is_lite(arch):
        backbone = lite.build_lite(arch, num_classes=0)
        if imagenet:
            backbone.load_state_dict(lite.pretrained_backbone_state(arch), strict=True)
        width = backbone.num_features  # timm's width of the pooled features
        assert isinstance(width, int)
        return backbone, width
    if imagenet:
        raise FashionLensError(
            f"--pretrained imagenet: no installed ImageNet weights for {arch}; choose one of "
            f"{', '.join(lite.LITE_ARCHS)}, give --weights, or use --pretrained none"
        )
    # the auxiliary classifiers of these two would change forward()'s output while training
    extra = {"aux_logits": False, "init_weights": True} if arch in ("googlenet", "inception_v3") else {}
    backbone = torchvision.models.get_model(arch, weights=None, **extra)
    return backbone, remove_final_linear(backbone, arch)


def cached_torchvision_weights(arch: str) -> Path | None:
    """torchvision's ImageNet weights for `arch` when they are already in the torch cache (never downloads)."""
    url = torchvision.models.get_model_weights(arch).DEFAULT.url
    path = Path(torch.hub.get_dir()) / "checkpoints" / url.rsplit("/", 1)[-1]
    return path if path.is_file() else None


def load_pretrained(model: GarmentClassifier, path: str | Path) -> tuple[int, int]:
    """Copy the tensors of `path` whose names and shapes match; (copied, total). A head for other
    classes (ImageNet's 1000) is left new. Raises FashionLensError when nothing matches."""
    path = Path(path)
    if not path.is_file():
        raise FashionLensError(f"{path}: weights file not found")
    loaded = read_torch_file(path, "weights file")
    if not isinstance(loaded, dict):
        raise FashionLensError(f"{path}: holds no state dict")
    if "model" in loaded and "kind" in loaded:  # a fashionlens checkpoint
        state = loaded["model"]
    else:  # a plain torchvision state_dict: its names start at the backbone
        state = {f"backbone.{name}": tensor for name, tensor in loaded.items()}
    own = model.state_dict()
    matching = {name: tensor for name, tensor in state.items() if name in own and own[name].shape == tensor.shape}
    if not matching:
        raise FashionLensError(f"{path}: no tensor matches this architecture (weights of another model?)")
    model.load_state_dict(matching, strict=False)
    return len(matching), len(own)


# ----------------------------------------------------------------------------- inference


def classifier_from_checkpoint(checkpoint: dict[str, Any]) -> GarmentClassifier:
    """The checkpoint's classifier on the CPU, in eval mode."""
    require_model_entries(checkpoint, "classifier")
    meta = ModelMeta.from_checkpoint(checkpoint)
    model = build_classifier(meta.architecture, len(meta.class_names), meta.classifier_mode)
    try:
        model.load_state_dict(inference_weights(checkpoint["model"]))
    except RuntimeError:
        raise FashionLensError(f"{meta.path or 'checkpoint'}: weights do not fit {meta.arch} ({meta.mode})") from None
    return model.eval()


def evaluation_dataset(checkpoint: dict[str, Any], samples: list[Sample], crops: bool | None) -> ClassificationDataset:
    """The garments of `samples` as the checkpoint's model sees them at evaluation, one item per garment
    with a label (kept whatever it is) and a usable box: the rows of predict_classifier's answer."""
    meta = ModelMeta.from_checkpoint(checkpoint)
    return ClassificationDataset(
        samples,
        meta.class_names,
        meta.classifier_mode,
        classification_eval_transform(meta.preprocessing),
        context_margin=meta.context_margin,
        keep_unknown_labels=True,
        decode_size=max(input_shape(meta.preprocessing)),
        crop=crops,
    )


def predict_classifier(
    model: nn.Module,
    checkpoint: dict[str, Any],
    samples: list[Sample],
    batch_size: int = 32,
    crops: bool | None = None,
) -> tuple[list[str], np.ndarray]:
    """(true label of each garment used, softmax probabilities N x K in the checkpoint's class order).

    Uses every garment with a label (any label, so other taxonomies can be mapped afterwards) and a
    usable box, the way training does; `img+bbox` takes the garments' boxes (annotated or detected).
    `crops=True` shows an `img` model each garment's crop instead of the whole image.
    """
    dataset = evaluation_dataset(checkpoint, samples, crops)
    device = next(model.parameters()).device
    model.eval()
    probabilities = [np.zeros((0, len(dataset.class_names)), dtype=np.float32)]
    with torch.inference_mode():
        for images, geometry, _ in DataLoader(dataset, batch_size=batch_size, shuffle=False):
            logits = model(images.to(device), geometry.to(device))
            probabilities.append(torch.softmax(logits.float(), dim=1).cpu().numpy())
    return [item.label for item in dataset.items], np.concatenate(probabilities)
