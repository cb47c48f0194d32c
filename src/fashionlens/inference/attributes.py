"""Garment attributes (pattern, sleeve, colour) from what the Analyzer already computes for a garment.

Each attribute is a linear head (a multinomial logistic regression) on the classifier's pooled backbone
features, the garment's embedding, so the classifier's one call per garment serves the category, the
embedding and every attribute, on every backend (torch, onnx, onnx-int8). A head may also read what the
colour step computes anyway: the garment's pixel colour features (color_names.color_features and
color_histogram), the pixel colour model's probabilities of the 13 names (color_names.ColorNamer: a
colour head that reads them must be refitted when that model is) and the texture statistics of its box's
pixels (texture.texture_features: no model call, computed only where a head reads them); and the
statistics of the classifier's early feature maps (analyzer_models.stage_statistics: an output of the
same call), which keep the colour and texture that the pooled last layer has mostly given up for the
category.
The heads were fitted on the street train garments' hand labels (benchmarks/attributes.py) and ship as a
small JSON file, weights/attributes.json, that records the classifier they were fitted on: features of
another classifier mean nothing to them, so such a file is refused (load_heads), and the shipped file
is simply not used with another classifier (the garments then carry no pattern or sleeve).
Sleeve length is predicted for upper-body and full-body garments only (trousers have none).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np

from fashionlens.core.errors import FashionLensError
from fashionlens.inference.default_models import WEIGHTS_DIR

WEIGHTS = WEIGHTS_DIR / "attributes.json"
FORMAT = "fashionlens-attribute-heads/1"
PatternName = Literal["solid", "striped", "checked", "floral", "dotted", "graphic", "other"]
SleeveName = Literal["sleeveless", "short", "long"]
PATTERNS: tuple[str, ...] = get_args(PatternName)
SLEEVES: tuple[str, ...] = get_args(SleeveName)
SLEEVE_REGIONS = ("upper", "full")
# what a head may read, in its `inputs` order
INPUTS = (
    "embedding",
    "color_features",
    "color_histogram",
    "color_probabilities",
    "texture_features",
    "stage_features",
)
DIGITS = 4  # probabilities in the JSON, as the Analyzer rounds its scores


@dataclass(frozen=True)
class Prediction:
    """One attribute's answer: the most probable name, its probability, and every name's probability."""

    name: str
    probability: float
    probabilities: dict[str, float]

    @classmethod
    def of(cls, names: tuple[str, ...] | list[str], probabilities: np.ndarray) -> "Prediction":
        best = int(np.argmax(probabilities))  # the first of equal ones: deterministic
        return cls(names[best], float(probabilities[best]), {name: float(p) for name, p in zip(names, probabilities)})

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "probability": round(self.probability, DIGITS),
            "probabilities": {name: round(p, DIGITS) for name, p in self.probabilities.items()},
        }


@dataclass(frozen=True)
class LinearHead:
    """Standardisation and a logistic regression's weights, as fitted; applies only to `regions`
    (None: every garment)."""

    names: tuple[str, ...]
    inputs: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray  # names x features
    intercept: np.ndarray
    regions: tuple[str, ...] | None = None

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """Softmax probabilities (N x names) of feature rows (N x features, the inputs concatenated)."""
        logits = ((features - self.mean) / self.scale) @ self.coef.T + self.intercept
        exp = np.exp(logits - logits.max(axis=1, keepdims=True))
        return exp / exp.sum(axis=1, keepdims=True)

    def applies_to(self, region: str | None) -> bool:
        return self.regions is None or region in self.regions

    def to_json(self) -> dict[str, Any]:
        def rounded(values: np.ndarray) -> Any:  # 7 significant digits: float32 precision, a smaller file
            return np.vectorize(lambda v: float(f"{v:.7g}"), otypes=[float])(values).tolist()

        return {
            "names": list(self.names),
            "inputs": list(self.inputs),
            "regions": self.regions and list(self.regions),
            "mean": rounded(self.mean),
            "scale": rounded(self.scale),
            "coef": rounded(self.coef),
            "intercept": rounded(self.intercept),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "LinearHead":
        unknown = set(data["inputs"]) - set(INPUTS)
        if unknown:
            raise FashionLensError(f"attribute head reads unknown inputs {sorted(unknown)}")
        regions = data.get("regions")
        mean, scale, coef, intercept = (
            np.asarray(data[key], dtype=np.float64) for key in ("mean", "scale", "coef", "intercept")
        )
        return cls(
            tuple(data["names"]),
            tuple(data["inputs"]),
            mean,
            scale,
            coef,
            intercept,
            regions=None if regions is None else tuple(regions),
        )


@dataclass(frozen=True)
class AttributeHeads:
    """The heads fitted on one classifier's features (`classifier`: its model fingerprint)."""

    classifier: str
    heads: dict[str, LinearHead]  # "pattern", "sleeve", "colour" (each optional)
    about: dict[str, Any]  # how they were fitted: data, chosen hyper-parameters

    def reads(self, input_name: str) -> bool:
        """Whether any head reads `input_name` (one of INPUTS): what is not read need not be computed."""
        return any(input_name in head.inputs for head in self.heads.values())

    def predict(self, name: str, inputs: Mapping[str, np.ndarray | None], region: str | None) -> Prediction | None:
        """Head `name`'s prediction for one garment, None when there is no such head, it does not apply
        to the garment's region or an input it reads is missing. `inputs`: each input's vector (INPUTS)."""
        head = self.heads.get(name)
        if head is None or not head.applies_to(region) or any(inputs.get(key) is None for key in head.inputs):
            return None
        features = np.concatenate([np.asarray(inputs[key], dtype=np.float64).ravel() for key in head.inputs])
        return Prediction.of(head.names, head.probabilities(features[None, :])[0])

    @cached_property  # the Analyzer's description carries it, and the service reads that on every request
    def version(self) -> str:
        """Identifies the heads' weights: a catalogue records it with its items' colours, patterns and
        sleeves, and says to reindex when the shipped heads change."""
        heads = {name: head.to_json() for name, head in self.heads.items()}
        return hashlib.sha256(json.dumps(heads, sort_keys=True).encode()).hexdigest()[:12]

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "classifier": self.classifier,
            "about": self.about,
            "heads": {name: head.to_json() for name, head in self.heads.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "AttributeHeads":
        if data.get("format") != FORMAT:
            raise FashionLensError(f"not an attribute heads file (format {data.get('format')!r}, expected {FORMAT})")
        return cls(
            data["classifier"],
            {name: LinearHead.from_json(head) for name, head in data["heads"].items()},
            data.get("about", {}),
        )


def read_heads(path: str | Path) -> AttributeHeads:
    try:
        return AttributeHeads.from_json(json.loads(Path(path).read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError) as error:
        raise FashionLensError(f"{path}: cannot read attribute heads ({error})") from error


def load_heads(path: str | Path, classifier: str) -> AttributeHeads:
    """The heads in `path`, refused unless they were fitted on the classifier with fingerprint `classifier`."""
    heads = read_heads(path)
    if heads.classifier != classifier:
        raise FashionLensError(
            f"{path}: attribute heads fitted on classifier {heads.classifier}, not on "
            f"{classifier}; refit them on this classifier (benchmarks/attributes.py --write)"
        )
    return heads


def shipped_heads(classifier: str) -> AttributeHeads | None:
    """The shipped heads when they were fitted on this classifier, else None (no attributes)."""
    if not WEIGHTS.is_file():
        return None
    heads = read_heads(WEIGHTS)
    return heads if heads.classifier == classifier else None
