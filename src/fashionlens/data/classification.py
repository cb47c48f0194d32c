"""ClassificationDataset: one item per labelled garment, as the whole image (`img`) or as the garment's
crop with a context margin plus the box's geometry (`img+bbox`); and the choices made before training
(classes, the train/val split, class balance).

Garments whose box has a problem (Box.problem) are skipped in both modes, so `img` and `img+bbox` see
the same garments and their scores compare. A garment without a box (a whole-image label) uses the
whole image as its box.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from PIL import Image
from torch.utils.data import ConcatDataset, Dataset, WeightedRandomSampler

from fashionlens.core.errors import FashionLensError, ImageError
from fashionlens.core.images import image_size, load_image
from fashionlens.core.model_meta import DEFAULT_CONTEXT_MARGIN
from fashionlens.core.records import Box, Sample
from fashionlens.data.coco import ANNOTATION_ID

MODES = ("img", "img+bbox")
GEOMETRY_FEATURES = 6  # centre x, centre y, width, height (relative), log aspect, relative area
MISSING_ATTRIBUTE = -1  # an attribute target that is not there: its loss leaves the garment out
ATTRIBUTE_COUNT = 3  # pattern, sleeve, colour (train.attribute_labels.ATTRIBUTES)


class BatchImageError(FashionLensError):
    """An unusable image met while loading a batch, as one line naming the file.

    A DataLoader worker's error reaches the main process rebuilt as `type(text of the worker's
    traceback)`; the traceback's last line holds the original message, so only that is kept.
    """

    def __init__(self, message: str):
        last = message.strip().splitlines()[-1]
        super().__init__(last.removeprefix(f"{type(self).__module__}.{type(self).__qualname__}: "))


@dataclass(frozen=True)
class GarmentItem:
    image: Path
    box: Box | None  # None: the whole image
    label: str
    target: int  # index into the class names; -1 for a label outside them (kept only for inference)
    annotation_id: int | None = None  # the COCO annotation's, which attribute hand labels refer to


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise FashionLensError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    return mode


class ClassificationDataset(Dataset):
    """Items are (image tensor, geometry tensor[6], target index); `skipped` counts what was left out."""

    def __init__(
        self,
        samples: list[Sample],
        class_names: list[str],
        mode: str,
        transform: Callable[[Image.Image], torch.Tensor],
        context_margin: float = DEFAULT_CONTEXT_MARGIN,
        keep_unknown_labels: bool = False,
        decode_size: int | None = None,
        crop: bool | None = None,
    ):
        self.mode, self.transform, self.context_margin = check_mode(mode), transform, context_margin
        # `img` models see the whole image in training; at inference they may see a garment's crop,
        # the way the Analyzer shows them each detected garment
        self.crop = mode == "img+bbox" if crop is None else crop
        self.class_names = list(class_names)
        self.items, self.skipped = garment_items(samples, self.class_names, keep_unknown_labels)
        # JPEG may decode at a reduced scale (no smaller than decode_size): much faster for large photos,
        # and only safe when no box has to be mapped onto the pixels
        self.draft_size = (decode_size, decode_size) if decode_size and not self.crop else None

    def __len__(self) -> int:
        return len(self.items)

    def set_epoch(self, epoch: int) -> None:
        """Tell an epoch-dependent transform (progressive resizing) which epoch is next."""
        if hasattr(self.transform, "set_epoch"):
            self.transform.set_epoch(epoch)

    @property
    def targets(self) -> list[int]:
        return [item.target for item in self.items]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        item = self.items[index]
        try:
            image = load_image(item.image, draft_size=self.draft_size)
        except ImageError as error:
            raise BatchImageError(str(error)) from None
        box = item.box or Box(0.0, 0.0, float(image.width), float(image.height))
        geometry = torch.tensor(box_geometry(box, image.width, image.height), dtype=torch.float32)
        if self.crop:
            image = crop_with_margin(image, box, self.context_margin)
        return self.transform(image), geometry, item.target


class AttributeLabelledDataset(ClassificationDataset):
    """For multi-task training: each target is a tensor, the category's index, then the garment's pattern,
    sleeve and colour indices from `attribute_labels` ({annotation id: indices}), each MISSING_ATTRIBUTE
    where the garment has no such label (every garment of a source without annotation ids)."""

    def __init__(self, samples: list[Sample], attribute_labels: Mapping[int, tuple[int, ...]], **options):
        super().__init__(samples, **options)
        self.attribute_labels = attribute_labels

    def attributes_of(self, item: GarmentItem) -> tuple[int, ...]:
        """The item's attribute indices, MISSING_ATTRIBUTE where it has no label."""
        missing = (MISSING_ATTRIBUTE,) * ATTRIBUTE_COUNT
        return missing if item.annotation_id is None else self.attribute_labels.get(item.annotation_id, missing)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:  # type: ignore[override]
        image, geometry, target = super().__getitem__(index)
        return image, geometry, torch.tensor([target, *self.attributes_of(self.items[index])])


class CombinedDataset(ConcatDataset):
    """Garment datasets of one class list trained on as one (catalogue photos beside street crops)."""

    def __init__(self, datasets: list[ClassificationDataset]):
        super().__init__(datasets)
        self.class_names = datasets[0].class_names
        self.garment_datasets = datasets  # ConcatDataset.datasets is typed as plain Dataset

    @property
    def targets(self) -> list[int]:
        return [target for dataset in self.garment_datasets for target in dataset.targets]

    def set_epoch(self, epoch: int) -> None:
        for dataset in self.garment_datasets:
            dataset.set_epoch(epoch)


def garment_items(
    samples: list[Sample], class_names: list[str], keep_unknown: bool
) -> tuple[list[GarmentItem], Counter]:
    """One item per garment with a label among `class_names` (or any label, with keep_unknown) and a usable box."""
    index = {name: i for i, name in enumerate(class_names)}
    items: list[GarmentItem] = []
    skipped: Counter = Counter()
    for sample in samples:
        size = (sample.width, sample.height)
        for garment in sample.garments:
            if not garment.category:
                continue
            if garment.category not in index and not keep_unknown:
                skipped["label not among the classes"] += 1
                continue
            if garment.box is not None:
                if None in size:  # readers without sizes: read the header once, only for boxed images
                    size = image_size(sample.image)
                problem = garment.box.problem(*size)
                if problem:
                    skipped[f"box problem: {problem.split(' (')[0]}"] += 1
                    continue
            number = garment.attributes.get(ANNOTATION_ID)
            items.append(
                GarmentItem(
                    sample.image,
                    garment.box,
                    garment.category,
                    index.get(garment.category, -1),
                    number if isinstance(number, int) else None,
                )
            )
    return items, skipped


def box_geometry(box: Box, width: int, height: int) -> list[float]:
    """Where the garment is and how it is shaped, independent of the image's resolution."""
    return [
        (box.x1 + box.x2) / 2 / width,
        (box.y1 + box.y2) / 2 / height,
        box.width / width,
        box.height / height,
        math.log(max(box.width, 1e-6) / max(box.height, 1e-6)),
        box.area / (width * height),
    ]


def crop_with_margin(image: Image.Image, box: Box, margin: float) -> Image.Image:
    """The box grown by `margin` of its size on each side (context helps: collars, hems), clipped to the image."""
    return image.crop(margin_rect(box, margin, image.width, image.height))


def margin_rect(box: Box, margin: float, width: int, height: int) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) in whole pixels of crop_with_margin's crop: where the classifier's view
    lies in the photo (saliency maps are placed back there)."""
    dx, dy = box.width * margin, box.height * margin
    left, top = max(0, math.floor(box.x1 - dx)), max(0, math.floor(box.y1 - dy))
    right, bottom = min(width, math.ceil(box.x2 + dx)), min(height, math.ceil(box.y2 + dy))
    return left, top, max(right, left + 1), max(bottom, top + 1)


# ----------------------------------------------------------------------------- choices before training


def split_samples(
    samples: list[Sample], val_from_train: float | None, seed: int
) -> tuple[list[Sample], list[Sample], str]:
    """Train and validation samples and a sentence saying where validation comes from.

    Samples without a split count as train; `test` is never used for training. With `val_from_train`
    a stratified, seeded share of train becomes validation and the dataset's own val is left untouched.
    """
    train = [s for s in samples if s.split in (None, "train")]
    val = [s for s in samples if s.split == "val"]
    if not val_from_train:
        return train, val, f"validation: the data's val split ({len(val)} images)" if val else "no val split"
    if not 0 < val_from_train < 1:
        raise FashionLensError(f"--val-from-train must be between 0 and 1, got {val_from_train}")
    from sklearn.model_selection import train_test_split  # training only: the Analyzer imports this module

    labelled = [s for s in train if any(g.category for g in s.garments)]
    strata = stratum_labels([next(g.category for g in s.garments if g.category) for s in labelled])
    try:
        kept, carved = train_test_split(labelled, test_size=val_from_train, random_state=seed, stratify=strata)
    except ValueError as error:
        raise FashionLensError(
            f"--val-from-train {val_from_train}: cannot carve a stratified split ({error})"
        ) from None
    return kept, carved, f"validation: {len(carved)} images carved from train (stratified, seed {seed}); val untouched"


def stratum_labels(labels: list[str]) -> list[str]:
    """Labels to stratify on: a label seen once cannot be split, so such labels share one stratum."""
    counts = Counter(labels)
    strata = [label if counts[label] > 1 else "(rare)" for label in labels]
    if strata.count("(rare)") == 1:  # a single rare photo joins the most common stratum
        common = counts.most_common(1)[0][0]
        strata = [common if label == "(rare)" else label for label in strata]
    return strata


def choose_classes(train: list[Sample], restrict: list[str] | None) -> list[str]:
    """The training labels (sorted), or `restrict` in its order after checking each label is there."""
    counts = Counter(g.category for s in train for g in s.garments if g.category)
    if restrict:
        missing = [name for name in restrict if name not in counts]
        if missing:
            raise FashionLensError(
                f"--classes: {', '.join(missing)} not among the training labels ({', '.join(sorted(counts))})"
            )
        names = list(dict.fromkeys(restrict))
    else:
        names = sorted(counts)
    if len(names) < 2:
        raise FashionLensError(f"a classifier needs at least two classes, the training data has {names}")
    return names


def class_weights(targets: list[int], num_classes: int) -> np.ndarray:
    """Inverse-frequency weights normalised to mean 1 over the items (scikit-learn's 'balanced')."""
    from sklearn.utils.class_weight import compute_class_weight

    present = set(targets)
    missing = [i for i in range(num_classes) if i not in present]
    if missing:
        raise FashionLensError(f"class balance: classes {missing} have no usable training garment")
    return compute_class_weight("balanced", classes=np.arange(num_classes), y=np.asarray(targets))


def balanced_sampler(targets: list[int], num_classes: int, num_samples: int) -> WeightedRandomSampler:
    """Draws items with replacement so every class is seen about equally often."""
    weights = class_weights(targets, num_classes)[np.asarray(targets)]
    return WeightedRandomSampler(weights.tolist(), num_samples, replacement=True)


def describe_skipped(skipped: Counter, what: str) -> str | None:
    if not skipped:
        return None
    return f"{what}: skipped " + ", ".join(f"{count} ({reason})" for reason, count in sorted(skipped.items()))
