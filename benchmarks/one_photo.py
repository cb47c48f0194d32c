"""Where the time of a one-photo `fashionlens analyze` goes: start-up and imports, loading the models, the
analysis itself (the first photo, then a second one).

    .venv/bin/python benchmarks/one_photo.py [PHOTO] [--runs 3] [--results benchmarks/results/one_photo.json]

Prints the wall time of the whole command (a fresh process, best of --runs), then one in-process run
timed phase by phase; with --results, writes them too. The photo is an embedded sample by default, so
this recipe takes no --data-path. Python's bytecode cache matters: with PYTHONDONTWRITEBYTECODE=1 every start
compiles torch's sources again (run with it unset, as after `pip install`).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from recipe import ROOT, shown, write_result

PHOTO = ROOT / "src" / "fashionlens" / "samples" / "street" / "images" / "0003.jpg"


def command_seconds(photo: Path, runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", "from fashionlens.cli import main; main()", "analyze", str(photo), "--no-log"],
            check=True,
            capture_output=True,
        )
        best = min(best, time.perf_counter() - start)
    return best


def phases(photo: Path) -> dict[str, float]:
    clock = [time.perf_counter()]

    def lap() -> float:
        clock.append(time.perf_counter())
        return clock[-1] - clock[-2]

    import torch  # noqa: F401  what the command imports once it runs
    import torchvision  # noqa: F401

    from fashionlens.cli.options import ModelChoice, load_analyzer

    imports = lap()
    analyzer = load_analyzer(ModelChoice())
    load = lap()
    analyzer.analyze_paths([photo])
    first = lap()
    analyzer.analyze_paths([photo])
    return {"imports": imports, "models load": load, "first photo": first, "next photo": lap()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photo", nargs="?", type=Path, default=PHOTO)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--results", type=Path, help="also write the times to this JSON file")
    args = parser.parse_args()
    wall = command_seconds(args.photo, args.runs)
    print(f"fashionlens analyze, one photo: {wall:.2f} s wall (best of {args.runs})")
    timed = phases(args.photo)
    print(", ".join(f"{name} {seconds:.2f} s" for name, seconds in timed.items()))
    if args.results:
        result = {
            "photo": shown(args.photo),
            "command_seconds_best": round(wall, 3),
            "runs": args.runs,
            "in_process_seconds": {name: round(seconds, 3) for name, seconds in timed.items()},
        }
        print(json.dumps(write_result(args.results, result), indent=2))


if __name__ == "__main__":
    main()
