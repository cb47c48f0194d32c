"""What a checkpoint says about its model, in plain Python (no torch: the CLI's `--help` reads these defaults)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from fashionlens.core.errors import FashionLensError

DEFAULT_CONTEXT_MARGIN = 0.1  # share of the box's width/height added on each side of a garment crop


@dataclass(frozen=True)
class ModelMeta:
    """A model's metadata as a checkpoint (or an ONNX export's JSON) stores it, beside the weights
    (format: docs/architecture.md, "Run directory"). Read by one function, written by one, so that the
    rest of the code reads fields rather than string keys; the stored format is unchanged."""

    class_names: list[str]  # detector: the region names, without background
    preprocessing: dict[str, Any]  # image_size, mean, std, context_margin (classifier); min_size, max_size
    kind: str | None = None  # "classifier" | "detector"; None in the partial dicts predict_* also take
    arch: str | None = None
    mode: str | None = None  # classifier: "img" | "img+bbox"
    score_threshold: float | None = None  # detector: chosen on val
    anchor_aspect_ratios: list[float] | None = None  # detector
    norm: str | None = None  # detector: "frozen_batchnorm" | "groupnorm" | "batchnorm"
    fingerprint: str | None = None  # an ONNX export's: its source's model id
    path: str | None = None  # where it was read from (load_checkpoint adds it); never written

    @classmethod
    def from_checkpoint(cls, checkpoint: Mapping[str, Any]) -> ModelMeta:
        entries = {field.name: checkpoint[field.name] for field in fields(cls) if field.name in checkpoint}
        return cls(**entries)

    def as_dict(self) -> dict[str, Any]:
        """The entries a checkpoint stores (absent ones left out): what from_checkpoint read."""
        stored = {field.name: getattr(self, field.name) for field in fields(self) if field.name != "path"}
        return {key: value for key, value in stored.items() if value is not None}

    @property
    def name(self) -> str:
        """What an error message calls this model: its file, else its kind."""
        return self.path or self.kind or "checkpoint"

    @property
    def architecture(self) -> str:
        """`arch`, which every model builder needs (require_model_entries checks it is there)."""
        return self.required(self.arch, "arch")

    @property
    def classifier_mode(self) -> str:
        """A classifier's `mode`, which its model and its inputs depend on."""
        return self.required(self.mode, "mode")

    def required(self, value: str | None, entry: str) -> str:
        if value is None:
            raise FashionLensError(f"{self.name}: a damaged {self.kind} checkpoint (missing {entry})")
        return value

    @property
    def image_size(self) -> int:
        """The input's width (a classifier's) or longer side (a detector's)."""
        return int(self.preprocessing["image_size"])

    @property
    def context_margin(self) -> float:
        """The share of a garment's box added around its crop; 0 for checkpoints that predate it."""
        return float(self.preprocessing.get("context_margin", 0.0))
