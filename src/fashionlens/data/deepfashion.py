"""DeepFashion Category and Attribute Prediction benchmark: the `Anno/` or `Anno_coarse/` + `Anno_fine/` layout.

DeepFashion is licensed for non-commercial research only; models trained on it inherit that.

List files (`Anno/`, `Anno_coarse/`, and the `list_*_cloth.txt` files of `Anno_fine/`) start with a line
holding the number of rows and a line of column names. The `Anno_fine/` split files (`train.txt`,
`train_cate.txt`, `train_bbox.txt`, `train_attr.txt`, ... ) have no header and are row-aligned.
"""

from __future__ import annotations

from pathlib import Path

from fashionlens.core.errors import DataFormatError, FashionLensError
from fashionlens.core.records import Box, Garment, Sample
from fashionlens.core.taxonomy import DEEPFASHION_TYPE_TO_REGION
from fashionlens.core.textfile import read_text

SOURCE = "deepfashion"
ANNOTATION_DIRS = ("Anno", "Anno_coarse", "Anno_fine")
FINE_SPLITS = ("train", "val", "test")
PARTITIONS = ("train", "val", "test")


def is_deepfashion(path: Path) -> bool:
    return path.is_dir() and any((path / name).is_dir() for name in ANNOTATION_DIRS)


def read_deepfashion(path: str | Path) -> list[Sample]:
    """Read a DeepFashion root (or its `Anno*` folder). `Anno/` or `Anno_coarse/` give the full benchmark
    with `Eval/list_eval_partition.txt`; `Anno_fine/` alone (or named directly) gives its own 3 splits."""
    path = Path(path)
    if path.name in ANNOTATION_DIRS:
        root, anno = path.parent, path
    else:
        root = path
        found = next((path / n for n in ANNOTATION_DIRS if (path / n).is_dir()), None)
        if found is None:
            raise FashionLensError(f"{path}: no Anno/, Anno_coarse/ or Anno_fine/ folder")
        anno = found
    image_root = root / "Img" if (root / "Img" / "img").is_dir() else root
    if anno.name == "Anno_fine":
        return _read_fine(anno, image_root)
    return _read_lists(anno, root / "Eval" / "list_eval_partition.txt", image_root)


def _rows(path: Path, header: bool = True) -> list[tuple[int, list[str]]]:
    """(1-based line number, whitespace-split fields) of each data row; checks the two header lines."""
    lines = read_text(path).splitlines()
    start = 0
    if header:
        if not lines or not lines[0].strip().isdigit():
            raise DataFormatError(path, "line 1 must be the number of rows (missing header lines?)", 1)
        if len(lines) < 2 or not lines[1].strip() or lines[1].split()[0].startswith("img/"):
            raise DataFormatError(path, "line 2 must hold the column names (missing header line?)", 2)
        start = 2
    rows = [(number, line.split()) for number, line in enumerate(lines[start:], start + 1) if line.strip()]
    if header and len(rows) != int(lines[0]):
        raise DataFormatError(path, f"line 1 announces {int(lines[0])} rows but the file has {len(rows)}", 1)
    return rows


def _ints(path: Path, number: int, fields: list[str], count: int) -> list[int]:
    if len(fields) != count:
        raise DataFormatError(path, f"expected {count} columns, found {len(fields)}", number)
    try:
        return [int(value) for value in fields]
    except ValueError:
        raise DataFormatError(path, f"expected whole numbers, found {' '.join(fields)!r}", number) from None


def _names_with_type(path: Path) -> list[tuple[str, int]]:
    """`list_category_cloth.txt` / `list_attr_cloth.txt`: a name (may contain spaces), then its type."""
    result = []
    for number, fields in _rows(path):
        if len(fields) < 2:
            raise DataFormatError(path, "expected a name and a type", number)
        result.append((" ".join(fields[:-1]), _ints(path, number, fields[-1:], 1)[0]))
    return result


def _garment(categories: list[tuple[str, int]], path: Path, number: int, category_id: int) -> Garment:
    if not 1 <= category_id <= len(categories):
        raise DataFormatError(path, f"unknown category id {category_id} (1..{len(categories)})", number)
    name, kind = categories[category_id - 1]
    return Garment(category=name, region=DEEPFASHION_TYPE_TO_REGION.get(kind), attributes={"category_type": kind})


def _read_lists(anno: Path, partition: Path, image_root: Path) -> list[Sample]:
    categories = _names_with_type(anno / "list_category_cloth.txt")
    file = anno / "list_category_img.txt"
    samples: dict[str, Sample] = {}
    for number, fields in _rows(file):
        if len(fields) != 2:
            raise DataFormatError(file, f"expected 2 columns, found {len(fields)}", number)
        category_id = _ints(file, number, fields[1:], 1)[0]
        garment = _garment(categories, file, number, category_id)
        samples[fields[0]] = Sample(image=image_root / fields[0], source=SOURCE, garments=[garment])

    def lookup(path: Path, number: int, name: str) -> Sample:
        if name not in samples:
            raise DataFormatError(path, f"image {name} is not in list_category_img.txt", number)
        return samples[name]

    file = anno / "list_bbox.txt"
    for number, fields in _rows(file):
        x1, y1, x2, y2 = _ints(file, number, fields[1:], 4)
        lookup(file, number, fields[0]).garments[0].box = Box(x1, y1, x2, y2)
    if (anno / "list_attr_cloth.txt").is_file() and (anno / "list_attr_img.txt").is_file():
        names = [name for name, _ in _names_with_type(anno / "list_attr_cloth.txt")]
        file = anno / "list_attr_img.txt"
        for number, fields in _rows(file):
            values = _ints(file, number, fields[1:], len(names))
            # 1 positive, -1 negative, 0 unknown: keeping the positives keeps 289k x 1000 values small.
            positives = {name: True for name, value in zip(names, values) if value == 1}
            lookup(file, number, fields[0]).garments[0].attributes.update(positives)
    if partition.is_file():
        for number, fields in _rows(partition):
            if len(fields) != 2 or fields[1] not in PARTITIONS:
                raise DataFormatError(partition, "expected `image_name train|val|test`", number)
            lookup(partition, number, fields[0]).split = fields[1]
    return list(samples.values())


def _read_fine(anno: Path, image_root: Path) -> list[Sample]:
    categories = _names_with_type(anno / "list_category_cloth.txt")
    attribute_file = anno / "list_attr_cloth.txt"
    attribute_names = [name for name, _ in _names_with_type(attribute_file)] if attribute_file.is_file() else []
    samples: list[Sample] = []
    for split in FINE_SPLITS:
        if (anno / f"{split}.txt").is_file():
            samples += _read_fine_split(anno, split, categories, attribute_names, image_root)
    if not samples:
        raise FashionLensError(f"{anno}: no train.txt, val.txt or test.txt")
    return samples


def _aligned(anno: Path, split: str, suffix: str, expected: int) -> list[tuple[int, list[str]]] | None:
    path = anno / f"{split}_{suffix}.txt"
    if not path.is_file():
        return None
    rows = _rows(path, header=False)
    if len(rows) != expected:
        raise DataFormatError(path, f"{len(rows)} rows but {split}.txt lists {expected} images")
    return rows


def _read_fine_split(
    anno: Path, split: str, categories: list[tuple[str, int]], attribute_names: list[str], image_root: Path
) -> list[Sample]:
    images = _rows(anno / f"{split}.txt", header=False)
    cates = _aligned(anno, split, "cate", len(images))
    if cates is None:
        raise DataFormatError(anno / f"{split}_cate.txt", "file not found")
    boxes = _aligned(anno, split, "bbox", len(images))
    attributes = _aligned(anno, split, "attr", len(images)) if attribute_names else None
    samples = []
    for index, (_, fields) in enumerate(images):
        number, cate = cates[index]
        garment = _garment(
            categories, anno / f"{split}_cate.txt", number, _ints(anno / f"{split}_cate.txt", number, cate, 1)[0]
        )
        if boxes is not None:
            number, box = boxes[index]
            garment.box = Box(*_ints(anno / f"{split}_bbox.txt", number, box, 4))
        if attributes is not None:
            number, fields_of_attributes = attributes[index]
            values = _ints(anno / f"{split}_attr.txt", number, fields_of_attributes, len(attribute_names))
            garment.attributes.update({n: True for n, v in zip(attribute_names, values) if v == 1})
        samples.append(Sample(image=image_root / fields[0], split=split, source=SOURCE, garments=[garment]))
    return samples
