"""Attribute heads: masked fits, the collapse verdict on a lazy pattern head, the analysis JSON's attributes,
no sleeve for lower garments, heads of another classifier refused, and a head reading the texture
statistics (texture.py) loaded from its file and predicting through the Analyzer."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from fashionlens.core.errors import FashionLensError
from fashionlens.core.records import Box, Detection
from fashionlens.evaluation.honesty import honesty_check
from fashionlens.inference.analyzer import Analyzer, ClassifiedGarment
from fashionlens.inference.attributes import (
    FORMAT,
    PATTERNS,
    SLEEVE_REGIONS,
    SLEEVES,
    AttributeHeads,
    LinearHead,
    load_heads,
)
from fashionlens.inference.color_names import shipped_namer
from fashionlens.inference.colors import COLOR_NAMES, dominant_color, product_color
from fashionlens.inference.foreground import product_foreground
from fashionlens.inference.texture import LENGTH, PEAKINESS
from fashionlens.train.attributes import FitChoice, as_head, cross_validate, fit_linear
from tiny_models import random_analyzer


def blank_some(labels: np.ndarray, every: int = 3) -> np.ndarray:
    blanked = labels.copy()
    blanked[::every] = ""
    return blanked


def test_a_fit_ignores_rows_without_a_label():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(60, 5))
    labels = np.array(["solid", "striped", "floral"])[rng.integers(0, 3, size=60)]
    blanked = blank_some(labels)
    kept = blanked != ""
    garbage = features.copy()
    garbage[~kept] = rng.normal(100, 50, size=(int((~kept).sum()), 5))  # what the masked rows hold must not matter
    choice = FitChoice(1.0, "balanced")
    with_blanks = fit_linear(garbage, blanked, choice, extra_features=garbage + 0.1)
    without = fit_linear(features[kept], labels[kept], choice, extra_features=features[kept] + 0.1)
    for (scaler, model), (scaler_ref, model_ref) in [(with_blanks, without)]:
        assert np.allclose(scaler.mean_, scaler_ref.mean_) and np.allclose(model.coef_, model_ref.coef_)
    scores = cross_validate(garbage, blanked, [choice], "accuracy")
    assert scores == cross_validate(features[kept], labels[kept], [choice], "accuracy")


def test_a_pattern_head_that_answers_the_majority_is_flagged_collapsed():
    rng = np.random.default_rng(0)
    labels = np.array(["solid"] * 180 + ["striped"] * 10 + ["floral"] * 10)  # 90% one class
    noise = rng.normal(size=(len(labels), 8))  # nothing to learn: an unweighted, strongly regularised fit answers solid
    scaler, model = fit_linear(noise, labels, FitChoice(0.001, None))
    head = as_head(scaler, model, ("solid", "striped", "floral"), ("embedding",))
    predicted = head.probabilities(rng.normal(size=(len(labels), 8))).argmax(axis=1)
    assert set(predicted) == {0}
    truth = np.array([head.names.index(label) for label in labels])
    check = honesty_check(truth, predicted, list(head.names))
    assert check["collapsed"] is True and any("near chance" in reason for reason in check["reasons"])


def test_a_head_that_learned_its_classes_is_not_collapsed():
    rng = np.random.default_rng(1)
    labels = np.array(["solid"] * 180 + ["striped"] * 10 + ["floral"] * 10)
    signal = np.eye(3)[[("solid", "striped", "floral").index(label) for label in labels]] * 3
    features = np.hstack([signal, rng.normal(size=(len(labels), 5))])
    head = as_head(
        *fit_linear(features, labels, FitChoice(1.0, "balanced")), ("solid", "striped", "floral"), ("embedding",)
    )
    predicted = head.probabilities(features).argmax(axis=1)
    truth = np.array([head.names.index(label) for label in labels])
    assert honesty_check(truth, predicted, list(head.names))["collapsed"] is False


def constant_head(names: tuple[str, ...], width: int, inputs: tuple[str, ...], regions=None) -> LinearHead:
    """A head whose answer is the last name, whatever the garment (probabilities rising along the names)."""
    return LinearHead(
        names,
        inputs,
        np.zeros(width),
        np.ones(width),
        np.zeros((len(names), width)),
        np.linspace(0.0, 1.0, len(names)),
        regions,
    )


def heads_for(analyzer: Analyzer, embedding_width: int) -> AttributeHeads:
    both = embedding_width + len(dominant_color(Image.new("RGB", (8, 8))).features)
    return AttributeHeads(
        analyzer.model_id,
        {
            "pattern": constant_head(PATTERNS, embedding_width, ("embedding",)),
            "sleeve": constant_head(SLEEVES, embedding_width, ("embedding",), SLEEVE_REGIONS),
            "colour": constant_head(COLOR_NAMES, both, ("embedding", "color_features")),
        },
        {},
    )


def embedding_width(analyzer: Analyzer) -> int:
    return analyzer.classify([(Image.new("RGB", (32, 32)), Box(0, 0, 32, 32))]).embeddings.shape[1]


def test_the_analysis_json_carries_the_attributes_with_their_probabilities(tmp_path):
    analyzer = random_analyzer()
    analyzer.attribute_heads = heads_for(analyzer, embedding_width(analyzer))
    photo = tmp_path / "tee.png"
    Image.new("RGB", (40, 40), (40, 70, 220)).save(photo)
    [analysis] = analyzer.analyze_paths([photo])
    garment = json.loads(json.dumps(analysis.to_json()))["garments"][0]
    pattern, colour = garment["attributes"]["pattern"], garment["attributes"]["colour"]
    assert pattern["name"] == "other" and list(pattern["probabilities"]) == list(PATTERNS)
    assert pattern["probability"] == max(pattern["probabilities"].values())
    assert sum(pattern["probabilities"].values()) == pytest.approx(1.0, abs=1e-3)
    # one colour per garment; a product photo keeps its foreground's pixel colour (Blue), not the head's
    assert colour["name"] == garment["color"] == "Blue" and colour["probability"] == garment["color_score"]
    assert sorted(colour["probabilities"]) == sorted(COLOR_NAMES)
    # a detected garment's colour is the colour head's answer
    image, box = Image.open(photo).convert("RGB"), Box(0, 0, 40, 40)
    classified = analyzer.classify([(image, box)]).row(0)
    detected = analyzer.describe(box, Detection(box, "upper", 0.9), classified, dominant_color(image, box))
    assert detected.to_json()["color"] == COLOR_NAMES[-1] != "Blue"


def test_lower_garments_carry_no_sleeve():
    analyzer = random_analyzer()
    width = embedding_width(analyzer)
    analyzer.attribute_heads = heads_for(analyzer, width)
    image, box = Image.new("RGB", (40, 40), (40, 70, 220)), Box(0, 0, 40, 40)
    probabilities, embedding = np.full(3, 1 / 3), np.ones(width, np.float32) / np.sqrt(width)
    lower, upper = (
        analyzer.describe(
            box,
            Detection(box, region, 0.9),
            ClassifiedGarment(probabilities, embedding, None),
            dominant_color(image, box),
        )
        for region in ("lower", "upper")
    )
    assert lower.sleeve is None and lower.attributes_json()["sleeve"] is None and lower.pattern is not None
    assert upper.sleeve.name == "long" and upper.attribute_words() == ["other", "long sleeve"]


def test_without_heads_a_garment_has_no_pattern_or_sleeve_and_its_pixel_colour(tmp_path):
    analyzer = random_analyzer()
    photo = tmp_path / "tee.png"
    Image.new("RGB", (40, 40), (40, 70, 220)).save(photo)
    garment = analyzer.analyze_paths([photo])[0].garments[0]
    assert (garment.pattern, garment.sleeve, garment.color.name) == (None, None, "Blue")
    assert garment.attributes_json()["colour"]["name"] == "Blue"


def test_heads_fitted_on_another_classifier_are_refused(tiny_runs, tmp_path_factory):
    runs = tiny_runs
    analyzer = Analyzer.from_runs(None, runs.classifier)
    assert analyzer.attribute_heads is None  # the shipped heads are another classifier's: not used
    heads = heads_for(analyzer, embedding_width(analyzer))
    path = tmp_path_factory.mktemp("heads") / "attributes.json"
    path.write_text(json.dumps(heads.to_json()))
    assert load_heads(path, analyzer.model_id).heads.keys() == heads.heads.keys()
    assert Analyzer.from_runs(None, runs.classifier, attributes=path).attribute_heads is not None
    other = AttributeHeads("efficientnet_lite0-0000000000000000", heads.heads, {})
    path.write_text(json.dumps(other.to_json()))
    with pytest.raises(FashionLensError, match="fitted on classifier efficientnet_lite0-0000000000000000, not on"):
        Analyzer.from_runs(None, runs.classifier, attributes=path)


def stripes_photo(size: int = 96, period: int = 12) -> Image.Image:
    row = np.where((np.arange(size) // (period // 2)) % 2 == 0, 30, 220).astype(np.uint8)
    return Image.fromarray(np.repeat(np.tile(row, (size, 1))[:, :, None], 3, axis=2))


def texture_pattern_head(width: int) -> LinearHead:
    """A pattern head on the embedding and the texture statistics answering striped for a spectrally peaky
    garment, solid otherwise."""
    coef = np.zeros((len(PATTERNS), width + LENGTH))
    coef[PATTERNS.index("striped"), width + PEAKINESS.start] = 10.0
    intercept = np.zeros(len(PATTERNS))
    intercept[PATTERNS.index("solid")] = 2.5
    return LinearHead(
        PATTERNS, ("embedding", "texture_features"), np.zeros(width + LENGTH), np.ones(width + LENGTH), coef, intercept
    )


def test_a_heads_file_reading_texture_features_loads_and_predicts_through_the_analyzer(tmp_path):
    analyzer = random_analyzer()
    width = embedding_width(analyzer)
    path = tmp_path / "attributes.json"
    heads = AttributeHeads(analyzer.model_id, {"pattern": texture_pattern_head(width)}, {})
    path.write_text(json.dumps(heads.to_json()))
    analyzer.attribute_heads = load_heads(path, analyzer.model_id)
    assert analyzer.attribute_heads.heads["pattern"].inputs == ("embedding", "texture_features")
    stripes, flat = tmp_path / "stripes.png", tmp_path / "flat.png"
    stripes_photo().save(stripes)
    Image.new("RGB", (96, 96), (40, 70, 220)).save(flat)
    # product photos (nothing detected): the texture of the foreground's box
    found = [analysis.garments[0] for analysis in analyzer.analyze_paths([stripes, flat])]
    assert [g.pattern.name for g in found] == ["striped", "solid"]
    assert json.loads(json.dumps(found[0].to_json()))["attributes"]["pattern"]["name"] == "striped"
    # a detected garment: the texture of its box, as the colour step reads it
    image, box = stripes_photo(), Box(8, 8, 88, 88)
    probabilities, embedding = np.full(3, 1 / 3), np.ones(width, np.float32) / np.sqrt(width)
    classified = ClassifiedGarment(probabilities, embedding, None)
    garment = analyzer.describe(box, Detection(box, "upper", 0.9), classified, dominant_color(image, box))
    assert garment.pattern.name == "striped" and garment.sleeve is None  # no sleeve head in this file
    # a colour made without the photo has no texture: a head that reads it gives no answer, not a guess
    colour = product_color(product_foreground(image))
    assert colour.texture is None and analyzer.describe(box, None, classified, colour).pattern is None


def test_a_head_reading_an_unknown_input_is_refused(tmp_path):
    head = constant_head(PATTERNS, 4, ("embedding",)).to_json()
    path = tmp_path / "attributes.json"
    path.write_text(
        json.dumps({"format": FORMAT, "classifier": "m", "heads": {"pattern": {**head, "inputs": ["shape_features"]}}})
    )
    with pytest.raises(FashionLensError, match="unknown inputs"):
        load_heads(path, "m")


def test_a_head_reading_stage_statistics_answers_where_the_classifier_has_them():
    image, box = Image.new("RGB", (64, 64), (200, 30, 35)), Box(4, 4, 60, 60)
    lite = random_analyzer(arch="efficientnet_lite0")
    stages = lite.classify([(image, box)]).stages
    assert stages is not None and stages.shape == (1, 512)
    for analyzer, answer in ((lite, "other"), (random_analyzer(), None)):  # a ResNet has no stage statistics
        head = constant_head(PATTERNS, 512, ("stage_features",))
        analyzer.attribute_heads = AttributeHeads(analyzer.model_id, {"pattern": head}, {})
        classified = analyzer.classify([(image, box)]).row(0)
        garment = analyzer.describe(box, Detection(box, "upper", 0.9), classified, dominant_color(image, box))
        assert (garment.pattern and garment.pattern.name) == answer


def test_a_colour_head_reading_the_pixel_colour_models_probabilities_gets_them_in_its_names_order():
    namer = shipped_namer()
    names = tuple(reversed(namer.names))  # the head's names in another order than the pixel model's
    coef = 10.0 * np.array([[float(mine == theirs) for theirs in namer.names] for mine in names])
    head = LinearHead(names, ("color_probabilities",), np.zeros(13), np.ones(13), coef, np.zeros(13))
    analyzer = random_analyzer()
    analyzer.attribute_heads = AttributeHeads(analyzer.model_id, {"colour": head}, {})
    width = embedding_width(analyzer)
    classified = ClassifiedGarment(np.full(3, 1 / 3), np.ones(width, np.float32) / np.sqrt(width), None)
    box = Box(4, 4, 60, 60)
    for rgb, name in (((200, 30, 35), "Red"), ((28, 36, 72), "Blue"), ((240, 240, 240), "White")):
        color = dominant_color(Image.new("RGB", (64, 64), rgb), box, with_texture=False)
        garment = analyzer.describe(box, Detection(box, "upper", 0.9), classified, color)
        learned = head.probabilities(namer.probabilities_of(color.features)[None, :])[0]
        assert color.name == garment.color.name == name
        assert garment.color.score == round(float(learned.max()), 4) != color.score  # the head's, not the pixels'
