"""The benchmarks' one way to run a `fashionlens` command: printed first, timed, stdout captured.

Imported by the benchmark scripts next to it (run as `.venv/bin/python benchmarks/NAME.py`, so this
folder is on sys.path).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

FASHIONLENS = str(Path(sys.executable).with_name("fashionlens"))


def run(args: list[str]) -> tuple[float, str]:
    """Run one fashionlens command; return its wall time and stdout."""
    print("$ fashionlens " + " ".join(args), file=sys.stderr, flush=True)
    start = time.perf_counter()
    done = subprocess.run([FASHIONLENS, *args], stdout=subprocess.PIPE, text=True, check=True)
    return time.perf_counter() - start, done.stdout
