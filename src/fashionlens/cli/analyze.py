"""`fashionlens analyze` and `fashionlens recommend`: what a customer wears, and what the shop can offer."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer
from tqdm import tqdm

from fashionlens.catalog import DEFAULT_K
from fashionlens.catalog.store import Filters
from fashionlens.catalog.stores import catalog_name
from fashionlens.cli.app import app, json_text
from fashionlens.cli.inputs import PhotoRun, finish, photo_inputs
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
    load_analyzer,
    open_store,
    say,
    spread_analyzer,
)
from fashionlens.core.errors import FashionLensError

if TYPE_CHECKING:  # the analyzer imports torch: only when a command runs, so that --help starts fast
    from fashionlens.inference.analyzer import Analysis, Analyzer

DETECTOR_HELP = "Detector run directory (or checkpoint); default: the shipped detector, if any."
CLASSIFIER_HELP = "Classifier run directory (or checkpoint); default: the shipped classifier."
WHOLE_HELP = "Skip detection: the whole photo is one garment (flat-lay product photos)."
KIDS_HELP = (
    "Kids' products only (the catalogue's kids column is true). Without it, adults' products only: "
    "items whose kids attribute is true are left out, items without one are adults'."
)
FAST_DECODE_HELP = (
    "Decode large JPEGs at 1/2-1/8 scale (Pillow draft mode): faster, pixels differ slightly "
    "from a full decode; boxes stay in the original photo's pixels."
)


INPUTS_HELP = "Photos: files, folders (every image file in them, recursively) or quoted globs ('shop/*.jpg')."


def photo_run(inputs: list[Path]) -> PhotoRun:
    """The photos named by files, folders and globs; found before the models load (seconds), so a typo
    is reported at once, and nothing loads when no input names a photo."""
    run = photo_inputs(inputs, say)
    if not run.photos:
        finish(run)
    return run


def analyze_photos(
    analyzer: Analyzer, paths: list[Path], annotate: Optional[Path] = None, run: Optional[PhotoRun] = None
) -> list[Analysis]:
    """Analyse photos a batch at a time (progress on stderr); write annotated copies when asked.
    With `run`, a photo that cannot be read is reported there and skipped; without, it raises."""
    from fashionlens.core.images import load_image
    from fashionlens.inference.annotate import write_annotated

    analyses: list[Analysis] = []
    # a context manager: an error clears the bar before its one line is printed
    with tqdm(total=len(paths), desc="analysing", unit="photo", leave=False, disable=len(paths) < 2) as progress:
        for start in range(0, len(paths), analyzer.batch_size):
            given = paths[start : start + analyzer.batch_size]
            chunk, images, sizes = load_chunk(analyzer, given, run)
            progress.update(len(given) - len(chunk))
            if not chunk:
                continue
            found = analyzer.analyze(images, [str(path) for path in chunk], sizes)
            if annotate is not None:  # the boxes are in the full photo's pixels: draw on the full photo
                full = [
                    image if image.size == size else load_image(path) for image, size, path in zip(images, sizes, chunk)
                ]
                write_annotated(full, found, annotate)
            analyses += found
            progress.update(len(chunk))
    return analyses


def load_chunk(analyzer: Analyzer, paths: list[Path], run: Optional[PhotoRun]) -> tuple[list[Path], list, list]:
    """(the photos that load, their images, their full sizes). With a run, each photo loads alone, so that
    one bad file spares its batch, and a bad one is reported there; without, a bad one raises."""
    if run is None:
        return (paths, *analyzer.load_images(paths))
    kept, images, sizes = [], [], []
    for path in paths:
        try:
            [image], [size] = analyzer.load_images([path])
        except FashionLensError as error:
            run.fail(str(error))
        else:
            kept.append(path)
            images.append(image)
            sizes.append(size)
    return kept, images, sizes


def format_analysis(analysis: Analysis) -> str:
    lines = [
        f"{analysis.image} ({analysis.width}x{analysis.height}): {len(analysis.garments)} garment(s)"
        + ("" if analysis.detected else ", whole photo")
    ]
    for g in analysis.garments:
        others = ", ".join(f"{name} {score:.2f}" for name, score in g.top_categories[1:])
        region = f"{g.region or '-'}" + ("" if g.region_score is None else f" {g.region_score:.2f}")
        box = ",".join(f"{v:.0f}" for v in g.box.as_list())
        lines.append(
            f"  {region:<11} {g.category} {g.category_score:.2f}"
            + (f" ({others})" if others else "")
            + f"  {' · '.join([g.color.name, *g.attribute_words()])}  box {box}"
        )
    return "\n".join(lines)


def log_events(
    catalog: str | Path | None,
    no_log: bool,
    analyses: list[Analysis],
    channel: str,
    session: Optional[str],
    recommended: list[str] | None = None,
    store=None,
) -> None:
    from fashionlens.insights.analytics import log_analysis

    if no_log or (catalog is None and store is None):
        return
    if store is None:
        assert catalog is not None  # returned above when both are None
        store = open_store(catalog, create=True)
    log_analysis(store, analyses, channel, session, recommended)


ANNOTATE_OPTION = typer.Option(
    None, "--annotate", help="Write each photo with its boxes and labels drawn into this folder (PNG)."
)
LOG_CATALOG_OPTION = typer.Option(
    None, "--catalog", help="Log the analysis as an insights event here (a SQLite file or a PostgreSQL URL)."
)
EXPLAIN_OPTION = typer.Option(
    None,
    "--explain",
    help="Write what the classifier looked at for each garment (a Grad-CAM heat map over the photo, PNG) into this "
    "folder; needs --backend torch.",
)


@app.command("analyze")
def analyze_command(
    images: list[Path] = typer.Argument(..., help=INPUTS_HELP),
    detector: Optional[Path] = typer.Option(None, "--detector", help=DETECTOR_HELP),
    classifier: Optional[Path] = typer.Option(None, "--classifier", help=CLASSIFIER_HELP),
    whole_image: bool = typer.Option(False, "--whole-image", help=WHOLE_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object on stdout (same photo, same bytes)."),
    annotate: Optional[Path] = ANNOTATE_OPTION,
    top_k: int = typer.Option(3, "--top-k", min=1, help="Categories listed per garment."),
    embeddings: bool = typer.Option(False, "--embeddings", help="Include each garment's embedding in the JSON."),
    catalog: Optional[str] = LOG_CATALOG_OPTION,
    no_log: bool = typer.Option(False, "--no-log", help="Do not log an insights event."),
    channel: str = typer.Option("store", "--channel", help="store | online: where the photo was taken."),
    session: Optional[str] = typer.Option(None, "--session", help="A session id the customer consented to."),
    batch_size: int = typer.Option(16, "--batch-size", min=1),
    backend: str = typer.Option("torch", "--backend", help=BACKEND_HELP),
    fast_decode: bool = typer.Option(False, "--fast-decode", help=FAST_DECODE_HELP),
    explain: Optional[Path] = EXPLAIN_OPTION,
    ray: Optional[str] = RAY_OPTION,
    ray_workers: Optional[int] = RAY_WORKERS_OPTION,
    conf: Optional[float] = CONF_OPTION,
    device: Optional[str] = DEVICE_OPTION,
) -> None:
    """Find the garments in photos: box, region, category (top-k), dominant colour.

    Example: fashionlens analyze street.jpg photos/ --annotate out/

    A photo that cannot be read is reported and skipped; the others are analysed, and the exit code is 1.

    Faster on a CPU: fashionlens analyze street.jpg --backend onnx --fast-decode

    What the model looked at: fashionlens analyze street.jpg --explain maps/

    Many photos on Ray workers: fashionlens analyze photos/ --ray local --json
    """
    from fashionlens.inference.analyzer import analyses_json
    from fashionlens.inference.explain import NEEDS_TORCH, explain_photos, with_overlay_files

    if explain is not None and (backend != "torch" or ray is not None):
        raise FashionLensError(
            NEEDS_TORCH if ray is None else "--explain needs the models in this process; leave out --ray"
        )
    run = photo_run(images)
    models = ModelChoice(detector, classifier, whole_image, backend, conf, device)
    analyzer = spread_analyzer(models, batch_size, ray, ray_workers, top_k, fast_decode)
    try:
        analyses = analyze_photos(analyzer, run.photos, annotate, run)
    finally:
        if ray is not None:
            analyzer.close()
    log_events(catalog, no_log, analyses, channel, session)
    overlays = explain_photos(analyzer, analyses, explain) if explain is not None else None
    if overlays is not None:
        say(f"wrote {sum(map(len, overlays))} saliency overlay(s) into {explain}")
    if as_json:
        text = analyses_json(analyses, analyzer.description, embeddings)
        typer.echo(text if overlays is None else with_overlay_files(text, overlays), nl=False)
    elif analyses:
        typer.echo("\n".join(format_analysis(a) for a in analyses))
    finish(run)


@app.command("recommend")
def recommend_command(
    images: list[Path] = typer.Argument(..., help="The customer's photos: " + INPUTS_HELP[len("Photos: ") :]),
    detector: Optional[Path] = typer.Option(None, "--detector", help=DETECTOR_HELP),
    classifier: Optional[Path] = typer.Option(
        None, "--classifier", help=CLASSIFIER_HELP + " Must be the catalogue's model."
    ),
    whole_image: bool = typer.Option(False, "--whole-image", help=WHOLE_HELP),
    catalog: str = CATALOG_OPTION,
    k: int = typer.Option(DEFAULT_K, "--k", min=1, help="Items per list (similar, complete the look) per garment."),
    any_region: bool = typer.Option(
        False, "--any-region", help="Similar items from every region, not only the one of the garment's category."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
    no_log: bool = typer.Option(False, "--no-log", help="Do not log an insights event."),
    channel: str = typer.Option("store", "--channel", help="store | online."),
    session: Optional[str] = typer.Option(None, "--session", help="A session id the customer consented to."),
    category: Optional[str] = typer.Option(None, "--category", help="Only items of this category."),
    region: Optional[str] = typer.Option(None, "--region", help="Only items of this region (upper, lower, full)."),
    color: Optional[str] = typer.Option(None, "--color", help="Only items of this dominant colour."),
    pattern: Optional[str] = PATTERN_OPTION,
    sleeve: Optional[str] = SLEEVE_OPTION,
    min_price: Optional[float] = typer.Option(None, "--min-price"),
    max_price: Optional[float] = typer.Option(None, "--max-price"),
    where: list[str] = typer.Option([], "--where", help="Attribute filter KEY=VALUE, repeatable (in_stock=yes)."),
    kids: bool = typer.Option(False, "--kids", help=KIDS_HELP),
    backend: str = typer.Option("torch", "--backend", help=BACKEND_HELP),
    fast_decode: bool = typer.Option(False, "--fast-decode", help=FAST_DECODE_HELP),
    conf: Optional[float] = CONF_OPTION,
    device: Optional[str] = DEVICE_OPTION,
) -> None:
    """For each garment in the photo: the k most similar catalogue items and k items that complete the look.

    Similar: the nearest items by embedding, those of the garment's likely categories and colour first,
    best first, each with its reason. Complete the look: garments of the other regions whose category and
    colour people wear with it, and a place for shoes, a hat or a bag. Adults' products unless --kids.

    Example: fashionlens recommend customer.jpg --catalog shop.db --k 6 --max-price 80 --where in_stock=yes
    """
    filters = filter_options(category, region, color, min_price, max_price, where, pattern, sleeve).narrowed(kids=kids)
    store = open_store(catalog)
    run = photo_run(images)
    analyzer = load_analyzer(
        ModelChoice(detector, classifier, whole_image, backend, conf, device), fast_decode=fast_decode
    )
    wanted, log = Wanted(k, filters, same_region=not any_region), None if no_log else (channel, session)
    results = recommend_photos(analyzer, store, catalog, run.photos, wanted, log, run=run)
    if as_json:
        typer.echo(json_text(recommendations_json(analyzer, catalog, results)))
    elif results:
        typer.echo("\n".join(format_recommendations(a, found) for a, found in results))
    finish(run)


def recommendations_json(analyzer: Analyzer, catalog: str, results: list[tuple[Analysis, list]]) -> dict:
    """What `recommend --json` prints: the models, the catalogue, and each photo's garments with their lists."""
    images = [
        {"image": a.image, "whole_image": not a.detected, "garments": [r.to_json() for r in found]}
        for a, found in results
    ]
    return {"models": analyzer.description, "catalog": catalog_name(catalog), "images": images}


@dataclass(frozen=True)
class Wanted:
    """What a customer asks of the catalogue for each garment: k items per list, within the filters,
    similar items of the garment's own region only unless `same_region` is False."""

    k: int
    filters: Filters
    same_region: bool = True


def recommend_photos(
    analyzer: Analyzer,
    store,
    catalog: str | Path,
    images: list[Path],
    wanted: Wanted,
    log: tuple[str, Optional[str]] | None = ("store", None),
    annotate: Optional[Path] = None,
    run: Optional[PhotoRun] = None,
) -> list[tuple[Analysis, list]]:
    """What `fashionlens recommend` does for each photo: analyse, recommend from the catalogue, and log
    the event (`log`: (channel, session), None for --no-log); [(analysis, garment recommendations)]."""
    from fashionlens.catalog.index import CatalogIndex
    from fashionlens.catalog.recommend import check_model, recommend
    from fashionlens.catalog.store import attributes_note
    from fashionlens.catalog.stores import index_cache

    check_model(store, analyzer.description)  # before any photo is analysed
    note = attributes_note(getattr(store, "path", catalog), store.model(), analyzer.description)
    if note:
        typer.echo(f"note: {note}", err=True)
    index = CatalogIndex(store, index_cache(catalog))
    results = []
    for analysis in analyze_photos(analyzer, images, annotate, run):
        found = recommend(analysis, index, wanted.k, wanted.filters, same_region=wanted.same_region)
        results.append((analysis, found))
        shown = list(dict.fromkeys(item for r in found for item in r.item_ids))
        if log is not None:
            log_events(catalog, False, [analysis], log[0], log[1], shown, store)
    return results


def format_recommendations(analysis: Analysis, found: list) -> str:
    lines = [format_analysis(analysis)]
    for number, garment in enumerate(found, start=1):
        lines.append(f"  garment {number} ({garment.garment.category}, {garment.garment.color.name}):")
        for title, picks in (("similar", garment.similar), ("complete the look", garment.complete_the_look)):
            lines.append(f"    {title}:" + ("" if picks else " none in the catalogue"))
            for pick in picks:
                score = f"score {pick.score:.2f}" if title == "similar" else f"goes with {pick.score:.3f}"
                price = "" if pick.item.price is None else f"  {pick.item.price:.2f}"
                lines.append(
                    f"      {pick.item.id:<16} {pick.item.effective_category or '-':<12} "
                    f"{pick.item.color or '-':<18} {score}{price}  {pick.item.name}"
                )
                lines.append(f"        {pick.why['reason']}")
    return "\n".join(lines)
