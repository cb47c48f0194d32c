"""Compute the "complete the look" statistics (src/fashionlens/catalog/looks.json) from street looks.

    python scripts/make_look_statistics.py [--data ../shared/data]

Only the training photos of ../shared/data/street count, so the val looks stay unseen for the
fill-in-the-blank benchmark. Deterministic: a rerun writes the same file.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fashionlens.catalog.looks import LOOKS_FILE, look_statistics, write_looks
from fashionlens.core.images import load_image
from fashionlens.core.records import Box, Sample
from fashionlens.data import read_dataset
from fashionlens.inference.colors import dominant_color

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=LOOKS_FILE)
    args = parser.parse_args()
    annotations = args.data / "street" / "annotations.coco.json"
    samples = [s for s in read_dataset(annotations) if s.split == "train"]
    loaded: dict[Path, object] = {}

    def color_of(sample: Sample, box: Box) -> str:
        if sample.image not in loaded:
            loaded.clear()  # one photo at a time: its garments come together
            loaded[sample.image] = load_image(sample.image)
        return dominant_color(loaded[sample.image], box).name

    stats = look_statistics(
        samples, color_of, source="street/annotations.coco.json, train split (Clothing Co-Parsing, Apache-2.0)"
    )
    write_looks(stats, args.out)
    print(f"{args.out}: {stats.looks} looks, {len(stats.categories)} categories")


if __name__ == "__main__":
    main()
