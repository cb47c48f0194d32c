"""Saliency maps (saliency.py, explain.py, evaluation/saliency.py): where a model looks, measured.

A tiny model trained on images whose class shows in one quadrant only looks at that quadrant; the
pointing game and the energy share equal a hand computation; the same photo gives the same map; the
command line writes one overlay per garment, and the service's explain answer fits its schema.
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from fashionlens.core.records import Box
from fashionlens.evaluation.gradcam import box_in_view, class_maps, map_in_photo
from fashionlens.evaluation.saliency import (
    GarmentLook,
    confident_errors,
    energy_inside,
    looks_outside_note,
    pointing_hit,
    summary,
)
from fashionlens.inference.explain import explain_analysis
from fashionlens.models.classifier import GarmentClassifier
from service_testing import photo_bytes, tiny_client, upload
from tiny_models import random_analyzer

SIDE = 32  # the synthetic images' side; the signal lies in the top-left quadrant (0..16, 0..16)


def quadrant_images(count: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Noise images; class 1 has a bright 6x6 square somewhere in the top-left quadrant, class 0 none."""
    images = torch.rand(count, 3, SIDE, SIDE, generator=generator) * 0.5
    labels = torch.arange(count) % 2
    for index in torch.nonzero(labels).flatten():
        x, y = torch.randint(0, SIDE // 2 - 6, (2,), generator=generator).tolist()
        images[index, :, y : y + 6, x : x + 6] = 1.0
    return images, labels


def tiny_convnet() -> GarmentClassifier:
    """Three convolutions (an 8x8 feature map) under global pooling: small enough to train in a second."""
    backbone = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 16, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
    )
    return GarmentClassifier(backbone, 16, num_classes=2, use_geometry=False)


def test_a_model_trained_on_one_quadrants_signal_looks_at_that_quadrant():
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    model = tiny_convnet()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(60):
        images, labels = quadrant_images(32, generator)
        loss = nn.functional.cross_entropy(model(images), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    images, labels = quadrant_images(16, generator)
    with torch.no_grad():
        assert (model(images).argmax(1) == labels).float().mean() >= 0.9  # it learned the signal
    signal = images[labels == 1]
    maps = class_maps(model, signal, torch.zeros(len(signal), 6), [1] * len(signal))
    assert maps.shape == (len(signal), SIDE, SIDE)
    for saliency in maps:
        y, x = np.unravel_index(saliency.argmax(), saliency.shape)
        assert x < SIDE // 2 and y < SIDE // 2


@pytest.mark.parametrize(
    "arch, layer",
    [
        ("efficientnet_lite0", "backbone.bn2"),
        ("resnet18", "backbone.layer4"),
        ("mobilenet_v3_small", "backbone.features"),
    ],
)
def test_the_explained_layer_is_the_last_feature_map_before_pooling(arch, layer):
    from fashionlens.evaluation.gradcam import target_layer
    from fashionlens.models.classifier import build_classifier

    torch.manual_seed(0)
    model = build_classifier(arch, 3, "img+bbox").eval()
    assert target_layer(model, (64, 48)) is model.get_submodule(layer)
    maps = class_maps(model, torch.rand(2, 3, 64, 48), torch.rand(2, 6), [0, 2])
    assert maps.shape == (2, 64, 48) and maps.dtype == np.float32 and 0 <= maps.min() and maps.max() <= 1


def test_pointing_game_and_energy_share_equal_a_hand_computation():
    saliency = np.zeros((4, 4), dtype=np.float32)
    saliency[0, 0], saliency[1, 1], saliency[3, 3] = 0.5, 1.0, 0.5  # total 2.0
    inside = Box(0, 0, 2, 2)  # pixel centres (0.5, 0.5) .. (1.5, 1.5): the top-left 2x2
    outside = Box(2, 2, 4, 4)
    assert pointing_hit(saliency, inside) and not pointing_hit(saliency, outside)
    assert energy_inside(saliency, inside) == pytest.approx(1.5 / 2.0)
    assert energy_inside(saliency, outside) == pytest.approx(0.5 / 2.0)
    empty = np.zeros((4, 4), dtype=np.float32)  # no location speaks for the class: a miss, no energy
    assert not pointing_hit(empty, inside) and energy_inside(empty, inside) == 0.0
    looks = [GarmentLook.of(saliency, inside), GarmentLook.of(saliency, outside), GarmentLook.of(empty, inside)]
    result = summary(looks, "whole photo")
    assert result["pointing_game"] == pytest.approx(1 / 3)
    assert result["energy_inside"] == pytest.approx((0.75 + 0.25 + 0.0) / 3)
    assert result["box_share"] == pytest.approx(0.25) and result["empty_maps"] == 1
    assert "looks mostly outside" in looks_outside_note(result)
    assert looks_outside_note(summary(looks[:1], "whole photo")) is None


def test_a_crops_map_is_placed_back_where_the_crop_came_from():
    saliency = np.zeros((4, 2), dtype=np.float32)  # H x W over a 20 x 40 view at (10, 20)
    saliency[3, 1] = 1.0
    photo = map_in_photo(saliency, (10, 20, 30, 60), (50, 70))
    assert photo.shape == (70, 50) and photo[:20].max() == 0 and photo[:, :10].max() == 0
    y, x = np.unravel_index(photo.argmax(), photo.shape)
    assert 10 <= x < 30 and 20 <= y < 60 and x >= 20 and y >= 50  # the view's bottom-right part
    assert box_in_view(Box(10, 20, 30, 60), (10, 20, 30, 60), (4, 2)) == Box(0, 0, 2, 4)


def test_confident_errors_are_capped_per_class_and_sorted_by_confidence():
    truth = np.array([0, 0, 0, 1, 1, 2])
    probs = np.array([[0.1, 0.9, 0], [0.2, 0.8, 0], [0.3, 0.7, 0], [0.6, 0.4, 0], [0.95, 0.05, 0], [0, 0, 1]])
    assert confident_errors(truth, probs, per_class=2, total=16) == [4, 0, 1, 3]  # item 2: a third of class 0
    assert confident_errors(truth, probs, per_class=2, total=2) == [4, 0]


def test_the_same_photo_gives_the_same_map_twice(tmp_path):
    analyzer = random_analyzer()
    picture = Image.fromarray((np.random.default_rng(0).random((40, 30, 3)) * 255).astype(np.uint8))
    [analysis] = analyzer.analyze([picture], ["noise.png"])
    first = explain_analysis(analyzer, picture, analysis)
    second = explain_analysis(analyzer, picture, analysis)
    assert len(first) == len(analysis.garments) == 1
    assert first[0].view == (0, 0, 30, 40)  # nothing detected: the classifier saw the whole photo
    assert np.array_equal(first[0].saliency, second[0].saliency)
    assert first[0].thumbnail_png(picture) == second[0].thumbnail_png(picture)
    assert all(parameter.grad is None and parameter.requires_grad for parameter in analyzer.classifier.parameters())


def test_explain_writes_one_overlay_per_garment(fashionlens, tiny_runs, tmp_path):
    runs = tiny_runs
    photo = sorted((runs.street / "..").resolve().glob("images/*"))[0]
    done = fashionlens(
        "analyze",
        str(photo),
        "--detector",
        str(runs.detector),
        "--classifier",
        str(runs.classifier),
        "--explain",
        str(tmp_path / "maps"),
        "--json",
        "--no-log",
    )
    assert done.returncode == 0, done.stderr
    garments = json.loads(done.stdout)["images"][0]["garments"]
    written = sorted(path.name for path in (tmp_path / "maps").iterdir())
    assert len(written) == len(garments) >= 1
    assert sorted(Path(g["saliency_png"]).name for g in garments) == written
    with Image.open(tmp_path / "maps" / written[0]) as overlay:
        assert overlay.size == Image.open(photo).size  # the whole photo, the map where the crop was


def test_explain_with_an_onnx_backend_is_one_line(fashionlens, tmp_path):
    done = fashionlens("analyze", str(tmp_path / "any.jpg"), "--explain", str(tmp_path / "maps"), "--backend", "onnx")
    assert done.returncode != 0
    assert (
        done.stderr.strip() == "error: --explain needs --backend torch (saliency maps need the PyTorch "
        "model's gradients)"
    )
    assert not (tmp_path / "maps").exists()


def test_the_services_explain_answer_fits_its_schema_and_is_not_logged_when_asked(tmp_path):
    from fashionlens.service.schemas import AnalyzeResponse

    with tiny_client(tmp_path, catalogue=False) as (client, _):
        plain = client.post("/analyze", files=upload(photo_bytes(size=(40, 32))))
        explained = client.post("/analyze?explain=1", files=upload(photo_bytes(size=(40, 32))), data={"log": "false"})
        events = client.get("/insights").json()
    assert plain.status_code == 200 and plain.json()["saliency"] is None
    assert explained.status_code == 200, explained.text
    body = AnalyzeResponse.model_validate(explained.json())
    assert len(body.saliency) == len(body.garments) == 1
    [garment] = body.saliency
    assert (garment.garment, garment.category, garment.view) == (0, body.garments[0].category, [0, 0, 40, 32])
    with Image.open(io.BytesIO(base64.b64decode(garment.png))) as picture:
        assert picture.format == "PNG" and picture.size == (40, 32)
    assert events["by_kind"] == {"analysis": 1}  # the explained request asked not to be logged


def test_evaluate_measures_where_the_model_looks_and_draws_its_confident_errors(capsys, tmp_path):
    from conftest import make_coco_dataset
    from helpers import run_cli, save_classifier

    save_classifier(tmp_path / "lazy")  # always T-Shirt
    street = make_coco_dataset(
        tmp_path / "street",
        images=[
            ("train", [(1, "shirt", [8, 4, 40, 18])]),
            ("val", [(1, "t-shirt", [4, 4, 40, 20]), (2, "jeans", [8, 26, 40, 20])]),
        ],
    )
    code, out, err = run_cli(capsys, "evaluate", str(tmp_path / "lazy"), "--data", str(street), "--json")
    assert code == 0, err
    saliency = json.loads(out)["saliency"]
    assert saliency["view"] == "whole photo" and saliency["garments"] == 2
    assert 0 <= saliency["pointing_game"] <= 1 and 0 <= saliency["energy_inside"] <= 1
    report = (tmp_path / "lazy" / "eval" / "report.html").read_text()
    assert "d1_errors_saliency.png" in report and "pointing game" in report
    assert (tmp_path / "lazy" / "eval" / "d1_errors_saliency.png").stat().st_size > 0  # the jeans said T-Shirt


@pytest.mark.browser
def test_customer_sees_what_the_model_looked_at_only_when_asked(tmp_path, page):
    import httpx

    from fashionlens.core.records import REGIONS
    from fashionlens.inference.analyzer import Analyzer
    from fashionlens.models.classifier import classifier_from_checkpoint
    from helpers import LOWER_BOX, UPPER_BOX, StandInDetector, choose_photo, street_photo_bytes
    from service_testing import tiny_live_server
    from tiny_models import random_checkpoint

    checkpoint = random_checkpoint("img+bbox")
    analyzer = Analyzer(
        classifier_from_checkpoint(checkpoint),
        checkpoint,
        StandInDetector([(UPPER_BOX, 1, 0.9), (LOWER_BOX, 2, 0.8)]),
        {"kind": "detector", "class_names": list(REGIONS), "preprocessing": {"image_size": 64}, "score_threshold": 0.5},
    )
    explained = []
    page.on("request", lambda request: explained.append(request.url) if "explain=1" in request.url else None)
    with tiny_live_server(tmp_path, analyzer=analyzer) as server:
        page.goto(f"{server.url}/")
        assert choose_photo(page, street_photo_bytes(), "street.png", "image/png").status == 200
        page.locator(".garment").nth(1).wait_for()  # the answer drawn
        buttons = page.get_by_role("button", name="What the model looked at")
        assert buttons.count() == 2 and explained == []  # nothing asked before a press
        with page.expect_response(lambda response: "explain=1" in response.url) as answer:
            buttons.nth(1).click()
        assert answer.value.status == 200
        picture = page.locator(".garment").nth(1).locator(".saliency img")
        picture.wait_for()
        assert picture.get_attribute("src").startswith("data:image/png;base64,")
        assert buttons.nth(1).get_attribute("aria-expanded") == "true"
        buttons.nth(0).click()  # the first garment's map came in the same answer
        page.locator(".garment").nth(0).locator(".saliency img").wait_for()
        assert len(explained) == 1
        by_kind = httpx.get(f"{server.url}/insights", timeout=30).json()["by_kind"]
    assert by_kind["recommendation"] == 1 and "analysis" not in by_kind  # the second look was not logged
    assert page.problems == []


def test_the_service_refuses_explain_in_one_line_with_an_onnx_backend(tmp_path):
    from fashionlens.inference.analyzer_models import forward_with_features

    analyzer = random_analyzer()
    module = analyzer.classifier
    # what onnx_runtime.OnnxClassifier stands as: a callable answering (logits, features), no torch module
    analyzer.classifier = lambda pixels, geometry: forward_with_features(module, pixels, geometry)
    with tiny_client(tmp_path, catalogue=False, analyzer=analyzer) as (client, _):
        refused = client.post("/analyze?explain=1", files=upload(photo_bytes()))
        plain = client.post("/analyze", files=upload(photo_bytes()))
    assert refused.status_code == 422
    assert refused.json() == {
        "error": "explain=1 needs the service started with --backend torch (saliency maps "
        "need the PyTorch model's gradients)"
    }
    assert plain.status_code == 200
