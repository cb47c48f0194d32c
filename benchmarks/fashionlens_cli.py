"""The benchmarks' one way to run a `fashionlens` command (printed first, timed, stdout captured) and to
show a path in their results.

Imported by the benchmark scripts next to it (run as `.venv/bin/python benchmarks/NAME.py`, so this
folder is on sys.path).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

FASHIONLENS = str(Path(sys.executable).with_name("fashionlens"))
ROOT = Path(__file__).resolve().parents[1]


def run(args: list[str]) -> tuple[float, str]:
    """Run one fashionlens command; return its wall time and stdout."""
    print("$ fashionlens " + " ".join(args), file=sys.stderr, flush=True)
    start = time.perf_counter()
    done = subprocess.run([FASHIONLENS, *args], stdout=subprocess.PIPE, text=True, check=True)
    return time.perf_counter() - start, done.stdout


def shown(path: str | Path | None) -> str | None:
    """A path as the results show it: relative to the project root when inside it, ../ when beside it."""
    if path is None:
        return None
    path = Path(path).resolve()
    for base, prefix in ((ROOT, ""), (ROOT.parent, "../")):
        if path.is_relative_to(base):
            return prefix + str(path.relative_to(base))
    return str(path)
