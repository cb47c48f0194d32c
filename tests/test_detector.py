"""Garment detector: builders, weights, a training step, validation, checkpoint round trip, prediction."""

from __future__ import annotations

import pytest
import torch
from timm.layers import BatchNormAct2d
from torch import nn
from torchvision.models import mobilenet_v3_large, resnet18, resnet50
from torchvision.ops.misc import FrozenBatchNorm2d

from fashionlens.core.checkpoint import load_checkpoint, save_checkpoint
from fashionlens.core.errors import FashionLensError
from fashionlens.core.records import REGIONS, Box, Detection, Garment, Sample
from fashionlens.data import read_dataset
from fashionlens.data.detection import DetectionDataset, collate_detection, detection_transform
from fashionlens.evaluation.detection import build_ground_truth, coco_results, run_cocoeval
from fashionlens.models.detector import (
    ARCHS,
    TALL_ASPECT_RATIOS,
    build_detector,
    detector_from_checkpoint,
    predict_detections,
)
from fashionlens.train.detector import DetectionTask, best_f1_threshold

TINY = "fasterrcnn_mobilenet_v3_large_320_fpn"
NORMS = (nn.GroupNorm, nn.BatchNorm2d, FrozenBatchNorm2d)
LOSS_NAMES = {"loss_classifier", "loss_box_reg", "loss_objectness", "loss_rpn_box_reg", "loss"}


def tiny_detector(arch=TINY, **options):
    torch.manual_seed(0)
    return build_detector(arch, len(REGIONS), image_size=64, **options)


def first_batch(coco_path, split="train", train=True):
    samples = [s for s in read_dataset(coco_path) if s.split == split]
    dataset = DetectionDataset(samples, detection_transform(64, train=train))
    return dataset, collate_detection([dataset[i] for i in range(min(2, len(dataset)))])


@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_every_arch_builds_from_scratch_with_a_trainable_norm_and_our_head(arch):
    model = build_detector(arch, len(REGIONS), image_size=64)
    assert model.roi_heads.box_predictor.cls_score.out_features == 4  # 3 regions + background
    assert model.roi_heads.box_predictor.bbox_pred.out_features == 16
    norms = {type(m) for m in model.backbone.body.modules() if isinstance(m, NORMS)}
    # GroupNorm, except timm's EfficientNet-Lite, whose builder takes only its own BatchNorm
    assert norms == ({BatchNormAct2d} if "efficientnet_lite" in arch else {nn.GroupNorm})
    assert all(p.requires_grad for p in model.backbone.body.parameters())  # from scratch: all trained
    assert (model.transform.min_size, model.transform.max_size) == ((64,), 64)


def test_forward_on_tiny_images_gives_region_detections():
    model = tiny_detector().eval()
    with torch.inference_mode():
        outputs = model([torch.rand(3, 48, 64), torch.rand(3, 64, 40)])
    assert len(outputs) == 2
    for output in outputs:
        assert set(output) == {"boxes", "labels", "scores"}
        assert output["boxes"].shape[1:] == (4,)
        assert set(output["labels"].tolist()) <= {1, 2, 3}


@pytest.mark.slow
def test_one_training_step_changes_the_weights(coco_dataset):
    model = tiny_detector().train()
    task = DetectionTask(model, TINY, REGIONS)
    _, batch = first_batch(coco_dataset)
    head = model.roi_heads.box_predictor.cls_score.weight
    before = head.detach().clone()
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.01)
    losses = task.losses(model, batch, torch.device("cpu"))
    assert set(losses) == LOSS_NAMES
    assert torch.isfinite(losses["loss"])
    assert losses["loss"].item() == pytest.approx(sum(v.item() for k, v in losses.items() if k != "loss"))
    losses["loss"].backward()
    assert head.grad is not None and head.grad.abs().sum() > 0
    optimizer.step()
    assert not torch.equal(before, head.detach())


def test_tall_anchors_add_a_three_to_one_shape():
    model = tiny_detector("fasterrcnn_resnet18_fpn", aspect_ratios=TALL_ASPECT_RATIOS)
    assert model.rpn.head.cls_logits.out_channels == 4  # one size x four ratios per position
    anchors = model.rpn.anchor_generator.cell_anchors[0]  # x1, y1, x2, y2 around the origin
    shapes = (anchors[:, 3] - anchors[:, 1]) / (anchors[:, 2] - anchors[:, 0])
    assert shapes.tolist() == pytest.approx([0.5, 1.0, 2.0, 3.0], rel=0.05)


@pytest.mark.parametrize(
    "arch, classifier",
    [("fasterrcnn_resnet18_fpn", resnet18), ("fasterrcnn_mobilenet_v3_large_320_fpn", mobilenet_v3_large)],
)
def test_backbone_from_a_classifier_state_dict(arch, classifier):
    torch.manual_seed(1)
    state = classifier(num_classes=7).state_dict()
    model = build_detector(arch, len(REGIONS), image_size=64, backbone_weights=state)
    body = model.backbone.body.state_dict()
    first_conv = "conv1.weight" if "conv1.weight" in body else "0.0.weight"
    source = state["conv1.weight"] if first_conv == "conv1.weight" else state["features.0.0.weight"]
    assert torch.equal(body[first_conv], source)
    norms = [m for m in model.backbone.body.modules() if isinstance(m, NORMS)]
    assert norms and all(isinstance(m, FrozenBatchNorm2d) for m in norms)  # pretrained: frozen statistics
    assert not any(p.requires_grad for n, p in model.backbone.body.named_parameters() if n.startswith(("conv1", "0.")))


def test_backbone_of_another_architecture_is_refused():
    with pytest.raises(FashionLensError, match="do not fit this detector's backbone"):
        build_detector("fasterrcnn_resnet18_fpn", 3, image_size=64, backbone_weights=resnet50().state_dict())


def test_weights_file_loads_all_but_a_head_of_another_size(tmp_path):
    donor = tiny_detector(norm="frozen_batchnorm")
    five_classes = build_detector(TINY, 5, image_size=64, norm="frozen_batchnorm").state_dict()
    five_classes["backbone.fpn.inner_blocks.0.0.weight"].fill_(0.25)
    torch.save(five_classes, tmp_path / "coco.pth")  # like torchvision's COCO file: another head size
    torch.save({"model": donor.state_dict()}, tmp_path / "run.pt")
    model = build_detector(TINY, 3, weights=tmp_path / "coco.pth", image_size=64)
    assert torch.all(model.state_dict()["backbone.fpn.inner_blocks.0.0.weight"] == 0.25)
    assert model.roi_heads.box_predictor.cls_score.out_features == 4
    again = build_detector(TINY, 3, weights=tmp_path / "run.pt", image_size=64)
    assert all(torch.equal(again.state_dict()[k], v) for k, v in donor.state_dict().items())
    with pytest.raises(FashionLensError, match="missing.pth: weights file not found"):
        build_detector(TINY, 3, weights=tmp_path / "missing.pth")
    with pytest.raises(FashionLensError, match="do not fit this detector"):
        build_detector("fasterrcnn_resnet18_fpn", 3, weights=tmp_path / "coco.pth")


def test_unknown_arch_is_a_one_line_error():
    with pytest.raises(FashionLensError, match="unknown detector architecture 'yolo'"):
        build_detector("yolo", 3)


def test_f1_threshold_from_cocoeval_matches():
    samples = [
        Sample(
            "a.jpg", 100, 100, garments=[Garment(Box(0, 0, 50, 50), "upper"), Garment(Box(50, 50, 100, 100), "lower")]
        )
    ]
    detections = [
        [
            Detection(Box(0, 0, 50, 50), "upper", 0.9),
            Detection(Box(0, 50, 40, 100), "upper", 0.8),
            Detection(Box(50, 50, 100, 98), "lower", 0.3),
        ]
    ]
    truth = build_ground_truth(samples, list(REGIONS))
    evaluator = run_cocoeval(truth.coco, coco_results(detections, list(REGIONS)))
    # at 0.9: P 1, R 1/2, F1 2/3; at 0.8: P 1/2, R 1/2; at 0.3: P 2/3, R 1, F1 0.8
    assert best_f1_threshold(evaluator) == pytest.approx((0.3, 0.8))
    assert best_f1_threshold(None) == (0.5, 0.0)


def test_validate_reports_map_and_chooses_a_threshold(coco_dataset):
    model = tiny_detector()
    model.roi_heads.score_thresh = 0.0  # an untrained model: keep its (poor) detections to score them
    task = DetectionTask(model, TINY, REGIONS)
    dataset, _ = first_batch(coco_dataset, split="val", train=False)
    loader = torch.utils.data.DataLoader(dataset, batch_size=2, collate_fn=collate_detection)
    metrics = task.validate(model, loader, torch.device("cpu"))
    assert {"score", "map", "map50", "f1", "score_threshold"} <= set(metrics)
    assert metrics["score"] == metrics["map50"] and 0.0 <= metrics["map"] <= metrics["map50"] <= 1.0
    extra = task.checkpoint_extra()
    assert extra["score_threshold"] == metrics["score_threshold"]
    assert extra["class_names"] == ["upper", "lower", "full"] and extra["arch"] == TINY
    assert extra["preprocessing"]["min_size"] == extra["preprocessing"]["max_size"] == 64


@pytest.mark.slow
def test_checkpoint_round_trip_and_predict_detections(tmp_path, coco_dataset):
    model = tiny_detector().eval()
    model.roi_heads.score_thresh = 0.0
    task = DetectionTask(model, TINY, REGIONS)
    save_checkpoint(
        {
            "kind": "detector",
            **task.checkpoint_extra(),
            "config": {},
            "metrics": {},
            "epoch": 0,
            "model": model.state_dict(),
        },
        tmp_path / "run" / "best.pt",
    )
    checkpoint = load_checkpoint(tmp_path / "run")
    restored = detector_from_checkpoint(checkpoint)
    restored.roi_heads.score_thresh = 0.0
    samples = read_dataset(coco_dataset)
    first = predict_detections(model, checkpoint, samples, batch_size=2)
    second = predict_detections(restored, checkpoint, samples, batch_size=2)
    assert len(first) == len(samples) and first == second  # same weights, deterministic inference
    assert sum(len(found) for found in first) > 0
    for sample, found in zip(samples, first):
        for detection in found:
            assert detection.region in REGIONS
            assert 0 <= detection.box.x1 <= detection.box.x2 <= sample.width
            assert 0 <= detection.box.y1 <= detection.box.y2 <= sample.height
    with pytest.raises(FashionLensError, match="not a detector"):
        detector_from_checkpoint({**checkpoint, "kind": "classifier"})


class FixedDetector(nn.Module):
    """Answers one box in the coordinates of the image it is given (the resized one)."""

    def __init__(self):
        super().__init__()
        self.anchor = nn.Parameter(torch.zeros(1))
        self.sizes = []

    def forward(self, images):
        self.sizes += [tuple(image.shape[-2:]) for image in images]
        box = torch.tensor([[16.0, 8.0, 32.0, 24.0]])
        return [{"boxes": box, "labels": torch.tensor([2]), "scores": torch.tensor([0.9])} for _ in images]


def test_predict_maps_boxes_back_to_the_original_pixels(tmp_path, make_image):
    image = make_image(tmp_path / "wide.png", size=(128, 64))
    checkpoint = {"class_names": list(REGIONS), "preprocessing": {"image_size": 64}}
    stand_in = FixedDetector()
    found = predict_detections(stand_in, checkpoint, [Sample(image)], batch_size=1)
    assert stand_in.sizes == [(32, 64)]  # the model saw the image with its longer side at 64
    assert found == [[Detection(Box(32.0, 16.0, 64.0, 48.0), "lower", pytest.approx(0.9))]]
    assert predict_detections(stand_in, checkpoint, [Sample(image)], batch_size=1, min_score=0.95) == [[]]
