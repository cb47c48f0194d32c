"""Write requirements.lock, every release that `make` installs, from pip's resolution of pyproject.toml.

    make lock    # after changing the dependencies in pyproject.toml or the pins in constraints.txt

`make` installs the lock with `--no-deps`, exactly as listed, so the packages left out here are never
installed: torch's GPU compiler triton (0.9 GB) is of no use on the CPU builds' machines this project
targets, and a small disk is what the install meets first. The report comes from
`pip install --dry-run --ignore-installed --report FILE`, which resolves without installing anything.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

LEFT_OUT = {"triton": "torch's compiler for GPU kernels, unused on a CPU"}


def locked_lines(report: dict, project: str) -> list[str]:
    """`name==version` for every package of pip's report, but the project itself and LEFT_OUT."""
    releases = {(item["metadata"]["name"], item["metadata"]["version"]) for item in report["install"]}
    kept = [(name, version) for name, version in releases if name.lower() not in {project, *LEFT_OUT}]
    return [f"{name}=={version}" for name, version in sorted(kept, key=lambda release: release[0].lower())]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("report", type=Path, help="the JSON report of `pip install --dry-run --report`")
    parser.add_argument("--out", type=Path, default=Path("requirements.lock"))
    args = parser.parse_args()
    lines = locked_lines(json.loads(args.report.read_text()), project="fashionlens")
    header = [
        "# Every release `make` installs (with --no-deps), written by `make lock`: edit pyproject.toml instead.",
        *[f"# Left out: {name}, {why}." for name, why in LEFT_OUT.items()],
    ]
    # written whole, then renamed (as core/files.atomic_write does; not imported: `make lock` runs with any
    # python3, before .venv and its torch exist)
    temporary = args.out.with_suffix(".tmp")
    temporary.write_text("\n".join(header + lines) + "\n")
    temporary.replace(args.out)
    print(f"{args.out}: {len(lines)} releases")


if __name__ == "__main__":
    main()
