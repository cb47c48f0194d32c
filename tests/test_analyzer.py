"""The Analyzer: crops to the classifier, the stored threshold, region restriction, whole-photo fallback,
dominant colour, embeddings, and deterministic JSON on tiny trained models."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.ops import box_iou

from fashionlens.core.checkpoint import load_checkpoint
from fashionlens.core.errors import FashionLensError
from fashionlens.core.images import load_image
from fashionlens.core.records import REGIONS, Box
from fashionlens.core.taxonomy import region_of
from fashionlens.data.classification import box_geometry
from fashionlens.inference.analyzer import (
    AnalyzedGarment,
    Analyzer,
    analyses_json,
    forward_with_features,
    region_mask,
    without_full_garments_parts,
    without_hidden_sleeves,
)
from fashionlens.inference.analyzer_models import stage_statistics
from fashionlens.inference.colors import COLOR_NAMES, MULTICOLOR, dominant_color
from fashionlens.inference.default_models import resolve_runs
from fashionlens.models.classifier import build_classifier
from helpers import GRAY, GREEN, LOWER_BOX, RED, UPPER_BOX, stand_in_analyzer
from tiny_models import CLASSES


def iou(a: Box, b: Box) -> float:
    return float(box_iou(torch.tensor([a.as_list()]), torch.tensor([b.as_list()]))[0, 0])


def street_photo(tmp_path: Path) -> Path:
    picture = Image.new("RGB", (64, 48), GRAY)
    picture.paste(RED, tuple(int(v) for v in UPPER_BOX.as_list()))
    picture.paste(GREEN, tuple(int(v) for v in LOWER_BOX.as_list()))
    picture.save(tmp_path / "street.png")
    return tmp_path / "street.png"


def test_classifier_sees_each_detection_crop_and_box_above_the_stored_threshold(tmp_path):
    answers = [(UPPER_BOX, 1, 0.9), (LOWER_BOX, 2, 0.8), (Box(0, 0, 20, 20), 3, 0.3)]  # the last: below 0.5
    analyzer, classifier = stand_in_analyzer(answers)
    [analysis] = analyzer.analyze_paths([street_photo(tmp_path)])
    assert analysis.detected and len(analysis.garments) == 2
    images, geometry = classifier.seen[0]
    assert images.shape == (2, 3, 32, 32)
    red, green = (torch.tensor(c, dtype=torch.float32) / 255 for c in (RED, GREEN))
    assert torch.allclose(images[0].mean(dim=(1, 2)), red, atol=0.01)  # the crop, not the whole photo
    assert torch.allclose(images[1].mean(dim=(1, 2)), green, atol=0.01)
    expected = [box_geometry(UPPER_BOX, 64, 48), box_geometry(LOWER_BOX, 64, 48)]
    assert np.allclose(geometry.numpy(), np.array(expected), atol=1e-6)
    upper, lower = analysis.garments
    assert (upper.region, upper.region_score, upper.box) == ("upper", pytest.approx(0.9), UPPER_BOX)
    # categories restricted to the detected region: only T-Shirt is upper, only Pants lower
    assert upper.top_categories == [("T-Shirt", pytest.approx(1.0))] and upper.category == "T-Shirt"
    assert lower.top_categories == [("Pants", pytest.approx(1.0))] and lower.region == "lower"
    assert (upper.color.name, lower.color.name) == ("Red", "Green")
    assert upper.embedding == pytest.approx((red / red.norm()).numpy(), abs=0.01)  # normalised features


def test_each_photos_crops_share_one_classifier_call_in_inference_mode(tmp_path):
    answers = [(UPPER_BOX, 1, 0.9), (LOWER_BOX, 2, 0.8), (Box(0, 0, 20, 20), 3, 0.7)]
    analyzer, classifier = stand_in_analyzer(answers)
    analyzer.batch_size = 4  # two photos of 3 garments: a batch of 4 would split the second photo
    photo = street_photo(tmp_path)
    analyses = analyzer.analyze_paths([photo, photo])
    assert [len(a.garments) for a in analyses] == [3, 3]
    assert [images.shape[0] for images, _ in classifier.seen] == [3, 3]
    assert classifier.inference_mode == [True, True] and analyzer.detector.inference_mode


def test_fast_decode_reports_boxes_in_the_original_pixels(tmp_path):
    large = tmp_path / "large.jpg"  # the street photo at 8x: 512x384, much larger than the 64 px detector input
    Image.open(street_photo(tmp_path)).resize((512, 384), Image.Resampling.NEAREST).save(large, quality=95)
    results = {}
    for fast in (False, True):
        analyzer, _ = stand_in_analyzer([(UPPER_BOX, 1, 0.9), (LOWER_BOX, 2, 0.8)])
        analyzer.fast_decode = fast
        images, sizes = analyzer.load_images([large])
        assert sizes == [(512, 384)] and images[0].size == ((256, 192) if fast else (512, 384))
        results[fast] = analyzer.analyze(images, ["large"], sizes)[0]
    full, fast = results[False], results[True]
    assert (fast.width, fast.height) == (512, 384)
    # the stand-in answers in the 64x48 detector input: x8 in the photo's pixels, however it was decoded
    assert (
        [g.box for g in fast.garments]
        == [g.box for g in full.garments]
        == [Box(64, 32, 384, 176), Box(80, 192, 368, 368)]
    )
    assert [(g.category, g.color.name) for g in fast.garments] == [(g.category, g.color.name) for g in full.garments]
    for quick, exact in zip(fast.garments, full.garments):
        assert quick.category_score == pytest.approx(exact.category_score, abs=0.01)


def test_nothing_detected_makes_the_photo_one_product(tmp_path):
    analyzer, classifier = stand_in_analyzer([])
    [analysis] = analyzer.analyze_paths([street_photo(tmp_path)])
    [garment] = analysis.garments
    assert not analysis.detected and analysis.to_json()["whole_image"] is True and analysis.problem is None
    # the box is the product's extent (red over green on grey), the classifier saw the whole photo
    union = Box(min(UPPER_BOX.x1, LOWER_BOX.x1), UPPER_BOX.y1, max(UPPER_BOX.x2, LOWER_BOX.x2), LOWER_BOX.y2)
    assert iou(garment.box, union) >= 0.9 and garment.region_score is None
    assert garment.region == region_of(garment.category)
    assert len(garment.top_categories) == 3  # no region to restrict to
    assert classifier.seen[0][1][0].tolist() == pytest.approx(box_geometry(Box(0, 0, 64, 48), 64, 48))


def test_region_mask_knows_cross_taxonomy_garments():
    names = ["Blazer", "Body", "Dress", "Outwear", "Pants", "Shoes", "T-Shirt"]
    allowed = lambda region: [n for n, ok in zip(names, region_mask(region, names)) if ok]  # noqa: E731
    assert allowed("full") == ["Blazer", "Body", "Dress", "Outwear"]  # suits, rompers, coats, capes
    assert allowed("lower") == ["Pants"]
    assert "Body" in allowed("upper") and "Shoes" not in allowed("upper")
    assert region_mask("upper", ["Hat", "Shoes"]).all()  # the taxonomy knows no upper class: keep all


def test_features_come_from_the_same_forward_pass():
    torch.manual_seed(0)
    model = build_classifier("resnet18", 3, "img+bbox").eval()
    images, geometry = torch.rand(2, 3, 32, 32), torch.rand(2, 6)
    logits, features, stages = forward_with_features(model, images, geometry)
    with torch.inference_mode():
        assert torch.allclose(logits, model(images, geometry))
        assert torch.allclose(features, model.backbone(images))
    assert features.shape == (2, 512) and not model.backbone._forward_hooks  # the hook is removed
    assert stages is None  # a ResNet has no stage statistics


def test_the_colour_histogram_parts_navy_black_and_grey_and_counts_each_pixel_once():
    from fashionlens.inference.color_names import HISTOGRAM_LENGTH

    def histogram(*colors) -> np.ndarray:
        """Of a photo of vertical stripes in `colors`."""
        found = dominant_color(Image.fromarray(np.array([list(colors) * 20] * 40, np.uint8))).histogram
        assert found.shape == (HISTOGRAM_LENGTH,) and found.sum() == pytest.approx(1.0)
        return found

    navy, black, grey = histogram((28, 36, 72)), histogram((10, 10, 10)), histogram((128, 128, 128))
    assert [int(np.count_nonzero(h)) for h in (navy, black, grey)] == [1, 1, 1]
    assert len({int(h.argmax()) for h in (navy, black, grey)}) == 3
    mixed = histogram((28, 36, 72), (128, 128, 128))  # half navy, half grey
    assert mixed[navy.argmax()] == pytest.approx(0.5, abs=0.05) and mixed[grey.argmax()] == pytest.approx(0.5, abs=0.05)


def test_the_shade_lookup_gives_the_measured_nearest_shade():
    from fashionlens.inference.color_names import SHADE_LAB, measured_nearest_shades, nearest_shades, rgb2lab

    random = np.random.default_rng(0).integers(0, 256, (20000, 3), dtype=np.uint8)
    pixels = np.vstack([random, [[30, 40, 90], [190, 150, 110]]]).astype(np.uint8)  # and two reference shades
    lab = rgb2lab(pixels[None, :, :])[0]
    looked_up = nearest_shades(pixels, lab)
    assert np.array_equal(looked_up, measured_nearest_shades(lab))
    assert np.allclose(SHADE_LAB[looked_up[-2:]], lab[-2:], atol=1e-6)  # a reference shade is its own nearest


def test_dominant_color_ignores_skin_and_border_and_names_stripes(tmp_path):
    assert [
        dominant_color(Image.new("RGB", (40, 40), c)).name
        for c in (RED, GREEN, (40, 70, 220), (10, 10, 10), (250, 250, 250), (30, 40, 90))
    ] == ["Red", "Green", "Blue", "Black", "White", "Blue"]
    # a shop's names, not the nearest primary: navy and denim are Blue, camel and tan Brown
    assert [
        dominant_color(Image.new("RGB", (40, 40), c)).name
        for c in ((28, 36, 72), (70, 95, 140), (193, 154, 107), (210, 180, 140))
    ] == ["Blue", "Blue", "Brown", "Brown"]
    shirt = Image.new("RGB", (60, 60), (230, 230, 230))  # background shows in the box's border band
    shirt.paste((40, 70, 220), (5, 5, 55, 55))
    shirt.paste((225, 172, 140), (8, 8, 22, 52))  # an arm: skin-coloured pixels over the garment
    color = dominant_color(shirt, Box(0, 0, 60, 60))
    assert color.name == "Blue" and color.share == 1.0
    stripes = np.zeros((40, 40, 3), np.uint8)
    stripes[::2], stripes[1::2] = (250, 250, 250), (30, 40, 90)
    assert dominant_color(Image.fromarray(stripes)).name == MULTICOLOR
    shaded = np.full((40, 40, 3), 20, np.uint8)
    shaded[:, 20:] = 45  # one black fabric in light and shadow: still one colour
    assert dominant_color(Image.fromarray(shaded)).name == "Black"


def test_analyze_json_on_tiny_trained_models(tiny_runs):
    runs = tiny_runs
    analyzer = Analyzer.from_runs(runs.detector, runs.classifier)
    assert analyzer.threshold == load_checkpoint(runs.detector)["score_threshold"]
    photos = sorted((runs.street.parent / "images").glob("*.jpg"))
    analyses = analyzer.analyze_paths(photos)
    data = json.loads(analyses_json(analyses, analyzer.description))
    assert data["models"]["id"] == analyzer.model_id and len(data["images"]) == 4
    for image, analysis in zip(data["images"], analyses):
        assert (image["width"], image["height"]) == (64, 48) and image["garments"]
        for garment in image["garments"]:
            x1, y1, x2, y2 = garment["box"]
            assert 0 <= x1 <= x2 <= 64 and 0 <= y1 <= y2 <= 48
            assert garment["category"] in CLASSES and garment["color"] in COLOR_NAMES
            scores = [c["score"] for c in garment["top_categories"]]
            assert (
                scores == sorted(scores, reverse=True)
                and garment["top_categories"][0]["score"] == garment["category_score"]
            )
            if image["whole_image"]:
                assert garment["region_score"] is None and garment["box"] == [0, 0, 64, 48]
            else:
                assert garment["region"] in REGIONS and garment["region_score"] >= round(analyzer.threshold, 4)
                assert region_mask(garment["region"], CLASSES)[CLASSES.index(garment["category"])]
        for garment in analysis.garments:
            assert np.linalg.norm(garment.embedding) == pytest.approx(1.0, abs=1e-5)
            assert garment.embedding.shape == (1024,)  # mobilenet_v3_small's penultimate layer
    again = Analyzer.from_runs(runs.detector, runs.classifier)
    alone = again.analyze_paths(photos[:1])  # another batch composition, a freshly loaded model
    assert analyses_json(alone, again.description) == analyses_json(analyses[:1], analyzer.description)


def test_classifier_alone_and_loading_errors(tiny_runs, tmp_path):
    runs = tiny_runs
    analyzer = Analyzer.from_runs(None, runs.classifier)
    [analysis] = analyzer.analyze([load_image(runs.clothing.parent / "images" / "pants_train_0.jpg")], ["pants"])
    assert not analysis.detected and len(analysis.garments) == 1
    assert analysis.garments[0].color.name == "Green"  # conftest paints Pants green
    with pytest.raises(FashionLensError, match="--classifier .*: a detector run, not a classifier"):
        Analyzer.from_runs(None, runs.detector)
    with pytest.raises(FashionLensError, match="--detector .*: a classifier run, not a detector"):
        Analyzer.from_runs(runs.classifier, runs.classifier)
    with pytest.raises(FashionLensError, match="no checkpoint in this run directory"):
        Analyzer.from_runs(None, tmp_path)


def test_default_models_are_one_clear_error_until_installed(monkeypatch, tmp_path):
    monkeypatch.setattr("fashionlens.inference.default_models.WEIGHTS_DIR", tmp_path)
    with pytest.raises(FashionLensError, match=r"^no default models installed; pass --classifier RUN_DIR$"):
        resolve_runs(None, None)
    assert resolve_runs(None, Path("runs/c")) == (None, Path("runs/c"))  # no shipped detector: none
    (tmp_path / "detector.pt").write_bytes(b"x")
    assert resolve_runs(None, Path("runs/c")) == (tmp_path / "detector.pt", Path("runs/c"))
    assert resolve_runs(None, Path("runs/c"), whole_image=True) == (None, Path("runs/c"))
    with pytest.raises(FashionLensError, match="--whole-image and --detector exclude each other"):
        resolve_runs(Path("runs/d"), Path("runs/c"), whole_image=True)


def test_stage_statistics_leave_out_the_border_band():
    maps = torch.full((1, 2, 20, 20), 9.0)  # the crop's context margin: far from the garment's value
    maps[:, 0, 3:17, 3:17] = 2.0  # channel 0: one value inside; channel 1: two halves, 1 and 3
    maps[:, 1, 3:17, 3:10], maps[:, 1, 3:17, 10:17] = 1.0, 3.0
    statistics = stage_statistics(maps)  # a 15% band of 20 cells is 3 per side
    assert torch.allclose(statistics, torch.tensor([[2.0, 2.0, 0.0, 1.0]]))


def test_lite_classifier_gives_stage_statistics_in_the_same_pass():
    torch.manual_seed(0)
    model = build_classifier("efficientnet_lite0", 3, "img").eval()
    logits, features, stages = forward_with_features(model, torch.rand(2, 3, 64, 64), torch.zeros(2, 6))
    assert logits.shape == (2, 3) and features.shape == (2, 1280) and stages is not None
    assert stages.shape == (2, 2 * (24 + 40 + 80 + 112)) and bool((stages[:, 24:48] >= 0).all())  # first spreads
    assert not any(block._forward_hooks for block in model.backbone.blocks)  # the hooks are removed


def test_a_garment_under_a_coat_reports_no_sleeve_and_the_coat_keeps_its_own():
    from fashionlens.inference.attributes import SLEEVES, Prediction
    from fashionlens.inference.colors import color_of_pixels

    colour = color_of_pixels(np.full((16, 3), 128, dtype=np.uint8))
    sleeveless = Prediction.of(SLEEVES, np.array([0.8, 0.1, 0.1]))
    long = Prediction.of(SLEEVES, np.array([0.1, 0.1, 0.8]))

    def garment(box: Box, category: str, sleeve: Prediction) -> AnalyzedGarment:
        return AnalyzedGarment(box, "upper", 0.9, category, 0.9, [(category, 0.9)], colour, np.zeros(4), None, sleeve)

    coat = garment(Box(10, 10, 110, 210), "Outwear", long)
    under = garment(Box(40, 20, 80, 120), "Shirt", sleeveless)  # inside the coat's box
    beside = garment(Box(100, 20, 160, 120), "Shirt", sleeveless)  # a third of it outside
    kept = without_hidden_sleeves([coat, under, beside])
    assert [g.sleeve and g.sleeve.name for g in kept] == ["long", None, "sleeveless"]
    assert without_hidden_sleeves([under, beside]) == [under, beside]  # no outer layer: nothing hidden


def test_a_dress_that_shows_only_below_a_top_reports_no_sleeve():
    from fashionlens.inference.attributes import SLEEVES, Prediction
    from fashionlens.inference.colors import color_of_pixels

    colour = color_of_pixels(np.full((16, 3), 128, dtype=np.uint8))
    long = Prediction.of(SLEEVES, np.array([0.1, 0.1, 0.8]))

    def garment(box: Box, region: str, category: str) -> AnalyzedGarment:
        return AnalyzedGarment(box, region, 0.9, category, 0.9, [(category, 0.9)], colour, np.zeros(4), None, long)

    top = garment(Box(110, 90, 210, 190), "upper", "Shirt")
    below = garment(Box(90, 175, 225, 425), "full", "Dress")  # starts 85% down the shirt's box (demo 0045)
    whole = garment(Box(100, 95, 220, 400), "full", "Dress")  # from the shoulders: its sleeves show
    aside = garment(Box(300, 175, 400, 425), "full", "Dress")  # another person's, beside the top
    kept = without_hidden_sleeves([top, below, whole, aside])
    assert [g.sleeve and g.sleeve.name for g in kept] == ["long", None, "long", "long"]


def test_a_strip_of_a_coat_read_as_a_top_goes_and_the_shirt_under_the_coat_stays():
    from fashionlens.inference.colors import color_of_pixels

    brown = color_of_pixels(np.tile(np.array([[150, 100, 60]], dtype=np.uint8), (16, 1)))
    white = color_of_pixels(np.full((16, 3), 240, dtype=np.uint8))
    assert brown.name != white.name

    def garment(box: Box, region: str, score: float, colour) -> AnalyzedGarment:
        return AnalyzedGarment(box, region, score, "X", 0.9, [("X", 0.9)], colour, np.zeros(4))

    # demo photo 0060: a camel coat (full body), the white shirt under it, a strip of the coat read as a top
    coat = garment(Box(88, 82, 233, 314), "full", 0.94, brown)
    shirt = garment(Box(158, 85, 181, 183), "upper", 0.97, white)
    strip = garment(Box(149, 85, 189, 208), "upper", 0.89, brown)
    assert without_full_garments_parts([coat, shirt, strip]) == [coat, shirt]
    surer_strip = garment(strip.box, "upper", 0.95, brown)  # scored above the coat: not a part of it
    assert without_full_garments_parts([coat, surer_strip]) == [coat, surer_strip]
    less_sure_shirt = garment(shirt.box, "upper", 0.80, white)  # scored below the coat, but of its own colour
    assert without_full_garments_parts([coat, less_sure_shirt]) == [coat, less_sure_shirt]
    half_out = garment(Box(40, 85, 130, 208), "upper", 0.89, brown)  # half of it outside the coat's box
    assert without_full_garments_parts([coat, half_out]) == [coat, half_out]
