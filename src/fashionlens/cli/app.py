"""The `fashionlens` command: one Typer app; each command module registers itself on it."""

from __future__ import annotations

import json
import math
import sys
from typing import Any

import typer

from ..errors import DiskFull, FashionLensError, is_disk_full

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


def json_text(data: Any) -> str:
    """What a --json option prints: strict JSON (allow_nan=False), so NaN or Infinity, which JSON
    parsers refuse, can never reach stdout; an undefined number (a metric without data) is null."""
    return json.dumps(finite_or_null(data), indent=2, ensure_ascii=False, allow_nan=False)


def finite_or_null(data: Any) -> Any:
    if isinstance(data, float) and not math.isfinite(data):
        return None
    if isinstance(data, dict):
        return {key: finite_or_null(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [finite_or_null(value) for value in data]
    return data


def disk_full_message(error: BaseException) -> str:
    """One line for a full disk, naming the file being written when the error knows it."""
    if isinstance(error, DiskFull):
        return str(error)
    path = getattr(error, "filename", None)
    return f"disk full writing {path}" if path else "disk full"


def main() -> None:
    try:
        app()
    except BrokenPipeError:  # `fashionlens ... | head`: the reader left; nothing to report
        sys.stderr.close()
    except Exception as error:
        # a full disk can surface from any write (SQLite, torch.save, a report); it is the machine's
        # state, not a bug: one line and exit 1, whichever library noticed it
        if is_disk_full(error):
            fail(f"{disk_full_message(error)}; free some space and run the command again", 1)
        if isinstance(error, FashionLensError):
            fail(str(error))
        raise
    except KeyboardInterrupt:
        fail("interrupted", 130)
