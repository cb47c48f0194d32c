"""Speed of analysing one photo and of importing a catalogue: the eager baseline beside ours, in one run.

    .venv/bin/python benchmarks/speed.py                 # shipped default models, the sample street photos
    .venv/bin/python benchmarks/speed.py --photos ../shared/data/street/images --limit 100 --rounds 2
    .venv/bin/python benchmarks/speed.py --data-path /data --results /tmp/speed.json   # import /data/clothing

Per photo, the same models (src/fashionlens/weights: the runs whose accuracy docs/benchmarks.md reports)
and input sizes run through two pipelines, interleaved photo by photo so that both see the same machine:
- baseline: the straightforward eager PyTorch pipeline: a full decode, the detector called on the photo,
  the classifier called on the photo's crops, the backbone called again on them for the embeddings and
  the early stages' statistics that the attribute heads read (one `model(images)` call per stage),
  `eval()` and `torch.inference_mode()`, no export;
- ours: the Analyzer with an ONNX Runtime backend (logits and embedding from one call) and fast decode:
  --backend onnx (float32, the default) or onnx-int8 (the int8 models, onnx_int8.py).
Both then read each garment's pixels (colour features, and texture where a head reads them) with the same
code, one garment after another (ours through Analyzer.read_pixels); describe each garment
(region-restricted category, attribute heads) with the same code; and search its embedding in a
catalogue of --catalog-size synthetic vectors with the catalogue's index.
Both use the same thread count (torch's, given to ONNX Runtime too).

Stages (p50 / p99 ms per photo): decode, detect, classify (+ embed), pixels, describe, search, and the
total. Outputs are compared garment by garment: same count, boxes within BOX_TOLERANCE px, same category
and colour, embedding cosine. Catalogue import: images/s of `import_products` on --import-count clothing photos
(whole-image products: decode, preprocess, embed, colour, store), with torch and with ours' backend;
the photos of <data-path>/clothing/images, or the package's sample clothing photos when it has none.
Results: benchmarks/results/speed.json (--results). Goals: p50 <= 100 ms, >= 2x the baseline, import >= 50 images/s.
"""

from __future__ import annotations

import argparse
import csv
import platform
import sys
import tempfile
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from fashionlens.catalog.importer import import_products
from fashionlens.catalog.index import build_index
from fashionlens.catalog.store import SQLiteStore
from fashionlens.core.images import load_image
from fashionlens.core.records import Box
from fashionlens.export.exports import export_for_backend
from fashionlens.inference.analyzer import MAX_GARMENTS, Analyzer, ClassifiedGarment, read_garment_pixels
from fashionlens.inference.analyzer_models import captured_outputs, classifier_feeds, stage_modules, stages_of
from fashionlens.inference.default_models import default_classifier, default_detector
from fashionlens.samples import sample_path
from recipe import RESULTS, add_data_path, write_result
from search import synthetic

GOALS = {"p50_ms": 100.0, "speedup": 2.0, "import_images_per_s": 50.0}
BOX_TOLERANCE = 0.5  # px
SEARCH_K = 10


class Clock:
    """Milliseconds per stage, one list entry per photo."""

    def __init__(self):
        self.times: dict[str, list[float]] = defaultdict(list)
        self.current: dict[str, float] = defaultdict(float)

    @contextmanager
    def stage(self, name: str):
        start = time.perf_counter()
        yield
        self.current[name] += (time.perf_counter() - start) * 1000

    def timed(self, name: str, function):
        def wrapper(*args, **kwargs):
            with self.stage(name):
                return function(*args, **kwargs)

        return wrapper

    def photo_done(self) -> None:
        for name, value in self.current.items():
            self.times[name].append(value)
        self.current.clear()


class EagerBaseline:
    """The straightforward pipeline on the torch models of `analyzer` (a torch-backend Analyzer)."""

    def __init__(self, analyzer: Analyzer, clock: Clock):
        self.analyzer, self.clock = analyzer, clock
        self.margin = analyzer.classifier_checkpoint["preprocessing"].get("context_margin", 0.0)
        heads = analyzer.attribute_heads
        self.texture = heads is not None and heads.reads("texture_features")

    @torch.inference_mode()
    def run(self, path: Path) -> list:
        with self.clock.stage("decode"):
            image = load_image(path)
        with self.clock.stage("detect"):
            detections = self.analyzer.detect([image])[0][:MAX_GARMENTS]  # one eager detector call
        boxes = [d.box for d in detections] or [Box(0.0, 0.0, float(image.width), float(image.height))]
        model = self.analyzer.classifier
        with self.clock.stage("classify"):
            pixels, geometry = classifier_feeds(self.analyzer.transform, [(image, box) for box in boxes], self.margin)
            probabilities = torch.softmax(model(pixels, geometry), dim=1).numpy()
        with self.clock.stage("embed"):
            embeddings, stages = embeddings_and_stages(model.backbone, pixels)
        found = detections or [None]
        with self.clock.stage("pixels"):  # one garment after another
            placed = [read_garment_pixels(image, box, detection, self.texture) for box, detection in zip(boxes, found)]
        with self.clock.stage("describe"):
            return [
                self.analyzer.describe(box, detection, ClassifiedGarment(probs, embedding, stage_row), colour)
                for (box, colour, _), detection, probs, embedding, stage_row in zip(
                    placed, found, probabilities, embeddings, stages
                )
            ]


def embeddings_and_stages(backbone: torch.nn.Module, pixels: torch.Tensor) -> tuple[np.ndarray, list]:
    """The normalised embeddings and, for each crop, its early stages' statistics (None for an
    architecture without them): one backbone call, the stages read as the Analyzer reads them."""
    with captured_outputs(stage_modules(backbone)) as captured:
        embeddings = torch.nn.functional.normalize(backbone(pixels).flatten(1), dim=1).numpy()
    stages = stages_of(captured)
    return embeddings, [None] * len(embeddings) if stages is None else list(stages.numpy())


def ours(analyzer: Analyzer, clock: Clock):
    """The Analyzer's own path, its stages timed by wrapping its methods."""
    analyzer.load_images = clock.timed("decode", analyzer.load_images)
    analyzer.detect = clock.timed("detect", analyzer.detect)
    analyzer.classify = clock.timed("classify", analyzer.classify)
    analyzer.describe = clock.timed("describe", analyzer.describe)
    analyzer.read_pixels = clock.timed("pixels", analyzer.read_pixels)
    return lambda path: analyzer.analyze_paths([path])[0].garments


def searched(garments: list, index, clock: Clock) -> None:
    with clock.stage("search"):
        for garment in garments:
            index.search(garment.embedding.reshape(1, -1), SEARCH_K)


def compare(baseline: list, found: list, agreement: dict) -> None:
    """Each baseline garment beside ours nearest to it (the order of near-equal scores may differ)."""
    agreement["photos"] += 1
    if len(baseline) != len(found):
        agreement["photos_with_other_garment_count"] += 1
        return
    for a, b in zip(baseline, nearest_garments(baseline, found)):
        agreement["garments"] += 1
        agreement["max_box_difference_px"] = max(
            agreement["max_box_difference_px"], float(np.abs(np.subtract(a.box.as_list(), b.box.as_list())).max())
        )
        agreement["same_category"] += a.category == b.category
        agreement["same_color"] += a.color.name == b.color.name
        agreement["min_embedding_cosine"] = min(agreement["min_embedding_cosine"], float(a.embedding @ b.embedding))


def nearest_garments(baseline: list, found: list) -> list:
    """`found` reordered so that each baseline garment faces the unused one whose box is nearest."""
    left, paired = list(found), []
    for garment in baseline:
        distances = [np.abs(np.subtract(garment.box.as_list(), other.box.as_list())).max() for other in left]
        paired.append(left.pop(int(np.argmin(distances))))
    return paired


def percentiles(values: list[float]) -> dict[str, float]:
    return {"p50_ms": round(float(np.percentile(values, 50)), 1), "p99_ms": round(float(np.percentile(values, 99)), 1)}


def analyse_photos(photos: list[Path], rounds: int, catalog_size: int, fast_decode: bool, backend: str) -> dict:
    torch_analyzer = Analyzer.from_runs(default_detector(), default_classifier())
    export_for_backend((default_detector(), default_classifier()), backend, lambda text: print(text, file=sys.stderr))
    onnx_analyzer = Analyzer.from_runs(
        default_detector(), default_classifier(), backend=backend, fast_decode=fast_decode
    )
    print(f"building the catalogue index of {catalog_size:,} items", file=sys.stderr)
    vectors = synthetic(catalog_size, seed=1)
    index = build_index(np.arange(catalog_size, dtype=np.int64), vectors)
    clocks = {"baseline": Clock(), "ours": Clock()}
    pipelines = {
        "baseline": EagerBaseline(torch_analyzer, clocks["baseline"]).run,
        "ours": ours(onnx_analyzer, clocks["ours"]),
    }
    for name in pipelines:  # warm-up: first calls allocate
        pipelines[name](photos[0])
        clocks[name].current.clear()
    agreement = defaultdict(float, min_embedding_cosine=1.0)
    for round_ in range(rounds):
        for number, photo in enumerate(tqdm(photos, desc=f"round {round_ + 1}/{rounds}", file=sys.stderr)):
            order = ["baseline", "ours"] if number % 2 == 0 else ["ours", "baseline"]
            results = {}
            for name in order:
                start = time.perf_counter()
                results[name] = pipelines[name](photo)
                searched(results[name], index, clocks[name])
                clocks[name].current["total"] = (time.perf_counter() - start) * 1000
                clocks[name].photo_done()
            if round_ == 0:
                compare(results["baseline"], results["ours"], agreement)
    stages = {
        name: {stage: percentiles(values) for stage, values in clock.times.items()} for name, clock in clocks.items()
    }
    return {
        "stages": stages,
        "agreement": dict(agreement),
        "speedup_p50": round(stages["baseline"]["total"]["p50_ms"] / stages["ours"]["total"]["p50_ms"], 2),
    }


def import_speed(count: int, backend: str, data_path: Path) -> dict:
    """images/s of a whole-image catalogue import of `count` clothing photos, with torch and `backend`."""
    photos = sorted((data_path / "clothing" / "images").glob("*.jpg"))
    photos = photos or sorted((sample_path("clothing") / "images").glob("*.jpg"))
    photos = (photos * (count // max(len(photos), 1) + 1))[:count]
    speeds = {}
    with tempfile.TemporaryDirectory() as folder:
        products = Path(folder) / "products.csv"
        with products.open("w", newline="") as file:
            writer = csv.writer(file)
            writer.writerow(["id", "image"])
            writer.writerows([f"P{number:05d}", str(photo)] for number, photo in enumerate(photos))
        for name in ("torch", backend):
            analyzer = Analyzer.from_runs(None, default_classifier(), backend=name)
            store = SQLiteStore(Path(folder) / f"{name}.db", create=True)
            start = time.perf_counter()
            report = import_products(products, store, analyzer)
            seconds = time.perf_counter() - start
            store.close()
            speeds[name] = {
                "items": report.new,
                "seconds": round(seconds, 2),
                "images_per_s": round(report.new / seconds, 1),
            }
            print(f"import ({name}): {speeds[name]}", file=sys.stderr)
    return speeds


def table(result: dict) -> str:
    stages = result["stages"]
    lines = ["| stage | baseline p50 | baseline p99 | ours p50 | ours p99 | ratio (p50) |", "|---|---|---|---|---|---|"]
    baseline, fast = stages["baseline"], stages["ours"]
    rows = [
        ("decode", ["decode"], ["decode"]),
        ("detect", ["detect"], ["detect"]),
        ("classify + embed", ["classify", "embed"], ["classify"]),
        ("pixels (colour; texture where a head reads it)", ["pixels"], ["pixels"]),
        ("describe (attributes)", ["describe"], ["describe"]),
        ("search", ["search"], ["search"]),
        ("**total**", ["total"], ["total"]),
    ]
    for label, ours_keys_baseline, ours_keys in rows:
        b50 = sum(baseline[key]["p50_ms"] for key in ours_keys_baseline)
        b99 = sum(baseline[key]["p99_ms"] for key in ours_keys_baseline)
        o50, o99 = fast[ours_keys[0]]["p50_ms"], fast[ours_keys[0]]["p99_ms"]
        lines.append(f"| {label} | {b50:.1f} | {b99:.1f} | {o50:.1f} | {o99:.1f} | {b50 / max(o50, 1e-9):.2f}x |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=Path, default=sample_path("street") / "images")
    parser.add_argument("--limit", type=int, default=80)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--catalog-size", type=int, default=100_000)
    parser.add_argument("--import-count", type=int, default=500)
    parser.add_argument("--no-fast-decode", dest="fast_decode", action="store_false")
    parser.add_argument(
        "--backend",
        choices=("onnx", "onnx-int8"),
        default="onnx",
        help="the backend of ours: float32 ONNX or the int8 models",
    )
    parser.add_argument("--results", type=Path, default=RESULTS / "speed.json", help="results JSON")
    add_data_path(parser)
    args = parser.parse_args()
    photos = sorted(args.photos.glob("*.jpg"))[: args.limit]
    result = {
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "threads": torch.get_num_threads(),
            "torch": torch.__version__,
        },
        "photos": len(photos),
        "rounds": args.rounds,
        "catalog_size": args.catalog_size,
        "goals": GOALS,
        "backend": args.backend,
        **analyse_photos(photos, args.rounds, args.catalog_size, args.fast_decode, args.backend),
        "import": import_speed(args.import_count, args.backend, args.data_path),
    }
    print(table(result))
    print(f"speed-up (p50 total): {result['speedup_p50']}x; agreement: {result['agreement']}")
    write_result(args.results, result, args.data_path)


if __name__ == "__main__":
    main()
