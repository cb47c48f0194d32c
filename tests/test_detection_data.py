"""DetectionDataset: bad boxes mended or left out with a count, negatives kept, boxes moving with the image."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import tv_tensors

from fashionlens.core.records import Box, Garment, Sample
from fashionlens.data.detection import (
    DetectionDataset,
    clean_box,
    collate_detection,
    describe_problems,
    detection_transform,
    with_whole_image_boxes,
)


def write_image(path, width, height, box=None):
    """A black image with a white rectangle where `box` is, so the pixels show where the box must go."""
    pixels = np.zeros((height, width, 3), dtype=np.uint8)
    if box is not None:
        x1, y1, x2, y2 = box
        pixels[y1:y2, x1:x2] = 255
    Image.fromarray(pixels).save(path)
    return path


def bright_extent(image: torch.Tensor) -> list[float]:
    """[x1, y1, x2, y2] of the pixels brighter than mid-grey."""
    rows, cols = torch.nonzero(image.mean(0) > 0.5, as_tuple=True)
    return [float(cols.min()), float(rows.min()), float(cols.max() + 1), float(rows.max() + 1)]


def test_clean_box_clips_slightly_outside_and_drops_degenerate():
    assert clean_box(Box(10, 10, 50, 60), 100, 80) == (Box(10, 10, 50, 60), None)
    assert clean_box(Box(-4, 10, 50, 84), 100, 80) == (Box(0, 10, 50, 80), "clipped to the image")
    assert clean_box(Box(60, 10, 160, 50), 100, 80) == (None, "dropped: box mostly outside the image")
    assert clean_box(Box(120, 10, 160, 50), 100, 80) == (None, "dropped: box mostly outside the image")
    assert clean_box(Box(30, 10, 20, 50), 100, 80) == (None, "dropped: inverted box (x2 < x1 or y2 < y1)")
    assert clean_box(Box(30, 10, 30, 50), 100, 80) == (None, "dropped: zero-area box")


def test_dataset_skips_bad_boxes_with_counts_and_keeps_negatives(tmp_path):
    image = write_image(tmp_path / "a.png", 64, 48)
    samples = [
        Sample(
            image,
            64,
            48,
            garments=[
                Garment(Box(4, 4, 30, 40), "upper"),
                Garment(Box(-2, 20, 40, 50), "lower"),
                Garment(Box(10, 10, 10, 20), "full"),
                Garment(Box(5, 5, 9, 9), None, "shoe"),
            ],
        ),
        Sample(image, 64, 48),  # no garment: a negative
        Sample(image, 64, 48, garments=[Garment(None, "full", "Dress")]),  # whole-image label only
        Sample(image, 64, 48, garments=[Garment(None, None, "Shoes")]),  # not a negative: nobody boxed it
        Sample(image, 64, 48, garments=[Garment(Box(0, 0, 60, 48), "upper")], attributes={"box": "person"}),
        Sample(image, 64, 48, garments=[Garment(Box(9, 9, 3, 3), "upper")]),  # only a bad box
    ]
    dataset = DetectionDataset(samples, detection_transform(64, train=False))
    assert len(dataset) == 2
    assert dataset.targets[0].boxes == [[4, 4, 30, 40], [0, 20, 40, 48]]
    assert dataset.targets[0].labels == [1, 2]
    assert dataset.targets[1].boxes == [] and dataset.samples[1] is samples[1]
    assert dataset.problems == {
        "clipped to the image": 1,
        "dropped: zero-area box": 1,
        "dropped: inverted box (x2 < x1 or y2 < y1)": 1,
        "garment without a region of upper/lower/full": 1,
        "images skipped: whole-image labels only (no box)": 2,
        "images skipped: person boxes, not garment boxes": 1,
        "images skipped: no usable box": 1,
    }
    image_tensor, target = dataset[1]
    assert image_tensor.dtype == torch.float32 and tuple(image_tensor.shape) == (3, 48, 64)
    assert target["boxes"].shape == (0, 4) and target["labels"].shape == (0,)

    assert describe_problems(dataset.problems, "train").startswith(
        "train: clipped to the image (1); dropped: inverted box (x2 < x1 or y2 < y1) (1); dropped: zero-area box (1)"
    )
    everything = DetectionDataset(samples, detection_transform(64, train=False), skip_unusable=False)
    assert len(everything) == 6 and everything.targets[2].boxes == []


def test_whole_image_boxes_box_labels_of_a_region_by_the_image_and_skip_the_rest(tmp_path):
    image = write_image(tmp_path / "w.png", 40, 30)
    dress = Sample(image, garments=[Garment(None, "full", "Dress")])  # size unknown: read from the file
    pants = Sample(image, 40, 30, garments=[Garment(None, "lower", "Pants"), Garment(None, None, "Hat")])
    shoes = Sample(image, 40, 30, garments=[Garment(None, None, "Shoes")])
    boxed = Sample(image, 40, 30, garments=[Garment(Box(2, 2, 20, 20), "upper"), Garment(None, "lower", "Pants")])
    person = Sample(image, 40, 30, garments=[Garment(None, "upper", "Shirt")], attributes={"box": "person"})
    dataset = DetectionDataset(
        [dress, pants, shoes, boxed, person], detection_transform(40, train=False), whole_image_boxes=True
    )
    assert len(dataset) == 3
    assert [target.boxes for target in dataset.targets] == [[[0, 0, 40, 30]], [[0, 0, 40, 30]], [[2, 2, 20, 20]]]
    assert [target.labels for target in dataset.targets] == [[3], [2], [1]]  # full, lower, upper
    # the dataset keeps the boxed copies (validation scores against them); the readers' samples are untouched
    first = dataset.samples[0]
    assert first.garments[0].box == Box(0, 0, 40, 30) and (first.width, first.height) == (40, 30)
    assert dress.garments[0].box is None and dataset.samples[2] is boxed
    assert dataset.problems == {
        "garment without a region of upper/lower/full": 1,  # the hat beside the pants
        "images skipped: whole-image labels only (no box)": 1,  # shoes: no region, no box
        "dropped: garment without a box": 1,  # a photo with boxes keeps its unboxed garment unboxed
        "images skipped: person boxes, not garment boxes": 1,
    }
    image_tensor, target = dataset[0]
    assert target["boxes"].tolist() == [[0.0, 0.0, 40.0, 30.0]] and tuple(image_tensor.shape) == (3, 30, 40)
    assert with_whole_image_boxes(shoes) is shoes
    assert len(DetectionDataset([dress, pants], detection_transform(40, train=False))) == 0  # off by default


def test_dataset_reads_image_size_when_the_reader_did_not(tmp_path):
    image = write_image(tmp_path / "b.png", 40, 30)
    sample = Sample(image, garments=[Garment(Box(20, 5, 44, 25), "upper")])
    dataset = DetectionDataset([sample], detection_transform(40, train=False))
    assert dataset.targets[0].boxes == [[20, 5, 40, 25]]


def test_eval_transform_resizes_longer_side_and_scales_boxes_exactly(tmp_path):
    image = write_image(tmp_path / "c.png", 64, 32, box=(8, 4, 24, 20))
    sample = Sample(image, 64, 32, garments=[Garment(Box(8, 4, 24, 20), "lower")])
    image_tensor, target = DetectionDataset([sample], detection_transform(128, train=False))[0]
    assert tuple(image_tensor.shape) == (3, 64, 128)
    assert isinstance(target["boxes"], tv_tensors.BoundingBoxes)
    assert target["boxes"].tolist() == [[16.0, 8.0, 48.0, 40.0]]
    assert target["orig_size"] == (32, 64) and target["labels"].tolist() == [2]


def test_train_transform_flips_boxes_with_the_pixels(tmp_path):
    image = write_image(tmp_path / "d.png", 64, 32, box=(8, 4, 24, 20))
    sample = Sample(image, 64, 32, garments=[Garment(Box(8, 4, 24, 20), "upper")])
    dataset = DetectionDataset([sample], detection_transform(128, train=True))
    seen = set()
    for seed in range(12):
        torch.manual_seed(seed)
        image_tensor, target = dataset[0]
        box = target["boxes"].tolist()[0]
        assert box in ([16.0, 8.0, 48.0, 40.0], [80.0, 8.0, 112.0, 40.0])  # as is, or mirrored: 128 - x
        assert bright_extent(image_tensor) == pytest.approx(box, abs=1.0)  # the box sits on the rectangle
        seen.add(box[0])
    assert seen == {16.0, 80.0}  # both outcomes of the random flip were exercised


def test_scale_jitter_shows_the_garment_at_other_sizes_with_its_box_on_it(tmp_path):
    image = write_image(tmp_path / "j.png", 64, 48, box=(16, 12, 48, 36))
    sample = Sample(image, 64, 48, garments=[Garment(Box(16, 12, 48, 36), "upper")])
    dataset = DetectionDataset([sample], detection_transform(128, train=True, scale_jitter=True))
    widths = set()
    for seed in range(16):
        torch.manual_seed(seed)
        image_tensor, target = dataset[0]
        assert max(image_tensor.shape[1:]) == 128  # still scaled to the model's size
        box = target["boxes"].tolist()[0]
        assert bright_extent(image_tensor) == pytest.approx(box, abs=2.0)  # the box sits on the rectangle
        widths.add(round(box[2] - box[0]))
    assert min(widths) < 60 < max(widths)  # zoomed out (smaller than 64 px) and cropped in (larger)


def test_collate_keeps_images_of_different_sizes(tmp_path):
    first = Sample(write_image(tmp_path / "e.png", 40, 30), 40, 30)
    second = Sample(write_image(tmp_path / "f.png", 30, 40), 30, 40)
    dataset = DetectionDataset([first, second], detection_transform(40, train=False))
    images, targets = collate_detection([dataset[0], dataset[1]])
    assert [tuple(i.shape) for i in images] == [(3, 30, 40), (3, 40, 30)]
    assert [t["image_id"] for t in targets] == [0, 1]
