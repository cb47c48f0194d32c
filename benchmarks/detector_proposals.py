"""How many region proposals the shipped detector needs at test time: mAP and time per photo by count.

    .venv/bin/python benchmarks/detector_proposals.py                  # 250 street train photos: choose
    .venv/bin/python benchmarks/detector_proposals.py --split val --counts 1000,300 --limit 0   # report
    .venv/bin/python benchmarks/detector_proposals.py --counts 150 --nms 0.5,0.6,0.7 \
        --results benchmarks/results/detector_nms.json                  # the box NMS threshold

Faster R-CNN pools and classifies every proposal the RPN keeps (torchvision's test default: 1000 after
NMS, from 1000 per pyramid level before it); RoIAlign and the box head over them are most of the
detector's time on a CPU, while a street photo holds two or three garments. Each count sets both of the
RPN's test-time limits (rpn_pre_nms_top_n_test and rpn_post_nms_top_n_test) on the shipped detector,
which then runs one photo per call in PyTorch, as the Analyzer runs it. The count is chosen on the train
split (the detector was trained on those photos, so their mAP is high, but what fewer proposals lose
shows there too); val only reports. Results: benchmarks/results/detector_proposals[_val].json.
`--nms` scores other IoU thresholds of the box head's per-region NMS (torchvision's 0.5): a shirt under
an open jacket is a second upper-body box that overlaps the jacket's.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from tqdm import tqdm

from fashionlens.core.checkpoint import load_checkpoint
from fashionlens.core.model_meta import ModelMeta
from fashionlens.evaluation.detection import boxed_samples, evaluate_detector
from fashionlens.evaluation.runner import read_split
from fashionlens.inference.default_models import default_detector
from fashionlens.models.detector import detector_from_checkpoint, predict_detections
from recipe import RESULTS, add_data_path, street, write_result


def with_proposals(model: torch.nn.Module, count: int) -> torch.nn.Module:
    # torchvision's RegionProposalNetwork keeps its limits in these dicts and has no setter for them
    model.rpn._pre_nms_top_n["testing"] = count
    model.rpn._post_nms_top_n["testing"] = count
    return model


def score(checkpoint: dict, samples: list, count: int, nms: float) -> dict:
    model = with_proposals(detector_from_checkpoint(checkpoint), count)
    model.roi_heads.nms_thresh = nms
    seconds, detections = [], []
    for sample in tqdm(samples, desc=f"{count} proposals, NMS {nms}", leave=False):
        start = time.perf_counter()
        detections += predict_detections(model, checkpoint, [sample], batch_size=1)
        seconds.append(time.perf_counter() - start)
    regions = list(ModelMeta.from_checkpoint(checkpoint).class_names)
    metrics, _ = evaluate_detector(samples, detections, regions)
    return {
        "proposals": count,
        "nms": nms,
        "map": metrics["map"],
        "map50": metrics["map50"],
        "per_class_ap50": metrics.get("per_class_ap50"),
        "median_ms_per_photo": round(1000 * float(np.median(seconds)), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", default="train", help="train (where the count is chosen) or val")
    parser.add_argument("--counts", default="1000,300,150,100", help="proposal counts, comma-separated")
    parser.add_argument("--nms", default="0.5", help="IoU thresholds of the box NMS, comma-separated")
    parser.add_argument("--limit", type=int, default=250, help="the split's first N boxed photos (0: all)")
    parser.add_argument("--results", help="results JSON (default: benchmarks/results/detector_proposals[_val].json)")
    add_data_path(parser)
    options = parser.parse_args()
    torch.set_grad_enabled(False)
    checkpoint = load_checkpoint(default_detector())
    samples, _ = boxed_samples(read_split(street(options.data_path), options.split))
    samples = samples[: options.limit] if options.limit else samples
    rows = [
        score(checkpoint, samples, int(count), float(nms))
        for count in options.counts.split(",")
        for nms in options.nms.split(",")
    ]
    for row in rows:
        print(row)
    suffix = "" if options.split == "train" else f"_{options.split}"
    path = options.results or RESULTS / f"detector_proposals{suffix}.json"
    write_result(path, {"split": options.split, "photos": len(samples), "rows": rows}, options.data_path)


if __name__ == "__main__":
    main()
