"""MODEL_CARD.md of the shipped default models, generated from the runs (never edited by hand).

For each model: architecture and input, the data it was trained on with that data's licence (read
from the LICENSE file next to it: the default models may only learn from CC0 or Apache-2.0 photos),
the exact training command, the training history, the evaluation metrics (`fashionlens evaluate`
outputs in the run directory) and the float16 check.
"""

from __future__ import annotations

import json
import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fashionlens.core.errors import FashionLensError

ALLOWED_LICENCES = (("CC0 1.0 Universal", "CC0-1.0"), ("Apache License", "Apache-2.0"))
# Credit for the two real sources in ../shared/data (by folder name); see that folder's README.md.
SOURCES = {
    "clothing": "Clothing dataset by Alexey Grigorev (https://github.com/alexeygrigorev/clothing-dataset)",
    "street": "Clothing Co-Parsing, Yang et al., CVPR 2014 (https://github.com/bearpaw/clothing-co-parsing)",
}
CLASSIFIER_METRICS = ("accuracy", "balanced_accuracy", "top3_accuracy", "macro_f1", "majority_baseline")
DETECTOR_METRICS = ("map", "map50")


@dataclass
class PackedModel:
    """One run made into a shipped model: its file's bytes and what the card says about it."""

    kind: str
    run_dir: Path
    original: dict[str, Any]
    packed: dict[str, Any]  # as load_checkpoint will return it: float16 weights back in float32
    data: bytes
    file_name: str
    check: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    evaluations: dict[str, dict[str, Any]] = field(default_factory=dict)


def data_licence(data: str) -> str:
    """The SPDX id of the training data's licence, from the LICENSE file in the data's folder."""
    path = Path(data)
    licence = (path if path.is_dir() else path.parent) / "LICENSE"
    if not licence.is_file():
        raise FashionLensError(
            f"{data}: no LICENSE file next to the training data; the default models may only "
            "be trained on CC0 or Apache-2.0 photos"
        )
    text = licence.read_text(encoding="utf-8", errors="replace")[:4000]
    for marker, name in ALLOWED_LICENCES:
        if marker in text:
            return name
    raise FashionLensError(
        f"{licence}: neither CC0 1.0 nor Apache-2.0; the default models may only be trained on such photos"
    )


def relative(text: str, root: Path) -> str:
    """Absolute paths of this machine made relative to the project root (the card is committed)."""
    return text.replace(f"{root.resolve()}/", "").replace(f"{root.resolve().parent}/", "../")


def recorded_command(run_dir: Path, root: Path) -> str | None:
    """The command a benchmark script recorded for this run (benchmarks/results/*.json), verbatim."""
    wanted = {str(run_dir.resolve()), os.path.relpath(run_dir.resolve(), root.resolve())}
    for path in sorted((root / "benchmarks" / "results").glob("*.json")):
        stack = [json.loads(path.read_text(encoding="utf-8"))]
        while stack:
            node = stack.pop()
            if isinstance(node, dict):
                command = node.get("command")
                if isinstance(command, str) and command.startswith("fashionlens train"):
                    words = shlex.split(command)
                    if "--out" in words and words[words.index("--out") + 1] in wanted:
                        return command
                stack += list(node.values())
            elif isinstance(node, list):
                stack += node
    return None


def data_line(what: str, data: str, root: Path) -> str:
    """A bullet naming training data, its licence (checked: CC0 or Apache-2.0) and source."""
    folder = Path(data).parent.name if Path(data).suffix else Path(data).name
    return f"- {what}: `{relative(data, root)}`, licence **{data_licence(data)}**" + (
        f"; source: {SOURCES[folder]}" if folder in SOURCES else ""
    )


def training_lines(model: PackedModel, root: Path) -> list[str]:
    settings = model.config.get("settings", {})
    data = settings.get("data", "")
    command = recorded_command(model.run_dir, root) or settings.get("command") or "not recorded"
    lines = [data_line("data", data, root)]
    lines += [
        data_line("more training photos (`--extra-data`, train split)", extra, root)
        for extra in settings.get("extra_data") or []
    ]
    lines += [
        f"- training command (from the project root): `{relative(command, root)}`",
        f"- initial weights: {initial_weights(settings)}",
    ]
    if settings.get("backbone_from"):
        backbone = Path(settings["backbone_from"])
        config = backbone / "config.json"
        backbone_settings = json.loads(config.read_text())["settings"] if config.is_file() else {}
        backbone_data = backbone_settings.get("data")
        lines.append(
            f"- backbone started from the classifier run `{relative(str(backbone), root)}`"
            + (
                f" (data `{relative(backbone_data, root)}`, licence {data_licence(backbone_data)}; its "
                f"initial weights: {initial_weights(backbone_settings)})"
                if backbone_data
                else ""
            )
        )
    return lines


def initial_weights(settings: dict[str, Any]) -> str:
    from fashionlens.models.efficientnet_lite import WEIGHTS_LICENCE

    if settings.get("weights"):
        return f"`{settings['weights']}`"
    if settings.get("backbone_from"):
        return "the backbone's (below); the rest from scratch"
    if settings.get("pretrained") == "imagenet":
        return f"`--pretrained imagenet`: the backbone from {WEIGHTS_LICENCE}; the heads from scratch"
    if settings.get("pretrained") == "none":
        return "`--pretrained none`: from scratch"
    return "none given (`--weights`): from scratch, unless torchvision's ImageNet weights were in the torch cache"


def history_lines(model: PackedModel) -> list[str]:
    history = [row for row in model.history if "val_score" in row]
    if not history:
        return ["- history: no validation epochs recorded"]
    best = max(history, key=lambda row: row["val_score"])
    minutes = sum(row.get("seconds", 0.0) for row in model.history) / 60
    score = "val balanced accuracy" if model.kind == "classifier" else "val mAP@0.5"
    lines = [
        f"- {len(model.history)} epoch(s), {minutes:.0f} min of training; the checkpoint is epoch "
        f"{best['epoch']}, the best {score} ({best['val_score']:.4f})",
        "",
        f"| epoch | train loss | val loss | {score} |",
        "|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {row['epoch']} | {number(row.get('train_loss'))} | {number(row.get('val_loss'))} "
        f"| {number(row['val_score'])} |"
        for row in history
    ]
    return lines


def number(value: Any) -> str:
    return "-" if value is None else f"{value:.4f}"


def metric_lines(model: PackedModel, root: Path) -> list[str]:
    from fashionlens.evaluation.honesty import verdict_line

    if not model.evaluations:
        run = relative(str(model.run_dir), root)
        return [f"- no `fashionlens evaluate` output in the run (`fashionlens evaluate {run} --data ...` adds it)"]
    keys = CLASSIFIER_METRICS if model.kind == "classifier" else DETECTOR_METRICS
    lines = ["| evaluation | data | split | " + " | ".join(keys) + " |", "|---|---|---|" + "---:|" * len(keys)]
    notes = []
    for folder, document in model.evaluations.items():
        for name, metrics in document.get("by_dataset", {}).items():
            values = " | ".join(number(metrics.get(key)) for key in keys)
            lines.append(f"| {folder} | `{relative(name, root)}` | {document.get('split', '')} | {values} |")
            if "honesty" in metrics:
                notes.append(f"- {folder}, `{relative(name, root)}`: {verdict_line(metrics['honesty'])}")
            if metrics.get("per_class_ap50"):
                per_region = ", ".join(f"{k} {v:.3f}" for k, v in metrics["per_class_ap50"].items() if v is not None)
                notes.append(f"- {folder}, `{relative(name, root)}`: AP@0.5 per region: {per_region}")
    return lines + ([""] + notes if notes else [])


def check_line(model: PackedModel) -> str:
    check = model.check
    if model.kind == "classifier":
        return (
            f"- float16 check on {check['photos']} embedded sample photos: top-1 agreement "
            f"{check['top1_agreement']:.0%}, largest probability difference {check['max_probability_difference']:.4f}"
        )
    return (
        f"- float16 check on {check['photos']} embedded street photos at threshold {check['score_threshold']:.3f}: "
        f"{check['detections_float32']} detections in float32, {check['detections_float16']} in float16; "
        f"lowest IoU of a float32 detection with its float16 match {check['lowest_matching_iou']:.3f}"
    )


def model_section(model: PackedModel, root: Path) -> list[str]:
    from fashionlens.inference.analyzer import model_fingerprint

    packed = model.packed
    title = "Classifier" if model.kind == "classifier" else "Detector"
    what = (
        f"{packed['arch']} ({packed['mode']}), {len(packed['class_names'])} classes: "
        if model.kind == "classifier"
        else f"{packed['arch']} ({packed['norm']}), regions: "
    )
    lines = [
        f"## {title}: `{model.file_name}` ({len(model.data) / 1e6:.1f} MB)",
        "",
        f"- {what}{', '.join(packed['class_names'])}",
        f"- input: {json.dumps(packed['preprocessing'])}",
        f"- run: `{relative(str(model.run_dir), root)}` (`{Path(model.original['path']).name}`)",
    ]
    if model.kind == "classifier":
        lines.append(f"- model id (what a catalogue records): `{model_fingerprint(packed)}`")
    else:
        lines.append(f"- score threshold (chosen on validation, best F1 at IoU 0.5): {packed['score_threshold']:.3f}")
    lines += training_lines(model, root) + history_lines(model) + ["", "Evaluation:", ""]
    return lines + metric_lines(model, root) + ["", check_line(model), ""]


def model_card(models: list[PackedModel], root: Path) -> str:
    """The whole card: what the files are, then one section per model."""
    lines = [
        "# fashionlens default models",
        "",
        "Used by `analyze`, `recommend`, `catalog import` and the demo whenever `--classifier` / `--detector`",
        "are left out. Stored in half precision (float16; loaded back as float32): weights, class names,",
        "preprocessing and architecture only, no optimiser state. Generated by",
        "`scripts/package_default_models.py` from the training runs below; replace rarely, since every",
        "replacement grows the repository. Licences of the training data: the clothing photos are CC0 1.0,",
        "the street photos Apache-2.0 (see `src/fashionlens/samples/*/ATTRIBUTION.md`). A model trained",
        "`--pretrained imagenet` also carries ImageNet-pretrained weights (its section says which, with their",
        "licence).",
        "",
        "Beside them, two small JSON files of linear models, fitted apart from this card's runs: `attributes.json`",
        "(the pattern, sleeve and colour heads on the classifier's features; `benchmarks/attributes.py --write`)",
        "and `color_names.json` (the pixel colour model that names product photos; `benchmarks/color_names.py`),",
        "both on the hand labels of the street train garments (`../shared/data/street/attributes_train.csv`, the",
        "street photos' licence, Apache-2.0). Their scores on the street val garments: docs/benchmarks.md,",
        '"Garment attributes".',
        "",
    ]
    for model in models:
        lines += model_section(model, root)
    return "\n".join(lines).rstrip() + "\n"
