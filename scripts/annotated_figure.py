"""The README's figure of annotated photos: embedded street photos analysed by the shipped models, drawn
as `fashionlens analyze --annotate` draws them, side by side in docs/figures/annotated_street.png.

    .venv/bin/python scripts/annotated_figure.py [--photos 0003.jpg 0013.jpg 0060.jpg] [--out PATH]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image

from fashionlens.cli.options import ModelChoice, load_analyzer
from fashionlens.core.files import atomic_write
from fashionlens.inference.annotate import annotated
from fashionlens.samples import sample_file

ROOT = Path(__file__).resolve().parents[1]
GAP = 8  # white pixels between the photos


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", nargs="+", default=["0003.jpg", "0013.jpg", "0060.jpg"])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "figures" / "annotated_street.png")
    args = parser.parse_args()
    folder = sample_file("street").parent / "images"
    analyzer = load_analyzer(ModelChoice())
    images, sizes = analyzer.load_images([folder / name for name in args.photos])
    analyses = analyzer.analyze(images, args.photos, sizes)
    drawn = [annotated(image, analysis) for image, analysis in zip(images, analyses)]
    height = max(picture.height for picture in drawn)
    figure = Image.new("RGB", (sum(p.width for p in drawn) + GAP * (len(drawn) - 1), height), "white")
    x = 0
    for picture in drawn:
        figure.paste(picture, (x, 0))
        x += picture.width + GAP
    atomic_write(args.out, lambda temporary: figure.save(temporary, format="PNG"))
    print(args.out)


if __name__ == "__main__":
    main()
