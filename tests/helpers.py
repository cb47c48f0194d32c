"""Helpers that several test files share; a test file imports them from here (or from conftest.py,
tiny_models.py, service_testing.py, postgres_testing.py), never from another test file.

Stand-in models whose answers are known, and the street photo they fit:
    StandInDetector(answers), MeanColorClassifier(), stand_in_analyzer(answers) -> (Analyzer, classifier)
    street_photo_bytes()  64x48: a RED garment in UPPER_BOX and a GREEN one in LOWER_BOX on GRAY
The command line in this process: run_cli(capsys, *args) -> (exit code, stdout, stderr)
A classifier checkpoint of known answers: save_classifier(run_dir) (CHECKPOINT_CLASSES, resnet18)
Products: product_csv(root, rows) with the six product rows SIX
Insights: planted_events() -> (events of three planted groups of customers, session -> group)
The customer page in a browser: choose_photo(page, data, name, mime) -> the /recommend response
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from conftest import PALETTE, make_image
from fashionlens.core.checkpoint import save_checkpoint
from fashionlens.core.records import REGIONS, Box
from fashionlens.inference.analyzer import Analyzer
from fashionlens.models.classifier import build_classifier
from tiny_models import CLASSES

RED, GREEN, GRAY = (220, 40, 40), (40, 160, 60), (235, 235, 235)
UPPER_BOX, LOWER_BOX = Box(8, 4, 48, 22), Box(10, 24, 46, 46)


class StandInDetector(nn.Module):
    """Answers fixed boxes (labels 1 upper, 2 lower) in the pixels of the image it is given."""

    def __init__(self, answers: list[tuple[Box, int, float]]):
        super().__init__()
        self.anchor = nn.Parameter(torch.zeros(1))
        self.answers = answers

    def forward(self, images):
        self.inference_mode = torch.is_inference_mode_enabled()
        boxes = torch.tensor([b.as_list() for b, _, _ in self.answers], dtype=torch.float32).reshape(-1, 4)
        labels = torch.tensor([label for _, label, _ in self.answers], dtype=torch.int64)
        scores = torch.tensor([score for _, _, score in self.answers], dtype=torch.float32)
        return [{"boxes": boxes, "labels": labels, "scores": scores} for _ in images]


class MeanColorClassifier(nn.Module):
    """Features: each channel's mean; records what it was shown."""

    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(3, len(CLASSES))
        self.seen: list[tuple[torch.Tensor, torch.Tensor]] = []
        self.inference_mode: list[bool] = []

    def forward(self, images, geometry=None):
        self.seen.append((images.clone(), geometry.clone()))
        self.inference_mode.append(torch.is_inference_mode_enabled())
        return self.head(self.backbone(images))


def stand_in_analyzer(answers, mode="img+bbox") -> tuple[Analyzer, MeanColorClassifier]:
    torch.manual_seed(0)
    classifier = MeanColorClassifier()
    classifier_checkpoint = {
        "kind": "classifier",
        "arch": "stand-in",
        "mode": mode,
        "class_names": CLASSES,
        "preprocessing": {"image_size": 32, "mean": [0, 0, 0], "std": [1, 1, 1], "context_margin": 0.0},
        "model": classifier.state_dict(),
    }
    detector_checkpoint = {
        "kind": "detector",
        "class_names": list(REGIONS),
        "preprocessing": {"image_size": 64},
        "score_threshold": 0.5,
    }
    return Analyzer(classifier, classifier_checkpoint, StandInDetector(answers), detector_checkpoint), classifier


def street_photo_bytes(exif_orientation: int | None = None) -> bytes:
    """64x48: a red upper garment and a green lower one on grey (the stand-in detector's boxes)."""
    picture = Image.new("RGB", (64, 48), GRAY)
    picture.paste(RED, tuple(int(v) for v in UPPER_BOX.as_list()))
    picture.paste(GREEN, tuple(int(v) for v in LOWER_BOX.as_list()))
    buffer = io.BytesIO()
    if exif_orientation is None:
        picture.save(buffer, format="PNG")
    else:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        picture.save(buffer, format="JPEG", quality=95, exif=exif.tobytes())
    return buffer.getvalue()


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    """Run `fashionlens ARGS` in-process through main(): (exit code, stdout, stderr)."""
    from fashionlens.cli import main

    old_argv = sys.argv
    sys.argv = ["fashionlens", *args]
    try:
        main()
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    finally:
        sys.argv = old_argv
    captured = capsys.readouterr()
    return code, captured.out, captured.err


CHECKPOINT_CLASSES = ["T-Shirt", "Pants", "Dress"]  # save_classifier's, in this order
CHECKPOINT_PREPROCESSING = {"image_size": 32, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}


def save_classifier(run_dir: Path, head: tuple[torch.Tensor, torch.Tensor] | None = None, favourite: int = 0):
    torch.manual_seed(0)
    model = build_classifier("resnet18", len(CHECKPOINT_CLASSES), "img").eval()
    with torch.no_grad():
        weight, bias = (
            head if head is not None else (torch.zeros_like(model.head.weight), torch.zeros(len(CHECKPOINT_CLASSES)))
        )
        if head is None:
            bias[favourite] = 5.0  # the lazy route: always the same class
        model.head.weight.copy_(weight)
        model.head.bias.copy_(bias)
    save_checkpoint(
        {
            "kind": "classifier",
            "arch": "resnet18",
            "mode": "img",
            "class_names": CHECKPOINT_CLASSES,
            "preprocessing": CHECKPOINT_PREPROCESSING,
            "config": {},
            "metrics": {},
            "epoch": 0,
            "model": model.state_dict(),
        },
        run_dir / "best.pt",
    )
    return model


PRODUCTS_HEADER = "id,image,name,price,category,url,kids,in_stock\n"


def product_csv(root: Path, rows: list[str], header: str = PRODUCTS_HEADER) -> Path:
    """Six product photos (a colour each) and a CSV with `rows` under `root`."""
    for number, color in enumerate(PALETTE):
        make_image(root / "photos" / f"p{number}.png", (32, 32), color)
    path = root / "products.csv"
    path.write_text(header + "".join(row + "\n" for row in rows), encoding="utf-8")
    return path


SIX = [
    f"SKU-{n},photos/p{n}.png,Item {n},{10 * (n + 1)},{cat},https://shop/{n},{kids},{stock}"
    for n, (cat, kids, stock) in enumerate(
        [
            ("T-Shirt", "True", "yes"),
            ("Pants", "False", "yes"),
            ("Dress", "False", "no"),
            ("T-Shirt", "False", "no"),
            ("Pants", "True", "yes"),
            ("Skirt", "False", "yes"),
        ]
    )
]

GROUPS = {  # what each planted group wears: (category, colour) choices
    "office": [("Shirt", "White"), ("Pants", "Black"), ("Blazer", "Gray")],
    "summer": [("Dress", "Red"), ("Shorts", "Yellow"), ("Dress", "Pink")],
    "street": [("Hoodie", "Black"), ("Jeans", "Blue"), ("Sneakers", "White")],
}


def planted_events(seed: int = 0, per_group: int = 30) -> tuple[list[dict], dict[str, str]]:
    """Sessions of three groups; each analyses 2-3 photos of 2 garments drawn from its group's wardrobe,
    with one garment in ten drawn from another group's (customers are not uniforms)."""
    rng = np.random.default_rng(seed)
    names = list(GROUPS)
    events, truth = [], {}
    for group in names:
        for i in range(per_group):
            session = f"{group}-{i}"
            truth[session] = group
            for _ in range(rng.integers(2, 4)):
                garments = []
                for _ in range(2):
                    source = group if rng.random() > 0.1 else names[rng.integers(3)]
                    category, color = GROUPS[source][rng.integers(3)]
                    garments.append({"region": "upper", "category": category, "color": color})
                events.append(
                    {"time": "2026-11-02T10:00:00Z", "kind": "analysis", "session": session, "garments": garments}
                )
    clicks = [
        {
            "time": "2026-11-02T10:01:00Z",
            "kind": "recommendation",
            "session": "office-0",
            "recommended": ["a", "b"],
            "garments": [],
        },
        {"time": "2026-11-02T10:02:00Z", "kind": "click", "session": "office-0", "item": "a"},
    ]
    return events + clicks, truth


def choose_photo(page, data: bytes, name: str, mime: str):
    """Choose a file in the customer page's photo input; returns the /recommend response the page received."""
    with page.expect_response(lambda response: response.url.endswith("/recommend")) as answer:
        page.get_by_label("Take or choose a photo").set_input_files(
            files={"name": name, "mimeType": mime, "buffer": data}
        )
    return answer.value
