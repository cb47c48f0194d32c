"""Labels CSV: `image,label[,split]`, optional `x1,y1,x2,y2` box columns, any other column kept as attributes.

Image paths are relative to the CSV's folder. Rows naming the same image become garments of one sample
(several boxed garments in one photo); an empty label leaves the image unlabelled.
"""

from __future__ import annotations

from pathlib import Path

from fashionlens.core.errors import DataFormatError
from fashionlens.core.records import Box, Garment, Sample
from fashionlens.core.taxonomy import region_of
from fashionlens.core.textfile import open_csv

SOURCE = "labels-csv"
BOX_COLUMNS = ("x1", "y1", "x2", "y2")
KNOWN_COLUMNS = {"image", "label", "split", *BOX_COLUMNS}


def read_labels_csv(path: str | Path) -> list[Sample]:
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(path, "file not found")
    with open_csv(path) as reader:
        header = [name.strip() for name in next(reader, [])]
        has_box = _check_header(path, header)
        samples: dict[str, Sample] = {}
        for row in reader:
            if not any(field.strip() for field in row):
                continue
            if len(row) != len(header):
                raise DataFormatError(path, f"expected {len(header)} columns, found {len(row)}", reader.line_num)
            _add_row(path, reader.line_num, dict(zip(header, (f.strip() for f in row))), has_box, samples)
    return list(samples.values())


def _check_header(path: Path, header: list[str]) -> bool:
    """Whether the file has box columns; raises on a header without `image` and `label`."""
    missing = [name for name in ("image", "label") if name not in header]
    if missing:
        raise DataFormatError(path, f"the header needs the columns image,label (missing {','.join(missing)})", 1)
    present = [name for name in BOX_COLUMNS if name in header]
    if present and len(present) != len(BOX_COLUMNS):
        raise DataFormatError(path, "box columns must be all of x1,y1,x2,y2", 1)
    return bool(present)


def _add_row(path: Path, line: int, values: dict[str, str], has_box: bool, samples: dict[str, Sample]) -> None:
    if not values["image"]:
        raise DataFormatError(path, "empty image path", line)
    sample = samples.get(values["image"])
    if sample is None:
        attributes = {k: _value(v) for k, v in values.items() if k not in KNOWN_COLUMNS}
        sample = Sample(
            image=path.parent / values["image"], split=values.get("split") or None, source=SOURCE, attributes=attributes
        )
        samples[values["image"]] = sample
    box = _box(path, line, values) if has_box else None
    if values["label"]:
        label = values["label"]
        sample.garments.append(Garment(box=box, region=region_of(label), category=label))


def _box(path: Path, line: int, values: dict[str, str]) -> Box | None:
    if not any(values[name] for name in BOX_COLUMNS):
        return None
    try:
        return Box(*(float(values[name]) for name in BOX_COLUMNS))
    except ValueError:
        found = ",".join(values[name] for name in BOX_COLUMNS)
        raise DataFormatError(path, f"x1,y1,x2,y2 must be numbers, found {found!r}", line) from None


def _value(text: str) -> object:
    """`True`/`False` columns (such as `kids`) become booleans; everything else stays text."""
    return {"true": True, "false": False}.get(text.lower(), text)
