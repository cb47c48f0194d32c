"""`analyze --json` with the shipped models on sample street photos: the same bytes as the pinned file.

The pin was written before the package was reorganised into layers; any change of behaviour (a box, a
score, a colour, the JSON's keys or their order) shows here. The weights' folder is the only part of the
output that depends on where the repository lies, so the pin holds `{WEIGHTS}` in its place.

To pin a deliberate change: `python tests/test_analyze_golden.py` writes the file again.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import fashionlens

pytestmark = pytest.mark.slow  # the shipped models on eight photos, in a fresh process

PINNED = Path(__file__).parent / "golden" / "analyze_street_samples.json"
WEIGHTS = Path(fashionlens.__file__).parent / "weights"
STREET = Path(fashionlens.__file__).parent / "samples" / "street"
PHOTOS = sorted(path.relative_to(STREET) for path in (STREET / "images").glob("*.jpg"))[:8]


def analyze_json() -> str:
    """stdout of `fashionlens analyze PHOTOS --json`, run as a user runs it."""
    command = [Path(sys.executable).parent / "fashionlens", "analyze", *PHOTOS, "--json"]
    result = subprocess.run(command, capture_output=True, text=True, check=True, cwd=STREET)
    return result.stdout


def test_analyze_json_on_the_sample_photos_is_byte_identical_to_the_pin():
    expected = PINNED.read_text(encoding="utf-8").replace("{WEIGHTS}", str(WEIGHTS))
    assert analyze_json() == expected


if __name__ == "__main__":
    PINNED.write_text(analyze_json().replace(str(WEIGHTS), "{WEIGHTS}"), encoding="utf-8")
    print(f"{PINNED}: pinned")
