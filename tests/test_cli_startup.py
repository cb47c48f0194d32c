"""`fashionlens --help` starts fast: the command modules import torch and friends only when a command runs."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys

import pytest

HEAVY = ("torch", "torchvision", "sklearn", "scipy", "matplotlib", "pycocotools", "faiss", "onnx", "onnxruntime")


def test_importing_the_commands_loads_no_heavy_library():
    # a fresh interpreter: this test process has long imported torch
    code = (
        f"import json, sys; import fashionlens.cli; print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(done.stdout) == []


def test_help_starts_without_torch_and_version_prints_the_package_version():
    code = (
        "import json, sys; from fashionlens.cli import main; sys.argv = ['fashionlens', *sys.argv[1:]]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)), file=sys.stderr)"
    )
    helped = subprocess.run([sys.executable, "-c", code, "--help"], capture_output=True, text=True, timeout=120)
    assert helped.returncode == 0 and "Usage: fashionlens" in helped.stdout
    assert json.loads(helped.stderr.strip().splitlines()[-1]) == []
    version = subprocess.run([sys.executable, "-c", code, "--version"], capture_output=True, text=True, timeout=120)
    assert version.stdout.strip() == f"fashionlens {importlib.metadata.version('fashionlens')}"


@pytest.mark.parametrize(
    "command",
    [[], ["analyze"], ["recommend"], ["train"], ["train", "classifier"], ["catalog"], ["catalog", "import"], ["serve"]],
)
def test_help_has_plain_labels_and_a_short_option(fashionlens, command):
    result = fashionlens(*command, "-h")
    assert result.returncode == 0 and "Usage: " in result.stdout
    for odd in ("<bool>", "<list[", "<path>", "<str>", "<int", "{"):
        assert odd not in result.stdout, odd
    if command == ["serve"]:  # the help is Markdown: text in <...> would vanish as an HTML tag
        assert "CATALOG.media/" in result.stdout and "MEDIA_DIR/photos" in result.stdout
