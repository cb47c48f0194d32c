"""The `fashionlens` command: one Typer app; each command module registers itself on it."""

from __future__ import annotations

import sys

import typer

from ..errors import FashionLensError

app = typer.Typer(
    name="fashionlens",
    help="Detect, classify and recommend garments in fashion photos. Run `fashionlens COMMAND --help`.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
train_app = typer.Typer(help="Train a classifier or a detector into a run directory.", no_args_is_help=True)
app.add_typer(train_app, name="train")


def fail(message: str, code: int = 2) -> None:
    """Print one line on stderr and exit: the way every user error ends."""
    typer.echo(f"error: {message}", err=True)
    raise SystemExit(code)


def main() -> None:
    try:
        app()
    except FashionLensError as error:
        fail(str(error))
    except KeyboardInterrupt:
        fail("interrupted", 130)
    except BrokenPipeError:
        sys.stderr.close()
