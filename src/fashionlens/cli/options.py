"""What several commands share: the options of the models, the catalogue and its filters, and loading them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from fashionlens.catalog.store import CatalogStore, Filters
from fashionlens.catalog.stores import open_store as open_location
from fashionlens.core.errors import FashionLensError
from fashionlens.core.records import REGIONS
from fashionlens.inference.attributes import PATTERNS, SLEEVES

if TYPE_CHECKING:  # the analyzer imports torch: only when a command runs, so that --help starts fast
    from fashionlens.inference.analyzer import Analyzer

BACKEND_HELP = (
    "torch | onnx | onnx-int8: onnx runs the models with ONNX Runtime (exported once into onnx/ beside "
    "each checkpoint, or a .onnx file from `fashionlens export`); onnx-int8 runs their int8 "
    "quantisation (faster; agrees with PyTorch within the tolerances of docs/recommendation.md)."
)
# wherever models run (analyze, recommend, catalog import and reindex, serve)
CONF_OPTION = typer.Option(
    None,
    "--conf",
    min=0.0,
    max=1.0,
    help="The detector's score threshold (default: the one its checkpoint chose on val).",
)
DEVICE_OPTION = typer.Option(
    None, "--device", help="Where the models run: cpu, cuda, cuda:N (default: cpu; the onnx backends run on the CPU)."
)

CATALOG_OPTION = typer.Option(
    "catalog.db",
    "--catalog",
    envvar="FASHIONLENS_CATALOG",
    help="The catalogue: a SQLite file, or a PostgreSQL database's URL "
    "(postgresql://user:password@host:port/db, docs/scaling.md); also holds the "
    "insights events.",
)


def open_store(location: str | Path, create: bool = False) -> CatalogStore:
    """The catalogue at a --catalog value: a SQLite file or a PostgreSQL URL (catalog/stores.py)."""
    return open_location(location, create=create)


PATTERN_OPTION = typer.Option(None, "--pattern", help=f"Only items of this pattern ({', '.join(PATTERNS)}).")
SLEEVE_OPTION = typer.Option(None, "--sleeve", help=f"Only items of this sleeve length ({', '.join(SLEEVES)}).")


def filter_options(
    category: Optional[str],
    region: Optional[str],
    color: Optional[str],
    min_price: Optional[float],
    max_price: Optional[float],
    where: list[str],
    pattern: Optional[str] = None,
    sleeve: Optional[str] = None,
) -> Filters:
    """The query-time filters of the command line, checked."""
    if region is not None and region not in REGIONS:
        raise FashionLensError(f"--region {region!r}: choose one of {', '.join(REGIONS)}")
    for option, value, names in (("--pattern", pattern, PATTERNS), ("--sleeve", sleeve, SLEEVES)):
        if value is not None and value not in names:
            raise FashionLensError(f"{option} {value!r}: choose one of {', '.join(names)}")
    attributes = []
    for condition in where:
        name, sep, value = condition.partition("=")
        if not sep or not name.strip():
            raise FashionLensError(f"--where {condition!r}: expected KEY=VALUE, e.g. kids=False")
        attributes.append((name.strip(), value.strip()))
    return Filters(
        category=category,
        regions=None if region is None else (region,),
        color=color,
        pattern=pattern,
        sleeve=sleeve,
        min_price=min_price,
        max_price=max_price,
        attributes=tuple(attributes),
    )


def say(message: str) -> None:
    typer.echo(message, err=True)  # never on stdout: --json prints only the JSON


@dataclass(frozen=True)
class ModelChoice:
    """The models that analyse photos, as --detector, --classifier, --whole-image, --backend, --conf and
    --device chose them (None: the shipped model, the checkpoint's threshold, the CPU)."""

    detector: Optional[Path] = None
    classifier: Optional[Path] = None
    whole_image: bool = False
    backend: str = "torch"
    conf: Optional[float] = None
    device: Optional[str] = None


def exported_runs(models: ModelChoice) -> tuple[str | Path | None, str | Path]:
    """The chosen runs, checked, and exported once for an ONNX backend (export.exports.runs_for_backend)."""
    from fashionlens.export.exports import runs_for_backend

    return runs_for_backend(models.detector, models.classifier, models.whole_image, models.backend, models.device, say)


def load_analyzer(models: ModelChoice, batch_size: int = 16, top_k: int = 3, fast_decode: bool = False) -> Analyzer:
    """The Analyzer of the chosen runs (the shipped models for those not given); for an ONNX backend the runs
    are exported first (once), after the choice is checked."""
    from fashionlens.inference.analyzer import Analyzer

    return Analyzer.from_runs(
        *exported_runs(models),
        batch_size=batch_size,
        top_k=top_k,
        backend=models.backend,
        fast_decode=fast_decode,
        conf=models.conf,
        device=models.device,
    )


RAY_OPTION = typer.Option(
    None,
    "--ray",
    metavar="ADDRESS",
    help="Analyse the photos on Ray workers: `local` starts a Ray instance on this machine, else a cluster's "
    "address (auto, host:6379, ray://host:10001). Needs `pip install 'fashionlens[ray]'`.",
)
RAY_WORKERS_OPTION = typer.Option(
    None,
    "--ray-workers",
    min=1,
    help="Ray workers, each with its own copy of the models; default: one per CPU of the cluster.",
)


def spread_analyzer(
    models: ModelChoice,
    batch_size: int,
    ray: Optional[str],
    ray_workers: Optional[int],
    top_k: int = 3,
    fast_decode: bool = False,
):
    """The Analyzer in this process, or its stand-in on Ray workers (`ray`: a cluster's address or `local`),
    each worker loading the models once; an ONNX backend's exports are written here first, once. On Ray,
    photos are decoded in full here (`fast_decode` applies to this process only)."""
    if ray is None:
        return load_analyzer(models, batch_size, top_k, fast_decode)
    from functools import partial

    from fashionlens.inference.ray_analysis import RayAnalyzer

    exported_runs(models)  # once here, not in every worker
    return RayAnalyzer(partial(load_analyzer, models, batch_size, top_k), ray, ray_workers)
