"""The `fashionlens` command: one Typer app; each command module registers itself on it."""

from __future__ import annotations

import json
import math
import sys
from typing import Any

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from fashionlens.core.errors import DiskFull, FashionLensError, is_disk_full

# the labels of click's own help, which users of other command-line tools know
TYPE_LABELS = {int: "INTEGER", float: "FLOAT", str: "TEXT"}


class PlainOption(TyperOption):
    """An option whose help shows click's plain type label (PATH, INTEGER...) and none for a flag."""

    def display_type_rich(self, ctx) -> str | None:
        if self.is_flag or self.count:
            return None
        return self.metavar or type_label(self)


class PlainArgument(TyperArgument):
    """An argument shown as IMAGES... in the usage line and the help, without a type label."""

    def display_type_rich(self, ctx) -> str | None:
        return None

    @property
    def display_name_raw(self) -> str:
        return self.metavar or self.name.upper()

    def _rich_display_name(self) -> str:
        return self.display_name_raw + ("..." if self.metavar is None and self.nargs != 1 else "")

    def _usage_display_name(self) -> str:
        return self._rich_display_name() if self.required else f"[{self._rich_display_name()}]"


def type_label(param: TyperOption) -> str:
    description = param.type_descriptor
    if description.is_choice:
        return "|".join(str(getattr(choice, "value", choice)) for choice in description.choices or ())
    if description.is_path:
        return "PATH"
    annotation = description.annotation
    if description.is_list:
        annotation = getattr(annotation, "__args__", (str,))[0]
    return TYPE_LABELS.get(annotation, "PATH" if getattr(annotation, "__name__", "") == "Path" else "VALUE")


def plain_help(command) -> None:
    """Give every parameter of a command tree plain help labels. Typer builds its parameter objects
    itself, with no hook for their class, and labels them <bool>, <list[Path]>, {images}...: the
    objects are re-classed to the subclasses here, which change only how help is written."""
    for param in command.params:
        plain_param(param)
    if type(command) is TyperCommand:
        command.__class__ = PlainCommand
    elif type(command) is TyperGroup:  # train, catalog, experiment
        command.__class__ = FashionLensGroup
    for sub in getattr(command, "commands", {}).values():
        plain_help(sub)


def plain_param(param):
    if type(param) is TyperOption:
        param.__class__ = PlainOption
    elif type(param) is TyperArgument:
        param.__class__ = PlainArgument
    return param


class PlainCommand(TyperCommand):
    """A command whose -h/--help option (made when first asked for) has a plain label too."""

    def get_help_option(self, ctx):
        option = super().get_help_option(ctx)
        return None if option is None else plain_param(option)


class FashionLensGroup(TyperGroup):
    """The root command group: built after every command and sub-group, so it tidies them all."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        plain_help(self)

    def get_help_option(self, ctx):
        option = super().get_help_option(ctx)
        return None if option is None else plain_param(option)


def package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("fashionlens")
    except PackageNotFoundError:  # run from a source tree without installing
        from fashionlens import __version__

        return __version__


def show_version(value: bool) -> None:
    if value:
        typer.echo(f"fashionlens {package_version()}")
        raise typer.Exit()


app = typer.Typer(
    name="fashionlens",
    cls=FashionLensGroup,
    rich_markup_mode="markdown",  # docstrings' paragraphs rewrapped to the terminal, not cut at their line ends
    help="Detect, classify and recommend garments in fashion photos. Run `fashionlens COMMAND --help`.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},  # inherited by every command
)
train_app = typer.Typer(help="Train a classifier or a detector into a run directory.", no_args_is_help=True)
app.add_typer(train_app, name="train")


@app.callback()
def root(
    version: bool = typer.Option(
        False, "--version", is_eager=True, callback=show_version, help="Print the version and exit."
    ),
) -> None:
    """Detect, classify and recommend garments in fashion photos. Run `fashionlens COMMAND --help`."""


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
