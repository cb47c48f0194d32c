"""Recommendation quality on the real photos of --data-path (default ../shared/data; the recommendation issue's item 5).

    .venv/bin/python benchmarks/recommendation.py            # the default models (src/fashionlens/weights)
    .venv/bin/python benchmarks/recommendation.py --classifier runs/bench/clothing-top10 \\
        --detector runs/bench/detector-street                # two runs instead
    .venv/bin/python benchmarks/recommendation.py --queries carved --category-weight 0 --color-weight 0
        # shop queries only, from the split carved out of train: where the ranking's weights are chosen
    .venv/bin/python benchmarks/recommendation.py --data-path /data --results /tmp/recommendation.json

Steps, each printed and timed:
1. catalogue: the catalogue data's train photos of the classifier's classes become products
   (id,image,category) imported by `fashionlens catalog import` (each photo one product);
2. shop queries: its val photos, analysed whole, get `recommend`'s similar items (k, same region):
   precision@k of the category, and colour agreement@k (the items' dominant colour is the query's)
   against k random items of the query's predicted category (seeded), in the same run. With
   `--queries carved` the queries are the train photos the classifier was validated on instead (its
   --val-from-train 0.1 --seed 0 split) and the catalogue the rest of train; steps 3-5 are left out;
3. street to shop: every garment boxed in the street val photos (its annotated box, so retrieval is
   measured apart from detection), classified within its region and searched the same way:
   precision@k of its label mapped onto the catalogue's labels (taxonomy.map_labels), colour agreement;
4. fill in the blank: hide one garment of a street val look; the complete-the-look suggestions of the
   other garments, merged by score: is the hidden garment's category among the first k?
5. end to end: the street val photos through detector and classifier (the Analyzer); a garment is right
   when a detection matches it at IoU >= 0.5 with the right mapped category, missed ones are wrong.
Garments whose label has no counterpart among the catalogue's labels are left out and counted.
Results: benchmarks/results/recommendation.json (--results). Goals: precision@5 at least 0.90 on shop
queries and 0.70 street to shop; embedding search above the random baseline on colour agreement.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import time
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

from recipe import RESULTS, ROOT, add_data_path, clothing, run, shown, street, write_result

GOALS = {"shop_precision": 0.90, "street_to_shop_precision": 0.70}
CARVED_SHARE, CARVED_SEED = 0.1, 0  # the classifier benchmarks' --val-from-train and --seed
TIMES: dict[str, float] = {}


@contextmanager
def step(name: str):
    print(f"== {name}", file=sys.stderr, flush=True)
    start = time.perf_counter()
    yield
    TIMES[name] = round(time.perf_counter() - start, 1)


def split_of(samples: list, split: str, classes: list[str]) -> tuple[list, int]:
    """The photos of `split` labelled with one of `classes`, and how many others were left out."""
    chosen = [s for s in samples if s.split == split]
    kept = [s for s in chosen if s.garments and s.garments[0].category in classes]
    return kept, len(chosen) - len(kept)


def build_catalog(train: list, work: Path, classifier: Path, reuse: bool = False) -> dict:
    """Products CSV of the train photos, imported by the CLI into a fresh catalogue; `reuse`: keep the
    catalogue of an earlier run on the same products (a weight sweep changes only the queries' ranking)."""
    work.mkdir(parents=True, exist_ok=True)
    products = work / "products.csv"
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(
        [["id", "image", "category"]] + [[s.image.stem, str(s.image.resolve()), s.garments[0].category] for s in train]
    )
    text = buffer.getvalue()
    database = work / "catalog.db"
    if reuse and database.is_file() and products.is_file() and products.read_text(encoding="utf-8") == text:
        from fashionlens.catalog.store import SQLiteStore

        store = SQLiteStore(database)
        count = store.count()
        store.close()
        if count == len(train):  # every product in: not the remains of an interrupted import
            return {"reused": str(database), "imported": count}
    products.write_text(text, encoding="utf-8")
    for stale in work.glob("catalog.db*"):  # a fresh catalogue: earlier items or models must not count
        stale.unlink()
    args = ["catalog", "import", str(products), "--catalog", str(database), "--classifier", str(classifier), "--json"]
    seconds, stdout = run(args)
    return {"command": "fashionlens " + " ".join(args), "seconds": round(seconds, 1), **json.loads(stdout)}


def analyse_whole(analyzer, samples: list, batch: int = 32) -> list:
    """Each photo analysed as one garment (flat-lay product photos, like the catalogue)."""
    from fashionlens.core.images import load_image
    from fashionlens.inference.analyzer import Analyzer

    whole = Analyzer(analyzer.classifier, analyzer.classifier_checkpoint, batch_size=analyzer.batch_size)
    whole.attribute_heads = analyzer.attribute_heads
    garments = []
    for start in range(0, len(samples), batch):
        chunk = samples[start : start + batch]
        garments += [
            a.garments[0] for a in whole.analyze([load_image(s.image) for s in chunk], [str(s.image) for s in chunk])
        ]
    return garments


def street_garments(analyzer, samples: list, labels: list[str]) -> tuple[list[list[tuple]], int]:
    """Per photo, [(analysed garment, mapped category, box)] from its annotated boxes; left-out count."""
    from fashionlens.core.images import load_image
    from fashionlens.core.records import Detection
    from fashionlens.core.taxonomy import map_labels
    from fashionlens.inference.colors import dominant_color

    looks, left_out = [], 0
    for sample in samples:
        boxed = [g for g in sample.garments if g.box is not None and g.category and g.box.problem(None, None) is None]
        image = load_image(sample.image)
        classified = analyzer.classify([(image, g.box) for g in boxed])
        mapped = map_labels([g.category for g in boxed], labels)
        left_out += sum(m is None for m in mapped)
        looks.append(
            [
                (
                    analyzer.describe(
                        g.box, Detection(g.box, g.region, 1.0), classified.row(number), dominant_color(image, g.box)
                    ),
                    category,
                    g.box,
                )
                for number, (g, category) in enumerate(zip(boxed, mapped))
            ]
        )
    return looks, left_out


def retrieval(index, garments: list, truth: list[str], k: int, seed: int, ranking) -> dict:
    """`recommend`'s similar items for each garment: category precision@k and colour agreement@k
    against k random items of the garment's predicted category."""
    from fashionlens.catalog.recommend import similar_items
    from fashionlens.catalog.store import Filters
    from fashionlens.evaluation.recommendation import precision_at_k, random_same_category

    found = [[pick.item for pick in similar_items(index, g, k, Filters(), ranking=ranking)] for g in garments]
    items = index.store.find_items()
    colors = {item.id: item.color for item in items}
    by_category: dict = {}
    for item in items:
        by_category.setdefault(item.effective_category, []).append(item.id)
    random_picks = random_same_category([g.category for g in garments], by_category, k, seed)
    query_colors = [g.color.name for g in garments]
    embedding = precision_at_k([[i.color for i in f] for f in found], query_colors, k)
    baseline = precision_at_k([[colors[i] for i in p] for p in random_picks], query_colors, k)
    # the query's predicted pattern against the items' predicted patterns: what the pattern weight buys
    patterned = [(f, g.pattern.name) for f, g in zip(found, garments) if g.pattern is not None]
    return {
        "queries": len(garments),
        f"precision_at_{k}": precision_at_k([[i.effective_category for i in f] for f in found], truth, k),
        f"color_agreement_at_{k}": embedding,
        f"color_agreement_at_{k}_random_same_category": baseline,
        "color_beats_random": None if embedding is None else embedding > baseline,
        f"pattern_agreement_at_{k}": precision_at_k(
            [[i.pattern for i in f] for f, _ in patterned], [p for _, p in patterned], k
        ),
    }


def fill_in_the_blank_score(index, looks: list[list[tuple]], k: int) -> dict:
    from fashionlens.catalog.recommend import complete_the_look
    from fashionlens.catalog.store import Filters
    from fashionlens.evaluation.recommendation import LookGarment, fill_in_the_blank

    cache: dict[int, list] = {}  # a garment's suggestions do not depend on which other garment is hidden

    def suggest(rest: list) -> list:
        """The categories of the rest's suggestions, best score first, each item once."""
        picks = [p for g in rest for p in cache.setdefault(id(g), complete_the_look(index, g, k, Filters()))]
        seen: set[str] = set()
        return [
            p.item.effective_category
            for p in sorted(picks, key=lambda p: -p.score)
            if not (p.item.id in seen or seen.add(p.item.id))
        ]

    return fill_in_the_blank(
        [[LookGarment(category, garment) for garment, category, _ in look] for look in looks], suggest, k
    )


def end_to_end_score(analyzer, samples: list, looks: list[list[tuple]]) -> dict:
    from fashionlens.evaluation.recommendation import end_to_end

    if analyzer.detector is None:
        return {"skipped": "no detector (none given with --detector, none installed)"}
    found = []
    for start in range(0, len(samples), analyzer.batch_size):
        for analysis in analyzer.analyze_paths([s.image for s in samples[start : start + analyzer.batch_size]]):
            found.append([(g.box, g.category) for g in analysis.garments] if analysis.detected else [])
    truth = [[(box, category) for _, category, box in look if category is not None] for look in looks]
    return {"threshold": analyzer.threshold, **end_to_end(truth, found).as_dict()}


def parse_options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--classifier", type=Path, help="classifier run directory (default: the shipped model)")
    parser.add_argument("--detector", type=Path, help="detector run directory (default: the shipped one, if any)")
    parser.add_argument(
        "--catalog-data",
        type=Path,
        help="labelled product photos: train = the catalogue, val = the queries "
        "(default: <data-path>/clothing/labels.csv)",
    )
    parser.add_argument(
        "--street-data",
        type=Path,
        help="street photos with garment boxes; their val split is used "
        "(default: <data-path>/street/annotations.coco.json)",
    )
    parser.add_argument("--k", type=int, default=5, help="items per list (default 5)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random baseline (default 0)")
    parser.add_argument(
        "--queries",
        choices=("val", "carved"),
        default="val",
        help="val: report (default); carved: the split carved out of train, to choose weights on",
    )
    parser.add_argument("--category-weight", type=float, help="SimilarRanking.category (default: the shipped one)")
    parser.add_argument("--color-weight", type=float, help="SimilarRanking.color (default: the shipped one)")
    parser.add_argument("--pattern-weight", type=float, help="SimilarRanking.pattern (default: the shipped one)")
    parser.add_argument(
        "--reuse-catalog",
        action="store_true",
        help="keep the --work catalogue of an earlier run on the same products (weight sweeps)",
    )
    parser.add_argument(
        "--work",
        type=Path,
        default=ROOT / "runs" / "bench" / "recommendation",
        help="folder of the products CSV and the catalogue (default runs/bench/recommendation)",
    )
    parser.add_argument(
        "--results",
        type=Path,
        help="results JSON (default: benchmarks/results/recommendation.json, "
        "recommendation_carved.json with --queries carved)",
    )
    add_data_path(parser)
    options = parser.parse_args()
    options.catalog_data = options.catalog_data or clothing(options.data_path)
    options.street_data = options.street_data or street(options.data_path)
    suffix = "" if options.queries == "val" else "_carved"
    options.results = options.results or RESULTS / f"recommendation{suffix}.json"
    return options


def similar_ranking(options: argparse.Namespace):
    """The shipped ranking of similar items, with the weights given on the command line."""
    from dataclasses import replace

    from fashionlens.catalog.recommend import SimilarRanking

    given = {"category": options.category_weight, "color": options.color_weight, "pattern": options.pattern_weight}
    return replace(SimilarRanking(), **{key: value for key, value in given.items() if value is not None})


def carved_as_val(samples: list) -> list:
    """The train photos the classifier was validated on become the queries (val), the rest of train the
    catalogue; the real val photos are left out."""
    from dataclasses import replace

    from fashionlens.data.classification import split_samples

    kept, carved, _ = split_samples(samples, CARVED_SHARE, CARVED_SEED)
    return [replace(s, split="train") for s in kept] + [replace(s, split="val") for s in carved]


def main() -> None:
    from fashionlens.core.errors import FashionLensError

    options = parse_options()
    try:
        benchmark(options)
    except FashionLensError as error:  # a missing model or dataset: one line, as the CLI says it
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None


def benchmark(options: argparse.Namespace) -> None:
    from fashionlens.catalog.index import CatalogIndex, index_cache_path
    from fashionlens.catalog.store import SQLiteStore
    from fashionlens.data import read_dataset
    from fashionlens.inference.analyzer import Analyzer
    from fashionlens.inference.default_models import resolve_runs

    detector, classifier = resolve_runs(options.detector, options.classifier)
    analyzer = Analyzer.from_runs(detector, classifier)
    labels = list(analyzer.class_names)
    shop = read_dataset(options.catalog_data)
    if options.queries == "carved":
        shop = carved_as_val(shop)
    (train, left_train), (val, left_val) = split_of(shop, "train", labels), split_of(shop, "val", labels)
    ranking = similar_ranking(options)
    result = {
        "models": {"classifier": shown(classifier), "detector": shown(detector), "model_id": analyzer.model_id},
        "catalog_data": shown(options.catalog_data),
        "queries": options.queries,
        "k": options.k,
        "similar_ranking": asdict(ranking),
        "labels": labels,
        "left_out_photos": {"catalogue": left_train, "queries": left_val},
    }
    with step("catalogue import"):
        result["catalog"] = build_catalog(train, options.work, classifier, options.reuse_catalog)
    database = options.work / "catalog.db"
    index = CatalogIndex(SQLiteStore(database), index_cache_path(database))
    with step("shop queries"):
        result["shop"] = retrieval(
            index, analyse_whole(analyzer, val), [s.garments[0].category for s in val], options.k, options.seed, ranking
        )
    if options.queries == "val":
        street_steps(result, options, analyzer, index, labels, ranking)
    result["goals"] = goals(result, options.k)
    result["seconds"] = TIMES
    print(json.dumps(write_result(options.results, result, options.data_path), indent=2))


def street_steps(result: dict, options: argparse.Namespace, analyzer, index, labels: list[str], ranking) -> None:
    """Steps 3-5 on the street val photos."""
    from fashionlens.data import read_dataset

    result["street_data"] = shown(options.street_data)
    street = [s for s in read_dataset(options.street_data) if s.split == "val"]
    with step("street to shop"):
        looks, left_out = street_garments(analyzer, street, labels)
        garments = [(g, category) for look in looks for g, category, _ in look if category is not None]
        result["street_to_shop"] = {
            **retrieval(index, [g for g, _ in garments], [c for _, c in garments], options.k, options.seed, ranking),
            "garments_left_out": left_out,
        }
    with step("fill in the blank"):
        result["fill_in_the_blank"] = fill_in_the_blank_score(index, looks, options.k)
    with step("end to end"):
        result["end_to_end"] = end_to_end_score(analyzer, street, looks)


def goals(result: dict, k: int) -> dict:
    """The issue's goals, each with the measured value and whether it is met."""
    precision = f"precision_at_{k}"
    parts = {"shop": "shop_precision", "street_to_shop": "street_to_shop_precision"}
    found = {part: result[part] for part in parts if part in result}
    met = {
        goal: {
            "goal": GOALS[goal],
            "value": found[part][precision],
            "met": found[part][precision] is not None and found[part][precision] >= GOALS[goal],
        }
        for part, goal in parts.items()
        if part in found
    }
    return {**met, "color_beats_random": {part: found[part]["color_beats_random"] for part in found}}


if __name__ == "__main__":
    main()
