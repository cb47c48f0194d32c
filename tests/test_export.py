"""ONNX export and the onnx backend: ONNX Runtime gives PyTorch's outputs within stated tolerances, the
export refuses to write when they differ, and `fashionlens export` / `--backend onnx` work end to end."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from fashionlens.core.checkpoint import load_checkpoint, save_checkpoint
from fashionlens.core.errors import FashionLensError
from fashionlens.core.images import load_image
from fashionlens.data.detection import detection_transform
from fashionlens.export.exports import export_for_backend, export_run
from fashionlens.inference.analyzer import (
    Analyzer,
    analyses_json,
    forward_with_features,
    keep_scores_from,
    model_fingerprint,
)
from fashionlens.inference.onnx_runtime import OnnxClassifier, OnnxDetector, load_onnx
from fashionlens.models.classifier import classifier_from_checkpoint
from fashionlens.models.detector import detector_from_checkpoint
from tiny_models import CLASSES, random_checkpoint

FEATURE_ATOL = 1e-4  # logits and features, ONNX Runtime vs PyTorch (measured: ~1e-6)
BOX_PX, SCORE_ATOL = 0.5, 1e-3  # detector boxes (pixels) and scores; the Analyzer's JSON likewise


@pytest.fixture
def runs(tiny_runs):
    return tiny_runs


def street_photos(runs) -> list[Path]:
    return sorted((runs.street.parent / "images").glob("*.jpg"))


@pytest.mark.parametrize("mode", ["img", "img+bbox"])
def test_classifier_onnx_gives_pytorchs_logits_and_features(tmp_path, mode):
    save_checkpoint(random_checkpoint(mode, seed=3), tmp_path / "run" / "best.pt")
    checkpoint = load_checkpoint(tmp_path / "run")
    done = export_run(tmp_path / "run")
    assert (done.onnx, done.metadata) == (tmp_path / "run/onnx/best.onnx", tmp_path / "run/onnx/best.json")
    metadata = json.loads(done.metadata.read_text())
    assert (metadata["kind"], metadata["mode"], metadata["class_names"]) == ("classifier", mode, CLASSES)
    assert metadata["preprocessing"] == checkpoint["preprocessing"] and metadata["outputs"] == ["logits", "features"]
    assert metadata["fingerprint"] == model_fingerprint(checkpoint)  # catalogue embeddings stay valid
    assert max(metadata["max_difference"].values()) <= FEATURE_ATOL
    runner, _ = load_onnx(done.onnx)
    torch.manual_seed(7)
    images, geometry = torch.randn(5, 3, 32, 32), torch.rand(5, 6)  # a batch size never traced: dynamic axis
    logits, features, _ = forward_with_features(classifier_from_checkpoint(checkpoint), images, geometry)
    onnx_logits, onnx_features, onnx_stages = runner(images, geometry)
    assert onnx_stages is None  # this architecture has no stage statistics, nor its graph
    assert onnx_features.shape == features.shape == (5, 1024)
    assert torch.allclose(onnx_logits, logits, rtol=0, atol=FEATURE_ATOL)
    assert torch.allclose(onnx_features, features, rtol=0, atol=FEATURE_ATOL)
    moved = runner(images, geometry.flip(0)).logits  # the box geometry reaches the graph only for img+bbox
    assert torch.allclose(moved, onnx_logits) == (mode == "img")


def test_detector_onnx_finds_pytorchs_boxes_labels_and_scores(runs, tmp_path):
    done = export_run(runs.detector, tmp_path / "export")
    checkpoint = load_checkpoint(runs.detector)
    runner, metadata = load_onnx(done.onnx)
    assert isinstance(runner, OnnxDetector) and metadata["score_threshold"] == checkpoint["score_threshold"]
    model = detector_from_checkpoint(checkpoint)
    keep_scores_from(model, checkpoint["score_threshold"])  # as exported: the pre-filter the Analyzer uses
    transform = detection_transform(checkpoint["preprocessing"]["image_size"], train=False)
    photos = [load_image(path) for path in street_photos(runs)]
    compared = 0
    for photo in photos + [photos[0].transpose(Image.Transpose.ROTATE_90)]:  # landscape and portrait
        image = transform(photo)
        with torch.inference_mode():
            [want] = model([image])
        [got] = runner([image])
        assert torch.equal(got["labels"], want["labels"])
        assert torch.allclose(got["boxes"], want["boxes"], rtol=0, atol=BOX_PX)
        assert torch.allclose(got["scores"], want["scores"], rtol=0, atol=SCORE_ATOL)
        compared += len(want["boxes"])
    assert compared > 0


class BatchDependentBackbone(nn.Module):
    """Python control flow on the batch size: a trace keeps the branch of the batch it saw."""

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        pooled = images.mean(dim=(2, 3))
        return pooled * 2 if images.shape[0] == 2 else pooled


class BatchDependentClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = BatchDependentBackbone()
        self.head = nn.Linear(3, len(CLASSES))

    def forward(self, images, geometry=None):
        return self.head(self.backbone(images))


def test_export_refuses_to_write_when_onnx_differs(tmp_path, monkeypatch):
    save_checkpoint(random_checkpoint("img"), tmp_path / "run" / "best.pt")
    monkeypatch.setattr(
        "fashionlens.export.onnx_export.classifier_from_checkpoint", lambda _: BatchDependentClassifier()
    )
    with pytest.raises(
        FashionLensError,
        match=r"best\.pt: the ONNX logits differ from PyTorch's by up to .*"
        r"nothing written$",
    ):
        export_run(tmp_path / "run", tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []  # not even a temporary file


def test_an_unwritable_folder_is_one_clear_error(tmp_path, monkeypatch):
    save_checkpoint(random_checkpoint("img"), tmp_path / "weights" / "classifier.pt")

    def read_only(path, write):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr("fashionlens.export.exports.atomic_write", read_only)
    source = tmp_path / "weights" / "classifier.pt"
    with pytest.raises(FashionLensError) as error:
        export_run(source)
    assert str(error.value) == (
        f"{tmp_path / 'weights' / 'onnx'}: cannot write the ONNX export there (Permission "
        f"denied); run `fashionlens export {source} --out DIR` and use DIR/classifier.onnx"
    )


def garment_pairs(torch_json: dict, onnx_json: dict):
    for expected, found in zip(torch_json["images"], onnx_json["images"], strict=True):
        assert (found["whole_image"], len(found["garments"])) == (expected["whole_image"], len(expected["garments"]))
        yield from zip(expected["garments"], found["garments"])


def assert_same_analysis(torch_json: dict, onnx_json: dict) -> int:
    """Same categories, regions and colours; boxes within 0.5 px, scores within 1e-3. Returns the
    number of detected garments compared."""
    assert onnx_json["models"]["id"] == torch_json["models"]["id"]
    detected = 0
    for expected, found in garment_pairs(torch_json, onnx_json):
        for key in ("category", "region", "color"):
            assert found[key] == expected[key]
        assert [c["category"] for c in found["top_categories"]] == [c["category"] for c in expected["top_categories"]]
        assert np.allclose(found["box"], expected["box"], rtol=0, atol=BOX_PX)
        assert found["category_score"] == pytest.approx(expected["category_score"], abs=SCORE_ATOL)
        if expected["region_score"] is not None:
            assert found["region_score"] == pytest.approx(expected["region_score"], abs=SCORE_ATOL)
            detected += 1
        if "embedding" in expected:
            assert np.allclose(found["embedding"], expected["embedding"], rtol=0, atol=SCORE_ATOL)
    return detected


def test_analyzer_with_onnx_backend_gives_the_torch_json(runs, tmp_path):
    classifier_run, detector_run = tmp_path / "classifier", tmp_path / "detector"
    shutil.copytree(runs.classifier, classifier_run)  # its own copies: the onnx/ cache is written beside them
    shutil.copytree(runs.detector, detector_run)
    photos = street_photos(runs)
    eager = Analyzer.from_runs(detector_run, classifier_run)
    said: list[str] = []
    export_for_backend((detector_run, classifier_run), "onnx", said.append)
    onnx = Analyzer.from_runs(detector_run, classifier_run, backend="onnx")
    assert isinstance(onnx.classifier, OnnxClassifier) and isinstance(onnx.detector, OnnxDetector)
    assert (
        len(said) == 2 and (classifier_run / "onnx/best.onnx").is_file() and (detector_run / "onnx/best.json").is_file()
    )
    assert onnx.threshold == eager.threshold
    expected = json.loads(analyses_json(eager.analyze_paths(photos), eager.description, with_embedding=True))
    found = json.loads(analyses_json(onnx.analyze_paths(photos), onnx.description, with_embedding=True))
    assert assert_same_analysis(expected, found) > 0
    export_for_backend((detector_run, classifier_run), "onnx", said.append)
    Analyzer.from_runs(detector_run, classifier_run, backend="onnx")
    assert len(said) == 2  # the cache is current: nothing exported again
    save_checkpoint(random_checkpoint("img+bbox", seed=5), classifier_run / "best.pt")  # retrained
    export_for_backend((None, classifier_run), "onnx", said.append)
    renewed = Analyzer.from_runs(None, classifier_run, backend="onnx")
    assert len(said) == 3 and renewed.model_id == model_fingerprint(load_checkpoint(classifier_run)) != onnx.model_id


def test_export_command_writes_the_files_and_analyze_runs_on_them(fashionlens, runs, tmp_path):
    result = fashionlens("export", runs.classifier, "--format", "onnx", "--out", tmp_path / "export")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"wrote {tmp_path / 'export' / 'best.onnx'} and best.json: ONNX Runtime matches")
    assert sorted(p.name for p in (tmp_path / "export").iterdir()) == ["best.json", "best.onnx"]
    photos = [str(path) for path in street_photos(runs)[:2]]
    eager = fashionlens("analyze", *photos, "--classifier", runs.classifier, "--whole-image", "--json")
    onnx = fashionlens(
        "analyze",
        *photos,
        "--classifier",
        tmp_path / "export/best.onnx",
        "--whole-image",
        "--json",
        "--backend",
        "onnx",
    )
    assert onnx.returncode == 0, onnx.stderr
    expected, found = json.loads(eager.stdout), json.loads(onnx.stdout)
    assert found["models"]["classifier"] == str(tmp_path / "export/best.onnx")
    assert assert_same_analysis(expected, found) == 0  # whole photos: classifier only


def test_export_and_backend_errors_are_one_line(fashionlens, runs, tmp_path):
    (tmp_path / "empty").mkdir()
    for args, message in [
        (("export", tmp_path / "missing"), f"{tmp_path / 'missing'}: checkpoint not found"),
        (
            ("export", tmp_path / "empty"),
            f"{tmp_path / 'empty'}: no checkpoint in this run directory (expected best.pt or last.pt)",
        ),
        (("export", runs.classifier, "--format", "tflite"), "--format tflite: unknown export format; choose onnx"),
        (
            ("analyze", street_photos(runs)[0], "--classifier", runs.classifier, "--backend", "tf"),
            "unknown backend 'tf'; choose torch, onnx or onnx-int8",
        ),
        (
            ("analyze", street_photos(runs)[0], "--classifier", tmp_path / "none.onnx", "--backend", "onnx"),
            f"{tmp_path / 'none.onnx'}: ONNX model not found",
        ),
    ]:
        result = fashionlens(*args)
        assert result.returncode == 2 and result.stdout == ""
        assert result.stderr.strip().splitlines() == [f"error: {message}"]
    assert "Example: fashionlens export" in fashionlens("export", "--help").stdout


def test_loading_an_onnx_backend_never_exports(runs, tmp_path):
    classifier_run = tmp_path / "classifier"
    shutil.copytree(runs.classifier, classifier_run)
    with pytest.raises(FashionLensError) as error:
        Analyzer.from_runs(None, classifier_run, backend="onnx-int8")
    assert str(error.value) == (
        f"{classifier_run / 'best.pt'}: no current int8 ONNX export beside it; run "
        f"`fashionlens export {classifier_run / 'best.pt'} --precision int8`"
    )
    assert not (classifier_run / "onnx").exists()
