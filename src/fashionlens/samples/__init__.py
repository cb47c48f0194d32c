"""Small samples of real photos embedded in the package, so the demo and tests run on a fresh machine.

`clothing/`: labels.csv + 250 garment photos (CC0 1.0); `street/`: COCO boxes for 80 street photos
(Apache-2.0). Each folder has its LICENSE and ATTRIBUTION.md; scripts/make_sample.py rebuilds them.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fashionlens.core.errors import FashionLensError

SAMPLES = {"clothing": "labels.csv", "street": "annotations.coco.json"}


def sample_path(name: str) -> Path:
    """The folder of an embedded sample ("clothing" or "street"); read it with data.read_dataset()."""
    if name not in SAMPLES:
        raise FashionLensError(f"unknown sample {name!r} (choose from {', '.join(SAMPLES)})")
    return Path(str(files(__package__) / name))


def sample_file(name: str) -> Path:
    """The annotation file of an embedded sample: clothing/labels.csv or street/annotations.coco.json."""
    return sample_path(name) / SAMPLES[name]
