"""Package two training runs as fashionlens' default models (src/fashionlens/weights/).

    .venv/bin/python scripts/package_default_models.py runs/bench/clothing-top10 runs/bench/detector-street
    .venv/bin/python scripts/package_default_models.py runs/bench/clothing-top10 --keep-detector

Each run's best checkpoint becomes a slim inference checkpoint in half precision (weights, class
names, preprocessing, architecture, mode, score threshold; no optimiser state): classifier.pt and
detector.pt, with MODEL_CARD.md generated from the runs' config.json, history and evaluation
metrics.json. Before anything is written, the float16 models are checked against the originals on the
embedded sample photos, the training data's licence is checked (CC0 or Apache-2.0 only) and the two
files must fit in 80 MB together. Every file is written atomically.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("classifier_run", type=Path, help="run directory of `fashionlens train classifier`")
    parser.add_argument(
        "detector_run",
        type=Path,
        nargs="?",
        default=None,
        help="run directory of `fashionlens train detector` (left out: ship no detector)",
    )
    parser.add_argument(
        "--keep-detector",
        action="store_true",
        help="replace the classifier only: keep the packaged detector and its model card section",
    )
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: src/fashionlens/weights)")
    options = parser.parse_args()

    from fashionlens.core.errors import FashionLensError
    from fashionlens.inference.default_models import WEIGHTS_DIR
    from fashionlens.release.packaging import package_default_models

    try:
        written = package_default_models(
            options.classifier_run,
            options.detector_run,
            options.out or WEIGHTS_DIR,
            project_root=ROOT,
            keep_detector=options.keep_detector,
        )
    except FashionLensError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    for path in written:
        size = path.stat().st_size
        print(f"wrote {path} ({size / 1e6:.1f} MB)" if size > 100_000 else f"wrote {path} ({size / 1e3:.1f} kB)")


if __name__ == "__main__":
    main()
