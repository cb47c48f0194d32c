"""Audit a dataset before training: counts, balance, splits, and every problem that would corrupt training.

Images are checked from their headers only (images.image_size), so thousands of photos take seconds.
Boxes are checked against the real image size when it can be read, else against the annotated one.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

from rich.table import Table
from tqdm import tqdm

from fashionlens.core import terminal
from fashionlens.core.errors import ImageError
from fashionlens.core.images import MAX_PIXELS, image_size
from fashionlens.core.records import REGIONS, Sample

SIZE_MISMATCH_LIMIT = 1  # pixels of tolerance between annotated and real image size (rounding)


def audit(samples: list[Sample], *, check_images: bool = True, progress: bool = True) -> dict:
    """A JSON-ready summary of `samples` (see `fashionlens audit --help` for the keys)."""
    garments = [g for s in samples for g in s.garments]
    classes = _sorted_counts(Counter(g.category for g in garments if g.category))
    regions = Counter(g.region for g in garments if g.region)
    splits = _sorted_counts(Counter(s.split for s in samples if s.split))
    problems: list[str] = []
    missing, unreadable, box_problems = (
        _check_images(samples, problems, progress) if check_images else (0, 0, _check_boxes(samples, problems))
    )
    unlabelled = sum(1 for s in samples if not any(g.category for g in s.garments))
    if unlabelled:
        problems.append(f"{unlabelled} samples have no label")
    total = sum(classes.values())
    majority = next(iter(classes), None)
    return {
        "sources": sorted({s.source for s in samples}),
        "samples": len(samples),
        "garments": len(garments),
        "classes": classes,
        "class_shares": {name: round(count / total, 4) for name, count in classes.items()},
        "class_splits": _class_splits(samples),
        "regions": {region: regions.get(region, 0) for region in REGIONS},
        "no_region": sum(1 for g in garments if not g.region),
        "splits": splits,
        "unsplit": sum(1 for s in samples if not s.split),
        "majority_class": majority,
        "majority_share": round(classes[majority] / total, 4) if majority else None,
        "imbalance_ratio": round(max(classes.values()) / min(classes.values()), 2) if classes else None,
        "images_checked": check_images,
        "missing_images": missing,
        "unreadable_images": unreadable,
        "box_problems": box_problems,
        "unlabelled": unlabelled,
        "problems": problems,
    }


def _sorted_counts(counter: Counter) -> dict[str, int]:
    """Largest first, then by name, so tables and JSON read the same on every run."""
    return dict(sorted(counter.items(), key=lambda item: (-item[1], str(item[0]))))


def _class_splits(samples: list[Sample]) -> dict[str, dict[str, int]]:
    table: dict[str, Counter] = {}
    for sample in samples:
        for garment in sample.garments:
            if garment.category:
                table.setdefault(garment.category, Counter())[sample.split or "-"] += 1
    return {name: dict(sorted(counts.items())) for name, counts in table.items()}


def _check_images(samples: list[Sample], problems: list[str], progress: bool) -> tuple[int, int, int]:
    counts: Counter[str] = Counter()
    # a context manager: an error clears the bar before its one line is printed
    with tqdm(samples, desc="checking images", unit="img", file=sys.stderr, disable=not progress, leave=False) as bar:
        for sample in bar:
            size = _image_size(sample, problems, counts)
            if size is not None and sample.width is not None and sample.height is not None:
                if max(abs(size[0] - sample.width), abs(size[1] - sample.height)) > SIZE_MISMATCH_LIMIT:
                    problems.append(
                        f"{sample.image}: annotated size {sample.width}x{sample.height} "
                        f"but the image is {size[0]}x{size[1]}"
                    )
            counts["box_problems"] += _sample_box_problems(sample, size, problems)
    return counts["missing"], counts["unreadable"], counts["box_problems"]


def _image_size(sample: Sample, problems: list[str], counts: Counter) -> tuple[int, int] | None:
    """The photo's size from its header; None, with the problem noted, when it is missing or unusable."""
    if not Path(sample.image).is_file():
        counts["missing"] += 1
        problems.append(f"{sample.image}: image not found")
        return None
    try:
        size = image_size(sample.image)
        if size[0] * size[1] > MAX_PIXELS:
            raise ImageError(sample.image, f"image too large ({size[0]}x{size[1]} pixels, limit {MAX_PIXELS})")
        return size
    except ImageError as error:
        counts["unreadable"] += 1
        problems.append(str(error))
        return None


def _check_boxes(samples: list[Sample], problems: list[str]) -> int:
    return sum(_sample_box_problems(sample, None, problems) for sample in samples)


def _sample_box_problems(sample: Sample, size: tuple[int, int] | None, problems: list[str]) -> int:
    width, height = size if size is not None else (sample.width, sample.height)
    found = 0
    for garment in sample.garments:
        if garment.box is None:
            continue
        problem = garment.box.problem(width, height)
        if problem:
            found += 1
            box = ",".join(f"{v:g}" for v in garment.box.as_list())
            problems.append(f"{sample.image}: {garment.category or 'garment'} box [{box}]: {problem}")
    return found


def format_audit(report: dict, title: str = "", max_problems: int = 10) -> str:
    """The audit as readable text: summary lines, one row per class, then the problems."""
    splits = list(report["splits"]) + (["-"] if report["unsplit"] else [])
    problems = report["problems"]
    checked = "" if report["images_checked"] else " (images not checked)"
    listed = [f"  {problem}" for problem in problems[:max_problems]]
    if len(problems) > max_problems:
        listed.append(f"  ... and {len(problems) - max_problems} more (--json lists them all)")
    return terminal.render(
        *([title] if title else []),
        terminal.facts(_summary(report)),
        "",
        _class_table(report, splits),
        "",
        terminal.facts([("problems", f"{len(problems)}{checked}" + (":" if problems else ""))]),
        *listed,
    )


def _summary(report: dict) -> list[tuple[str, str]]:
    splits = ", ".join(f"{k} {v}" for k, v in report["splits"].items()) or "none"
    if report["unsplit"] and report["splits"]:
        splits += f", no split {report['unsplit']}"
    regions = ", ".join(f"{k} {v}" for k, v in report["regions"].items()) + f", no region {report['no_region']}"
    rows = [
        ("samples", f"{report['samples']}   ({report['garments']} labelled garments)"),
        ("splits", splits),
        ("regions", regions),
    ]
    if report["majority_class"] is not None:
        classes, majority = report["classes"], report["majority_class"]
        smallest = list(classes)[-1]
        rows += [
            ("majority class", f"{majority} {report['majority_share']:.1%}  (accuracy of always guessing it)"),
            (
                "imbalance ratio",
                f"{report['imbalance_ratio']:g}  ({majority} {classes[majority]} / {smallest} {classes[smallest]})",
            ),
        ]
    return rows


def _class_table(report: dict, splits: list[str]) -> Table:
    rows = [
        [name, count, f"{report['class_shares'][name]:.1%}"]
        + [report["class_splits"].get(name, {}).get(split, 0) for split in splits]
        for name, count in report["classes"].items()
    ]
    return terminal.table(["class", "count", "share", *splits], rows)
