"""Which garments inside a full-body garment's box are parts of it: the candidates of the Analyzer's rule.

    .venv/bin/python benchmarks/part_rule.py                 # street train photos: where the rule is chosen
    .venv/bin/python benchmarks/part_rule.py --split val     # reports only

The street photos are analysed in this process with the default models, the rule
(analyzer.without_full_garments_parts) switched off, and the rule is then applied with each candidate's
options: a garment (of the regions named) whose box lies at least `share` inside a better-scored
full-body garment's box goes, with or without the condition that the two have the same colour name.
Each is scored as benchmarks/street_garments.py scores `analyze`: garments reported, those overlapping no
annotated garment, annotated garments found, and the F1 of the matched and found shares.
Results: benchmarks/results/part_rule[_val].json.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from fashionlens.inference import analyzer as analyzer_module
from fashionlens.inference.analyzer import Analysis, without_full_garments_parts
from fashionlens.inference.default_models import resolve_runs
from recipe import RESULTS, add_data_path, shown, write_result
from street_garments import annotated, hand_labels, score

SHARES = (0.8, 0.9, 0.95)
REGIONS = (("upper",), ("upper", "lower"))


def analyses_without_the_rule(paths: list[Path]) -> list[Analysis]:
    """The Analyzer's results for `paths`, the part rule left out (every other rule applied)."""
    analyzer_module.without_full_garments_parts = lambda garments: garments  # type: ignore[assignment]
    try:
        analyzer = analyzer_module.Analyzer.from_runs(*resolve_runs(None, None))
        analyses: list[Analysis] = []
        for start in range(0, len(paths), analyzer.batch_size):
            analyses += analyzer.analyze_paths(paths[start : start + analyzer.batch_size])
            print(f"analysed {len(analyses)} / {len(paths)} photos", file=sys.stderr, end="\r")
    finally:
        analyzer_module.without_full_garments_parts = without_full_garments_parts
    return analyses


def with_rule(analyses: list[Analysis], **rule: Any) -> list[dict]:
    """`analyze --json`'s images, the garments that `rule` (the part rule's options) calls parts left out."""
    return [replace(a, garments=without_full_garments_parts(a.garments, **rule)).to_json() for a in analyses]


def counts(images: list[dict], garments: dict, labels: dict) -> dict:
    """Garments reported, matching none, annotated ones found, and the F1 of the two shares (the share of
    reported garments that match one, the share of annotated ones found): what the rule trades."""
    result = score(images, garments, labels)
    matched, found = 1 - result["unmatched_share"], result["found_share"]
    keys = ("garments_reported", "unmatched", "found", "annotated")
    return {**{key: result[key] for key in keys}, "f1": round(2 * matched * found / (matched + found), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=("train", "val"), default="train", help="street split (default train)")
    parser.add_argument("--results", type=Path, help="results JSON (default: benchmarks/results/part_rule[_val].json)")
    add_data_path(parser)
    options = parser.parse_args()
    street = options.data_path / "street"
    garments, paths = annotated(options.split, street)
    labels = hand_labels(options.split, street)
    analyses = analyses_without_the_rule(sorted(paths.values()))
    rows = [{"rule": "none", **counts([a.to_json() for a in analyses], garments, labels)}]
    for same_colour in (True, False):
        for share in SHARES:
            for regions in REGIONS:
                rule = {"share": share, "same_colour": same_colour, "regions": regions}
                rows.append({"rule": rule, **counts(with_rule(analyses, **rule), garments, labels)})
    suffix = "" if options.split == "train" else f"_{options.split}"
    results = options.results or RESULTS / f"part_rule{suffix}.json"
    write_result(results, {"split": options.split, "candidates": rows}, options.data_path)
    for row in rows:
        print(json.dumps(row))
    print(f"results: {shown(results)}", file=sys.stderr)


if __name__ == "__main__":
    main()
