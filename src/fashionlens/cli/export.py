"""`fashionlens export`: a run's model as ONNX, for `fashionlens analyze --backend onnx`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from fashionlens.cli.app import app
from fashionlens.core.errors import FashionLensError

FORMATS = ("onnx",)


@app.command("export")
def export_command(
    run: Path = typer.Argument(
        ..., help="A run directory or a checkpoint file (e.g. src/fashionlens/weights/classifier.pt)."
    ),
    export_format: str = typer.Option("onnx", "--format", help="Export format: onnx."),
    out: Optional[Path] = typer.Option(
        None,
        "--out",
        help="Folder for the files; default: onnx/ beside the checkpoint, where --backend onnx looks for them.",
    ),
    precision: str = typer.Option(
        "float32",
        "--precision",
        help="float32 | int8: int8 quantises the model "
        "(best.int8.onnx, for --backend onnx-int8), checked with looser tolerances.",
    ),
) -> None:
    """Export a classifier or detector as ONNX, with a JSON of what the Analyzer needs; the files are
    written only when ONNX Runtime's outputs match PyTorch's on sample inputs (int8: agree within the
    tolerances docs/recommendation.md states).

    Example: fashionlens export runs/clothing --format onnx, then
    fashionlens analyze photo.jpg --classifier runs/clothing --backend onnx
    (or --precision int8 and --backend onnx-int8)
    """
    if export_format not in FORMATS:
        raise FashionLensError(f"--format {export_format}: unknown export format; choose {', '.join(FORMATS)}")
    from fashionlens.export.exports import export_run

    done = export_run(run, out, precision)
    if done.precision == "int8":
        measured = ", ".join(f"{name} {value:.4g}" for name, value in done.differences.items())
        typer.echo(f"wrote {done.onnx} and {done.metadata.name}: the int8 model agrees with PyTorch ({measured})")
        return
    largest = ", ".join(f"{name} {value:.2g}" for name, value in done.differences.items())
    typer.echo(
        f"wrote {done.onnx} and {done.metadata.name}: ONNX Runtime matches PyTorch (largest differences: {largest})"
    )
