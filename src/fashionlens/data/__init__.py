"""Readers: `read_dataset(path)` detects the format from the path and returns `list[Sample]`.

Formats: DeepFashion Category and Attribute Prediction (a root with `Anno/`, `Anno_coarse/` or `Anno_fine/`;
non-commercial research only), StreetStyle-27K (`streetstyle27k.manifest`), COCO detection JSON, a labels CSV
(`image,label[,split]`) and a folder per class.
"""

from __future__ import annotations

from pathlib import Path

from fashionlens.core.errors import FashionLensError
from fashionlens.core.records import Sample
from fashionlens.data.coco import read_coco
from fashionlens.data.deepfashion import ANNOTATION_DIRS, is_deepfashion, read_deepfashion
from fashionlens.data.folder import read_folder
from fashionlens.data.labels_csv import read_labels_csv
from fashionlens.data.streetstyle import MANIFEST_NAME, has_manifest_header, read_streetstyle

__all__ = [
    "detect_format",
    "read_dataset",
    "read_coco",
    "read_deepfashion",
    "read_folder",
    "read_labels_csv",
    "read_streetstyle",
]

READERS = {
    "deepfashion": read_deepfashion,
    "streetstyle": read_streetstyle,
    "coco": read_coco,
    "labels-csv": read_labels_csv,
    "folder": read_folder,
}
# Files a folder may hold, in the order they are looked for (Roboflow and CVAT names included).
KNOWN_FILES = (
    (MANIFEST_NAME, "streetstyle"),
    ("annotations.coco.json", "coco"),
    ("_annotations.coco.json", "coco"),
    ("annotations/instances_default.json", "coco"),
    ("labels.csv", "labels-csv"),
)


def detect_format(path: str | Path) -> tuple[str, Path]:
    """The format name and the file or folder its reader should be given."""
    path = Path(path)
    if not path.exists():
        raise FashionLensError(f"{path}: no such file or folder")
    if path.is_dir():
        if is_deepfashion(path) or path.name in ANNOTATION_DIRS:
            return "deepfashion", path
        for name, kind in KNOWN_FILES:
            if (path / name).is_file():
                return kind, path / name
        return "folder", path
    if path.name == MANIFEST_NAME or has_manifest_header(path):
        return "streetstyle", path
    if path.parent.name in ANNOTATION_DIRS:
        return "deepfashion", path.parent
    suffix = path.suffix.lower()
    if suffix == ".json":
        return "coco", path
    if suffix == ".csv":
        return "labels-csv", path
    raise FashionLensError(
        f"{path}: unknown dataset format (expected a DeepFashion folder, {MANIFEST_NAME}, "
        "COCO .json, labels .csv or a folder per class)"
    )


def read_dataset(path: str | Path) -> list[Sample]:
    """Read any supported dataset; the format is detected from the path."""
    kind, target = detect_format(path)
    return READERS[kind](target)
