"""Saliency maps: where a classifier looked when it named a garment (Grad-CAM).

Grad-CAM (Selvaraju et al., 2017) through pytorch-grad-cam (PyPI `grad-cam`, MIT): the gradient of the
explained class's logit, averaged over each channel of the last convolutional feature maps, weighs those
maps; their positive sum is the map. It is chosen because it costs one forward and one backward pass per
batch (an explanation takes about the time of a classification), works on every convolutional backbone
the project builds (timm's EfficientNet-Lite and torchvision's) through one target layer, and is
deterministic on a CPU; the gradient-free variants of the same library (Score-CAM, Ablation-CAM) cost a
forward pass per channel (1280 for EfficientNet-Lite0).

A map is float32 in [0, 1] over the classifier's input (each map scaled by its own maximum; all zero when
no location speaks for the class). `view` is where that input lies in the photo: a garment's crop with
the classifier's context margin, or the whole photo; maps are placed back there.
"""

from __future__ import annotations

import io
import weakref

import cv2
import numpy as np
import torch
from PIL import Image, ImageDraw
from torch import nn

from fashionlens.core.errors import FashionLensError
from fashionlens.core.records import Box

Rect = tuple[int, int, int, int]  # (left, top, right, bottom) in whole pixels of the photo
HEAT_WEIGHT = 0.5  # share of the heat colours in an overlay; the photo keeps the rest
OUTSIDE_DIM = 0.35  # brightness kept outside the classifier's view: it never saw those pixels
_LAYERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class _WithGeometry(nn.Module):
    """The classifier with its box geometry bound: pytorch-grad-cam calls model(images) only."""

    def __init__(self, model: nn.Module, geometry: torch.Tensor):
        super().__init__()
        self.model, self.geometry = model, geometry

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model(images, self.geometry)


def target_layer(model: nn.Module, input_shape: tuple[int, int]) -> nn.Module:
    """The layer whose feature maps Grad-CAM weighs: the last one before global pooling.

    EfficientNet-Lite (timm): `bn2`, the head convolution after its batch norm and ReLU6. Other backbones:
    found once per model by a forward pass on a blank input: the last module to finish whose output is
    a 4-D map larger than 1x1 (torchvision's layer4, features, trunk_output...)."""
    backbone = model.get_submodule("backbone")
    if hasattr(backbone, "conv_head") and hasattr(backbone, "bn2"):
        return backbone.get_submodule("bn2")
    if backbone not in _LAYERS:
        _LAYERS[backbone] = _last_feature_map_module(backbone, input_shape)
    return _LAYERS[backbone]


def _last_feature_map_module(backbone: nn.Module, input_shape: tuple[int, int]) -> nn.Module:
    finished: list[nn.Module] = []

    def record(module: nn.Module, inputs, output) -> None:
        if isinstance(output, torch.Tensor) and output.dim() == 4 and min(output.shape[-2:]) > 1:
            finished.append(module)

    handles = [module.register_forward_hook(record) for module in backbone.modules() if module is not backbone]
    try:
        with torch.no_grad():
            backbone.eval()(torch.zeros(1, 3, *input_shape, device=_device_of(backbone)))
    finally:
        for handle in handles:
            handle.remove()
    if not finished:
        raise FashionLensError("saliency maps need a convolutional backbone (no 2-D feature map found)")
    return finished[-1]


def _device_of(model: nn.Module) -> torch.device:
    parameter = next(model.parameters(), None)
    return torch.device("cpu") if parameter is None else parameter.device


def class_maps(model: nn.Module, pixels: torch.Tensor, geometry: torch.Tensor, targets: list[int]) -> np.ndarray:
    """Grad-CAM maps (N x H x W, the input's size, float32 in [0, 1]) of class `targets[i]` for input i.

    `model`: a GarmentClassifier (torch); `pixels`, `geometry`: its inputs as the Analyzer or a dataset
    makes them. The model is left as it was: same weights, no gradients, the same requires_grad flags."""
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    if len(targets) == 0:
        return np.zeros((0, *pixels.shape[-2:]), dtype=np.float32)
    device = _device_of(model)
    layer = target_layer(model, (pixels.shape[-2], pixels.shape[-1]))
    wrapped = _WithGeometry(model, geometry.to(device))
    # The backward pass stops at the explained layer: its output becomes a leaf that requires a gradient
    # (registered before the library's hooks, so they see that leaf). Grad-CAM needs nothing below it, and
    # going on to the input cost 20 times as much on a CPU; frozen weights do not matter either.
    cut = layer.register_forward_hook(lambda module, inputs, output: output.detach().requires_grad_(True))
    frozen = [parameter for parameter in model.parameters() if parameter.requires_grad]
    for parameter in frozen:  # nor are the weights' gradients needed: the forward pass records no graph
        parameter.requires_grad_(False)
    try:
        with torch.enable_grad(), GradCAM(model=wrapped, target_layers=[layer]) as cam:
            maps = cam(
                input_tensor=pixels.detach().to(device), targets=[ClassifierOutputTarget(int(k)) for k in targets]
            )
    finally:
        cut.remove()
        for parameter in frozen:
            parameter.requires_grad_(True)
    return np.nan_to_num(np.asarray(maps, dtype=np.float32)).clip(0.0, 1.0)


def box_in_view(box: Box, view: Rect, shape: tuple[int, int]) -> Box:
    """The photo's `box` in the pixels of a map of `shape` (H, W) that covers `view` of the photo."""
    left, top, right, bottom = view
    sx, sy = shape[1] / (right - left), shape[0] / (bottom - top)
    return Box((box.x1 - left) * sx, (box.y1 - top) * sy, (box.x2 - left) * sx, (box.y2 - top) * sy)


def map_in_photo(saliency: np.ndarray, view: Rect, size: tuple[int, int]) -> np.ndarray:
    """The map placed back in a photo of `size` (width, height): resized onto `view`, zero elsewhere."""
    left, top, right, bottom = view
    photo = np.zeros((size[1], size[0]), dtype=np.float32)
    photo[top:bottom, left:right] = cv2.resize(saliency, (right - left, bottom - top), interpolation=cv2.INTER_LINEAR)
    return photo


def heat_colours(image: np.ndarray, saliency: np.ndarray) -> np.ndarray:
    """RGB uint8: the image (H x W x 3 uint8) blended with the map's heat colours (blue low, red high)."""
    from pytorch_grad_cam.utils.image import show_cam_on_image

    return show_cam_on_image(image.astype(np.float32) / 255.0, saliency, use_rgb=True, image_weight=1 - HEAT_WEIGHT)


def photo_overlay(image: Image.Image, saliency: np.ndarray, view: Rect, box: Box | None = None) -> Image.Image:
    """The whole photo: heat colours inside the classifier's view, the rest dimmed, the garment's box drawn."""
    left, top, right, bottom = view
    pixels = np.asarray(image.convert("RGB"))
    shown = (pixels * OUTSIDE_DIM).astype(np.uint8)
    inside = cv2.resize(saliency, (right - left, bottom - top), interpolation=cv2.INTER_LINEAR)
    shown[top:bottom, left:right] = heat_colours(pixels[top:bottom, left:right], inside)
    result = Image.fromarray(shown)
    if box is not None:
        width = max(2, round(max(image.size) / 300))
        ImageDraw.Draw(result).rectangle(box.as_list(), outline=(255, 255, 255), width=width)
    return result


def view_overlay(image: Image.Image, saliency: np.ndarray, view: Rect, max_side: int = 192) -> Image.Image:
    """Only the classifier's view with its heat colours, at most `max_side` pixels: a small picture for
    the web page and the evaluation report."""
    crop = image.convert("RGB").crop(view)
    scale = min(1.0, max_side / max(crop.size))
    crop = crop.resize(
        (max(1, round(crop.width * scale)), max(1, round(crop.height * scale))), Image.Resampling.BILINEAR
    )
    resized = cv2.resize(saliency, crop.size, interpolation=cv2.INTER_LINEAR)
    return Image.fromarray(heat_colours(np.asarray(crop), resized))


def png_bytes(image: Image.Image) -> bytes:
    """PNG without a timestamp or other varying chunk: the same picture gives the same bytes."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
