"""Tables for the terminal: rich Tables rendered to plain text.

No colour and one fixed width, so that a table reads the same in a terminal, through a pipe, in a test and
in the README; the width is wide enough that no row is wrapped (grep and a file get each row on one line).
Cells are text, never rich markup: a class named "[bold]" prints as it is.
"""

from __future__ import annotations

import io
from collections.abc import Collection, Iterable, Sequence

from rich import box
from rich.console import Console, RenderableType
from rich.table import Table

WIDTH = 1000
FACT_NAME_WIDTH = 15  # the names of facts() line up across tables: "imbalance ratio" is the longest


def table(
    header: Sequence[str], rows: Iterable[Sequence[object]] = (), title: str | None = None, left: Collection[int] = (0,)
) -> Table:
    """Borderless, a rule under the header; the columns numbered in `left` (text: the first one by default)
    aligned left, the others (numbers) right. Values are printed with str(): format them first."""
    result = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, title=title, title_justify="left")
    for index, name in enumerate(header):
        result.add_column(name, justify="left" if index in left else "right")
    for row in rows:
        result.add_row(*(str(value) for value in row))
    return result


def facts(rows: Iterable[tuple[str, object]]) -> Table:
    """Named values, one a line, the values lined up after the names; no header."""
    result = Table.grid(padding=(0, 2))
    result.add_column(min_width=FACT_NAME_WIDTH)
    result.add_column()
    for name, value in rows:
        result.add_row(name, str(value))
    return result


def render(*parts: RenderableType) -> str:
    """The parts one under the other as plain text (a string is a line, "" a blank one), no trailing spaces."""
    buffer = io.StringIO()
    console = Console(
        file=buffer, width=WIDTH, color_system=None, markup=False, emoji=False, highlight=False, soft_wrap=False
    )
    for part in parts:
        console.print(part)
    return "\n".join(line.rstrip() for line in buffer.getvalue().splitlines())
