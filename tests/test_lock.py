"""requirements.lock: what `make` installs covers pyproject.toml, and `make lock` leaves triton out."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]


def locked_releases(path: Path) -> dict[str, str]:
    lines = [line for line in path.read_text().splitlines() if line and not line.startswith("#")]
    return {canonicalize_name(name): version for name, version in (line.split("==") for line in lines)}


def test_the_lock_pins_a_matching_release_of_every_dependency_in_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    required = [Requirement(text) for text in project["dependencies"] + project["optional-dependencies"]["dev"]]
    locked = locked_releases(ROOT / "requirements.lock")
    unmet = [
        str(requirement)
        for requirement in required
        if locked.get(canonicalize_name(requirement.name)) not in requirement.specifier
    ]
    assert unmet == [], f"run `make lock`: requirements.lock does not satisfy {unmet}"
    assert locked["torch"] == "2.14.1" and "triton" not in locked


def test_lock_script_writes_sorted_pins_without_the_project_and_triton(tmp_path):
    report = {
        "install": [
            {"metadata": {"name": name, "version": version}}
            for name, version in [
                ("torch", "2.14.1"),
                ("triton", "3.8.0"),
                ("fashionlens", "0.1.0"),
                ("Pillow", "12.0.0"),
                ("numpy", "2.3.0"),
            ]
        ]
    }
    (tmp_path / "report.json").write_text(json.dumps(report))
    out = tmp_path / "requirements.lock"
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "lock.py"), str(tmp_path / "report.json"), "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{out}: 3 releases"
    assert [line for line in out.read_text().splitlines() if not line.startswith("#")] == [
        "numpy==2.3.0",
        "Pillow==12.0.0",
        "torch==2.14.1",
    ]
    assert "# Left out: triton" in out.read_text()
