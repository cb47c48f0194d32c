"""`fashionlens evaluate` and `compare` end to end, on tiny real-format datasets and tiny checkpoints.

The classifiers are built so that their answers are known: one always predicts a fixed class (the
lazy route), the other is a nearest-colour classifier over a random backbone's features (right on
every solid-colour photo). No training is needed.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch

from conftest import PALETTE, make_coco_dataset, make_image
from fashionlens.core.checkpoint import save_checkpoint
from fashionlens.core.images import load_image
from fashionlens.data.transforms import classification_eval_transform
from fashionlens.models.classifier import build_classifier
from fashionlens.models.detector import build_detector, detector_config
from helpers import CHECKPOINT_CLASSES as CLASSES
from helpers import CHECKPOINT_PREPROCESSING as PREPROCESSING
from helpers import run_cli, save_classifier

VAL_COUNTS = {"T-Shirt": 16, "Pants": 2, "Dress": 2}  # 80/10/10, enough for the binomial test


@pytest.fixture
def clothing(tmp_path: Path) -> Path:
    """labels.csv: one train photo per class, val photos 8/1/1, one colour per class."""
    root = tmp_path / "clothing"
    rows = [["image", "label", "kids", "split"]]
    for index, label in enumerate(CLASSES):
        for split, count in (("train", 1), ("val", VAL_COUNTS[label])):
            for number in range(count):
                name = f"images/{label}_{split}_{number}.png"
                make_image(root / name, (32, 32), PALETTE[index])
                rows.append([name, label, "False", split])
    with (root / "labels.csv").open("w", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)
    return root / "labels.csv"


def nearest_colour_head(model, data_root: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """A linear head that picks the nearest class centroid of the backbone's features."""
    transform = classification_eval_transform(PREPROCESSING)
    with torch.no_grad():
        centroids = torch.stack(
            [
                model.backbone(transform(load_image(data_root / f"images/{label}_train_0.png"))[None])[0]
                for label in CLASSES
            ]
        )
    return centroids, -0.5 * (centroids**2).sum(dim=1)


@pytest.fixture
def lazy_run(tmp_path: Path) -> Path:
    save_classifier(tmp_path / "lazy")
    return tmp_path / "lazy"


@pytest.fixture
def good_run(tmp_path: Path, clothing: Path) -> Path:
    model = save_classifier(tmp_path / "good")
    save_classifier(tmp_path / "good", head=nearest_colour_head(model, clothing.parent))
    return tmp_path / "good"


def test_lazy_classifier_is_reported_collapsed_json_only_on_stdout(capsys, lazy_run, clothing):
    code, out, err = run_cli(capsys, "evaluate", str(lazy_run), "--data", str(clothing), "--json")
    assert code == 0, err
    metrics = json.loads(out)  # stdout holds the JSON and nothing else
    assert metrics["collapsed"] is True and metrics["accuracy"] == pytest.approx(0.8)
    assert metrics["majority_baseline"] == pytest.approx(0.8)
    assert metrics["balanced_accuracy"] == pytest.approx(1 / 3)
    assert metrics["top3_accuracy"] is None and metrics["top5_accuracy"] is None  # 3 classes
    assert metrics["per_class"]["T-Shirt"] == {
        "precision": 0.8,
        "recall": 1.0,
        "f1": pytest.approx(8 / 9),
        "support": 16,
    }
    assert metrics["by_dataset"][str(clothing)]["accuracy"] == metrics["accuracy"]
    assert "wrote" in err
    eval_dir = lazy_run / "eval"
    assert json.loads((eval_dir / "metrics.json").read_text()) == metrics
    html = (eval_dir / "report.html").read_text()
    assert html.index("COLLAPSED") < html.index("Datasets side by side")  # the verdict comes first
    for name in ("d1_confusion.png", "d1_roc.png", "d1_shares.png"):
        assert f'src="{name}"' in html and (eval_dir / name).read_bytes()[:4] == b"\x89PNG"
    assert not [p for p in eval_dir.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_good_classifier_is_not_collapsed_and_the_verdict_is_printed_first(capsys, good_run, clothing, tmp_path):
    code, out, err = run_cli(capsys, "evaluate", str(good_run), "--data", str(clothing), "--out", str(tmp_path / "o"))
    assert code == 0, err
    assert out.splitlines()[1].strip().startswith("VERDICT: not collapsed")
    metrics = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert metrics["accuracy"] == 1.0 and metrics["collapsed"] is False
    assert metrics["roc_auc_macro"] == 1.0


def test_two_datasets_side_by_side_with_street_labels_mapped(capsys, lazy_run, clothing, tmp_path):
    street = make_coco_dataset(
        tmp_path / "street",
        images=[
            ("train", [(1, "shirt", [8, 4, 40, 18])]),
            ("val", [(1, "blouse", [4, 4, 40, 20]), (2, "jeans", [8, 26, 40, 20])]),
        ],
    )
    code, out, err = run_cli(
        capsys, "evaluate", str(lazy_run), "--data", str(clothing), "--data", str(street), "--json"
    )
    assert code == 0, err
    metrics = json.loads(out)
    wild = metrics["by_dataset"][str(street)]
    assert list(metrics["by_dataset"]) == [str(clothing), str(street)]
    assert wild["n"] == 1 and wild["label_mapping"]["left_out_labels"] == {"blouse": 1}
    assert wild["label_mapping"]["renamed"] == {"jeans -> Pants": 1}
    assert wild["accuracy"] == 0.0 and wild["collapsed"] is None  # one class in its labels
    assert "blouse" in err  # the left-out garments are announced
    html = (lazy_run / "eval" / "report.html").read_text()
    header = html[html.index("Datasets side by side") :].split("</tr>")[0]
    assert str(clothing) in header and str(street) in header


def test_compare_case_table(capsys, lazy_run, good_run, clothing, tmp_path):
    out_dir = tmp_path / "cmp"
    code, out, err = run_cli(
        capsys, "compare", str(lazy_run), str(good_run), "--data", str(clothing), "--out", str(out_dir)
    )
    assert code == 0, err
    rows = list(csv.DictReader((out_dir / "cases.csv").open()))
    by_class = {row["class"]: row for row in rows}
    # lazy A is right on T-Shirts only; good B on everything.
    assert by_class["T-Shirt"]["both_right"] == "16" and by_class["T-Shirt"]["only_b_right"] == "0"
    assert by_class["Pants"]["only_b_right"] == "2" and by_class["Dress"]["only_b_right"] == "2"
    assert by_class["all"]["accuracy_a"] == "0.8" and by_class["all"]["accuracy_b"] == "1.0"
    assert "T-Shirt" in out and "McNemar" in out and out.index("COLLAPSED") < out.index("both_right")
    document = json.loads((out_dir / "compare.json").read_text())
    assert document["a"]["collapsed"] is True and document["b"]["collapsed"] is False
    assert "only_b_right" in (out_dir / "report.html").read_text()


def save_detector(run_dir: Path, silent: bool) -> None:
    torch.manual_seed(0)
    arch = "fasterrcnn_mobilenet_v3_large_320_fpn"
    model = build_detector(arch, 3, image_size=64).eval()
    if silent:  # background always wins: the model detects nothing
        with torch.no_grad():
            model.roi_heads.box_predictor.cls_score.weight.zero_()
            model.roi_heads.box_predictor.cls_score.bias.copy_(torch.tensor([20.0, -20.0, -20.0, -20.0]))
    save_checkpoint(
        {
            "kind": "detector",
            **detector_config(model, arch),
            "class_names": ["upper", "lower", "full"],
            "config": {},
            "metrics": {},
            "epoch": 0,
            "model": model.state_dict(),
            "score_threshold": 0.5,
        },
        run_dir / "best.pt",
    )


@pytest.mark.parametrize("silent", [True, False])
def test_detector_evaluation_two_datasets(capsys, tmp_path, silent):
    save_detector(tmp_path / "det", silent)
    curated = make_coco_dataset(tmp_path / "curated")
    wild = make_coco_dataset(
        tmp_path / "wild",
        images=[
            ("val", [(3, "dress", [4, 2, 40, 40])]),
            ("val", [(1, "shirt", [2, 2, 30, 20]), (2, "jeans", [2, 22, 30, 20]), (2, "pants", [20, 20, 10, 0])]),
        ],
    )
    code, out, err = run_cli(
        capsys,
        "evaluate",
        str(tmp_path / "det"),
        "--data",
        str(curated),
        "--data",
        str(wild),
        "--split",
        "all",
        "--json",
    )
    assert code == 0, err
    metrics = json.loads(out)
    assert list(metrics["by_dataset"]) == [str(curated), str(wild)]
    for values in metrics["by_dataset"].values():
        for value in [values["map"], values["map50"], *values["per_class_ap50"].values()]:
            assert 0.0 <= value <= 1.0
        assert set(values["per_class_ap50"]) == {"upper", "lower", "full"}
    assert metrics["by_dataset"][str(wild)]["left_out_boxes"] == {"zero-area box": 1}
    if silent:
        assert metrics["map"] == 0.0 and metrics["detections"] == 0
    html = (tmp_path / "det" / "eval" / "report.html").read_text()
    header = html[html.index("Datasets side by side") :].split("</tr>")[0]
    assert str(curated) in header and str(wild) in header and "d2_froc.png" in html


def test_run_without_checkpoint_is_one_line_and_writes_nothing(capsys, tmp_path, clothing):
    (tmp_path / "empty").mkdir()
    code, out, err = run_cli(capsys, "evaluate", str(tmp_path / "empty"), "--data", str(clothing))
    assert code != 0 and out == ""
    assert err.count("\n") == 1 and "no checkpoint" in err
    assert not (tmp_path / "empty" / "eval").exists()


def test_empty_split_is_one_line_and_writes_nothing(capsys, lazy_run, clothing):
    code, _, err = run_cli(capsys, "evaluate", str(lazy_run), "--data", str(clothing), "--split", "test")
    assert code != 0 and err.strip().splitlines()[-1] == (
        f"error: {clothing}: no samples in split 'test' (splits present: train, val)"
    )
    assert not (lazy_run / "eval").exists()


def test_dataset_with_no_matching_classes_fails_before_writing(capsys, lazy_run, clothing, tmp_path):
    other = tmp_path / "other"
    make_image(other / "a.png")
    (other / "labels.csv").write_text("image,label,kids,split\na.png,Hat,False,val\n")
    # the second dataset is bad: the first one's results must not be written either
    code, _, err = run_cli(
        capsys, "evaluate", str(lazy_run), "--data", str(clothing), "--data", str(other / "labels.csv")
    )
    assert code != 0 and "no label maps onto the checkpoint's classes" in err and "Hat" in err
    assert not (lazy_run / "eval").exists()


def test_compare_refuses_runs_with_other_classes(capsys, lazy_run, tmp_path, clothing):
    save_checkpoint(
        {
            "kind": "classifier",
            "arch": "resnet18",
            "mode": "img",
            "class_names": ["Hat", "Shoes"],
            "preprocessing": PREPROCESSING,
            "config": {},
            "metrics": {},
            "epoch": 0,
            "model": build_classifier("resnet18", 2, "img").state_dict(),
        },
        tmp_path / "hats" / "best.pt",
    )
    code, _, err = run_cli(capsys, "compare", str(lazy_run), str(tmp_path / "hats"), "--data", str(clothing))
    assert code != 0 and "predicts other classes" in err
    assert not list(lazy_run.glob("compare-*"))
