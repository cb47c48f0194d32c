"""What every benchmark recipe shares: where the data is (--data-path), how a `fashionlens` command is run
(printed first, timed, stdout captured), how a path is shown in results, and how a result is written.

Imported by the benchmark scripts next to it (run as `.venv/bin/python benchmarks/NAME.py`, so this folder
is on sys.path); fashionlens itself is the installed package (`pip install -e '.[bench]'`).

Every result file starts with a `recipe` object: the command line that wrote it, the git commit (and
whether the tree had uncommitted changes), the torch and fashionlens versions, the CPU, the thread count
and the date. It is named `recipe`, not `command`, because model cards look for training commands in the
results' `command` fields (release/model_card.py, recorded_command).
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

from fashionlens.core.files import write_text

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DATA_PATH = ROOT.parent / "shared" / "data"
FASHIONLENS = str(Path(sys.executable).with_name("fashionlens"))


def add_data_path(parser: argparse.ArgumentParser) -> None:
    """The --data-path option: the folder holding clothing/ and street/ (default ../shared/data)."""
    parser.add_argument(
        "--data-path",
        type=lambda text: Path(text).resolve(),
        default=DATA_PATH,
        help=f"folder of the real photos, with clothing/ and street/ (default: {shown(DATA_PATH)})",
    )


def clothing(data_path: Path) -> Path:
    """The labelled product photos (their labels CSV)."""
    return data_path / "clothing" / "labels.csv"


def street(data_path: Path) -> Path:
    """The street photos with boxed garments (their COCO annotations)."""
    return data_path / "street" / "annotations.coco.json"


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


def load_module(path: Path) -> ModuleType:
    """A helper module of the project outside the package (scripts/, tests/), loaded from its file: it is
    not installed, and putting its folder on sys.path would let its neighbours shadow installed modules."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module  # dataclasses look their module up while the body runs
    spec.loader.exec_module(module)
    return module


def git(*args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return done.stdout.strip()


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            name, _, value = line.partition(":")
            if name.strip() == "model name":
                return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def provenance(data_path: Path | None = None) -> dict:
    """What a result was measured with: command line, code, libraries, machine and date."""
    import fashionlens

    try:
        import torch

        torch_version, threads = torch.__version__, torch.get_num_threads()
    except ImportError:
        torch_version, threads = None, None
    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {
        "command": shlex.join(sys.argv),
        "cwd": shown(Path.cwd()),
        "data_path": shown(data_path),
        "git": {"commit": commit, "dirty": None if status is None else bool(status)},
        "python": platform.python_version(),
        "torch": torch_version,
        "fashionlens": fashionlens.__version__,
        "cpu": {"model": cpu_model(), "cores": os.cpu_count()},
        "threads": threads,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def write_result(path: Path, result: dict, data_path: Path | None = None) -> dict:
    """Write `result` as JSON (whole or not at all) with the `recipe` object first; return what was written."""
    if "recipe" in result:
        raise ValueError("a result must not have its own 'recipe' key")
    document = {"recipe": provenance(data_path), **result}
    write_text(path, json.dumps(document, indent=2) + "\n")
    return document
