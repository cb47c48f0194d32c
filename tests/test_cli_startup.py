"""`fashionlens --help` starts fast: the command modules import torch and friends only when a command runs."""

from __future__ import annotations

import json
import subprocess
import sys

from fashionlens.cli import train, train_detector
from fashionlens.models import classifier, detector

HEAVY = ("torch", "torchvision", "sklearn", "scipy", "matplotlib", "pycocotools", "faiss", "onnx", "onnxruntime")


def test_importing_the_commands_loads_no_heavy_library():
    # a fresh interpreter: this test process has long imported torch
    code = ("import json, sys; import fashionlens.cli; "
            f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(done.stdout) == []


def test_option_defaults_written_out_match_the_models():
    assert train.DEFAULT_ARCH == classifier.DEFAULT_ARCH
    assert train_detector.DEFAULT_ARCH == detector.DEFAULT_ARCH
    assert train_detector.ARCHS == tuple(detector.ARCHS)
