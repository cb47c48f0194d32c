"""`fashionlens demo`: the whole story on the real photos embedded in the package, as one HTML page.

audit of the samples -> the shipped models -> the clothing sample's photos imported as the shop's
catalogue -> analysis and recommendations for a few street photos -> insights; with --train, also a
short training run on the clothing sample with the honesty check on its evaluation. Each step calls
what its own command calls (training, `evaluate`, `catalog import`, `recommend`, `insights`). Without
the shipped models the demo audits (and trains, with --train) and says which parts it skipped and why.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import typer

from fashionlens.catalog import DEFAULT_K
from fashionlens.cli.app import app
from fashionlens.cli.options import say
from fashionlens.core.errors import FashionLensError
from fashionlens.core.model_meta import ModelMeta


@dataclass
class DemoSettings:
    """Sized for about a minute on a 2-core CPU without --train (tests use smaller ones)."""

    arch: str = "efficientnet_lite0"  # from its installed ImageNet weights: a few epochs learn the sample
    image_size: int = 128  # small: the point is the pipeline (well under a minute of training)
    epochs: int = 4
    batch_size: int = 16
    lr: float = 0.002
    backbone_lr: float | None = 0.0005  # the pretrained backbone learns gently (the default classifier's recipe)
    street_photos: int = 4  # analysed and given recommendations
    products: int | None = 120  # clothing sample photos in the catalogue, every class of the 250 (None: all)
    k: int = DEFAULT_K  # items per recommendation list


DEMO = DemoSettings()
MARKER = "demo.json"  # marks a folder as the demo's own, so a rerun may replace what it wrote
OWN = (
    "training",
    "annotated",
    "products",
    "insights",
    "products.csv",
    "catalog.db",
    "catalog.db-wal",
    "catalog.db-shm",
    "catalog.db.faiss",
    "index.html",
    MARKER,
)


def prepare(out: Path) -> None:
    """An empty output folder: a new one, or an earlier demo's with its files removed."""
    if out.exists() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise FashionLensError(f"--out {out}: exists and is not an earlier demo's output; choose another folder")
    for name in OWN:
        path = out / name
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text(json.dumps({"status": "running"}) + "\n", encoding="utf-8")


def audit_step(story: dict[str, Any]) -> None:
    from fashionlens.data import read_dataset
    from fashionlens.data.audit import audit, format_audit
    from fashionlens.samples import SAMPLES, sample_file

    for name in SAMPLES:
        path = sample_file(name)
        report = audit(read_dataset(path))
        typer.echo(format_audit(report, title=f"== {name} sample: {path}") + "\n")
        # the page names the file inside the package: an absolute path says nothing on another machine
        story["audit"][name] = {"path": f"samples/{name}/{path.name}", "report": report}


def training_step(settings: DemoSettings, out: Path, story: dict[str, Any]) -> None:
    """A short training run on the clothing sample, then `evaluate` on its val photos (honesty check)."""
    from fashionlens.cli.train import rebuilt_command
    from fashionlens.evaluation.honesty import verdict_line
    from fashionlens.evaluation.runner import evaluate_run
    from fashionlens.samples import sample_file
    from fashionlens.train.classifier import ClassifierSettings, train_classifier

    data, run_dir = sample_file("clothing"), out / "training"
    training = ClassifierSettings(
        data=str(data),
        arch=settings.arch,
        epochs=settings.epochs,
        image_size=settings.image_size,
        batch_size=settings.batch_size,
        lr=settings.lr,
        backbone_lr=settings.backbone_lr,
    )
    history = train_classifier(training, run_dir)
    document, _ = evaluate_run(run_dir, [data], "val", run_dir / "eval")
    honesty = document["honesty"]
    pretrained = json.loads((run_dir / "config.json").read_text())["settings"]["pretrained"]
    # the sample as the package names it: the page shows no path of this machine
    command = rebuilt_command("classifier", asdict(training), Path("training")).replace(
        str(data), f"samples/clothing/{data.name}"
    )
    story["training"] = {
        "command": command,
        "pretrained": pretrained,
        "history": history,
        "figures": sorted(p.name for p in run_dir.glob("*.png")),
    }
    story["evaluation"] = {
        "verdict": verdict_line(honesty),
        "honesty": honesty,
        "report": "training/eval/report.html",
        **{key: document.get(key) for key in ("n", "accuracy", "balanced_accuracy", "macro_f1", "majority_baseline")},
    }
    typer.echo(f"evaluation on the clothing sample's val photos: {story['evaluation']['verdict']}")


def models_step(story: dict[str, Any]) -> None:
    """What the shipped models are and how they scored on their own validation photos (their checkpoints)."""
    from fashionlens.core.checkpoint import load_checkpoint
    from fashionlens.inference.default_models import CLASSIFIER_FILE, DETECTOR_FILE, MODEL_CARD_FILE, WEIGHTS_DIR

    story["models"] = []
    for name in (CLASSIFIER_FILE, DETECTOR_FILE):
        if (WEIGHTS_DIR / name).is_file():
            checkpoint = load_checkpoint(WEIGHTS_DIR / name)
            story["models"].append(model_summary(name, checkpoint))
    story["model_card"] = f"weights/{MODEL_CARD_FILE}"
    typer.echo("shipped models: " + "; ".join(f"{m['file']} {m['arch']}" for m in story["models"]))


def model_summary(name: str, checkpoint: dict[str, Any]) -> dict[str, Any]:
    metrics = checkpoint.get("metrics") or {}
    scores = {
        "balanced accuracy": metrics.get("balanced_accuracy"),
        "accuracy": metrics.get("accuracy"),
        "mAP@0.5": metrics.get("map50"),
        "mAP@0.5:0.95": metrics.get("map"),
    }
    meta = ModelMeta.from_checkpoint(checkpoint)
    return {
        "file": f"weights/{name}",
        "kind": meta.kind,
        "arch": meta.arch,
        "classes": list(meta.class_names),
        "image_size": meta.preprocessing.get("image_size"),
        "val": {key: value for key, value in scores.items() if value is not None},
        "score_threshold": meta.score_threshold,
    }


def missing_default_models() -> str | None:
    """Why the parts that need the default models cannot run, or None when they can."""
    from fashionlens.inference.default_models import CLASSIFIER_FILE, WEIGHTS_DIR

    if (WEIGHTS_DIR / CLASSIFIER_FILE).is_file():
        return None
    return (
        f"no default models installed (the package's weights/{CLASSIFIER_FILE} is missing); they are made "
        "from two training runs by scripts/package_default_models.py (docs/recommendation.md)"
    )


def write_products(path: Path, limit: int | None) -> int:
    """The clothing sample as a shop's product CSV (id,image,name,price,category); classes interleaved so
    a short list still holds every category. Prices are illustrative, derived from the file name."""
    from fashionlens.core.files import write_text
    from fashionlens.data import read_dataset
    from fashionlens.samples import sample_file

    by_label: dict[str | None, list] = {}
    for sample in read_dataset(sample_file("clothing")):
        by_label.setdefault(sample.garments[0].category, []).append(sample)
    ordered = [
        group[i] for i in range(max(map(len, by_label.values()))) for group in by_label.values() if i < len(group)
    ]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["id", "image", "name", "price", "category"])
    for number, sample in enumerate(ordered[:limit], start=1):
        label = sample.garments[0].category
        cents = int(hashlib.sha256(sample.image.name.encode()).hexdigest(), 16) % 9000
        writer.writerow(
            [
                f"SKU-{number:03d}",
                str(sample.image),
                f"{label} {sample.image.stem[:6]}",
                f"{9.99 + cents / 100:.2f}",
                label,
            ]
        )
    write_text(path, buffer.getvalue())
    return len(ordered[:limit])


def catalog_step(settings: DemoSettings, out: Path, story: dict[str, Any]):
    """`catalog import` of the product CSV with the default classifier (flat-lay photos: whole image)."""
    from fashionlens.catalog.importer import import_products
    from fashionlens.cli.catalog import open_store
    from fashionlens.cli.options import ModelChoice, load_analyzer

    products = write_products(out / "products.csv", settings.products)
    store = open_store(out / "catalog.db", create=True)
    report = import_products(out / "products.csv", store, load_analyzer(ModelChoice(whole_image=True)))
    model = store.model()
    assert model is not None  # the import recorded the model of its embeddings
    story["catalog"] = {
        "products": products,
        "imported": report.imported,
        "bad": [str(b) for b in report.bad],
        "model": model["id"],
        "csv": "products.csv",
    }
    typer.echo(f"catalogue: {report.summary()}")
    return store


def recommend_step(settings: DemoSettings, out: Path, store, story: dict[str, Any]) -> None:
    """`recommend` for a few street photos (val first), annotated, logged as store events."""
    from fashionlens.catalog.store import Filters
    from fashionlens.cli.analyze import Wanted, recommend_photos
    from fashionlens.cli.options import ModelChoice, load_analyzer
    from fashionlens.data import read_dataset
    from fashionlens.inference.annotate import unique_names
    from fashionlens.samples import sample_file

    samples = sorted(read_dataset(sample_file("street")), key=lambda s: (s.split != "val", s.image.name))
    photos = [sample.image for sample in samples[: settings.street_photos]]
    analyzer = load_analyzer(ModelChoice())
    results = recommend_photos(
        analyzer, store, out / "catalog.db", photos, Wanted(settings.k, Filters(kids=False)), annotate=out / "annotated"
    )
    names = unique_names([str(photo) for photo in photos])
    detector = analyzer.description["detector"]
    story["detector"] = None if detector is None else f"weights/{Path(detector).name}"
    story["photos"] = [
        {
            "image": Path(analysis.image).name,
            "annotated": f"annotated/{name}",
            "whole_image": not analysis.detected,
            "garments": [
                {
                    "garment": found.garment.to_json(),
                    "similar": [pick_json(p, out) for p in found.similar],
                    "complete_the_look": [pick_json(p, out) for p in found.complete_the_look],
                }
                for found in recommendations
            ],
        }
        for (analysis, recommendations), name in zip(results, names)
    ]
    garments = sum(len(photo["garments"]) for photo in story["photos"])
    typer.echo(f"recommendations: {len(photos)} street photos, {garments} garments")


def pick_json(pick, out: Path) -> dict[str, Any]:
    """A recommended product for the page, its photo copied next to it (the page links relatively)."""
    source = Path(pick.item.image)
    target = out / "products" / f"{pick.item.id}{source.suffix.lower()}"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    return {**pick.to_json(), "image": f"products/{target.name}"}


def insights_step(out: Path, store, story: dict[str, Any]) -> None:
    """What `insights --out` writes: shares, trend and click-through charts, the CSV for advertising tools."""
    from fashionlens.insights.analytics import summarize, write_charts, write_csv

    events = store.events()
    summary = summarize(events, "day")
    charts = write_charts(summary, out / "insights", names=demo_charts(summary))
    write_csv(summary, events, out / "insights" / "insights.csv")
    story["insights"] = {
        "summary": summary,
        "charts": [f"insights/{p.name}" for p in charts],
        "csv": "insights/insights.csv",
    }
    typer.echo(f"insights: {summary['events']} events, {summary['garments']} garments")


def demo_charts(summary: dict[str, Any]) -> list[str]:
    """The charts with something to show: a trend needs two periods, click-through a click (the demo's
    events are minutes old and nobody clicked: the page says so instead of drawing empty axes)."""
    names = ["shares"]
    if len(summary["trend"]) > 1:
        names.append("trend")
    if summary["click_through"]["clicked"]:
        names.append("click_through")
    return names


def timed(story: dict[str, Any], name: str, step, *args) -> Any:
    say(f"== {name}")
    start = time.perf_counter()
    result = step(*args)
    story["steps"].append({"name": name, "status": "done", "seconds": round(time.perf_counter() - start, 1)})
    return result


SHIPPED_STEPS = ("shipped models", "catalogue import", "analysis and recommendations", "insights")


def run_demo(settings: DemoSettings, out: Path, train: bool = False) -> Path:
    """Every step into `out` (training only with `train`); the path of the page that shows it all."""
    from fashionlens.cli.demo_page import render
    from fashionlens.core.files import write_text

    prepare(out)
    story: dict[str, Any] = {"settings": asdict(settings), "steps": [], "audit": {}}
    timed(story, "audit", audit_step, story)
    if train:
        timed(story, "training and evaluation", training_step, settings, out, story)
    missing = missing_default_models()
    if missing is None:
        timed(story, "shipped models", models_step, story)
        store = timed(story, "catalogue import", catalog_step, settings, out, story)
        timed(story, "analysis and recommendations", recommend_step, settings, out, store, story)
        timed(story, "insights", insights_step, out, store, story)
    else:
        if not train:
            missing += "; `fashionlens demo --train` trains a model on the sample instead"
        story["steps"] += [{"name": name, "status": "skipped", "reason": missing} for name in SHIPPED_STEPS]
        typer.echo(f"skipped the shipped models, the catalogue import, the recommendations and the insights: {missing}")
    write_text(out / "index.html", render(story))
    write_text(out / MARKER, json.dumps(story, indent=1, default=str) + "\n")
    return out / "index.html"


@app.command("demo")
def demo_command(
    out: Path = typer.Option(
        Path("demo-out"), "--out", help="Output folder (replaced when it holds an earlier demo's output)."
    ),
    train: bool = typer.Option(
        False,
        "--train",
        help="Also train a classifier on the sample for a few epochs "
        "and evaluate it with the honesty check (minutes more).",
    ),
) -> None:
    """The whole story on the sample photos embedded in the package, ending with one HTML page.

    Audit -> the shipped models -> the sample catalogue imported -> analysis and recommendations for
    street photos -> insights. Downloads nothing; about a minute on a 2-core CPU. --train adds a short
    training run with the honesty check on its evaluation. Without the shipped models it audits and
    says what it skipped.

    Example: fashionlens demo --out demo-out
    """
    typer.echo(str(run_demo(DEMO, out, train)))  # the last line: the page that shows it all
