"""Annotated photos: the Analyzer's boxes and labels drawn on the image (torchvision's drawing utility)."""

from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image
from torchvision.transforms.functional import pil_to_tensor, to_pil_image
from torchvision.utils import draw_bounding_boxes

from .analyzer import Analysis
from .checkpoint import atomic_write

REGION_COLORS = {"upper": "#e6194b", "lower": "#3cb44b", "full": "#4363d8", None: "#f58231"}


def annotated(image: Image.Image, analysis: Analysis) -> Image.Image:
    """The photo with one box per garment, labelled "category, the classifier's probability · colour ·
    pattern · sleeve" (pattern and sleeve where the Analyzer has attribute heads)."""
    if not analysis.garments:
        return image
    boxes = torch.tensor([g.box.as_list() for g in analysis.garments], dtype=torch.float32)
    labels = [" · ".join([f"{g.category} {g.category_score:.0%} (classifier)", g.color.name, *g.attribute_words()])
              for g in analysis.garments]
    colors = [REGION_COLORS.get(g.region, REGION_COLORS[None]) for g in analysis.garments]
    width = max(1, round(max(image.size) / 200))
    drawn = draw_bounding_boxes(pil_to_tensor(image), boxes, labels, colors=colors, width=width)
    return to_pil_image(drawn)


def unique_names(paths: list[str]) -> list[str]:
    """An output file name per input photo, made unique when two photos share a name."""
    names: list[str] = []
    for path in paths:
        stem, name, count = Path(path).stem, f"{Path(path).stem}.png", 2
        while name in names:
            name, count = f"{stem}-{count}.png", count + 1
        names.append(name)
    return names


def write_annotated(images: list[Image.Image], analyses: list[Analysis], out_dir: Path) -> list[Path]:
    """PNG files in `out_dir`, one per photo, each written atomically."""
    paths = [out_dir / name for name in unique_names([a.image for a in analyses])]
    for image, analysis, path in zip(images, analyses, paths):
        picture = annotated(image, analysis)
        atomic_write(path, lambda temporary: picture.save(temporary, format="PNG"))
    return paths
