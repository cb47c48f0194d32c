"""What a detector costs a customer: the time to analyse one photo with each detector run given.

    .venv/bin/python benchmarks/detector_speed.py runs/bench/detector-street-resnet18-e
    .venv/bin/python benchmarks/detector_speed.py RUN --data-path /data   # the photos of /data/street/images

Each photo goes through the Analyzer (torch backend, fast decode off, the shipped classifier) one at a
time, as a customer's upload does, with the shipped detector and with each run given; the runs take turns
photo by photo so that all see the same machine. Reports p50 / p99 ms per photo beside each run's street
val mAP@0.5 (from its history) and writes benchmarks/results/detector_speed.json (--results). The speed goal of the
whole analysis is p50 <= 100 ms (docs/benchmarks.md, Speed).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from fashionlens.inference.analyzer import Analyzer
from fashionlens.inference.default_models import resolve_runs
from recipe import RESULTS, add_data_path, shown, write_result


def best_map50(run: Path) -> float | None:
    """The best validation mAP@0.5 in a run's history (None for the shipped weights, which have none)."""
    history = run / "history.json"
    if not history.is_file():
        return None
    return max((epoch.get("val_map50") or 0.0 for epoch in json.loads(history.read_text())), default=None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", type=Path, nargs="+", help="detector run directories")
    parser.add_argument("--photos", type=Path, help="folder of photos (default: <data-path>/street/images)")
    parser.add_argument("--limit", type=int, default=40, help="photos timed (default 40)")
    parser.add_argument("--results", type=Path, default=RESULTS / "detector_speed.json")
    add_data_path(parser)
    options = parser.parse_args()
    options.photos = options.photos or options.data_path / "street" / "images"
    shipped, classifier = resolve_runs(None, None)
    detectors = [Path(shipped), *options.runs]
    analyzers = [Analyzer.from_runs(run, classifier) for run in detectors]
    photos = sorted(p for p in options.photos.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    photos = photos[: options.limit]
    for analyzer in analyzers:  # warm-up: first calls allocate
        analyzer.analyze_paths(photos[:2])
    times: list[list[float]] = [[] for _ in analyzers]
    for photo in photos:
        for analyzer, spent in zip(analyzers, times):
            start = time.perf_counter()
            analyzer.analyze_paths([photo])
            spent.append((time.perf_counter() - start) * 1000)
    result = {
        "photos": len(photos),
        "threads": torch.get_num_threads(),
        "classifier": shown(classifier),
        "detectors": [
            {
                "run": shown(run),
                "street_val_map50": best_map50(run),
                "p50_ms": round(float(np.percentile(spent, 50)), 1),
                "p99_ms": round(float(np.percentile(spent, 99)), 1),
            }
            for run, spent in zip(detectors, times)
        ],
    }
    print(json.dumps(write_result(options.results, result, options.data_path), indent=2))


if __name__ == "__main__":
    main()
