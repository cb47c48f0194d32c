"""Where the time of a one-photo `fashionlens analyze` goes: start-up and imports, loading the models, the
analysis itself (the first photo, then a second one).

    .venv/bin/python benchmarks/one_photo.py [PHOTO] [--runs 3]

Prints the wall time of the whole command (a fresh process, best of --runs), then one in-process run
timed phase by phase. Python's bytecode cache matters: with PYTHONDONTWRITEBYTECODE=1 every start
compiles torch's sources again (run with it unset, as after `pip install`).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
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

    from fashionlens.cli.analyze import load_analyzer

    imports = lap()
    analyzer = load_analyzer(None, None, False)
    load = lap()
    analyzer.analyze_paths([photo])
    first = lap()
    analyzer.analyze_paths([photo])
    return {"imports": imports, "models load": load, "first photo": first, "next photo": lap()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photo", nargs="?", type=Path, default=PHOTO)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"fashionlens analyze, one photo: {command_seconds(args.photo, args.runs):.2f} s wall (best of {args.runs})")
    print(", ".join(f"{name} {seconds:.2f} s" for name, seconds in phases(args.photo).items()))


if __name__ == "__main__":
    main()
