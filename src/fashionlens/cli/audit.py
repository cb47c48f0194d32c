"""`fashionlens audit DATA`: what a dataset holds and what is wrong with it, before any training."""

from __future__ import annotations

from pathlib import Path

import typer

from fashionlens.cli.app import app, json_text
from fashionlens.data import detect_format, read_dataset
from fashionlens.data.audit import audit, format_audit


@app.command("audit")
def audit_command(
    data: Path = typer.Argument(
        ...,
        help="A dataset: labels.csv, COCO .json, streetstyle27k.manifest, a DeepFashion root, or a folder per class.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object on stdout (messages go to stderr)."),
    skip_images: bool = typer.Option(
        False, "--skip-images", help="Do not open the images (boxes are then checked against the annotated sizes)."
    ),
) -> None:
    """Count samples, classes, regions and splits; report imbalance, missing or unreadable images and bad boxes.

    Example: fashionlens audit data/clothing/labels.csv --json
    """
    kind, _ = detect_format(data)
    typer.echo(f"reading {data} as {kind}", err=True)
    report = audit(read_dataset(data), check_images=not skip_images)
    report = {"path": str(data), "format": kind, **report}
    if as_json:
        typer.echo(json_text(report))
    else:
        typer.echo(format_audit(report, title=f"{data}  ({kind})"))
