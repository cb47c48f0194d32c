"""`fashionlens audit` end to end, in a fresh process as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


def fashionlens_process(*args: str) -> subprocess.CompletedProcess:
    """The command in a fresh process, exactly as a user runs it."""
    return subprocess.run(
        [sys.executable, "-c", "from fashionlens.cli import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_audit_json_prints_only_one_json_object(labels_csv_dataset: Path):
    result = fashionlens_process("audit", str(labels_csv_dataset), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)  # fails on anything but exactly one JSON document
    assert report["samples"] == 18 and report["format"] == "labels-csv"
    assert report["classes"] == {"Dress": 6, "Pants": 6, "T-Shirt": 6}
    assert report["regions"] == {"upper": 6, "lower": 6, "full": 6}
    assert report["splits"] == {"train": 12, "val": 6}
    assert (report["majority_class"], report["majority_share"], report["imbalance_ratio"]) == ("Dress", 0.3333, 1.0)
    assert report["problems"] == []
    assert "reading" in result.stderr  # messages go to stderr


def test_malformed_input_in_a_fresh_process_has_no_traceback(tmp_path: Path):
    path = tmp_path / "labels.csv"
    path.write_text("image,label,x1,y1,x2,y2\na.jpg,Shirt,1,2,x,4\n", encoding="utf-8")
    result = fashionlens_process("audit", str(path))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines()[-1] == f"error: {path}:2: x1,y1,x2,y2 must be numbers, found '1,2,x,4'"
    assert "Traceback" not in result.stderr


def test_audit_table_reports_problems(coco_dataset: Path, fashionlens):
    (coco_dataset.parent / "images" / "0002.jpg").unlink()
    result = fashionlens("audit", str(coco_dataset.parent))
    assert result.returncode == 0, result.stderr
    assert "samples          4   (7 labelled garments)" in result.stdout
    assert "problems         1:" in result.stdout
    assert f"{coco_dataset.parent / 'images' / '0002.jpg'}: image not found" in result.stdout


@pytest.mark.parametrize(
    "name, text, where",
    [
        ("labels.csv", "image,label\na.jpg,Shirt\nb.jpg\n", "labels.csv:3: expected 2 columns, found 1"),
        ("labels.csv", "file,label\na.jpg,Shirt\n", "labels.csv:1: the header needs the columns image,label"),
        ("x.json", '{"images": [], "annotations": [\n{"image_id": 1}\n]}', "x.json:2: unknown image id 1"),
    ],
)
def test_malformed_input_is_one_line_without_traceback(tmp_path: Path, name: str, text: str, where: str, fashionlens):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    result = fashionlens("audit", str(path), "--json")
    assert result.returncode != 0
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith(f"error: {tmp_path / where}")
    assert [line for line in lines if line.startswith("error")] == lines[-1:]
    assert "Traceback" not in result.stderr


def test_missing_dataset_is_a_clear_error(tmp_path: Path, fashionlens):
    result = fashionlens("audit", str(tmp_path / "absent.csv"))
    assert result.returncode != 0
    assert result.stderr.strip() == f"error: {tmp_path / 'absent.csv'}: no such file or folder"


def test_help_teaches_use(fashionlens):
    result = fashionlens("audit", "--help")
    assert result.returncode == 0
    assert "Example: fashionlens audit" in result.stdout and "--json" in result.stdout


def test_audit_real_street_photos(shared_data: Path, fashionlens):
    result = fashionlens("audit", str(shared_data / "street" / "annotations.coco.json"), "--json")
    report = json.loads(result.stdout)
    assert (report["samples"], report["garments"], report["splits"]) == (814, 1903, {"train": 706, "val": 108})
    assert report["regions"] == {"upper": 804, "lower": 593, "full": 506}
    assert (report["majority_class"], report["classes"]["pants"]) == ("pants", 239)
