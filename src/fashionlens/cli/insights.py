"""`fashionlens insights`: what customers wear and which recommendations work, from the logged events."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from .app import app
from .catalog import CATALOG_OPTION, open_store


@app.command("insights")
def insights_command(
    catalog: Path = CATALOG_OPTION,
    since: Optional[str] = typer.Option(None, "--since", help="Only events from this date on (YYYY-MM-DD)."),
    by: str = typer.Option("day", "--by", help="Trend periods: day or week."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object on stdout (events, categories, "
                                                       "regions, colors, trend, worn_together, click_through)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Also write shares.png, trend.png, click_through.png "
                                                           "(when items were recommended) and insights.csv "
                                                           "(period,dimension,value,count,share) here."),
) -> None:
    """Category, region and colour shares, trends, categories worn together, click-through of recommendations.

    Example: fashionlens insights --catalog shop.db --since 2024-05-01 --by week --out insights/
    """
    # insights imports the analyzer (torch): only when the command runs, so that --help starts fast
    from ..insights import format_table, parse_since, period_of, summarize, write_charts, write_csv

    period_of("2000-01-01", by)  # checks --by before reading anything
    events = open_store(catalog).events(parse_since(since))
    summary = summarize(events, by)
    if out is not None:
        paths = write_charts(summary, out) + [out / "insights.csv"]
        write_csv(summary, events, out / "insights.csv")
        typer.echo("wrote " + ", ".join(str(p) for p in paths), err=True)
    if as_json:
        typer.echo(json.dumps(summary, indent=2, ensure_ascii=False))
    else:
        typer.echo(format_table(summary))
