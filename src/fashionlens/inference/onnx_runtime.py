"""ONNX Runtime inference for the Analyzer: the files `fashionlens export` writes (export/exports.py).

OnnxClassifier and OnnxDetector stand where the torch modules stand in the Analyzer (same inputs, same
outputs, as torch tensors), so cropping, region restriction, colours and the JSON stay one code path.
Sessions suit a small CPU: as many intra-op threads as torch uses, one inter-op thread (the Analyzer
runs one model at a time), every graph optimisation.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import onnxruntime
import torch

from fashionlens.core.checkpoint import checkpoint_file
from fashionlens.core.errors import FashionLensError
from fashionlens.models.classifier import ClassifierOutput

CLASSIFIER_OUTPUTS = ("logits", "features", "stages")  # in models.classifier.ClassifierOutput's order
DETECTOR_OUTPUTS = ("boxes", "labels", "scores")
# 2: the classifier's graph also outputs its stage statistics; 3: the Lite0 detector keeps 150 proposals
EXPORT_VERSION = 3
CACHE_FOLDER = "onnx"  # beside a checkpoint: where `fashionlens export` writes and the onnx backends look
PRECISIONS = ("float32", "int8")
METADATA_KEYS = ("kind", "class_names", "preprocessing", "fingerprint", "onnx_file", "onnx_sha256")
# ONNX Runtime's graph optimiser reports every constant it drops as a warning on stderr (hundreds for an
# EfficientNet's ReLU6 clips): errors only, so the CLI's stderr stays for fashionlens's own messages
onnxruntime.set_default_logger_severity(3)


def session(path: str | Path) -> onnxruntime.InferenceSession:
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    # idle threads sleep instead of spinning: the detector's and the classifier's sessions run one after
    # the other on the same cores, and a spinning pool of one slows the other (and torch, FAISS) down
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as error:  # ONNX Runtime raises its own types for unreadable or invalid models
        raise FashionLensError(f"{path}: not a usable ONNX model ({type(error).__name__})") from None


class OnnxClassifier:
    """A batch's ClassifierOutput, like analyzer_models.forward_with_features on the torch model."""

    def __init__(self, path: str | Path):
        self.session = session(path)
        self.inputs = {item.name for item in self.session.get_inputs()}
        # an export of an architecture without stage statistics has no "stages" output
        self.outputs = [item.name for item in self.session.get_outputs() if item.name in CLASSIFIER_OUTPUTS]

    def eval(self) -> "OnnxClassifier":
        return self  # inference only, like a torch module in eval mode

    def __call__(self, images: torch.Tensor, geometry: torch.Tensor) -> ClassifierOutput:
        feeds = {"images": images.numpy()}
        if "geometry" in self.inputs:  # an img model's graph has no geometry input
            feeds["geometry"] = geometry.numpy()
        found = [torch.from_numpy(value) for value in self.session.run(self.outputs, feeds)]
        return ClassifierOutput(*found)


class OnnxDetector:
    """A list of image tensors in, one {"boxes", "labels", "scores"} per image out: the call of a
    torchvision detector in eval mode (the graph takes one photo at a time)."""

    def __init__(self, path: str | Path):
        self.session = session(path)

    def eval(self) -> "OnnxDetector":
        return self

    def __call__(self, images: list[torch.Tensor]) -> list[dict[str, torch.Tensor]]:
        outputs = [self.session.run(list(DETECTOR_OUTPUTS), {"image": image.numpy()}) for image in images]
        return [{name: torch.from_numpy(value) for name, value in zip(DETECTOR_OUTPUTS, found)} for found in outputs]


def load_onnx(run: str | Path, precision: str = "float32") -> tuple[OnnxClassifier | OnnxDetector, dict[str, Any]]:
    """The model of an ONNX export of `precision` ("float32" or "int8") and its metadata (with "path",
    the .onnx file).

    `run`: a .onnx file written by `fashionlens export` (its .json beside it, of that precision), or a
    run directory or checkpoint file, whose export is read from the onnx/ folder beside the checkpoint
    (export/exports.py writes it there; loading never exports).
    """
    run = Path(run)
    metadata = onnx_file_metadata(run, precision) if run.suffix == ".onnx" else current_export(run, precision)
    onnx_path = Path(metadata["path"])
    runner = OnnxClassifier(onnx_path) if metadata["kind"] == "classifier" else OnnxDetector(onnx_path)
    return runner, metadata


def onnx_file_metadata(path: Path, precision: str) -> dict[str, Any]:
    """The metadata of a .onnx file that `fashionlens export` wrote, refused unless it is of `precision`."""
    if not path.is_file():
        raise FashionLensError(f"{path}: ONNX model not found")
    metadata = read_metadata(path.with_suffix(".json"))
    found = metadata.get("precision", "float32")  # exports older than int8 were all float32
    if found != precision:
        backend = "onnx-int8" if found == "int8" else "onnx"
        raise FashionLensError(
            f"{path}: an export of precision {found}, not {precision}; run it with --backend {backend}"
        )
    return metadata


def current_export(run: Path, precision: str) -> dict[str, Any]:
    """The metadata of the export of `precision` in the onnx/ folder beside `run`'s checkpoint, refused when
    missing, made from another checkpoint or by an earlier version of the exporter."""
    source = checkpoint_file(run)
    path = export_dir(source) / f"{export_stem(source, precision)}.json"
    try:
        metadata = read_metadata(path)
    except FashionLensError:
        metadata = {}
    stale = metadata.get("export_version") != EXPORT_VERSION  # written before the graphs' outputs changed
    if stale or metadata.get("source", {}).get("sha256") != file_sha256(source):
        option = "" if precision == "float32" else f" --precision {precision}"
        raise FashionLensError(
            f"{source}: no current {precision} ONNX export beside it; run `fashionlens export {source}{option}`"
        )
    return metadata


def export_dir(source: Path) -> Path:
    return source.parent / CACHE_FOLDER


def export_stem(source: Path, precision: str) -> str:
    """The export's file name without suffix: best (float32), best.int8 (int8)."""
    return source.stem if precision == "float32" else f"{source.stem}.{precision}"


def read_metadata(path: Path) -> dict[str, Any]:
    """An export's JSON, checked to describe the .onnx beside it; "path" added (the .onnx file)."""
    try:
        metadata = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FashionLensError(f"{path}: not found (`fashionlens export` writes it beside the .onnx)") from None
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise FashionLensError(f"{path}: not readable as JSON ({error})") from None
    missing = [key for key in METADATA_KEYS if not isinstance(metadata, dict) or key not in metadata]
    if missing:
        raise FashionLensError(f"{path}: not a fashionlens ONNX export (missing {', '.join(missing)})")
    onnx_path = path.with_name(str(metadata["onnx_file"]))
    if not onnx_path.is_file() or file_sha256(onnx_path) != metadata["onnx_sha256"]:
        raise FashionLensError(f"{onnx_path}: missing or not the model {path.name} describes; export again")
    return {**metadata, "path": str(onnx_path)}


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
