"""The classifier: builder, dataset items in both modes, one training step each, weights, inference."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision

from fashionlens.core.errors import FashionLensError
from fashionlens.core.records import Box, Garment, Sample
from fashionlens.data import read_dataset
from fashionlens.data.classification import (
    ClassificationDataset,
    balanced_sampler,
    box_geometry,
    choose_classes,
    class_weights,
    split_samples,
    stratum_labels,
)
from fashionlens.data.transforms import (
    ProgressiveTrainTransform,
    classification_eval_transform,
    classification_preprocessing,
    classification_train_transform,
    input_shape,
    progressive_sizes,
)
from fashionlens.models.classifier import (
    build_classifier,
    cached_torchvision_weights,
    check_image_size,
    classifier_from_checkpoint,
    predict_classifier,
)
from fashionlens.train.classifier import ClassifierSettings, ClassifierTask, check_settings

PRE = classification_preprocessing(32, context_margin=0.1)


@pytest.fixture
def boxed_samples(make_image, tmp_path: Path) -> list[Sample]:
    """Two 64x48 photos: one with a good box and a box outside the image, one whole-image label."""
    first = make_image(tmp_path / "a.png", (64, 48), (200, 30, 30))
    second = make_image(tmp_path / "b.png", (64, 48), (30, 30, 200))
    return [
        Sample(
            first,
            64,
            48,
            "train",
            "test",
            [
                Garment(Box(8, 4, 40, 28), "upper", "Shirt"),
                Garment(Box(50, 10, 90, 40), "lower", "Pants"),
                Garment(None, "upper", "Hat"),
            ],
        ),
        Sample(second, 64, 48, "train", "test", [Garment(None, "lower", "Pants")]),
    ]


def test_builder_takes_any_torchvision_classifier_and_swaps_its_head():
    for arch in ("resnet18", "mobilenet_v3_small"):
        model = build_classifier(arch, 5, "img").eval()
        assert model(torch.randn(2, 3, 32, 32)).shape == (2, 5)
        assert model.head.out_features == 5 and model.geometry is None
    with pytest.raises(FashionLensError, match="unknown architecture 'resnet5000'"):
        build_classifier("resnet5000", 5, "img")
    with pytest.raises(FashionLensError, match="unknown mode 'crop'"):
        build_classifier("resnet18", 5, "crop")


def test_img_bbox_model_uses_the_box_geometry():
    torch.manual_seed(0)
    model = build_classifier("resnet18", 3, "img+bbox").eval()
    images = torch.randn(1, 3, 32, 32).repeat(2, 1, 1, 1)
    geometry = torch.tensor([[0.5, 0.5, 1.0, 1.0, 0.0, 1.0], [0.2, 0.8, 0.3, 0.2, 0.4, 0.06]])
    logits = model(images, geometry)
    assert logits.shape == (2, 3)
    assert not torch.allclose(logits[0], logits[1])  # same pixels, different boxes: different answers


def test_image_size_below_the_architecture_minimum_is_refused():
    check_image_size("resnet18", 32)
    with pytest.raises(FashionLensError, match="--image-size 16 is below resnet18's minimum of 32 px"):
        check_image_size("resnet18", 16)
    with pytest.raises(FashionLensError, match="below vit_b_16's minimum of 224 px"):
        check_image_size("vit_b_16", 64)


def test_dataset_yields_one_item_per_usable_garment(boxed_samples):
    dataset = ClassificationDataset(
        boxed_samples, ["Pants", "Shirt"], "img+bbox", classification_eval_transform(PRE), context_margin=0.1
    )
    assert [(item.label, item.target) for item in dataset.items] == [("Shirt", 1), ("Pants", 0)]
    assert dataset.skipped == Counter({"box problem: box outside the 64x48 image": 1, "label not among the classes": 1})
    image, geometry, target = dataset[0]
    assert image.shape == (3, 32, 32) and target == 1
    assert geometry.tolist() == pytest.approx(box_geometry(Box(8, 4, 40, 28), 64, 48))
    _, whole_geometry, _ = dataset[1]  # no box: the whole image is the box
    assert whole_geometry.tolist() == pytest.approx([0.5, 0.5, 1.0, 1.0, np.log(64 / 48), 1.0])


def test_img_bbox_crops_the_box_with_its_margin(boxed_samples):
    seen = []
    dataset = ClassificationDataset(boxed_samples[:1], ["Shirt"], "img+bbox", seen.append, context_margin=0.25)
    dataset[0]
    assert seen[0].size == (48, 34)  # box 32x24 grown by 8 and 6 px on each side, clipped at the top (y -2 -> 0)
    ClassificationDataset(boxed_samples[:1], ["Shirt"], "img", seen.append)[0]
    assert seen[1].size == (64, 48)  # img mode: the whole photo
    ClassificationDataset(boxed_samples[:1], ["Shirt"], "img", seen.append, context_margin=0.25, crop=True)[0]
    assert seen[2].size == (48, 34)  # an img model shown the garment's crop, as the Analyzer does


def test_progressive_sizes_start_small_and_end_at_the_full_size():
    sizes = progressive_sizes(64, 112, 20)
    assert sizes[:6] == [64] * 6 and sizes[-4:] == [112] * 4  # a quarter at the start, a fifth at the end
    assert sizes == sorted(sizes) and all(size % 8 == 0 for size in sizes)
    assert progressive_sizes(64, 112, 1) == [112]  # a single epoch trains at the full size
    assert progressive_sizes(64, 112, 2) == [64, 112]


def test_a_progressive_dataset_changes_its_image_size_with_the_epoch(boxed_samples):
    transform = ProgressiveTrainTransform(PRE, [32, 48])
    dataset = ClassificationDataset(boxed_samples, ["Pants", "Shirt"], "img", transform)
    assert dataset[0][0].shape == (3, 32, 32)
    dataset.set_epoch(1)
    assert dataset[0][0].shape == (3, 48, 48)
    dataset.set_epoch(5)  # past the schedule: its last size
    assert dataset[0][0].shape == (3, 48, 48)


def test_a_portrait_input_keeps_its_shape_in_training_evaluation_and_progressive_epochs(boxed_samples):
    portrait = classification_preprocessing(32, image_height=48)
    assert input_shape(portrait) == (48, 32) and input_shape(portrait, 64) == (96, 64)
    assert "image_height" not in classification_preprocessing(32, image_height=32)  # square: as before
    dataset = ClassificationDataset(boxed_samples, ["Pants", "Shirt"], "img", classification_eval_transform(portrait))
    assert dataset[0][0].shape == (3, 48, 32)
    dataset = ClassificationDataset(
        boxed_samples, ["Pants", "Shirt"], "img", ProgressiveTrainTransform(portrait, [32, 40])
    )
    assert dataset[0][0].shape == (3, 48, 32)
    dataset.set_epoch(1)
    assert dataset[0][0].shape == (3, 60, 40)


def test_an_input_height_below_the_minimum_is_refused_before_reading_data():
    settings = ClassifierSettings(data="unused.csv", image_size=64, image_height=16)
    with pytest.raises(FashionLensError, match="--image-height 16 is below efficientnet_lite0's minimum of 32 px"):
        check_settings(settings)
    settings = ClassifierSettings(data="unused.csv", image_size=64, image_height=32, min_image_size=48)
    with pytest.raises(FashionLensError, match="--min-image-size 48 gives a 24 px side, which is below"):
        check_settings(settings)


def test_box_geometry_describes_position_size_and_aspect():
    assert box_geometry(Box(0, 0, 50, 25), 100, 100) == pytest.approx([0.25, 0.125, 0.5, 0.25, np.log(2), 0.125])


@pytest.mark.parametrize("mode", ["img", "img+bbox"])
def test_one_training_step_on_tiny_images(coco_dataset: Path, mode: str):
    samples = read_dataset(coco_dataset)
    train, _, _ = split_samples(samples, None, seed=0)
    names = choose_classes(train, None)
    dataset = ClassificationDataset(train, names, mode, classification_train_transform(PRE))
    assert len(dataset) == 5  # 5 garments in the 3 training photos
    images, geometry, targets = next(iter(torch.utils.data.DataLoader(dataset, batch_size=4)))
    torch.manual_seed(0)
    model = build_classifier("resnet18", len(names), mode)
    task = ClassifierTask("resnet18", mode, names, PRE)
    before = [p.detach().clone() for p in model.parameters()]
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    loss = task.losses(model.train(), (images, geometry, targets), torch.device("cpu"))["loss"]
    loss.backward()
    optimizer.step()
    assert torch.isfinite(loss) and loss.item() > 0
    assert all(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert set(task.train_metrics()) == {"accuracy", "balanced_accuracy"}


def test_torchvision_weights_are_taken_from_the_cache_only(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    assert cached_torchvision_weights("resnet18") is None  # and nothing was downloaded
    assert not (tmp_path / "torch").exists()
    url = torchvision.models.get_model_weights("resnet18").DEFAULT.url
    cached = tmp_path / "torch" / "hub" / "checkpoints" / url.rsplit("/", 1)[-1]
    cached.parent.mkdir(parents=True)
    torch.manual_seed(1)
    reference = torchvision.models.resnet18(weights=None).state_dict()
    torch.save(reference, cached)
    assert cached_torchvision_weights("resnet18") == cached
    model = build_classifier("resnet18", 4, "img", weights=cached)
    assert torch.equal(model.backbone.conv1.weight, reference["conv1.weight"])
    assert model.head.weight.shape == (4, 512)  # ImageNet's 1000-class head is left out
    wrong = tmp_path / "other.pth"
    torch.save({"something.else": torch.zeros(3)}, wrong)
    with pytest.raises(FashionLensError, match="no tensor matches this architecture"):
        build_classifier("resnet18", 4, "img", weights=wrong)


def test_class_weights_and_sampler_balance_the_classes():
    targets = [0] * 6 + [1] * 2
    weights = class_weights(targets, 2)
    assert weights == pytest.approx([8 / 12, 8 / 4])  # n / (classes * count)
    torch.manual_seed(0)
    drawn = Counter(targets[i] for i in balanced_sampler(targets, 2, 4000))
    assert abs(drawn[0] - drawn[1]) < 300
    with pytest.raises(FashionLensError, match=r"classes \[2\] have no usable training garment"):
        class_weights(targets, 3)


def test_val_from_train_is_stratified_seeded_and_leaves_val_alone(make_labels_csv_dataset, tmp_path):
    samples = read_dataset(make_labels_csv_dataset(tmp_path, per_split={"train": 10, "val": 2}))
    train, val, note = split_samples(samples, 0.2, seed=4)
    assert len(train) == 24 and len(val) == 6 and all(s.split == "train" for s in val)
    assert Counter(s.garments[0].category for s in val) == {"T-Shirt": 2, "Pants": 2, "Dress": 2}
    assert [s.image for s in split_samples(samples, 0.2, seed=4)[1]] == [s.image for s in val]
    assert "carved from train" in note
    with pytest.raises(FashionLensError, match="--classes: Hat not among the training labels"):
        choose_classes(train, ["Pants", "Hat"])


def test_labels_seen_once_share_a_stratum_so_the_split_still_works():
    assert stratum_labels(["a", "a", "b", "c", "d"]) == ["a", "a", "(rare)", "(rare)", "(rare)"]
    assert stratum_labels(["a", "a", "a", "b"]) == ["a", "a", "a", "a"]  # one rare photo joins the largest
    assert stratum_labels(["a", "b", "a", "b"]) == ["a", "b", "a", "b"]


def test_inference_from_a_checkpoint_is_deterministic(labels_csv_dataset):
    samples = read_dataset(labels_csv_dataset)[::3]  # 6 photos, every class
    names = ["Dress", "Pants", "T-Shirt"]
    torch.manual_seed(0)
    model = build_classifier("resnet18", 3, "img+bbox")
    checkpoint = {
        "kind": "classifier",
        "arch": "resnet18",
        "mode": "img+bbox",
        "class_names": names,
        "preprocessing": PRE,
        "model": model.state_dict(),
    }
    restored = classifier_from_checkpoint(checkpoint)
    assert not restored.training
    samples[0].garments[0].category = "Hoodie"  # a label outside the classes is still predicted
    labels, probabilities = predict_classifier(restored, checkpoint, samples, batch_size=4)
    assert len(labels) == len(samples) == probabilities.shape[0] and probabilities.shape[1] == 3
    assert labels[0] == "Hoodie" and labels[1] == samples[1].garments[0].category
    assert probabilities.sum(axis=1) == pytest.approx(np.ones(len(samples)), abs=1e-5)
    again = predict_classifier(restored, checkpoint, samples, batch_size=5)[1]
    assert np.array_equal(np.argmax(again, 1), np.argmax(probabilities, 1))
    assert again == pytest.approx(probabilities, abs=1e-6)
    with pytest.raises(FashionLensError, match="a detector checkpoint, not a classifier"):
        classifier_from_checkpoint({**checkpoint, "kind": "detector"})


def test_a_broken_image_in_a_loader_worker_is_one_line_naming_the_file(boxed_samples, tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"these bytes are no JPEG")
    boxed_samples[1].image = broken
    dataset = ClassificationDataset(boxed_samples, ["Pants", "Shirt"], "img", classification_eval_transform(PRE))
    loader = torch.utils.data.DataLoader(dataset, batch_size=2, num_workers=1)
    with pytest.raises(FashionLensError) as error:
        next(iter(loader))
    assert str(error.value) == f"{broken}: not an image (unrecognised format)"
