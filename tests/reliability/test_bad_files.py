"""Bad files through the command line: each gets its expected exit code and one line naming the file
(and the line, where there is one) and what is wrong, never a traceback, and nothing is written.

Every file is generated here, in tmp_path, and tiny. The commands run through cli.main() in this
process (the `fashionlens` fixture), with an untrained tiny classifier where a model is needed.
"""

from __future__ import annotations

import io
import json
import pickle
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Callable

import pytest
import torch
from PIL import Image

from conftest import make_image
from fashionlens.core.checkpoint import save_checkpoint
from fashionlens.core.errors import FashionLensError
from tiny_models import random_checkpoint

LABELS_HEADER = "image,label,x1,y1,x2,y2\n"


@pytest.fixture(scope="module")
def classifier(tmp_path_factory) -> Path:
    """An untrained tiny classifier's run directory: enough to analyse and import photos."""
    run = tmp_path_factory.mktemp("classifier")
    save_checkpoint(random_checkpoint("img"), run / "best.pt")
    return run


@pytest.fixture(scope="module")
def photo(tmp_path_factory) -> Path:
    return make_image(tmp_path_factory.mktemp("photos") / "good.jpg", (40, 48), (30, 60, 200))


def write(path: Path, content: str | bytes, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content if isinstance(content, bytes) else content.encode(encoding))
    return path


def assert_one_line_error(result, code: int, words: list[str]) -> None:
    assert result.returncode == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: "), result.stderr
    for word in words:
        assert word in last, (word, last)


def check(result, code: int, words: list[str]) -> None:
    """Exit `code` with `words` in the error line; for exit 0, `words` are looked for in stdout."""
    if code == 0:
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
        for word in words:
            assert word in result.stdout, (word, result.stdout)
    else:
        assert_one_line_error(result, code, words)


# --- datasets, as `fashionlens audit` reads them (readers shared with training and evaluate) ---------------


def labels_csv(content: str | bytes, encoding: str = "utf-8") -> Callable[[Path], Path]:
    return lambda root: write(root / "labels.csv", content, encoding)


def coco(data: object) -> Callable[[Path], Path]:
    text = data if isinstance(data, str) else json.dumps(data)
    return lambda root: write(root / "street.json", text)


COCO_OK = {
    "categories": [{"id": 1, "name": "upper"}],
    "images": [{"id": 1, "file_name": "a.jpg", "width": 64, "height": 48}],
}


def coco_box(bbox: object) -> Callable[[Path], Path]:
    """COCO JSON with one annotation, written with Python's json (NaN and Infinity as JavaScript writes them)."""
    return coco(json.dumps({**COCO_OK, "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": bbox}]}))


def deepfashion(**files: str | bytes) -> Callable[[Path], Path]:
    """A DeepFashion root whose Anno/ holds good list files, some replaced by `files`."""
    good = {
        "list_category_cloth.txt": "2\ncategory_name category_type\nBlouse 1\nJeans 2\n",
        "list_category_img.txt": "2\nimage_name category_label\nimg/a.jpg 1\nimg/b.jpg 2\n",
        "list_bbox.txt": "2\nimage_name x_1 y_1 x_2 y_2\nimg/a.jpg 1 2 30 40\nimg/b.jpg 3 4 20 30\n",
    }

    def make(root: Path) -> Path:
        for name, content in {**good, **files}.items():
            if content is not None:
                write(root / "df" / "Anno" / name, content, "latin-1" if name.startswith("latin1:") else "utf-8")
        return root / "df"

    return make


STREET_HEADER = (
    "id,url,created_time,city_id,month_id,lat,long,x1,y1,x2,y2,width,height,clothing_pattern,"
    "major_color,wearing_necktie,collar_presence,wearing_scarf,sleeve_length,neckline_shape,"
    "clothing_category,wearing_jacket,wearing_hat,wearing_glasses,multiple_layers\n"
)


def street_row(x1: str = "10", width: str = "640") -> str:
    return (
        f"1,http://x/abc123.jpg,2014-01-01,1,1,0,0,{x1},20,110,220,{width},480,Solid,Black,No,Yes,No,"
        "Long sleeve,Round,Shirt,No,No,No,No\n"
    )


def streetstyle(content: str | bytes, encoding: str = "utf-8") -> Callable[[Path], Path]:
    return lambda root: write(root / "streetstyle27k.manifest", content, encoding)


DATASET_CASES = [
    # labels CSV
    pytest.param(
        labels_csv("image,label\ncafé.jpg,Shirt\n", "latin-1"), 2, ["labels.csv:2", "not UTF-8"], id="csv-latin1"
    ),
    pytest.param(labels_csv("image,label\na.jpg,Shirt\n", "utf-16"), 2, ["labels.csv:1", "UTF-16"], id="csv-utf16"),
    pytest.param(labels_csv(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), 2, ["labels.csv:1", "not UTF-8"], id="csv-binary"),
    pytest.param(labels_csv(""), 2, ["labels.csv:1", "the header needs the columns image,label"], id="csv-empty"),
    pytest.param(labels_csv("image,name\na.jpg,x\n"), 2, ["labels.csv:1", "missing label"], id="csv-missing-column"),
    pytest.param(
        labels_csv("image,label,x1,y1\na.jpg,Shirt,1,2\n"), 2, ["box columns must be all of"], id="csv-half-box-columns"
    ),
    pytest.param(
        labels_csv("image,label\na.jpg,Shirt,extra\n"), 2, ["labels.csv:2", "expected 2 columns"], id="csv-column-count"
    ),
    pytest.param(
        labels_csv('image,label\na.jpg,"' + "x" * 200_000 + '"\n'),
        2,
        ["labels.csv:2", "field larger than field limit"],
        id="csv-huge-field",
    ),
    pytest.param(
        labels_csv(LABELS_HEADER + "a.jpg,Shirt,1,2,x,4\n"),
        2,
        ["labels.csv:2", "must be numbers"],
        id="csv-box-not-a-number",
    ),
    pytest.param(labels_csv("\ufeffimage,label\na.jpg,Shirt\n"), 0, ["samples          1"], id="csv-bom"),
    pytest.param(
        labels_csv(LABELS_HEADER + "a.jpg,Shirt,nan,2,30,40\n"), 0, ["non-finite coordinate"], id="csv-nan-x1"
    ),
    pytest.param(labels_csv(LABELS_HEADER + "a.jpg,Shirt,1,2,30,inf\n"), 0, ["non-finite coordinate"], id="csv-inf-y2"),
    # COCO JSON
    pytest.param(coco('{"images": [\n{"id": 1,}\n]}'), 2, ["street.json:2", "not valid JSON"], id="coco-malformed"),
    pytest.param(coco({"images": []}), 2, ["needs `images` and `annotations` lists"], id="coco-missing-key"),
    pytest.param(coco([1, 2]), 2, ["not COCO detection JSON"], id="coco-top-level-array"),
    pytest.param(coco("[" * 100_000 + "]" * 100_000), 2, ["nested too deeply"], id="coco-nested-deep"),
    pytest.param(
        lambda root: write(
            root / "street.json",
            json.dumps({**COCO_OK, "annotations": [], "note": "café"}, ensure_ascii=False),
            "latin-1",
        ),
        2,
        ["street.json:1", "not UTF-8"],
        id="coco-latin1",
    ),
    pytest.param(
        coco({**COCO_OK, "images": COCO_OK["images"] * 2, "annotations": []}),
        2,
        ["duplicate image id 1"],
        id="coco-duplicate-image-id",
    ),
    pytest.param(
        coco({**COCO_OK, "annotations": [{"id": 1, "image_id": 1, "category_id": 7, "bbox": [1, 2, 3, 4]}]}),
        2,
        ["unknown category id 7"],
        id="coco-unknown-category",
    ),
    pytest.param(coco_box(["1", "2", "3", "4"]), 2, ["bbox must be 4 numbers"], id="coco-box-strings"),
    pytest.param(coco_box([float("nan"), 10, 100, 100]), 0, ["non-finite coordinate"], id="coco-nan-box"),
    pytest.param(coco_box([10, 10, float("inf"), 20]), 0, ["non-finite coordinate"], id="coco-infinity-box"),
    pytest.param(coco_box([10, 10, -5, 20]), 0, ["inverted box"], id="coco-negative-width"),
    # DeepFashion
    pytest.param(
        deepfashion(
            **{"list_category_cloth.txt": "2\ncategory_name category_type\nBlús 1\nJeans 2\n".encode("latin-1")}
        ),
        2,
        ["list_category_cloth.txt:3", "not UTF-8"],
        id="deepfashion-latin1",
    ),
    pytest.param(
        deepfashion(**{"list_category_img.txt": "image_name category_label\nimg/a.jpg 1\n"}),
        2,
        ["list_category_img.txt:1", "number of rows"],
        id="deepfashion-no-count-line",
    ),
    pytest.param(
        deepfashion(**{"list_category_img.txt": "3\nimage_name category_label\nimg/a.jpg 1\n"}),
        2,
        ["list_category_img.txt:1", "announces 3 rows"],
        id="deepfashion-count-mismatch",
    ),
    pytest.param(
        deepfashion(**{"list_category_img.txt": "1\nimage_name category_label\nimg/a.jpg 9\n"}),
        2,
        ["list_category_img.txt:3", "unknown category id 9"],
        id="deepfashion-unknown-category",
    ),
    pytest.param(
        deepfashion(**{"list_bbox.txt": "1\nimage_name x_1 y_1 x_2 y_2\nimg/a.jpg 1 2 nan 40\n"}),
        2,
        ["list_bbox.txt:3", "whole numbers"],
        id="deepfashion-box-not-integer",
    ),
    pytest.param(
        deepfashion(**{"list_bbox.txt": None}), 2, ["list_bbox.txt", "file not found"], id="deepfashion-missing-file"
    ),
    # StreetStyle-27K
    pytest.param(
        streetstyle(STREET_HEADER + street_row().replace("Solid", "Rayé"), "latin-1"),
        2,
        ["streetstyle27k.manifest:2", "not UTF-8"],
        id="streetstyle-latin1",
    ),
    pytest.param(streetstyle("id,url\n1,http://x/a.jpg\n"), 2, ["the header must be the 25"], id="streetstyle-header"),
    pytest.param(
        streetstyle(STREET_HEADER + "1,http://x/a.jpg\n"),
        2,
        ["manifest:2", "expected 25 columns"],
        id="streetstyle-column-count",
    ),
    pytest.param(
        streetstyle(STREET_HEADER + street_row(width="wide")),
        2,
        ["manifest:2", "must be numbers"],
        id="streetstyle-width-not-a-number",
    ),
    pytest.param(
        streetstyle(STREET_HEADER + street_row(x1="nan")), 0, ["non-finite coordinate"], id="streetstyle-nan-x1"
    ),
]


@pytest.mark.parametrize("make, code, words", DATASET_CASES)
def test_a_bad_dataset_file_gets_its_outcome(fashionlens, tmp_path, make, code, words):
    path = make(tmp_path)
    before = sorted(tmp_path.rglob("*"))
    result = fashionlens("audit", path, "--skip-images")
    check(result, code, words)
    assert sorted(tmp_path.rglob("*")) == before  # nothing written beside the data


# --- photos, as `fashionlens analyze` opens them ---------------------------------------------------------


def png_header(width: int, height: int) -> bytes:
    """A PNG declaring width x height with almost no data: a decompression bomb's header."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(b"\x00" * 16))
        + chunk(b"IEND", b"")
    )


def jpeg_bytes(size=(40, 48), mode="RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, 120 if mode != "RGB" else (200, 30, 30)).save(buffer, format="JPEG")
    return buffer.getvalue()


def saved(name: str, save: Callable[[Path], None]) -> Callable[[Path], Path]:
    def make(root: Path) -> Path:
        path = root / name
        save(path)
        return path

    return make


def animated_gif(path: Path) -> None:
    frames = [Image.new("P", (40, 48), index) for index in (10, 200)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)


PHOTO_CASES = [
    pytest.param(
        lambda root: write(root / "noise.jpg", bytes(range(256)) * 8),
        2,
        ["noise.jpg", "not an image"],
        id="photo-random-bytes",
    ),
    pytest.param(
        lambda root: write(root / "cut.jpg", jpeg_bytes((400, 300))[:600]),
        2,
        ["cut.jpg", "truncated"],
        id="photo-truncated-jpeg",
    ),
    pytest.param(
        lambda root: write(root / "empty.jpg", b""), 2, ["empty.jpg", "empty file (0 bytes)"], id="photo-zero-bytes"
    ),
    pytest.param(
        lambda root: write(root / "notes.png", "a shopping list\n"),
        2,
        ["notes.png", "not an image"],
        id="photo-text-named-png",
    ),
    pytest.param(
        lambda root: write(root / "bomb.png", png_header(60_000, 60_000)),
        2,
        ["bomb.png", "too large"],
        id="photo-decompression-bomb-header",
    ),
    pytest.param(lambda root: write(root / "png-inside.jpg", _png_bytes()), 0, [], id="photo-wrong-extension"),
    pytest.param(lambda root: write(root / "cmyk.jpg", jpeg_bytes(mode="CMYK")), 0, [], id="photo-cmyk-jpeg"),
    pytest.param(saved("deep.png", lambda p: Image.new("I;16", (40, 48), 40000).save(p)), 0, [], id="photo-16-bit-png"),
    pytest.param(saved("moving.gif", animated_gif), 0, [], id="photo-animated-gif"),
    pytest.param(
        saved("ghost.png", lambda p: Image.new("RGBA", (40, 48), (0, 0, 0, 0)).save(p)),
        0,
        [],
        id="photo-fully-transparent",
    ),
]


def _png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 48), (20, 160, 60)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize("make, code, words", PHOTO_CASES)
def test_a_bad_photo_gets_its_outcome(fashionlens, tmp_path, classifier, make, code, words):
    path = make(tmp_path)
    result = fashionlens("analyze", path, "--classifier", classifier, "--whole-image", "--no-log")
    check(result, code, words)


def test_a_missing_photo_fails_before_the_models_load(fashionlens, tmp_path, classifier, monkeypatch):
    import fashionlens.cli.analyze as analyze

    monkeypatch.setattr(analyze, "load_analyzer", lambda *a, **k: pytest.fail("models loaded for a missing photo"))
    result = fashionlens("analyze", tmp_path / "nowhere.jpg", "--classifier", classifier, "--whole-image")
    assert_one_line_error(result, 2, ["nowhere.jpg", "file not found"])


# --- checkpoints, as every command that loads a model reads them ---------------------------------------------


class WritesAFile:
    """A pickle that would create a file when unpickled: a checkpoint must never run code."""

    def __init__(self, target: Path):
        self.target = target

    def __reduce__(self):
        return (Path.touch, (self.target,))


def checkpoint_file(make: Callable[[Path], None]) -> Callable[[Path], Path]:
    def build(root: Path) -> Path:
        path = root / "run" / "best.pt"
        path.parent.mkdir(parents=True, exist_ok=True)
        make(path)
        return path

    return build


def truncated(path: Path) -> None:
    save_checkpoint(random_checkpoint("img"), path)
    path.write_bytes(path.read_bytes()[:5000])


def detector_kind(path: Path) -> None:
    save_checkpoint({**random_checkpoint("img"), "kind": "detector"}, path)


CHECKPOINT_CASES = [
    pytest.param(checkpoint_file(truncated), ["best.pt", "not a readable checkpoint"], id="checkpoint-truncated"),
    pytest.param(
        checkpoint_file(lambda p: p.write_bytes(b"")),
        ["best.pt", "not a readable checkpoint"],
        id="checkpoint-zero-bytes",
    ),
    pytest.param(
        checkpoint_file(lambda p: p.write_text("not a checkpoint\n")),
        ["not a readable checkpoint"],
        id="checkpoint-text",
    ),
    pytest.param(
        checkpoint_file(lambda p: p.write_bytes(pickle.dumps(WritesAFile(p.parent / "pwned")))),
        ["not a readable checkpoint"],
        id="checkpoint-pickled-object",
    ),
    pytest.param(
        checkpoint_file(lambda p: torch.save(WritesAFile(p.parent / "pwned"), p)),
        ["not a readable checkpoint"],
        id="checkpoint-torch-pickled-object",
    ),
    pytest.param(
        checkpoint_file(lambda p: torch.save({"weights": torch.zeros(2)}, p)),
        ["not a fashionlens checkpoint"],
        id="checkpoint-foreign-dict",
    ),
    pytest.param(
        checkpoint_file(detector_kind),
        ["a damaged detector checkpoint", "anchor_aspect_ratios"],
        id="checkpoint-detector-without-its-entries",
    ),
    pytest.param(
        checkpoint_file(lambda p: save_checkpoint({**random_checkpoint("img"), "kind": "pickle"}, p)),
        ["a pickle checkpoint, not a classifier"],
        id="checkpoint-unknown-kind",
    ),
    pytest.param(
        checkpoint_file(
            lambda p: save_checkpoint(
                random_checkpoint("img", classes=["A", "B"]) | {"class_names": ["A", "B", "C", "D"]}, p
            )
        ),
        ["weights do not fit"],
        id="checkpoint-weights-do-not-fit",
    ),
]


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")  # torch's note on the pickled-object cases
@pytest.mark.parametrize("make, words", CHECKPOINT_CASES)
def test_a_bad_checkpoint_gets_one_line_and_runs_no_code(fashionlens, tmp_path, photo, make, words):
    path = make(tmp_path)
    result = fashionlens("analyze", photo, "--classifier", path.parent, "--whole-image", "--no-log")
    assert_one_line_error(result, 2, words)
    assert not (path.parent / "pwned").exists()


# --- product CSVs, as `fashionlens catalog import` reads them -----------------------------------------------


def products_csv(root: Path, photo: Path, bad_row: str, encoding: str = "utf-8") -> Path:
    """A product CSV: a good row (line 2), then `bad_row` (line 3)."""
    return write(
        root / "products.csv",
        f"id,image,name,price,url\nGOOD,{photo},Shirt,10,https://shop.example/good\n{bad_row.format(photo=photo)}\n",
        encoding,
    )


BAD_ROWS = [
    pytest.param("BAD,{photo},Shirt,-5,", "price '-5' is negative", id="price-negative"),
    pytest.param("BAD,{photo},Shirt,nan,", "price 'nan' is not a finite number", id="price-nan"),
    pytest.param("BAD,{photo},Shirt,inf,", "price 'inf' is not a finite number", id="price-inf"),
    pytest.param("BAD,{photo},Shirt,1e999,", "price '1e999' is not a finite number", id="price-1e999"),
    pytest.param("BAD,{photo},Shirt,Infinity,", "price 'Infinity' is not a finite number", id="price-Infinity"),
    pytest.param("BAD,{photo},Shirt,ten,", "price 'ten' is not a number", id="price-text"),
    pytest.param(
        "BAD,{photo},Shirt,5,javascript:alert(1)", "must be an http:// or https:// address", id="url-javascript"
    ),
    pytest.param(
        'BAD,{photo},Shirt,5,"data:text/html,<script>alert(1)</script>"',
        "must be an http:// or https:// address",
        id="url-data",
    ),
    pytest.param("GOOD,{photo},Shirt,5,", "duplicate id (first on line 2)", id="duplicate-id"),
    pytest.param("BAD,{photo},Shirt", "expected 5 columns, found 3", id="column-count"),
    pytest.param("BAD,missing.jpg,Shirt,5,", "image not found", id="photo-missing"),
]


def listed(fashionlens, catalog: Path) -> dict:
    result = fashionlens("catalog", "list", "--catalog", catalog, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout, parse_constant=lambda name: pytest.fail(f"{name} in JSON output"))


@pytest.mark.parametrize("bad_row, reason", BAD_ROWS)
def test_a_bad_product_row_is_refused_with_its_line(fashionlens, tmp_path, photo, classifier, bad_row, reason):
    source = products_csv(tmp_path, photo, bad_row)
    catalog = tmp_path / "shop.db"
    result = fashionlens("catalog", "import", source, "--catalog", catalog, "--classifier", classifier)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    [line] = [line for line in result.stderr.splitlines() if line.startswith("bad row:")]
    assert line.startswith(f"bad row: {source}:3 (id ") and reason in line, line
    items = listed(fashionlens, catalog)["items"]
    assert [(item["id"], item["price"], item["url"]) for item in items] == [("GOOD", 10.0, "https://shop.example/good")]


PRODUCT_FILE_CASES = [
    pytest.param(
        lambda root, photo: products_csv(root, photo, "BAD,{photo},Café,5,", "latin-1"),
        ["products.csv:3", "not UTF-8"],
        id="products-latin1",
    ),
    pytest.param(
        lambda root, photo: write(root / "products.csv", f"sku,photo\nA,{photo}\n"),
        ["products.csv:1", "missing id,image"],
        id="products-missing-columns",
    ),
    pytest.param(
        lambda root, photo: write(root / "products.csv", ""),
        ["products.csv:1", "the header needs"],
        id="products-empty-file",
    ),
    pytest.param(
        lambda root, photo: write(root / "products.csv", "id,image\n\n"), ["no product rows"], id="products-no-rows"
    ),
    pytest.param(
        lambda root, photo: root / "nowhere.csv", ["nowhere.csv", "file not found"], id="products-missing-file"
    ),
]


@pytest.mark.parametrize("make, words", PRODUCT_FILE_CASES)
def test_a_bad_product_file_fails_before_models_and_creates_no_catalogue(
    fashionlens, tmp_path, photo, classifier, monkeypatch, make, words
):
    import fashionlens.cli.analyze as analyze

    monkeypatch.setattr(analyze, "load_analyzer", lambda *a, **k: pytest.fail("models loaded for a bad file"))
    source = make(tmp_path, photo)
    catalog = tmp_path / "shop.db"
    result = fashionlens("catalog", "import", source, "--catalog", catalog, "--classifier", classifier)
    assert_one_line_error(result, 2, words)
    assert not catalog.exists()


def test_a_first_import_with_only_bad_rows_leaves_no_catalogue(fashionlens, tmp_path, classifier):
    source = write(tmp_path / "products.csv", "id,image,price\nA,missing.jpg,5\n")
    catalog = tmp_path / "shop.db"
    result = fashionlens("catalog", "import", source, "--catalog", catalog, "--classifier", classifier)
    assert_one_line_error(result, 1, ["nothing imported"])
    assert not catalog.exists() and not Path(f"{catalog}-wal").exists()


def test_prices_stored_before_the_rule_never_reach_the_json(fashionlens, tmp_path, photo, classifier):
    """A catalogue written by an older version may hold Infinity: the JSON output stays JSON."""
    import sqlite3

    catalog = tmp_path / "shop.db"
    source = products_csv(tmp_path, photo, "")
    assert fashionlens("catalog", "import", source, "--catalog", catalog, "--classifier", classifier).returncode == 0
    with sqlite3.connect(catalog) as connection:
        connection.execute("UPDATE items SET price = ? WHERE id = 'GOOD'", (float("inf"),))
    [item] = listed(fashionlens, catalog)["items"]
    assert item["price"] is None


# --- zips, as the service unpacks an uploaded import ---------------------------------------------------------


def zipped(entries: dict[str, bytes], declared: dict[str, int] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    data = buffer.getvalue()
    for name, size in (declared or {}).items():  # a zip bomb's header: a huge uncompressed size
        data = _patch_size(data, name, size)
    return data


def _patch_size(data: bytes, name: str, size: int) -> bytes:
    """Set `name`'s uncompressed size in the central directory (offset 24 of its record)."""
    start = data.find(b"PK\x01\x02")
    while start != -1:
        length = struct.unpack("<H", data[start + 28 : start + 30])[0]
        if data[start + 46 : start + 46 + length] == name.encode():
            data = data[: start + 24] + struct.pack("<I", size) + data[start + 28 :]
        start = data.find(b"PK\x01\x02", start + 4)
    return data


PRODUCTS = b"id,image\nA,a.jpg\n"
ZIP_CASES = [
    pytest.param(b"PK\x03\x04 not really a zip", ["not a zip archive"], id="zip-not-a-zip"),
    pytest.param(
        zipped({"products.csv": PRODUCTS, "../evil.jpg": b"x"}), ["would land outside the import"], id="zip-slip"
    ),
    pytest.param(
        zipped({"products.csv": PRODUCTS, "/etc/evil.jpg": b"x"}),
        ["would land outside the import"],
        id="zip-absolute-path",
    ),
    pytest.param(
        zipped({"products.csv": PRODUCTS, "a.jpg": b"x" * 10}, {"a.jpg": 4_000_000_000}),
        ["over the import limit"],
        id="zip-bomb-header",
    ),
    pytest.param(zipped({"a.csv": PRODUCTS, "b.csv": PRODUCTS}), ["expected one products.csv"], id="zip-two-csvs"),
    pytest.param(zipped({"a.jpg": b"x"}), ["expected one products.csv", "found 0"], id="zip-no-csv"),
]


@pytest.mark.parametrize("data, words", ZIP_CASES)
def test_a_bad_zip_is_refused_and_nothing_lands_outside_the_staging_folder(tmp_path, data, words):
    from fashionlens.service.imports import close_staging, open_staging, stage_archive

    media = tmp_path / "media"
    staging = open_staging(media)
    try:
        with pytest.raises(FashionLensError) as refused:
            stage_archive(staging, "upload.zip", data, limit=1_000_000)
    finally:
        close_staging(staging)
    for word in words:
        assert word in str(refused.value)
    assert not list(tmp_path.rglob("evil.jpg")) and not Path("/etc/evil.jpg").exists()


@pytest.mark.parametrize(
    "command, heavy",
    [
        (
            ["train", "classifier", "--data", "{missing}", "--out", "{tmp}/run"],
            ("fashionlens.train.classifier", "train_classifier"),
        ),
        (
            ["train", "detector", "--data", "{missing}", "--out", "{tmp}/run"],
            ("fashionlens.train.detector", "train_detector"),
        ),
        (["evaluate", "{classifier}", "--data", "{missing}"], ("fashionlens.evaluation.runner", "load_run")),
    ],
    ids=["train-classifier", "train-detector", "evaluate"],
)
def test_a_missing_dataset_fails_before_models_load(fashionlens, tmp_path, classifier, monkeypatch, command, heavy):
    import importlib

    module = importlib.import_module(heavy[0])
    monkeypatch.setattr(module, heavy[1], lambda *a, **k: pytest.fail(f"{heavy[1]} ran for a missing dataset"))
    missing = tmp_path / "no-such-data.csv"
    args = [part.format(missing=missing, tmp=tmp_path, classifier=classifier) for part in command]
    result = fashionlens(*args)
    assert_one_line_error(result, 2, [str(missing), "no such file or folder"])
    assert not (tmp_path / "run").exists() and not (classifier / "eval").exists()


@pytest.mark.parametrize(
    "box",
    [(float("nan"), 10, 100, 100), (10, 10, float("inf"), 20), (0, float("-inf"), 5, 5)],
    ids=["nan-x1", "inf-x2", "minus-inf-y1"],
)
def test_datasets_drop_a_non_finite_box_and_say_why(box):
    from fashionlens.core.records import Box
    from fashionlens.data.detection import clean_box

    kept, note = clean_box(Box(*box), 640, 480)
    assert kept is None and note == "dropped: non-finite coordinate (NaN or infinity)"
