"""What a checkpoint says about its model, in plain Python (no torch: the CLI's `--help` reads these defaults)."""

from __future__ import annotations

DEFAULT_CONTEXT_MARGIN = 0.1  # share of the box's width/height added on each side of a garment crop
