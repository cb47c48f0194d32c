"""`fashionlens experiment add|list`: A/B experiments on how recommendations are made.

The results: `fashionlens insights --experiment NAME` (and the dashboard).
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from fashionlens.cli.app import app, json_text
from fashionlens.cli.catalog import CATALOG_OPTION, open_store

experiment_app = typer.Typer(
    help="Define A/B experiments on recommendations; see their results with `fashionlens insights --experiment NAME`.",
    no_args_is_help=True,
)
app.add_typer(experiment_app, name="experiment")


@experiment_app.command("add")
def add_command(
    definition: Path = typer.Argument(
        ...,
        help="A JSON file: name, start and end (YYYY-MM-DD, inclusive), arms "
        "(name, share of sessions, settings: k, complete_look, weights "
        "{category, color} of the similar-items ranking).",
    ),
    catalog: str = CATALOG_OPTION,
) -> None:
    """Add (or replace, by name) an experiment. One runs at a time: dates may not overlap another's.

    Each customer session (the id the page keeps) is put in one arm by a hash of the experiment's name
    and the session id, so a returning customer sees the same arm.

    Example: fashionlens experiment add look-or-not.json --catalog shop.db, with look-or-not.json:

    {"name": "look-or-not", "start": "2026-12-01", "end": "2026-12-31", "arms": [{"name": "with-look",
    "share": 0.5, "settings": {"complete_look": true}}, {"name": "similar-only", "share": 0.5,
    "settings": {"complete_look": false, "k": 8}}]}
    """
    from fashionlens.core.textfile import read_json
    from fashionlens.insights.experiments import add_experiment, parse_experiment

    experiment = parse_experiment(read_json(definition), str(definition))
    add_experiment(open_store(catalog), experiment)
    typer.echo(f"experiment {experiment.name}: {len(experiment.arms)} arms, {experiment.start} to {experiment.end}")


@experiment_app.command("list")
def list_command(
    catalog: str = CATALOG_OPTION, as_json: bool = typer.Option(False, "--json", help="Print the definitions as JSON.")
) -> None:
    """The catalogue's experiments: name, dates and arms.

    Example: fashionlens experiment list --catalog shop.db
    """
    experiments = open_store(catalog).experiments()
    if as_json:
        typer.echo(json_text(experiments))
        return
    for e in experiments:
        arms = ", ".join(f"{a['name']} {a['share']:.0%} {json.dumps(a['settings'])}" for a in e["arms"])
        typer.echo(f"{e['name']}  {e['start']} to {e['end']}  arms: {arms}")
    if not experiments:
        typer.echo("no experiments yet; add one with `fashionlens experiment add FILE.json`")
