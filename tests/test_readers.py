"""Every reader on a few lines of its real format, detection by read_dataset, and every error path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import make_image
from fashionlens.core.errors import DataFormatError, FashionLensError
from fashionlens.core.records import Box
from fashionlens.core.taxonomy import DEEPFASHION_CATEGORIES
from fashionlens.data import (
    detect_format,
    read_coco,
    read_dataset,
    read_deepfashion,
    read_folder,
    read_labels_csv,
    read_streetstyle,
)
from fashionlens.data.streetstyle import COLUMNS


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def assert_error_at(error: pytest.ExceptionInfo, path: Path, line: int | None) -> None:
    assert error.value.path == path
    assert error.value.line == line
    assert str(error.value).startswith(f"{path}:{line}:" if line else f"{path}:")


# ---------------------------------------------------------------- labels CSV


def test_labels_csv_reads_labels_splits_and_extra_columns(labels_csv_dataset: Path):
    samples = read_labels_csv(labels_csv_dataset)
    assert len(samples) == 18
    first = samples[0]
    assert first.image == labels_csv_dataset.parent / "images/t-shirt_train_0.jpg"
    assert first.image.is_file()
    assert (first.split, first.source, first.attributes) == ("train", "labels-csv", {"kids": True})
    assert [(g.category, g.region, g.box) for g in first.garments] == [("T-Shirt", "upper", None)]
    assert samples[1].attributes == {"kids": False}
    assert sum(s.split == "val" for s in samples) == 6
    assert {s.garments[0].region for s in samples} == {"upper", "lower", "full"}


def test_labels_csv_box_columns_and_rows_of_one_image_become_garments(tmp_path: Path):
    path = write(
        tmp_path / "boxes.csv",
        "image,label,x1,y1,x2,y2,shop\n"
        "a.jpg,Shirt,1,2,30,40,north\na.jpg,Pants,0,40,30,90,north\nb.jpg,Shoes,,,,,south\n",
    )
    a, b = read_labels_csv(path)
    assert [(g.category, g.box) for g in a.garments] == [("Shirt", Box(1, 2, 30, 40)), ("Pants", Box(0, 40, 30, 90))]
    assert (a.split, a.attributes) == (None, {"shop": "north"})
    assert [(g.category, g.region, g.box) for g in b.garments] == [("Shoes", None, None)]


def test_labels_csv_empty_label_leaves_the_image_unlabelled(tmp_path: Path):
    samples = read_labels_csv(write(tmp_path / "l.csv", "image,label\na.jpg,\nb.jpg,Hat\n"))
    assert [len(s.garments) for s in samples] == [0, 1]


@pytest.mark.parametrize(
    "text, line, message",
    [
        ("file,label\na.jpg,Shirt\n", 1, "missing image"),
        ("image,category\na.jpg,Shirt\n", 1, "missing label"),
        ("", 1, "missing image"),
        ("image,label,split\na.jpg,Shirt,train\nb.jpg,Pants\n", 3, "expected 3 columns, found 2"),
        ("image,label\n\na.jpg,Shirt\nb.jpg,Hat,extra\n", 4, "expected 2 columns, found 3"),
        ("image,label,x1,y1,x2,y2\na.jpg,Shirt,1,2,3,4\na.jpg,Shirt,1,two,3,4\n", 3, "must be numbers"),
        ("image,label,x1,y1\na.jpg,Shirt,1,2\n", 1, "all of x1,y1,x2,y2"),
        ("image,label\n,Shirt\n", 2, "empty image path"),
    ],
)
def test_labels_csv_errors_name_file_and_line(tmp_path: Path, text: str, line: int, message: str):
    path = write(tmp_path / "labels.csv", text)
    with pytest.raises(DataFormatError, match=message) as error:
        read_labels_csv(path)
    assert_error_at(error, path, line)


# ---------------------------------------------------------------- folder per class


def test_folder_per_class(tmp_path: Path):
    for name in ("Shirt/b.jpg", "Shirt/a.png", "Pants/c.jpg", "Pants/notes.txt"):
        make_image(tmp_path / name) if name.endswith(("jpg", "png")) else write(tmp_path / name, "x")
    samples = read_folder(tmp_path)
    assert [
        (s.image.relative_to(tmp_path).as_posix(), s.garments[0].category, s.garments[0].region, s.split)
        for s in samples
    ] == [
        ("Pants/c.jpg", "Pants", "lower", None),
        ("Shirt/a.png", "Shirt", "upper", None),
        ("Shirt/b.jpg", "Shirt", "upper", None),
    ]


def test_folder_with_split_folders(tmp_path: Path):
    for name in ("train/Hat/1.jpg", "train/Dress/2.jpg", "val/Hat/3.jpg", "test/Dress/4.jpg"):
        make_image(tmp_path / name)
    samples = read_dataset(tmp_path)
    assert [(s.split, s.garments[0].category) for s in samples] == [
        ("test", "Dress"),
        ("train", "Dress"),
        ("train", "Hat"),
        ("val", "Hat"),
    ]


def test_folder_without_class_folders_is_an_error(tmp_path: Path):
    make_image(tmp_path / "loose.jpg")
    with pytest.raises(FashionLensError, match="no class folders"):
        read_folder(tmp_path)


# ---------------------------------------------------------------- COCO


def test_coco_keeps_garment_split_and_extra_fields(coco_dataset: Path):
    data = json.loads(coco_dataset.read_text())
    data["annotations"][0]["occluded"] = True
    data["images"][0]["photographer"] = "kim"
    coco_dataset.write_text(json.dumps(data))
    samples = read_coco(coco_dataset)
    assert [len(s.garments) for s in samples] == [2, 1, 2, 2]
    assert [s.split for s in samples] == ["train", "train", "train", "val"]
    first = samples[0]
    assert (first.image, first.width, first.height) == (coco_dataset.parent / "images/0001.jpg", 64, 48)
    assert first.attributes == {"photographer": "kim"}
    blouse = first.garments[0]
    assert (blouse.category, blouse.region, blouse.box) == ("blouse", "upper", Box(8, 4, 48, 22))
    # the annotation's own id too: attribute hand labels refer to it (train classifier --attribute-labels)
    assert blouse.attributes == {"garment": "blouse", "occluded": True, "annotation_id": 1}
    assert samples[1].garments[0].attributes["annotation_id"] == 3
    assert samples[1].garments[0].region == "full"


def test_coco_without_garment_field_uses_the_category_name(tmp_path: Path):
    make_image(tmp_path / "images" / "x.jpg")
    path = write(
        tmp_path / "export" / "instances.json",
        json.dumps(
            {
                "images": [{"id": 7, "file_name": "x.jpg", "width": 32, "height": 32}],
                "annotations": [{"id": 1, "image_id": 7, "category_id": 4, "bbox": [1, 1, 5, 5]}],
                "categories": [{"id": 4, "name": "skirt"}],
            }
        ),
    )
    (sample,) = read_dataset(path)
    assert (sample.garments[0].category, sample.garments[0].region) == ("skirt", "lower")
    assert sample.image == tmp_path / "images" / "x.jpg"  # found in ../images, as CVAT lays it out


def coco_text(annotation: str) -> str:
    """A COCO file, one element per line: line 4 is the image, line 7 the `annotation` given."""
    return (
        '{"categories": [\n{"id": 1, "name": "upper"}\n], "images": [\n'
        '{"id": 1, "file_name": "a.jpg", "width": 10, "height": 10}\n], "annotations": [\n'
        '{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 2, 2]},\n' + annotation + "\n]}\n"
    )


@pytest.mark.parametrize(
    "annotation, line, message",
    [
        ('{"id": 2, "image_id": 1, "category_id": 9, "bbox": [0, 0, 2, 2]}', 7, "unknown category id 9"),
        ('{"id": 2, "image_id": 5, "category_id": 1, "bbox": [0, 0, 2, 2]}', 7, "unknown image id 5"),
        ('{"id": 2, "image_id": 1, "category_id": 1, "bbox": [0, "x", 2, 2]}', 7, "bbox must be 4 numbers"),
        ('{"id": 2, "image_id": 1, "category_id": 1, "bbox": [0, 0, 2]}', 7, "bbox must be 4 numbers"),
        ('{"id": 2, "image_id": 1, "category_id": 1, "bbox": [0, 0, 2, 2]', 8, "not valid JSON"),
    ],
)
def test_coco_errors_name_file_and_line(tmp_path: Path, annotation: str, line: int, message: str):
    path = write(tmp_path / "a.json", coco_text(annotation))
    with pytest.raises(DataFormatError, match=message) as error:
        read_coco(path)
    assert_error_at(error, path, line)


def test_coco_error_line_in_a_pretty_printed_export(coco_dataset: Path):
    data = json.loads(coco_dataset.read_text())
    data["annotations"][4]["category_id"] = 99
    text = json.dumps(data, indent=2)
    coco_dataset.write_text("\ufeff" + text, encoding="utf-8")  # with a BOM, as some Windows tools write
    lines = text.splitlines()
    opening = lines.index('      "category_id": 99,') - 3  # the "{" above "id", "image_id", "category_id"
    assert lines[opening].strip() == "{"
    with pytest.raises(DataFormatError, match="unknown category id 99") as error:
        read_coco(coco_dataset)
    assert error.value.line == opening + 1


def test_coco_error_in_images_names_its_line(tmp_path: Path):
    path = write(tmp_path / "a.json", coco_text("{}").replace('"file_name": "a.jpg", ', ""))
    with pytest.raises(DataFormatError, match="needs an `id` and a `file_name`") as error:
        read_coco(path)
    assert_error_at(error, path, 4)


def test_json_that_is_not_coco_is_an_error(tmp_path: Path):
    path = write(tmp_path / "x.json", '{"items": []}')
    with pytest.raises(DataFormatError, match="needs `images` and `annotations`"):
        read_dataset(path)


# ---------------------------------------------------------------- DeepFashion


def header_file(path: Path, columns: str, rows: list[str]) -> Path:
    return write(path, f"{len(rows)}\n{columns}\n" + "".join(row + "\n" for row in rows))


def make_deepfashion(root: Path, anno: str = "Anno") -> list[str]:
    names = ["img/Sheer_Blouse/img_00000001.jpg", "img/Sheer_Blouse/img_00000002.jpg", "img/Cut_Jeans/img_00000001.jpg"]
    for name in names:
        make_image(root / "Img" / name, (30, 40))
    header_file(
        root / anno / "list_category_cloth.txt",
        "category_name  category_type",
        [
            f"{name:<20}{kind}"
            for name, kind in [(n, {"upper": 1, "lower": 2, "full": 3}[r]) for n, r in DEEPFASHION_CATEGORIES]
        ],
    )
    return names


def make_deepfashion_coarse(root: Path, anno: str = "Anno") -> list[str]:
    names = make_deepfashion(root, anno)
    header_file(
        root / anno / "list_category_img.txt",
        "image_name  category_label",
        [f"{names[0]}   3", f"{names[1]}   41", f"{names[2]}   26"],
    )
    header_file(
        root / anno / "list_bbox.txt",
        "image_name  x_1  y_1  x_2  y_2",
        [f"{names[0]} 002 003 028 038", f"{names[1]} 001 001 029 039", f"{names[2]} 005 010 025 040"],
    )
    header_file(
        root / anno / "list_attr_cloth.txt",
        "attribute_name  attribute_type",
        ["a-line                   3", "floral print             1", "sheer                    2"],
    )
    header_file(
        root / anno / "list_attr_img.txt",
        "image_name  attribute_labels",
        [f"{names[0]}  -1 1 1", f"{names[1]}  1 0 -1", f"{names[2]}  -1 -1 -1"],
    )
    header_file(
        root / "Eval" / "list_eval_partition.txt",
        "image_name  evaluation_status",
        [f"{names[0]} train", f"{names[1]} val", f"{names[2]} test"],
    )
    return names


@pytest.mark.parametrize("anno", ["Anno", "Anno_coarse"])
def test_deepfashion_list_files(tmp_path: Path, anno: str):
    names = make_deepfashion_coarse(tmp_path, anno)
    samples = read_dataset(tmp_path)
    assert [s.image for s in samples] == [tmp_path / "Img" / name for name in names]
    assert all(s.image.is_file() and s.source == "deepfashion" for s in samples)
    assert [(s.garments[0].category, s.garments[0].region, s.split) for s in samples] == [
        ("Blouse", "upper", "train"),
        ("Dress", "full", "val"),
        ("Jeans", "lower", "test"),
    ]
    assert samples[0].garments[0].box == Box(2, 3, 28, 38)
    assert samples[0].garments[0].attributes == {"category_type": 1, "floral print": True, "sheer": True}
    assert samples[1].garments[0].attributes == {"category_type": 3, "a-line": True}


def test_deepfashion_fine_split_files_are_row_aligned(tmp_path: Path):
    names = make_deepfashion(tmp_path, "Anno_fine")
    header_file(
        tmp_path / "Anno_fine" / "list_attr_cloth.txt", "attribute_name  attribute_type", ["floral 1", "long_sleeve 3"]
    )
    write(tmp_path / "Anno_fine" / "train.txt", f"{names[0]}\n{names[2]}\n")
    write(tmp_path / "Anno_fine" / "train_cate.txt", "3\n26\n")
    write(tmp_path / "Anno_fine" / "train_bbox.txt", "2 3 28 38\n5 10 25 40\n")
    write(tmp_path / "Anno_fine" / "train_attr.txt", "1 0\n0 1\n")
    write(tmp_path / "Anno_fine" / "val.txt", f"{names[1]}\n")
    write(tmp_path / "Anno_fine" / "val_cate.txt", "41\n")
    samples = read_deepfashion(tmp_path)
    assert [(s.split, s.garments[0].category, s.garments[0].box) for s in samples] == [
        ("train", "Blouse", Box(2, 3, 28, 38)),
        ("train", "Jeans", Box(5, 10, 25, 40)),
        ("val", "Dress", None),
    ]
    assert samples[1].garments[0].attributes == {"category_type": 2, "long_sleeve": True}
    write(tmp_path / "Anno_fine" / "val_cate.txt", "41\n3\n")
    with pytest.raises(DataFormatError, match="2 rows but val.txt lists 1 images"):
        read_deepfashion(tmp_path / "Anno_fine")


@pytest.mark.parametrize(
    "file, text, line, message",
    [
        ("list_category_img.txt", "img/Sheer_Blouse/img_00000001.jpg 3\n", 1, "number of rows"),
        ("list_category_img.txt", "1\nimg/Sheer_Blouse/img_00000001.jpg 3\n", 2, "column names"),
        ("list_category_img.txt", "2\nimage_name category_label\nimg/a.jpg 3\n", 1, "announces 2 rows"),
        (
            "list_category_img.txt",
            "2\nimage_name category_label\nimg/a.jpg 3\nimg/b.jpg 51\n",
            4,
            "unknown category id 51",
        ),
        ("list_category_img.txt", "1\nimage_name category_label\nimg/a.jpg 3 4\n", 3, "expected 2 columns"),
        ("list_bbox.txt", "1\nimage_name x_1 y_1 x_2 y_2\nimg/a.jpg 1 2 x 4\n", 3, "whole numbers"),
        ("list_bbox.txt", "1\nimage_name x_1 y_1 x_2 y_2\nimg/zzz.jpg 1 2 3 4\n", 3, "not in list_category_img"),
    ],
)
def test_deepfashion_errors_name_file_and_line(tmp_path: Path, file: str, text: str, line: int, message: str):
    make_deepfashion(tmp_path)
    write(tmp_path / "Anno" / "list_category_img.txt", "1\nimage_name category_label\nimg/a.jpg 3\n")
    write(tmp_path / "Anno" / "list_bbox.txt", "1\nimage_name x_1 y_1 x_2 y_2\nimg/a.jpg 1 2 3 4\n")
    path = write(tmp_path / "Anno" / file, text)
    with pytest.raises(DataFormatError, match=message) as error:
        read_deepfashion(tmp_path)
    assert_error_at(error, path, line)


# ---------------------------------------------------------------- StreetStyle-27K


def manifest_row(url: str, category: str = "Dress", x1: str = "10") -> str:
    values = dict.fromkeys(COLUMNS, "")
    values.update(
        id="1",
        url=url,
        x1=x1,
        y1="5",
        x2="90",
        y2="120",
        width="100",
        height="130",
        clothing_category=category,
        sleeve_length="Long sleeve",
        wearing_hat="No",
    )
    return ",".join(values[c] for c in COLUMNS)


def test_streetstyle_one_sample_per_person_row(tmp_path: Path):
    url = "http://example.com/photos/abcdef_n.jpg"
    make_image(tmp_path / "a" / "b" / "c" / "abcdef_n.jpg", (100, 130))
    path = write(
        tmp_path / "streetstyle27k.manifest",
        ",".join(COLUMNS) + "\n" + manifest_row(url) + "\n" + manifest_row(url, category="") + "\n",
    )
    first, second = read_dataset(tmp_path)
    assert first.image == tmp_path / "a/b/c/abcdef_n.jpg" and first.image.is_file()
    assert (first.width, first.height, first.split, first.source) == (100, 130, None, "streetstyle")
    garment = first.garments[0]
    assert (garment.category, garment.region, garment.box) == ("Dress", "full", Box(10, 5, 90, 120))
    assert len(garment.attributes) == 12
    assert garment.attributes["sleeve_length"] == "Long sleeve"
    assert garment.attributes["clothing_pattern"] is None  # empty string: missing
    assert first.attributes["box"] == "person"
    assert (second.garments[0].category, second.garments[0].region) == (None, None)
    assert detect_format(path) == ("streetstyle", path)


@pytest.mark.parametrize(
    "body, line, message",
    [
        ("id,url\n", 1, "header must be the 25"),
        (",".join(COLUMNS) + "\n" + manifest_row("http://x/abc.jpg") + ",extra\n", 2, "expected 25 columns, found 26"),
        (
            ",".join(COLUMNS)
            + "\n"
            + manifest_row("http://x/abc.jpg")
            + "\n"
            + manifest_row("http://x/abd.jpg", x1="ten")
            + "\n",
            3,
            "must be numbers",
        ),
    ],
)
def test_streetstyle_errors_name_file_and_line(tmp_path: Path, body: str, line: int, message: str):
    path = write(tmp_path / "streetstyle27k.manifest", body)
    with pytest.raises(DataFormatError, match=message) as error:
        read_streetstyle(path)
    assert_error_at(error, path, line)


# ---------------------------------------------------------------- detection and real data


def test_detect_format(tmp_path: Path, labels_csv_dataset: Path, coco_dataset: Path):
    assert detect_format(labels_csv_dataset.parent) == ("labels-csv", labels_csv_dataset)
    assert detect_format(coco_dataset.parent) == ("coco", coco_dataset)
    assert detect_format(coco_dataset) == ("coco", coco_dataset)
    make_image(tmp_path / "classes" / "Hat" / "h.jpg")
    assert detect_format(tmp_path / "classes") == ("folder", tmp_path / "classes")
    with pytest.raises(FashionLensError, match="no such file"):
        read_dataset(tmp_path / "nothing")
    with pytest.raises(FashionLensError, match="unknown dataset format"):
        read_dataset(write(tmp_path / "notes.txt", "hello"))


def test_embedded_samples_are_complete():
    from fashionlens.samples import sample_file, sample_path

    clothing = read_dataset(sample_path("clothing"))
    street = read_dataset(sample_file("street"))
    assert (len(clothing), len(street)) == (250, 80)
    assert sum(len(s.garments) for s in street) == 189
    assert all(s.image.is_file() for s in clothing + street)
    for name in ("clothing", "street"):
        assert {"LICENSE", "ATTRIBUTION.md"} <= {p.name for p in sample_path(name).iterdir()}
    with pytest.raises(FashionLensError, match="unknown sample"):
        sample_path("fashion-mnist")


def test_real_shared_data_counts(shared_data: Path):
    clothing = read_dataset(shared_data / "clothing" / "labels.csv")
    assert len(clothing) == 4835
    assert sum(s.split == "train" for s in clothing) == 4340
    street = read_dataset(shared_data / "street" / "annotations.coco.json")
    garments = [g for s in street for g in s.garments]
    assert (len(street), len(garments)) == (814, 1903)
    assert len({g.category for g in garments}) == 23
    assert sum(s.split == "val" for s in street) == 108
