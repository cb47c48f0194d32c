"""`fashionlens catalog import|remove|reindex|list`: the store's own products, searchable by photo."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from fashionlens.catalog.store import CatalogStore, SQLiteStore
from fashionlens.catalog.stores import catalog_name, is_server
from fashionlens.cli.app import app, fail, json_text
from fashionlens.cli.options import (
    BACKEND_HELP,
    CATALOG_OPTION,
    CONF_OPTION,
    DEVICE_OPTION,
    PATTERN_OPTION,
    RAY_OPTION,
    RAY_WORKERS_OPTION,
    SLEEVE_OPTION,
    ModelChoice,
    filter_options,
    open_store,
    spread_analyzer,
)

catalog_app = typer.Typer(
    help="Manage the store's catalogue: import products, remove, reindex, list.", no_args_is_help=True
)
app.add_typer(catalog_app, name="catalog")

ON_MODEL_DETECTOR = typer.Option(
    None, "--detector", help="Detector run for --on-model (implies it); default: the shipped detector."
)


SOURCE_ARGUMENT = typer.Argument(
    ...,
    help="A product CSV (id,image[,name,price,category,url,...]) or a folder of photos (a subfolder per category).",
)
IMPORT_CLASSIFIER = typer.Option(
    None, "--classifier", help="Classifier run that makes the embeddings; default: the shipped one."
)
ON_MODEL_OPTION = typer.Option(
    False,
    "--on-model",
    help="Photos of people wearing the products: the detector's garment of the product's category is indexed "
    "(default: each photo is one product).",
)


@catalog_app.command("import")
def import_command(
    source: Path = SOURCE_ARGUMENT,
    catalog: str = CATALOG_OPTION,
    classifier: Optional[Path] = IMPORT_CLASSIFIER,
    on_model: bool = ON_MODEL_OPTION,
    detector: Optional[Path] = ON_MODEL_DETECTOR,
    strict: bool = typer.Option(False, "--strict", help="Import nothing when any row is bad."),
    batch_size: int = typer.Option(16, "--batch-size", min=1),
    backend: str = typer.Option("torch", "--backend", help=BACKEND_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the counts and bad rows as JSON on stdout."),
    ray: Optional[str] = RAY_OPTION,
    ray_workers: Optional[int] = RAY_WORKERS_OPTION,
    conf: Optional[float] = CONF_OPTION,
    device: Optional[str] = DEVICE_OPTION,
) -> None:
    """Add products to the catalogue, or update them: importing again updates changed items.

    Each photo is one product (laid flat, on a hanger, a packshot): its box and colour are the product's
    own, apart from the background; --on-model for photos of people wearing them. Extra columns (kids,
    in_stock...) become attributes to filter on. Bad rows are named with file, line and id; the others are
    imported (exit 0 when at least one was); photos with no product in them are imported with a warning.
    The import is one transaction.

    Example: fashionlens catalog import products.csv --catalog shop.db --classifier runs/clothing

    Faster on a CPU (the same embeddings within 1e-4): add --backend onnx

    On a server catalogue, with the photos analysed by Ray workers (docs/scaling.md):
    fashionlens catalog import products.csv --catalog postgresql://shop@db:5432/shop --ray local
    """
    from fashionlens.catalog.importer import ImportRefused, import_products, read_products

    # a missing or malformed source, or a file that is no catalogue, fails here: before the models
    # load (many seconds) and before a new catalogue file is created
    products = read_products(source)
    # a database server's catalogue is created in place (its schema): only a new SQLite file is discarded
    created = not is_server(catalog) and not Path(catalog).exists()
    store = None if created else open_store(catalog, create=is_server(catalog))
    models = ModelChoice(detector, classifier, not (on_model or detector), backend, conf, device)
    analyzer = spread_analyzer(models, batch_size, ray, ray_workers)
    store = store or open_store(catalog, create=True)
    try:
        report = import_products(source, store, analyzer, strict=strict, products=products)
    except ImportRefused as refused:
        for bad in refused.bad:
            typer.echo(f"bad row: {bad}", err=True)
        if created:
            discard_catalog(store)
        raise
    finally:
        if ray is not None:
            analyzer.close()
    print_import(report, catalog, as_json)
    if report.imported == 0:
        if created:
            discard_catalog(store)
        fail(f"{source}: nothing imported ({len(report.bad)} bad rows)", 1)


def print_import(report, catalog: str, as_json: bool) -> None:
    """Bad rows and warnings on stderr; the counts on stdout (as JSON with --json)."""
    for bad in report.bad:
        typer.echo(f"bad row: {bad}", err=True)
    for warning in report.warnings:
        typer.echo(f"warning: {warning}", err=True)
    if report.note:
        typer.echo(f"note: {report.note}", err=True)
    if not as_json:
        typer.echo(f"{catalog_name(catalog)}: {report.summary()}")
        return
    counts = {key: getattr(report, key) for key in ("imported", "new", "updated", "unchanged")}
    bad, warnings = [str(b) for b in report.bad], [str(w) for w in report.warnings]
    found = {"catalog": catalog_name(catalog), **counts, "bad": bad, "warnings": warnings, "note": report.note}
    typer.echo(json_text(found))


def discard_catalog(store: CatalogStore) -> None:
    """Remove a catalogue this command created and wrote nothing into: a failed first import leaves no
    empty database behind (SQLite's -wal and -shm files included)."""
    assert isinstance(store, SQLiteStore)  # a server's catalogue is never one this command created
    store.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{store.path}{suffix}").unlink(missing_ok=True)


@catalog_app.command("remove")
def remove_command(
    ids: list[str] = typer.Argument(..., help="Ids of the products to delete."),
    catalog: str = CATALOG_OPTION,
) -> None:
    """Delete products (all or none: an unknown id removes nothing).

    Example: fashionlens catalog remove SKU-1041 SKU-1042 --catalog shop.db
    """
    removed = open_store(catalog).remove_items(list(dict.fromkeys(ids)))
    typer.echo(f"{catalog_name(catalog)}: removed {removed} items")


@catalog_app.command("reindex")
def reindex_command(
    catalog: str = CATALOG_OPTION,
    classifier: Optional[Path] = typer.Option(None, "--classifier", help="The new embedding model's run."),
    on_model: bool = typer.Option(False, "--on-model", help="As for import: photos of people wearing the products."),
    detector: Optional[Path] = ON_MODEL_DETECTOR,
    batch_size: int = typer.Option(16, "--batch-size", min=1),
    ray: Optional[str] = RAY_OPTION,
    ray_workers: Optional[int] = RAY_WORKERS_OPTION,
    conf: Optional[float] = CONF_OPTION,
    device: Optional[str] = DEVICE_OPTION,
) -> None:
    """Recompute every product's embedding with another model (after retraining), in one transaction.

    Example: fashionlens catalog reindex --catalog shop.db --classifier runs/clothing-v2

    A large catalogue's photos analysed by Ray workers: add --ray local (or a cluster's address)
    """
    from fashionlens.catalog.importer import reindex

    store = open_store(catalog)
    models = ModelChoice(detector, classifier, not (on_model or detector), conf=conf, device=device)
    analyzer = spread_analyzer(models, batch_size, ray, ray_workers)
    try:
        count = reindex(store, analyzer)
    finally:
        if ray is not None:
            analyzer.close()
    typer.echo(f"{catalog_name(catalog)}: reindexed {count} items with model {analyzer.model_id}")


@catalog_app.command("list")
def list_command(
    catalog: str = CATALOG_OPTION,
    category: Optional[str] = typer.Option(None, "--category"),
    region: Optional[str] = typer.Option(None, "--region", help="upper, lower or full."),
    color: Optional[str] = typer.Option(None, "--color"),
    pattern: Optional[str] = PATTERN_OPTION,
    sleeve: Optional[str] = SLEEVE_OPTION,
    min_price: Optional[float] = typer.Option(None, "--min-price"),
    max_price: Optional[float] = typer.Option(None, "--max-price"),
    where: list[str] = typer.Option([], "--where", help="Attribute filter KEY=VALUE, repeatable."),
    as_json: bool = typer.Option(False, "--json", help="Print the items as JSON on stdout."),
) -> None:
    """List the catalogue's products (with the same filters as `recommend`).

    Example: fashionlens catalog list --catalog shop.db --region lower --max-price 50 --pattern striped
    """
    store = open_store(catalog)
    items = store.find_items(filter_options(category, region, color, min_price, max_price, where, pattern, sleeve))
    model = store.model() or {}
    if as_json:
        typer.echo(
            json_text(
                {
                    "catalog": catalog_name(catalog),
                    "model": model,
                    "count": len(items),
                    "items": [item.to_json() for item in items],
                }
            )
        )
        return
    typer.echo(
        f"{catalog_name(catalog)}: {len(items)} of {store.count()} items, embeddings by model {model.get('id', '-')}"
    )
    for item in items:
        price = "" if item.price is None else f"{item.price:.2f}"
        typer.echo(
            f"  {item.id:<16} {item.effective_category or '-':<12} {item.region or '-':<6} "
            f"{item.color or '-':<18} {price:>8}  {item.name}"
        )
