"""Score a classifier run that varies a recipe of classifiers.py (another seed, batch size, architecture...)
the way docs/benchmarks.md reports it.

    .venv/bin/fashionlens train classifier ... --seed 1 --out runs/bench/clothing-top10-seed1
    .venv/bin/python benchmarks/classifier_run.py runs/bench/clothing-top10-seed1 \\
        --results benchmarks/results/classifier_a_seed1.json

Writes the run's training command (rebuilt from its config.json, which keeps what decides the weights:
data-loading options such as --workers are not in it), the sum of its epoch times, its best
epoch on its own validation split (the split carved out of train, where settings are chosen), its last
epoch, and `fashionlens evaluate` on its data's val split (which only reports). The data is the run's
own (its config.json names it), so this recipe takes no --data-path.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from fashionlens.cli.train import rebuilt_command
from fashionlens.release.model_card import relative
from recipe import ROOT, run, shown, write_result

KEYS = (
    "accuracy",
    "balanced_accuracy",
    "top3_accuracy",
    "top5_accuracy",
    "macro_f1",
    "roc_auc_macro",
    "majority_baseline",
    "collapsed",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path, help="classifier run directory")
    parser.add_argument("--results", type=Path, required=True, help="results JSON to write")
    options = parser.parse_args()
    run_dir = options.run_dir.resolve()
    settings = json.loads((run_dir / "config.json").read_text())["settings"]
    history = json.loads((run_dir / "history.json").read_text())
    best = max(history, key=lambda epoch: epoch["val_balanced_accuracy"])
    evaluate = ["evaluate", str(run_dir), "--data", settings["data"], "--split", "val", "--json"]
    _, stdout = run(evaluate + ["--out", str(run_dir / "eval")])
    metrics = json.loads(stdout)
    result = {
        "run": shown(run_dir),
        "command": relative(rebuilt_command("classifier", settings, run_dir), ROOT),
        "epoch_seconds_sum": round(sum(epoch["seconds"] for epoch in history), 1),
        "epochs": len(history),
        "carved_best": {key: best[key] for key in ("epoch", "val_accuracy", "val_balanced_accuracy")},
        "last_epoch": history[-1],
        "evaluation": {
            "command": relative("fashionlens " + " ".join(evaluate), ROOT),
            "val": {key: metrics.get(key) for key in KEYS},
        },
    }
    print(json.dumps(write_result(options.results, result), indent=2))


if __name__ == "__main__":
    main()
