"""What `fashionlens analyze` finds in street photos, against their annotated garments and hand labels.

    .venv/bin/python benchmarks/street_garments.py                 # the default models, street val photos
    .venv/bin/python benchmarks/street_garments.py --split train   # where colour rules may be tuned
    .venv/bin/python benchmarks/street_garments.py --detector runs/detector --classifier runs/clothing
    .venv/bin/python benchmarks/street_garments.py --data-path /data --results /tmp/street_garments.json

Runs `fashionlens analyze PHOTOS --json --no-log` on the split's photos of
<data-path>/street/annotations.coco.json and matches, per photo, the garments it reports to the
annotated ones one-to-one at IoU >= 0.5 (any region; best IoU first). Reported:
- garments: how many it reports, and the share that overlap no annotated garment (goal at most 0.20);
- found: the share of annotated garments matched (goal at least 0.75);
- colour: for matched garments with a hand label (attributes_<split>.csv, `unclear` rows left out), the
  share whose colour name is the label's (goal at least 0.75) and the confusion (label -> reported);
- pattern and sleeve likewise (pattern also by balanced accuracy; sleeve for annotated upper and
  full-body garments, a garment reported without a sleeve counted wrong);
- the pixel colour model on the annotated boxes themselves (the colour of product photos, apart from
  detection; benchmarks/attributes.py scores the heads on those boxes).
Results: benchmarks/results/street_garments[_SPLIT].json (--results).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

from recipe import RESULTS, add_data_path, run, shown, write_result

GOALS = {
    "unmatched_share": 0.20,
    "found_share": 0.75,
    "color_accuracy": 0.75,
    "pattern_balanced_accuracy": 0.60,
    "sleeve_accuracy": 0.85,
}
ATTRIBUTES = ("colour", "pattern", "sleeve")  # the hand labels' columns


def annotated(split: str, street: Path) -> tuple[dict[str, list[dict]], dict[str, Path]]:
    """Per photo file name, its annotations ({id, box, region}); and the photos' paths."""
    coco = json.loads((street / "annotations.coco.json").read_text())
    regions = {c["id"]: c["name"] for c in coco["categories"]}
    images = {i["id"]: i for i in coco["images"] if i["split"] == split}
    garments: dict[str, list[dict]] = {Path(i["file_name"]).name: [] for i in images.values()}
    for a in coco["annotations"]:
        if a["image_id"] in images:
            x, y, w, h = a["bbox"]
            garments[Path(images[a["image_id"]]["file_name"]).name].append(
                {"id": a["id"], "box": [x, y, x + w, y + h], "region": regions[a["category_id"]]}
            )
    return garments, {Path(i["file_name"]).name: street / i["file_name"] for i in images.values()}


def hand_labels(split: str, street: Path) -> dict[str, dict[int, str]]:
    """Per attribute, the annotation ids' labels (`unclear` and empty left out; sleeves of upper and
    full-body garments only)."""
    labels: dict[str, dict[int, str]] = {name: {} for name in ATTRIBUTES}
    with (street / f"attributes_{split}.csv").open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            for name in ATTRIBUTES:
                sleeve_less = name == "sleeve" and row["region"] not in ("upper", "full")
                if row[name] not in ("", "unclear") and not sleeve_less:
                    labels[name][int(row["annotation_id"])] = row[name]
    return labels


def reported(garment: dict, name: str) -> str:
    """The garment's colour, pattern or sleeve as `analyze --json` reports it ("none" when absent)."""
    if name == "colour":
        return garment["color"]
    attribute = (garment.get("attributes") or {}).get(name)
    return attribute["name"] if attribute else "none"


def matches(truth: list[list[float]], found: list[list[float]]) -> list[tuple[int, int]]:
    from fashionlens.core.records import Box
    from fashionlens.evaluation.recommendation import greedy_matches

    allowed = np.ones((len(truth), len(found)), dtype=bool)
    return greedy_matches([Box(*b) for b in truth], [Box(*b) for b in found], allowed)


def label_scores(pairs: list[tuple[str, str]]) -> dict:
    """Accuracy, balanced accuracy (mean recall over the labels present), the confusion (label -> {reported: count}) and the most common errors."""
    confusion: dict[str, Counter] = {}
    for label, reported in pairs:
        confusion.setdefault(label, Counter())[reported] += 1
    errors = Counter((label, reported) for label, reported in pairs if label != reported)
    recalls = [np.mean([b == label for a, b in pairs if a == label]) for label in confusion]
    return {
        "garments": len(pairs),
        "accuracy": sum(a == b for a, b in pairs) / len(pairs) if pairs else None,
        "balanced_accuracy": float(np.mean(recalls)) if recalls else None,
        "confusion": {label: dict(row.most_common()) for label, row in sorted(confusion.items())},
        "most_common_errors": [
            f"{label} read as {reported}: {count}" for (label, reported), count in errors.most_common(8)
        ],
    }


def annotated_box_colours(split: str, street: Path) -> dict:
    """The colour method on the annotated boxes (detection left out)."""
    from color_names import labelled_pixels
    from fashionlens.inference.colors import color_of_pixels

    pixels, labels = labelled_pixels(split, street)
    return label_scores([(label, color_of_pixels(p).name) for p, label in zip(pixels, labels)])


def score(analyses: list[dict], garments: dict[str, list[dict]], labels: dict[str, dict[int, str]]) -> dict:
    count = unmatched = truth_total = found = 0
    labelled_pairs: dict[str, list[tuple[str, str]]] = {name: [] for name in ATTRIBUTES}
    for analysis in analyses:
        truth = garments[Path(analysis["image"]).name]
        detected = analysis["garments"] if not analysis["whole_image"] else []
        pairs = matches([g["box"] for g in truth], [g["box"] for g in detected])
        count += len(detected)
        unmatched += len(detected) - len(pairs)
        truth_total += len(truth)
        found += len(pairs)
        for name, known in labels.items():
            labelled_pairs[name] += [
                (known[truth[t]["id"]], reported(detected[f], name)) for t, f in pairs if truth[t]["id"] in known
            ]
    return {
        "photos": len(analyses),
        "garments_reported": count,
        "unmatched": unmatched,
        "unmatched_share": unmatched / count if count else None,
        "annotated": truth_total,
        "found": found,
        "found_share": found / truth_total if truth_total else None,
        "color": label_scores(labelled_pairs["colour"]),
        "pattern": label_scores(labelled_pairs["pattern"]),
        "sleeve": label_scores(labelled_pairs["sleeve"]),
    }


def parse_options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=("train", "val"), default="val", help="street split (default val)")
    parser.add_argument("--detector", type=Path, help="detector run (default: the shipped one)")
    parser.add_argument("--classifier", type=Path, help="classifier run (default: the shipped one)")
    parser.add_argument(
        "--results",
        type=Path,
        help="results JSON (default: benchmarks/results/street_garments.json, "
        "street_garments_train.json for --split train)",
    )
    add_data_path(parser)
    return parser.parse_args()


def main() -> None:
    options = parse_options()
    street = options.data_path / "street"
    garments, paths = annotated(options.split, street)
    labels = hand_labels(options.split, street)
    args = ["analyze", *[str(p) for p in sorted(paths.values())], "--json", "--no-log"]
    args += [f"--{name}={getattr(options, name)}" for name in ("detector", "classifier") if getattr(options, name)]
    seconds, stdout = run(args)
    document = {
        "command": "fashionlens analyze <the street "
        + options.split
        + " photos> --json --no-log"
        + "".join(f" --{n} {shown(getattr(options, n))}" for n in ("detector", "classifier") if getattr(options, n)),
        "seconds": round(seconds, 1),
        "models": json.loads(stdout)["models"],
        "goals": GOALS,
        **score(json.loads(stdout)["images"], garments, labels),
        "pixel_color_model_on_annotated_boxes": annotated_box_colours(options.split, street),
    }
    suffix = "" if options.split == "val" else f"_{options.split}"
    results = options.results or RESULTS / f"street_garments{suffix}.json"
    write_result(results, document, options.data_path)
    print(
        f"{document['garments_reported']} garments reported, {document['unmatched_share']:.3f} overlap no annotated "
        f"garment (goal <= 0.20); {document['found_share']:.3f} of {document['annotated']} annotated found (goal >= 0.75)"
    )
    print(
        f"colour accuracy: detected {document['color']['accuracy']:.3f} of {document['color']['garments']} "
        f"(goal >= 0.75); the pixel colour model on the annotated boxes "
        f"{document['pixel_color_model_on_annotated_boxes']['accuracy']:.3f}"
    )
    pattern, sleeve = document["pattern"], document["sleeve"]
    print(
        f"pattern balanced accuracy {pattern['balanced_accuracy']:.3f} of {pattern['garments']} (goal >= 0.60); "
        f"sleeve accuracy {sleeve['accuracy']:.3f} of {sleeve['garments']} (goal >= 0.85)"
    )
    print("most common errors (detected): " + "; ".join(document["color"]["most_common_errors"]))
    print(f"results: {shown(results)}", file=sys.stderr)


if __name__ == "__main__":
    main()
