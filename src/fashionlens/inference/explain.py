"""What the model looked at for each garment the Analyzer found: `fashionlens analyze --explain` and the
service's `POST /analyze?explain=1`.

The Analyzer classifies each detected garment's crop (grown by the classifier's context margin), or the
whole photo when nothing was detected; a garment's map is the classifier's Grad-CAM (saliency.py) for the
garment's category on exactly that input, placed back in the photo where the input came from. Maps are
computed only when asked: the normal path never runs a backward pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Protocol

import numpy as np
import torch
from PIL import Image
from torch import nn

from fashionlens.core.errors import FashionLensError
from fashionlens.core.records import Box
from fashionlens.data.classification import box_geometry, margin_rect
from fashionlens.evaluation.gradcam import Rect, class_maps, photo_overlay, png_bytes, view_overlay

if TYPE_CHECKING:
    from fashionlens.core.model_meta import ModelMeta
    from fashionlens.inference.analyzer import Analysis, Analyzer

NEEDS_TORCH = "--explain needs --backend torch (saliency maps need the PyTorch model's gradients)"


class ExplainableAnalyzer(Protocol):
    """What the saliency maps read of an Analyzer (the service's SerialAnalyzer passes these reads on)."""

    @property
    def classifier(self) -> Any: ...  # an nn.Module, or an ONNX model that check_explainable refuses

    @property
    def classifier_meta(self) -> ModelMeta: ...

    @property
    def transform(self) -> Callable[[Image.Image], torch.Tensor]: ...

    @property
    def class_names(self) -> list[str]: ...


@dataclass
class GarmentSaliency:
    """One garment's map over the classifier's input, and where that input lies in the photo."""

    garment: int  # position in Analysis.garments
    category: str  # the class explained: the garment's category as the Analyzer named it
    box: Box  # the garment's box in the photo
    view: Rect  # the classifier's input in the photo: the crop with its margin, or the whole photo
    saliency: np.ndarray  # float32 in [0, 1], the classifier input's height x width

    def overlay(self, photo: Image.Image) -> Image.Image:
        return photo_overlay(photo, self.saliency, self.view, self.box)

    def thumbnail_png(self, photo: Image.Image, max_side: int = 192) -> bytes:
        return png_bytes(view_overlay(photo, self.saliency, self.view, max_side))


def check_explainable(analyzer: ExplainableAnalyzer) -> None:
    """One line when the Analyzer runs ONNX models: they have no gradients to explain with."""
    if not isinstance(analyzer.classifier, nn.Module):
        raise FashionLensError(NEEDS_TORCH)


def classifier_view(analysis: Analysis, index: int, margin: float, size: tuple[int, int]) -> tuple[Rect, Box]:
    """(where the classifier's input came from, the box whose geometry it was given) for garment `index`:
    as Analyzer.analyze builds them."""
    width, height = size
    if not analysis.detected:  # one product: the classifier saw the whole photo
        return (0, 0, width, height), Box(0.0, 0.0, float(width), float(height))
    box = analysis.garments[index].box
    return margin_rect(box, margin, width, height), box


def explain_analysis(analyzer: ExplainableAnalyzer, photo: Image.Image, analysis: Analysis) -> list[GarmentSaliency]:
    """A map per garment of `analysis`, made from `photo` at the size the boxes are in (the full photo)."""
    check_explainable(analyzer)
    if photo.size != (analysis.width, analysis.height):
        raise ValueError(f"the photo is {photo.size}, the analysis {analysis.width}x{analysis.height}")
    margin = analyzer.classifier_meta.context_margin
    views = [classifier_view(analysis, index, margin, photo.size) for index in range(len(analysis.garments))]
    if not views:
        return []
    pixels = torch.stack([analyzer.transform(photo.crop(view)) for view, _ in views])
    geometry = torch.tensor([box_geometry(box, *photo.size) for _, box in views], dtype=torch.float32)
    targets = [analyzer.class_names.index(garment.category) for garment in analysis.garments]
    maps = class_maps(analyzer.classifier, pixels, geometry, targets)
    return [
        GarmentSaliency(index, garment.category, garment.box, view, saliency)
        for index, (garment, (view, _), saliency) in enumerate(zip(analysis.garments, views, maps))
    ]


def overlay_name(photo_name: str, garment: GarmentSaliency) -> str:
    """`<photo name>-garment<N>-<category>.png` (N from 1, as the annotated photos number them)."""
    category = "".join(c if c.isalnum() or c in "-_" else "_" for c in garment.category)
    return f"{Path(photo_name).stem}-garment{garment.garment + 1}-{category}.png"


def write_overlays(photo: Image.Image, maps: list[GarmentSaliency], photo_name: str, out_dir: Path) -> list[Path]:
    """One overlay PNG per garment into `out_dir`, each written whole (atomic); their paths."""
    from fashionlens.core.files import write_bytes

    paths = []
    for garment in maps:
        data = png_bytes(garment.overlay(photo))
        path = out_dir / overlay_name(photo_name, garment)
        write_bytes(path, data)
        paths.append(path)
    return paths


def explain_photos(analyzer: Analyzer, analyses: list[Analysis], out_dir: Path) -> list[list[Path]]:
    """`fashionlens analyze --explain OUT`: each photo read again at its full size (the boxes' pixels),
    its garments explained, one overlay PNG per garment; the paths, photo by photo."""
    from fashionlens.core.images import load_image
    from fashionlens.inference.annotate import unique_names

    check_explainable(analyzer)
    written = []
    for analysis, name in zip(analyses, unique_names([a.image for a in analyses])):
        photo = load_image(analysis.image)
        written.append(write_overlays(photo, explain_analysis(analyzer, photo, analysis), name, out_dir))
    return written


def with_overlay_files(analyses_json: str, files: list[list[Path]]) -> str:
    """`analyze --json`'s text with each garment's overlay file added as "saliency_png"."""
    import json

    data = json.loads(analyses_json)
    for image, paths in zip(data["images"], files):
        for garment, path in zip(image["garments"], paths):
            garment["saliency_png"] = str(path)
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
