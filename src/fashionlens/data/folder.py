"""Folder-per-class layout: `folder/CLASS/*.jpg`, or `folder/SPLIT/CLASS/*.jpg` with splits train/val/test.

torchvision's ImageFolder conventions (find_classes, make_dataset, IMG_EXTENSIONS) decide what a class and
an image are, so a folder reads here exactly as it would in torchvision.
"""

from __future__ import annotations

from pathlib import Path

from fashionlens.core.errors import FashionLensError
from fashionlens.core.records import Garment, Sample
from fashionlens.core.taxonomy import region_of

SOURCE = "folder"
SPLITS = ("train", "val", "test")


def _subfolders(path: Path) -> list[str]:
    return sorted(entry.name for entry in path.iterdir() if entry.is_dir() and not entry.name.startswith("."))


def is_split_layout(path: Path) -> bool:
    """True when every subfolder is a split name (train, val, test)."""
    names = _subfolders(path)
    return bool(names) and all(name in SPLITS for name in names)


def read_folder(path: str | Path) -> list[Sample]:
    path = Path(path)
    if not path.is_dir():
        raise FashionLensError(f"{path}: not a folder")
    if is_split_layout(path):
        return [s for split in _subfolders(path) for s in _read_classes(path / split, split)]
    return _read_classes(path, None)


def _read_classes(path: Path, split: str | None) -> list[Sample]:
    from torchvision.datasets.folder import IMG_EXTENSIONS, make_dataset  # torchvision is slow to import

    classes = _subfolders(path)
    if not classes:
        raise FashionLensError(f"{path}: no class folders (expected {path}/CLASS/image.jpg)")
    class_to_idx = {name: index for index, name in enumerate(classes)}
    items = make_dataset(str(path), class_to_idx, extensions=IMG_EXTENSIONS, allow_empty=True)
    return [
        Sample(
            image=Path(file),
            split=split,
            source=SOURCE,
            garments=[Garment(region=region_of(classes[index]), category=classes[index])],
        )
        for file, index in items
    ]
