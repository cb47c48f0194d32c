"""`fashionlens export`: a run's checkpoint as an ONNX model of float32 or int8 precision, with the JSON
of what the Analyzer needs, written only when it agrees with PyTorch; and the once-only export an ONNX
backend needs before the Analyzer loads it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import onnx

from fashionlens.core.checkpoint import checkpoint_file, load_checkpoint
from fashionlens.core.errors import FashionLensError
from fashionlens.core.files import atomic_write, write_text
from fashionlens.core.model_meta import ModelMeta
from fashionlens.export.onnx_export import (
    BOX_TOLERANCE,
    FEATURE_TOLERANCE,
    OPSET,
    SCORE_TOLERANCE,
    SOURCE_KEYS,
    Exporter,
    export_classifier,
    export_detector,
)
from fashionlens.export.onnx_int8 import int8_description, quantized_exporter
from fashionlens.inference.analyzer_models import PRECISION_OF_BACKEND, check_backend, model_fingerprint
from fashionlens.inference.default_models import resolve_runs
from fashionlens.inference.onnx_runtime import (
    EXPORT_VERSION,
    PRECISIONS,
    current_export,
    export_dir,
    export_stem,
    file_sha256,
    onnx_file_metadata,
)


@dataclass
class Export:
    onnx: Path
    metadata: Path
    differences: dict[str, float]  # float32: the largest difference to PyTorch per output; int8: the agreement
    precision: str = "float32"
    written: dict[str, Any] = field(default_factory=dict)  # the metadata JSON, as written


def export_run(run: str | Path, out_dir: str | Path | None = None, precision: str = "float32") -> Export:
    """Export a run's checkpoint (or a checkpoint file) as ONNX of `precision` ("float32" or "int8") into
    `out_dir` (default: onnx/ beside it). Nothing is written unless the ONNX model agrees with PyTorch
    within the precision's tolerances."""
    if precision not in PRECISIONS:
        raise FashionLensError(f"--precision {precision}: unknown precision; choose {' or '.join(PRECISIONS)}")
    source = checkpoint_file(run)
    checkpoint = load_checkpoint(source)
    kind = ModelMeta.from_checkpoint(checkpoint).kind
    out = Path(out_dir) if out_dir is not None else export_dir(source)
    exporters: dict[str, Exporter] = {"classifier": export_classifier, "detector": export_detector}
    exporter = exporters.get(kind) if kind is not None else None
    if exporter is None:
        raise FashionLensError(f"{source}: a {kind} checkpoint cannot be exported")
    if precision == "int8":
        exporter = quantized_exporter(exporter)
    stem = export_stem(source, precision)
    onnx_path, metadata_path = out / f"{stem}.onnx", out / f"{stem}.json"
    differences: dict[str, float] = {}
    try:
        atomic_write(onnx_path, lambda temporary: differences.update(exporter(checkpoint, temporary)))
        metadata = export_metadata(checkpoint, source, onnx_path, differences, precision)
        write_text(metadata_path, json.dumps(metadata, indent=2) + "\n")
    except OSError as error:  # a read-only install of the package: the user picks another folder
        raise FashionLensError(
            f"{out}: cannot write the ONNX export there ({error.strerror}); run `fashionlens "
            f"export {source} --out DIR` and use DIR/{stem}.onnx"
        ) from None
    return Export(onnx_path, metadata_path, differences, precision, metadata)


def export_metadata(
    checkpoint: dict[str, Any], source: Path, onnx_path: Path, differences: dict[str, float], precision: str = "float32"
) -> dict[str, Any]:
    data = {key: checkpoint[key] for key in SOURCE_KEYS if key in checkpoint}  # the checkpoint's order
    kind = ModelMeta.from_checkpoint(checkpoint).kind
    tolerance = FEATURE_TOLERANCE if kind == "classifier" else {"boxes_px": BOX_TOLERANCE, "scores": SCORE_TOLERANCE}
    measured: dict[str, Any] = {"max_difference": differences, "tolerance": tolerance}
    if precision == "int8":
        measured = int8_description(kind, differences)
    # the int8 export keeps the source's fingerprint: its embeddings are checked to stay within a
    # cosine of 0.99 of PyTorch's, so one catalogue serves every backend (docs/recommendation.md)
    return {
        **data,
        "format": "onnx",
        "opset": OPSET,
        "precision": precision,
        "export_version": EXPORT_VERSION,
        "outputs": [output.name for output in onnx.load(str(onnx_path), load_external_data=False).graph.output],
        "fingerprint": model_fingerprint(checkpoint),
        "source": {"path": str(source), "sha256": file_sha256(source)},
        "onnx_file": onnx_path.name,
        "onnx_sha256": file_sha256(onnx_path),
        **measured,
    }


def ensure_export(run: Path, precision: str, say: Callable[[str], None] | None = None) -> None:
    """Export `run` into the onnx/ folder beside its checkpoint unless a current export is there."""
    source = checkpoint_file(run)
    try:
        current_export(source, precision)
    except FashionLensError:
        if say is not None:
            say(f"exporting {source} to {'int8 ' if precision == 'int8' else ''}ONNX in {export_dir(source)} (once)")
        export_run(source, precision=precision)


def export_for_backend(
    runs: tuple[str | Path | None, str | Path], backend: str, say: Callable[[str], None] | None = None
) -> None:
    """Export the (detector, classifier) runs (resolve_runs' pair; a .onnx file is used as it is) once for
    an ONNX `backend`, so the Analyzer finds them; nothing for torch. The classifier first, as the
    Analyzer loads it first."""
    precision = PRECISION_OF_BACKEND.get(backend)
    if precision is None:
        return
    given = [Path(run) for run in (runs[1], runs[0]) if run is not None]
    for path in given:  # a wrong .onnx file is one line before anything is exported
        if path.suffix == ".onnx":
            onnx_file_metadata(path, precision)
    for path in given:
        if path.suffix != ".onnx":
            ensure_export(path, precision, say)


def runs_for_backend(
    detector: Path | None,
    classifier: Path | None,
    whole_image: bool,
    backend: str,
    device: str | None,
    say: Callable[[str], None] | None = None,
) -> tuple[str | Path | None, str | Path]:
    """The (detector, classifier) runs the Analyzer loads for these choices (the shipped models for those
    not given): the backend and device checked first, then exported once for an ONNX backend."""
    check_backend(backend, device)
    runs = resolve_runs(detector, classifier, whole_image)
    export_for_backend(runs, backend, say)
    return runs
