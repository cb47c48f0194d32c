"""`fashionlens demo` end to end on the embedded samples, with tiny settings (the real ones take minutes)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from markupsafe import escape

from fashionlens import samples as package_samples
from fashionlens.cli.demo import DemoSettings

pytestmark = pytest.mark.slow  # the demo trains, or takes the tiny trained runs

TINY = DemoSettings(
    arch="mobilenet_v3_small", image_size=32, epochs=1, batch_size=16, street_photos=2, products=12, k=2
)


@pytest.fixture
def fashionlens(fashionlens, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """`fashionlens ...` in this process with the tiny demo settings and no pretrained weights."""
    monkeypatch.setattr("fashionlens.cli.demo.DEMO", TINY)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty-torch-cache"))
    return fashionlens


def readable_page(page: str, tmp_path: Path) -> None:
    """What the issue asked of the page: no absolute path (it is read on other machines), no empty table,
    each figure once."""
    assert str(tmp_path) not in page and str(Path(package_samples.__file__).parents[1]) not in page
    assert not re.search(r"(?<![\w.:/])/(tmp|home|work|usr|root|var|opt|Users)/", page)
    for table in re.findall(r"<table>.*?</table>", page, flags=re.S):  # a table spans lines
        assert "<td>" in table, table  # a header row alone, or nothing
    assert "<th></th>" not in page
    figures = re.findall(r'<figure><img src="([^"]+)"', page)
    assert len(figures) == len(set(figures))


def test_without_default_models_the_demo_audits_trains_and_says_what_it_skipped(fashionlens, tmp_path, monkeypatch):
    monkeypatch.setattr("fashionlens.inference.default_models.WEIGHTS_DIR", tmp_path / "no-weights")
    out = tmp_path / "demo-out"
    result = fashionlens("demo", "--out", out, "--train")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == str(out / "index.html")
    assert "samples          250   (250 labelled garments)" in result.stdout  # the audits
    assert "samples          80   (189 labelled garments)" in result.stdout
    assert "evaluation on the clothing sample's val photos: VERDICT: " in result.stdout
    assert (
        "skipped the shipped models, the catalogue import, the recommendations and the insights: no default models"
    ) in result.stdout
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "VERDICT: " in page and page.count("<figure>") == 1 and 'src="training/history.png"' in page
    assert (
        "Skipped: shipped models, catalogue import, analysis and recommendations, insights.</b> Why: no default "
        "models installed"
    ) in page
    readable_page(page, tmp_path)
    for name in ("training/best.pt", "training/history.png", "training/eval/report.html", "training/eval/metrics.json"):
        assert (out / name).is_file(), name
    assert not (out / "catalog.db").exists()
    metrics = json.loads((out / "training" / "eval" / "metrics.json").read_text())
    assert metrics["n"] == 50 and f"{metrics['accuracy']:.3f}" in page  # the sample's 50 val photos
    story = json.loads((out / "demo.json").read_text())
    assert [step["status"] for step in story["steps"]] == ["done", "done"] + ["skipped"] * 4
    untrained = fashionlens("demo", "--out", out)  # without --train: the audit, and how to go on
    assert untrained.returncode == 0 and "`fashionlens demo --train` trains a model" in untrained.stdout
    assert not (out / "training").exists()


def test_with_default_models_the_page_shows_recommendations_and_insights(fashionlens, tmp_path, tiny_runs, monkeypatch):
    runs = tiny_runs
    weights = tmp_path / "weights"
    weights.mkdir()
    shutil.copy(runs.classifier / "best.pt", weights / "classifier.pt")
    shutil.copy(runs.detector / "best.pt", weights / "detector.pt")
    monkeypatch.setattr("fashionlens.inference.default_models.WEIGHTS_DIR", weights)
    out = tmp_path / "demo-out"
    (out / "training").mkdir(parents=True)
    (out / "notes.txt").write_text("mine")
    refused = fashionlens("demo", "--out", out)
    assert refused.returncode == 2 and "is not an earlier demo's output" in refused.stderr
    (out / "notes.txt").unlink()
    shutil.rmtree(out / "training")
    for _ in range(2):  # a second run replaces the first one's output
        result = fashionlens("demo", "--out", out)
        assert result.returncode == 0, result.stderr
    assert "catalogue: imported 12 items (12 new, 0 updated, 0 unchanged); 0 bad rows" in result.stdout
    story = json.loads((out / "demo.json").read_text())
    assert [step["name"] for step in story["steps"]] == [
        "audit",
        "shipped models",
        "catalogue import",
        "analysis and recommendations",
        "insights",
    ]
    assert {step["status"] for step in story["steps"]} == {"done"}
    assert len(story["photos"]) == 2 and story["insights"]["summary"]["events"] == 2  # this run's events only
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "Skipped" not in page and "VERDICT: " not in page and not (out / "training").exists()  # no --train
    assert "<td>weights/classifier.pt</td>" in page and "<td>weights/detector.pt</td>" in page
    assert "Click-through: no clicks yet (" in page and "Trend: 1 day of events so far" in page
    readable_page(page, tmp_path)
    for photo in story["photos"]:
        assert (out / photo["annotated"]).is_file() and f'src="{photo["annotated"]}"' in page
        for garment in photo["garments"]:
            assert 1 <= len(garment["similar"]) <= 2  # the catalogue holds a single full-body item
            for pick in garment["similar"] + garment["complete_the_look"]:
                assert (out / pick["image"]).is_file() and f'src="{pick["image"]}"' in page
                assert escape(pick["why"]["reason"]) in page  # each card says why (as the template escapes it)
            g = garment["garment"]  # each number names its model
            box = (
                "whole photo, no box detected"
                if g["region_score"] is None
                else f"box: detector {g['region_score']:.0%} sure"
            )
            assert f"{box} · category: {g['category']} {g['category_score']:.0%} (classifier" in page
    for chart in ("insights/shares.png", "insights/insights.csv"):
        assert (out / chart).is_file() and chart in page
    assert not (out / "insights" / "trend.png").exists() and not (out / "insights" / "click_through.png").exists()
    rows = (out / "products.csv").read_text().splitlines()
    assert rows[0] == "id,image,name,price,category" and len(rows) == 13
    assert len({row.split(",")[-1] for row in rows[1:]}) == 10  # interleaved: every class of the sample
