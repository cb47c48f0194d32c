"""The Analyzer's two models: loaded for a backend, and called for what the Analyzer reads from them.

"torch" loads a run's checkpoint as a torch module; "onnx" and "onnx-int8" load its ONNX export of that
precision (onnx_runtime.load_onnx), which stands where the torch module stands. The export
(export/onnx_export.py, export/onnx_int8.py) runs the torch models through the same helpers, so what it
checks is what the Analyzer runs.
"""

from __future__ import annotations

import hashlib
import json
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import torch
from PIL import Image
from torch import nn

from fashionlens.core.checkpoint import load_checkpoint
from fashionlens.core.devices import torch_device
from fashionlens.core.errors import FashionLensError
from fashionlens.core.model_meta import ModelMeta
from fashionlens.core.records import Box
from fashionlens.data.classification import box_geometry, crop_with_margin
from fashionlens.models.classifier import ClassifierOutput, classifier_from_checkpoint
from fashionlens.models.detector import DEFAULT_SCORE_THRESHOLD, detector_from_checkpoint

BACKENDS = ("torch", "onnx", "onnx-int8")
PRECISION_OF_BACKEND = {"onnx": "float32", "onnx-int8": "int8"}  # which ONNX export a backend runs
STAGE_BAND = 0.15  # of each side of a stage's feature map, left out of its statistics
Loader = Callable[[str | Path], tuple[Any, dict[str, Any]]]


def check_backend(backend: str, device: str | None) -> torch.device:
    """The device a known `backend` runs on; one line for an unknown backend, or a GPU with an ONNX one."""
    if backend not in BACKENDS:
        raise FashionLensError(f"unknown backend {backend!r}; choose {', '.join(BACKENDS[:-1])} or {BACKENDS[-1]}")
    if backend in PRECISION_OF_BACKEND and device not in (None, "cpu"):
        raise FashionLensError(f"--device {device}: the {backend} backend runs on the CPU; use --backend torch")
    return torch_device(device)


def model_loader(backend: str, device: str | None = None) -> Loader:
    """run -> (model, its checkpoint or its export's metadata) for `backend` (an ONNX backend reads the
    run's export: export.exports.export_for_backend writes it); `device`: where torch modules go (cpu,
    cuda, cuda:N; None: cpu)."""
    target = check_backend(backend, device)  # before any model loads
    if backend not in PRECISION_OF_BACKEND:
        return lambda run: on_device(load_torch(run), target)
    from fashionlens.inference.onnx_runtime import load_onnx

    return lambda run: load_onnx(run, PRECISION_OF_BACKEND[backend])


def on_device(loaded: tuple[nn.Module, dict[str, Any]], device: torch.device) -> tuple[nn.Module, dict[str, Any]]:
    model, checkpoint = loaded
    return model.to(device), checkpoint


def load_torch(run: str | Path) -> tuple[nn.Module, dict[str, Any]]:
    """A run's (or checkpoint file's) model on the CPU in eval mode, and its checkpoint."""
    checkpoint = load_checkpoint(run)
    if ModelMeta.from_checkpoint(checkpoint).kind == "detector":
        return detector_from_checkpoint(checkpoint), checkpoint
    return classifier_from_checkpoint(checkpoint), checkpoint


def check_kind(checkpoint: dict[str, Any], kind: str, option: str) -> None:
    found = ModelMeta.from_checkpoint(checkpoint).kind
    if found != kind:
        raise FashionLensError(f"{option}: a {found} run, not a {kind}")


def model_fingerprint(checkpoint: dict[str, Any]) -> str:
    """Identifies what makes the embeddings: architecture, mode, preprocessing and every weight."""
    meta = ModelMeta.from_checkpoint(checkpoint)
    digest = hashlib.sha256()
    head = {"arch": meta.arch, "mode": meta.mode, "class_names": meta.class_names, "preprocessing": meta.preprocessing}
    digest.update(json.dumps(head, sort_keys=True).encode())
    for name, tensor in sorted(checkpoint["model"].items()):
        digest.update(name.encode())
        digest.update(tensor.detach().to(torch.float32).contiguous().numpy().tobytes())
    return f"{meta.architecture}-{digest.hexdigest()[:16]}"


def score_threshold(checkpoint: dict[str, Any]) -> float:
    """The detector's operating threshold: the checkpoint's own, else the default."""
    threshold = ModelMeta.from_checkpoint(checkpoint).score_threshold
    return float(DEFAULT_SCORE_THRESHOLD if threshold is None else threshold)


def keep_scores_from(detector: Any, threshold: float) -> None:
    """Lower a torchvision detector's own score pre-filter to the stored threshold, so that it never
    hides a box the threshold keeps (an ONNX export bakes the pre-filter in: it is applied first)."""
    heads = getattr(detector, "roi_heads", None)
    if heads is not None:
        heads.score_thresh = min(heads.score_thresh, threshold)


def analyzed_detector(checkpoint: dict[str, Any]) -> nn.Module:
    """The checkpoint's torch detector as the Analyzer runs it: its pre-filter lowered to its threshold."""
    model = detector_from_checkpoint(checkpoint)
    keep_scores_from(model, score_threshold(checkpoint))
    return model


def device_of(model: Any) -> torch.device:
    """Where a torch module's weights are; ONNX Runtime sessions take CPU tensors."""
    parameter = next(model.parameters(), None) if isinstance(model, nn.Module) else None
    return torch.device("cpu") if parameter is None else parameter.device


def classifier_feeds(
    transform: Callable[[Image.Image], torch.Tensor], crops: list[tuple[Image.Image, Box]], margin: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """The classifier's inputs for garments' crops: each crop (grown by the context margin) through the
    eval transform, and each box's geometry (read by img+bbox models only)."""
    pixels = torch.stack([transform(crop_with_margin(image, box, margin)) for image, box in crops])
    geometry = torch.tensor([box_geometry(box, image.width, image.height) for image, box in crops], dtype=torch.float32)
    return pixels, geometry


def forward_with_features(model: nn.Module, images: torch.Tensor, geometry: torch.Tensor) -> ClassifierOutput:
    """Logits, pooled backbone features and stage statistics in one pass, without autograd."""
    with torch.inference_mode():
        return logits_and_features(model, images, geometry)


def logits_and_features(model: nn.Module, images: torch.Tensor, *geometry: torch.Tensor) -> ClassifierOutput:
    """Logits, pooled backbone features and stage statistics in one pass: forward hooks read the backbone's
    output and its early stages', so the classifier's forward stays as trained (and an ONNX export
    traces exactly it)."""
    backbone = model.get_submodule("backbone")
    with captured_outputs([backbone, *stage_modules(backbone)]) as captured:
        logits = model(images, *geometry)
    return ClassifierOutput(logits, captured[0][0].flatten(1), stages_of(captured[1:]))


@contextmanager
def captured_outputs(modules: list[nn.Module]) -> Iterator[list[list[torch.Tensor]]]:
    """For each module, the list its forward outputs are appended to while the block runs (forward hooks,
    removed at its end)."""
    captured: list[list[torch.Tensor]] = [[] for _ in modules]
    handles = [
        module.register_forward_hook(lambda module, inputs, output, into=into: into.append(output))
        for module, into in zip(modules, captured)
    ]
    try:
        yield captured
    finally:
        for handle in handles:
            handle.remove()


def stages_of(captured: list[list[torch.Tensor]]) -> torch.Tensor | None:
    """The stage statistics (N x S) of the stage modules' captured maps; None without stage modules."""
    return torch.cat([stage_statistics(maps[0]) for maps in captured], dim=1) if captured else None


def stage_modules(backbone: nn.Module) -> list[nn.Module]:
    """The early stages whose feature maps keep a garment's colour and texture, which the pooled last layer
    has mostly traded for its category: blocks 1 to 4 of an EfficientNet-Lite (strides 4 to 16, 256
    channels); none for other architectures."""
    blocks = getattr(backbone, "blocks", None)
    return [] if blocks is None else list(blocks[1:5])


def stage_statistics(maps: torch.Tensor) -> torch.Tensor:
    """Each channel's mean and standard deviation (N x 2C) over the inner part of feature maps: a band of
    STAGE_BAND of each side is left out, where the crop's context margin shows the surroundings."""
    height, width = int(maps.shape[2]), int(maps.shape[3])  # constants in an ONNX graph: its input size is fixed
    dy, dx = round(height * STAGE_BAND), round(width * STAGE_BAND)
    inner = maps[:, :, dy : height - dy, dx : width - dx].float()
    mean = inner.mean(dim=(2, 3))
    spread = (inner - mean[:, :, None, None]).pow(2).mean(dim=(2, 3)).sqrt()
    return torch.cat([mean, spread], dim=1)
