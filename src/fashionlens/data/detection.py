"""DetectionDataset: an image, its garment boxes and their region labels, for Faster R-CNN.

Readers keep every box as annotated; this is where bad boxes are mended or left out, with a count:
boxes slightly outside the image are clipped to it, empty, inverted or mostly-outside boxes are dropped.
Images without any garment are kept as negatives. With `whole_image_boxes`, a photo labelled as a
whole (a catalogue shot of one garment) is boxed by the whole image instead of being skipped.
Transforms (torchvision.transforms.v2) receive the image and its target together, so flips and
resizes move the boxes with the pixels.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace

import torch
from torch.utils.data import Dataset
from torchvision import tv_tensors
from torchvision.transforms import v2

from fashionlens.core.images import image_size, load_image
from fashionlens.core.records import REGIONS, Box, Sample

# A box clipped to the image must keep at least this share of its area; less means the annotation
# is not "slightly outside" but misplaced (wrong image size, swapped coordinates), so it is dropped.
MIN_KEPT_AREA = 0.5
MIN_SIDE = 1.0  # pixels: thinner boxes are degenerate for the RPN's box coder


@dataclass
class Target:
    """The usable boxes of one image (XYXY pixels of the original image) and their 1-based labels."""

    boxes: list[list[float]]
    labels: list[int]


def clean_box(box: Box, width: int, height: int) -> tuple[Box | None, str | None]:
    """The box to train on (clipped when slightly outside) or None, and what was done to it."""
    problem = box.problem(None, None)
    if problem is not None:
        return None, f"dropped: {problem}"
    if box.problem(width, height) is None:
        return box, None
    clipped = Box(max(box.x1, 0.0), max(box.y1, 0.0), min(box.x2, float(width)), min(box.y2, float(height)))
    if clipped.width < MIN_SIDE or clipped.height < MIN_SIDE or clipped.area < MIN_KEPT_AREA * box.area:
        return None, "dropped: box mostly outside the image"
    return clipped, "clipped to the image"


def is_person_box(sample: Sample) -> bool:
    """StreetStyle's box surrounds the whole person, not a garment: it says nothing about regions."""
    return sample.attributes.get("box") == "person"


def unusable(sample: Sample) -> str | None:
    """Why a sample cannot show where garments are, or None. Only unlabelled images are negatives: a
    photo labelled as a whole (or by a person box) holds garments whose place nobody marked."""
    if is_person_box(sample):
        return "person boxes, not garment boxes"
    if sample.garments and all(garment.box is None for garment in sample.garments):
        return "whole-image labels only (no box)"
    return None


def with_whole_image_boxes(sample: Sample) -> Sample:
    """The sample with each whole-image label of a known region boxed by the whole image.

    Only photos labelled as a whole change (no garment boxed, no person box): there the garment is the
    photo's subject, so the image is its box. Labels without a region (shoes, hats, "Not sure") keep no
    box, so a photo holding only those is still skipped as "whole-image labels only".
    """
    if is_person_box(sample) or not any(garment.region for garment in sample.garments):
        return sample
    if any(garment.box is not None for garment in sample.garments):
        return sample
    width, height = sample.width, sample.height
    if width is None or height is None:
        width, height = image_size(sample.image)
    whole = Box(0.0, 0.0, float(width), float(height))
    garments = [replace(garment, box=whole) if garment.region else garment for garment in sample.garments]
    return replace(sample, width=width, height=height, garments=garments)


def build_target(sample: Sample, class_names: tuple[str, ...], counts: Counter) -> Target | None:
    """The sample's target, or None when it cannot be used (see `unusable`, or all its boxes are bad):
    training on it would teach "no garment here"."""
    reason = unusable(sample)
    if reason:
        counts[f"images skipped: {reason}"] += 1
        return None
    regional = [g for g in sample.garments if g.region in class_names]
    counts.update(
        "garment without a region of " + "/".join(class_names) for g in sample.garments if g.region not in class_names
    )
    width, height = sample.width, sample.height
    if regional and (width is None or height is None):
        width, height = image_size(sample.image)
    boxes, labels = [], []
    for garment in regional:
        assert width is not None and height is not None  # read from the image above when a garment is regional
        box, note = clean_box(garment.box, width, height) if garment.box else (None, "dropped: garment without a box")
        if note:
            counts[note] += 1
        if box is not None:
            boxes.append(box.as_list())
            labels.append(class_names.index(garment.region) + 1)  # 0 is Faster R-CNN's background
    if regional and not boxes:
        counts["images skipped: no usable box"] += 1
        return None
    return Target(boxes, labels)


def describe_problems(problems: Counter, what: str) -> str | None:
    """One line for the run's log, e.g. "train: clipped to the image (1); dropped: zero-area box (2)"."""
    if not problems:
        return None
    return f"{what}: " + "; ".join(f"{reason} ({count})" for reason, count in sorted(problems.items()))


class DetectionDataset(Dataset):
    """Items are (image tensor, target dict with "boxes", "labels", "image_id", "orig_size").

    `skip_unusable=False` keeps every sample in order (for prediction): images whose boxes cannot be
    used get an empty target instead of being left out. `whole_image_boxes=True` boxes whole-image
    labels by the image (see `with_whole_image_boxes`); `samples` then holds those boxed copies, so
    validation scores against the same boxes. `problems` counts what was mended or left out.
    """

    def __init__(
        self,
        samples: list[Sample],
        transform: v2.Transform,
        class_names: tuple[str, ...] = REGIONS,
        *,
        skip_unusable: bool = True,
        whole_image_boxes: bool = False,
    ):
        self.transform = transform
        self.class_names = tuple(class_names)
        self.problems: Counter = Counter()
        self.samples: list[Sample] = []
        self.targets: list[Target] = []
        for sample in samples:
            if whole_image_boxes:
                sample = with_whole_image_boxes(sample)
            target = build_target(sample, self.class_names, self.problems)
            if target is None and skip_unusable:
                continue
            self.samples.append(sample)
            self.targets.append(target or Target([], []))

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, dict]:
        image = load_image(self.samples[index].image)
        width, height = image.size
        boxes = torch.tensor(self.targets[index].boxes, dtype=torch.float32).reshape(-1, 4)
        target = {
            "boxes": tv_tensors.BoundingBoxes(boxes, format="XYXY", canvas_size=(height, width)),
            "labels": torch.tensor(self.targets[index].labels, dtype=torch.int64),
            "image_id": index,
            "orig_size": (height, width),
        }
        return self.transform(image, target)


def detection_transform(image_size: int, *, train: bool, scale_jitter: bool = False) -> v2.Compose:
    """Images scaled so the longer side is `image_size`; training adds a flip and light colour jitter.

    The detector is built with min_size = max_size = image_size, so its own resize is then a no-op
    and training and inference see the same scale. `scale_jitter` (training only) also zooms out onto
    a grey canvas or crops in around the garments, so ~700 street photos show each garment at many
    sizes: SSD's zoom-out and IoU crop, each on half the images.
    """
    steps: list[v2.Transform] = [v2.ToImage()]
    if train:
        steps += [v2.RandomHorizontalFlip(0.5), v2.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.2)]
    if train and scale_jitter:
        steps += [
            v2.RandomZoomOut(fill={tv_tensors.Image: 127, "others": 0}, side_range=(1.0, 1.6), p=0.5),
            v2.RandomApply([v2.RandomIoUCrop(min_scale=0.5, min_aspect_ratio=0.75, max_aspect_ratio=1.33)], p=0.5),
        ]
    steps += [v2.Resize(size=None, max_size=image_size)]
    if train:
        steps += [v2.SanitizeBoundingBoxes(min_size=MIN_SIDE)]  # a resize can shrink a box below a pixel
    steps += [v2.ToDtype(torch.float32, scale=True)]
    return v2.Compose(steps)


def collate_detection(batch: list[tuple[torch.Tensor, dict]]) -> tuple[list[torch.Tensor], list[dict]]:
    """Detection images differ in size: a batch is a list of images and a list of targets."""
    images, targets = zip(*batch)
    return list(images), list(targets)
