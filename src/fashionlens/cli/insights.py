"""`fashionlens insights`: what customers wear and which recommendations work, from the logged events."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from fashionlens.cli.app import app, json_text
from fashionlens.cli.catalog import CATALOG_OPTION, open_store


@app.command("insights")
def insights_command(
    catalog: str = CATALOG_OPTION,
    since: Optional[str] = typer.Option(None, "--since", help="Only events from this date on (YYYY-MM-DD)."),
    by: str = typer.Option("day", "--by", help="Trend periods: day or week."),
    as_json: bool = typer.Option(
        False,
        "--json",
        help="Print one JSON object on stdout (events, categories, "
        "regions, colors, trend, trends, worn_together, "
        "click_through).",
    ),
    out: Optional[Path] = typer.Option(
        None,
        "--out",
        help="Also write shares.png, trend.png, click_through.png "
        "(when items were recommended) and insights.csv "
        "(period,dimension,value,count,share) here; with "
        "--audiences, audiences.csv.",
    ),
    experiment: Optional[str] = typer.Option(
        None, "--experiment", help="Instead: the results of this experiment per arm, with the verdict."
    ),
    audiences_: bool = typer.Option(
        False,
        "--audiences",
        help="Instead: customers grouped by what they wear, with the products to advertise to each group.",
    ),
) -> None:
    """Category, region and colour shares, trends (rising and falling, with a significance test), categories
    worn together, click-through of recommendations; or an experiment's arms; or audiences.

    Example: fashionlens insights --catalog shop.db --since 2024-05-01 --by week --out insights/

    An experiment's results: fashionlens insights --catalog shop.db --experiment look-or-not

    Audiences for advertising: fashionlens insights --catalog shop.db --audiences --json
    """
    # insights imports the analyzer (torch): only when the command runs, so that --help starts fast
    from fashionlens.insights.analytics import parse_since, period_of

    period_of("2000-01-01", by)  # checks --by before reading anything
    store = open_store(catalog)
    events = store.events(parse_since(since))
    if experiment is not None:
        show_experiment(store, events, experiment, as_json)
    elif audiences_:
        show_audiences(store, events, out, as_json)
    else:
        show_summary(events, by, out, as_json)


def show_experiment(store, events: list[dict], name: str, as_json: bool) -> None:
    from fashionlens.insights.experiments import experiment_report, find_experiment, format_report

    report = experiment_report(events, find_experiment(store, name))
    typer.echo(json_text(report) if as_json else format_report(report))


def show_audiences(store, events: list[dict], out: Optional[Path], as_json: bool) -> None:
    from fashionlens.core.files import write_text
    from fashionlens.insights.audiences import audiences, audiences_csv, format_audiences

    found = audiences(events, store)
    if out is not None:
        write_text(out / "audiences.csv", audiences_csv(found))
        typer.echo(f"wrote {out / 'audiences.csv'}", err=True)
    typer.echo(json_text(found) if as_json else "\n".join(format_audiences(found)))


def show_summary(events: list[dict], by: str, out: Optional[Path], as_json: bool) -> None:
    from fashionlens.insights.analytics import format_table, summarize, write_charts, write_csv

    summary = summarize(events, by)
    if out is not None:
        paths = write_charts(summary, out) + [out / "insights.csv"]
        write_csv(summary, events, out / "insights.csv")
        typer.echo("wrote " + ", ".join(str(p) for p in paths), err=True)
    typer.echo(json_text(summary) if as_json else format_table(summary))
