"""Turn two training runs into the shipped default models: slim float16 checkpoints and a model card.

`package_default_models()` loads each run's best checkpoint, keeps what inference needs in half
precision (default_models.slim_checkpoint), checks on the embedded sample photos that the float16
model predicts what the float32 one does, refuses a total above the size budget, and only then writes
classifier.pt, detector.pt and MODEL_CARD.md (each atomically). The card is generated from the runs'
config.json, history.json and evaluation metrics.json; scripts/package_default_models.py is its CLI.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import torch
from torchvision.ops import box_iou

from fashionlens.core.checkpoint import full_precision, load_checkpoint
from fashionlens.core.errors import FashionLensError
from fashionlens.core.files import write_bytes, write_text
from fashionlens.inference.default_models import (
    CLASSIFIER_FILE,
    DETECTOR_FILE,
    MODEL_CARD_FILE,
    WEIGHTS_DIR,
    slim_checkpoint,
)
from fashionlens.release.model_card import PackedModel, model_card
from fashionlens.train.history import read_history

MAX_TOTAL_BYTES = 80_000_000  # the budget for both files: each replacement grows the repository
CHECK_PHOTOS = 8  # embedded sample photos each model is checked on


def serialize(checkpoint: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    return buffer.getvalue()


def reloaded(data: bytes) -> dict[str, Any]:
    """The checkpoint as load_checkpoint() reads the file back (float16 weights turned into float32)."""
    checkpoint = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    checkpoint["model"] = full_precision(checkpoint["model"])
    return checkpoint


def evaluations(run_dir: Path) -> dict[str, dict[str, Any]]:
    """Every `fashionlens evaluate` output of the run (eval*/metrics.json), by folder name."""
    found = {}
    for path in sorted(run_dir.glob("eval*/metrics.json")):
        found[path.parent.name] = json.loads(path.read_text(encoding="utf-8"))
    return found


def pack(run_dir: str | Path, kind: str, file_name: str) -> PackedModel:
    """Load a run's best checkpoint (else last) and make its slim float16 copy."""
    run_dir = Path(run_dir)
    original = load_checkpoint(run_dir)
    if original["kind"] != kind:
        raise FashionLensError(f"{original['path']}: a {original['kind']} run, expected a {kind} run")
    config_path = run_dir / "config.json"
    if not config_path.is_file():
        raise FashionLensError(f"{run_dir}: no config.json (not a run directory written by `fashionlens train`)")
    data = serialize(slim_checkpoint(original))
    return PackedModel(
        kind,
        run_dir,
        original,
        reloaded(data),
        data,
        file_name,
        config=json.loads(config_path.read_text(encoding="utf-8")),
        history=read_history(run_dir),
        evaluations=evaluations(run_dir),
    )


def classifier_check(original: dict[str, Any], packed: dict[str, Any], samples: list) -> dict[str, Any]:
    """Both classifiers on the same photos: top-1 agreement and the largest probability difference."""
    from fashionlens.models.classifier import classifier_from_checkpoint, predict_classifier

    _, before = predict_classifier(classifier_from_checkpoint(original), original, samples)
    _, after = predict_classifier(classifier_from_checkpoint(packed), packed, samples)
    return {
        "photos": len(before),
        "top1_agreement": float((before.argmax(1) == after.argmax(1)).mean()),
        "max_probability_difference": float(abs(before - after).max()),
    }


def detector_check(original: dict[str, Any], packed: dict[str, Any], samples: list) -> dict[str, Any]:
    """Both detectors at the stored threshold: detections kept, and for each of the float32 model's the
    IoU of the best float16 detection of the same region (the lowest is reported)."""
    from fashionlens.models.detector import detector_from_checkpoint, predict_detections

    threshold = float(original.get("score_threshold", 0.5))
    before = predict_detections(detector_from_checkpoint(original), original, samples, 2, min_score=threshold)
    after = predict_detections(detector_from_checkpoint(packed), packed, samples, 2, min_score=threshold)
    lowest = 1.0
    for found, again in zip(before, after):
        for detection in found:
            same = [d.box.as_list() for d in again if d.region == detection.region]
            iou = float(box_iou(torch.tensor([detection.box.as_list()]), torch.tensor(same)).max()) if same else 0.0
            lowest = min(lowest, iou)
    return {
        "photos": len(before),
        "score_threshold": threshold,
        "detections_float32": sum(map(len, before)),
        "detections_float16": sum(map(len, after)),
        "lowest_matching_iou": round(lowest, 4),
    }


def sample_photos(name: str, count: int) -> list:
    """The first `count` photos of an embedded sample's val split (else of all of it)."""
    from fashionlens.data import read_dataset
    from fashionlens.samples import sample_file

    samples = read_dataset(sample_file(name))
    val = [sample for sample in samples if sample.split == "val"] or samples
    return val[:count]


def check_size(models: list[PackedModel], max_bytes: int, kept_bytes: int = 0) -> None:
    total = sum(len(model.data) for model in models) + kept_bytes
    if total > max_bytes:
        sizes = ", ".join(
            [f"{m.file_name} {len(m.data) / 1e6:.1f} MB" for m in models]
            + ([f"kept {DETECTOR_FILE} {kept_bytes / 1e6:.1f} MB"] if kept_bytes else [])
        )
        raise FashionLensError(
            f"the default models would take {total / 1e6:.1f} MB ({sizes}), above the "
            f"{max_bytes / 1e6:.0f} MB budget: choose smaller architectures"
        )


def kept_detector(out_dir: Path) -> tuple[int, str]:
    """(file size, model card section) of the detector packaged earlier in `out_dir`."""
    card_path = out_dir / MODEL_CARD_FILE
    card = card_path.read_text(encoding="utf-8") if card_path.is_file() else ""
    start = card.find("\n## Detector")
    if not (out_dir / DETECTOR_FILE).is_file() or start < 0:
        raise FashionLensError(
            f"{out_dir}: no packaged detector to keep ({DETECTOR_FILE} and its section of "
            f"{MODEL_CARD_FILE}); give a detector run instead"
        )
    return (out_dir / DETECTOR_FILE).stat().st_size, card[start + 1 :]


def package_default_models(
    classifier_run: str | Path,
    detector_run: str | Path | None,
    out_dir: str | Path = WEIGHTS_DIR,
    project_root: str | Path | None = None,
    max_bytes: int = MAX_TOTAL_BYTES,
    check_photos: int = CHECK_PHOTOS,
    keep_detector: bool = False,
) -> list[Path]:
    """Write classifier.pt, detector.pt (when a detector run is given) and MODEL_CARD.md into `out_dir`.

    `keep_detector`: replace the classifier only; the detector packaged earlier stays, with its card
    section as generated then. Everything is checked before the first file is written; `project_root`
    makes the card's paths relative to the project (default: the parent of `out_dir`'s package).
    """
    out_dir = Path(out_dir)
    if keep_detector and detector_run is not None:
        raise FashionLensError("give a detector run or keep the packaged detector, not both")
    kept_bytes, kept_section = kept_detector(out_dir) if keep_detector else (0, "")
    models = [pack(classifier_run, "classifier", CLASSIFIER_FILE)]
    if detector_run is not None:
        models.append(pack(detector_run, "detector", DETECTOR_FILE))
    check_size(models, max_bytes, kept_bytes)
    for model in models:
        if model.kind == "classifier":
            model.check = classifier_check(model.original, model.packed, sample_photos("clothing", check_photos))
        else:
            model.check = detector_check(model.original, model.packed, sample_photos("street", check_photos))
    card = model_card(models, Path(project_root) if project_root else out_dir.resolve().parents[2])
    card = card + "\n" + kept_section if kept_section else card
    written = []
    for model in models:
        write_bytes(out_dir / model.file_name, model.data)
        written.append(out_dir / model.file_name)
    if detector_run is None and not keep_detector:  # an earlier packaging's detector would not match the card
        (out_dir / DETECTOR_FILE).unlink(missing_ok=True)
    write_text(out_dir / MODEL_CARD_FILE, card)
    return written + [out_dir / MODEL_CARD_FILE]
