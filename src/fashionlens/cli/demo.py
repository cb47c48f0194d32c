"""`fashionlens demo`: show what fashionlens does on the real photos embedded in the package."""

from __future__ import annotations

import typer

from ..data import read_dataset
from ..data.audit import audit, format_audit
from ..samples import SAMPLES, sample_file
from .app import app


@app.command("demo")
def demo_command() -> None:
    """Audit the embedded sample photos (garment photos with labels, street photos with boxes).

    Runs without any download on a fresh machine. Example: fashionlens demo
    """
    for name in SAMPLES:
        path = sample_file(name)
        report = audit(read_dataset(path))
        typer.echo(format_audit(report, title=f"== {name} sample: {path}"))
        typer.echo("")
